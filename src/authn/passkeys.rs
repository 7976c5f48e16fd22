//! Passkeys (WebAuthn Level 3 discoverable credentials, via webauthn-rs). The relying-party
//! id is the issuer's host and the only accepted origin is the issuer's origin. Ceremony
//! state lives server-side and is single-use (`store::passkeys::take_ceremony`). User
//! verification is always required, so a passkey alone is multi-factor: something you have
//! (the authenticator) and something you are or know (its biometric or PIN), RFC 8176.
//!
//! Domain code: no HTTP types.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid,
    Webauthn, WebauthnBuilder,
};

use crate::store;

/// How long a ceremony may take: long enough to find a security key.
const CEREMONY_MINUTES: i64 = 5;
const REGISTER: &str = "register";
const AUTHENTICATE: &str = "authenticate";

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The ceremony expired, was used, or never existed.
    #[error("this passkey request expired; try again")]
    Expired,
    /// The authenticator's answer did not verify (wrong origin, challenge, signature, no
    /// user verification, unknown credential...). Deliberately one error to the outside.
    #[error("the passkey could not be verified")]
    Rejected,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbErr> for PasskeyError {
    fn from(e: DbErr) -> Self {
        PasskeyError::Internal(e.into())
    }
}

/// The WebAuthn relying party of this provider.
pub struct RelyingParty {
    webauthn: Webauthn,
}

impl RelyingParty {
    /// From the issuer URL: RP id = its host, origin = its scheme://host:port. `None` when
    /// the host is an IP address: WebAuthn needs a domain as RP id (§5.1.3 "valid domain
    /// string"), and browsers refuse IP addresses, so passkeys are then off.
    pub fn for_issuer(issuer: &str, name: &str) -> anyhow::Result<Option<Self>> {
        let url = Url::parse(issuer)?;
        let Some(host) = url.domain().map(str::to_owned) else {
            return Ok(None);
        };
        let mut origin = url.clone();
        origin.set_path("");
        origin.set_query(None);
        let webauthn = WebauthnBuilder::new(&host, &origin)?
            .rp_name(name)
            .build()?;
        Ok(Some(Self { webauthn }))
    }
}

/// A passkey as the settings page lists it.
pub type StoredPasskey = entity::passkey::Model;

fn account_uuid(account_id: &str) -> Result<Uuid, PasskeyError> {
    Uuid::parse_str(account_id).map_err(|e| PasskeyError::Internal(e.into()))
}

async fn save_ceremony(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    kind: &str,
    account_id: Option<&str>,
    state: String,
) -> Result<String, DbErr> {
    let id = crate::crypto::opaque::generate();
    store::passkeys::insert_ceremony(
        c,
        entity::webauthn_ceremony::Model {
            id: id.clone(),
            kind: kind.to_owned(),
            account_id: account_id.map(str::to_owned),
            state,
            created_at: now,
            expires_at: now + Duration::minutes(CEREMONY_MINUTES),
            used_at: None,
        },
    )
    .await?;
    Ok(id)
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, PasskeyError> {
    serde_json::to_string(v).map_err(|e| PasskeyError::Internal(e.into()))
}

/// Starts adding a passkey to an account: the options for `navigator.credentials.create`
/// (a discoverable credential, user verification required) and the ceremony id.
pub async fn start_registration(
    c: &impl ConnectionTrait,
    rp: &RelyingParty,
    now: DateTime<Utc>,
    account: &entity::account::Model,
) -> Result<(serde_json::Value, String), PasskeyError> {
    let existing = store::passkeys::of_account(c, &account.id).await?;
    let exclude = existing
        .iter()
        .filter_map(|p| serde_json::from_str::<Passkey>(&p.credential).ok())
        .map(|p| p.cred_id().clone())
        .collect::<Vec<_>>();
    let display = crate::accounts::users::greeting_name(account);
    let (ccr, state): (CreationChallengeResponse, _) = rp
        .webauthn
        .start_passkey_registration(
            account_uuid(&account.id)?,
            &account.username,
            &display,
            Some(exclude),
        )
        .map_err(|e| PasskeyError::Internal(anyhow::anyhow!("webauthn: {e}")))?;
    // Discoverable, so that sign-in needs no user ID (webauthn-rs asks for it only as
    // optional; WebAuthn §5.4.4 `residentKey: "required"`).
    let mut ccr = serde_json::to_value(&ccr).map_err(|e| PasskeyError::Internal(e.into()))?;
    if let Some(sel) = ccr
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(|v| v.as_object_mut())
    {
        sel.insert("residentKey".into(), "required".into());
        sel.insert("requireResidentKey".into(), true.into());
    }
    let id = save_ceremony(c, now, REGISTER, Some(&account.id), to_json(&state)?).await?;
    Ok((ccr, id))
}

/// Finishes adding a passkey; returns its row.
pub async fn finish_registration(
    c: &impl ConnectionTrait,
    rp: &RelyingParty,
    now: DateTime<Utc>,
    account_id: &str,
    ceremony_id: &str,
    response: &RegisterPublicKeyCredential,
    name: &str,
) -> Result<StoredPasskey, PasskeyError> {
    let ceremony = store::passkeys::take_ceremony(c, ceremony_id, REGISTER, now)
        .await?
        .filter(|m| m.account_id.as_deref() == Some(account_id))
        .ok_or(PasskeyError::Expired)?;
    let state: PasskeyRegistration =
        serde_json::from_str(&ceremony.state).map_err(|e| PasskeyError::Internal(e.into()))?;
    let passkey = rp
        .webauthn
        .finish_passkey_registration(response, &state)
        .map_err(|_| PasskeyError::Rejected)?;
    let credential_id = base64url(passkey.cred_id().as_ref());
    if store::passkeys::find_by_credential_id(c, &credential_id)
        .await?
        .is_some()
    {
        return Err(PasskeyError::Rejected);
    }
    let name = name.trim();
    let row = StoredPasskey {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account_id.to_owned(),
        credential_id,
        name: if name.is_empty() {
            "Passkey".to_owned()
        } else {
            name.chars().take(64).collect()
        },
        credential: to_json(&passkey)?,
        created_at: now,
        last_used_at: None,
    };
    store::passkeys::insert(c, row.clone()).await?;
    Ok(row)
}

/// Starts a username-less sign-in: options for `navigator.credentials.get` (also usable
/// with conditional mediation) and the ceremony id.
pub async fn start_authentication(
    c: &impl ConnectionTrait,
    rp: &RelyingParty,
    now: DateTime<Utc>,
) -> Result<(RequestChallengeResponse, String), PasskeyError> {
    let (rcr, state) = rp
        .webauthn
        .start_discoverable_authentication()
        .map_err(|e| PasskeyError::Internal(anyhow::anyhow!("webauthn: {e}")))?;
    let id = save_ceremony(c, now, AUTHENTICATE, None, to_json(&state)?).await?;
    Ok((rcr, id))
}

/// Who signed in with a passkey, and how (RFC 8176 `amr`).
#[derive(Debug)]
pub struct PasskeySignIn {
    pub account_id: String,
    pub amr: Vec<String>,
}

/// Finishes a passkey sign-in. `expected_account` is set when the passkey is the second
/// factor of a pending sign-in: then it must belong to that account.
pub async fn finish_authentication(
    c: &impl ConnectionTrait,
    rp: &RelyingParty,
    now: DateTime<Utc>,
    ceremony_id: &str,
    response: &PublicKeyCredential,
    expected_account: Option<&str>,
) -> Result<PasskeySignIn, PasskeyError> {
    let ceremony = store::passkeys::take_ceremony(c, ceremony_id, AUTHENTICATE, now)
        .await?
        .ok_or(PasskeyError::Expired)?;
    let state: DiscoverableAuthentication =
        serde_json::from_str(&ceremony.state).map_err(|e| PasskeyError::Internal(e.into()))?;
    let (user, cred_id) = rp
        .webauthn
        .identify_discoverable_authentication(response)
        .map_err(|_| PasskeyError::Rejected)?;
    let Some(row) = store::passkeys::find_by_credential_id(c, &base64url(cred_id)).await? else {
        return Err(PasskeyError::Rejected);
    };
    // The user handle the authenticator returned must be the passkey's own account.
    if account_uuid(&row.account_id)? != user
        || expected_account.is_some_and(|a| a != row.account_id)
    {
        return Err(PasskeyError::Rejected);
    }
    let mut passkey: Passkey =
        serde_json::from_str(&row.credential).map_err(|e| PasskeyError::Internal(e.into()))?;
    let result = rp
        .webauthn
        .finish_discoverable_authentication_v2(response, state, &passkey)
        .map_err(|_| PasskeyError::Rejected)?;
    if !result.user_verified() {
        return Err(PasskeyError::Rejected);
    }
    // webauthn-rs has already refused a signature counter that did not move past the
    // stored one (a possibly cloned authenticator, WebAuthn §7.2 step 22). Store the new
    // counter and backup state.
    passkey.update_credential(&result);
    store::passkeys::used(c, &row.id, to_json(&passkey)?, now).await?;
    // A synced (backup-eligible) passkey is a software key; a device-bound one hardware.
    let key = if result.backup_eligible() {
        "swk"
    } else {
        "hwk"
    };
    Ok(PasskeySignIn {
        account_id: row.account_id,
        amr: vec![key.to_owned(), "user".to_owned(), "mfa".to_owned()],
    })
}

/// RFC 8176 method of a stored passkey: a synced (backup-eligible) passkey is a software
/// key, a device-bound one a hardware key.
pub fn key_amr(row: &StoredPasskey) -> &'static str {
    let synced = serde_json::from_str::<serde_json::Value>(&row.credential)
        .ok()
        .and_then(|v| v.pointer("/cred/backup_eligible").and_then(|b| b.as_bool()))
        .unwrap_or(false);
    if synced { "swk" } else { "hwk" }
}

fn base64url(bytes: &[u8]) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD.encode(bytes)
}
