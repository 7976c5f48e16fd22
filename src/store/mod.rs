//! The only module that builds sea-orm queries. Functions are named for what they do
//! (`find_`, `insert_`, `consume_`, `revoke_`) and take any connection or transaction, so the
//! caller decides the transaction boundary.

pub mod access;
pub mod accounts;
pub mod answers;
pub mod attempts;
pub mod audit;
pub mod auth_requests;
pub mod batch;
pub mod bulk;
pub mod clients;
pub mod codes;
pub mod consents;
pub mod customers;
pub mod db;
pub mod expired;
pub mod helpdesk;
pub mod keys;
pub mod logout;
pub mod mail;
pub mod mfa;
pub mod passkeys;
pub mod reads;
pub mod recovery;
pub mod sessions;
pub mod standing;
pub mod terms;
pub mod tokens;

pub use sea_orm::{ConnectionTrait, DbErr};
