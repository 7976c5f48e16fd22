//! Everything HTTP-shaped that is not a protocol endpoint: template rendering, CSRF,
//! cookies, security headers, static assets, request context and raw form parsing.

pub mod assets;
pub mod context;
pub mod cookies;
pub mod csrf;
pub mod documents;
pub mod envelope;
pub mod form;
pub mod headers;
pub mod health;
pub mod params;
pub mod serve;
pub mod telemetry;
pub mod templates;
pub mod text;
pub mod throttle;

pub use templates::{Page, Templates};
