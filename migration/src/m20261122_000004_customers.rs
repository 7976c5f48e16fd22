//! Customer records that cardholders prove they own at registration. The card and account
//! numbers and the SSN's last four digits are stored only as HMACs under a server key: the
//! table alone reveals none of them, and lookups are by the keyed hash.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("customer")
                .col(string("id").primary_key())
                .col(string_null("card_hash").unique_key())
                .col(string_null("account_hash").unique_key())
                .col(string("ssn_last4_hash"))
                .col(string("given_name"))
                .col(string("family_name"))
                .col(string("email"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("customer").to_owned())
            .await
    }
}
