//! Opaque bearer values (authorization codes, refresh tokens, session ids, client secrets):
//! 256 random bits, base64url. They are stored only as an HMAC-SHA256 under a server key and
//! looked up by that hash; because the values carry 256 bits of entropy a fast keyed hash is
//! the right tool (a password hash would only cost time on every request).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use subtle::ConstantTimeEq;

/// A new random value with 256 bits of entropy, base64url without padding (43 chars).
pub fn generate() -> String {
    random_base64url::<32>()
}

/// `N` random bytes, base64url without padding: `generate` for secrets, shorter for values
/// that only need to be unique (request ids).
pub fn random_base64url<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Keyed hashing of opaque values. The purpose label separates domains, so a refresh token
/// can never be presented as a session id even if the values were equal.
#[derive(Clone)]
pub struct TokenHasher {
    key: [u8; 32],
}

#[derive(Clone, Copy, Debug)]
pub enum Purpose {
    AuthorizationCode,
    RefreshToken,
    Session,
    ClientSecret,
    /// The cookie of a sign-in waiting for its second factor.
    SignInState,
    /// A browser remembered for one account ("remember this device").
    RememberedDevice,
    RecoveryCode,
    /// An e-mailed one-time code, bound to its sign-in.
    EmailCode,
    /// The token of a password reset (an e-mailed link, or the step after two right
    /// challenge answers).
    PasswordReset,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::AuthorizationCode => b"code",
            Purpose::RefreshToken => b"refresh",
            Purpose::Session => b"session",
            Purpose::ClientSecret => b"client-secret",
            Purpose::SignInState => b"sign-in-state",
            Purpose::RememberedDevice => b"remembered-device",
            Purpose::RecoveryCode => b"recovery-code",
            Purpose::EmailCode => b"email-code",
            Purpose::PasswordReset => b"password-reset",
        }
    }
}

impl TokenHasher {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// The stored form of `value`: base64url(HMAC(key, purpose || 0 || value)).
    pub fn hash(&self, purpose: Purpose, value: &str) -> String {
        let mac = super::hmac_sha256(&self.key, &[purpose.label(), &[0], value.as_bytes()]);
        URL_SAFE_NO_PAD.encode(mac)
    }

    /// Constant-time check of `value` against a stored hash.
    pub fn verify(&self, purpose: Purpose, value: &str, stored: &str) -> bool {
        let computed = self.hash(purpose, value);
        computed.as_bytes().ct_eq(stored.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_long_random_and_hashes_are_domain_separated() {
        let a = generate();
        assert_eq!(a.len(), 43);
        assert_ne!(a, generate());
        let h = TokenHasher::new([1; 32]);
        assert_ne!(
            h.hash(Purpose::RefreshToken, &a),
            h.hash(Purpose::Session, &a)
        );
        let stored = h.hash(Purpose::ClientSecret, &a);
        assert!(h.verify(Purpose::ClientSecret, &a, &stored));
        assert!(!h.verify(Purpose::ClientSecret, "other", &stored));
        assert!(!TokenHasher::new([2; 32]).verify(Purpose::ClientSecret, &a, &stored));
    }
}
