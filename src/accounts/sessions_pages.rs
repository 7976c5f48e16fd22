//! "Where you're signed in" (`/account/sessions`): the account's live sessions, and signing
//! out of one of them or of all. Ending the session of this browser is an ordinary sign-out
//! (the signed-out page with its front-channel frames); ending another device's session
//! reaches that device's applications by back-channel logout.

use axum::{
    Form, Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_extra::extract::CookieJar;
use minijinja::context;
use serde::Deserialize;

use crate::{
    accounts::sessions,
    authn::{logout, routes::current_session, session::SsoSession},
    error::AppError,
    oidc::{end_session::signed_out, endpoints},
    state::AppState,
    web::{Page, context::RequestContext, csrf::Csrf},
};

pub const SESSIONS: &str = "/account/sessions";
const END: &str = "/account/sessions/end";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(SESSIONS, get(sessions_get))
        .route(END, post(end_post))
}

async fn signed_in(
    state: &AppState,
    jar: &CookieJar,
) -> Result<Result<SsoSession, Response>, AppError> {
    match current_session(state, jar, state.clock.now()).await? {
        Some(s) => Ok(Ok(s)),
        None => {
            let to = format!("{}?next=%2Faccount%2Fsessions", endpoints::LOGIN);
            Ok(Err(Redirect::to(&to).into_response()))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Done {
    done: Option<String>,
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%-d %b %Y, %H:%M UTC").to_string()
}

async fn render(
    state: &AppState,
    csrf: Csrf,
    current: &SsoSession,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let rows: Vec<_> = sessions::list(&state.db, &state.config.session, now, &current.account_id)
        .await?
        .into_iter()
        .map(|s| {
            context! {
                this_device => s.id == current.id,
                id => s.id,
                device => s.device,
                client_ip => s.client_ip,
                started => when(s.started),
                last_active => when(s.last_active),
                apps => s.apps,
            }
        })
        .collect();
    let page = Page::render(
        &state.templates,
        "account/sessions.html",
        context! { sessions => rows, csrf => csrf.token(), notice => notice, error => error },
    )?
    .status(status);
    Ok((csrf.jar(), page).into_response())
}

async fn sessions_get(
    State(state): State<AppState>,
    jar: CookieJar,
    csrf: Csrf,
    Query(q): Query<Done>,
) -> Result<Response, AppError> {
    let current = match signed_in(&state, &jar).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    // A fixed message: nothing from the URL is echoed.
    let notice = (q.done.as_deref() == Some("ended"))
        .then_some("That device is signed out, and so are its applications.");
    render(&state, csrf, &current, notice, None, StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EndForm {
    csrf: String,
    /// The session to end; absent with `all`.
    session: Option<String>,
    all: Option<String>,
}

async fn end_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    Form(f): Form<EndForm>,
) -> Result<Response, AppError> {
    let current = match signed_in(&state, &jar).await? {
        Ok(s) => s,
        Err(r) => return Ok(r),
    };
    if !csrf.verify(&f.csrf) {
        let error = Some(crate::web::csrf::FORM_EXPIRED);
        return render(&state, csrf, &current, None, error, StatusCode::FORBIDDEN).await;
    }
    let now = state.clock.now();
    let all = f.all.is_some();
    let this_one = f.session.as_deref() == Some(current.id.as_str());
    let txn = state.begin_write().await?;
    // This browser's applications get front-channel frames too when its session ends.
    let frontchannel = if all || this_one {
        logout::front_channel_urls(&txn, state.issuer(), &current.id).await?
    } else {
        Vec::new()
    };
    let ended = if all {
        sessions::end_all(&txn, now, &ctx, &current.account_id).await? > 0
    } else {
        match &f.session {
            Some(id) => sessions::end_one(&txn, now, &ctx, &current.account_id, id).await?,
            None => false,
        }
    };
    txn.commit().await?;
    state.backchannel.wake();
    if all || this_one {
        return signed_out(&state, jar, None, &frontchannel, None);
    }
    if !ended {
        let error = Some("That session had already ended.");
        return render(&state, csrf, &current, None, error, StatusCode::NOT_FOUND).await;
    }
    Ok(Redirect::to(&format!("{SESSIONS}?done=ended")).into_response())
}
