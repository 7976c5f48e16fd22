//! The integration suite: one binary, one module per feature. Every test spawns the real
//! application on 127.0.0.1 with its own database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The demo relying party of `examples/demo_apps`, compiled in so tests drive the real thing.
#[path = "../../examples/demo_apps/rp.rs"]
mod demo_rp;
mod helpers;

mod access;
mod admin;
mod authorize;
mod browser;
mod browser_demo;
mod browser_mfa;
mod browser_passkeys;
mod browser_recovery;
mod cli;
mod discovery;
mod helpdesk;
mod inactivity;
mod keys;
mod login;
mod logout;
mod mail;
mod mfa;
mod ops;
mod passkeys;
mod protection;
mod questions;
mod recovery;
mod register;
mod retention;
mod rp_flow;
mod scale_out;
mod sso;
mod tokens;
mod user_requests;
