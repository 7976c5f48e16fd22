//! One demo relying party: a small web application that signs people in with ally-idp through
//! the openidconnect crate (discovery, authorization code with PKCE and nonce, ID-token
//! validation against the JWKS, UserInfo, refresh before expiry, RP-initiated logout) and
//! takes OpenID Connect Back-Channel Logout 1.0 requests, dropping the sessions they name.
//!
//! The same file is compiled into the integration tests (`#[path]`), so the browser test
//! drives exactly what `cargo run --example demo_apps` runs.

#![allow(dead_code)]

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Form, Router,
    extract::{Query, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_extra::extract::{
    CookieJar,
    cookie::{Cookie, SameSite},
};
use openidconnect::{
    AccessToken, AdditionalProviderMetadata, AuthenticationFlow, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata, RedirectUrl,
    RefreshToken, Scope, TokenResponse,
    core::{
        CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod,
        CoreGrantType, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
        CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType,
        CoreSubjectIdentifierType,
    },
};
use serde::{Deserialize, Serialize};

/// What one demo application needs to know.
#[derive(Clone, Debug)]
pub struct RpConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub name: String,
    /// Where this application is reached, e.g. `http://127.0.0.1:9001`.
    pub base_url: String,
    /// The other demo applications (name, base URL), linked from the page.
    pub others: Vec<(String, String)>,
}

/// The discovery fields CoreProviderMetadata does not model.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ExtraMetadata {
    pub end_session_endpoint: String,
    #[serde(default)]
    pub backchannel_logout_supported: bool,
    #[serde(default)]
    pub backchannel_logout_session_supported: bool,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

pub type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

type Oidc = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A signed-in person, as this application remembers them.
#[derive(Clone, Debug)]
struct Signed {
    sub: String,
    /// The provider's session id (`sid`): what a logout token names.
    idp_sid: Option<String>,
    display_name: String,
    username: Option<String>,
    email: Option<String>,
    roles: Vec<String>,
    apps: Vec<String>,
    amr: Vec<String>,
    id_token: String,
    access_token: AccessToken,
    access_expires_at: std::time::Instant,
    refresh_token: Option<RefreshToken>,
    refreshed: u32,
    csrf: String,
}

struct Pending {
    verifier: PkceCodeVerifier,
    nonce: Nonce,
}

struct Rp {
    cfg: RpConfig,
    oidc: Oidc,
    end_session: String,
    jwks_uri: String,
    http: openidconnect::reqwest::Client,
    keys: Mutex<Vec<josekit::jwk::Jwk>>,
    sessions: Mutex<HashMap<String, Signed>>,
    pending: Mutex<HashMap<String, Pending>>,
    seen_jti: Mutex<HashSet<String>>,
    cookie: String,
}

/// Refresh when the access token has less than this left.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Discovers the provider (retrying while it starts) and builds the application.
pub async fn app(cfg: RpConfig) -> anyhow::Result<Router> {
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()?;
    let issuer = IssuerUrl::new(cfg.issuer.clone())?;
    let mut tries = 0;
    let meta = loop {
        match Metadata::discover_async(issuer.clone(), &http).await {
            Ok(m) => break m,
            Err(e) if tries < 30 => {
                tries += 1;
                tracing_note(&format!("{}: waiting for the provider ({e})", cfg.name));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(anyhow::anyhow!("discovery of {} failed: {e}", cfg.issuer)),
        }
    };
    let extra = meta.additional_metadata().clone();
    let jwks_uri = meta.jwks_uri().url().to_string();
    let keys = to_jose_keys(&serde_json::to_value(meta.jwks())?)?;
    let oidc = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(cfg.client_id.clone()),
        Some(ClientSecret::new(cfg.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(format!("{}/callback", cfg.base_url))?);
    let rp = Arc::new(Rp {
        cookie: format!("demo_{}", cfg.client_id.replace('-', "_")),
        oidc,
        end_session: extra.end_session_endpoint,
        jwks_uri,
        http,
        keys: Mutex::new(keys),
        sessions: Mutex::new(HashMap::new()),
        pending: Mutex::new(HashMap::new()),
        seen_jti: Mutex::new(HashSet::new()),
        cfg,
    });
    Ok(Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", post(logout))
        .route("/backchannel-logout", post(backchannel_logout))
        .with_state(rp))
}

fn tracing_note(s: &str) {
    eprintln!("{s}");
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn session_cookie(rp: &Rp, value: String) -> Cookie<'static> {
    let mut c = Cookie::new(rp.cookie.clone(), value);
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_path("/");
    c
}

fn current(rp: &Rp, jar: &CookieJar) -> Option<(String, Signed)> {
    let id = jar.get(&rp.cookie)?.value().to_owned();
    let s = lock(&rp.sessions).get(&id).cloned()?;
    Some((id, s))
}

async fn home(State(rp): State<Arc<Rp>>, jar: CookieJar) -> Response {
    let Some((id, mut s)) = current(&rp, &jar) else {
        return page(&rp, StatusCode::OK, &signed_out_body(&rp, None));
    };
    // Refresh before expiry (OIDC Core §12): a refused refresh means the provider ended
    // the session (or the access), so this application signs the person out too.
    if s.access_expires_at <= std::time::Instant::now() + REFRESH_MARGIN {
        match refresh(&rp, &s).await {
            Ok(fresh) => {
                lock(&rp.sessions).insert(id.clone(), fresh.clone());
                s = fresh;
            }
            Err(e) => {
                lock(&rp.sessions).remove(&id);
                let why = format!("Your sign-in ended ({e}).");
                return page(&rp, StatusCode::OK, &signed_out_body(&rp, Some(&why)));
            }
        }
    }
    page(&rp, StatusCode::OK, &signed_in_body(&rp, &s))
}

async fn refresh(rp: &Rp, s: &Signed) -> Result<Signed, String> {
    let Some(rt) = &s.refresh_token else {
        return Err("no refresh token".into());
    };
    let resp = rp
        .oidc
        .exchange_refresh_token(rt)
        .map_err(|e| e.to_string())?
        .request_async(&rp.http)
        .await
        .map_err(|_| "the provider refused to refresh it".to_string())?;
    let mut fresh = s.clone();
    // OIDC Core §12.2: a refreshed ID token names the same person (and carries no nonce).
    if let Some(idt) = resp.id_token() {
        let claims = idt
            .claims(&rp.oidc.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
            .map_err(|e| e.to_string())?;
        if claims.subject().as_str() != s.sub {
            return Err("the refreshed ID token is for someone else".into());
        }
        fresh.id_token = idt.to_string();
        let extra = extra_claims(&fresh.id_token);
        fresh.roles = extra.roles;
        fresh.apps = extra.ally_apps;
    }
    fresh.access_token = resp.access_token().clone();
    fresh.access_expires_at = expiry(resp.expires_in());
    fresh.refresh_token = resp.refresh_token().cloned().or(fresh.refresh_token);
    fresh.refreshed += 1;
    Ok(fresh)
}

fn expiry(expires_in: Option<Duration>) -> std::time::Instant {
    std::time::Instant::now() + expires_in.unwrap_or(Duration::from_secs(300))
}

async fn login(State(rp): State<Arc<Rp>>, jar: CookieJar) -> Response {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .oidc
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    lock(&rp.pending).insert(state.secret().clone(), Pending { verifier, nonce });
    // The state goes in a cookie too: the callback must come back to this browser.
    let mut pending = Cookie::new(format!("{}_login", rp.cookie), state.secret().clone());
    pending.set_http_only(true);
    pending.set_same_site(SameSite::Lax);
    pending.set_path("/");
    (jar.add(pending), Redirect::to(url.as_str())).into_response()
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(rp): State<Arc<Rp>>,
    jar: CookieJar,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let login_cookie = format!("{}_login", rp.cookie);
    let expected = jar.get(&login_cookie).map(|c| c.value().to_owned());
    let jar = jar.remove(Cookie::build(login_cookie).path("/"));
    let state = q.state.unwrap_or_default();
    if expected.as_deref() != Some(state.as_str()) {
        return error_page(&rp, "This sign-in did not start here. Please try again.");
    }
    let Some(pending) = lock(&rp.pending).remove(&state) else {
        return error_page(&rp, "This sign-in has already been used. Please try again.");
    };
    if let Some(e) = q.error {
        let text = if e == "access_denied" {
            format!(
                "Your user ID does not have access to {}. Ask your dealership's administrator to request it.",
                rp.cfg.name
            )
        } else {
            format!(
                "Sign-in failed: {e} {}",
                q.error_description.unwrap_or_default()
            )
        };
        return (jar, error_page(&rp, &text)).into_response();
    }
    let Some(code) = q.code else {
        return error_page(&rp, "The provider sent no authorization code.");
    };
    match finish_sign_in(&rp, code, pending).await {
        Ok(signed) => {
            let id = uuid::Uuid::new_v4().to_string();
            lock(&rp.sessions).insert(id.clone(), signed);
            (jar.add(session_cookie(&rp, id)), Redirect::to("/")).into_response()
        }
        Err(e) => (jar, error_page(&rp, &format!("Sign-in failed: {e}"))).into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
struct ExtraClaims {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    ally_apps: Vec<String>,
    sid: Option<String>,
    #[serde(default)]
    amr: Vec<String>,
}

/// The claims the core ID-token type does not model, read from a token openidconnect has
/// already verified.
fn extra_claims(id_token: &str) -> ExtraClaims {
    use base64::Engine;
    id_token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

async fn finish_sign_in(rp: &Rp, code: String, p: Pending) -> Result<Signed, String> {
    let resp = rp
        .oidc
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| e.to_string())?
        .set_pkce_verifier(p.verifier)
        .request_async(&rp.http)
        .await
        .map_err(|e| format!("the code exchange failed ({e})"))?;
    let idt = resp.id_token().ok_or("no ID token")?;
    // OIDC Core §3.1.3.7: signature against the JWKS, iss, aud, exp, nonce.
    let claims = idt
        .claims(&rp.oidc.id_token_verifier(), &p.nonce)
        .map_err(|e| format!("the ID token is not valid ({e})"))?
        .clone();
    let id_token = idt.to_string();
    let extra = extra_claims(&id_token);
    let userinfo: openidconnect::core::CoreUserInfoClaims = rp
        .oidc
        .user_info(resp.access_token().clone(), Some(claims.subject().clone()))
        .map_err(|e| e.to_string())?
        .request_async(&rp.http)
        .await
        .map_err(|e| format!("UserInfo failed ({e})"))?;
    let name = userinfo
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.to_string());
    let username = userinfo.preferred_username().map(|u| u.to_string());
    Ok(Signed {
        sub: claims.subject().to_string(),
        idp_sid: extra.sid,
        display_name: name.or_else(|| username.clone()).unwrap_or_default(),
        username,
        email: userinfo.email().map(|e| e.to_string()),
        roles: extra.roles,
        apps: extra.ally_apps,
        amr: extra.amr,
        id_token,
        access_token: resp.access_token().clone(),
        access_expires_at: expiry(resp.expires_in()),
        refresh_token: resp.refresh_token().cloned(),
        refreshed: 0,
        csrf: uuid::Uuid::new_v4().to_string(),
    })
}

#[derive(Debug, Deserialize)]
struct LogoutForm {
    csrf: String,
}

/// RP-Initiated Logout 1.0 §2: forget the local session, then send the browser to the
/// provider with the ID token as proof and a registered post-logout redirect URI.
async fn logout(State(rp): State<Arc<Rp>>, jar: CookieJar, Form(f): Form<LogoutForm>) -> Response {
    let Some((id, s)) = current(&rp, &jar) else {
        return Redirect::to("/").into_response();
    };
    if f.csrf != s.csrf {
        return error_page(&rp, "That sign-out form expired. Please try again.");
    }
    lock(&rp.sessions).remove(&id);
    let mut url = match url::Url::parse(&rp.end_session) {
        Ok(u) => u,
        Err(_) => return error_page(&rp, "The provider has no usable sign-out address."),
    };
    url.query_pairs_mut()
        .append_pair("id_token_hint", &s.id_token)
        .append_pair("client_id", &rp.cfg.client_id)
        .append_pair("post_logout_redirect_uri", &format!("{}/", rp.cfg.base_url));
    let jar = jar.remove(Cookie::build(rp.cookie.clone()).path("/"));
    (jar, Redirect::to(url.as_str())).into_response()
}

#[derive(Debug, Deserialize)]
struct BackchannelForm {
    logout_token: Option<String>,
}

/// Back-Channel Logout 1.0 §2.5-§2.8: validate the logout token and drop every local
/// session it names; 200 on success, 400 with an OAuth-style error otherwise.
async fn backchannel_logout(State(rp): State<Arc<Rp>>, Form(f): Form<BackchannelForm>) -> Response {
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    let Some(token) = f.logout_token else {
        return (
            StatusCode::BAD_REQUEST,
            no_store,
            bad("logout_token is missing"),
        )
            .into_response();
    };
    let now = chrono_now();
    let mut claims = {
        let keys = lock(&rp.keys).clone();
        validate_logout_token(&token, &keys, &rp.cfg.issuer, &rp.cfg.client_id, now)
    };
    // A key we have not seen: the provider may have rotated; fetch the JWKS once more.
    if matches!(&claims, Err(e) if e.starts_with("unknown key"))
        && let Ok(keys) = fetch_jwks(&rp).await
    {
        *lock(&rp.keys) = keys.clone();
        claims = validate_logout_token(&token, &keys, &rp.cfg.issuer, &rp.cfg.client_id, now);
    }
    let claims = match claims {
        Ok(c) => c,
        Err(e) => return (StatusCode::BAD_REQUEST, no_store, bad(&e)).into_response(),
    };
    // §2.6 step 10 (optional): refuse a replayed token.
    if !lock(&rp.seen_jti).insert(claims.jti.clone()) {
        return (
            StatusCode::BAD_REQUEST,
            no_store,
            bad("the logout token was already used"),
        )
            .into_response();
    }
    let mut sessions = lock(&rp.sessions);
    sessions.retain(|_, s| !claims.names(s.idp_sid.as_deref(), &s.sub));
    (StatusCode::OK, no_store).into_response()
}

fn bad(description: &str) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "error": "invalid_request", "error_description": description }))
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn fetch_jwks(rp: &Rp) -> Result<Vec<josekit::jwk::Jwk>, String> {
    let v: serde_json::Value = rp
        .http
        .get(&rp.jwks_uri)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    to_jose_keys(&v).map_err(|e| e.to_string())
}

/// The provider's JWKS as josekit keys.
pub fn to_jose_keys(jwks: &serde_json::Value) -> anyhow::Result<Vec<josekit::jwk::Jwk>> {
    let mut out = Vec::new();
    for k in jwks["keys"].as_array().into_iter().flatten() {
        if let serde_json::Value::Object(map) = k {
            out.push(josekit::jwk::Jwk::from_map(map.clone())?);
        }
    }
    Ok(out)
}

/// The claims of a logout token that passed every check.
#[derive(Debug, Clone)]
pub struct LogoutClaims {
    pub sub: Option<String>,
    pub sid: Option<String>,
    pub jti: String,
}

impl LogoutClaims {
    /// Whether a local session (provider session id, subject) is one this token ends:
    /// the named provider session, or with no `sid` every session of the subject (§2.4).
    pub fn names(&self, idp_sid: Option<&str>, sub: &str) -> bool {
        match (&self.sid, &self.sub) {
            (Some(sid), Some(s)) => idp_sid == Some(sid.as_str()) && s == sub,
            (Some(sid), None) => idp_sid == Some(sid.as_str()),
            (None, Some(s)) => s == sub,
            (None, None) => false,
        }
    }
}

/// Back-Channel Logout 1.0 §2.6, the checks a relying party makes: signature by a key of
/// the provider (the algorithm bound to that key), `iss`, `aud`, `iat`, `exp`, `jti`,
/// `sub` and/or `sid`, the `events` member, no `nonce`, and the `logout+jwt` type.
pub fn validate_logout_token(
    token: &str,
    keys: &[josekit::jwk::Jwk],
    issuer: &str,
    client_id: &str,
    now: i64,
) -> Result<LogoutClaims, String> {
    use josekit::jws::{ES256, EdDSA, JwsVerifier, RS256};
    let header = josekit::jwt::decode_header(token).map_err(|e| format!("not a JWT: {e}"))?;
    let kid = header
        .claim("kid")
        .and_then(|v| v.as_str())
        .ok_or("the token names no key")?
        .to_owned();
    if header.claim("typ").and_then(|v| v.as_str()) != Some("logout+jwt") {
        return Err("the token is not typed logout+jwt".into());
    }
    let jwk = keys
        .iter()
        .find(|k| k.key_id() == Some(kid.as_str()))
        .ok_or_else(|| format!("unknown key {kid}"))?;
    let verifier: Box<dyn JwsVerifier> = match jwk.algorithm() {
        Some("ES256") => Box::new(ES256.verifier_from_jwk(jwk).map_err(|e| e.to_string())?),
        Some("RS256") => Box::new(RS256.verifier_from_jwk(jwk).map_err(|e| e.to_string())?),
        Some("EdDSA") => Box::new(EdDSA.verifier_from_jwk(jwk).map_err(|e| e.to_string())?),
        other => return Err(format!("unsupported key algorithm {other:?}")),
    };
    let (payload, _) = josekit::jwt::decode_with_verifier(token, &*verifier)
        .map_err(|e| format!("bad signature: {e}"))?;
    let c = payload.claims_set();
    let str_claim = |n: &str| c.get(n).and_then(|v| v.as_str()).map(str::to_owned);
    if str_claim("iss").as_deref() != Some(issuer) {
        return Err("wrong issuer".into());
    }
    let aud_ok = match c.get("aud") {
        Some(serde_json::Value::String(a)) => a == client_id,
        Some(serde_json::Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(client_id)),
        _ => false,
    };
    if !aud_ok {
        return Err("wrong audience".into());
    }
    let iat = c.get("iat").and_then(|v| v.as_i64()).ok_or("no iat")?;
    if iat > now + 60 {
        return Err("issued in the future".into());
    }
    if let Some(exp) = c.get("exp").and_then(|v| v.as_i64())
        && exp < now - 60
    {
        return Err("expired".into());
    }
    let jti = str_claim("jti").ok_or("no jti")?;
    let event = c
        .get("events")
        .and_then(|e| e.get("http://schemas.openid.net/event/backchannel-logout"));
    if !event.is_some_and(serde_json::Value::is_object) {
        return Err("not a logout event".into());
    }
    if c.contains_key("nonce") {
        return Err("a logout token must not carry a nonce".into());
    }
    let (sub, sid) = (str_claim("sub"), str_claim("sid"));
    if sub.is_none() && sid.is_none() {
        return Err("neither sub nor sid".into());
    }
    Ok(LogoutClaims { sub, sid, jti })
}

// ---- pages ----

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

fn accent(client_id: &str) -> &'static str {
    match client_id {
        "card-portal" => "#5b1f8a",
        "smartauction" => "#0b5cad",
        "smartcash" => "#1d6b3a",
        _ => "#8a3b12",
    }
}

fn others(rp: &Rp) -> String {
    let links: Vec<String> = rp
        .cfg
        .others
        .iter()
        .map(|(name, url)| format!(r#"<li><a href="{}/">Open {}</a></li>"#, esc(url), esc(name)))
        .collect();
    if links.is_empty() {
        String::new()
    } else {
        format!(
            r#"<h2>Other applications</h2><ul class="apps">{}</ul>"#,
            links.join("")
        )
    }
}

fn signed_in_body(rp: &Rp, s: &Signed) -> String {
    let list = |v: &[String]| {
        if v.is_empty() {
            "<em>none</em>".to_string()
        } else {
            v.iter()
                .map(|r| format!("<code>{}</code>", esc(r)))
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    format!(
        r#"<p class="status" role="status">Signed in</p>
<h1>Welcome, {name}</h1>
<dl>
<dt>User ID</dt><dd id="username">{user}</dd>
<dt>E-mail</dt><dd>{email}</dd>
<dt>Roles in {app}</dt><dd id="roles">{roles}</dd>
<dt>Applications you may use</dt><dd>{apps}</dd>
<dt>How you signed in</dt><dd>{amr}</dd>
<dt>Subject</dt><dd><code>{sub}</code></dd>
<dt>Tokens refreshed</dt><dd>{refreshed}</dd>
</dl>
<form method="post" action="/logout"><input type="hidden" name="csrf" value="{csrf}"><button type="submit">Sign out</button></form>
{others}"#,
        name = esc(&s.display_name),
        user = esc(s.username.as_deref().unwrap_or("")),
        email = esc(s.email.as_deref().unwrap_or("")),
        app = esc(&rp.cfg.name),
        roles = list(&s.roles),
        apps = list(&s.apps),
        amr = list(&s.amr),
        sub = esc(&s.sub),
        refreshed = s.refreshed,
        csrf = esc(&s.csrf),
        others = others(rp),
    )
}

fn signed_out_body(rp: &Rp, why: Option<&str>) -> String {
    format!(
        r#"<p class="status" role="status">Not signed in</p>
<h1>{app}</h1>
{why}<p>Sign in with your Ally user ID to continue.</p>
<p><a class="button" href="/login">Sign in with Ally</a></p>
{others}"#,
        app = esc(&rp.cfg.name),
        why = why
            .map(|w| format!("<p>{}</p>", esc(w)))
            .unwrap_or_default(),
        others = others(rp),
    )
}

fn error_page(rp: &Rp, message: &str) -> Response {
    let body = format!(
        r#"<h1>{app}</h1><div class="alert" role="alert">{m}</div><p><a href="/">Back to {app}</a></p>"#,
        app = esc(&rp.cfg.name),
        m = esc(message),
    );
    page(rp, StatusCode::BAD_REQUEST, &body)
}

fn page(rp: &Rp, status: StatusCode, body: &str) -> Response {
    let html = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{app} (demo)</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1a1a1a; }}
header {{ background: {accent}; color: #fff; padding: .8rem 1.2rem; font-weight: 700; }}
main {{ max-width: 40rem; margin: 1.5rem auto; padding: 0 1.2rem; }}
dt {{ font-weight: 600; margin-top: .5rem; }} dd {{ margin: 0; }}
button, a.button {{ background: {accent}; color: #fff; border: 0; border-radius: 6px; padding: .7rem 1.2rem; font: inherit; font-weight: 600; cursor: pointer; text-decoration: none; display: inline-block; margin-top: 1rem; }}
.status {{ display: inline-block; border: 1px solid {accent}; color: {accent}; border-radius: 999px; padding: 0 .6rem; font-size: .85rem; }}
.alert {{ border-left: 4px solid #b00020; background: #fdecee; padding: .6rem .9rem; }}
a {{ color: {accent}; }}
</style></head><body><header>{app} <span style="font-weight:400">· demo relying party</span></header><main>{body}</main></body></html>"#,
        app = esc(&rp.cfg.name),
        accent = accent(&rp.cfg.client_id),
        body = body,
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}
