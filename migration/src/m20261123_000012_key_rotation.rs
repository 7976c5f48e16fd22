//! Signing-key rotation: a new key is published before it signs (`signs_from`), and the key
//! it replaces is marked `superseded_at` by one conditional update, so two nodes rotating at
//! once make one new key.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE. NULL signs_from: signs from creation.
        for col in [
            timestamp_with_time_zone_null("signs_from"),
            timestamp_with_time_zone_null("superseded_at"),
        ] {
            m.alter_table(
                Table::alter()
                    .table("signing_key")
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in ["superseded_at", "signs_from"] {
            m.alter_table(
                Table::alter()
                    .table("signing_key")
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
