//! Core OpenID provider tables: accounts, clients, signing keys, SSO sessions, pending
//! authorization requests, authorization codes, token families, refresh tokens, revoked
//! access tokens, remembered consents and the audit log.
//!
//! Identifiers are text (UUIDs or random opaque values) so the schema is the same on
//! SQLite and PostgreSQL. Every bearer secret (code, refresh token, session cookie) is
//! stored only as a keyed hash in a `*_hash` column and looked up by it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn ts(name: &'static str) -> ColumnDef {
    timestamp_with_time_zone(name)
}
fn ts_null(name: &'static str) -> ColumnDef {
    timestamp_with_time_zone_null(name)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("account")
                .col(string("id").primary_key())
                .col(string("username"))
                .col(string_uniq("username_normalized"))
                .col(string("email"))
                .col(boolean("email_verified"))
                .col(string_null("given_name"))
                .col(string_null("family_name"))
                .col(text("password_hash"))
                .col(string("status"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .col(ts_null("last_login_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("client")
                .col(string("client_id").primary_key())
                .col(string("name"))
                .col(text_null("secret_hash"))
                .col(boolean("public"))
                .col(boolean("third_party"))
                .col(json("redirect_uris"))
                .col(json("post_logout_redirect_uris"))
                .col(json("grant_types"))
                .col(string("id_token_alg"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("signing_key")
                .col(string("kid").primary_key())
                .col(string("alg"))
                .col(text("public_jwk"))
                .col(text("private_key_sealed"))
                .col(ts("created_at"))
                .col(ts_null("retired_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("sso_session")
                .col(string("id").primary_key())
                .col(string_uniq("token_hash"))
                .col(string("account_id"))
                .col(ts("auth_time"))
                .col(json("amr"))
                .col(string("acr"))
                .col(string_null("user_agent"))
                .col(string_null("client_ip"))
                .col(ts("created_at"))
                .col(ts("last_seen_at"))
                .col(ts("expires_at"))
                .col(ts_null("ended_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("sso_session", "account_id")
                        .to("account", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("authorization_request")
                .col(string("id").primary_key())
                .col(string("client_id"))
                .col(json("params"))
                .col(ts("created_at"))
                .col(ts("expires_at"))
                .col(ts_null("completed_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("token_family")
                .col(string("id").primary_key())
                .col(string("client_id"))
                .col(string("account_id"))
                .col(string_null("session_id"))
                .col(string("scope"))
                .col(boolean("offline"))
                .col(ts("auth_time"))
                .col(json("amr"))
                .col(string("acr"))
                .col(ts("created_at"))
                .col(ts_null("revoked_at"))
                .col(string_null("revoked_reason"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_token_family_session")
                .table("token_family")
                .col("session_id")
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("authorization_code")
                .col(string("code_hash").primary_key())
                .col(string("client_id"))
                .col(string("account_id"))
                .col(string("session_id"))
                .col(text("redirect_uri"))
                .col(string("scope"))
                .col(text_null("nonce"))
                .col(string_null("code_challenge"))
                .col(ts("auth_time"))
                .col(json("amr"))
                .col(string("acr"))
                .col(ts("created_at"))
                .col(ts("expires_at"))
                .col(ts_null("consumed_at"))
                .col(string_null("family_id"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("refresh_token")
                .col(string("token_hash").primary_key())
                .col(string("family_id"))
                .col(string("client_id"))
                .col(string("scope"))
                .col(ts("created_at"))
                .col(ts("expires_at"))
                .col(ts_null("consumed_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("refresh_token", "family_id")
                        .to("token_family", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("revoked_access_token")
                .col(string("jti").primary_key())
                .col(ts("expires_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("consent")
                .col(string("account_id"))
                .col(string("client_id"))
                .col(string("scope"))
                .col(ts("granted_at"))
                .primary_key(Index::create().col("account_id").col("client_id"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("audit_event")
                .col(big_pk_auto("id"))
                .col(ts("at"))
                .col(string("event"))
                .col(string_null("actor"))
                .col(string_null("target"))
                .col(string_null("client_ip"))
                .col(string_null("request_id"))
                .col(json("detail"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_event_at")
                .table("audit_event")
                .col("at")
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "audit_event",
            "consent",
            "revoked_access_token",
            "refresh_token",
            "authorization_code",
            "token_family",
            "authorization_request",
            "sso_session",
            "signing_key",
            "client",
            "account",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
