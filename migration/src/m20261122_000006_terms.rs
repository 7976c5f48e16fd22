//! Applications that require their terms to be accepted on first use (SmartAuction), and who
//! accepted which version when. The version is a hash of the text, so changed terms are shown
//! again.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("client")
                .add_column(text_null("terms"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("terms_acceptance")
                .col(string("account_id"))
                .col(string("client_id"))
                .col(string("version"))
                .col(timestamp_with_time_zone("accepted_at"))
                .primary_key(
                    Index::create()
                        .col("account_id")
                        .col("client_id")
                        .col("version"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("terms_acceptance", "account_id")
                        .to("account", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("terms_acceptance").to_owned())
            .await
    }
}
