//! "Sign-in and security" settings: passkeys (`passkey_pages`), the authenticator app,
//! recovery codes and remembered browsers. Changing factors needs a session that already showed the account's factors
//! (otherwise the page asks for the second step first, as a step-up), and removing one or
//! replacing the recovery codes asks for the password again.

use axum::{
    Form, Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_extra::extract::CookieJar;
use minijinja::context;
use secrecy::SecretString;
use serde::Deserialize;

use crate::{
    authn::{
        lockout,
        mfa::{self, settings, totp},
        routes::current_session,
        session::{self, SsoSession},
    },
    error::AppError,
    oidc::endpoints,
    state::AppState,
    store,
    web::{Page, context::RequestContext, csrf::Csrf},
};

pub const SECURITY: &str = "/account/security";
const TOTP_BEGIN: &str = "/account/security/totp";
const TOTP_CONFIRM: &str = "/account/security/totp/confirm";
const TOTP_REMOVE: &str = "/account/security/totp/remove";
const RECOVERY: &str = "/account/security/recovery";
const FORGET_DEVICES: &str = "/account/security/devices/forget";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(SECURITY, get(security_get))
        .route(TOTP_BEGIN, post(totp_begin))
        .route(TOTP_CONFIRM, post(totp_confirm))
        .route(TOTP_REMOVE, post(totp_remove))
        .route(RECOVERY, post(recovery_post))
        .route(FORGET_DEVICES, post(forget_devices_post))
        .merge(super::passkey_pages::routes())
}

/// The signed-in account, or where to send the browser instead: the sign-in page, or the
/// second step when the account has factors this session has not shown.
pub(super) async fn signed_in(
    state: &AppState,
    jar: &CookieJar,
) -> Result<Result<(SsoSession, entity::account::Model), Response>, AppError> {
    let back = format!("?next={}", urlencoding(SECURITY));
    let Some(s) = current_session(state, jar, state.clock.now()).await? else {
        return Ok(Err(
            Redirect::to(&format!("{}{back}", endpoints::LOGIN)).into_response()
        ));
    };
    let Some(a) = store::accounts::find_by_id(&state.db, &s.account_id).await? else {
        return Ok(Err(Redirect::to(endpoints::LOGIN).into_response()));
    };
    if mfa::enrolled(&state.db, &a.id).await?.any() && !s.multi_factor() {
        let to = format!("{}{back}", endpoints::LOGIN_FACTOR);
        return Ok(Err(Redirect::to(&to).into_response()));
    }
    Ok(Ok((s, a)))
}

/// The signed-in account, once the form's CSRF token checked out; otherwise the response
/// to send instead (the sign-in page, the second step, or the settings saying the form
/// expired).
pub(super) async fn signed_in_form(
    state: &AppState,
    jar: &CookieJar,
    csrf: Csrf,
    token: &str,
) -> Result<Result<(SsoSession, entity::account::Model, Csrf), Response>, AppError> {
    let (session, account) = match signed_in(state, jar).await? {
        Ok(sa) => sa,
        Err(r) => return Ok(Err(r)),
    };
    if !csrf.verify(token) {
        let error = Some(crate::web::csrf::FORM_EXPIRED);
        let page = refuse(state, csrf, &account, error, StatusCode::FORBIDDEN).await?;
        return Ok(Err(page));
    }
    Ok(Ok((session, account, csrf)))
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Done {
    done: Option<String>,
}

/// The confirmation shown after a change (a fixed set: nothing from the URL is echoed).
fn done_message(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "totp_removed" => "The authenticator app was removed.",
        "passkey_added" => "Your passkey is saved. Next time, sign in with it.",
        "passkey_removed" => "The passkey was removed.",
        "devices_forgotten" => "Every remembered browser will ask for the second step again.",
        _ => return None,
    })
}

#[derive(Default)]
struct Extra<'a> {
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

fn day(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%-d %b %Y").to_string()
}

async fn render_security(
    state: &AppState,
    csrf: Csrf,
    account: &entity::account::Model,
    extra: Extra<'_>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let enrolled = mfa::enrolled(&state.db, &account.id).await?;
    let devices = store::mfa::count_devices(&state.db, &account.id, state.clock.now()).await?;
    let passkeys: Vec<_> = store::passkeys::of_account(&state.db, &account.id)
        .await?
        .into_iter()
        .map(|p| {
            context! {
                id => p.id,
                name => p.name,
                created => day(p.created_at),
                last_used => p.last_used_at.map(day),
            }
        })
        .collect();
    let page = Page::render(
        &state.templates,
        "account/security.html",
        context! {
            username => &account.username,
            email => &account.email,
            passkeys_on => state.passkeys.is_some(),
            passkeys => passkeys,
            totp => enrolled.totp,
            recovery_codes => enrolled.recovery_codes,
            devices => devices,
            error => extra.error,
            notice => extra.notice,
            csrf => csrf.token(),
        },
    )?
    .status(status);
    Ok((csrf.jar(), page).into_response())
}

/// The settings again, saying why a change was not made.
pub(super) async fn refuse(
    state: &AppState,
    csrf: Csrf,
    account: &entity::account::Model,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let extra = Extra {
        error,
        ..Default::default()
    };
    render_security(state, csrf, account, extra, status).await
}

async fn security_get(
    State(state): State<AppState>,
    jar: CookieJar,
    csrf: Csrf,
    Query(q): Query<Done>,
) -> Result<Response, AppError> {
    let (_, account) = match signed_in(&state, &jar).await? {
        Ok(sa) => sa,
        Err(r) => return Ok(r),
    };
    let notice = done_message(q.done.as_deref());
    render_security(
        &state,
        csrf,
        &account,
        Extra {
            notice,
            ..Default::default()
        },
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    pub(super) csrf: String,
    pub(super) password: String,
}

async fn render_setup(
    state: &AppState,
    csrf: Csrf,
    enrollment: &totp::Enrollment,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let page = Page::render(
        &state.templates,
        "account/totp_setup.html",
        context! {
            secret => &enrollment.secret_base32,
            qr_svg => minijinja::Value::from_safe_string(enrollment.qr_svg.clone()),
            error => error,
            csrf => csrf.token(),
        },
    )?
    .status(status);
    Ok((csrf.jar(), page).into_response())
}

fn totp_error(e: totp::TotpError) -> AppError {
    match e {
        totp::TotpError::Internal(e) => AppError::Internal(e),
        other => AppError::BadRequest(other.to_string().into()),
    }
}

async fn totp_begin(
    State(state): State<AppState>,
    jar: CookieJar,
    csrf: Csrf,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let (_, account, csrf) = match signed_in_form(&state, &jar, csrf, &form.csrf).await? {
        Ok(sac) => sac,
        Err(r) => return Ok(r),
    };
    let issuer = &state.config.mfa.totp_issuer;
    let enrollment = totp::begin(
        &state.db,
        &state.sealer,
        state.clock.now(),
        &account.id,
        issuer,
        &account.username,
    )
    .await
    .map_err(totp_error)?;
    render_setup(&state, csrf, &enrollment, None, StatusCode::OK).await
}

async fn totp_confirm(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let (session, account) = match signed_in(&state, &jar).await? {
        Ok(sa) => sa,
        Err(r) => return Ok(r),
    };
    let issuer = &state.config.mfa.totp_issuer;
    let Some(enrollment) = totp::pending(
        &state.db,
        &state.sealer,
        &account.id,
        issuer,
        &account.username,
    )
    .await
    .map_err(totp_error)?
    else {
        return Ok(Redirect::to(SECURITY).into_response());
    };
    if !csrf.verify(&form.csrf) {
        let error = Some(crate::web::csrf::FORM_EXPIRED);
        return render_setup(&state, csrf, &enrollment, error, StatusCode::FORBIDDEN).await;
    }
    let now = state.clock.now();
    let txn = state.begin_write().await?;
    let codes = settings::enable_totp(
        &txn,
        &state.sealer,
        &state.tokens,
        now,
        &ctx,
        &account.id,
        &form.code,
    )
    .await
    .map_err(totp_error)?;
    let Some(codes) = codes else {
        txn.rollback().await?;
        let error = Some("That code is not right. Enter the 6-digit code the app shows now.");
        return render_setup(
            &state,
            csrf,
            &enrollment,
            error,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    session::add_factor(&txn, now, &session, &["otp"]).await?;
    txn.commit().await?;
    render_codes(&state, csrf, &codes, Some("Your authenticator app is on."))
}

/// The recovery codes, shown once; `enabled` says which factor was just turned on.
pub(super) fn render_codes(
    state: &AppState,
    csrf: Csrf,
    codes: &[String],
    enabled: Option<&str>,
) -> Result<Response, AppError> {
    let page = Page::render(
        &state.templates,
        "account/recovery_codes.html",
        context! { codes => codes.to_vec(), enabled => enabled },
    )?;
    Ok((csrf.jar(), page).into_response())
}

/// Checks the password again before a sensitive change. A wrong one counts toward the
/// lockout like any wrong password.
async fn password_ok(
    state: &AppState,
    ctx: &RequestContext,
    account: &entity::account::Model,
    password: String,
) -> Result<bool, AppError> {
    let pw = SecretString::from(password);
    let ok = !pw_unusable(&pw)
        && state
            .passwords
            .verify(&pw, Some(&account.password_hash))
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
    if !ok {
        lockout::record_failure(
            &state.db,
            state.clock.now(),
            ctx,
            &state.config.lockout,
            &account.id,
        )
        .await?;
    }
    Ok(ok)
}

/// Empty, or longer than any password we accept (never hashed).
fn pw_unusable(pw: &SecretString) -> bool {
    use secrecy::ExposeSecret;
    pw.expose_secret().is_empty() || pw.expose_secret().len() > 1024
}

/// The signed-in account, once the form's CSRF token and the password checked out;
/// otherwise the response to send instead (the sign-in page, the second step, or the
/// settings saying why nothing changed).
pub(super) async fn reauthenticated(
    state: &AppState,
    ctx: &RequestContext,
    jar: &CookieJar,
    csrf: Csrf,
    form: PasswordForm,
) -> Result<Result<(entity::account::Model, Csrf), Response>, AppError> {
    let (_, account) = match signed_in(state, jar).await? {
        Ok(sa) => sa,
        Err(r) => return Ok(Err(r)),
    };
    let error = if !csrf.verify(&form.csrf) {
        crate::web::csrf::FORM_EXPIRED
    } else if !password_ok(state, ctx, &account, form.password).await? {
        "The password is not right."
    } else {
        return Ok(Ok((account, csrf)));
    };
    let page = refuse(
        state,
        csrf,
        &account,
        Some(error),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await?;
    Ok(Err(page))
}

async fn totp_remove(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let (account, _) = match reauthenticated(&state, &ctx, &jar, csrf, form).await? {
        Ok(ac) => ac,
        Err(r) => return Ok(r),
    };
    let txn = state.begin_write().await?;
    settings::remove_totp(&txn, state.clock.now(), &ctx, &account.id).await?;
    txn.commit().await?;
    Ok(Redirect::to(&format!("{SECURITY}?done=totp_removed")).into_response())
}

async fn recovery_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let (account, csrf) = match reauthenticated(&state, &ctx, &jar, csrf, form).await? {
        Ok(ac) => ac,
        Err(r) => return Ok(r),
    };
    let txn = state.begin_write().await?;
    let codes =
        settings::regenerate_recovery(&txn, &state.tokens, state.clock.now(), &ctx, &account.id)
            .await?;
    txn.commit().await?;
    render_codes(&state, csrf, &codes, None)
}

async fn forget_devices_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let (_, account, _) = match signed_in_form(&state, &jar, csrf, &form.csrf).await? {
        Ok(sac) => sac,
        Err(r) => return Ok(r),
    };
    settings::forget_devices(&state.db, state.clock.now(), &ctx, &account.id).await?;
    Ok(Redirect::to(&format!("{SECURITY}?done=devices_forgotten")).into_response())
}
