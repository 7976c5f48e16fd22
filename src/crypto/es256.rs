//! ES256 signatures (RFC 7518 §3.4) made by ring's P-256 code, as a josekit `JwsSigner`, so
//! josekit still builds every JWT and only the signature itself comes from here.
//!
//! Why: every token response signs at least once (an access token; an ID token too in the
//! code and refresh flows), and under load signing was 40% of the server's CPU in the
//! `client_credentials` flow. josekit signs through OpenSSL 3, which looks the algorithm up
//! again on every signature (a property query under a shared lock); ring keeps the key's
//! precomputed form and signs in about 20 µs where josekit took 25 µs here. ring is already
//! in the build (rustls uses it). Verification stays with josekit.

use std::sync::Arc;

use josekit::{
    JoseError,
    jws::{ES256, JwsAlgorithm, JwsSigner},
};
use openssl::{
    bn::BigNumContext,
    ec::{EcKey, PointConversionForm},
};
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair},
};

use super::CryptoError;

/// R and S, 32 bytes each, concatenated: the JWS form (RFC 7518 §3.4), which is ring's
/// "fixed" encoding.
const SIGNATURE_LEN: usize = 64;

#[derive(Clone)]
pub struct Es256Signer {
    key: Arc<EcdsaKeyPair>,
    rng: SystemRandom,
}

impl std::fmt::Debug for Es256Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.write_str("Es256Signer")
    }
}

impl Es256Signer {
    /// From a P-256 private key in SEC1 DER (`ECPrivateKey`, RFC 5915), as josekit stores it.
    pub fn from_der(der: &[u8]) -> Result<Self, CryptoError> {
        let ec = EcKey::private_key_from_der(der)?;
        ec.check_key()?;
        let mut ctx = BigNumContext::new()?;
        let public =
            ec.public_key()
                .to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx)?;
        let private = ec.private_key().to_vec_padded(32)?;
        let rng = SystemRandom::new();
        // ring checks that the curve is P-256 and that the public key belongs to the private
        // one.
        let key = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &private,
            &public,
            &rng,
        )
        .map_err(|e| CryptoError::Invalid(format!("not a P-256 signing key: {e}")))?;
        Ok(Self {
            key: Arc::new(key),
            rng,
        })
    }
}

impl JwsSigner for Es256Signer {
    fn algorithm(&self) -> &dyn JwsAlgorithm {
        &ES256
    }

    fn key_id(&self) -> Option<&str> {
        // Every signature names its key in the header (`crypto::jwt::sign`).
        None
    }

    fn signature_len(&self) -> usize {
        SIGNATURE_LEN
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, JoseError> {
        // A fresh random nonce per signature (ring draws it from the OS and mixes in the
        // key and message, so a weak generator cannot leak the key).
        self.key
            .sign(&self.rng, message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| JoseError::InvalidSignature(anyhow::anyhow!("ES256 signing failed")))
    }

    fn box_clone(&self) -> Box<dyn JwsSigner> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use josekit::jws::{ES256, JwsVerifier};

    use super::*;

    #[test]
    fn its_signatures_verify_with_the_public_key_and_only_for_the_message() {
        let pair = ES256.generate_key_pair().unwrap();
        let signer = Es256Signer::from_der(&pair.to_der_private_key()).unwrap();
        let verifier = ES256.verifier_from_jwk(&pair.to_jwk_public_key()).unwrap();
        let sig = signer.sign(b"header.payload").unwrap();
        assert_eq!(sig.len(), signer.signature_len());
        verifier.verify(b"header.payload", &sig).unwrap();
        assert!(verifier.verify(b"header.payloaD", &sig).is_err());

        let other = ES256.generate_key_pair().unwrap();
        let other = ES256.verifier_from_jwk(&other.to_jwk_public_key()).unwrap();
        assert!(other.verify(b"header.payload", &sig).is_err());
        // ECDSA signatures are randomised: the same message never signs the same twice.
        assert_ne!(sig, signer.sign(b"header.payload").unwrap());
    }

    #[test]
    fn a_key_that_is_not_p256_is_refused() {
        let p384 = josekit::jws::ES384.generate_key_pair().unwrap();
        assert!(Es256Signer::from_der(&p384.to_der_private_key()).is_err());
        assert!(Es256Signer::from_der(b"not a key").is_err());
    }
}
