//! Per-client-IP throttling of every form where a guess can be made (sign-in and its
//! second step, registration, reactivation, recovery), with governor's keyed GCRA limiter.
//! It complements the per-account lockout: lockout stops guessing at one account,
//! throttling stops one client guessing across many. It keys on the IP only, never on the
//! user ID typed, so a 429 says nothing about whether a user ID exists.
//!
//! The limiter reads the application's clock, so tests move time instead of sleeping. State
//! is per node: behind a load balancer each node allows its share (documented).

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use axum::{
    extract::Request,
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use governor::{
    Quota, RateLimiter, clock::Clock as _, middleware::NoOpMiddleware, nanos::Nanos,
    state::keyed::DashMapStateStore,
};

use crate::{clock::Clock, config, error::ErrorPage, state::AppState};

/// The paths whose POSTs are throttled (and everything below them).
const GUARDED: &[&str] = &["/login", "/register", "/reactivate", "/forgot", "/request"];

fn guarded(path: &str) -> bool {
    GUARDED.iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// governor's view of the application clock.
#[derive(Clone, Debug)]
struct AppClock(Arc<dyn Clock>);

impl governor::clock::Clock for AppClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let nanos = self.0.now().timestamp_nanos_opt().unwrap_or(0);
        Nanos::from(u64::try_from(nanos).unwrap_or(0))
    }
}

pub struct Throttle {
    limiter: RateLimiter<IpAddr, DashMapStateStore<IpAddr>, AppClock, NoOpMiddleware<Nanos>>,
    clock: AppClock,
}

impl Throttle {
    pub fn new(cfg: &config::Throttle, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let per_minute = NonZeroU32::new(cfg.per_minute)
            .ok_or_else(|| anyhow::anyhow!("throttle.per_minute must be at least 1"))?;
        let burst = NonZeroU32::new(cfg.burst)
            .ok_or_else(|| anyhow::anyhow!("throttle.burst must be at least 1"))?;
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        let clock = AppClock(clock);
        Ok(Self {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
        })
    }

    /// `None` if `ip` may go on; else how long it must wait.
    pub fn check(&self, ip: IpAddr) -> Option<Duration> {
        self.limiter
            .check_key(&ip)
            .err()
            .map(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets clients that are back to a full allowance (called by the periodic job).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The answer to a guarded POST over its client's allowance: 429 with `Retry-After`
/// (RFC 6585 §4, RFC 9110 §10.2.3), so it never reaches its handler; `None` lets the request
/// go on. Called by `web::envelope` for every request.
pub fn refusal(state: &AppState, req: &Request) -> Option<Response> {
    if req.method() != Method::POST || !guarded(req.uri().path()) {
        return None;
    }
    let ip = super::context::client_ip_of(
        req.extensions(),
        req.headers(),
        &state.config.http.trusted_proxies,
    );
    let wait = ip.and_then(|ip| state.throttle.check(ip))?;
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    tracing::info!(ip = ?ip, retry_after = secs, "throttled");
    let minutes = secs.div_ceil(60);
    let mut r = ErrorPage {
        status: StatusCode::TOO_MANY_REQUESTS,
        title: "Too many attempts".into(),
        message: format!(
            "There were too many attempts from your network. Please wait {} and try again.",
            if minutes <= 1 {
                "a minute".to_owned()
            } else {
                format!("{minutes} minutes")
            }
        )
        .into(),
    }
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_whole_path_segments() {
        assert!(guarded("/login"));
        assert!(guarded("/login/factor"));
        assert!(guarded("/forgot/password"));
        assert!(!guarded("/loginx"));
        assert!(!guarded("/token"));
        assert!(!guarded("/"));
    }
}
