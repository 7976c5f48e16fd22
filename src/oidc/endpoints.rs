//! Endpoint paths, used by both the router and the discovery document so they cannot drift.

pub const DISCOVERY: &str = "/.well-known/openid-configuration";
pub const AS_METADATA: &str = "/.well-known/oauth-authorization-server";
pub const JWKS: &str = "/jwks";
pub const AUTHORIZE: &str = "/authorize";
pub const TOKEN: &str = "/token";
pub const USERINFO: &str = "/userinfo";
pub const INTROSPECT: &str = "/introspect";
pub const REVOKE: &str = "/revoke";
pub const END_SESSION: &str = "/logout";
pub const LOGIN: &str = "/login";
/// The second-factor step of a sign-in (and step-up of a signed-in session).
pub const LOGIN_FACTOR: &str = "/login/factor";
/// Username-less sign-in with a passkey: the ceremony's options, then the answer.
pub const LOGIN_PASSKEY_OPTIONS: &str = "/login/passkey/options";
pub const LOGIN_PASSKEY: &str = "/login/passkey";
pub const CONSENT: &str = "/consent";
/// "You have no access to this application": request it, or go back.
pub const ACCESS: &str = "/access";
/// An application's terms, accepted once before first use.
pub const TERMS: &str = "/terms";
pub const ADMIN: &str = "/admin";
pub const API: &str = "/api/v1";
pub const HOME: &str = "/";
