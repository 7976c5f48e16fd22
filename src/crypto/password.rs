//! Password hashing with Argon2id. Hashing is CPU-bound for tens of milliseconds, so it runs
//! on tokio's blocking threads behind a semaphore sized to the cores: a burst of sign-ins
//! queues here instead of starving the async workers that serve token requests.

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher as _, PasswordVerifier as _, phc::PasswordHash},
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use crate::config::PasswordHashing;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("argon2: {0}")]
    Argon2(String),
    #[error("hashing task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("hashing limiter closed")]
    Closed,
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A hash of a random password with the configured parameters. Verifying against it when
    /// the user does not exist makes "unknown user" cost the same time as "wrong password".
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish()
    }
}

impl PasswordHasher {
    pub fn new(cfg: &PasswordHashing) -> Result<Self, PasswordError> {
        let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
            .map_err(|e| PasswordError::Argon2(e.to_string()))?;
        let permits = match cfg.max_concurrent {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let dummy = crate::crypto::opaque::generate();
        let dummy_hash = hash_blocking(&params, dummy.as_bytes())?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(permits)),
            dummy_hash: dummy_hash.into(),
        })
    }

    pub async fn hash(&self, password: &SecretString) -> Result<String, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Closed)?;
        let params = self.params.clone();
        let pw = password.clone();
        tokio::task::spawn_blocking(move || hash_blocking(&params, pw.expose_secret().as_bytes()))
            .await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no
    /// account, so both paths take the same time. Returns false for a malformed hash.
    pub async fn verify(
        &self,
        password: &SecretString,
        stored: Option<&str>,
    ) -> Result<bool, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Closed)?;
        let known = stored.is_some();
        let stored: String = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let pw = password.clone();
        let ok = tokio::task::spawn_blocking(move || {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                return false;
            };
            Argon2::default()
                .verify_password(pw.expose_secret().as_bytes(), &parsed)
                .is_ok()
        })
        .await?;
        Ok(ok && known)
    }
}

impl PasswordHasher {
    /// Whether `stored` was made with other parameters (or another algorithm) than the
    /// configured ones: the next successful sign-in then stores a new hash, so raising the
    /// Argon2 cost in the configuration upgrades every active account over time.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return true;
        };
        if parsed.algorithm.as_str() != "argon2id" || parsed.version != Some(0x13) {
            return true;
        }
        match Params::try_from(&parsed) {
            Ok(p) => {
                p.m_cost() != self.params.m_cost()
                    || p.t_cost() != self.params.t_cost()
                    || p.p_cost() != self.params.p_cost()
            }
            Err(_) => true,
        }
    }
}

fn hash_blocking(params: &Params, password: &[u8]) -> Result<String, PasswordError> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Argon2(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(&PasswordHashing {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 1,
        })
        .expect("hasher")
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = hasher();
        let pw = SecretString::from("correct horse battery staple");
        let stored = h.hash(&pw).await.expect("hash");
        assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(h.verify(&pw, Some(&stored)).await.expect("verify"));
        assert!(
            !h.verify(&SecretString::from("wrong"), Some(&stored))
                .await
                .expect("verify")
        );
        assert!(
            !h.verify(&pw, None).await.expect("dummy"),
            "no account never verifies"
        );
        assert!(!h.verify(&pw, Some("garbage")).await.expect("garbage"));
    }

    #[tokio::test]
    async fn hashes_made_with_other_parameters_need_rehashing() {
        let h = hasher();
        let pw = SecretString::from("correct horse battery staple");
        assert!(!h.needs_rehash(&h.hash(&pw).await.expect("hash")));
        let weaker = PasswordHasher::new(&PasswordHashing {
            memory_kib: 32,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 1,
        })
        .expect("hasher");
        assert!(h.needs_rehash(&weaker.hash(&pw).await.expect("hash")));
        assert!(h.needs_rehash("garbage"));
    }
}
