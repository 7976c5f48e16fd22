//! At-rest encryption of private key material with AES-256-GCM (OpenSSL). The output is
//! base64(nonce || ciphertext || tag); the purpose string is bound in as associated data so a
//! sealed value cannot be moved to another column and still open.

use base64::{Engine, engine::general_purpose::STANDARD};
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};

use super::CryptoError;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Clone)]
pub struct Sealer {
    key: [u8; 32],
}

impl Sealer {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    pub fn seal(&self, plaintext: &[u8], aad: &str) -> Result<String, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        openssl::rand::rand_bytes(&mut nonce)?;
        let mut tag = [0u8; TAG_LEN];
        let ct = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(&nonce),
            aad.as_bytes(),
            plaintext,
            &mut tag,
        )?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out.extend_from_slice(&tag);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str, aad: &str) -> Result<Vec<u8>, CryptoError> {
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| CryptoError::Invalid("sealed value is not base64".into()))?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Invalid("sealed value is too short".into()));
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(nonce),
            aad.as_bytes(),
            ct,
            tag,
        )
        .map_err(|_| {
            CryptoError::Invalid("sealed value failed authentication (wrong master key?)".into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let s = Sealer::new([3; 32]);
        let sealed = s.seal(b"private key", "signing_key:k1").expect("seal");
        assert_eq!(
            s.open(&sealed, "signing_key:k1").expect("open"),
            b"private key"
        );
        assert!(s.open(&sealed, "signing_key:k2").is_err(), "aad is bound");
        assert!(
            Sealer::new([4; 32])
                .open(&sealed, "signing_key:k1")
                .is_err()
        );
        let mut raw = STANDARD.decode(&sealed).expect("b64");
        raw[14] ^= 1;
        assert!(s.open(&STANDARD.encode(raw), "signing_key:k1").is_err());
    }
}
