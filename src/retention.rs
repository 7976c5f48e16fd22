//! How long the provider keeps what expires, and the pass that removes it.
//!
//! Codes, refresh tokens, pending sign-ins, reset links, ended sessions and the like are
//! worthless once expired, but nothing else deletes them: without this pass every sign-in
//! and every refresh would leave a row behind for good, and the database (and each index
//! walk on it) would grow with the provider's age instead of its load. Each kind is kept a
//! while past its expiry, for the reason given at its cutoff (`cutoff`).
//!
//! The pass runs with the other periodic jobs on every node; each chunk is one conditional
//! delete of at most `store::expired::CHUNK` rows in its own write transaction, so nodes
//! running it at once only share the work, and request writes interleave with it.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::DbErr;

use crate::{config::Config, state::AppState, store, store::expired::Kind};

/// Past their expiry, things are kept this long: nodes' clocks differ by a little, and a
/// record checked on the edge of its expiry must not vanish under the check.
const GRACE: Duration = Duration::hours(1);

/// A used authorization code is kept this long past its expiry: presented again within it,
/// it is still recognised as a replay and revokes what it bought (RFC 6749 §4.1.2); later it
/// is only an unknown code.
const CODE_REPLAY_WINDOW: Duration = Duration::days(1);

/// Ended sessions, queued e-mail and finished logout deliveries are kept for support
/// questions ("was I signed out?", "was the e-mail sent?") for this long.
const SUPPORT_WINDOW: Duration = Duration::days(7);

/// One pass stops starting new chunks after this long, so a backlog (the first pass after
/// an upgrade, or after a long outage) never holds up the other periodic jobs: the next
/// pass goes on where this one stopped.
const PASS_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// Rows of `kind` whose time column is before this are removed.
pub fn cutoff(kind: Kind, config: &Config, now: DateTime<Utc>) -> DateTime<Utc> {
    let secs = Duration::seconds;
    match kind {
        Kind::AuthorizationCodes => now - CODE_REPLAY_WINDOW,
        // A used refresh token is kept until it would have expired: presented again before
        // that, it is a replay and revokes its family (RFC 9700 §4.14.2). Its family ends
        // when its current token goes (`store::expired`), so that token is also kept until
        // the access token issued with it has expired (an access token names its family and
        // is refused once the family is gone, `oidc::bearer`).
        Kind::RefreshTokens => now - GRACE - secs(config.tokens.access_token_ttl_secs),
        Kind::Families
        | Kind::DeniedAccessTokens
        | Kind::AuthorizationRequests
        | Kind::SignInStates
        | Kind::PasswordResets
        | Kind::HelpdeskVerifications => now - GRACE,
        Kind::EndedSessions | Kind::Mail => now - SUPPORT_WINDOW,
        // A counter counts only within its window (`store::attempts::failures`): one whose
        // window started before the longest of them counts nothing.
        Kind::AttemptCounters => {
            let longest = [
                secs(config.lockout.window_secs),
                secs(config.registration.record_window_secs),
                secs(config.registration.ip_window_secs),
                Duration::minutes(crate::accounts::helpdesk::TRIES_WINDOW_MINUTES),
                crate::authn::mfa::email_code::SENDS_WINDOW,
            ]
            .into_iter()
            .max()
            .unwrap_or(crate::authn::mfa::email_code::SENDS_WINDOW);
            now - longest - GRACE
        }
    }
}

/// Rows removed by one pass, per kind (and `token_family` for the families emptied).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    pub rows: HashMap<&'static str, u64>,
}

impl Removed {
    pub fn get(&self, name: &str) -> u64 {
        self.rows.get(name).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.rows.values().sum()
    }

    fn add(&mut self, name: &'static str, n: u64) {
        if n > 0 {
            *self.rows.entry(name).or_default() += n;
        }
    }
}

/// Removes what has expired, a chunk of each kind in turn until none is left or
/// `PASS_BUDGET` is spent. Counted in `ally_expired_removed_total`.
pub async fn remove_expired(state: &AppState) -> Result<Removed, DbErr> {
    let now = state.clock.now();
    let deadline = tokio::time::Instant::now() + PASS_BUDGET;
    let mut removed = Removed::default();
    let mut pending: Vec<Kind> = Kind::ALL.to_vec();
    while !pending.is_empty() && tokio::time::Instant::now() < deadline {
        let mut still = Vec::with_capacity(pending.len());
        for kind in pending {
            let started = tokio::time::Instant::now();
            let txn = state.begin_write().await?;
            let chunk =
                store::expired::delete_chunk(&txn, kind, cutoff(kind, &state.config, now)).await?;
            let families = store::expired::delete_families(&txn, &chunk.ended_families).await?;
            txn.commit().await?;
            for (name, n) in [(kind.name(), chunk.rows), ("token_family", families)] {
                removed.add(name, n);
                state.metrics.count_expired_removed(name, n);
            }
            if chunk.rows == store::expired::CHUNK {
                still.push(kind);
            }
            // The writer is left to requests for as long as this chunk took: however large
            // the backlog, the pass has at most half of it. (With a bare yield, a backlog of
            // 300,000 rows held refresh's p99 at 33 ms for the ten seconds of the pass.)
            tokio::time::sleep(started.elapsed()).await;
        }
        pending = still;
    }
    // Finished logout deliveries and passkey ceremonies have their own rules.
    let deliveries = store::logout::purge_finished(&state.db, now - SUPPORT_WINDOW).await?;
    let ceremonies = store::passkeys::purge_ceremonies(&state.db, now).await?;
    for (name, n) in [
        ("logout_delivery", deliveries),
        ("webauthn_ceremony", ceremonies),
    ] {
        removed.add(name, n);
        state.metrics.count_expired_removed(name, n);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::for_tests(([127, 0, 0, 1], 0).into(), "sqlite::memory:").expect("config")
    }

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn used_codes_outlive_their_expiry_by_the_replay_window() {
        let c = config();
        assert_eq!(
            cutoff(Kind::AuthorizationCodes, &c, at()),
            at() - Duration::days(1)
        );
    }

    #[test]
    fn counters_are_kept_for_their_longest_window() {
        let mut c = config();
        c.registration.record_window_secs = 86_400;
        c.registration.ip_window_secs = 3_600;
        c.lockout.window_secs = 7 * 86_400;
        assert_eq!(
            cutoff(Kind::AttemptCounters, &c, at()),
            at() - Duration::days(7) - GRACE
        );
        c.lockout.window_secs = 60;
        c.registration.record_window_secs = 60;
        c.registration.ip_window_secs = 60;
        assert_eq!(
            cutoff(Kind::AttemptCounters, &c, at()),
            at() - Duration::hours(1) - GRACE,
            "the help desk's and the e-mailed codes' fixed windows count too"
        );
    }

    #[test]
    fn a_current_refresh_token_outlives_the_access_token_issued_with_it() {
        let mut c = config();
        c.tokens.access_token_ttl_secs = 600;
        assert_eq!(
            cutoff(Kind::RefreshTokens, &c, at()),
            at() - Duration::seconds(600) - GRACE
        );
    }
}
