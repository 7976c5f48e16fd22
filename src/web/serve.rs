//! The HTTP/1.1 accept loop: one hyper connection per client, serving the router.
//!
//! `axum::serve` would do the same, but it builds hyper's connection settings itself and
//! gives them no timer, so hyper's limit on receiving a request's header section never
//! applies: a client could open connections and trickle header bytes (or send nothing at
//! all) and hold each one, with its socket and buffer, for as long as it liked. Here each
//! connection gets `http.header_timeout_secs`. hyper arms that limit whenever it waits for
//! a request's head, so it also closes a kept-alive connection that sits idle between
//! requests for that long (RFC 9112 §9.5 lets a server close an inactive connection). Once
//! a head has arrived, `web::envelope`'s request timeout takes over.

use std::{future::Future, pin::pin, time::Duration};

use axum::{
    Router,
    body::Body,
    extract::{ConnectInfo, Request},
};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tower::ServiceExt as _;

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting, lets
/// every connection finish the request it is answering (idle ones close at once), and
/// returns once all are closed. `header_timeout` None: no limit.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Option<Duration>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
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
        // Each request carries the peer's address, what axum's `ConnectInfo` extractor reads
        // (throttling and the audit log).
        let service = router
            .clone()
            .map_request(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.map(Body::new)
            });
        let conn = http.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service));
        let conn = connections.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                // A client that goes away or times out is routine, not an error of ours.
                tracing::debug!(%peer, error = %e, "connection closed");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
    Ok(())
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
