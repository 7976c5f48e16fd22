//! The HTTP/1.1 accept loop: one hyper connection per client, serving the router.
//!
//! `axum::serve` would do the same, but it sets no limit on how long a connection may sit
//! without sending a request: a client could open connections and trickle header bytes (or
//! send nothing at all) and hold each one, with its socket and buffer, for as long as it
//! liked. Here a connection that has not sent a whole request head within
//! `http.header_timeout_secs` of opening, or of its last response, is closed; that also
//! closes a kept-alive connection that sits idle that long (RFC 9112 §9.5 lets a server close
//! an inactive connection). Once a head has arrived, `web::envelope`'s request timeout takes
//! over.
//!
//! The limit is a watchdog per connection rather than hyper's own header read timeout.
//! hyper's creates, registers and drops a timer for every request head it waits for; on the
//! discovery and JWKS endpoints that was about 4% of the throughput (interleaved runs,
//! README, Benchmarks). The watchdog keeps one timer per connection and looks at it once per
//! period: a request only stamps when it was answered.
//!
//! The public documents (`web::documents`) are answered here, before the router.

use std::{
    future::Future,
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    extract::{ConnectInfo, Request},
    response::Response,
};
use futures_util::future::Either;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{rt::TokioIo, server::graceful::GracefulShutdown, service::TowerToHyperService};
use prometheus_client::metrics::counter::Counter;
use tokio::{net::TcpListener, time::Instant};
use tower::ServiceExt as _;

use crate::web::documents::Documents;

/// What `serve` allows a connection.
pub struct Limits {
    /// How long a connection may go without a request to answer (None: no limit).
    pub header_timeout: Option<Duration>,
    /// Counts the connections closed for that.
    pub timed_out: Counter,
}

/// Serves `documents` and `router` on `listener` until `shutdown` completes; then stops
/// accepting, lets every connection finish the request it is answering (idle ones close at
/// once), and returns once all are closed.
pub async fn serve(
    listener: TcpListener,
    documents: Arc<Documents>,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let Limits {
        header_timeout,
        timed_out,
    } = limits;
    let http = http1::Builder::new();
    let connections = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // A response leaves in one write; a page larger than a segment must not wait for the
        // client's delayed ACK (Nagle's algorithm) for its last piece.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(%peer, error = %e, "TCP_NODELAY not set");
        }
        let activity = Arc::new(Activity::new());
        let (began, ended) = (activity.clone(), activity.clone());
        // Each request carries the peer's address, what axum's `ConnectInfo` extractor reads
        // (throttling and the audit log), and marks the connection busy until it is answered.
        let service = router
            .clone()
            .map_request(move |mut req: Request<Incoming>| {
                began.request_began();
                req.extensions_mut().insert(ConnectInfo(peer));
                req.map(Body::new)
            })
            .map_response(move |resp| {
                ended.request_answered();
                resp
            });
        let front = Front {
            documents: documents.clone(),
            activity: activity.clone(),
            routed: TowerToHyperService::new(service),
        };
        let conn = http.serve_connection(TokioIo::new(tcp), front);
        let conn = connections.watch(conn);
        let timed_out = timed_out.clone();
        tokio::spawn(async move {
            let closed = match header_timeout {
                Some(limit) => watched(conn, &activity, limit).await,
                None => conn.await.map(|()| true),
            };
            match closed {
                Ok(true) => {}
                Ok(false) => {
                    timed_out.inc();
                    tracing::debug!(%peer, "connection closed: no request head in time");
                }
                // A client that goes away is routine, not an error of ours.
                Err(e) => tracing::debug!(%peer, error = %e, "connection closed"),
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
    Ok(())
}

/// A connection's service: the public documents, else the router.
struct Front<S> {
    documents: Arc<Documents>,
    activity: Arc<Activity>,
    routed: S,
}

impl<S> hyper::service::Service<Request<Incoming>> for Front<S>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<std::future::Ready<Result<Response, S::Error>>, S::Future>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        match self.documents.answer(&req) {
            Some(resp) => {
                self.activity.mark_idle();
                Either::Left(std::future::ready(Ok(resp)))
            }
            None => Either::Right(self.routed.call(req)),
        }
    }
}

/// What the watchdog knows of a connection: whether a request is being answered, and when
/// it last had nothing to answer (opened, or answered its last request), in milliseconds
/// since `opened`.
struct Activity {
    opened: Instant,
    answering: AtomicU32,
    idle_since_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            answering: AtomicU32::new(0),
            idle_since_ms: AtomicU64::new(0),
        }
    }

    fn request_began(&self) {
        self.answering.fetch_add(1, Ordering::AcqRel);
    }

    /// Called when the response is handed to hyper. A request abandoned before that (its
    /// client gone) never gets here, but then hyper ends the connection itself.
    fn request_answered(&self) {
        self.mark_idle();
        self.answering.fetch_sub(1, Ordering::AcqRel);
    }

    /// Nothing to answer from now on (also for a request answered as it arrived).
    fn mark_idle(&self) {
        let now = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.idle_since_ms.store(now, Ordering::Release);
    }

    /// When the watchdog must look again, or None when the connection has gone `limit`
    /// without a request to answer.
    fn next_look(&self, limit: Duration) -> Option<Instant> {
        let now = Instant::now();
        if self.answering.load(Ordering::Acquire) > 0 {
            // The request timeout bounds the request; the head limit starts after it.
            return Some(now + limit);
        }
        let idle_since =
            self.opened + Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire));
        let deadline = idle_since + limit;
        (deadline > now).then_some(deadline)
    }
}

/// Drives `conn` until it ends (true) or goes `limit` without a request to answer (false;
/// the connection is dropped, which closes its socket). One timer for the connection's
/// life, reset only when it fires.
async fn watched<E>(
    conn: impl Future<Output = Result<(), E>>,
    activity: &Activity,
    limit: Duration,
) -> Result<bool, E> {
    let mut conn = pin!(conn);
    let mut timer = pin!(tokio::time::sleep(limit));
    loop {
        tokio::select! {
            biased;
            ended = &mut conn => return ended.map(|()| true),
            () = &mut timer => match activity.next_look(limit) {
                Some(at) => timer.as_mut().reset(at),
                None => return Ok(false),
            },
        }
    }
}

/// After a failed `accept`: a connection that failed before it was handed over is the
/// client's problem, and the loop goes on at once. Anything else (out of file descriptors,
/// above all) is logged and waited out for a second rather than retried in a tight loop.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
