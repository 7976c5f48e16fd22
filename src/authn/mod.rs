//! Signing in: password verification, the SSO session, and the sign-in screens.

pub mod login;
pub mod routes;
pub mod session;

/// Authentication Context Class Reference values (OIDC Core §2, `acr`).
pub mod acr {
    /// Single-factor sign-in (NIST SP 800-63B AAL1).
    pub const AAL1: &str = "urn:ally-idp:acr:aal1";
}
