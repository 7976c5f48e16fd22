//! The master key from configuration (or `<data_dir>/master.key`) and the independent
//! sub-keys derived from it, one per purpose, so that no key ever serves two jobs.

use std::path::Path;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};

use super::CryptoError;

/// Keys derived from the master key: HMAC-SHA256(master, purpose label).
#[derive(Clone)]
pub struct DerivedKeys {
    /// AES-256-GCM key sealing private signing keys (and later TOTP seeds).
    pub seal: [u8; 32],
    /// HMAC key for stored hashes of codes, refresh tokens, session ids and client secrets.
    pub token_hash: [u8; 32],
    /// HMAC key binding CSRF form tokens to their cookie.
    pub csrf: [u8; 32],
    /// HMAC key for customer identifiers (card and account numbers, SSN last four).
    pub customer: [u8; 32],
}

impl std::fmt::Debug for DerivedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DerivedKeys([redacted])")
    }
}

impl DerivedKeys {
    pub fn from_master(master: &[u8; 32]) -> Self {
        Self {
            seal: derive(master, b"ally-idp seal v1"),
            token_hash: derive(master, b"ally-idp token-hash v1"),
            csrf: derive(master, b"ally-idp csrf v1"),
            customer: derive(master, b"ally-idp customer v1"),
        }
    }
}

fn derive(master: &[u8; 32], label: &[u8]) -> [u8; 32] {
    super::hmac_sha256(master, &[label])
}

/// Where the generated master key is kept when none is configured.
pub fn key_file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("master.key")
}

/// Resolves the master key: the configured value, else `<data_dir>/master.key`, generated
/// (mode 0600) on first start. Returns the key and whether it was just generated.
pub fn load_or_create(
    configured: &SecretString,
    data_dir: &Path,
) -> Result<([u8; 32], bool), CryptoError> {
    let configured = configured.expose_secret().trim();
    if !configured.is_empty() {
        return decode(configured).map(|k| (k, false));
    }
    let path = key_file(data_dir);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| CryptoError::Invalid(format!("reading {}: {e}", path.display())))?;
        return decode(text.trim()).map(|k| (k, false));
    }
    let mut key = [0u8; 32];
    openssl::rand::rand_bytes(&mut key)?;
    crate::private_files::create_dir_all(data_dir)
        .map_err(|e| CryptoError::Invalid(format!("creating {}: {e}", data_dir.display())))?;
    let text = base64::engine::general_purpose::STANDARD.encode(key) + "\n";
    crate::private_files::write_new(&path, text.as_bytes())
        .map_err(|e| CryptoError::Invalid(format!("writing {}: {e}", path.display())))?;
    Ok((key, true))
}

fn decode(text: &str) -> Result<[u8; 32], CryptoError> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
    let bytes = STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .or_else(|_| URL_SAFE_NO_PAD.decode(text))
        .map_err(|_| CryptoError::Invalid("master key is not valid base64".into()))?;
    bytes
        .try_into()
        .map_err(|_| CryptoError::Invalid("master key must be exactly 32 bytes".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_keys_differ_and_bad_keys_are_rejected() {
        let k = DerivedKeys::from_master(&[7u8; 32]);
        assert_ne!(k.seal, k.token_hash);
        assert_ne!(k.token_hash, k.csrf);
        assert!(decode("c2hvcnQ=").is_err());
        assert!(decode("not base64!").is_err());
    }

    #[test]
    fn generated_key_is_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = SecretString::from("");
        let (a, created) = load_or_create(&empty, dir.path()).expect("create");
        assert!(created);
        let (b, created) = load_or_create(&empty, dir.path()).expect("reload");
        assert!(!created);
        assert_eq!(a, b);
    }
}
