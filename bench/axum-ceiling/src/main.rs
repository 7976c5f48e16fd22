//! The ceiling of the discovery and JWKS scenarios on this machine: an axum server that
//! answers the same two documents byte for byte (read from files at start, as ally-idp served
//! them) and does nothing else: no security headers, request ids, metrics, size or time
//! limits. `bench/run.sh` puts the same load on it, which gives ally-idp's own per-request
//! work a measured price, and shows what no server built on axum and hyper can exceed here.
//!
//!   cargo run --release -p axum-ceiling -- ADDR DISCOVERY_FILE JWKS_FILE

use axum::{Router, http::header, routing::get};
use bytes::Bytes;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, addr, discovery, jwks] = args.as_slice() else {
        eprintln!("usage: axum-ceiling ADDR DISCOVERY_FILE JWKS_FILE");
        std::process::exit(2);
    };
    let discovery = Bytes::from(std::fs::read(discovery)?);
    let jwks = Bytes::from(std::fs::read(jwks)?);
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], discovery) }),
        )
        .route(
            "/jwks",
            get(
                move || async move { ([(header::CONTENT_TYPE, "application/jwk-set+json")], jwks) },
            ),
        );
    let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
    axum::serve(listener, app).await
}
