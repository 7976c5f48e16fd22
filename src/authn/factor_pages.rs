//! The second-factor screen: after the password (a pending sign-in behind the `SignIn`
//! cookie), or for a signed-in session that must step up (an application requires
//! multi-factor, or `acr_values` asked for it). The handlers only translate HTTP; the
//! checks live in `second_factor` and `mfa`.

use axum::{
    Form,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::CookieJar;
use chrono::Duration;
use minijinja::context;
use serde::Deserialize;

use super::{
    acr, lockout,
    login::{self},
    mfa::{self, Factor, devices, email_code, pending, pending::PendingSignIn},
    passkey_pages::parse_credential,
    routes::{
        PendingView, continue_after_sign_in, current_session, factor_page_url, pending_view,
        safe_next,
    },
    second_factor::{self, Outcome, Proof},
    session,
};
use crate::{
    accounts::users::AccountStatus,
    audit::{self, Actor, AuditEvent},
    error::AppError,
    oidc::{
        authorize::{expired_page, flow::Resume},
        endpoints,
    },
    state::AppState,
    store,
    web::{
        Page,
        context::RequestContext,
        cookies,
        csrf::{Csrf, FORM_EXPIRED},
    },
};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FactorQuery {
    req: Option<String>,
    next: Option<String>,
    method: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FactorForm {
    csrf: String,
    req: Option<String>,
    next: Option<String>,
    method: String,
    code: String,
    /// "send" asks for a (new) e-mailed code; anything else checks `code` (or, for a
    /// passkey, the ceremony's answer).
    action: String,
    remember: Option<String>,
    ceremony: String,
    /// A passkey's `PublicKeyCredential`, as JSON.
    credential: String,
}

/// What the page needs to show one pending sign-in.
struct View<'a> {
    req: Option<&'a str>,
    next: Option<&'a str>,
    method: Factor,
    /// The account's factors, in the order they are offered.
    offered: Vec<Factor>,
    email_hint: String,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    /// The application the sign-in is for, if any.
    client_name: Option<String>,
    redirect_uri: Option<String>,
}

impl<'a> View<'a> {
    /// The page for `account`, on the method asked for if the account may use it, else on
    /// the first one offered.
    async fn new(
        state: &AppState,
        account: &entity::account::Model,
        req: Option<&'a str>,
        next: Option<&'a str>,
        app: Option<PendingView>,
        asked: Option<&str>,
    ) -> Result<Self, AppError> {
        let mut offered = mfa::enrolled(&state.db, &account.id).await?.offered();
        if state.passkeys.is_none() {
            offered.retain(|f| *f != Factor::Passkey);
        }
        let method = asked
            .and_then(Factor::parse)
            .filter(|f| offered.contains(f))
            .or_else(|| offered.first().copied())
            .unwrap_or(Factor::EmailCode);
        Ok(Self {
            req,
            next,
            method,
            offered,
            email_hint: mask_email(&account.email),
            error: None,
            notice: None,
            client_name: app.as_ref().map(|a| a.client_name.clone()),
            redirect_uri: app.map(|a| a.redirect_uri),
        })
    }
}

fn method_label(f: Factor) -> &'static str {
    match f {
        Factor::Passkey => "Passkey",
        Factor::Totp => "Authenticator app",
        Factor::EmailCode => "Code by e-mail",
        Factor::RecoveryCode => "Recovery code",
    }
}

/// `j•••@example.com`: enough for the person to recognise the address, not to learn it.
fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "your e-mail address".to_owned(),
    }
}

async fn render(
    state: &AppState,
    csrf: Csrf,
    jar: CookieJar,
    p: &PendingSignIn,
    v: View<'_>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let others: Vec<_> = v
        .offered
        .iter()
        .copied()
        .filter(|f| *f != v.method)
        .map(|f| context! { href => factor_page_url(Some(f), v.req, v.next), label => method_label(f) })
        .collect();
    let mut page = Page::render(
        &state.templates,
        "authn/factor.html",
        context! {
            req => v.req,
            next => v.next,
            method => v.method.as_str(),
            method_label => method_label(v.method),
            others => others,
            email_hint => v.email_hint,
            code_sent => p.email_code_hash.is_some(),
            error => v.error,
            notice => v.notice,
            client_name => v.client_name,
            step_up => p.session_id.is_some(),
            remember_days => state.config.mfa.remember_device_days,
            csrf => csrf.token(),
        },
    )?
    .status(status);
    if let Some(uri) = &v.redirect_uri {
        page = page.allow_form_target(uri);
    }
    Ok((csrf.jar(), jar, page).into_response())
}

/// The application's pending request behind `req`: `Err(())` when it expired or was used.
pub(super) async fn app_of(
    state: &AppState,
    req: Option<&str>,
) -> Result<Result<Option<PendingView>, ()>, AppError> {
    Ok(match req {
        Some(r) => pending_view(state, r).await?.map(Some).ok_or(()),
        None => Ok(None),
    })
}

/// The pending sign-in this browser is in the middle of, if any.
async fn from_cookie(state: &AppState, jar: &CookieJar) -> Result<Option<PendingSignIn>, AppError> {
    let name = cookies::name(cookies::Kind::SignIn, state.config.issuer.is_https());
    let Some(c) = jar.get(&name) else {
        return Ok(None);
    };
    Ok(pending::find(&state.db, &state.tokens, state.clock.now(), c.value()).await?)
}

pub async fn factor_get(
    State(state): State<AppState>,
    jar: CookieJar,
    csrf: Csrf,
    Query(q): Query<FactorQuery>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let req = q.req.as_deref().filter(|r| !r.is_empty());
    let next = safe_next(q.next.as_deref());
    let Ok(app) = app_of(&state, req).await? else {
        return Ok(expired_page());
    };
    let https = state.config.issuer.is_https();
    let (p, jar) = match from_cookie(&state, &jar).await? {
        Some(p) => (p, jar),
        None => {
            // No sign-in in progress: a signed-in session steps up, without the password.
            let Some(sso) = current_session(&state, &jar, now).await? else {
                let mut to = endpoints::LOGIN.to_owned();
                if let Some(r) = req {
                    to = format!("{to}?req={r}");
                }
                return Ok(Redirect::to(&to).into_response());
            };
            let ttl = Duration::seconds(state.config.mfa.pending_ttl_secs);
            let (token, p) = pending::begin(
                &state.db,
                &state.tokens,
                now,
                ttl,
                &sso.account_id,
                Some(&sso.id),
                &sso.amr,
            )
            .await?;
            (
                p,
                jar.add(cookies::build(cookies::Kind::SignIn, https, token)),
            )
        }
    };
    let Some(account) = store::accounts::find_by_id(&state.db, &p.account_id).await? else {
        return Ok(sign_in_expired());
    };
    let view = View::new(&state, &account, req, next, app, q.method.as_deref()).await?;
    render(&state, csrf, jar, &p, view, StatusCode::OK).await
}

pub async fn factor_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    Form(form): Form<FactorForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let https = state.config.issuer.is_https();
    let req = form.req.as_deref().filter(|r| !r.is_empty());
    let next = safe_next(form.next.as_deref());
    let Ok(app) = app_of(&state, req).await? else {
        return Ok(expired_page());
    };
    let Some(p) = from_cookie(&state, &jar).await? else {
        return Ok(sign_in_expired());
    };
    let Some(mut account) = store::accounts::find_by_id(&state.db, &p.account_id).await? else {
        return Ok(sign_in_expired());
    };
    let mut view = View::new(&state, &account, req, next, app, Some(&form.method)).await?;
    let method = view.method;
    if !csrf.verify(&form.csrf) {
        view.error = Some(FORM_EXPIRED);
        return render(&state, csrf, jar, &p, view, StatusCode::FORBIDDEN).await;
    }
    // The account may have been locked or deactivated since the password was checked.
    let status = lockout::current_status(&state.db, &state.config, now, &ctx, &mut account).await?;
    if status != Some(AccountStatus::Active) {
        store::mfa::complete_state(&state.db, &p.id, now).await?;
        let jar = jar.add(cookies::removal(cookies::Kind::SignIn, https));
        if status != Some(AccountStatus::Locked) {
            return Ok((jar, sign_in_expired()).into_response());
        }
        return Ok((jar, locked_page(&state, account.locked_until)).into_response());
    }
    let txn = state.begin_write().await?;
    if form.action == "send" {
        if method != Factor::EmailCode {
            return Ok(sign_in_expired());
        }
        let sent = email_code::send(
            &txn,
            &state.tokens,
            &state.sealer,
            &state.config.mfa,
            now,
            &p,
            &account,
        )
        .await?;
        if sent == email_code::Sent::Sent {
            audit::record(
                &txn,
                now,
                &ctx,
                AuditEvent::MfaEmailCodeSent,
                Actor::Account(&account.id),
                Some(&account.id),
                serde_json::json!({}),
            )
            .await?;
        }
        txn.commit().await?;
        let p = store::mfa::find_state(&state.db, &p.token_hash)
            .await?
            .unwrap_or(p);
        let status = match sent {
            email_code::Sent::Sent => {
                view.notice = Some("We sent a code. It may take a minute to arrive.");
                StatusCode::OK
            }
            email_code::Sent::TooMany => {
                view.error = Some(
                    "We have sent several codes in the last hour. Use the latest one, or try again later.",
                );
                StatusCode::TOO_MANY_REQUESTS
            }
        };
        return render(&state, csrf, jar, &p, view, status).await;
    }
    let deps = second_factor::Deps {
        tokens: &state.tokens,
        sealer: &state.sealer,
        mfa: &state.config.mfa,
        lockout: &state.config.lockout,
        passkeys: state.passkeys.as_deref(),
    };
    let answer;
    let proof = if method == Factor::Passkey {
        let Some(a) = parse_credential(&form.credential) else {
            txn.rollback().await?;
            view.error = Some(PASSKEY_WRONG);
            return render(&state, csrf, jar, &p, view, StatusCode::BAD_REQUEST).await;
        };
        answer = a;
        Proof::Passkey {
            ceremony: &form.ceremony,
            credential: &answer,
        }
    } else {
        Proof::Code(method, &form.code)
    };
    let outcome = second_factor::verify(&txn, &deps, now, &ctx, &p, proof).await?;
    let amr = match outcome {
        Outcome::Verified { amr } => amr,
        Outcome::Finished => {
            txn.commit().await?;
            return Ok(sign_in_expired());
        }
        Outcome::Wrong { locked: true } => {
            store::mfa::complete_states_of_account(&txn, &account.id, now).await?;
            txn.commit().await?;
            let jar = jar.add(cookies::removal(cookies::Kind::SignIn, https));
            let until = store::accounts::find_by_id(&state.db, &account.id)
                .await?
                .and_then(|a| a.locked_until);
            return Ok((jar, locked_page(&state, until)).into_response());
        }
        Outcome::Wrong { locked: false } => {
            txn.commit().await?;
            let p = store::mfa::find_state(&state.db, &p.token_hash)
                .await?
                .unwrap_or(p);
            view.error = Some(match method {
                Factor::Passkey => PASSKEY_WRONG,
                Factor::Totp => {
                    "That code is not right. Enter the 6-digit code your authenticator app shows now."
                }
                Factor::EmailCode => {
                    "That code is not right or has expired. Check the latest e-mail, or send a new code."
                }
                Factor::RecoveryCode => "That recovery code is not right or was already used.",
            });
            return render(
                &state,
                csrf,
                jar,
                &p,
                view,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let mut jar = jar.add(cookies::removal(cookies::Kind::SignIn, https));
    let remember_days = state.config.mfa.remember_device_days;
    if form.remember.is_some() && remember_days > 0 {
        let existing = jar
            .get(&cookies::name(cookies::Kind::Device, https))
            .map(|c| c.value().to_owned());
        let token = devices::remember(
            &txn,
            &state.tokens,
            now,
            &account.id,
            existing.as_deref(),
            remember_days,
        )
        .await?;
        audit::record(
            &txn,
            now,
            &ctx,
            AuditEvent::DeviceRemembered,
            Actor::Account(&account.id),
            Some(&account.id),
            serde_json::json!({ "days": remember_days }),
        )
        .await?;
        jar = jar.add(cookies::persistent(
            cookies::Kind::Device,
            https,
            token,
            remember_days,
        ));
    }
    let (sso, how) = match &p.session_id {
        // A signed-in session stepping up: same session, stronger now.
        Some(sid) => {
            let current = current_session(&state, &jar, now).await?;
            let Some(mut sso) = current.filter(|s| &s.id == sid) else {
                return Ok(sign_in_expired());
            };
            if !session::step_up(&txn, now, sid, &amr, acr::AAL2).await? {
                return Ok(sign_in_expired());
            }
            sso.amr = amr;
            sso.acr = acr::AAL2.to_owned();
            sso.auth_time = now;
            (sso, Resume::SteppedUp)
        }
        None => {
            login::record_success(&txn, now, &ctx, &account.id, &amr).await?;
            let previous = current_session(&state, &jar, now).await?;
            let amr_refs: Vec<&str> = amr.iter().map(String::as_str).collect();
            let (sso, token) = session::replace(
                &txn,
                &state.tokens,
                now,
                &ctx,
                previous.as_ref(),
                session::Authenticated {
                    account_id: &account.id,
                    amr: &amr_refs,
                    acr: acr::AAL2,
                    remembered: false,
                },
                Duration::seconds(state.config.session.lifetime_secs),
            )
            .await?;
            jar = jar.add(cookies::build(cookies::Kind::Session, https, token));
            (sso, Resume::SignedIn)
        }
    };
    continue_after_sign_in(&state, &ctx, txn, jar, req, next, &sso, how).await
}

const PASSKEY_WRONG: &str =
    "That passkey could not be used. Use a passkey of this user ID, or choose another way below.";

/// The pending sign-in is gone (finished, expired, or never started in this browser).
fn sign_in_expired() -> Response {
    crate::error::ErrorPage {
        status: StatusCode::BAD_REQUEST,
        title: "Your sign-in has expired".into(),
        message: "For your security, the second step must follow the password within a few minutes. Go back to the application and sign in again.".into(),
    }
    .into_response()
}

/// Too many wrong codes locked the account (or it was locked meanwhile).
fn locked_page(state: &AppState, until: Option<chrono::DateTime<chrono::Utc>>) -> Response {
    crate::error::ErrorPage {
        status: StatusCode::FORBIDDEN,
        title: "Your online access is locked".into(),
        message: super::routes::locked_message(&state.config.helpdesk, until).into(),
    }
    .into_response()
}
