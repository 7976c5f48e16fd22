//! Prometheus metrics, served at `/metrics` in the OpenMetrics text format.
//!
//! One set per application (`AppState.metrics`): Prometheus scrapes every node and sums
//! across them, so counts are per node by design (nothing here needs to agree between
//! nodes). Security events are counted where they are audited (`audit::record`), so every
//! audited event is also a metric and the two cannot drift. Domain code has no handle on
//! the application state, so requests and background jobs run inside `scoped`, which makes
//! their application's metrics reachable from `audit::record`. An event counted inside a
//! transaction that later rolls back (only on a database error) is counted but not stored.

use std::{
    fmt::Write as _,
    sync::{Arc, atomic::AtomicU64},
};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: &'static str,
    /// The route pattern (`/account/sessions/{id}`), never the raw path: raw paths would
    /// let anyone create series without bound.
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteStatusLabels {
    pub method: &'static str,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrantLabels {
    pub grant_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    pub event: &'static str,
}

/// The two series a finished request counts in: `http_requests_total` for its status and
/// `http_request_duration_seconds` for its route.
pub struct RouteSeries {
    requests: Counter,
    duration: Histogram,
}

impl RouteSeries {
    /// Counts one request answered in `secs`.
    pub fn observe(&self, secs: f64) {
        self.duration.observe(secs);
        self.requests.inc();
    }
}

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~4 s: token requests live at the bottom, argon2-bound sign-ins near 20 ms.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RouteStatusLabels, Counter>,
    pub request_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub in_flight: Gauge,
    pub abandoned: Family<RouteLabels, Counter>,
    pub tokens_issued: Family<GrantLabels, Counter>,
    pub sign_ins: Family<OutcomeLabels, Counter>,
    pub lockouts: Counter,
    pub security_events: Family<EventLabels, Counter>,
    pub backchannel: Family<OutcomeLabels, Counter>,
    pub expired_removed: Family<KindLabels, Counter>,
    pub database_unavailable: Counter,
    pub connections_timed_out: Counter,
    started: i64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ally");
        let requests = Family::<RouteStatusLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            requests.clone(),
        );
        let request_duration =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response head, by method and route pattern",
            request_duration.clone(),
        );
        let in_flight = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        registry.register(
            "http_requests_in_flight",
            "Requests being handled now",
            in_flight.clone(),
        );
        let abandoned = Family::<RouteLabels, Counter>::default();
        registry.register(
            "http_requests_abandoned",
            "Requests whose client went away before the answer, by method and route pattern",
            abandoned.clone(),
        );
        let tokens_issued = Family::<GrantLabels, Counter>::default();
        registry.register(
            "tokens_issued",
            "Successful token endpoint responses, by grant type",
            tokens_issued.clone(),
        );
        let sign_ins = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "sign_ins",
            "Sign-in steps by outcome: succeeded (every factor shown), failed (wrong user ID or password), second_factor_failed, passkey_rejected",
            sign_ins.clone(),
        );
        let lockouts = Counter::<u64, AtomicU64>::default();
        registry.register(
            "lockouts",
            "Accounts locked (too many failures, a wrong challenge answer, or staff)",
            lockouts.clone(),
        );
        let security_events = Family::<EventLabels, Counter>::default();
        registry.register(
            "security_events",
            "Audited security events, by event name (as in the audit log)",
            security_events.clone(),
        );
        let backchannel = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "backchannel_logout_deliveries",
            "Back-channel logout attempts: delivered, retry (failed, will try again), given_up",
            backchannel.clone(),
        );
        let expired_removed = Family::<KindLabels, Counter>::default();
        registry.register(
            "expired_removed",
            "Expired records removed by the periodic pass (`retention`), by table",
            expired_removed.clone(),
        );
        let database_unavailable = Counter::<u64, AtomicU64>::default();
        registry.register(
            "database_unavailable",
            "Requests answered 503 because the database could not be reached",
            database_unavailable.clone(),
        );
        let connections_timed_out = Counter::<u64, AtomicU64>::default();
        registry.register(
            "http_connections_timed_out",
            "Connections closed for going http.header_timeout_secs without a whole request head to answer (slow or silent clients, idle keep-alive, answers left unread)",
            connections_timed_out.clone(),
        );
        Self {
            registry,
            requests,
            request_duration,
            in_flight,
            abandoned,
            tokens_issued,
            sign_ins,
            lockouts,
            security_events,
            backchannel,
            expired_removed,
            database_unavailable,
            connections_timed_out,
            started: chrono::Utc::now().timestamp(),
        }
    }

    /// The series a request to `route` (a route pattern) answered with `status` counts in.
    pub fn route_series(&self, method: &'static str, route: &str, status: u16) -> RouteSeries {
        RouteSeries {
            requests: self
                .requests
                .get_or_create(&RouteStatusLabels {
                    method,
                    route: route.to_owned(),
                    status,
                })
                .clone(),
            duration: self
                .request_duration
                .get_or_create(&RouteLabels {
                    method,
                    route: route.to_owned(),
                })
                .clone(),
        }
    }

    /// The OpenMetrics text exposition, with the process's memory and start time appended
    /// (read from /proc on Linux; omitted elsewhere).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        // `encode` ends with `# EOF`; the process family goes before it.
        let body = out.strip_suffix("# EOF\n").unwrap_or(&out).to_owned();
        let mut out = body;
        if let Some(rss) = resident_bytes() {
            let _ = write!(
                out,
                "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
                 # TYPE process_resident_memory_bytes gauge\n\
                 process_resident_memory_bytes {rss}\n"
            );
        }
        let _ = write!(
            out,
            "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n\
             # TYPE process_start_time_seconds gauge\n\
             process_start_time_seconds {}\n# EOF\n",
            self.started
        );
        out
    }
}

/// One request being handled, counted in `http_requests_in_flight` from `begin` until it is
/// dropped. A guard rather than an increment and a decrement around the handler: when a
/// client goes away, hyper drops the request's future wherever it is waiting, and the code
/// after that `await` never runs; the drop does, so the gauge cannot drift upwards.
pub struct InFlight<'a> {
    metrics: &'a Metrics,
    method: &'static str,
    route: &'a str,
    answered: bool,
}

impl<'a> InFlight<'a> {
    pub fn begin(metrics: &'a Metrics, method: &'static str, route: &'a str) -> Self {
        metrics.in_flight.inc();
        Self {
            metrics,
            method,
            route,
            answered: false,
        }
    }

    /// The response is ready: what follows is counted as answered, not abandoned.
    pub fn answered(mut self) {
        self.answered = true;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
        if !self.answered {
            self.metrics
                .abandoned
                .get_or_create(&RouteLabels {
                    method: self.method,
                    route: self.route.to_owned(),
                })
                .inc();
        }
    }
}

tokio::task_local! {
    static CURRENT: Arc<Metrics>;
}

/// Runs `f` with `metrics` as the metrics `audit::record` counts into.
pub async fn scoped<F: std::future::Future>(metrics: Arc<Metrics>, f: F) -> F::Output {
    CURRENT.scope(metrics, f).await
}

/// Resident set size from `/proc/self/statm` (pages × page size).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Counts an audited event into the current application's metrics (nothing outside
/// `scoped`, e.g. in the CLI, which is a process of its own with nothing to scrape).
pub fn count_audit_event(event: crate::audit::AuditEvent) {
    let _ = CURRENT.try_with(|m| m.count_audit_event(event));
}

impl Metrics {
    /// Counts an audited event, and the sign-in and lockout families it belongs to.
    pub fn count_audit_event(&self, event: crate::audit::AuditEvent) {
        use crate::audit::AuditEvent as E;
        self.security_events
            .get_or_create(&EventLabels {
                event: event.as_str(),
            })
            .inc();
        let outcome = match event {
            E::LoginSucceeded => Some("succeeded"),
            E::LoginFailed => Some("failed"),
            E::MfaFailed => Some("second_factor_failed"),
            E::PasskeyRejected => Some("passkey_rejected"),
            _ => None,
        };
        if let Some(outcome) = outcome {
            self.sign_ins
                .get_or_create(&OutcomeLabels { outcome })
                .inc();
        }
        if event == E::AccountLocked {
            self.lockouts.inc();
        }
    }

    pub fn count_expired_removed(&self, kind: &'static str, n: u64) {
        if n > 0 {
            self.expired_removed
                .get_or_create(&KindLabels { kind })
                .inc_by(n);
        }
    }

    pub fn count_backchannel(&self, outcome: &'static str) {
        self.backchannel
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }
}

/// Marks a response that failed because the database could not be reached; the request
/// metrics count such responses (`ally_database_unavailable_total`).
#[derive(Clone, Copy, Debug)]
pub struct DatabaseUnavailable;

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn renders_openmetrics_and_counts_audit_events_in_scope() {
        let m = std::sync::Arc::new(super::Metrics::new());
        super::count_audit_event(crate::audit::AuditEvent::AccountLocked);
        super::scoped(m.clone(), async {
            super::count_audit_event(crate::audit::AuditEvent::AccountLocked);
        })
        .await;
        let text = m.render();
        assert!(text.contains("# TYPE ally_lockouts counter"));
        assert!(text.contains("ally_lockouts_total 1\n"), "{text}");
        assert!(text.contains("ally_security_events_total{event=\"account.locked\"} 1\n"));
        assert!(text.contains("process_start_time_seconds "));
        assert!(text.ends_with("# EOF\n"));
        assert_eq!(text.matches("# EOF").count(), 1);
    }
}
