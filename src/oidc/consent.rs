//! The consent screen: which application, which scopes and claims; allow or deny.

use axum::{
    Form,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde::Deserialize;

use super::{
    authorize::{
        expired_page,
        flow::{self, ConsentAnswer, Resume},
        flow_deps, pending_for_page, step_response,
    },
    endpoints, scope,
};
use crate::{
    authn::routes::current_session,
    error::AppError,
    state::AppState,
    web::{Page, context::RequestContext, csrf::Csrf},
};

#[derive(Debug, Deserialize)]
pub struct ConsentQuery {
    req: String,
}

/// What each scope means to a person, in plain words.
fn describe(s: &str) -> Option<&'static str> {
    match s {
        scope::OPENID => Some("Confirm who you are (your user ID)"),
        scope::PROFILE => Some("Your name and user ID"),
        scope::EMAIL => Some("Your e-mail address"),
        scope::OFFLINE_ACCESS => {
            Some("Stay connected while you are signed out (keep access until you revoke it)")
        }
        _ => None,
    }
}

async fn render(
    state: &AppState,
    csrf: Csrf,
    req: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let Some((pending, client)) = pending_for_page(state, req).await? else {
        return Ok(expired_page());
    };
    let items: Vec<&str> = pending.request.scope.iter().filter_map(describe).collect();
    let page = Page::render(
        &state.templates,
        "oidc/consent.html",
        context! {
            req => req,
            client_name => client.name,
            third_party => client.third_party,
            items => items,
            error => error,
            csrf => csrf.token(),
        },
    )?
    .status(status)
    .allow_form_target(&pending.request.redirect_uri);
    Ok((csrf.jar(), page).into_response())
}

pub async fn consent_get(
    State(state): State<AppState>,
    jar: CookieJar,
    csrf: Csrf,
    Query(q): Query<ConsentQuery>,
) -> Result<Response, AppError> {
    if current_session(&state, &jar, state.clock.now())
        .await?
        .is_none()
    {
        return Ok(Redirect::to(&format!("{}?req={}", endpoints::LOGIN, q.req)).into_response());
    }
    render(&state, csrf, &q.req, None, StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConsentForm {
    req: String,
    decision: String,
    csrf: String,
}

pub async fn consent_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    Form(form): Form<ConsentForm>,
) -> Result<Response, AppError> {
    if !csrf.verify(&form.csrf) {
        return render(
            &state,
            csrf,
            &form.req,
            Some(crate::web::csrf::FORM_EXPIRED),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let answer = match form.decision.as_str() {
        "allow" => ConsentAnswer::Allow,
        "deny" => ConsentAnswer::Deny,
        _ => {
            return render(
                &state,
                csrf,
                &form.req,
                Some("Choose Allow or Deny."),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let now = state.clock.now();
    let Some(session) = current_session(&state, &jar, now).await? else {
        return Ok(Redirect::to(&format!("{}?req={}", endpoints::LOGIN, form.req)).into_response());
    };
    let txn = state.begin_write().await?;
    let step = flow::resume(
        &txn,
        &flow_deps(&state, &ctx),
        now,
        &form.req,
        &session,
        Resume::Consented(answer),
    )
    .await;
    if step.is_ok() {
        txn.commit().await?;
    }
    Ok(step_response(step))
}
