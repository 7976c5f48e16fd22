//! "Forgot user ID" and "Forgot password" screens and the new-password page a reset link
//! (or two right challenge answers) opens. The handlers only translate HTTP; the rules live
//! in `accounts::recovery`. Every POST here is throttled per client IP (`web::throttle`).

use axum::{
    Form, Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use chrono::Duration;
use minijinja::{Value, context};
use secrecy::SecretString;
use serde::Deserialize;

use super::{
    passwords::ChangeError,
    recovery::{self, AnswersOutcome, RESET_PATH, ResetDone, ResetError},
};
use crate::{
    authn::routes::locked_message,
    error::AppError,
    state::AppState,
    web::{
        Page,
        context::RequestContext,
        csrf::{Csrf, FORM_EXPIRED},
        text,
    },
};

pub const FORGOT_USER_ID: &str = "/forgot/user-id";
pub const FORGOT_PASSWORD: &str = "/forgot/password";
const ANSWERS: &str = "/forgot/password/answers";
const TICKET_PURPOSE: &str = "forgot-password";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(FORGOT_USER_ID, get(user_id_get).post(user_id_post))
        .route(FORGOT_PASSWORD, get(password_get).post(password_post))
        .route(ANSWERS, post(answers_post))
        .route(RESET_PATH, get(reset_get).post(reset_post))
}

fn page(
    state: &AppState,
    csrf: Csrf,
    name: &str,
    ctx: Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let ctx = context! { csrf => csrf.token(), ..ctx };
    let page = Page::render(&state.templates, name, ctx)?.status(status);
    Ok((csrf.jar(), page).into_response())
}

/// The same page for every outcome a stranger must not tell apart.
fn sent(state: &AppState, csrf: Csrf, title: &str, message: &str) -> Result<Response, AppError> {
    page(
        state,
        csrf,
        "recover/sent.html",
        context! { title => title, message => message },
        StatusCode::OK,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EmailForm {
    csrf: String,
    email: String,
}

async fn user_id_get(State(state): State<AppState>, csrf: Csrf) -> Result<Response, AppError> {
    page(
        &state,
        csrf,
        "recover/forgot_user_id.html",
        context! {},
        StatusCode::OK,
    )
}

async fn user_id_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    csrf: Csrf,
    Form(form): Form<EmailForm>,
) -> Result<Response, AppError> {
    let error = if !csrf.verify(&form.csrf) {
        Some((FORM_EXPIRED, StatusCode::FORBIDDEN))
    } else if !super::users::valid_email(form.email.trim()) || form.email.len() > 254 {
        Some((
            "Enter the e-mail address you registered with.",
            StatusCode::UNPROCESSABLE_ENTITY,
        ))
    } else {
        None
    };
    if let Some((error, status)) = error {
        let email: String = form.email.chars().take(254).collect();
        let ctx = context! { error => error, email => email };
        return page(&state, csrf, "recover/forgot_user_id.html", ctx, status);
    }
    let txn = state.begin_write().await?;
    recovery::remind_user_ids(&txn, state.clock.now(), &ctx, &form.email).await?;
    txn.commit().await?;
    sent(
        &state,
        csrf,
        "Check your e-mail",
        "If any user IDs are registered to that address, we have e-mailed them to it. It may take a few minutes to arrive.",
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UsernameQuery {
    username: Option<String>,
}

async fn password_get(
    State(state): State<AppState>,
    csrf: Csrf,
    Query(q): Query<UsernameQuery>,
) -> Result<Response, AppError> {
    let username: Option<String> = q.username.map(|u| u.chars().take(64).collect());
    let ctx = context! { username => username };
    page(
        &state,
        csrf,
        "recover/forgot_password.html",
        ctx,
        StatusCode::OK,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PasswordForm {
    csrf: String,
    username: String,
    /// "link" (e-mail me a link) or "questions" (answer my challenge questions).
    method: String,
}

async fn password_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    csrf: Csrf,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let username: String = form.username.trim().chars().take(64).collect();
    let error = if !csrf.verify(&form.csrf) {
        Some((FORM_EXPIRED, StatusCode::FORBIDDEN))
    } else if username.is_empty() {
        Some(("Enter your user ID.", StatusCode::UNPROCESSABLE_ENTITY))
    } else if !matches!(form.method.as_str(), "link" | "questions") {
        Some((
            "Choose how to confirm it's you.",
            StatusCode::UNPROCESSABLE_ENTITY,
        ))
    } else {
        None
    };
    if let Some((error, status)) = error {
        let ctx = context! { error => error, username => username };
        return page(&state, csrf, "recover/forgot_password.html", ctx, status);
    }
    let now = state.clock.now();
    if form.method == "link" {
        let txn = state.begin_write().await?;
        recovery::send_reset_link(
            &txn,
            &state.tokens,
            &state.sealer,
            &state.config,
            now,
            &ctx,
            &username,
        )
        .await?;
        txn.commit().await?;
        let minutes = recovery::LINK_MINUTES;
        return sent(
            &state,
            csrf,
            "Check your e-mail",
            &format!(
                "If that user ID is registered, we have e-mailed a link to its address. The link works once, for {minutes} minutes."
            ),
        );
    }
    let questions =
        recovery::challenge_questions(&state.db, &state.tokens, &state.config.questions, &username)
            .await?;
    let ticket = csrf.ticket(TICKET_PURPOSE, &username, now + Duration::minutes(15));
    let ctx = context! { username => username, questions => questions, ticket => ticket };
    page(&state, csrf, "recover/questions.html", ctx, StatusCode::OK)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AnswersForm {
    csrf: String,
    ticket: String,
    a1: String,
    a2: String,
}

async fn answers_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    csrf: Csrf,
    Form(form): Form<AnswersForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let username = csrf
        .verify(&form.csrf)
        .then(|| csrf.open_ticket(TICKET_PURPOSE, &form.ticket, now))
        .flatten();
    let Some(username) = username else {
        let ctx = context! { error => "This page has expired. Start again." };
        return page(
            &state,
            csrf,
            "recover/forgot_password.html",
            ctx,
            StatusCode::FORBIDDEN,
        );
    };
    if form.a1.trim().is_empty()
        || form.a2.trim().is_empty()
        || form.a1.len() > 200
        || form.a2.len() > 200
    {
        let questions = recovery::challenge_questions(
            &state.db,
            &state.tokens,
            &state.config.questions,
            &username,
        )
        .await?;
        let ctx = context! {
            username => username, questions => questions, ticket => form.ticket,
            error => "Answer both questions.",
        };
        return page(
            &state,
            csrf,
            "recover/questions.html",
            ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let (a1, a2) = (SecretString::from(form.a1), SecretString::from(form.a2));
    let txn = state.begin_write().await?;
    let outcome = recovery::check_answers(
        &txn,
        &state.passwords,
        &state.tokens,
        &state.config,
        now,
        &ctx,
        &username,
        [&a1, &a2],
    )
    .await?;
    txn.commit().await?;
    match outcome {
        AnswersOutcome::Reset(token) => {
            Ok(Redirect::to(&format!("{RESET_PATH}?token={token}")).into_response())
        }
        AnswersOutcome::Locked => {
            let message = format!(
                "Those answers do not match our records. For your protection, {}",
                text::lower_first(&locked_message(&state.config.helpdesk, None))
            );
            let ctx = context! { title => "Your online access is locked", message => message, alert => true };
            page(
                &state,
                csrf,
                "recover/sent.html",
                ctx,
                StatusCode::FORBIDDEN,
            )
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenQuery {
    token: String,
}

fn link_expired(state: &AppState, csrf: Csrf) -> Result<Response, AppError> {
    let ctx = context! {
        title => "This link has expired",
        message => "Reset links work once, for a short time. Ask for a new one.",
        alert => true,
        again => true,
    };
    page(state, csrf, "recover/sent.html", ctx, StatusCode::GONE)
}

async fn reset_get(
    State(state): State<AppState>,
    csrf: Csrf,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let live =
        recovery::reset_account(&state.db, &state.tokens, state.clock.now(), &q.token).await?;
    let Some((reset, account)) = live else {
        return link_expired(&state, csrf);
    };
    let ctx = context! {
        forced => reset.method == "forced_change",
        token => q.token, username => account.username,
        min_length => state.config.accounts.password_min_length,
    };
    page(&state, csrf, "recover/reset.html", ctx, StatusCode::OK)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResetForm {
    csrf: String,
    token: String,
    password: String,
    password_confirm: String,
}

async fn reset_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    csrf: Csrf,
    Form(form): Form<ResetForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let Some((_, account)) =
        recovery::reset_account(&state.db, &state.tokens, now, &form.token).await?
    else {
        return link_expired(&state, csrf);
    };
    let again = |csrf: Csrf, error: String, status| {
        let ctx = context! {
            token => &form.token, username => &account.username, error => error,
            min_length => state.config.accounts.password_min_length,
        };
        page(&state, csrf, "recover/reset.html", ctx, status)
    };
    if !csrf.verify(&form.csrf) {
        return again(csrf, FORM_EXPIRED.to_owned(), StatusCode::FORBIDDEN);
    }
    if form.password.len() > 1024 {
        return again(
            csrf,
            "That password is too long.".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let (new, confirm) = (
        SecretString::from(form.password.clone()),
        SecretString::from(form.password_confirm.clone()),
    );
    let txn = state.begin_write().await?;
    let done = recovery::reset_password(
        &txn,
        &state.passwords,
        &state.tokens,
        &state.config,
        now,
        &ctx,
        &form.token,
        &new,
        &confirm,
    )
    .await;
    let done = match done {
        Ok(d) => d,
        Err(ResetError::Expired) => {
            txn.rollback().await?;
            return link_expired(&state, csrf);
        }
        Err(ResetError::Change(ChangeError::Internal(e))) => return Err(AppError::Internal(e)),
        Err(ResetError::Change(e)) => {
            txn.rollback().await?;
            return again(csrf, text::sentence(e), StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    txn.commit().await?;
    let (title, message, alert) = match done {
        ResetDone::Ready => (
            "Your password is changed",
            "You have been signed out everywhere. Sign in with your new password.".to_owned(),
            false,
        ),
        ResetDone::StillLocked => (
            "Your password is changed",
            format!(
                "Your online access is still locked, though: {}",
                text::lower_first(&locked_message(&state.config.helpdesk, None))
            ),
            true,
        ),
    };
    let ctx = context! { title => title, message => message, alert => alert, sign_in => true };
    page(&state, csrf, "recover/sent.html", ctx, StatusCode::OK)
}
