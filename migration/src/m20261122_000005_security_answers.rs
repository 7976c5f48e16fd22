//! Answers to an account's two challenge questions (online password reset) and its help-desk
//! secret question (verifying a caller). Only Argon2id hashes of normalised answers are kept.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("security_answer")
                .col(string("account_id"))
                .col(string("slot"))
                .col(string("question"))
                .col(text("answer_hash"))
                .col(timestamp_with_time_zone("set_at"))
                .primary_key(Index::create().col("account_id").col("slot"))
                .foreign_key(
                    ForeignKey::create()
                        .from("security_answer", "account_id")
                        .to("account", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("security_answer").to_owned())
            .await
    }
}
