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
    QueryTrait,
    sea_query::{Expr, ExprTrait, Query},
};

/// The most rows one statement deletes. A chunk of refresh tokens (a row and three index
/// entries each) is a few hundred pages: milliseconds of the writer, between two batches of
/// token writes.
pub const CHUNK: u64 = 500;

/// The kinds of record removed once they have expired, each by its own time column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    AuthorizationCodes,
    RefreshTokens,
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
    pub const ALL: [Kind; 10] = [
        Kind::AuthorizationCodes,
        Kind::RefreshTokens,
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

/// What one chunk removed: how many rows, and the token families they belonged to (codes
/// and refresh tokens), which may now be empty (`delete_families_without_tokens`).
#[derive(Debug, Default)]
pub struct Chunk {
    pub rows: u64,
    pub families: Vec<String>,
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
                Some(authorization_code::Column::FamilyId),
            )
            .await
        }
        Kind::RefreshTokens => {
            oldest::<refresh_token::Entity>(
                c,
                refresh_token::Column::TokenHash,
                refresh_token::Column::ExpiresAt,
                before,
                Some(refresh_token::Column::FamilyId),
            )
            .await
        }
        Kind::DeniedAccessTokens => {
            oldest::<revoked_access_token::Entity>(
                c,
                revoked_access_token::Column::Jti,
                revoked_access_token::Column::ExpiresAt,
                before,
                None,
            )
            .await
        }
        Kind::AuthorizationRequests => {
            oldest::<authorization_request::Entity>(
                c,
                authorization_request::Column::Id,
                authorization_request::Column::ExpiresAt,
                before,
                None,
            )
            .await
        }
        Kind::SignInStates => {
            oldest::<sign_in_state::Entity>(
                c,
                sign_in_state::Column::Id,
                sign_in_state::Column::ExpiresAt,
                before,
                None,
            )
            .await
        }
        Kind::PasswordResets => {
            oldest::<password_reset::Entity>(
                c,
                password_reset::Column::Id,
                password_reset::Column::ExpiresAt,
                before,
                None,
            )
            .await
        }
        Kind::HelpdeskVerifications => {
            oldest::<helpdesk_verification::Entity>(
                c,
                helpdesk_verification::Column::Id,
                helpdesk_verification::Column::ExpiresAt,
                before,
                None,
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
                None,
            )
            .await
        }
        Kind::AttemptCounters => {
            oldest::<attempt_counter::Entity>(
                c,
                attempt_counter::Column::Key,
                attempt_counter::Column::WindowStartedAt,
                before,
                None,
            )
            .await
        }
        Kind::Mail => {
            oldest::<email_outbox::Entity>(
                c,
                email_outbox::Column::Id,
                email_outbox::Column::CreatedAt,
                before,
                None,
            )
            .await
        }
    }
}

/// `DELETE FROM e WHERE key IN (SELECT key FROM e WHERE time < before ORDER BY time LIMIT
/// CHUNK)`, returning `family` of each deleted row when asked. The subquery is the portable
/// form of a bounded delete (SQLite's `DELETE … LIMIT` is a compile-time option, and
/// PostgreSQL has none).
async fn oldest<E: EntityTrait>(
    c: &impl ConnectionTrait,
    key: E::Column,
    time: E::Column,
    before: DateTime<Utc>,
    family: Option<E::Column>,
) -> Result<Chunk, DbErr> {
    let oldest = E::find()
        .select_only()
        .column(key)
        .filter(time.lt(before))
        .order_by_asc(time)
        .limit(CHUNK)
        .into_query();
    let mut delete = E::delete_many()
        .filter(key.in_subquery(oldest))
        .into_query();
    let backend = c.get_database_backend();
    let Some(family) = family else {
        let rows = c.execute_raw(backend.build(&delete)).await?.rows_affected();
        return Ok(Chunk {
            rows,
            families: Vec::new(),
        });
    };
    delete.returning_col(family);
    let deleted = c.query_all_raw(backend.build(&delete)).await?;
    let mut families = deleted
        .iter()
        .map(|r| r.try_get_by_index::<Option<String>>(0))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    families.sort_unstable();
    families.dedup();
    Ok(Chunk {
        rows: deleted.len() as u64,
        families,
    })
}

/// Deletes those of `ids` that no refresh token refers to any more and that were created
/// before `created_before` (so no access token they issued is still valid: an access token
/// names its family, `oidc::bearer`, and one whose family is gone is refused).
pub async fn delete_families_without_tokens(
    c: &impl ConnectionTrait,
    ids: &[String],
    created_before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    if ids.is_empty() {
        return Ok(0);
    }
    let tokens_left = Query::select()
        .expr(Expr::val(1))
        .from(refresh_token::Entity)
        .and_where(
            Expr::col((refresh_token::Entity, refresh_token::Column::FamilyId))
                .equals((token_family::Entity, token_family::Column::Id)),
        )
        .to_owned();
    let r = token_family::Entity::delete_many()
        .filter(token_family::Column::Id.is_in(ids.iter().map(String::as_str)))
        .filter(token_family::Column::CreatedAt.lt(created_before))
        .filter(Expr::exists(tokens_left).not())
        .exec(c)
        .await?;
    Ok(r.rows_affected)
}
