//! Passkeys (WebAuthn discoverable credentials) and the server-side state of WebAuthn
//! ceremonies, which is single-use.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("passkey")
                .col(string("id").primary_key())
                .col(string("account_id"))
                // base64url credential id: what the browser names on sign-in.
                .col(string("credential_id").unique_key())
                .col(string("name"))
                // webauthn-rs `Passkey` (public key, counter, backup state) as JSON.
                .col(text("credential"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("last_used_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_passkey_account")
                .table("passkey")
                .col("account_id")
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("webauthn_ceremony")
                .col(string("id").primary_key())
                // "register" or "authenticate"
                .col(string("kind"))
                .col(string_null("account_id"))
                .col(text("state"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("webauthn_ceremony").to_owned())
            .await?;
        m.drop_table(Table::drop().table("passkey").to_owned())
            .await
    }
}
