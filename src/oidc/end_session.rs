//! RP-Initiated Logout 1.0. The session ends at once when the request proves it comes from
//! an application of this user (a valid `id_token_hint` for the signed-in account);
//! otherwise the user confirms on a page, so a cross-site link cannot sign them out (§2,
//! "the OP SHOULD ask the End-User whether to log out"). Redirects go only to a
//! `post_logout_redirect_uri` registered for the client (§3).

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use axum_extra::extract::CookieJar;
use minijinja::context;

use crate::{
    access::clients,
    audit::{self, Actor, AuditEvent},
    authn::{logout, routes::current_session, session},
    crypto::jwt,
    error::{AppError, ErrorPage},
    oidc::authorize::flow::append_query,
    state::AppState,
    web::{Page, context::RequestContext, cookies, csrf::Csrf, params::Params},
};

pub async fn end_session_get(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    RawQuery(q): RawQuery,
) -> Result<Response, AppError> {
    end_session(&state, &ctx, jar, csrf, q.unwrap_or_default().as_bytes()).await
}

pub async fn end_session_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(AppError::BadRequest(
            "The sign-out request must be form-encoded.".into(),
        ));
    }
    end_session(&state, &ctx, jar, csrf, &body).await
}

struct Hint {
    sub: String,
    aud: Vec<String>,
}

/// An ID token we issued; expired ones are fine here (that is the common case at logout).
fn parse_hint(state: &AppState, token: &str) -> Option<Hint> {
    let v = jwt::verify(&state.keyring.ring(), token).ok()?;
    if v.typ.as_deref().is_some_and(|t| t != "JWT") || v.str_claim("iss") != Some(state.issuer()) {
        return None;
    }
    let aud = match v.claims.get("aud")? {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => return None,
    };
    Some(Hint {
        sub: v.str_claim("sub")?.to_owned(),
        aud,
    })
}

fn bad(message: &'static str) -> Response {
    ErrorPage {
        status: StatusCode::BAD_REQUEST,
        title: "The application sent an invalid sign-out request".into(),
        message: message.into(),
    }
    .into_response()
}

async fn end_session(
    state: &AppState,
    ctx: &RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    raw: &[u8],
) -> Result<Response, AppError> {
    let params = match Params::parse(raw) {
        Ok(p) if p.first_duplicate().is_none() => p,
        _ => {
            return Ok(bad(
                "The request repeats a parameter or has one that is too long.",
            ));
        }
    };
    let hint = match params.get("id_token_hint") {
        Some(t) => match parse_hint(state, t) {
            Some(h) => Some(h),
            None => {
                return Ok(bad(
                    "The id_token_hint is not an ID token issued by this provider.",
                ));
            }
        },
        None => None,
    };
    // The client: named by client_id, or the audience of the hint; both must agree (§2).
    let client_id = match (params.get("client_id"), &hint) {
        (Some(id), Some(h)) if !h.aud.iter().any(|a| a == id) => {
            return Ok(bad("The client_id does not match the id_token_hint."));
        }
        (Some(id), _) => Some(id.to_owned()),
        (None, Some(h)) => h.aud.first().cloned(),
        (None, None) => None,
    };
    let client = match &client_id {
        Some(id) => clients::find(&state.db, id).await?,
        None => None,
    };
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => match &client {
            Some(c) if c.has_post_logout_redirect_uri(uri) => {
                let mut p = Vec::new();
                if let Some(s) = params.get("state") {
                    p.push(("state", s));
                }
                Some(append_query(uri, &p))
            }
            Some(_) => {
                return Ok(bad(
                    "The post_logout_redirect_uri is not registered for this application.",
                ));
            }
            None => {
                return Ok(bad(
                    "A post_logout_redirect_uri needs an id_token_hint or client_id naming the application.",
                ));
            }
        },
    };

    let now = state.clock.now();
    let current = current_session(state, &jar, now).await?;
    let mut frontchannel = Vec::new();
    let confirmed =
        params.get("confirm") == Some("yes") && csrf.verify(params.get("csrf").unwrap_or(""));
    if let Some(s) = &current {
        let proven = hint.as_ref().is_some_and(|h| h.sub == s.account_id);
        if !proven && !confirmed {
            let mut page = Page::render(
                &state.templates,
                "oidc/logout_confirm.html",
                context! {
                    client_name => client.as_ref().map(|c| c.name.clone()),
                    client_id => client_id,
                    post_logout_redirect_uri => params.get("post_logout_redirect_uri"),
                    state => params.get("state"),
                    csrf => csrf.token(),
                },
            )?;
            if let Some(r) = &redirect {
                page = page.allow_form_target(r);
            }
            return Ok((csrf.jar(), page).into_response());
        }
        let txn = state.begin_write().await?;
        frontchannel = logout::front_channel_urls(&txn, state.issuer(), &s.id).await?;
        if session::end(&txn, now, &s.id, "signed out").await? {
            audit::record(
                &txn,
                now,
                ctx,
                AuditEvent::Logout,
                Actor::Account(&s.account_id),
                Some(&s.account_id),
                serde_json::json!({ "sid": s.id, "client_id": client_id }),
            )
            .await?;
        }
        txn.commit().await?;
        state.backchannel.wake();
    }
    signed_out(state, jar, client.map(|c| c.name), &frontchannel, redirect)
}

/// What follows the end of this browser's session: the session cookie removed, then the
/// signed-out page, which loads the front-channel logout URLs of the session's applications
/// (FCL §4) and continues to `redirect` when there is one; without front-channel
/// applications the redirect is immediate.
pub fn signed_out(
    state: &AppState,
    jar: CookieJar,
    client_name: Option<String>,
    frontchannel: &[String],
    redirect: Option<String>,
) -> Result<Response, AppError> {
    let jar = jar.add(cookies::removal(
        cookies::Kind::Session,
        state.config.issuer.is_https(),
    ));
    if let (Some(r), true) = (&redirect, frontchannel.is_empty()) {
        return Ok((jar, Redirect::to(r)).into_response());
    }
    let mut page = Page::render(
        &state.templates,
        "oidc/logged_out.html",
        context! {
            client_name => client_name,
            frontchannel => frontchannel.to_vec(),
            continue_to => redirect,
        },
    )?;
    for url in frontchannel {
        page = page.allow_frame(url);
    }
    Ok((jar, page).into_response())
}
