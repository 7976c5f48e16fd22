//! The User ID Request form (`/account/requests`: add or remove application access,
//! deactivate, and for reviewers also reactivate, a user ID) and the reactivation request a
//! deactivated user reaches from the sign-in page (`/reactivate`).

use axum::{
    Router,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use axum_extra::extract::CookieJar;
use minijinja::{Value, context};
use sea_orm::ConnectionTrait;
use secrecy::SecretString;
use serde::Deserialize;

use super::{
    attempts::Limiter,
    reactivation::{self, ReactivationError},
    users::AccountStatus,
};
use crate::{
    access::{
        requests::{self, Details, Kind, RequestError, UserIdRequest},
        staff::Principal,
    },
    audit::Actor,
    authn::routes::current_session,
    error::AppError,
    oidc::endpoints,
    state::AppState,
    store,
    web::{
        Page,
        context::RequestContext,
        csrf::{Csrf, CsrfForm},
        form::Fields,
    },
};

pub const USER_ID_REQUEST: &str = "/account/requests";
pub const REACTIVATE: &str = "/reactivate";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(USER_ID_REQUEST, get(request_get).post(request_post))
        .route(REACTIVATE, post(reactivate_post))
}

/// The form's fields as the account stands now (the user may correct them).
async fn details_of(
    c: &impl ConnectionTrait,
    a: &entity::account::Model,
) -> Result<(Details, bool), sea_orm::DbErr> {
    let org = match &a.org_id {
        Some(o) => store::access::find_org(c, o).await?,
        None => None,
    };
    let dealer = org.is_some();
    let (dealership_name, pdn) = org.map(|o| (o.name, o.pdn)).unwrap_or_default();
    Ok((
        Details {
            dealership_name,
            pdn,
            given_name: a.given_name.clone().unwrap_or_default(),
            family_name: a.family_name.clone().unwrap_or_default(),
            email: a.email.clone(),
            phone: a.phone.clone().unwrap_or_default(),
            job_role: a.job_role.clone().unwrap_or_default(),
        },
        dealer,
    ))
}

fn details_from(f: &Fields) -> Details {
    Details {
        dealership_name: f.get("dealership_name").to_owned(),
        pdn: f.get("pdn").to_owned(),
        given_name: f.get("given_name").to_owned(),
        family_name: f.get("family_name").to_owned(),
        email: f.get("email").to_owned(),
        phone: f.get("phone").to_owned(),
        job_role: f.get("job_role").to_owned(),
    }
}

fn render(
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

// ----- the User ID Request form -----

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ForQuery {
    /// A staff member filing for one of their people: that person's user ID.
    #[serde(rename = "for")]
    for_user: Option<String>,
}

/// Whose request this is: the signed-in person, or (for a reviewer) one of their staff.
/// Someone outside the reviewer's dealership is "not found", as in the console.
enum Target {
    SignIn,
    Found {
        filer: String,
        account: Box<entity::account::Model>,
        on_behalf: bool,
    },
    NotFound,
}

async fn target(
    state: &AppState,
    jar: &CookieJar,
    for_user: Option<&str>,
) -> Result<Target, AppError> {
    let Some(session) = current_session(state, jar, state.clock.now()).await? else {
        return Ok(Target::SignIn);
    };
    let me = session.account_id;
    let Some(name) = for_user.map(str::trim).filter(|u| !u.is_empty()) else {
        return Ok(match store::accounts::find_by_id(&state.db, &me).await? {
            Some(a) => Target::Found {
                filer: me,
                account: Box::new(a),
                on_behalf: false,
            },
            None => Target::SignIn,
        });
    };
    let principal = Principal::for_account(&state.db, &me).await?;
    let account = store::accounts::find_by_username(&state.db, name)
        .await?
        .filter(|a| {
            principal.can_review_requests() && principal.can_view_account(a.org_id.as_deref())
        });
    Ok(match account {
        Some(a) => Target::Found {
            on_behalf: a.id != me,
            filer: me,
            account: Box::new(a),
        },
        None => Target::NotFound,
    })
}

async fn request_apps(state: &AppState) -> Result<Vec<Value>, AppError> {
    Ok(store::clients::list(&state.db)
        .await?
        .into_iter()
        .map(|c| context! { id => c.client_id, name => c.name })
        .collect())
}

async fn request_page(
    state: &AppState,
    csrf: Csrf,
    account: &entity::account::Model,
    on_behalf: bool,
    form: Option<&Fields>,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let (details, dealer) = details_of(&state.db, account).await?;
    let details = form.map_or(details, details_from);
    let ctx = context! {
        username => &account.username,
        on_behalf => on_behalf,
        dealer => dealer,
        deactivated => account.status == AccountStatus::Deactivated.as_str(),
        apps => request_apps(state).await?,
        kind => form.map(|f| f.get("kind")),
        app => form.map(|f| f.get("app")),
        reason => form.map(|f| f.get("reason")),
        d => minijinja::value::Serde(&details),
        error => error,
    };
    render(state, csrf, "account/request.html", ctx, status)
}

fn sign_in_first() -> Response {
    Redirect::to(&format!("{}?next={USER_ID_REQUEST}", endpoints::LOGIN)).into_response()
}

async fn request_get(
    State(state): State<AppState>,
    jar: CookieJar,
    csrf: Csrf,
    Query(q): Query<ForQuery>,
) -> Result<Response, AppError> {
    match target(&state, &jar, q.for_user.as_deref()).await? {
        Target::SignIn => Ok(sign_in_first()),
        Target::NotFound => Err(AppError::NotFound),
        Target::Found {
            account, on_behalf, ..
        } => {
            request_page(
                &state,
                csrf,
                &account,
                on_behalf,
                None,
                None,
                StatusCode::OK,
            )
            .await
        }
    }
}

async fn request_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    jar: CookieJar,
    csrf: Csrf,
    CsrfForm(f): CsrfForm<Fields>,
) -> Result<Response, AppError> {
    let for_user = Some(f.get("for")).filter(|s| !s.is_empty());
    let (filer, account, on_behalf) = match target(&state, &jar, for_user).await? {
        Target::SignIn => return Ok(sign_in_first()),
        Target::NotFound => return Err(AppError::NotFound),
        Target::Found {
            filer,
            account,
            on_behalf,
        } => (filer, account, on_behalf),
    };
    let kind = Kind::parse(f.get("kind"));
    // Reactivation of one's own user ID goes through the sign-in page and the challenge
    // questions; a signed-in person is active anyway.
    let kind = kind.filter(|k| on_behalf || *k != Kind::Reactivate);
    let result = match kind {
        None => Err(RequestError::Details(requests::DetailsError::Missing(
            "The kind of request",
        ))),
        Some(kind) => {
            let txn = state.begin_write().await?;
            let r = requests::file_user_id_request(
                &txn,
                state.clock.now(),
                &ctx,
                Actor::Account(&filer),
                &account,
                UserIdRequest {
                    kind,
                    client_id: Some(f.get("app").to_owned()),
                    reason: Some(f.get("reason").to_owned()),
                    details: details_from(&f),
                },
            )
            .await;
            match r {
                Ok(id) => txn.commit().await.map(|_| Ok(id))?,
                Err(e) => {
                    txn.rollback().await?;
                    Err(e)
                }
            }
        }
    };
    match result {
        Ok(_) => render(
            &state,
            csrf,
            "account/request_sent.html",
            context! { username => account.username, on_behalf => on_behalf },
            StatusCode::OK,
        ),
        Err(RequestError::Db(e)) => Err(e.into()),
        Err(e) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            request_page(
                &state,
                csrf,
                &account,
                on_behalf,
                Some(&f),
                Some(e.to_string()),
                status,
            )
            .await
        }
    }
}

// ----- reactivation from the sign-in page -----

async fn reactivate_post(
    State(state): State<AppState>,
    ctx: RequestContext,
    csrf: Csrf,
    CsrfForm(f): CsrfForm<Fields>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let account = match csrf.open_ticket(reactivation::TICKET_PURPOSE, f.get("ticket"), now) {
        Some(id) => store::accounts::find_by_id(&state.db, &id).await?,
        None => None,
    };
    let Some(account) = account.filter(|a| a.status == AccountStatus::Deactivated.as_str()) else {
        let ctx = context! { expired => true };
        return render(
            &state,
            csrf,
            "account/reactivate.html",
            ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let (details, dealer) = details_of(&state.db, &account).await?;
    let questions = reactivation::questions_of(&state.db, &account.id).await?;
    let page_ctx = |d: &Details, error: Option<String>| {
        context! {
            ticket => f.get("ticket"), username => account.username.clone(), dealer => dealer,
            questions => questions.clone(), d => minijinja::value::Serde(d), error => error,
        }
    };
    if f.get("step") != "answer" {
        return render(
            &state,
            csrf,
            "account/reactivate.html",
            page_ctx(&details, None),
            StatusCode::OK,
        );
    }
    let details = details_from(&f);
    let limiter = Limiter::from_config(&state.config.registration);
    let (a1, a2) = (
        SecretString::from(f.get("a1").to_owned()),
        SecretString::from(f.get("a2").to_owned()),
    );
    let txn = state.begin_write().await?;
    let r = reactivation::request(
        &txn,
        &state.passwords,
        &limiter,
        now,
        &ctx,
        &account,
        [&a1, &a2],
        details.clone(),
    )
    .await;
    let error = match r {
        Ok(_) => {
            txn.commit().await?;
            let ctx =
                context! { username => account.username, on_behalf => false, reactivation => true };
            return render(
                &state,
                csrf,
                "account/request_sent.html",
                ctx,
                StatusCode::OK,
            );
        }
        Err(ReactivationError::Internal(e)) => return Err(AppError::Internal(e)),
        Err(ReactivationError::Request(RequestError::Db(e))) => return Err(e.into()),
        // The counter and the audit event are kept.
        Err(e @ ReactivationError::WrongAnswers) => {
            txn.commit().await?;
            e.to_string()
        }
        Err(e) => {
            txn.rollback().await?;
            e.to_string()
        }
    };
    render(
        &state,
        csrf,
        "account/reactivate.html",
        page_ctx(&details, Some(error)),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}
