//! The screen shown when a signed-in account reaches a `grant_required` application it has
//! no grant for: request access (with an optional reason), or return to the application
//! with `access_denied`.

use axum::{
    Form, Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde::Deserialize;

use super::requests::{self, KIND_ACCESS, RequestError};
use crate::{
    authn::{routes::current_session, session::SsoSession},
    error::AppError,
    oidc::{
        authorize::{
            expired_page,
            flow::{self, Resume},
            flow_deps, pending_for_page, step_response,
        },
        endpoints,
    },
    state::AppState,
    store,
    web::{Page, context::RequestContext, csrf::Csrf},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(endpoints::ACCESS, get(access_get).post(access_post))
        .route(endpoints::TERMS, get(terms_get).post(terms_post))
}

#[derive(Debug, Deserialize)]
pub struct AccessQuery {
    req: String,
}

struct View<'a> {
    req: &'a str,
    sent: bool,
    error: Option<&'a str>,
}

async fn render(
    state: &AppState,
    csrf: Csrf,
    session: &SsoSession,
    v: View<'_>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let Some((pending, client)) = pending_for_page(state, v.req).await? else {
        return Ok(expired_page());
    };
    let username = store::accounts::find_by_id(&state.db, &session.account_id)
        .await?
        .map(|a| a.username)
        .unwrap_or_default();
    let already = store::access::find_pending_request(
        &state.db,
        KIND_ACCESS,
        &session.account_id,
        &client.client_id,
    )
    .await?
    .is_some();
    let page = Page::render(
        &state.templates,
        "access/request.html",
        context! {
            req => v.req,
            client_name => client.name,
            username => username,
            sent => v.sent || already,
            error => v.error,
            csrf => csrf.token(),
        },
    )?
    .status(status)
    .allow_form_target(&pending.request.redirect_uri);
    Ok((csrf.jar(), page).into_response())
}

fn to_login(req: &str) -> Response {
    Redirect::to(&format!("{}?req={req}", endpoints::LOGIN)).into_response()
}

async fn access_get(
    State(state): State<AppState>,
    jar: CookieJar,
    csrf: Csrf,
    Query(q): Query<AccessQuery>,
) -> Result<Response, AppError> {
    let Some(session) = current_session(&state, &jar, state.clock.now()).await? else {
        return Ok(to_login(&q.req));
    };
    render(
        &state,
        csrf,
        &session,
        View {
            req: &q.req,
            sent: false,
            error: None,
        },
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AccessForm {
    req: String,
    decision: String,
    reason: String,
    csrf: String,
}

async fn access_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    Form(form): Form<AccessForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let Some(session) = current_session(&state, &jar, now).await? else {
        return Ok(to_login(&form.req));
    };
    let view = |error| View {
        req: &form.req,
        sent: false,
        error,
    };
    if !csrf.verify(&form.csrf) {
        return render(
            &state,
            csrf,
            &session,
            view(Some(crate::web::csrf::FORM_EXPIRED)),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    match form.decision.as_str() {
        "request" => {
            let Some((pending, _)) = pending_for_page(&state, &form.req).await? else {
                return Ok(expired_page());
            };
            let txn = state.begin_write().await?;
            match requests::file(
                &txn,
                now,
                &ctx,
                &session.account_id,
                &pending.request.client_id,
                Some(&form.reason),
            )
            .await
            {
                Ok(_) => txn.commit().await?,
                Err(RequestError::ReasonTooLong) => {
                    return render(
                        &state,
                        csrf,
                        &session,
                        view(Some("Please keep the reason under 500 characters.")),
                        StatusCode::UNPROCESSABLE_ENTITY,
                    )
                    .await;
                }
                Err(e) => return Err(AppError::Internal(e.into())),
            }
            render(
                &state,
                csrf,
                &session,
                View {
                    req: &form.req,
                    sent: true,
                    error: None,
                },
                StatusCode::OK,
            )
            .await
        }
        "decline" => {
            let txn = state.begin_write().await?;
            let step = flow::resume(
                &txn,
                &flow_deps(&state, &ctx),
                now,
                &form.req,
                &session,
                Resume::DeclinedAccess,
            )
            .await;
            if step.is_ok() {
                txn.commit().await?;
            }
            Ok(step_response(step))
        }
        _ => {
            render(
                &state,
                csrf,
                &session,
                view(Some("Choose Request access or Return.")),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

// ----- an application's terms, accepted once before first use -----

async fn render_terms(
    state: &AppState,
    csrf: Csrf,
    req: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let Some((pending, client)) = pending_for_page(state, req).await? else {
        return Ok(expired_page());
    };
    let page = Page::render(
        &state.templates,
        "access/terms.html",
        context! { req => req, client_name => client.name, terms => client.terms, error => error, csrf => csrf.token() },
    )?
    .status(status)
    .allow_form_target(&pending.request.redirect_uri);
    Ok((csrf.jar(), page).into_response())
}

async fn terms_get(
    State(state): State<AppState>,
    jar: CookieJar,
    csrf: Csrf,
    Query(q): Query<AccessQuery>,
) -> Result<Response, AppError> {
    if current_session(&state, &jar, state.clock.now())
        .await?
        .is_none()
    {
        return Ok(to_login(&q.req));
    }
    render_terms(&state, csrf, &q.req, None, StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TermsForm {
    req: String,
    decision: String,
    csrf: String,
}

async fn terms_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    Form(form): Form<TermsForm>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let Some(session) = current_session(&state, &jar, now).await? else {
        return Ok(to_login(&form.req));
    };
    if !csrf.verify(&form.csrf) {
        return render_terms(
            &state,
            csrf,
            &form.req,
            Some(crate::web::csrf::FORM_EXPIRED),
            StatusCode::FORBIDDEN,
        )
        .await;
    }
    let event = match form.decision.as_str() {
        "accept" => Resume::AcceptedTerms,
        "decline" => Resume::DeclinedTerms,
        _ => {
            return render_terms(
                &state,
                csrf,
                &form.req,
                Some("Choose I accept or Decline."),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let txn = state.begin_write().await?;
    let step = flow::resume(
        &txn,
        &flow_deps(&state, &ctx),
        now,
        &form.req,
        &session,
        event,
    )
    .await;
    if step.is_ok() {
        txn.commit().await?;
    }
    Ok(step_response(step))
}
