//! The sign-in screen: GET shows it, POST checks the password, starts the SSO session and
//! continues the pending authorization request.

use axum::{
    Form, Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_extra::extract::CookieJar;
use chrono::{DateTime, Duration, Utc};
use minijinja::context;
use secrecy::SecretString;
use serde::Deserialize;

use super::{
    acr,
    login::{self, LoginError},
    mfa,
    session::{self, SsoSession},
};
use crate::{
    access::clients::MfaPolicy,
    accounts::{reactivation, users::AccountStatus},
    error::AppError,
    oidc::{
        authorize::{
            expired_page,
            flow::{self, FlowError, Resume},
            flow_deps, pending_for_page, step_response,
        },
        endpoints,
    },
    state::AppState,
    web::{Page, context::RequestContext, cookies, csrf::Csrf},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(endpoints::LOGIN, get(login_get).post(login_post))
        .route(
            endpoints::LOGIN_FACTOR,
            get(super::factor_pages::factor_get).post(super::factor_pages::factor_post),
        )
        .route(
            endpoints::LOGIN_PASSKEY_OPTIONS,
            post(super::passkey_pages::options_post),
        )
        .route(
            endpoints::LOGIN_PASSKEY,
            post(super::passkey_pages::passkey_post),
        )
}

/// The live SSO session of this browser, if any.
pub async fn current_session(
    state: &AppState,
    jar: &CookieJar,
    now: DateTime<Utc>,
) -> Result<Option<SsoSession>, sea_orm::DbErr> {
    match session_cookie(state, jar) {
        Some(v) => {
            session::resume(&state.reads, &state.tokens, &state.config.session, now, v).await
        }
        None => Ok(None),
    }
}

/// `current_session` with the account's standing with an application, in one read
/// (`/authorize`).
pub async fn current_session_with_standing(
    state: &AppState,
    jar: &CookieJar,
    now: DateTime<Utc>,
    ask: &crate::store::standing::Ask<'_>,
) -> Result<Option<(SsoSession, crate::store::standing::Standing)>, sea_orm::DbErr> {
    match session_cookie(state, jar) {
        Some(v) => {
            session::resume_with_standing(
                &state.reads,
                &state.tokens,
                &state.config.session,
                now,
                v,
                ask,
            )
            .await
        }
        None => Ok(None),
    }
}

fn session_cookie<'j>(state: &AppState, jar: &'j CookieJar) -> Option<&'j str> {
    let name = cookies::name(cookies::Kind::Session, state.config.issuer.is_https());
    jar.get(&name).map(|c| c.value())
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    req: Option<String>,
    next: Option<String>,
}

/// A return path after a sign-in not started by an application (e.g. /admin). Only local
/// paths: `//host` and `/\host` are protocol-relative URLs to other sites in browsers.
pub fn safe_next(next: Option<&str>) -> Option<&str> {
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && !n.starts_with("/\\")
            && n.len() <= 512
            && !n.chars().any(|c| c.is_control())
    })
}

#[derive(Default)]
pub(super) struct LoginView<'a> {
    pub req: Option<&'a str>,
    pub next: Option<&'a str>,
    pub client_name: Option<String>,
    pub redirect_uri: Option<String>,
    pub username: Option<String>,
    pub error: Option<std::borrow::Cow<'a, str>>,
    /// A ticket for the reactivation request (deactivated user ID, right password).
    pub reactivate: Option<String>,
}

pub(super) fn render_login(
    state: &AppState,
    csrf: Csrf,
    v: LoginView<'_>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let mut page = Page::render(
        &state.templates,
        "authn/login.html",
        context! {
            req => v.req,
            next => v.next,
            client_name => v.client_name,
            username => v.username,
            error => v.error,
            reactivate => v.reactivate,
            passkeys => state.passkeys.is_some(),
            csrf => csrf.token(),
        },
    )?
    .status(status);
    if let Some(uri) = &v.redirect_uri {
        page = page.allow_form_target(uri);
    }
    Ok((csrf.jar(), page).into_response())
}

/// What the sign-in page shows about the pending request: the application's name, its
/// redirect URI (for the CSP form-action) and the login_hint.
pub(super) struct PendingView {
    pub client_name: String,
    pub redirect_uri: String,
    login_hint: Option<String>,
    /// What the application asks of the second factor.
    pub mfa_policy: MfaPolicy,
    pub acr_values: Vec<String>,
}

pub(super) async fn pending_view(
    state: &AppState,
    req: &str,
) -> Result<Option<PendingView>, AppError> {
    Ok(pending_for_page(state, req)
        .await?
        .map(|(pending, c)| PendingView {
            mfa_policy: c.mfa_policy(state.config.mfa.default_policy),
            client_name: c.name,
            redirect_uri: pending.request.redirect_uri,
            login_hint: pending.request.login_hint,
            acr_values: pending.request.acr_values,
        }))
}

async fn login_get(
    State(state): State<AppState>,
    csrf: Csrf,
    Query(q): Query<LoginQuery>,
) -> Result<Response, AppError> {
    let mut view = LoginView {
        req: q.req.as_deref(),
        next: safe_next(q.next.as_deref()),
        ..Default::default()
    };
    if let Some(req) = q.req.as_deref() {
        let Some(p) = pending_view(&state, req).await? else {
            return Ok(expired_page());
        };
        view.username = p.login_hint;
        view.client_name = Some(p.client_name);
        view.redirect_uri = Some(p.redirect_uri);
    }
    render_login(&state, csrf, view, StatusCode::OK)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    req: Option<String>,
    next: Option<String>,
    username: String,
    password: String,
    csrf: String,
}

/// What the sign-in page says for each failure. Status messages are shown only after the
/// password checked out (see `login::authenticate`), so they reveal nothing to a guesser.
pub(super) fn login_error_message(state: &AppState, e: LoginError) -> Result<String, AppError> {
    Ok(match e {
        LoginError::InvalidCredentials | LoginError::NotActive(AccountStatus::Active, _) => {
            INVALID_CREDENTIALS.to_owned()
        }
        LoginError::NotActive(AccountStatus::PendingApproval, _) => {
            "Your registration is being reviewed. You will receive an e-mail when it is approved.".to_owned()
        }
        LoginError::NotActive(AccountStatus::Locked, a) => {
            locked_message(&state.config.helpdesk, a.locked_until)
        }
        LoginError::NotActive(AccountStatus::Deactivated, _) => {
            "Your user ID is deactivated because it was not used for 60 days or was closed. You can request reactivation below.".to_owned()
        }
        LoginError::NotActive(AccountStatus::Rejected, _) => {
            "Your registration was not approved. The e-mail we sent you gives the reason.".to_owned()
        }
        LoginError::Internal(e) => return Err(AppError::Internal(e)),
    })
}

/// What a locked account is told: when a temporary lock ends and how to get in sooner, or
/// that only the help desk unlocks it (with its number and hours).
pub fn locked_message(h: &crate::config::Helpdesk, until: Option<DateTime<Utc>>) -> String {
    let call = h.contact();
    match until {
        Some(t) => format!(
            "Your online access is locked until {} UTC after too many unsuccessful attempts. To get in sooner, reset your password with \"Forgot password?\" or call the {call}.",
            t.format("%-d %b %Y, %H:%M")
        ),
        None => format!("Your online access is locked. Please call the {call}."),
    }
}

/// The sign-in page again, saying why the sign-in was refused. The right password (or a
/// passkey) for a deactivated user ID earns a ticket to ask for reactivation (after the
/// challenge questions).
pub(super) fn refuse_login(
    state: &AppState,
    csrf: Csrf,
    mut view: LoginView<'_>,
    e: LoginError,
    now: DateTime<Utc>,
) -> Result<Response, AppError> {
    if let LoginError::NotActive(AccountStatus::Deactivated, a) = &e {
        let expires = now + Duration::minutes(reactivation::TICKET_MINUTES);
        view.reactivate = Some(csrf.ticket(reactivation::TICKET_PURPOSE, &a.id, expires));
    }
    let message = login_error_message(state, e)?;
    view.error = Some(message.into());
    render_login(state, csrf, view, StatusCode::UNPROCESSABLE_ENTITY)
}

/// The one message for a wrong user ID or password: it must not say which was wrong.
const INVALID_CREDENTIALS: &str = "The user ID or password is incorrect. Passwords are case sensitive: check that Caps Lock is off.";

async fn login_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let req = form.req.as_deref().filter(|r| !r.is_empty());
    let Ok(pending) = super::factor_pages::app_of(&state, req).await? else {
        return Ok(expired_page());
    };
    let mut view = LoginView {
        req,
        next: safe_next(form.next.as_deref()),
        client_name: pending.as_ref().map(|p| p.client_name.clone()),
        redirect_uri: pending.as_ref().map(|p| p.redirect_uri.clone()),
        username: Some(form.username.chars().take(64).collect()),
        error: None,
        reactivate: None,
    };
    if !csrf.verify(&form.csrf) {
        view.error = Some(crate::web::csrf::FORM_EXPIRED.into());
        return render_login(&state, csrf, view, StatusCode::FORBIDDEN);
    }
    if form.username.trim().is_empty() || form.password.is_empty() {
        view.error = Some("Enter your user ID and password.".into());
        return render_login(&state, csrf, view, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let now = state.clock.now();
    // Passwords are capped well above the policy's maximum; longer input is never hashed.
    let too_long = form.username.len() > 64 || form.password.len() > 1024;
    let password = SecretString::from(form.password);
    let checked = if too_long {
        None
    } else {
        Some(login::check_password(&state.db, &state.passwords, &form.username, &password).await?)
    };
    let txn = state.begin_write().await?;
    let account = match checked {
        None => Err(LoginError::InvalidCredentials),
        Some(checked) => {
            login::authenticate(
                &txn,
                &state.passwords,
                &state.config,
                now,
                &ctx,
                &form.username,
                &password,
                checked,
            )
            .await
        }
    };
    let account = match account {
        Ok(a) => a,
        Err(e) => {
            // The failure is audited even though nothing else changes.
            txn.commit().await?;
            return refuse_login(&state, csrf, view, e, now);
        }
    };
    // A temporary password from the help desk is replaced before anything else.
    if account.must_change_password {
        let token =
            crate::accounts::recovery::forced_change(&txn, &state.tokens, now, &account.id).await?;
        txn.commit().await?;
        let to = format!("{}?token={token}", crate::accounts::recovery::RESET_PATH);
        return Ok(Redirect::to(&to).into_response());
    }
    // A second factor, when the application, the account or `acr_values` asks for one and
    // this browser was not remembered for the account.
    let (policy, acr_values) = pending.as_ref().map_or_else(
        || (state.config.mfa.default_policy, &[][..]),
        |p| (p.mfa_policy, p.acr_values.as_slice()),
    );
    let enrolled = mfa::enrolled(&txn, &account.id).await?;
    let policy_needs = mfa::required(policy, &enrolled, false);
    let acr_needs = mfa::acr_values_ask_for_mfa(acr_values);
    let https = state.config.issuer.is_https();
    let device = jar.get(&cookies::name(cookies::Kind::Device, https));
    let remembered = mfa::devices::is_remembered(
        &txn,
        &state.tokens,
        now,
        &account.id,
        device.map(|c| c.value()),
    )
    .await?;
    let factors = mfa::SessionFactors {
        multi_factor: false,
        remembered,
    };
    if !factors.satisfies(policy_needs, acr_needs) {
        let ttl = Duration::seconds(state.config.mfa.pending_ttl_secs);
        let amr = ["pwd".to_owned()];
        let (token, _) =
            mfa::pending::begin(&txn, &state.tokens, now, ttl, &account.id, None, &amr).await?;
        txn.commit().await?;
        let jar = jar.add(cookies::build(cookies::Kind::SignIn, https, token));
        let to = factor_page_url(None, req, safe_next(form.next.as_deref()));
        return Ok((jar, Redirect::to(&to)).into_response());
    }
    let amr = ["pwd".to_owned()];
    login::record_success(&txn, now, &ctx, &account.id, &amr).await?;
    let previous = current_session(&state, &jar, now).await?;
    let (sso, token) = session::replace(
        &txn,
        &state.tokens,
        now,
        &ctx,
        previous.as_ref(),
        session::Authenticated {
            account_id: &account.id,
            amr: &["pwd"],
            acr: acr::AAL1,
            remembered,
        },
        Duration::seconds(state.config.session.lifetime_secs),
    )
    .await?;
    let jar = jar.add(cookies::build(cookies::Kind::Session, https, token));
    continue_after_sign_in(
        &state,
        &ctx,
        txn,
        jar,
        req,
        safe_next(form.next.as_deref()),
        &sso,
        Resume::SignedIn,
    )
    .await
}

/// The second-factor page for this request or return path, optionally on one method.
pub(super) fn factor_page_url(
    method: Option<mfa::Factor>,
    req: Option<&str>,
    next: Option<&str>,
) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if let Some(m) = method {
        q.append_pair("method", m.as_str());
    }
    if let Some(r) = req {
        q.append_pair("req", r);
    }
    if let Some(n) = next {
        q.append_pair("next", n);
    }
    let q = q.finish();
    if q.is_empty() {
        endpoints::LOGIN_FACTOR.to_owned()
    } else {
        format!("{}?{q}", endpoints::LOGIN_FACTOR)
    }
}

/// After a sign-in or step-up: back to the application's pending request, or to the local
/// page the person came from. Commits the transaction unless continuing failed.
#[allow(clippy::too_many_arguments)]
pub(super) async fn continue_after_sign_in(
    state: &AppState,
    ctx: &RequestContext,
    txn: crate::store::db::WriteTxn,
    jar: CookieJar,
    req: Option<&str>,
    next: Option<&str>,
    sso: &SsoSession,
    how: Resume,
) -> Result<Response, AppError> {
    let Some(req) = req else {
        txn.commit().await?;
        let to = next.unwrap_or(endpoints::HOME);
        return Ok((jar, Redirect::to(to)).into_response());
    };
    let step = flow::resume(
        &txn,
        &flow_deps(state, ctx),
        state.clock.now(),
        req,
        sso,
        how,
    )
    .await;
    if matches!(step, Ok(_) | Err(FlowError::Expired)) {
        txn.commit().await?;
    }
    Ok((jar, step_response(step)).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn next_must_be_a_local_path() {
        assert_eq!(
            super::safe_next(Some("/admin/requests")),
            Some("/admin/requests")
        );
        assert_eq!(super::safe_next(Some("//evil.example/")), None);
        assert_eq!(super::safe_next(Some("/\\evil.example/")), None);
        assert_eq!(super::safe_next(Some("https://evil.example/")), None);
        assert_eq!(super::safe_next(Some("/a\nb")), None);
    }
}
