//! Account protection and recovery: temporary locks that grow with repetition, the start of
//! the inactivity clock, forced password changes, password history, one-time reset links
//! and help-desk caller verification.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for col in [
            // A temporary lock's end; NULL for a lock only staff lift.
            timestamp_with_time_zone_null("locked_until"),
            // Locks so far: a temporary lock lasts longer each time.
            integer("lock_count").default(0).to_owned(),
            // When the user ID last became usable (approval, reactivation): the inactivity
            // clock of an account that never signed in starts here.
            timestamp_with_time_zone_null("activated_at"),
            timestamp_with_time_zone_null("password_changed_at"),
            // A temporary password set by the help desk must be changed at next sign-in.
            boolean("must_change_password").default(false).to_owned(),
            timestamp_with_time_zone_null("inactivity_warned_at"),
        ] {
            m.alter_table(Table::alter().table("account").add_column(col).to_owned())
                .await?;
        }
        m.create_table(
            Table::create()
                .table("password_history")
                .col(big_integer("id").primary_key().auto_increment())
                .col(string("account_id"))
                .col(string("password_hash"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_password_history_account")
                .table("password_history")
                .col("account_id")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("password_reset")
                .col(string("id").primary_key())
                // Keyed hash of the token in the e-mailed link.
                .col(string("token_hash").unique_key())
                .col(string("account_id"))
                // "email_link", "helpdesk_link" or "challenge" (after two right answers).
                .col(string("method"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("helpdesk_verification")
                .col(string("id").primary_key())
                .col(string("agent_id"))
                .col(string("account_id"))
                .col(timestamp_with_time_zone("verified_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_helpdesk_verification_pair")
                .table("helpdesk_verification")
                .col("agent_id")
                .col("account_id")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "helpdesk_verification",
            "password_reset",
            "password_history",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        for col in [
            "inactivity_warned_at",
            "must_change_password",
            "password_changed_at",
            "activated_at",
            "lock_count",
            "locked_until",
        ] {
            m.alter_table(Table::alter().table("account").drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
