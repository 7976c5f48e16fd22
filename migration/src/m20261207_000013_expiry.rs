//! Indexes for removing what has expired (`retention`), and for the lookups by owner that
//! revocation and removal make.
//!
//! Every table that records something short-lived gets its time column indexed, so the
//! background pass finds what is old by walking an index from its start instead of scanning
//! the table. Most of these columns are written once, at insert, with "now" or "now plus a
//! lifetime", so new entries land at the end of the index: one page per commit, not one per
//! row. The two that change later change rarely: a session ends once (`ended_at`), and a
//! failure counter starts a new window at most once per window.
//! `refresh_token.family_id` is the child key of the cascade from `token_family` (SQLite
//! scans the whole child table per deleted parent without it) and tells whether a family has
//! a refresh token left; `token_family.account_id` is how a password reset, a lock or a
//! deactivation revokes an account's families.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index, table, column).
const INDEXES: [(&str, &str, &str); 12] = [
    (
        "ix_authorization_code_expires",
        "authorization_code",
        "expires_at",
    ),
    ("ix_refresh_token_expires", "refresh_token", "expires_at"),
    ("ix_refresh_token_family", "refresh_token", "family_id"),
    ("ix_token_family_account", "token_family", "account_id"),
    (
        "ix_revoked_access_token_expires",
        "revoked_access_token",
        "expires_at",
    ),
    (
        "ix_authorization_request_expires",
        "authorization_request",
        "expires_at",
    ),
    ("ix_sign_in_state_expires", "sign_in_state", "expires_at"),
    ("ix_password_reset_expires", "password_reset", "expires_at"),
    (
        "ix_helpdesk_verification_expires",
        "helpdesk_verification",
        "expires_at",
    ),
    ("ix_sso_session_ended", "sso_session", "ended_at"),
    (
        "ix_attempt_counter_window",
        "attempt_counter",
        "window_started_at",
    ),
    ("ix_email_outbox_created", "email_outbox", "created_at"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, col) in INDEXES {
            m.create_index(Index::create().name(name).table(table).col(col).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES.iter().rev() {
            m.drop_index(Index::drop().name(*name).table(*table).to_owned())
                .await?;
        }
        Ok(())
    }
}
