//! Second factors: TOTP authenticators (seed sealed at rest), recovery codes and remembered
//! devices (stored as keyed hashes), the server-side state of a sign-in that is waiting for
//! its second factor, each application's MFA policy, and whether a session skipped its
//! second factor because the browser was remembered.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // NULL: the provider's default policy (`mfa.default_policy`).
        m.alter_table(
            Table::alter()
                .table("client")
                .add_column(string_null("mfa_policy"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("sso_session")
                .add_column(boolean("mfa_remembered").default(false))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("totp_factor")
                .col(string("account_id").primary_key())
                .col(text("sealed_secret"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("confirmed_at"))
                // The last time step accepted: RFC 6238 §5.2, a code is accepted once.
                .col(big_integer_null("last_step"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("recovery_code")
                .col(string("code_hash").primary_key())
                .col(string("account_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_recovery_code_account")
                .table("recovery_code")
                .col("account_id")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("remembered_device")
                .col(string("token_hash").primary_key())
                .col(string("account_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_remembered_device_account")
                .table("remembered_device")
                .col("account_id")
                .to_owned(),
        )
        .await?;
        // A sign-in between its first and second factor, or a session stepping up. Keyed by
        // the hash of a cookie value; the e-mailed code, when one was sent, lives here too.
        m.create_table(
            Table::create()
                .table("sign_in_state")
                .col(string("id").primary_key())
                .col(string_uniq("token_hash"))
                .col(string("account_id"))
                .col(string_null("session_id"))
                .col(json("amr"))
                .col(string_null("email_code_hash"))
                .col(timestamp_with_time_zone_null("email_code_expires_at"))
                .col(integer("email_code_attempts").default(0))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("completed_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "sign_in_state",
            "remembered_device",
            "recovery_code",
            "totp_factor",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
