//! The provider's own start page: who is signed in, and a way to sign out.

use axum::{
    extract::State,
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::CookieJar;
use minijinja::context;

use crate::{
    authn::routes::current_session,
    error::AppError,
    oidc::endpoints,
    state::AppState,
    store,
    web::{Page, csrf::Csrf},
};

pub async fn home_get(
    State(state): State<AppState>,
    jar: CookieJar,
    csrf: Csrf,
) -> Result<Response, AppError> {
    let Some(session) = current_session(&state, &jar, state.clock.now()).await? else {
        return Ok(Redirect::to(endpoints::LOGIN).into_response());
    };
    let Some(account) = store::accounts::find_by_id(&state.db, &session.account_id).await? else {
        return Ok(Redirect::to(endpoints::LOGIN).into_response());
    };
    let page = Page::render(
        &state.templates,
        "account/home.html",
        context! {
            username => account.username,
            given_name => account.given_name,
            csrf => csrf.token(),
        },
    )?;
    Ok((csrf.jar(), page).into_response())
}
