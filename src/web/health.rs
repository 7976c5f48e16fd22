//! Liveness and readiness for load balancers and orchestrators. `/healthz` says the process
//! answers (no database call, so a database outage does not get healthy nodes restarted);
//! `/readyz` says this node can serve: the database answers and its schema is at the newest
//! migration. Neither is cached, and neither reveals more than a short reason.

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;

use crate::state::AppState;

pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(HEALTHZ, get(healthz_get))
        .route(READYZ, get(readyz_get))
}

fn no_store(status: StatusCode, body: serde_json::Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn healthz_get() -> Response {
    no_store(StatusCode::OK, json!({ "status": "ok" }))
}

async fn readyz_get(State(state): State<AppState>) -> Response {
    let unavailable = |reason: &str| {
        no_store(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "unavailable", "reason": reason }),
        )
    };
    if let Err(e) = state.db.ping().await {
        tracing::warn!(error = %e, "readiness: database unreachable");
        return unavailable("database unreachable");
    }
    match crate::store::db::is_current(&state.db).await {
        Ok(true) => no_store(StatusCode::OK, json!({ "status": "ready" })),
        Ok(false) => unavailable("database migrations pending"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: migration check failed");
            unavailable("database unreachable")
        }
    }
}
