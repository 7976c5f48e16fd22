//! Administration: the staff console (server-rendered HTML under /admin) and the admin REST
//! API (JSON under /api/v1, with its OpenAPI document). Every route takes the `Staff` or
//! `ApiCaller` extractor, so the role is checked on the server; routes are registered through
//! `RouteTable`, which also lists them for the test that walks every route as a non-staff
//! account.

pub mod api;
pub mod auth;
pub mod console;
pub mod helpdesk_console;

use axum::{
    Router,
    handler::Handler,
    routing::{MethodRouter, delete, get, patch, post},
};

use crate::state::AppState;

/// A router that remembers what it registered.
pub struct RouteTable {
    router: Router<AppState>,
    routes: Vec<(&'static str, &'static str)>,
}

impl RouteTable {
    fn new() -> Self {
        Self {
            router: Router::new(),
            routes: Vec::new(),
        }
    }

    fn add(mut self, method: &'static str, path: &'static str, m: MethodRouter<AppState>) -> Self {
        self.router = self.router.route(path, m);
        self.routes.push((method, path));
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add("GET", path, get(h))
    }
    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add("POST", path, post(h))
    }
    pub fn patch<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add("PATCH", path, patch(h))
    }
    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add("DELETE", path, delete(h))
    }
}

fn table() -> RouteTable {
    api::routes(console::routes(RouteTable::new()))
}

pub fn routes() -> Router<AppState> {
    table()
        .router
        // Documentation only: no data, so no role is needed to read it.
        .route(api::OPENAPI_PATH, get(api::openapi_get))
}

/// Every protected (method, path) pair, for tests and documentation.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    table().routes
}
