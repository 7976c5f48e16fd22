//! Logout propagation: the logout endpoints an application registers (OpenID Connect
//! Back-Channel Logout 1.0 §2.2, Front-Channel Logout 1.0 §2), and the outbox of back-channel
//! logout deliveries, retried with backoff until delivered or given up.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for col in [
            string_null("backchannel_logout_uri"),
            string_null("frontchannel_logout_uri"),
        ] {
            m.alter_table(Table::alter().table("client").add_column(col).to_owned())
                .await?;
        }
        m.create_table(
            Table::create()
                .table("logout_delivery")
                .col(string("id").primary_key())
                .col(string("client_id"))
                // The logout token's `sub` and `sid` (BCL §2.4); the token itself is signed at
                // each attempt, so nothing replayable is stored.
                .col(string("account_id"))
                .col(string_null("session_id"))
                // Why the logout happened (audit detail).
                .col(string("reason"))
                .col(integer("attempts").default(0))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("next_attempt_at"))
                .col(timestamp_with_time_zone_null("delivered_at"))
                .col(timestamp_with_time_zone_null("given_up_at"))
                .col(string_null("last_error"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_logout_delivery_due")
                .table("logout_delivery")
                .col("next_attempt_at")
                .to_owned(),
        )
        .await?;
        // "Where you're signed in", and ending every session of an account.
        m.create_index(
            Index::create()
                .name("ix_sso_session_account")
                .table("sso_session")
                .col("account_id")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("ix_sso_session_account")
                .table("sso_session")
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table("logout_delivery").to_owned())
            .await?;
        for col in ["frontchannel_logout_uri", "backchannel_logout_uri"] {
            m.alter_table(Table::alter().table("client").drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
