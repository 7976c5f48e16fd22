//! Passkey sign-in over HTTP: `POST /login/passkey/options` hands the page a WebAuthn
//! ceremony (JSON, for `navigator.credentials.get`), and `POST /login/passkey` takes the
//! browser's answer as an ordinary form post, so that what follows (a session, the pending
//! authorization request, the error re-render) is the same as after a password. The checks
//! live in `authn::passkeys`; the handlers only translate HTTP.

use axum::{
    Form, Json,
    extract::{State, rejection::JsonRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use axum_extra::extract::CookieJar;
use chrono::Duration;
use serde::Deserialize;
use webauthn_rs::prelude::PublicKeyCredential;

use super::{
    acr,
    factor_pages::app_of,
    lockout,
    login::{self, LoginError},
    passkeys::{self, PasskeyError, RelyingParty},
    routes::{
        LoginView, continue_after_sign_in, current_session, refuse_login, render_login, safe_next,
    },
    session,
};
use crate::{
    accounts::users::AccountStatus,
    audit::{self, Actor, AuditEvent},
    error::AppError,
    oidc::{authorize::expired_page, authorize::flow::Resume},
    state::AppState,
    store,
    web::{
        context::RequestContext,
        cookies,
        csrf::{Csrf, FORM_EXPIRED},
    },
};

/// The body of an options request: only the page's CSRF token.
#[derive(Debug, Deserialize)]
pub struct OptionsRequest {
    csrf: String,
}

/// A JSON error the page's script shows as it is (`message`), with an RFC 6749-style code.
#[derive(Debug, Clone, Copy)]
pub struct JsonRefusal {
    pub status: StatusCode,
    pub error: &'static str,
    pub message: &'static str,
}

impl IntoResponse for JsonRefusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.error, "message": self.message });
        let mut r = (self.status, Json(body)).into_response();
        no_store(&mut r);
        r
    }
}

/// A ceremony for the page: the options for the browser API and the ceremony's id, which
/// the page sends back with the answer.
pub fn ceremony_json(options: serde_json::Value, ceremony: String) -> Response {
    let mut r =
        Json(serde_json::json!({ "options": options, "ceremony": ceremony })).into_response();
    no_store(&mut r);
    r
}

fn no_store(r: &mut Response) {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Checks an options request: passkeys on, a JSON body, the page's CSRF token. Returns the
/// relying party, or the JSON refusal to send.
pub fn options_allowed<'a>(
    state: &'a AppState,
    csrf: &Csrf,
    body: &Result<Json<OptionsRequest>, JsonRejection>,
) -> Result<&'a RelyingParty, JsonRefusal> {
    let refusal = |status, error, message| JsonRefusal {
        status,
        error,
        message,
    };
    let Some(rp) = state.passkeys.as_deref() else {
        return Err(refusal(
            StatusCode::NOT_FOUND,
            "not_available",
            "Passkeys are not available on this site.",
        ));
    };
    match body {
        Ok(Json(b)) if csrf.verify(&b.csrf) => Ok(rp),
        Ok(_) => Err(refusal(
            StatusCode::FORBIDDEN,
            "invalid_request",
            FORM_EXPIRED,
        )),
        Err(_) => Err(refusal(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request was not understood.",
        )),
    }
}

pub async fn options_post(
    State(state): State<AppState>,
    csrf: Csrf,
    body: Result<Json<OptionsRequest>, JsonRejection>,
) -> Result<Response, AppError> {
    let rp = match options_allowed(&state, &csrf, &body) {
        Ok(rp) => rp,
        Err(r) => return Ok(r.into_response()),
    };
    let (options, ceremony) = passkeys::start_authentication(&state.db, rp, state.clock.now())
        .await
        .map_err(passkey_internal)?;
    Ok(ceremony_json(serde_json::to_value(options)?, ceremony))
}

pub fn passkey_internal(e: PasskeyError) -> AppError {
    match e {
        PasskeyError::Internal(e) => AppError::Internal(e),
        other => AppError::Internal(anyhow::anyhow!("unexpected passkey outcome: {other}")),
    }
}

/// The browser's answer, posted by the page's script.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasskeyForm {
    csrf: String,
    req: Option<String>,
    next: Option<String>,
    ceremony: String,
    /// The `PublicKeyCredential` as JSON, binary fields in base64url.
    credential: String,
}

/// The answer as webauthn-rs reads it; `None` if it is not one (a broken or forged post).
pub fn parse_credential<T: serde::de::DeserializeOwned>(json: &str) -> Option<T> {
    (json.len() <= 64 * 1024)
        .then(|| serde_json::from_str(json).ok())
        .flatten()
}

const NOT_VERIFIED: &str =
    "That passkey could not be used. Try again, or sign in with your user ID and password.";

pub async fn passkey_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    Form(form): Form<PasskeyForm>,
) -> Result<Response, AppError> {
    let req = form.req.as_deref().filter(|r| !r.is_empty());
    let next = safe_next(form.next.as_deref());
    let Ok(app) = app_of(&state, req).await? else {
        return Ok(expired_page());
    };
    let mut view = LoginView {
        req,
        next,
        client_name: app.as_ref().map(|p| p.client_name.clone()),
        redirect_uri: app.map(|p| p.redirect_uri),
        ..Default::default()
    };
    if !csrf.verify(&form.csrf) {
        view.error = Some(FORM_EXPIRED.into());
        return render_login(&state, csrf, view, StatusCode::FORBIDDEN);
    }
    let Some(rp) = state.passkeys.as_deref() else {
        view.error = Some("Passkeys are not available on this site.".into());
        return render_login(&state, csrf, view, StatusCode::NOT_FOUND);
    };
    let Some(credential) = parse_credential::<PublicKeyCredential>(&form.credential) else {
        view.error = Some(NOT_VERIFIED.into());
        return render_login(&state, csrf, view, StatusCode::BAD_REQUEST);
    };
    let now = state.clock.now();
    let txn = state.begin_write().await?;
    let signed =
        passkeys::finish_authentication(&txn, rp, now, &form.ceremony, &credential, None).await;
    let signed = match signed {
        Ok(s) => s,
        Err(PasskeyError::Internal(e)) => return Err(AppError::Internal(e)),
        Err(why) => {
            // Unattributable: the credential id and user handle are the browser's word
            // until the signature checks out, so no account's lockout counts this.
            audit::record(
                &txn,
                now,
                &ctx,
                AuditEvent::PasskeyRejected,
                Actor::Anonymous,
                None,
                serde_json::json!({ "why": if matches!(why, PasskeyError::Expired) { "expired" } else { "rejected" } }),
            )
            .await?;
            // The ceremony is spent either way.
            txn.commit().await?;
            view.error = Some(NOT_VERIFIED.into());
            return render_login(&state, csrf, view, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let Some(mut account) = store::accounts::find_by_id(&txn, &signed.account_id).await? else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "passkey of a missing account"
        )));
    };
    let status = lockout::current_status(&txn, &state.config, now, &ctx, &mut account)
        .await?
        .ok_or_else(|| anyhow::anyhow!("account {} has unknown status", account.id))?;
    if status != AccountStatus::Active {
        // The passkey's counter update stands; nothing else happens.
        txn.commit().await?;
        let e = LoginError::NotActive(status, Box::new(account));
        return refuse_login(&state, csrf, view, e, now);
    }
    // User verification was required, so the passkey alone is multi-factor (AAL2).
    login::record_success(&txn, now, &ctx, &account.id, &signed.amr).await?;
    let previous = current_session(&state, &jar, now).await?;
    let amr: Vec<&str> = signed.amr.iter().map(String::as_str).collect();
    let (sso, token) = session::replace(
        &txn,
        &state.tokens,
        now,
        &ctx,
        previous.as_ref(),
        session::Authenticated {
            account_id: &account.id,
            amr: &amr,
            acr: acr::AAL2,
            remembered: false,
        },
        Duration::seconds(state.config.session.lifetime_secs),
    )
    .await?;
    let https = state.config.issuer.is_https();
    let jar = jar.add(cookies::build(cookies::Kind::Session, https, token));
    continue_after_sign_in(&state, &ctx, txn, jar, req, next, &sso, Resume::SignedIn).await
}
