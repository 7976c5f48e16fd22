//! The staff console: server-rendered pages over the same domain functions as the API.
//! Every handler starts with the `Staff` extractor; every form goes through `CsrfForm`.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use chrono::{DateTime, NaiveDateTime, Utc};
use minijinja::{Value, context};
use serde::Deserialize;

use super::{
    RouteTable,
    auth::{Staff, forbidden_page},
};
use crate::{
    access::{
        clients::{self, AccessPolicy, ClientChanges, GrantType, LogoutUris, MfaPolicy, NewClient},
        grants::{self, NewGrant},
        registrations::{self, Approved},
        requests,
        staff::Principal,
    },
    accounts::users::AccountStatus,
    crypto::keyring::Alg,
    error::AppError,
    state::AppState,
    store,
    web::form::Fields,
    web::{
        Page,
        context::RequestContext,
        csrf::{Csrf, CsrfForm},
    },
};

pub fn routes(t: RouteTable) -> RouteTable {
    t.get("/admin", home_get)
        .get("/admin/clients", clients_get)
        .post("/admin/clients", clients_post)
        .get("/admin/clients/{client_id}", client_get)
        .post("/admin/clients/{client_id}", client_post)
        .post("/admin/clients/{client_id}/secret", client_secret_post)
        .get("/admin/accounts", accounts_get)
        .get("/admin/accounts/{account_id}", account_get)
        .post("/admin/accounts/{account_id}/grants", grant_post)
        .post(
            "/admin/accounts/{account_id}/grants/{client_id}/revoke",
            grant_revoke_post,
        )
        .post(
            "/admin/accounts/{account_id}/verify",
            super::helpdesk_console::verify_post,
        )
        .post(
            "/admin/accounts/{account_id}/assist/{action}",
            super::helpdesk_console::assist_post,
        )
        .get("/admin/requests", requests_get)
        .post("/admin/requests/{id}/approve", request_approve_post)
        .post("/admin/requests/{id}/reject", request_reject_post)
        .post(
            "/admin/registrations/{account_id}/approve",
            registration_approve_post,
        )
        .post(
            "/admin/registrations/{account_id}/reject",
            registration_reject_post,
        )
        .get("/admin/audit", audit_get)
        .get("/admin/reports", super::helpdesk_console::reports_get)
        .get("/admin/dealerships", dealerships_get)
        .post("/admin/dealerships", dealerships_post)
}

/// A one-line outcome shown at the top of a page.
#[derive(Default)]
pub(super) struct Notice {
    pub(super) ok: Option<String>,
    pub(super) error: Option<String>,
}

impl Notice {
    /// The success message named by `?done=` after a redirect.
    fn done(q: &DoneQuery) -> Self {
        Self {
            ok: done_message(q.done.as_deref()),
            error: None,
        }
    }

    pub(super) fn error(e: impl std::fmt::Display) -> Self {
        Self {
            ok: None,
            error: Some(e.to_string()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DoneQuery {
    done: Option<String>,
}

/// Success messages by code, so nothing from the query string is reflected into the page.
fn done_message(code: Option<&str>) -> Option<String> {
    let m = match code? {
        "created" => "The application was created.",
        "saved" => "Changes saved.",
        "granted" => "Access granted.",
        "revoked" => "Access revoked.",
        "approved" => "Request approved.",
        "rejected" => "Request rejected.",
        "registered" => "Registration approved; the user ID is active.",
        "registration-rejected" => "Registration rejected.",
        "dealership" => "Dealership added.",
        "verified" => "The answer matches: the caller is verified for the next 15 minutes.",
        "unlock" => "The user ID is unlocked.",
        "reset-link" => "A password reset link was e-mailed to the address on file.",
        "reactivate" => "The user ID is reactivated.",
        _ => return None,
    };
    Some(m.to_owned())
}

fn nav(p: &Principal) -> Value {
    context! {
        clients => p.is_admin(),
        dealerships => p.is_admin(),
        accounts => p.can_view_accounts(),
        requests => p.can_review_requests(),
        audit => p.is_admin(),
        reports => p.can_assist(),
    }
}

pub(super) fn render(
    state: &AppState,
    csrf: Csrf,
    p: &Principal,
    name: &str,
    ctx: Value,
    notice: Notice,
    status: StatusCode,
) -> Result<Response, AppError> {
    let ctx = context! {
        nav => nav(p),
        csrf => csrf.token(),
        ok => notice.ok,
        error => notice.error,
        ..ctx
    };
    let page = Page::render(&state.templates, name, ctx)?.status(status);
    Ok((csrf.jar(), page).into_response())
}

/// A time as staff read it.
pub(super) fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub(super) fn back(path: &str, done: &str) -> Response {
    Redirect::to(&format!("{path}?done={done}")).into_response()
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn home_get(
    State(state): State<AppState>,
    Staff(p): Staff,
    csrf: Csrf,
) -> Result<Response, AppError> {
    let org = p.dealership().map(str::to_owned);
    let pending = if p.can_review_requests() {
        store::access::list_requests(&state.db, Some("pending"), org.as_deref())
            .await?
            .len()
    } else {
        0
    };
    render(
        &state,
        csrf,
        &p,
        "admin/home.html",
        context! { pending => pending },
        Notice::default(),
        StatusCode::OK,
    )
}

// ----- applications (admin only) -----

async fn render_clients(
    state: &AppState,
    csrf: Csrf,
    p: &Principal,
    notice: Notice,
    status: StatusCode,
) -> Result<Response, AppError> {
    let mut rows = Vec::new();
    for m in store::clients::list(&state.db).await? {
        let c = clients::Client::from_model(m).map_err(anyhow::Error::msg)?;
        rows.push(context! {
            client_id => c.client_id, name => c.name, public => c.public,
            access => c.access_policy.as_str(), redirect_uris => c.redirect_uris,
        });
    }
    render(
        state,
        csrf,
        p,
        "admin/clients.html",
        context! { clients => rows },
        notice,
        status,
    )
}

async fn clients_get(
    State(state): State<AppState>,
    Staff(p): Staff,
    csrf: Csrf,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    if !p.is_admin() {
        return Ok(forbidden_page());
    }
    let notice = Notice::done(&q);
    render_clients(&state, csrf, &p, notice, StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ClientForm {
    client_id: String,
    name: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    access: String,
    public: Option<String>,
    backchannel_logout_uri: String,
    frontchannel_logout_uri: String,
    mfa: String,
}

impl ClientForm {
    fn logout(&self) -> LogoutUris {
        let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        LogoutUris {
            backchannel: opt(&self.backchannel_logout_uri),
            frontchannel: opt(&self.frontchannel_logout_uri),
        }
    }
}

fn policy(s: &str) -> AccessPolicy {
    AccessPolicy::parse(s).unwrap_or(AccessPolicy::Open)
}

async fn clients_post(
    State(state): State<AppState>,
    Staff(p): Staff,
    ctx: RequestContext,
    csrf: Csrf,
    CsrfForm(f): CsrfForm<ClientForm>,
) -> Result<Response, AppError> {
    if !p.is_admin() {
        return Ok(forbidden_page());
    }
    let public = f.public.is_some();
    let new = NewClient {
        logout: f.logout(),
        mfa: MfaPolicy::parse(&f.mfa),
        client_id: f.client_id.trim().to_owned(),
        name: f.name,
        redirect_uris: lines(&f.redirect_uris),
        post_logout_redirect_uris: lines(&f.post_logout_redirect_uris),
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        id_token_alg: Alg::Es256,
        public,
        third_party: false,
        access_policy: policy(&f.access),
        service_scopes: vec![],
        terms: None,
        secret: None,
    };
    let txn = state.begin_write().await?;
    match clients::register(&txn, &state.tokens, state.clock.now(), &ctx, p.actor(), new).await {
        Ok(secret) => {
            txn.commit().await?;
            // The new application belongs in ally_apps at once.
            state.clients.invalidate(f.client_id.trim());
            let ctx = context! { client_id => f.client_id.trim(), secret => secret };
            render(
                &state,
                csrf,
                &p,
                "admin/secret.html",
                ctx,
                Notice::default(),
                StatusCode::OK,
            )
        }
        Err(clients::RegisterError::Db(e)) => Err(e.into()),
        Err(e) => {
            render_clients(
                &state,
                csrf,
                &p,
                Notice::error(e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn render_client(
    state: &AppState,
    csrf: Csrf,
    p: &Principal,
    id: &str,
    notice: Notice,
    status: StatusCode,
) -> Result<Response, AppError> {
    let Some(c) = clients::find(&state.db, id).await? else {
        return Err(AppError::NotFound);
    };
    let ctx = context! {
        client => context! {
            client_id => c.client_id, name => c.name, public => c.public, access => c.access_policy.as_str(),
            redirect_uris => c.redirect_uris.join("\n"),
            post_logout_redirect_uris => c.post_logout_redirect_uris.join("\n"),
            grant_types => c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            backchannel_logout_uri => c.backchannel_logout_uri,
            frontchannel_logout_uri => c.frontchannel_logout_uri,
            mfa => c.mfa.map(MfaPolicy::as_str),
        }
    };
    render(state, csrf, p, "admin/client.html", ctx, notice, status)
}

async fn client_get(
    State(state): State<AppState>,
    Staff(p): Staff,
    csrf: Csrf,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    if !p.is_admin() {
        return Ok(forbidden_page());
    }
    let notice = Notice::done(&q);
    render_client(&state, csrf, &p, &id, notice, StatusCode::OK).await
}

async fn client_post(
    State(state): State<AppState>,
    Staff(p): Staff,
    ctx: RequestContext,
    csrf: Csrf,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<ClientForm>,
) -> Result<Response, AppError> {
    if !p.is_admin() {
        return Ok(forbidden_page());
    }
    let changes = ClientChanges {
        logout: f.logout(),
        mfa: MfaPolicy::parse(&f.mfa),
        name: f.name,
        redirect_uris: lines(&f.redirect_uris),
        post_logout_redirect_uris: lines(&f.post_logout_redirect_uris),
        access_policy: policy(&f.access),
    };
    let txn = state.begin_write().await?;
    match clients::update(&txn, state.clock.now(), &ctx, p.actor(), &id, changes).await {
        Ok(()) => {
            txn.commit().await?;
            state.clients.invalidate(&id);
            Ok(back(&format!("/admin/clients/{id}"), "saved"))
        }
        Err(clients::RegisterError::UnknownClient) => Err(AppError::NotFound),
        Err(clients::RegisterError::Db(e)) => Err(e.into()),
        Err(e) => {
            render_client(
                &state,
                csrf,
                &p,
                &id,
                Notice::error(e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Empty {}

async fn client_secret_post(
    State(state): State<AppState>,
    Staff(p): Staff,
    ctx: RequestContext,
    csrf: Csrf,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    if !p.is_admin() {
        return Ok(forbidden_page());
    }
    let txn = state.begin_write().await?;
    match clients::rotate_secret(&txn, &state.tokens, state.clock.now(), &ctx, p.actor(), &id).await
    {
        Ok(secret) => {
            txn.commit().await?;
            state.clients.invalidate(&id);
            let ctx = context! { client_id => id, secret => secret, rotated => true };
            render(
                &state,
                csrf,
                &p,
                "admin/secret.html",
                ctx,
                Notice::default(),
                StatusCode::OK,
            )
        }
        Err(clients::RegisterError::UnknownClient) => Err(AppError::NotFound),
        Err(clients::RegisterError::Db(e)) => Err(e.into()),
        Err(e) => {
            render_client(
                &state,
                csrf,
                &p,
                &id,
                Notice::error(e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

// ----- accounts and grants -----

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchQuery {
    q: String,
}

async fn accounts_get(
    State(state): State<AppState>,
    Staff(p): Staff,
    csrf: Csrf,
    Query(q): Query<SearchQuery>,
) -> Result<Response, AppError> {
    if !p.can_view_accounts() {
        return Ok(forbidden_page());
    }
    let results = if q.q.trim().is_empty() {
        Vec::new()
    } else {
        store::accounts::search(&state.db, q.q.trim(), p.dealership(), 50).await?
    };
    let rows: Vec<Value> = results
        .into_iter()
        .map(|a| context! { id => a.id, username => a.username, email => a.email, status => a.status,
                            name => format!("{} {}", a.given_name.unwrap_or_default(), a.family_name.unwrap_or_default()).trim().to_owned() })
        .collect();
    render(
        &state,
        csrf,
        &p,
        "admin/accounts.html",
        context! { searched => !q.q.trim().is_empty(), q => q.q, accounts => rows },
        Notice::default(),
        StatusCode::OK,
    )
}

fn grant_status(g: &entity::access_grant::Model, now: DateTime<Utc>) -> &'static str {
    if g.revoked_at.is_some() {
        "revoked"
    } else if g.expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else {
        "active"
    }
}

pub(super) async fn render_account(
    state: &AppState,
    csrf: Csrf,
    p: &Principal,
    id: &str,
    notice: Notice,
    status: StatusCode,
) -> Result<Response, AppError> {
    let Some(a) = store::accounts::find_by_id(&state.db, id).await? else {
        return Err(AppError::NotFound);
    };
    if !p.can_view_account(a.org_id.as_deref()) {
        // Outside a dealer_admin's dealership the account does not exist for them.
        return Err(AppError::NotFound);
    }
    let now = state.clock.now();
    let org = match &a.org_id {
        Some(o) => store::access::find_org(&state.db, o)
            .await?
            .map(|o| format!("{} ({})", o.name, o.pdn)),
        None => None,
    };
    let grants: Vec<Value> = store::access::list_grants(&state.db, Some(id), None)
        .await?
        .iter()
        .map(|g| {
            let roles: Vec<String> = serde_json::from_value(g.roles.clone()).unwrap_or_default();
            context! { client_id => g.client_id.clone(), roles => roles.join(", "), status => grant_status(g, now),
                       expires_at => g.expires_at.map(when) }
        })
        .collect();
    let sessions: Vec<Value> = store::sessions::live_for_account(&state.db, id, now)
        .await?
        .into_iter()
        .map(|s| {
            context! { started => when(s.created_at),
            last_seen => when(s.last_seen_at),
            ip => s.client_ip, agent => s.user_agent }
        })
        .collect();
    let grantable: Vec<String> = if p.is_admin() {
        store::clients::list(&state.db)
            .await?
            .into_iter()
            .map(|c| c.client_id)
            .collect()
    } else {
        Vec::new()
    };
    let assist = super::helpdesk_console::assist_view(state, p, &a, now).await?;
    let kind = crate::accounts::users::AccountKind::of(&a).as_str();
    let ctx = context! {
        assist => assist,
        account => context! { id => a.id, username => a.username, email => a.email, status => a.status, org => org,
                              kind => kind,
                              locked_until => a.locked_until.map(when),
                              name => format!("{} {}", a.given_name.unwrap_or_default(), a.family_name.unwrap_or_default()).trim().to_owned(),
                              last_login => a.last_login_at.map(when) },
        grants => grants, sessions => sessions, grantable => grantable, can_grant => p.is_admin(),
    };
    render(state, csrf, p, "admin/account.html", ctx, notice, status)
}

async fn account_get(
    State(state): State<AppState>,
    Staff(p): Staff,
    csrf: Csrf,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    if !p.can_view_accounts() {
        return Ok(forbidden_page());
    }
    let notice = Notice::done(&q);
    render_account(&state, csrf, &p, &id, notice, StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GrantForm {
    client_id: String,
    roles: String,
    /// From an `<input type="datetime-local">`, taken as UTC.
    expires: String,
}

/// Roles typed as "buyer, seller" or one per line.
pub fn split_roles(s: &str) -> Vec<String> {
    s.split([',', '\n', ' '])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_expiry(s: &str) -> Result<Option<DateTime<Utc>>, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .map(|n| Some(n.and_utc()))
        .map_err(|_| "The expiry is not a valid date and time.")
}

async fn grant_post(
    State(state): State<AppState>,
    Staff(p): Staff,
    ctx: RequestContext,
    csrf: Csrf,
    Path(account_id): Path<String>,
    CsrfForm(f): CsrfForm<GrantForm>,
) -> Result<Response, AppError> {
    if !p.is_admin() {
        return Ok(forbidden_page());
    }
    let expires_at = match parse_expiry(&f.expires) {
        Ok(e) => e,
        Err(m) => {
            return render_account(
                &state,
                csrf,
                &p,
                &account_id,
                Notice::error(m),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let g = NewGrant {
        account_id: account_id.clone(),
        client_id: f.client_id,
        roles: split_roles(&f.roles),
        expires_at,
    };
    let txn = state.begin_write().await?;
    match grants::add(&txn, state.clock.now(), &ctx, p.actor(), g).await {
        Ok(()) => {
            txn.commit().await?;
            Ok(back(&format!("/admin/accounts/{account_id}"), "granted"))
        }
        Err(grants::GrantError::UnknownAccount) => Err(AppError::NotFound),
        Err(grants::GrantError::Db(e)) => Err(e.into()),
        Err(e) => {
            render_account(
                &state,
                csrf,
                &p,
                &account_id,
                Notice::error(e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn grant_revoke_post(
    State(state): State<AppState>,
    Staff(p): Staff,
    ctx: RequestContext,
    csrf: Csrf,
    Path((account_id, client_id)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, AppError> {
    if !p.is_admin() {
        return Ok(forbidden_page());
    }
    let txn = state.begin_write().await?;
    match grants::revoke(
        &txn,
        state.clock.now(),
        &ctx,
        p.actor(),
        &account_id,
        &client_id,
    )
    .await
    {
        Ok(()) => {
            txn.commit().await?;
            Ok(back(&format!("/admin/accounts/{account_id}"), "revoked"))
        }
        Err(grants::GrantError::Db(e)) => Err(e.into()),
        Err(e) => {
            render_account(
                &state,
                csrf,
                &p,
                &account_id,
                Notice::error(e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

// ----- the access-request queue -----

async fn render_requests(
    state: &AppState,
    csrf: Csrf,
    p: &Principal,
    notice: Notice,
    status: StatusCode,
) -> Result<Response, AppError> {
    let pending = store::access::list_requests(&state.db, Some("pending"), p.dealership()).await?;
    // Requests of accounts still pending approval are their registration: one entry each.
    let mut registrations: Vec<(String, Vec<Value>)> = Vec::new();
    let mut rows = Vec::new();
    let mut reg_rows = Vec::new();
    for r in pending {
        let Some(account) = store::accounts::find_by_id(&state.db, &r.account_id).await? else {
            continue;
        };
        let application = match clients::find(&state.db, &r.client_id).await? {
            Some(c) => c.name,
            None => r.client_id.clone(),
        };
        if account.status == AccountStatus::PendingApproval.as_str() {
            let app = context! { client_id => r.client_id, name => application };
            match registrations.iter_mut().find(|(id, _)| *id == account.id) {
                Some((_, apps)) => apps.push(app),
                None => {
                    let org = match &account.org_id {
                        Some(o) => store::access::find_org(&state.db, o).await?,
                        None => None,
                    };
                    registrations.push((account.id.clone(), vec![app]));
                    reg_rows.push(context! {
                        account_id => account.id, username => account.username,
                        name => format!("{} {}", account.given_name.unwrap_or_default(), account.family_name.unwrap_or_default()),
                        email => account.email, phone => account.phone, job_role => account.job_role,
                        dealership => org.map(|o| format!("{} (PDN {})", o.name, o.pdn)),
                        filed => when(r.filed_at),
                    });
                }
            }
            continue;
        }
        let kind = requests::Kind::parse(&r.kind).unwrap_or(requests::Kind::Access);
        rows.push(context! {
            id => r.id, reason => r.reason, filed => when(r.filed_at),
            kind => kind.as_str(),
            what => kind.describe(&application, &account.username),
            details => r.details.map(minijinja::value::Serde),
            username => account.username, email => account.email,
            application => application,
        });
    }
    let registrations: Vec<Value> = reg_rows
        .into_iter()
        .zip(registrations)
        .map(|(row, (_, apps))| context! { apps => apps, ..row })
        .collect();
    render(
        state,
        csrf,
        p,
        "admin/requests.html",
        context! { requests => rows, registrations => registrations },
        notice,
        status,
    )
}

async fn requests_get(
    State(state): State<AppState>,
    Staff(p): Staff,
    csrf: Csrf,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    if !p.can_review_requests() {
        return Ok(forbidden_page());
    }
    let notice = Notice::done(&q);
    render_requests(&state, csrf, &p, notice, StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DecisionForm {
    roles: String,
    reason: String,
}

async fn request_approve_post(
    State(state): State<AppState>,
    Staff(p): Staff,
    ctx: RequestContext,
    csrf: Csrf,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<DecisionForm>,
) -> Result<Response, AppError> {
    if !p.can_review_requests() {
        return Ok(forbidden_page());
    }
    let txn = state.begin_write().await?;
    let roles = split_roles(&f.roles);
    let r = requests::approve(&txn, state.clock.now(), &ctx, &p, &id, roles).await;
    decided(&state, csrf, &p, txn, r, "approved").await
}

async fn request_reject_post(
    State(state): State<AppState>,
    Staff(p): Staff,
    ctx: RequestContext,
    csrf: Csrf,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<DecisionForm>,
) -> Result<Response, AppError> {
    if !p.can_review_requests() {
        return Ok(forbidden_page());
    }
    let txn = state.begin_write().await?;
    let r = requests::reject(&txn, state.clock.now(), &ctx, &p, &id, Some(&f.reason)).await;
    decided(&state, csrf, &p, txn, r, "rejected").await
}

/// Decides a registration as a whole: `app` (repeated) lists the applications approved,
/// `roles.<client_id>` their roles.
async fn registration_approve_post(
    State(state): State<AppState>,
    Staff(p): Staff,
    ctx: RequestContext,
    csrf: Csrf,
    Path(account_id): Path<String>,
    CsrfForm(f): CsrfForm<Fields>,
) -> Result<Response, AppError> {
    if !p.can_review_requests() {
        return Ok(forbidden_page());
    }
    let approved = f
        .all("app")
        .into_iter()
        .map(|client_id| Approved {
            roles: split_roles(f.get(&format!("roles.{client_id}"))),
            client_id,
        })
        .collect();
    let txn = state.begin_write().await?;
    let r = registrations::approve(&txn, state.clock.now(), &ctx, &p, &account_id, approved).await;
    decided(&state, csrf, &p, txn, r, "registered").await
}

async fn registration_reject_post(
    State(state): State<AppState>,
    Staff(p): Staff,
    ctx: RequestContext,
    csrf: Csrf,
    Path(account_id): Path<String>,
    CsrfForm(f): CsrfForm<DecisionForm>,
) -> Result<Response, AppError> {
    if !p.can_review_requests() {
        return Ok(forbidden_page());
    }
    let txn = state.begin_write().await?;
    let r = registrations::reject(&txn, state.clock.now(), &ctx, &p, &account_id, &f.reason).await;
    decided(&state, csrf, &p, txn, r, "registration-rejected").await
}

/// Commits a queue decision and goes back to the queue, or re-renders it with the error.
async fn decided(
    state: &AppState,
    csrf: Csrf,
    p: &Principal,
    txn: crate::store::db::WriteTxn,
    r: Result<(), requests::RequestError>,
    done: &str,
) -> Result<Response, AppError> {
    match r {
        Ok(()) => {
            txn.commit().await?;
            Ok(back("/admin/requests", done))
        }
        Err(requests::RequestError::Db(e)) => Err(e.into()),
        Err(e) => {
            txn.rollback().await?;
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_requests(state, csrf, p, Notice::error(e), status).await
        }
    }
}

// ----- audit log (admin only) -----

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    pub event: String,
    pub actor: String,
    pub target: String,
    pub since: String,
}

fn non_empty(s: &str) -> Option<&str> {
    Some(s.trim()).filter(|s| !s.is_empty())
}

async fn audit_get(
    State(state): State<AppState>,
    Staff(p): Staff,
    csrf: Csrf,
    Query(q): Query<AuditQuery>,
) -> Result<Response, AppError> {
    if !p.is_admin() {
        return Ok(forbidden_page());
    }
    let (since, notice) = match parse_expiry(&q.since) {
        Ok(s) => (s, Notice::default()),
        Err(_) => (
            None,
            Notice::error("The 'since' filter is not a valid date and time; it was ignored."),
        ),
    };
    let events = store::audit::search(
        &state.db,
        non_empty(&q.event),
        non_empty(&q.actor),
        non_empty(&q.target),
        since,
        200,
    )
    .await?;
    let rows: Vec<Value> = events
        .into_iter()
        .map(|e| context! { at => e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(), event => e.event, actor => e.actor,
                            target => e.target, ip => e.client_ip, request_id => e.request_id, detail => e.detail.to_string() })
        .collect();
    let filters =
        context! { event => q.event, actor => q.actor, target => q.target, since => q.since };
    render(
        &state,
        csrf,
        &p,
        "admin/audit.html",
        context! { events => rows, filters => filters },
        notice,
        StatusCode::OK,
    )
}

// ----- dealerships (admin only) -----

async fn render_dealerships(
    state: &AppState,
    csrf: Csrf,
    p: &Principal,
    notice: Notice,
    status: StatusCode,
) -> Result<Response, AppError> {
    let rows: Vec<Value> = store::access::list_orgs(&state.db)
        .await?
        .into_iter()
        .map(|o| context! { pdn => o.pdn, name => o.name, active => o.active, created => when(o.created_at) })
        .collect();
    render(
        state,
        csrf,
        p,
        "admin/dealerships.html",
        context! { dealerships => rows },
        notice,
        status,
    )
}

async fn dealerships_get(
    State(state): State<AppState>,
    Staff(p): Staff,
    csrf: Csrf,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    if !p.is_admin() {
        return Ok(forbidden_page());
    }
    render_dealerships(&state, csrf, &p, Notice::done(&q), StatusCode::OK).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DealershipForm {
    pdn: String,
    name: String,
}

async fn dealerships_post(
    State(state): State<AppState>,
    Staff(p): Staff,
    ctx: RequestContext,
    csrf: Csrf,
    CsrfForm(f): CsrfForm<DealershipForm>,
) -> Result<Response, AppError> {
    if !p.is_admin() {
        return Ok(forbidden_page());
    }
    let txn = state.begin_write().await?;
    match crate::access::orgs::add(&txn, state.clock.now(), &ctx, p.actor(), &f.pdn, &f.name).await
    {
        Ok(_) => {
            txn.commit().await?;
            Ok(back("/admin/dealerships", "dealership"))
        }
        Err(crate::access::orgs::OrgError::Db(e)) => Err(e.into()),
        Err(e) => {
            render_dealerships(
                &state,
                csrf,
                &p,
                Notice::error(e),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
