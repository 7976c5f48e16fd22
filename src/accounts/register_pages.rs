//! The registration screens: `/register` (who are you?), `/register/cardholder` (prove a
//! card, then choose a user ID) and `/register/dealer` (PDN, confirm the dealership, then
//! details and applications). Handlers only translate forms to `registration` calls; every
//! failure re-renders the form with its message and writes nothing but attempt counters and
//! audit events.

use crate::store::db::WriteTxn;
use axum::{
    Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use minijinja::{Value, context};
use secrecy::SecretString;

use super::{
    attempts::Limiter,
    customers::CustomerHasher,
    questions::{Answer, SecurityAnswers},
    registration::{self, DealerApplicant, Deps, NumberKind, Profile, RegisterError},
};
use crate::{
    error::AppError,
    state::AppState,
    store,
    web::{
        Page,
        context::RequestContext,
        csrf::{Csrf, CsrfForm},
        form::Fields,
    },
};

pub const REGISTER: &str = "/register";
pub const CARDHOLDER: &str = "/register/cardholder";
pub const DEALER: &str = "/register/dealer";

/// How long a verified card (step 1) stays good for finishing step 2.
const TICKET_MINUTES: i64 = 20;
const TICKET_PURPOSE: &str = "register-cardholder";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(REGISTER, get(start_get))
        .route(CARDHOLDER, get(cardholder_get).post(cardholder_post))
        .route(DEALER, get(dealer_get).post(dealer_post))
}

fn deps(state: &AppState) -> Deps<'_> {
    Deps {
        passwords: &state.passwords,
        customers: CustomerHasher::new(state.secrets.customer),
        limiter: Limiter::from_config(&state.config.registration),
        questions: &state.config.questions,
        registration: &state.config.registration,
        password_min_length: state.config.accounts.password_min_length,
    }
}

fn page(
    state: &AppState,
    csrf: Csrf,
    name: &str,
    ctx: Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let ctx = context! {
        csrf => csrf.token(),
        challenge_questions => &state.config.questions.challenge,
        helpdesk_questions => &state.config.questions.helpdesk,
        min_length => state.config.accounts.password_min_length,
        ..ctx
    };
    let page = Page::render(&state.templates, name, ctx)?.status(status);
    Ok((csrf.jar(), page).into_response())
}

async fn start_get(State(state): State<AppState>, csrf: Csrf) -> Result<Response, AppError> {
    page(
        &state,
        csrf,
        "register/start.html",
        context! {},
        StatusCode::OK,
    )
}

/// The user ID, password and questions part of either form. Secrets are never echoed back.
fn profile(f: &Fields) -> Profile {
    let answer = |q: &str, a: &str| Answer {
        question: f.get(q).to_owned(),
        answer: SecretString::from(f.get(a).to_owned()),
    };
    Profile {
        username: f.get("username").to_owned(),
        email: f.get("email").to_owned(),
        password: SecretString::from(f.get("password").to_owned()),
        password_confirm: SecretString::from(f.get("password_confirm").to_owned()),
        answers: SecurityAnswers {
            challenge: [answer("q1", "a1"), answer("q2", "a2")],
            helpdesk: answer("hq", "ha"),
        },
    }
}

/// What a re-rendered profile step shows again: everything but passwords and answers.
fn profile_values(f: &Fields) -> Value {
    context! {
        username => f.get("username"), email => f.get("email"),
        q1 => f.get("q1"), q2 => f.get("q2"), hq => f.get("hq"),
    }
}

/// Commits what a failure must keep (attempt counters, audit events) and says whether the
/// error is the user's to fix.
async fn keep_failure(txn: WriteTxn, e: RegisterError) -> Result<String, AppError> {
    match e {
        RegisterError::Internal(e) => Err(AppError::Internal(e)),
        e if !e.is_input() => Err(AppError::Internal(anyhow::anyhow!(e.to_string()))),
        e => {
            txn.commit().await?;
            Ok(e.to_string())
        }
    }
}

/// Nothing a failed profile step did is kept (it wrote nothing but in its transaction).
async fn drop_failure(txn: WriteTxn, e: RegisterError) -> Result<String, AppError> {
    txn.rollback().await?;
    match e {
        RegisterError::Internal(e) => Err(AppError::Internal(e)),
        e if !e.is_input() => Err(AppError::Internal(anyhow::anyhow!(e.to_string()))),
        e => Ok(e.to_string()),
    }
}

// ----- cardholders -----

async fn cardholder_get(State(state): State<AppState>, csrf: Csrf) -> Result<Response, AppError> {
    page(
        &state,
        csrf,
        "register/cardholder.html",
        context! { step => "verify", number_kind => "card" },
        StatusCode::OK,
    )
}

async fn cardholder_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    csrf: Csrf,
    CsrfForm(f): CsrfForm<Fields>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let d = deps(&state);
    if f.get("step") == "profile" {
        let Some(customer_id) = csrf.open_ticket(TICKET_PURPOSE, f.get("ticket"), now) else {
            // Expired or not this browser's: start again from the card.
            let ctx = context! {
                step => "verify", number_kind => "card",
                error => "That took too long. Please enter your card details again.",
            };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return page(&state, csrf, "register/cardholder.html", ctx, status);
        };
        let txn = state.begin_write().await?;
        return match registration::register_cardholder(
            &txn,
            &d,
            now,
            &ctx,
            &customer_id,
            profile(&f),
        )
        .await
        {
            Ok(_) => {
                txn.commit().await?;
                let ctx = context! { username => f.get("username").trim(), pending => false };
                page(&state, csrf, "register/done.html", ctx, StatusCode::OK)
            }
            Err(RegisterError::AlreadyRegistered) => {
                txn.rollback().await?;
                let ctx = context! { step => "verify", number_kind => "card", registered => true };
                let status = StatusCode::CONFLICT;
                page(&state, csrf, "register/cardholder.html", ctx, status)
            }
            Err(e) => {
                let error = drop_failure(txn, e).await?;
                let ctx = context! {
                    step => "profile", ticket => f.get("ticket"), error => error,
                    ..profile_values(&f)
                };
                let status = StatusCode::UNPROCESSABLE_ENTITY;
                page(&state, csrf, "register/cardholder.html", ctx, status)
            }
        };
    }
    let kind = match f.get("number_kind") {
        "account" => NumberKind::Account,
        _ => NumberKind::Card,
    };
    let number_kind = if kind == NumberKind::Account {
        "account"
    } else {
        "card"
    };
    let txn = state.begin_write().await?;
    match registration::verify_cardholder(
        &txn,
        &d,
        now,
        &ctx,
        kind,
        f.get("number"),
        f.get("ssn_last4"),
    )
    .await
    {
        Ok(customer_id) => {
            txn.commit().await?;
            let expires = now + chrono::Duration::minutes(TICKET_MINUTES);
            let ticket = csrf.ticket(TICKET_PURPOSE, &customer_id, expires);
            let ctx = context! { step => "profile", ticket => ticket };
            page(
                &state,
                csrf,
                "register/cardholder.html",
                ctx,
                StatusCode::OK,
            )
        }
        Err(RegisterError::AlreadyRegistered) => {
            txn.commit().await?;
            let ctx = context! { step => "verify", number_kind => number_kind, registered => true };
            page(
                &state,
                csrf,
                "register/cardholder.html",
                ctx,
                StatusCode::CONFLICT,
            )
        }
        Err(e) => {
            let error = keep_failure(txn, e).await?;
            // The number is not shown again: it is the card number.
            let ctx = context! { step => "verify", number_kind => number_kind, error => error };
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            page(&state, csrf, "register/cardholder.html", ctx, status)
        }
    }
}

// ----- dealer staff -----

/// The applications dealer staff may ask for, as (client_id, name), in configured order.
async fn dealer_apps(state: &AppState) -> Result<Vec<Value>, AppError> {
    let mut out = Vec::new();
    for id in &state.config.registration.dealer_apps {
        if let Some(c) = store::clients::find(&state.db, id).await? {
            out.push(context! { id => c.client_id, name => c.name });
        }
    }
    Ok(out)
}

async fn dealer_get(State(state): State<AppState>, csrf: Csrf) -> Result<Response, AppError> {
    page(
        &state,
        csrf,
        "register/dealer.html",
        context! { step => "pdn" },
        StatusCode::OK,
    )
}

async fn dealer_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    csrf: Csrf,
    CsrfForm(f): CsrfForm<Fields>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let d = deps(&state);
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let txn = state.begin_write().await?;
    // Both steps look the dealership up again: the PDN is a hidden field in step 2, not a
    // proof of anything.
    let org = match registration::find_dealership(&txn, &d, now, &ctx, f.get("pdn")).await {
        Ok(org) => org,
        Err(e) => {
            let error = keep_failure(txn, e).await?;
            let ctx = context! { step => "pdn", pdn => f.get("pdn").chars().take(5).collect::<String>(), error => error };
            return page(&state, csrf, "register/dealer.html", ctx, unprocessable);
        }
    };
    let apps = dealer_apps(&state).await?;
    let details_ctx = |error: Option<String>| {
        context! {
            step => "details", pdn => org.pdn.clone(), dealership => org.name.clone(),
            apps => apps.clone(), chosen => f.all("app"), error => error,
            given_name => f.get("given_name"), family_name => f.get("family_name"),
            phone => f.get("phone"), job_role => f.get("job_role"),
            ..profile_values(&f)
        }
    };
    if f.get("step") != "details" {
        txn.commit().await?;
        let ctx = context! { step => "details", pdn => org.pdn.clone(), dealership => org.name.clone(), apps => apps.clone() };
        return page(&state, csrf, "register/dealer.html", ctx, StatusCode::OK);
    }
    let applicant = DealerApplicant {
        pdn: org.pdn.clone(),
        given_name: f.get("given_name").to_owned(),
        family_name: f.get("family_name").to_owned(),
        phone: f.get("phone").to_owned(),
        job_role: f.get("job_role").to_owned(),
        applications: f.all("app"),
    };
    match registration::register_dealer(&txn, &d, now, &ctx, applicant, profile(&f)).await {
        Ok(_) => {
            txn.commit().await?;
            let ctx = context! { username => f.get("username").trim(), pending => true, dealership => org.name };
            page(&state, csrf, "register/done.html", ctx, StatusCode::OK)
        }
        Err(e) => {
            let error = drop_failure(txn, e).await?;
            page(
                &state,
                csrf,
                "register/dealer.html",
                details_ctx(Some(error)),
                unprocessable,
            )
        }
    }
}
