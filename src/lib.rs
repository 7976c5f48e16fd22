//! ally-idp: an OpenID Connect provider for the card portal and the dealer applications.
//!
//! A request flows route -> handler -> one domain function -> `store`. Handlers own the
//! transaction; domain code takes `now` as a parameter and never sees HTTP types.

pub mod access;
pub mod accounts;
pub mod admin;
pub mod audit;
pub mod authn;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod error;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod oidc;
pub mod private_files;
pub mod retention;
pub mod startup;
pub mod state;
pub mod store;
pub mod web;
