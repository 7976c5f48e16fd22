//! What removing expired records (`retention`) needs: indexes on their time columns, a way
//! to know when a token family is over, and no foreign key from `refresh_token` to
//! `token_family`.
//!
//! Every table that records something short-lived gets its time column indexed, so the
//! background pass finds what is old by walking an index from its start instead of scanning
//! the table. Most of these columns are written once, at insert, with "now" or "now plus a
//! lifetime", so new entries land at the end of the index: one page per commit, not one per
//! row. The two that change later change rarely: a session ends once (`ended_at`), and a
//! failure counter starts a new window at most once per window.
//!
//! **Why the foreign key goes.** Deleting a family made the database look for refresh
//! tokens that refer to it (to cascade), and without an index on `refresh_token.family_id`
//! that is a scan of the whole table per family. That index, though, is written at every
//! refresh (each rotation inserts a token, at its family's place in the index): in
//! `bench/run.sh` it cost a fifth of the refresh rate and doubled its p99. So families are
//! no longer found through their tokens. A family with refresh tokens ends when its current
//! token (the one not yet used: a family has at most one) is removed, and one issued without
//! refresh tokens records when it ends (`token_family.expires_at`, the lifetime of its
//! access token). The write path keeps the order the key enforced: a family is inserted in
//! the transaction that inserts its first token, before it (`oidc::token::group_commit`),
//! and a token whose family is gone is refused (`store::tokens::find_refresh_chain` joins
//! it).
//!
//! `token_family.account_id` is indexed too: it is how a password reset, a lock or a
//! deactivation revokes an account's families.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index, table, column).
const INDEXES: [(&str, &str, &str); 11] = [
    (
        "ix_authorization_code_expires",
        "authorization_code",
        "expires_at",
    ),
    ("ix_refresh_token_expires", "refresh_token", "expires_at"),
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

const FAMILY_EXPIRES: &str = "ix_token_family_expires";

const REFRESH_COLUMNS: &str =
    "token_hash, family_id, client_id, scope, created_at, expires_at, consumed_at";

/// `refresh_token` as the core migration made it, named `table`, with or without the
/// foreign key to its family.
fn refresh_token_table(table: &str, with_key: bool) -> TableCreateStatement {
    let mut t = Table::create();
    t.table(Alias::new(table))
        .col(string("token_hash").primary_key())
        .col(string("family_id"))
        .col(string("client_id"))
        .col(string("scope"))
        .col(timestamp_with_time_zone("created_at"))
        .col(timestamp_with_time_zone("expires_at"))
        .col(timestamp_with_time_zone_null("consumed_at"));
    if with_key {
        t.foreign_key(
            ForeignKey::create()
                .from(Alias::new(table), "family_id")
                .to("token_family", "id")
                .on_delete(ForeignKeyAction::Cascade),
        );
    }
    t.to_owned()
}

/// Rebuilds `refresh_token` with or without its foreign key, rows and all (SQLite cannot
/// drop or add a constraint in place; the same steps serve PostgreSQL).
async fn rebuild_refresh_token(m: &SchemaManager<'_>, with_key: bool) -> Result<(), DbErr> {
    m.create_table(refresh_token_table("refresh_token_next", with_key))
        .await?;
    m.get_connection()
        .execute_unprepared(&format!(
            "INSERT INTO refresh_token_next ({REFRESH_COLUMNS}) SELECT {REFRESH_COLUMNS} FROM refresh_token"
        ))
        .await?;
    m.drop_table(Table::drop().table("refresh_token").to_owned())
        .await?;
    m.rename_table(
        Table::rename()
            .table("refresh_token_next", "refresh_token")
            .to_owned(),
    )
    .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on every backend (sea-orm runs SQLite migrations without one by
    /// default): the rebuild is several statements that must all happen on one connection,
    /// and a failure part-way must leave the old table as it was.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        rebuild_refresh_token(m, false).await?;
        m.alter_table(
            Table::alter()
                .table("token_family")
                .add_column(timestamp_with_time_zone_null("expires_at"))
                .to_owned(),
        )
        .await?;
        // Families made before this had no end recorded: those without a refresh token end
        // when their access tokens did (long since, or within minutes).
        m.get_connection()
            .execute_unprepared(
                "UPDATE token_family SET expires_at = created_at \
                 WHERE id NOT IN (SELECT family_id FROM refresh_token)",
            )
            .await?;
        for (name, table, col) in INDEXES {
            m.create_index(Index::create().name(name).table(table).col(col).to_owned())
                .await?;
        }
        // Only the families that record an end: the code exchange of one with refresh
        // tokens then writes nothing to this index.
        m.create_index(
            Index::create()
                .name(FAMILY_EXPIRES)
                .table("token_family")
                .col("expires_at")
                .and_where(Expr::col("expires_at").is_not_null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name(FAMILY_EXPIRES)
                .table("token_family")
                .to_owned(),
        )
        .await?;
        for (name, table, _) in INDEXES.iter().rev() {
            m.drop_index(Index::drop().name(*name).table(*table).to_owned())
                .await?;
        }
        m.alter_table(
            Table::alter()
                .table("token_family")
                .drop_column("expires_at")
                .to_owned(),
        )
        .await?;
        // Tokens whose family was removed cannot come back under the key.
        m.get_connection()
            .execute_unprepared(
                "DELETE FROM refresh_token WHERE family_id NOT IN (SELECT id FROM token_family)",
            )
            .await?;
        rebuild_refresh_token(m, true).await
    }
}
