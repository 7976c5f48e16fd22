//! The help desk's pages in the staff console: verifying a caller by their help-desk answer,
//! the actions a match allows (see `accounts::helpdesk`), and the inactive/locked reports.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::Response,
};
use minijinja::{Value, context};
use serde::Deserialize;

use super::{
    auth::{Staff, forbidden_page},
    console::{Empty, Notice, back, render, render_account, when},
};
use crate::{
    access::staff::Principal,
    error::AppError,
    state::AppState,
    store,
    web::{
        context::RequestContext,
        csrf::{Csrf, CsrfForm},
    },
};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct VerifyForm {
    answer: String,
}

/// The agent's account id (help desk actions are bound to the agent who verified).
fn agent_id(p: &Principal) -> Option<String> {
    p.account_id().map(str::to_owned)
}

pub async fn verify_post(
    State(state): State<AppState>,
    Staff(p): Staff,
    ctx: RequestContext,
    csrf: Csrf,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<VerifyForm>,
) -> Result<Response, AppError> {
    let Some(agent) = agent_id(&p).filter(|_| p.can_assist()) else {
        return Ok(forbidden_page());
    };
    if store::accounts::find_by_id(&state.db, &id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    use crate::accounts::helpdesk::{self, Verification};
    if form.answer.trim().is_empty() || form.answer.len() > 200 {
        let notice = Notice::error("Type the answer the caller gives.");
        return render_account(
            &state,
            csrf,
            &p,
            &id,
            notice,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let answer = secrecy::SecretString::from(form.answer);
    let txn = state.begin_write().await?;
    let outcome = helpdesk::verify_caller(
        &txn,
        &state.passwords,
        state.clock.now(),
        &ctx,
        &agent,
        &id,
        &answer,
    )
    .await?;
    txn.commit().await?;
    let error = match outcome {
        Verification::Match => return Ok(back(&format!("/admin/accounts/{id}"), "verified")),
        Verification::NoMatch { tries_left } => format!(
            "No match. {tries_left} more {} before verification is locked for this user ID.",
            if tries_left == 1 { "try" } else { "tries" }
        ),
        Verification::Locked => format!(
            "Verification is locked for this user ID after {} wrong answers. Try again in an hour, or ask the caller to reset their password online.",
            helpdesk::MAX_TRIES
        ),
        Verification::NoQuestion => {
            "This user ID has no help-desk question, so the caller cannot be verified here."
                .to_owned()
        }
    };
    render_account(
        &state,
        csrf,
        &p,
        &id,
        Notice::error(error),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

pub async fn assist_post(
    State(state): State<AppState>,
    Staff(p): Staff,
    ctx: RequestContext,
    csrf: Csrf,
    Path((id, action)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    use crate::accounts::helpdesk::{self, Action, ActionError, Deps};
    let Some(agent) = agent_id(&p).filter(|_| p.can_assist()) else {
        return Ok(forbidden_page());
    };
    let Some(which) = Action::parse(&action) else {
        return Err(AppError::NotFound);
    };
    if store::accounts::find_by_id(&state.db, &id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let deps = Deps {
        config: &state.config,
        passwords: &state.passwords,
        tokens: &state.tokens,
        sealer: &state.sealer,
    };
    let txn = state.begin_write().await?;
    match helpdesk::act(&txn, &deps, state.clock.now(), &ctx, &agent, &id, which).await {
        Ok(None) => {
            txn.commit().await?;
            Ok(back(&format!("/admin/accounts/{id}"), &action))
        }
        Ok(Some(temporary)) => {
            txn.commit().await?;
            let notice = Notice {
                ok: Some(format!(
                    "Temporary password (read it to the caller; it is shown only now): {temporary}. They must change it when they sign in."
                )),
                error: None,
            };
            render_account(&state, csrf, &p, &id, notice, StatusCode::OK).await
        }
        Err(ActionError::Internal(e)) => Err(AppError::Internal(e)),
        Err(e) => {
            txn.rollback().await?;
            let status = match e {
                ActionError::NotVerified => StatusCode::FORBIDDEN,
                _ => StatusCode::CONFLICT,
            };
            render_account(
                &state,
                csrf,
                &p,
                &id,
                Notice::error(crate::web::text::sentence(e)),
                status,
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReportQuery {
    which: String,
}

pub async fn reports_get(
    State(state): State<AppState>,
    Staff(p): Staff,
    csrf: Csrf,
    Query(q): Query<ReportQuery>,
) -> Result<Response, AppError> {
    use crate::accounts::inactivity::{self, Report};
    if !p.can_assist() {
        return Ok(forbidden_page());
    }
    let which = if q.which == "locked" {
        Report::Locked
    } else {
        Report::Inactive
    };
    let now = state.clock.now();
    let rows: Vec<Value> = inactivity::report(&state.db, &state.config.inactivity, now, which)
        .await?
        .into_iter()
        .map(|r| {
            context! {
                username => r.username, kind => r.kind, status => r.status,
                last_sign_in => r.last_sign_in.map(when), due => r.due.map(when),
                locked_until => r.locked_until.map(when),
            }
        })
        .collect();
    let ctx = context! { locked => which == Report::Locked, rows => rows };
    render(
        &state,
        csrf,
        &p,
        "admin/reports.html",
        ctx,
        Notice::default(),
        StatusCode::OK,
    )
}

/// The help-desk part of an account's page (`None` for staff who cannot assist): the
/// help-desk question (never the answer), whether this agent verified the caller, and the
/// account's recent sign-in and security events.
pub(super) async fn assist_view(
    state: &AppState,
    p: &Principal,
    a: &entity::account::Model,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<Value>, AppError> {
    let Some(agent) = agent_id(p).filter(|_| p.can_assist()) else {
        return Ok(None);
    };
    let question = crate::accounts::questions::question(
        &state.db,
        &a.id,
        crate::accounts::questions::Slot::Helpdesk,
    )
    .await?;
    let verified = crate::accounts::helpdesk::is_verified(&state.db, now, &agent, &a.id).await?;
    let events: Vec<Value> = store::audit::search(&state.db, None, None, Some(&a.id), None, 50)
        .await?
        .into_iter()
        .filter(|e| {
            [
                "login.",
                "account.",
                "mfa.",
                "password.",
                "helpdesk.",
                "challenge.",
            ]
            .iter()
            .any(|p| e.event.starts_with(p))
        })
        .take(15)
        .map(|e| context! { at => when(e.at), event => e.event, ip => e.client_ip })
        .collect();
    Ok(Some(
        context! { question => question, verified => verified, events => events },
    ))
}
