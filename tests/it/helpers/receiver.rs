//! A relying party's back-channel logout endpoint for tests: a real HTTP server on
//! 127.0.0.1 that records each logout token posted to `/<client_id>` and answers with a
//! status the test chooses (to make deliveries fail). Every GET (a front-channel logout
//! frame, a callback, a post-logout page) is recorded too and answered with a small page.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU16, Ordering},
};

use axum::{
    Form, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::post,
};

#[derive(Clone, Debug)]
pub struct Received {
    pub client_id: String,
    pub logout_token: String,
    pub content_type: String,
}

#[derive(Clone, Default)]
struct Inner {
    got: Arc<Mutex<Vec<Received>>>,
    /// 0 means 200.
    status: Arc<AtomicU16>,
    /// Path and query of every GET.
    gets: Arc<Mutex<Vec<String>>>,
}

pub struct Receiver {
    base: String,
    inner: Inner,
    _server: tokio::task::JoinHandle<()>,
}

#[derive(serde::Deserialize)]
struct Body {
    logout_token: String,
}

async fn receive(
    State(inner): State<Inner>,
    Path(client_id): Path<String>,
    headers: axum::http::HeaderMap,
    Form(b): Form<Body>,
) -> StatusCode {
    let status = inner.status.load(Ordering::SeqCst);
    inner.got.lock().unwrap().push(Received {
        client_id,
        logout_token: b.logout_token,
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
    });
    if status == 0 {
        StatusCode::OK
    } else {
        StatusCode::from_u16(status).unwrap()
    }
}

async fn page(State(inner): State<Inner>, uri: axum::http::Uri) -> axum::response::Html<String> {
    inner.gets.lock().unwrap().push(uri.to_string());
    axum::response::Html(format!(
        "<!doctype html><title>RP</title><p>RP page {}</p>",
        uri.path()
    ))
}

impl Receiver {
    pub async fn start() -> Self {
        let inner = Inner::default();
        let router = Router::new()
            .route("/{client_id}", post(receive))
            .fallback(axum::routing::get(page))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            base,
            inner,
            _server: server,
        }
    }

    /// The back-channel logout URI to register for `client_id`.
    pub fn uri(&self, client_id: &str) -> String {
        format!("{}/{client_id}", self.base)
    }

    /// Answer every later delivery with this status (200 again with `OK`).
    pub fn answer(&self, status: StatusCode) {
        let v = if status == StatusCode::OK {
            0
        } else {
            status.as_u16()
        };
        self.inner.status.store(v, Ordering::SeqCst);
    }

    /// This server's origin, e.g. `http://127.0.0.1:40123`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Path and query of every GET so far.
    pub fn gets(&self) -> Vec<String> {
        self.inner.gets.lock().unwrap().clone()
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.got.lock().unwrap().clone()
    }

    /// Waits (up to 15 s) until at least `n` deliveries arrived; returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..150 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!(
            "expected {n} back-channel deliveries, got {:?}",
            self.received()
        );
    }
}
