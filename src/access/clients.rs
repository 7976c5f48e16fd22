//! Applications registered as OAuth 2.0 clients: their parsed form, and registration with
//! the validation RFC 6749 §2 and §3.1.2 ask for.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use secrecy::{ExposeSecret, SecretString};

use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    crypto::{
        keyring::Alg,
        opaque::{self, Purpose, TokenHasher},
    },
    store,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
        ]
        .into_iter()
        .find(|g| g.as_str() == s)
    }
}

/// Who may use an application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessPolicy {
    /// Any active account.
    Open,
    /// Only accounts holding an active grant for it.
    GrantRequired,
}

impl AccessPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessPolicy::Open => "open",
            AccessPolicy::GrantRequired => "grant_required",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [AccessPolicy::Open, AccessPolicy::GrantRequired]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// When an application asks for a second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaPolicy {
    /// Never: a password-only session is enough.
    None,
    /// When the account has enrolled a passkey or an authenticator app.
    Optional,
    /// Always; accounts without an enrolled factor get a code by e-mail.
    Required,
}

impl MfaPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            MfaPolicy::None => "none",
            MfaPolicy::Optional => "optional",
            MfaPolicy::Required => "required",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [MfaPolicy::None, MfaPolicy::Optional, MfaPolicy::Required]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// A registered application, parsed from its row.
#[derive(Clone, Debug)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub public: bool,
    pub third_party: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub id_token_alg: Alg,
    pub access_policy: AccessPolicy,
    /// Scopes beyond the user scopes this client may be issued (e.g. `ally:admin`).
    pub service_scopes: Vec<String>,
    /// Terms a person must accept before first use (SmartAuction), if any.
    pub terms: Option<String>,
    /// Its own second-factor policy; None follows `mfa.default_policy`.
    pub mfa: Option<MfaPolicy>,
    /// Where logout tokens are posted (Back-Channel Logout 1.0 §2.2).
    pub backchannel_logout_uri: Option<String>,
    /// What the signed-out page loads in an iframe (Front-Channel Logout 1.0 §2).
    pub frontchannel_logout_uri: Option<String>,
}

impl Client {
    pub fn mfa_policy(&self, default: MfaPolicy) -> MfaPolicy {
        self.mfa.unwrap_or(default)
    }

    /// Identifies the text of the terms: changed terms are a new version, asked again.
    pub fn terms_version(&self) -> Option<String> {
        use sha2::{Digest, Sha256};
        self.terms.as_ref().map(|t| {
            base64::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                &Sha256::digest(t.as_bytes())[..12],
            )
        })
    }

    pub fn from_model(m: entity::client::Model) -> Result<Self, String> {
        let strings = |v: &serde_json::Value| -> Result<Vec<String>, String> {
            serde_json::from_value(v.clone()).map_err(|e| format!("client {}: {e}", m.client_id))
        };
        let grant_types = strings(&m.grant_types)?
            .iter()
            .map(|g| GrantType::parse(g).ok_or_else(|| format!("unknown grant type {g}")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            redirect_uris: strings(&m.redirect_uris)?,
            post_logout_redirect_uris: strings(&m.post_logout_redirect_uris)?,
            grant_types,
            id_token_alg: Alg::parse(&m.id_token_alg).ok_or("unknown id token alg")?,
            access_policy: AccessPolicy::parse(&m.access_policy).ok_or("unknown access policy")?,
            service_scopes: m
                .service_scopes
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            terms: m.terms.filter(|t| !t.trim().is_empty()),
            mfa: match m.mfa_policy.as_deref() {
                None => None,
                Some(p) => Some(MfaPolicy::parse(p).ok_or("unknown mfa policy")?),
            },
            backchannel_logout_uri: m.backchannel_logout_uri,
            frontchannel_logout_uri: m.frontchannel_logout_uri,
            client_id: m.client_id,
            name: m.name,
            secret_hash: m.secret_hash,
            public: m.public,
            third_party: m.third_party,
        })
    }

    pub fn allows(&self, g: GrantType) -> bool {
        self.grant_types.contains(&g)
    }

    /// RFC 6749 §3.1.2.3 and OAuth 2.0 Security BCP (RFC 9700 §4.1.3): exact string match.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    pub fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }
}

pub async fn find(
    c: &impl ConnectionTrait,
    client_id: &str,
) -> Result<Option<Client>, anyhow::Error> {
    match store::clients::find(c, client_id).await? {
        Some(m) => Ok(Some(Client::from_model(m).map_err(anyhow::Error::msg)?)),
        None => Ok(None),
    }
}

#[derive(Debug)]
pub struct NewClient {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub id_token_alg: Alg,
    pub public: bool,
    pub third_party: bool,
    pub access_policy: AccessPolicy,
    pub service_scopes: Vec<String>,
    /// Terms to accept on first use.
    pub terms: Option<String>,
    /// None: the provider's default.
    pub mfa: Option<MfaPolicy>,
    pub logout: LogoutUris,
    /// A secret chosen by the operator; None generates one.
    pub secret: Option<SecretString>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("client id must be 1-64 characters of letters, digits, '.', '_' or '-'")]
    InvalidClientId,
    #[error("a client with id `{0}` already exists")]
    DuplicateClientId(String),
    #[error("name must not be empty")]
    EmptyName,
    #[error("{0}")]
    InvalidUri(String),
    #[error("an authorization_code client needs at least one --redirect-uri")]
    NoRedirectUri,
    #[error("a public client cannot use client_credentials or have a secret")]
    PublicWithSecretGrant,
    #[error("a refresh_token grant needs the authorization_code grant too")]
    RefreshWithoutCode,
    #[error("a client secret must be at least 32 characters (use a generated one)")]
    WeakSecret,
    #[error("unknown scope `{0}` (clients may be allowed: {known})", known = SERVICE_SCOPES.join(", "))]
    UnknownScope(String),
    #[error("no such application")]
    UnknownClient,
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// Checks a redirect URI at registration: absolute, no fragment (RFC 6749 §3.1.2), https or
/// loopback http (RFC 8252 §7.3, RFC 9700 §2.6), or a private-use scheme for native apps
/// (RFC 8252 §7.1, reverse-domain names contain a dot).
pub fn validate_redirect_uri(uri: &str) -> Result<(), String> {
    let u = url::Url::parse(uri)
        .map_err(|e| format!("redirect URI `{uri}` is not an absolute URI: {e}"))?;
    if u.fragment().is_some() {
        return Err(format!("redirect URI `{uri}` must not contain a fragment"));
    }
    match u.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
            if loopback {
                Ok(())
            } else {
                Err(format!(
                    "redirect URI `{uri}` must use https (plain http is allowed only for localhost/127.0.0.1)"
                ))
            }
        }
        s if s.contains('.') => Ok(()),
        _ => Err(format!(
            "redirect URI `{uri}` must use https, loopback http, or a private-use scheme like com.example.app"
        )),
    }
}

/// The logout endpoints an application registers.
#[derive(Debug, Clone, Default)]
pub struct LogoutUris {
    pub backchannel: Option<String>,
    pub frontchannel: Option<String>,
}

impl LogoutUris {
    /// BCL §2.2: an absolute http(s) URI without a fragment (https, or http on loopback).
    /// FCL §2: the front-channel URI's scheme, host and port must be those of a registered
    /// redirect URI, so it cannot point the signed-out page at somebody else's site.
    pub fn validate(&self, redirect_uris: &[String]) -> Result<(), String> {
        for (what, uri) in [
            ("back-channel", &self.backchannel),
            ("front-channel", &self.frontchannel),
        ] {
            let Some(uri) = uri else { continue };
            validate_redirect_uri(uri)
                .map_err(|e| e.replace("redirect URI", &format!("{what} logout URI")))?;
            if !uri.starts_with("https://") && !uri.starts_with("http://") {
                return Err(format!("{what} logout URI `{uri}` must be an http(s) URL"));
            }
        }
        if let Some(uri) = &self.frontchannel {
            let origin = |u: &str| url::Url::parse(u).ok().map(|u| u.origin());
            let o = origin(uri);
            if !redirect_uris.iter().any(|r| origin(r) == o) {
                return Err(format!(
                    "front-channel logout URI `{uri}` must have the scheme, host and port of a redirect URI"
                ));
            }
        }
        Ok(())
    }
}

/// Scopes an application may be allowed beyond the user scopes: `ally:admin` authorizes the
/// admin API (for a person's token, only together with a staff role).
pub const SERVICE_SCOPES: &[&str] = &[crate::oidc::scope::ADMIN];

fn valid_client_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Registers a client and returns the secret to show once (None for a public client or when
/// the operator supplied one). Only an HMAC of the secret is stored.
pub async fn register(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    actor: Actor<'_>,
    new: NewClient,
) -> Result<Option<String>, RegisterError> {
    if !valid_client_id(&new.client_id) {
        return Err(RegisterError::InvalidClientId);
    }
    if new.name.trim().is_empty() {
        return Err(RegisterError::EmptyName);
    }
    for uri in new
        .redirect_uris
        .iter()
        .chain(&new.post_logout_redirect_uris)
    {
        validate_redirect_uri(uri).map_err(RegisterError::InvalidUri)?;
    }
    if new.grant_types.contains(&GrantType::AuthorizationCode) && new.redirect_uris.is_empty() {
        return Err(RegisterError::NoRedirectUri);
    }
    new.logout
        .validate(&new.redirect_uris)
        .map_err(RegisterError::InvalidUri)?;
    if new.grant_types.contains(&GrantType::RefreshToken)
        && !new.grant_types.contains(&GrantType::AuthorizationCode)
    {
        return Err(RegisterError::RefreshWithoutCode);
    }
    if new.public
        && (new.grant_types.contains(&GrantType::ClientCredentials) || new.secret.is_some())
    {
        return Err(RegisterError::PublicWithSecretGrant);
    }
    if let Some(s) = &new.secret
        && s.expose_secret().len() < 32
    {
        return Err(RegisterError::WeakSecret);
    }
    if let Some(unknown) = new
        .service_scopes
        .iter()
        .find(|s| !SERVICE_SCOPES.contains(&s.as_str()))
    {
        return Err(RegisterError::UnknownScope(unknown.clone()));
    }
    if store::clients::find(c, &new.client_id).await?.is_some() {
        return Err(RegisterError::DuplicateClientId(new.client_id));
    }
    let (secret_hash, shown) = if new.public {
        (None, None)
    } else {
        match new.secret {
            Some(s) => (
                Some(hasher.hash(Purpose::ClientSecret, s.expose_secret())),
                None,
            ),
            None => {
                let s = opaque::generate();
                (Some(hasher.hash(Purpose::ClientSecret, &s)), Some(s))
            }
        }
    };
    let json = |v: Vec<String>| serde_json::Value::from(v);
    store::clients::insert(
        c,
        entity::client::Model {
            client_id: new.client_id.clone(),
            name: new.name.trim().to_owned(),
            secret_hash,
            public: new.public,
            third_party: new.third_party,
            redirect_uris: json(new.redirect_uris),
            post_logout_redirect_uris: json(new.post_logout_redirect_uris),
            grant_types: json(
                new.grant_types
                    .iter()
                    .map(|g| g.as_str().to_owned())
                    .collect(),
            ),
            id_token_alg: new.id_token_alg.as_str().to_owned(),
            access_policy: new.access_policy.as_str().to_owned(),
            service_scopes: new.service_scopes.join(" "),
            terms: new.terms.clone().filter(|t| !t.trim().is_empty()),
            mfa_policy: new.mfa.map(|p| p.as_str().to_owned()),
            backchannel_logout_uri: new.logout.backchannel.clone(),
            frontchannel_logout_uri: new.logout.frontchannel.clone(),
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::ClientCreated,
        actor,
        Some(&new.client_id),
        serde_json::json!({ "public": new.public, "access": new.access_policy.as_str() }),
    )
    .await?;
    Ok(shown)
}

/// What an administrator may change about a client.
#[derive(Debug, Clone)]
pub struct ClientChanges {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub access_policy: AccessPolicy,
    pub mfa: Option<MfaPolicy>,
    pub logout: LogoutUris,
}

pub async fn update(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    actor: Actor<'_>,
    client_id: &str,
    ch: ClientChanges,
) -> Result<(), RegisterError> {
    let Some(mut m) = store::clients::find(c, client_id).await? else {
        return Err(RegisterError::UnknownClient);
    };
    if ch.name.trim().is_empty() {
        return Err(RegisterError::EmptyName);
    }
    for uri in ch.redirect_uris.iter().chain(&ch.post_logout_redirect_uris) {
        validate_redirect_uri(uri).map_err(RegisterError::InvalidUri)?;
    }
    let client =
        Client::from_model(m.clone()).map_err(|e| RegisterError::Db(sea_orm::DbErr::Custom(e)))?;
    if client.allows(GrantType::AuthorizationCode) && ch.redirect_uris.is_empty() {
        return Err(RegisterError::NoRedirectUri);
    }
    ch.logout
        .validate(&ch.redirect_uris)
        .map_err(RegisterError::InvalidUri)?;
    m.name = ch.name.trim().to_owned();
    m.redirect_uris = serde_json::Value::from(ch.redirect_uris.clone());
    m.post_logout_redirect_uris = serde_json::Value::from(ch.post_logout_redirect_uris.clone());
    m.access_policy = ch.access_policy.as_str().to_owned();
    m.mfa_policy = ch.mfa.map(|p| p.as_str().to_owned());
    m.backchannel_logout_uri = ch.logout.backchannel.clone();
    m.frontchannel_logout_uri = ch.logout.frontchannel.clone();
    m.updated_at = now;
    store::clients::update(c, m).await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::ClientUpdated,
        actor,
        Some(client_id),
        serde_json::json!({
            "redirect_uris": ch.redirect_uris,
            "post_logout_redirect_uris": ch.post_logout_redirect_uris,
            "access": ch.access_policy.as_str(),
            "mfa": ch.mfa.map(MfaPolicy::as_str),
            "backchannel_logout_uri": ch.logout.backchannel,
            "frontchannel_logout_uri": ch.logout.frontchannel,
        }),
    )
    .await?;
    Ok(())
}

/// Replaces a confidential client's secret; returns the new one, to be shown once.
pub async fn rotate_secret(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    actor: Actor<'_>,
    client_id: &str,
) -> Result<String, RegisterError> {
    let Some(mut m) = store::clients::find(c, client_id).await? else {
        return Err(RegisterError::UnknownClient);
    };
    if m.public {
        return Err(RegisterError::PublicWithSecretGrant);
    }
    let secret = opaque::generate();
    m.secret_hash = Some(hasher.hash(Purpose::ClientSecret, &secret));
    m.updated_at = now;
    store::clients::update(c, m).await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::ClientSecretRotated,
        actor,
        Some(client_id),
        serde_json::json!({}),
    )
    .await?;
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uri_rules() {
        assert!(validate_redirect_uri("https://app.example.com/cb").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1:9001/callback").is_ok());
        assert!(validate_redirect_uri("http://localhost/cb").is_ok());
        assert!(validate_redirect_uri("com.example.app:/cb").is_ok());
        assert!(validate_redirect_uri("http://app.example.com/cb").is_err());
        assert!(validate_redirect_uri("https://app.example.com/cb#frag").is_err());
        assert!(validate_redirect_uri("/relative").is_err());
        assert!(validate_redirect_uri("javascript:alert(1)").is_err());
    }

    #[test]
    fn client_ids() {
        assert!(valid_client_id("card-portal"));
        assert!(!valid_client_id(""));
        assert!(!valid_client_id("has space"));
        assert!(!valid_client_id(&"x".repeat(65)));
    }
}
