//! Removing records that have stopped mattering (`retention` decides when), a bounded chunk
//! at a time: each statement deletes at most `CHUNK` rows, the oldest first, found through
//! the index on their time column (migration `m20261207_000013_expiry`), so no statement
//! holds SQLite's single writer for long and none scans a table.

use chrono::{DateTime, Utc};
use entity::{
    attempt_counter, authorization_code, authorization_request, email_outbox,
    helpdesk_verification, password_reset, refresh_token, revoked_access_token, sign_in_state,
    sso_session, token_family,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, sea_query::Query,
};

/// The most rows one statement deletes. Its transaction holds SQLite's single writer, and
/// token requests queue behind it: on a copy of a benchmark's database (313,080 refresh
/// tokens, 138,509 families) a chunk of 100 took 3–5 ms for refresh tokens or codes and 8–10
/// ms for families (random ids, so a page each), about one batch of token writes; 500 took
/// 27–88 ms.
pub const CHUNK: u64 = 100;

/// The kinds of record removed once they have expired, each by its own time column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    AuthorizationCodes,
    RefreshTokens,
    /// Families issued without refresh tokens, which record when they end.
    Families,
    DeniedAccessTokens,
    AuthorizationRequests,
    SignInStates,
    PasswordResets,
    HelpdeskVerifications,
    EndedSessions,
    AttemptCounters,
    Mail,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::AuthorizationCodes,
        Kind::RefreshTokens,
        Kind::Families,
        Kind::DeniedAccessTokens,
        Kind::AuthorizationRequests,
        Kind::SignInStates,
        Kind::PasswordResets,
        Kind::HelpdeskVerifications,
        Kind::EndedSessions,
        Kind::AttemptCounters,
        Kind::Mail,
    ];

    /// The name in metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Kind::AuthorizationCodes => "authorization_code",
            Kind::RefreshTokens => "refresh_token",
            Kind::Families => "token_family",
            Kind::DeniedAccessTokens => "revoked_access_token",
            Kind::AuthorizationRequests => "authorization_request",
            Kind::SignInStates => "sign_in_state",
            Kind::PasswordResets => "password_reset",
            Kind::HelpdeskVerifications => "helpdesk_verification",
            Kind::EndedSessions => "sso_session",
            Kind::AttemptCounters => "attempt_counter",
            Kind::Mail => "email_outbox",
        }
    }
}

/// What one chunk removed: how many rows, and (for refresh tokens) the families whose
/// current token was among them, which are over (`delete_families`).
#[derive(Debug, Default)]
pub struct Chunk {
    pub rows: u64,
    pub ended_families: Vec<String>,
}

/// Deletes up to `CHUNK` rows of `kind` whose time column is before `before`, oldest first.
pub async fn delete_chunk(
    c: &impl ConnectionTrait,
    kind: Kind,
    before: DateTime<Utc>,
) -> Result<Chunk, DbErr> {
    match kind {
        Kind::AuthorizationCodes => {
            oldest::<authorization_code::Entity>(
                c,
                authorization_code::Column::CodeHash,
                authorization_code::Column::ExpiresAt,
                before,
            )
            .await
        }
        Kind::RefreshTokens => refresh_tokens(c, before).await,
        Kind::Families => {
            oldest::<token_family::Entity>(
                c,
                token_family::Column::Id,
                token_family::Column::ExpiresAt,
                before,
            )
            .await
        }
        Kind::DeniedAccessTokens => {
            oldest::<revoked_access_token::Entity>(
                c,
                revoked_access_token::Column::Jti,
                revoked_access_token::Column::ExpiresAt,
                before,
            )
            .await
        }
        Kind::AuthorizationRequests => {
            oldest::<authorization_request::Entity>(
                c,
                authorization_request::Column::Id,
                authorization_request::Column::ExpiresAt,
                before,
            )
            .await
        }
        Kind::SignInStates => {
            oldest::<sign_in_state::Entity>(
                c,
                sign_in_state::Column::Id,
                sign_in_state::Column::ExpiresAt,
                before,
            )
            .await
        }
        Kind::PasswordResets => {
            oldest::<password_reset::Entity>(
                c,
                password_reset::Column::Id,
                password_reset::Column::ExpiresAt,
                before,
            )
            .await
        }
        Kind::HelpdeskVerifications => {
            oldest::<helpdesk_verification::Entity>(
                c,
                helpdesk_verification::Column::Id,
                helpdesk_verification::Column::ExpiresAt,
                before,
            )
            .await
        }
        // A live session has no `ended_at`, and NULL is before nothing: only ended ones go.
        Kind::EndedSessions => {
            oldest::<sso_session::Entity>(
                c,
                sso_session::Column::Id,
                sso_session::Column::EndedAt,
                before,
            )
            .await
        }
        Kind::AttemptCounters => {
            oldest::<attempt_counter::Entity>(
                c,
                attempt_counter::Column::Key,
                attempt_counter::Column::WindowStartedAt,
                before,
            )
            .await
        }
        Kind::Mail => {
            oldest::<email_outbox::Entity>(
                c,
                email_outbox::Column::Id,
                email_outbox::Column::CreatedAt,
                before,
            )
            .await
        }
    }
}

/// `DELETE FROM e WHERE key IN (SELECT key FROM e WHERE time < before ORDER BY time LIMIT
/// CHUNK)`: the portable form of a bounded delete (SQLite's `DELETE … LIMIT` is a
/// compile-time option, and PostgreSQL has none).
fn oldest_statement<E: EntityTrait>(
    key: E::Column,
    time: E::Column,
    before: DateTime<Utc>,
) -> sea_orm::sea_query::DeleteStatement {
    let oldest = E::find()
        .select_only()
        .column(key)
        .filter(time.lt(before))
        .order_by_asc(time)
        .limit(CHUNK)
        .into_query();
    E::delete_many()
        .filter(key.in_subquery(oldest))
        .into_query()
}

async fn oldest<E: EntityTrait>(
    c: &impl ConnectionTrait,
    key: E::Column,
    time: E::Column,
    before: DateTime<Utc>,
) -> Result<Chunk, DbErr> {
    let delete = oldest_statement::<E>(key, time, before);
    let rows = c
        .execute_raw(c.get_database_backend().build(&delete))
        .await?
        .rows_affected();
    Ok(Chunk {
        rows,
        ended_families: Vec::new(),
    })
}

/// The oldest expired refresh tokens, and the families whose current token (the one not yet
/// used) was among them. A family has at most one such token, its newest: the exchange
/// stores the first, and each rotation spends one and stores its successor in one
/// transaction (`oidc::token::group_commit`; a client allowed the refresh grant is always
/// issued a successor, `oidc::token::mint_for_family`). Its older tokens, all used, expired
/// before it.
async fn refresh_tokens(c: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<Chunk, DbErr> {
    let mut delete = oldest_statement::<refresh_token::Entity>(
        refresh_token::Column::TokenHash,
        refresh_token::Column::ExpiresAt,
        before,
    );
    delete.returning(Query::returning().columns([
        refresh_token::Column::FamilyId,
        refresh_token::Column::ConsumedAt,
    ]));
    let deleted = c
        .query_all_raw(c.get_database_backend().build(&delete))
        .await?;
    let mut ended_families = Vec::new();
    for row in &deleted {
        let used: Option<DateTime<Utc>> = row.try_get_by_index(1)?;
        if used.is_none() {
            ended_families.push(row.try_get_by_index::<String>(0)?);
        }
    }
    Ok(Chunk {
        rows: deleted.len() as u64,
        ended_families,
    })
}

/// Deletes the families `ids` (ended: `refresh_tokens`).
pub async fn delete_families(c: &impl ConnectionTrait, ids: &[String]) -> Result<u64, DbErr> {
    if ids.is_empty() {
        return Ok(0);
    }
    let r = token_family::Entity::delete_many()
        .filter(token_family::Column::Id.is_in(ids.iter().map(String::as_str)))
        .exec(c)
        .await?;
    Ok(r.rows_affected)
}
