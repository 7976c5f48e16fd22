//! Passkeys in "Sign-in and security": add one (a WebAuthn registration ceremony, handed
//! out as JSON and answered by an ordinary form post) and remove one (after the password
//! again). The ceremony checks live in `authn::passkeys`, the bookkeeping (audit, forgetting
//! remembered browsers, first recovery codes) in `authn::mfa::settings`.

use axum::{
    Form, Json, Router,
    extract::{State, rejection::JsonRejection},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::post,
};
use axum_extra::extract::CookieJar;
use serde::Deserialize;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::security_pages::{
    PasswordForm, SECURITY, reauthenticated, refuse, render_codes, signed_in, signed_in_form,
};
use crate::{
    authn::{
        mfa::settings,
        passkey_pages::{
            JsonRefusal, OptionsRequest, ceremony_json, options_allowed, parse_credential,
            passkey_internal,
        },
        passkeys::{self, PasskeyError},
        session,
    },
    error::AppError,
    state::AppState,
    web::{context::RequestContext, csrf::Csrf},
};

const OPTIONS: &str = "/account/security/passkeys/options";
const ADD: &str = "/account/security/passkeys";
const REMOVE: &str = "/account/security/passkeys/remove";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(OPTIONS, post(options_post))
        .route(ADD, post(add_post))
        .route(REMOVE, post(remove_post))
}

async fn options_post(
    State(state): State<AppState>,
    jar: CookieJar,
    csrf: Csrf,
    body: Result<Json<OptionsRequest>, JsonRejection>,
) -> Result<Response, AppError> {
    let rp = match options_allowed(&state, &csrf, &body) {
        Ok(rp) => rp,
        Err(r) => return Ok(r.into_response()),
    };
    // Signed in, and with the account's factors shown in this session.
    let Ok((_, account)) = signed_in(&state, &jar).await? else {
        return Ok(JsonRefusal {
            status: StatusCode::UNAUTHORIZED,
            error: "login_required",
            message: "Your session has ended. Reload the page and sign in again.",
        }
        .into_response());
    };
    let (options, ceremony) =
        passkeys::start_registration(&state.db, rp, state.clock.now(), &account)
            .await
            .map_err(passkey_internal)?;
    Ok(ceremony_json(options, ceremony))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AddForm {
    csrf: String,
    name: String,
    ceremony: String,
    /// The `PublicKeyCredential` from `navigator.credentials.create`, as JSON.
    credential: String,
}

const NOT_SAVED: &str = "The passkey could not be saved. Try again.";

async fn add_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    Form(form): Form<AddForm>,
) -> Result<Response, AppError> {
    let (session, account, csrf) = match signed_in_form(&state, &jar, csrf, &form.csrf).await? {
        Ok(sac) => sac,
        Err(r) => return Ok(r),
    };
    if state.passkeys.is_none() {
        let error = Some("Passkeys are not available on this site.");
        return refuse(&state, csrf, &account, error, StatusCode::NOT_FOUND).await;
    }
    let (Some(rp), Some(credential)) = (
        state.passkeys.as_deref(),
        parse_credential::<RegisterPublicKeyCredential>(&form.credential),
    ) else {
        let status = StatusCode::BAD_REQUEST;
        return refuse(&state, csrf, &account, Some(NOT_SAVED), status).await;
    };
    let now = state.clock.now();
    let txn = state.begin_write().await?;
    let added = passkeys::finish_registration(
        &txn,
        rp,
        now,
        &account.id,
        &form.ceremony,
        &credential,
        &form.name,
    )
    .await;
    let passkey = match added {
        Ok(p) => p,
        Err(PasskeyError::Internal(e)) => return Err(AppError::Internal(e)),
        Err(e) => {
            // The ceremony is spent either way.
            txn.commit().await?;
            let error = match e {
                PasskeyError::Expired => "That took too long. Try again.",
                _ => NOT_SAVED,
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return refuse(&state, csrf, &account, Some(error), status).await;
        }
    };
    let codes =
        settings::passkey_added(&txn, &state.tokens, now, &ctx, &account.id, &passkey).await?;
    let shown = [passkeys::key_amr(&passkey), "user"];
    session::add_factor(&txn, now, &session, &shown).await?;
    txn.commit().await?;
    match codes {
        Some(codes) => render_codes(&state, csrf, &codes, Some("Your passkey is saved.")),
        None => Ok(Redirect::to(&format!("{SECURITY}?done=passkey_added")).into_response()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RemoveForm {
    csrf: String,
    password: String,
    id: String,
}

async fn remove_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    Form(form): Form<RemoveForm>,
) -> Result<Response, AppError> {
    let confirm = PasswordForm {
        csrf: form.csrf,
        password: form.password,
    };
    let (account, csrf) = match reauthenticated(&state, &ctx, &jar, csrf, confirm).await? {
        Ok(ac) => ac,
        Err(r) => return Ok(r),
    };
    let txn = state.begin_write().await?;
    let removed =
        settings::remove_passkey(&txn, state.clock.now(), &ctx, &account.id, &form.id).await?;
    txn.commit().await?;
    if !removed {
        // Not this account's (or already gone): nothing changed.
        let error = Some("That passkey is no longer on your account.");
        return refuse(&state, csrf, &account, error, StatusCode::NOT_FOUND).await;
    }
    Ok(Redirect::to(&format!("{SECURITY}?done=passkey_removed")).into_response())
}
