//! Self-service registration and user-ID requests: the account's link to its customer record
//! (one account per card), the dealer staff's business phone and role, the details a user-ID
//! request form carries, and the failure counters that limit guessing at registration and at
//! the challenge questions.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite allows one column per ALTER TABLE, and no UNIQUE in ADD COLUMN: the
        // one-account-per-customer rule is a unique index instead.
        for col in ["customer_id", "phone", "job_role"] {
            m.alter_table(
                Table::alter()
                    .table("account")
                    .add_column(string_null(col))
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("uq_account_customer_id")
                .table("account")
                .col("customer_id")
                .unique()
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("access_request")
                .add_column(json_null("details"))
                .to_owned(),
        )
        .await?;
        // Fixed-window failure counters, keyed by what is being guessed at ("customer:<id>",
        // "ip:<address>", "answers:<account>").
        m.create_table(
            Table::create()
                .table("attempt_counter")
                .col(string("key").primary_key())
                .col(integer("failures"))
                .col(timestamp_with_time_zone("window_started_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("attempt_counter").to_owned())
            .await
    }
}
