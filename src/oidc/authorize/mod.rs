//! The authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2), GET and POST.

pub mod decision;
pub mod flow;
pub mod request;

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::CookieJar;
use chrono::Duration;

use self::{
    flow::{FlowDeps, FlowError, Step},
    request::AuthorizeError,
};
use crate::{
    authn::routes::current_session_with_standing,
    error::{AppError, ErrorPage},
    oidc::{endpoints, error::OAuthError},
    state::AppState,
    web::{context::RequestContext, params::Params},
};

pub async fn authorize_get(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    RawQuery(q): RawQuery,
) -> Response {
    authorize(&state, &ctx, &jar, q.unwrap_or_default().as_bytes()).await
}

pub async fn authorize_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return render_error(OAuthError::invalid_request(
            "the authorization request must be form-encoded",
        ));
    }
    authorize(&state, &ctx, &jar, &body).await
}

pub fn flow_deps<'a>(state: &'a AppState, ctx: &'a RequestContext) -> FlowDeps<'a> {
    let t = &state.config.tokens;
    FlowDeps {
        ctx,
        tokens: &state.tokens,
        issuer: state.issuer(),
        code_ttl: Duration::seconds(t.authorization_code_ttl_secs),
        request_ttl: Duration::seconds(t.authorization_request_ttl_secs),
        mfa_default: state.config.mfa.default_policy,
        writer: &state.token_writes,
    }
}

async fn authorize(
    state: &AppState,
    ctx: &RequestContext,
    jar: &CookieJar,
    raw: &[u8],
) -> Response {
    let params = match Params::parse(raw) {
        Ok(p) => p,
        Err(e) => return render_error(OAuthError::invalid_request(e.to_string())),
    };
    let client = match params
        .get("client_id")
        .filter(|_| !params.is_duplicated("client_id"))
    {
        // From the client cache, as at the token endpoint: an application sends each person
        // here on every sign-in, and a change to it is seen at once on this node and within
        // `cache.clients_secs` on the others (`access::client_cache`).
        Some(id) => match state.clients.get(&state.db, id).await {
            Ok(c) => c,
            Err(e) => return AppError::Internal(e).into_response(),
        },
        None => None,
    };
    let request = match request::validate(
        &params,
        client.as_deref(),
        &state.keyring.ring(),
        state.issuer(),
    ) {
        Ok(r) => r,
        Err(AuthorizeError::Render(e)) => return render_error(e),
        Err(AuthorizeError::Redirect {
            redirect_uri,
            state: st,
            error,
        }) => {
            return Redirect::to(&flow::error_redirect_to(
                state.issuer(),
                &redirect_uri,
                st.as_deref(),
                &error,
            ))
            .into_response();
        }
    };
    let Some(client) = client else {
        return AppError::Internal(anyhow::anyhow!("validated request without client"))
            .into_response();
    };
    let result = async {
        let now = state.clock.now();
        let deps = flow_deps(state, ctx);
        let ask = flow::ask(&deps, &client);
        let signed_in = current_session_with_standing(state, jar, now, &ask).await?;
        let txn = state.begin_write().await?;
        let step = flow::begin(
            &txn,
            &deps,
            now,
            &client,
            request,
            signed_in.as_ref().map(|(s, st)| (s, st)),
        )
        .await?;
        txn.commit().await?;
        Ok::<_, FlowError>(step)
    }
    .await;
    step_response(result)
}

/// Turns the flow's next step into the browser's next hop.
pub fn step_response(step: Result<Step, FlowError>) -> Response {
    match step {
        Ok(Step::Login(id)) => {
            Redirect::to(&format!("{}?req={id}", endpoints::LOGIN)).into_response()
        }
        Ok(Step::SecondFactor(id)) => {
            Redirect::to(&format!("{}?req={id}", endpoints::LOGIN_FACTOR)).into_response()
        }
        Ok(Step::Consent(id)) => {
            Redirect::to(&format!("{}?req={id}", endpoints::CONSENT)).into_response()
        }
        Ok(Step::Access(id)) => {
            Redirect::to(&format!("{}?req={id}", endpoints::ACCESS)).into_response()
        }
        Ok(Step::Terms(id)) => {
            Redirect::to(&format!("{}?req={id}", endpoints::TERMS)).into_response()
        }
        Ok(Step::Redirect(url)) => Redirect::to(&url).into_response(),
        Err(FlowError::Expired) => expired_page(),
        Err(FlowError::Internal(e)) => AppError::Internal(e).into_response(),
    }
}

/// The pending request behind a sign-in screen and its client, or `None` when it expired or
/// was used (the screen then shows `expired_page`).
pub async fn pending_for_page(
    state: &AppState,
    req: &str,
) -> Result<Option<(flow::Pending, crate::access::clients::Client)>, AppError> {
    match flow::load_with_client(&state.db, state.clock.now(), req).await {
        Ok(pc) => Ok(Some(pc)),
        Err(FlowError::Expired) => Ok(None),
        Err(FlowError::Internal(e)) => Err(AppError::Internal(e)),
    }
}

pub fn expired_page() -> Response {
    ErrorPage {
        status: StatusCode::BAD_REQUEST,
        title: "This sign-in link has expired".into(),
        message: "Go back to the application you came from and sign in again.".into(),
    }
    .into_response()
}

/// OIDC Core §3.1.2.6 and RFC 6749 §4.1.2.1: without a verified client and redirect URI the
/// error is shown to the user, never redirected.
fn render_error(e: OAuthError) -> Response {
    ErrorPage {
        status: StatusCode::BAD_REQUEST,
        title: "The application sent an invalid sign-in request".into(),
        message: format!(
            "{} (error: {}). Go back to the application and try again; if it keeps happening, contact the application's support.",
            crate::web::text::upper_first(&e.description),
            e.code.as_str()
        )
        .into(),
    }
    .into_response()
}
