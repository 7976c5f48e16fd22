//! Per-application access: each client's access policy and the scopes it may ask for
//! itself, dealerships (organizations), staff roles, access grants and access requests.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("client")
                .add_column(string("access_policy").default("open"))
                .to_owned(),
        )
        .await?;
        // SQLite allows one column per ALTER TABLE.
        m.alter_table(
            Table::alter()
                .table("client")
                .add_column(string("service_scopes").default(""))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("organization")
                .col(string("id").primary_key())
                .col(string_uniq("pdn"))
                .col(string("name"))
                .col(boolean("active"))
                .col(timestamp_with_time_zone("created_at"))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table("account")
                .add_column(string_null("org_id"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("staff_role")
                .col(string("account_id"))
                .col(string("role"))
                .col(string_null("org_id"))
                .col(string_null("granted_by"))
                .col(timestamp_with_time_zone("granted_at"))
                .primary_key(Index::create().col("account_id").col("role"))
                .foreign_key(
                    ForeignKey::create()
                        .from("staff_role", "account_id")
                        .to("account", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        // One row per (account, application): re-granting after a revocation reuses it; the
        // history is in the audit log.
        m.create_table(
            Table::create()
                .table("access_grant")
                .col(string("account_id"))
                .col(string("client_id"))
                .col(json("roles"))
                .col(string_null("granted_by"))
                .col(timestamp_with_time_zone("granted_at"))
                .col(timestamp_with_time_zone_null("expires_at"))
                .col(boolean("expiry_recorded").default(false))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .col(string_null("revoked_by"))
                .primary_key(Index::create().col("account_id").col("client_id"))
                .foreign_key(
                    ForeignKey::create()
                        .from("access_grant", "account_id")
                        .to("account", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("access_grant", "client_id")
                        .to("client", "client_id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("access_request")
                .col(string("id").primary_key())
                .col(string("kind"))
                .col(string("account_id"))
                .col(string("client_id"))
                .col(string_null("org_id"))
                .col(text_null("reason"))
                .col(string("status"))
                .col(timestamp_with_time_zone("filed_at"))
                .col(timestamp_with_time_zone_null("decided_at"))
                .col(string_null("decided_by"))
                .col(text_null("decision_reason"))
                .foreign_key(
                    ForeignKey::create()
                        .from("access_request", "account_id")
                        .to("account", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_access_request_status")
                .table("access_request")
                .col("status")
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "access_request",
            "access_grant",
            "staff_role",
            "organization",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
