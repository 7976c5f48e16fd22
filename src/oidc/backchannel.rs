//! OpenID Connect Back-Channel Logout 1.0, the sending side. Deliveries are queued in the
//! database by whatever ended the session (`authn::logout`), so any node may send them and a
//! restart loses none; this worker signs a fresh logout token for each attempt, posts it,
//! and retries failures with doubling delays for a bounded time before giving up (audited).

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, json};
use tokio::sync::Notify;

use crate::{
    access::clients::Client,
    audit::{self, Actor, AuditEvent, RequestContext},
    config::Logout,
    crypto::{CryptoError, jwt, keyring::KeyRing},
    state::AppState,
    store,
};

/// BCL §2.4: the `events` member that makes a JWT a logout token.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// BCL §2.4 (and RFC 8725 §3.11): an explicit type, so a logout token can never be taken for
/// an ID token or an access token.
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";
/// The longest wait between two attempts.
const MAX_DELAY_SECS: i64 = 300;
/// How many deliveries one pass takes on at once.
const BATCH: u64 = 64;
/// How often the queue is looked at when nothing wakes the worker sooner.
const POLL: StdDuration = StdDuration::from_secs(1);

/// The sender: an HTTP client that follows no redirects (the registered URI is the only
/// place a logout token may go) and a wake-up for deliveries queued by this node.
pub struct Backchannel {
    http: reqwest::Client,
    wake: Notify,
}

impl Backchannel {
    pub fn new(cfg: &Logout) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(StdDuration::from_secs(cfg.backchannel_timeout_secs))
                .user_agent(concat!("ally-idp/", env!("CARGO_PKG_VERSION")))
                .build()?,
            wake: Notify::new(),
        })
    }

    /// Sends what was just queued now rather than at the next poll (other nodes pick up
    /// theirs at their next poll).
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// The claims of a logout token (BCL §2.4): `iss`, `aud`, `iat`, `exp`, `jti`, `sub`, `sid`
/// and `events`; never a `nonce` (§2.4: its absence tells it apart from an ID token).
pub fn logout_token(
    ring: &KeyRing,
    issuer: &str,
    client: &Client,
    sub: &str,
    sid: Option<&str>,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<String, CryptoError> {
    let mut c = Map::new();
    c.insert("iss".into(), json!(issuer));
    c.insert("aud".into(), json!(client.client_id));
    c.insert("iat".into(), json!(now.timestamp()));
    c.insert("exp".into(), json!((now + ttl).timestamp()));
    c.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
    c.insert("sub".into(), json!(sub));
    if let Some(sid) = sid {
        c.insert("sid".into(), json!(sid));
    }
    c.insert("events".into(), json!({ LOGOUT_EVENT: {} }));
    jwt::sign(ring, client.id_token_alg, LOGOUT_TOKEN_TYP, c)
}

/// When to try again after `attempts` failures: 1 s, 2 s, 4 s ... capped at five minutes;
/// None once that would pass `retry_secs` after the logout (give up).
pub fn next_attempt(
    created_at: DateTime<Utc>,
    attempts: i32,
    retry_secs: i64,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let delay = 2_i64.saturating_pow(exp).min(MAX_DELAY_SECS);
    let next = now + Duration::seconds(delay);
    (next <= created_at + Duration::seconds(retry_secs)).then_some(next)
}

/// Runs the sender until the task is dropped.
pub async fn run(state: AppState) {
    loop {
        tokio::select! {
            _ = state.backchannel.wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
        if let Err(e) = deliver_due(&state).await {
            tracing::warn!(error = %e, "back-channel logout pass failed; will retry");
        }
    }
}

/// Attempts every delivery that is due, at once; returns how many were attempted.
pub async fn deliver_due(state: &AppState) -> Result<usize, sea_orm::DbErr> {
    let now = state.clock.now();
    // Long enough for one attempt to finish; a node that dies mid-attempt leaves the row
    // to be taken again after this.
    let lease = Duration::seconds(
        i64::try_from(state.config.logout.backchannel_timeout_secs).unwrap_or(5) + 30,
    );
    let mut attempts = tokio::task::JoinSet::new();
    for d in store::logout::due(&state.db, now, BATCH).await? {
        if store::logout::claim(&state.db, &d, now + lease).await? {
            let state = state.clone();
            let metrics = state.metrics.clone();
            attempts.spawn(crate::metrics::scoped(metrics, async move {
                attempt(&state, d).await
            }));
        }
    }
    let n = attempts.len();
    while let Some(done) = attempts.join_next().await {
        match done {
            Ok(Err(e)) => tracing::warn!(error = %e, "recording a back-channel logout failed"),
            Err(e) => tracing::warn!(error = %e, "a back-channel logout task failed"),
            Ok(Ok(())) => {}
        }
    }
    Ok(n)
}

async fn attempt(
    state: &AppState,
    d: entity::logout_delivery::Model,
) -> Result<(), sea_orm::DbErr> {
    let client = store::clients::find(&state.db, &d.client_id)
        .await?
        .and_then(|m| Client::from_model(m).ok());
    let result = match &client {
        Some(c) => match &c.backchannel_logout_uri {
            Some(uri) => send(state, c, uri, &d).await,
            None => Err(Failure::Permanent(
                "the application no longer has a back-channel logout URI".into(),
            )),
        },
        None => Err(Failure::Permanent(
            "the application no longer exists".into(),
        )),
    };
    let now = state.clock.now();
    let outcome = |o: &'static str| state.metrics.count_backchannel(o);
    let error = match result {
        Ok(()) => {
            outcome("delivered");
            tracing::debug!(client_id = %d.client_id, "back-channel logout delivered");
            return store::logout::mark_delivered(&state.db, &d.id, now).await;
        }
        Err(Failure::Retry(e)) => e,
        Err(Failure::Permanent(e)) => {
            outcome("given_up");
            return give_up(state, &d, &e, now).await;
        }
    };
    match next_attempt(
        d.created_at,
        d.attempts + 1,
        state.config.logout.backchannel_retry_secs,
        now,
    ) {
        Some(next) => {
            outcome("retry");
            tracing::info!(client_id = %d.client_id, error = %error, "back-channel logout failed; will retry");
            store::logout::mark_failed(&state.db, &d.id, &error, now, Some(next)).await
        }
        None => {
            outcome("given_up");
            give_up(state, &d, &error, now).await
        }
    }
}

async fn give_up(
    state: &AppState,
    d: &entity::logout_delivery::Model,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    tracing::warn!(client_id = %d.client_id, error = %error, "back-channel logout given up");
    let txn = state.begin_write().await?;
    store::logout::mark_failed(&txn, &d.id, error, now, None).await?;
    audit::record(
        &txn,
        now,
        &RequestContext::default(),
        AuditEvent::BackchannelLogoutFailed,
        Actor::System,
        Some(&d.account_id),
        json!({
            "client_id": d.client_id,
            "sid": d.session_id,
            "reason": d.reason,
            "attempts": d.attempts + 1,
            "error": error,
        }),
    )
    .await?;
    txn.commit().await
}

enum Failure {
    /// Worth trying again (unreachable, timeout, a 5xx).
    Retry(String),
    /// Never going to work (the application or its URI is gone).
    Permanent(String),
}

async fn send(
    state: &AppState,
    client: &Client,
    uri: &str,
    d: &entity::logout_delivery::Model,
) -> Result<(), Failure> {
    let now = state.clock.now();
    let token = logout_token(
        &state.keyring.ring(),
        state.issuer(),
        client,
        &d.account_id,
        d.session_id.as_deref(),
        Duration::seconds(state.config.logout.logout_token_ttl_secs),
        now,
    )
    .map_err(|e| Failure::Retry(format!("signing the logout token: {e}")))?;
    // BCL §2.5: POST, form-encoded, the token in `logout_token`.
    let body = serde_urlencoded::to_string([("logout_token", token.as_str())])
        .map_err(|e| Failure::Permanent(e.to_string()))?;
    let resp = state
        .backchannel
        .http
        .post(uri)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::CACHE_CONTROL, "no-store")
        .body(body)
        .send()
        .await
        .map_err(|e| Failure::Retry(describe(&e)))?;
    // BCL §2.8: 200 OK on success (some frameworks answer 204); anything else is a failure.
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(Failure::Retry(format!(
            "the application answered {}",
            resp.status()
        )))
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::next_attempt;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn retries_double_then_cap_then_stop() {
        let t0 = Utc
            .with_ymd_and_hms(2026, 11, 23, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let delay = |n, now| next_attempt(t0, n, 3600, now).map(|t| (t - now).num_seconds());
        assert_eq!(delay(1, t0), Some(1));
        assert_eq!(delay(2, t0), Some(2));
        assert_eq!(delay(4, t0), Some(8));
        assert_eq!(delay(12, t0), Some(300));
        // Past the retry window: given up.
        assert_eq!(delay(3, t0 + Duration::seconds(3598)), None);
    }
}
