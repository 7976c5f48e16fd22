//! People's accounts: creation, the password policy, and (in later versions) registration,
//! recovery and self-service settings.

pub mod customers;
pub mod home;
pub mod password_policy;
pub mod questions;
pub mod users;
