//! Static assets (CSS, the small scripts), embedded in the binary and served by us only:
//! the sign-in pages load nothing from any other site.

use axum::{
    Router,
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::state::AppState;

pub const PREFIX: &str = "/static";

const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    ),
    (
        "login.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/login.js"),
    ),
    (
        "passkey.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/passkey.js"),
    ),
    (
        "logout.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/logout.js"),
    ),
    (
        "password.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/password.js"),
    ),
];

pub fn routes() -> Router<AppState> {
    Router::new().route("/static/{name}", get(asset_get))
}

async fn asset_get(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                ),
            ],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
