//! Cryptography: the master key and what is derived from it, opaque tokens and their keyed
//! hashes, at-rest sealing, password hashing, the signing key ring and JWT issue/verify.

pub mod es256;
pub mod jwt;
pub mod keyring;
pub mod keystore;
pub mod master;
pub mod opaque;
pub mod password;
pub mod seal;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("openssl: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
    #[error("jose: {0}")]
    Jose(#[from] josekit::JoseError),
    #[error("{0}")]
    Invalid(String),
}

/// HMAC-SHA256 over the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    // HMAC is defined for keys of any length, so this constructor cannot fail; the match
    // keeps the no-panic lint honest without an unwrap.
    let mut mac = match <Hmac<sha2::Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}
