//! People's accounts: creation, the password policy, and (in later versions) registration,
//! recovery and self-service settings.

pub mod attempts;
pub mod customers;
pub mod helpdesk;
pub mod home;
pub mod inactivity;
pub mod lifecycle;
pub mod passkey_pages;
pub mod password_policy;
pub mod passwords;
pub mod questions;
pub mod reactivation;
pub mod recovery;
pub mod recovery_pages;
pub mod register_pages;
pub mod registration;
pub mod request_pages;
pub mod security_pages;
pub mod sessions;
pub mod sessions_pages;
pub mod users;
