//! Signing in: password verification, the SSO session, and the sign-in screens.

pub mod factor_pages;
pub mod lockout;
pub mod login;
pub mod logout;
pub mod mfa;
pub mod passkey_pages;
pub mod passkeys;
pub mod routes;
pub mod second_factor;
pub mod session;

/// Authentication Context Class Reference values (OIDC Core §2, `acr`).
pub mod acr {
    /// Single-factor sign-in (NIST SP 800-63B AAL1).
    pub const AAL1: &str = "urn:ally-idp:acr:aal1";
    /// A second factor was shown in this session (NIST SP 800-63B AAL2): the value to ask
    /// for in `acr_values` when an application needs multi-factor.
    pub const AAL2: &str = "urn:ally-idp:acr:aal2";
    /// What discovery advertises (`acr_values_supported`).
    pub const SUPPORTED: [&str; 2] = [AAL1, AAL2];
}
