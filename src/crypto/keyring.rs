//! The signing key ring: one active key per algorithm (ES256 by default, RS256 and EdDSA
//! selectable per client), their verifiers, and the JWKS document precomputed as bytes.
//! Private keys are stored sealed (see `seal`) and only ever opened in memory. Every
//! published key verifies; a key signs only from its `signs_from` time (rotation publishes a
//! key before it signs). `LiveKeys` holds the current ring and swaps in a rebuilt one when
//! the stored keys change or a published key's time to sign comes.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, RwLock},
};

use chrono::{DateTime, Utc};

use bytes::Bytes;
use josekit::{
    jwk::{Jwk, KeyPair, alg::ed::EdCurve},
    jws::{ES256, EdDSA, JwsSigner, JwsVerifier, RS256},
};

use super::{CryptoError, seal::Sealer};

/// The JWS algorithms this provider signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    Es256,
    Rs256,
    EdDsa,
}

impl Alg {
    pub const ALL: [Alg; 3] = [Alg::Es256, Alg::Rs256, Alg::EdDsa];

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Rs256 => "RS256",
            Alg::EdDsa => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A key as stored: public JWK in clear, private key sealed.
#[derive(Clone, Debug)]
pub struct StoredKey {
    pub kid: String,
    pub alg: Alg,
    pub public_jwk: String,
    pub private_key_sealed: String,
    /// When it starts signing; None: as soon as it exists.
    pub signs_from: Option<DateTime<Utc>>,
}

/// A new key pair for `alg`, sealed for storage.
pub fn generate(alg: Alg, sealer: &Sealer) -> Result<StoredKey, CryptoError> {
    let (der, mut jwk) = match alg {
        Alg::Es256 => {
            let kp = ES256.generate_key_pair()?;
            (kp.to_der_private_key(), kp.to_jwk_public_key())
        }
        Alg::Rs256 => {
            let kp = RS256.generate_key_pair(2048)?;
            (kp.to_der_private_key(), kp.to_jwk_public_key())
        }
        Alg::EdDsa => {
            let kp = EdDSA.generate_key_pair(EdCurve::Ed25519)?;
            (kp.to_der_private_key(), kp.to_jwk_public_key())
        }
    };
    let kid = super::opaque::generate()[..16].to_owned();
    jwk.set_key_id(&kid);
    jwk.set_algorithm(alg.as_str());
    jwk.set_key_use("sig");
    Ok(StoredKey {
        private_key_sealed: sealer.seal(&der, &aad(&kid))?,
        public_jwk: jwk.to_string(),
        kid,
        alg,
        signs_from: None,
    })
}

fn aad(kid: &str) -> String {
    format!("signing_key:{kid}")
}

struct LoadedKey {
    alg: Alg,
    signer: Box<dyn JwsSigner>,
    verifier: Box<dyn JwsVerifier>,
}

/// The keys in memory. Immutable once built; rotation builds a new ring.
pub struct KeyRing {
    keys: HashMap<String, LoadedKey>,
    active: HashMap<Alg, String>,
    jwks: Bytes,
    /// The next time a published key starts signing (the ring must be rebuilt then).
    next_change: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl KeyRing {
    /// Opens the stored keys. All are published; of each algorithm the newest whose
    /// `signs_from` has come signs. `stored` must be ordered oldest first.
    pub fn load(
        stored: &[StoredKey],
        sealer: &Sealer,
        now: DateTime<Utc>,
    ) -> Result<Arc<Self>, CryptoError> {
        let mut keys = HashMap::new();
        let mut active = HashMap::new();
        let mut published = Vec::new();
        let mut next_change: Option<DateTime<Utc>> = None;
        for k in stored {
            let der = sealer.open(&k.private_key_sealed, &aad(&k.kid))?;
            let jwk = Jwk::from_bytes(k.public_jwk.as_bytes())?;
            let (signer, verifier): (Box<dyn JwsSigner>, Box<dyn JwsVerifier>) = match k.alg {
                Alg::Es256 => (
                    Box::new(super::es256::Es256Signer::from_der(&der)?),
                    Box::new(ES256.verifier_from_jwk(&jwk)?),
                ),
                Alg::Rs256 => (
                    Box::new(RS256.signer_from_der(&der)?),
                    Box::new(RS256.verifier_from_jwk(&jwk)?),
                ),
                Alg::EdDsa => (
                    Box::new(EdDSA.signer_from_der(&der)?),
                    Box::new(EdDSA.verifier_from_jwk(&jwk)?),
                ),
            };
            match k.signs_from {
                Some(t) if t > now => {
                    next_change = Some(next_change.map_or(t, |n| n.min(t)));
                }
                _ => {
                    active.insert(k.alg, k.kid.clone());
                }
            }
            published.push(serde_json::Value::Object(jwk.as_ref().clone()));
            keys.insert(
                k.kid.clone(),
                LoadedKey {
                    alg: k.alg,
                    signer,
                    verifier,
                },
            );
        }
        for alg in Alg::ALL {
            if !active.contains_key(&alg) {
                return Err(CryptoError::Invalid(format!(
                    "no {} signing key",
                    alg.as_str()
                )));
            }
        }
        let jwks = serde_json::to_vec(&serde_json::json!({ "keys": published }))
            .map_err(|e| CryptoError::Invalid(e.to_string()))?;
        Ok(Arc::new(Self {
            keys,
            active,
            jwks: Bytes::from(jwks),
            next_change,
        }))
    }

    /// The key ids in this ring.
    pub fn kids(&self) -> BTreeSet<&str> {
        self.keys.keys().map(String::as_str).collect()
    }

    /// The signing key id for `alg`.
    pub fn active_kid(&self, alg: Alg) -> Option<&str> {
        self.active.get(&alg).map(String::as_str)
    }

    /// The JWKS document (RFC 7517 §5), serialised once.
    pub fn jwks(&self) -> Bytes {
        self.jwks.clone()
    }

    /// The active signer for `alg` and its key id.
    pub fn signer(&self, alg: Alg) -> Option<(&str, &dyn JwsSigner)> {
        let kid = self.active.get(&alg)?;
        let key = self.keys.get(kid)?;
        Some((kid.as_str(), key.signer.as_ref()))
    }

    /// The verifier for a key id, with the algorithm it is bound to.
    pub fn verifier(&self, kid: &str) -> Option<(Alg, &dyn JwsVerifier)> {
        self.keys.get(kid).map(|k| (k.alg, k.verifier.as_ref()))
    }
}

/// The key ring in use, shared by every request, replaced whole when keys change.
#[derive(Debug)]
pub struct LiveKeys {
    ring: RwLock<Arc<KeyRing>>,
}

impl LiveKeys {
    pub fn new(ring: Arc<KeyRing>) -> Self {
        Self {
            ring: RwLock::new(ring),
        }
    }

    /// The current ring (a cheap `Arc` clone; hold it for one request).
    pub fn ring(&self) -> Arc<KeyRing> {
        self.ring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether the ring must be rebuilt: other stored keys than the ring holds, or a
    /// published key's time to sign has come.
    pub fn is_stale(&self, stored_kids: &BTreeSet<&str>, now: DateTime<Utc>) -> bool {
        let ring = self.ring();
        ring.kids() != *stored_kids || ring.next_change.is_some_and(|t| t <= now)
    }

    pub fn replace(&self, ring: Arc<KeyRing>) {
        *self
            .ring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = ring;
    }
}
