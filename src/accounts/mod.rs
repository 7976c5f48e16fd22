//! People's accounts: creation, the password policy, and (in later versions) registration,
//! recovery and self-service settings.

pub mod attempts;
pub mod customers;
pub mod register_pages;
pub mod request_pages;
pub mod home;
pub mod lifecycle;
pub mod registration;
pub mod password_policy;
pub mod questions;
pub mod reactivation;
pub mod users;
