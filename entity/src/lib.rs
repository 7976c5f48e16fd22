//! sea-orm models for the tables the migrations create. Models only: no logic lives here;
//! queries are built in the application's `store` module.

pub mod access_grant;
pub mod access_request;
pub mod account;
pub mod attempt_counter;
pub mod audit_event;
pub mod authorization_code;
pub mod authorization_request;
pub mod client;
pub mod consent;
pub mod customer;
pub mod email_outbox;
pub mod organization;
pub mod passkey;
pub mod recovery_code;
pub mod refresh_token;
pub mod remembered_device;
pub mod revoked_access_token;
pub mod security_answer;
pub mod sign_in_state;
pub mod signing_key;
pub mod sso_session;
pub mod staff_role;
pub mod terms_acceptance;
pub mod token_family;
pub mod totp_factor;
pub mod webauthn_ceremony;
