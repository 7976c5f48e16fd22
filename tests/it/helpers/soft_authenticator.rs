//! A software passkey authenticator for the HTTP tests: one P-256 key per credential,
//! "none" attestation, user verification performed. It answers the options the provider
//! sends exactly as a browser would pass them on, with hand-written CBOR (WebAuthn §6.1,
//! §6.5.1) so the provider's parsing is tested against bytes it did not produce.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use openssl::{
    bn::BigNumContext,
    ec::{EcGroup, EcKey},
    hash::MessageDigest,
    nid::Nid,
    pkey::{PKey, Private},
    sha::sha256,
    sign::Signer,
};
use serde_json::{Value, json};

pub struct SoftPasskey {
    key: PKey<Private>,
    cred_id: Vec<u8>,
    user_handle: Vec<u8>,
    rp_id: String,
    counter: u32,
    /// Backup eligible and backed up (a synced passkey) rather than device-bound.
    synced: bool,
    /// Whether the authenticator reports user verification (biometric or PIN).
    pub verify_user: bool,
}

fn cbor_head(major: u8, len: usize, out: &mut Vec<u8>) {
    let m = major << 5;
    match len {
        0..=23 => out.push(m | len as u8),
        24..=255 => out.extend([m | 24, len as u8]),
        _ => {
            out.push(m | 25);
            out.extend((len as u16).to_be_bytes());
        }
    }
}
fn cbor_int(v: i64, out: &mut Vec<u8>) {
    if v >= 0 {
        cbor_head(0, v as usize, out)
    } else {
        cbor_head(1, (-1 - v) as usize, out)
    }
}
fn cbor_bytes(b: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, b.len(), out);
    out.extend(b);
}
fn cbor_text(s: &str, out: &mut Vec<u8>) {
    cbor_head(3, s.len(), out);
    out.extend(s.as_bytes());
}

/// base64url of a JSON string field (the options carry binary as base64url).
fn b64_field(v: &Value) -> Vec<u8> {
    B64.decode(v.as_str().expect("base64url string"))
        .expect("base64url")
}

impl SoftPasskey {
    /// Creates a credential for `navigator.credentials.create` options (`publicKey`
    /// object); returns it and the JSON the browser would send back.
    pub fn create(options: &Value, origin: &str, synced: bool) -> (Self, Value) {
        let pk = &options["publicKey"];
        let rp_id = pk["rp"]["id"].as_str().expect("rp.id").to_owned();
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = EcKey::generate(&group).unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        let (mut x, mut y) = (
            openssl::bn::BigNum::new().unwrap(),
            openssl::bn::BigNum::new().unwrap(),
        );
        ec.public_key()
            .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
            .unwrap();
        let mut me = Self {
            key: PKey::from_ec_key(ec).unwrap(),
            cred_id: rand::random::<[u8; 16]>().to_vec(),
            user_handle: b64_field(&pk["user"]["id"]),
            rp_id,
            counter: 0,
            synced,
            verify_user: true,
        };
        let client_data = json!({
            "type": "webauthn.create",
            "challenge": pk["challenge"],
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string();
        let mut cose = vec![];
        cbor_head(5, 5, &mut cose);
        cbor_int(1, &mut cose);
        cbor_int(2, &mut cose); // kty: EC2
        cbor_int(3, &mut cose);
        cbor_int(-7, &mut cose); // alg: ES256
        cbor_int(-1, &mut cose);
        cbor_int(1, &mut cose); // crv: P-256
        cbor_int(-2, &mut cose);
        cbor_bytes(&x.to_vec_padded(32).unwrap(), &mut cose);
        cbor_int(-3, &mut cose);
        cbor_bytes(&y.to_vec_padded(32).unwrap(), &mut cose);
        // UP | UV | AT
        let mut auth_data = me.auth_data_head(0x45);
        auth_data.extend([0u8; 16]); // AAGUID
        auth_data.extend((me.cred_id.len() as u16).to_be_bytes());
        auth_data.extend(&me.cred_id);
        auth_data.extend(cose);
        let mut att = vec![];
        cbor_head(5, 3, &mut att);
        cbor_text("fmt", &mut att);
        cbor_text("none", &mut att);
        cbor_text("attStmt", &mut att);
        cbor_head(5, 0, &mut att);
        cbor_text("authData", &mut att);
        cbor_bytes(&auth_data, &mut att);
        me.counter += 1;
        let id = B64.encode(&me.cred_id);
        let response = json!({
            "id": id, "rawId": id, "type": "public-key", "extensions": {},
            "response": {
                "attestationObject": B64.encode(att),
                "clientDataJSON": B64.encode(client_data),
                "transports": ["internal"],
            },
        });
        (me, response)
    }

    /// The credential id, base64url (as the provider stores it).
    pub fn credential_id(&self) -> String {
        B64.encode(&self.cred_id)
    }

    /// Winds the signature counter back, as a cloned authenticator would show.
    pub fn rewind_counter(&mut self, by: u32) {
        self.counter -= by;
    }

    /// Answers as if this authenticator held `other`'s credential id with its own key.
    pub fn claim_id_of(&mut self, other: &SoftPasskey) {
        self.cred_id = other.cred_id.clone();
        self.user_handle = other.user_handle.clone();
    }

    fn auth_data_head(&self, mut flags: u8) -> Vec<u8> {
        if self.synced {
            flags |= 0x18; // BE | BS
        }
        if !self.verify_user {
            flags &= !0x04;
        }
        let mut a = sha256(self.rp_id.as_bytes()).to_vec();
        a.push(flags);
        a.extend(self.counter.to_be_bytes());
        a
    }

    /// Answers `navigator.credentials.get` options with a user-verified assertion.
    pub fn get(&mut self, options: &Value, origin: &str) -> Value {
        let pk = &options["publicKey"];
        let client_data = json!({
            "type": "webauthn.get",
            "challenge": pk["challenge"],
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string();
        self.counter += 1;
        let auth_data = self.auth_data_head(0x05); // UP | UV
        let mut signed = auth_data.clone();
        signed.extend(sha256(client_data.as_bytes()));
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key).unwrap();
        signer.update(&signed).unwrap();
        let signature = signer.sign_to_vec().unwrap();
        let id = B64.encode(&self.cred_id);
        json!({
            "id": id, "rawId": id, "type": "public-key", "extensions": {},
            "response": {
                "authenticatorData": B64.encode(auth_data),
                "clientDataJSON": B64.encode(client_data),
                "signature": B64.encode(signature),
                "userHandle": B64.encode(&self.user_handle),
            },
        })
    }
}
