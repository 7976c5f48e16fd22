//! The e-mail outbox: messages are written in the same transaction as the change that
//! causes them (a decision, a registration) and delivered afterwards, so a message is sent
//! if and only if its change committed.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("email_outbox")
                .col(string("id").primary_key())
                .col(string("to_addr"))
                .col(string("template"))
                .col(json("params"))
                .col(text_null("subject"))
                .col(text_null("body_text"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("claimed_at"))
                .col(timestamp_with_time_zone_null("sent_at"))
                .col(integer("attempts").default(0))
                .col(text_null("last_error"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_email_outbox_pending")
                .table("email_outbox")
                .col("sent_at")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("email_outbox").to_owned())
            .await
    }
}
