//! The admin REST API (JSON) under /api/v1. Same domain functions and role rules as the
//! console; errors are `{"code": ..., "message": ...}` with a stable code.

use axum::{
    Json,
    extract::FromRequest,
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    RouteTable,
    auth::{ApiCaller, ApiError},
    console::AuditQuery,
};
use crate::{
    access::{
        clients::{
            self, AccessPolicy, Client, ClientChanges, GrantType, LogoutUris, NewClient,
            RegisterError,
        },
        grants::{self, GrantError, NewGrant},
        registrations,
        requests::{self, RequestError},
    },
    crypto::keyring::Alg,
    state::AppState,
    store,
    web::context::RequestContext,
};

pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";
const OPENAPI: &str = include_str!("openapi.json");

pub fn routes(t: RouteTable) -> RouteTable {
    t.get("/api/v1/clients", clients_list)
        .post("/api/v1/clients", clients_create)
        .get("/api/v1/clients/{client_id}", client_get)
        .patch("/api/v1/clients/{client_id}", client_patch)
        .post("/api/v1/clients/{client_id}/secret", client_rotate)
        .get("/api/v1/accounts", accounts_search)
        .get("/api/v1/accounts/{account_id}", account_get)
        .get("/api/v1/grants", grants_list)
        .post("/api/v1/grants", grants_create)
        .delete("/api/v1/grants/{account_id}/{client_id}", grant_delete)
        .get("/api/v1/access-requests", requests_list)
        .post("/api/v1/access-requests/{id}/approve", request_approve)
        .post("/api/v1/access-requests/{id}/reject", request_reject)
        .post(
            "/api/v1/registrations/{account_id}/approve",
            registration_approve,
        )
        .post(
            "/api/v1/registrations/{account_id}/reject",
            registration_reject,
        )
        .get("/api/v1/audit", audit_list)
}

pub async fn openapi_get() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

type ApiResult = Result<Response, ApiError>;

fn ok(v: Value) -> ApiResult {
    let mut r = Json(v).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

fn admin_only(c: &ApiCaller) -> Result<(), ApiError> {
    if c.0.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

fn client_json(c: &Client) -> Value {
    json!({
        "client_id": c.client_id, "name": c.name, "public": c.public, "third_party": c.third_party,
        "access_policy": c.access_policy.as_str(), "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "id_token_signed_response_alg": c.id_token_alg.as_str(), "allowed_scopes": c.service_scopes,
        "backchannel_logout_uri": c.backchannel_logout_uri,
        "frontchannel_logout_uri": c.frontchannel_logout_uri,
    })
}

fn register_error(e: RegisterError) -> ApiError {
    match e {
        RegisterError::UnknownClient => ApiError::not_found(),
        RegisterError::DuplicateClientId(_) => {
            ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
        }
        RegisterError::Db(e) => ApiError::internal(e),
        e => ApiError::invalid(e.to_string()),
    }
}

async fn clients_list(State(state): State<AppState>, caller: ApiCaller) -> ApiResult {
    admin_only(&caller)?;
    let mut out = Vec::new();
    for m in store::clients::list(&state.db).await? {
        out.push(client_json(
            &Client::from_model(m).map_err(ApiError::internal)?,
        ));
    }
    ok(json!({ "clients": out }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateClient {
    client_id: String,
    name: String,
    #[serde(default)]
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    public: bool,
    #[serde(default)]
    third_party: bool,
    access_policy: Option<String>,
    id_token_signed_response_alg: Option<String>,
    #[serde(default)]
    allowed_scopes: Vec<String>,
    /// Terms people must accept before first use.
    terms: Option<String>,
    /// RFC 7591 / Back-Channel Logout 1.0 §2.2 metadata names.
    backchannel_logout_uri: Option<String>,
    frontchannel_logout_uri: Option<String>,
}

/// A JSON body whose rejection (wrong content type, malformed JSON, unknown field) is an
/// `invalid_input` API error rather than axum's plain-text response.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(
        req: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| ApiJson(v))
            .map_err(|e| ApiError::invalid(e.body_text()))
    }
}

async fn clients_create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ctx: RequestContext,
    ApiJson(b): ApiJson<CreateClient>,
) -> ApiResult {
    admin_only(&caller)?;
    let grant_types = match b.grant_types {
        None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        Some(g) => g
            .iter()
            .map(|s| {
                GrantType::parse(s)
                    .ok_or_else(|| ApiError::invalid(format!("unknown grant type `{s}`")))
            })
            .collect::<Result<_, _>>()?,
    };
    let access_policy = match b.access_policy.as_deref() {
        None => AccessPolicy::Open,
        Some(p) => AccessPolicy::parse(p)
            .ok_or_else(|| ApiError::invalid("access_policy is open or grant_required"))?,
    };
    let id_token_alg = match b.id_token_signed_response_alg.as_deref() {
        None => Alg::Es256,
        Some(a) => Alg::parse(a).ok_or_else(|| {
            ApiError::invalid("id_token_signed_response_alg is ES256, RS256 or EdDSA")
        })?,
    };
    let new = NewClient {
        client_id: b.client_id.clone(),
        name: b.name,
        redirect_uris: b.redirect_uris,
        post_logout_redirect_uris: b.post_logout_redirect_uris,
        grant_types,
        id_token_alg,
        public: b.public,
        third_party: b.third_party,
        access_policy,
        service_scopes: b.allowed_scopes,
        terms: b.terms,
        mfa: None,
        logout: LogoutUris {
            backchannel: b.backchannel_logout_uri,
            frontchannel: b.frontchannel_logout_uri,
        },
        secret: None,
    };
    let txn = state.begin_write().await?;
    let secret = clients::register(
        &txn,
        &state.tokens,
        state.clock.now(),
        &ctx,
        caller.0.actor(),
        new,
    )
    .await
    .map_err(register_error)?;
    txn.commit().await?;
    // The new application belongs in ally_apps at once.
    state.clients.invalidate(&b.client_id);
    let client = clients::find(&state.db, &b.client_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)?;
    let mut v = client_json(&client);
    if let Some(s) = secret {
        v["client_secret"] = json!(s);
    }
    let mut r = ok(v)?;
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

async fn client_get(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> ApiResult {
    admin_only(&caller)?;
    let c = clients::find(&state.db, &id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)?;
    ok(client_json(&c))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchClient {
    name: Option<String>,
    redirect_uris: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    access_policy: Option<String>,
    /// An empty string removes it.
    backchannel_logout_uri: Option<String>,
    frontchannel_logout_uri: Option<String>,
}

/// A PATCH value for an optional URI: absent keeps it, "" removes it.
fn patch_uri(new: Option<String>, old: Option<String>) -> Option<String> {
    match new {
        None => old,
        Some(s) if s.is_empty() => None,
        Some(s) => Some(s),
    }
}

async fn client_patch(
    State(state): State<AppState>,
    caller: ApiCaller,
    ctx: RequestContext,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PatchClient>,
) -> ApiResult {
    admin_only(&caller)?;
    let c = clients::find(&state.db, &id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)?;
    let access_policy = match b.access_policy.as_deref() {
        None => c.access_policy,
        Some(p) => AccessPolicy::parse(p)
            .ok_or_else(|| ApiError::invalid("access_policy is open or grant_required"))?,
    };
    let changes = ClientChanges {
        name: b.name.unwrap_or(c.name),
        redirect_uris: b.redirect_uris.unwrap_or(c.redirect_uris),
        post_logout_redirect_uris: b
            .post_logout_redirect_uris
            .unwrap_or(c.post_logout_redirect_uris),
        access_policy,
        mfa: c.mfa,
        logout: LogoutUris {
            backchannel: patch_uri(b.backchannel_logout_uri, c.backchannel_logout_uri),
            frontchannel: patch_uri(b.frontchannel_logout_uri, c.frontchannel_logout_uri),
        },
    };
    let txn = state.begin_write().await?;
    clients::update(
        &txn,
        state.clock.now(),
        &ctx,
        caller.0.actor(),
        &id,
        changes,
    )
    .await
    .map_err(register_error)?;
    txn.commit().await?;
    state.clients.invalidate(&id);
    let c = clients::find(&state.db, &id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)?;
    ok(client_json(&c))
}

async fn client_rotate(
    State(state): State<AppState>,
    caller: ApiCaller,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> ApiResult {
    admin_only(&caller)?;
    let txn = state.begin_write().await?;
    let secret = clients::rotate_secret(
        &txn,
        &state.tokens,
        state.clock.now(),
        &ctx,
        caller.0.actor(),
        &id,
    )
    .await
    .map_err(register_error)?;
    txn.commit().await?;
    state.clients.invalidate(&id);
    ok(json!({ "client_id": id, "client_secret": secret }))
}

fn account_json(a: &entity::account::Model) -> Value {
    json!({
        "id": a.id, "username": a.username, "email": a.email, "status": a.status,
        "given_name": a.given_name, "family_name": a.family_name, "org_id": a.org_id,
        "created_at": a.created_at, "last_login_at": a.last_login_at,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SearchQuery {
    q: String,
}

async fn accounts_search(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(q): Query<SearchQuery>,
) -> ApiResult {
    if !caller.0.can_view_accounts() {
        return Err(ApiError::forbidden());
    }
    if q.q.trim().is_empty() {
        return Err(ApiError::invalid("give a search term in `q`"));
    }
    let found = store::accounts::search(&state.db, q.q.trim(), caller.0.dealership(), 100).await?;
    ok(json!({ "accounts": found.iter().map(account_json).collect::<Vec<_>>() }))
}

fn grant_json(g: &entity::access_grant::Model, now: DateTime<Utc>) -> Value {
    let active = g.revoked_at.is_none() && g.expires_at.is_none_or(|e| e > now);
    json!({
        "account_id": g.account_id, "client_id": g.client_id, "roles": g.roles, "granted_by": g.granted_by,
        "granted_at": g.granted_at, "expires_at": g.expires_at, "revoked_at": g.revoked_at, "active": active,
    })
}

async fn account_get(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> ApiResult {
    if !caller.0.can_view_accounts() {
        return Err(ApiError::forbidden());
    }
    let a = store::accounts::find_by_id(&state.db, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !caller.0.can_view_account(a.org_id.as_deref()) {
        return Err(ApiError::not_found());
    }
    let now = state.clock.now();
    let grants = store::access::list_grants(&state.db, Some(&id), None).await?;
    let sessions = store::sessions::live_for_account(&state.db, &id, now).await?;
    let mut v = account_json(&a);
    v["grants"] = json!(
        grants
            .iter()
            .map(|g| grant_json(g, now))
            .collect::<Vec<_>>()
    );
    v["sessions"] = json!(sessions.iter().map(|s| json!({ "sid": s.id, "created_at": s.created_at, "last_seen_at": s.last_seen_at, "client_ip": s.client_ip })).collect::<Vec<_>>());
    ok(v)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GrantsQuery {
    account_id: Option<String>,
    client_id: Option<String>,
}

async fn grants_list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(q): Query<GrantsQuery>,
) -> ApiResult {
    admin_only(&caller)?;
    let now = state.clock.now();
    let g = store::access::list_grants(&state.db, q.account_id.as_deref(), q.client_id.as_deref())
        .await?;
    ok(json!({ "grants": g.iter().map(|g| grant_json(g, now)).collect::<Vec<_>>() }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGrant {
    account_id: String,
    client_id: String,
    #[serde(default)]
    roles: Vec<String>,
    expires_at: Option<DateTime<Utc>>,
}

fn grant_error(e: GrantError) -> ApiError {
    match e {
        GrantError::Db(e) => ApiError::internal(e),
        GrantError::Internal(e) => ApiError::internal(e),
        GrantError::NothingToRevoke => ApiError::not_found(),
        e => ApiError::invalid(e.to_string()),
    }
}

async fn grants_create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ctx: RequestContext,
    ApiJson(b): ApiJson<CreateGrant>,
) -> ApiResult {
    admin_only(&caller)?;
    let now = state.clock.now();
    let txn = state.begin_write().await?;
    grants::add(
        &txn,
        now,
        &ctx,
        caller.0.actor(),
        NewGrant {
            account_id: b.account_id.clone(),
            client_id: b.client_id.clone(),
            roles: b.roles,
            expires_at: b.expires_at,
        },
    )
    .await
    .map_err(grant_error)?;
    txn.commit().await?;
    let g = store::access::find_grant(&state.db, &b.account_id, &b.client_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut r = ok(grant_json(&g, now))?;
    *r.status_mut() = StatusCode::CREATED;
    Ok(r)
}

async fn grant_delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    ctx: RequestContext,
    Path((account_id, client_id)): Path<(String, String)>,
) -> ApiResult {
    admin_only(&caller)?;
    let txn = state.begin_write().await?;
    grants::revoke(
        &txn,
        state.clock.now(),
        &ctx,
        caller.0.actor(),
        &account_id,
        &client_id,
    )
    .await
    .map_err(grant_error)?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RequestsQuery {
    status: Option<String>,
}

async fn requests_list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(q): Query<RequestsQuery>,
) -> ApiResult {
    if !caller.0.can_review_requests() {
        return Err(ApiError::forbidden());
    }
    let status = q.status.as_deref().unwrap_or("pending");
    if !["pending", "approved", "rejected"].contains(&status) {
        return Err(ApiError::invalid("status is pending, approved or rejected"));
    }
    let list = store::access::list_requests(&state.db, Some(status), caller.0.dealership()).await?;
    let out: Vec<Value> = list
        .iter()
        .map(|r| json!({ "id": r.id, "kind": r.kind, "account_id": r.account_id, "client_id": r.client_id, "org_id": r.org_id,
                         "reason": r.reason, "status": r.status, "filed_at": r.filed_at, "decided_at": r.decided_at,
                         "decided_by": r.decided_by, "decision_reason": r.decision_reason, "details": r.details }))
        .collect();
    ok(json!({ "access_requests": out }))
}

fn request_error(e: RequestError) -> ApiError {
    match e {
        RequestError::NotFound => ApiError::not_found(),
        RequestError::Forbidden => ApiError::forbidden(),
        RequestError::AlreadyDecided => {
            ApiError::new(StatusCode::CONFLICT, "already_decided", e.to_string())
        }
        RequestError::PartOfRegistration => {
            ApiError::new(StatusCode::CONFLICT, "part_of_registration", e.to_string())
        }
        RequestError::Db(e) => ApiError::internal(e),
        RequestError::Grant(e) => grant_error(e),
        e => ApiError::invalid(e.to_string()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Decision {
    roles: Vec<String>,
    reason: Option<String>,
}

async fn request_approve(
    State(state): State<AppState>,
    caller: ApiCaller,
    ctx: RequestContext,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Decision>,
) -> ApiResult {
    if !caller.0.can_review_requests() {
        return Err(ApiError::forbidden());
    }
    let txn = state.begin_write().await?;
    requests::approve(&txn, state.clock.now(), &ctx, &caller.0, &id, b.roles)
        .await
        .map_err(request_error)?;
    txn.commit().await?;
    ok(json!({ "id": id, "status": "approved" }))
}

async fn request_reject(
    State(state): State<AppState>,
    caller: ApiCaller,
    ctx: RequestContext,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Decision>,
) -> ApiResult {
    if !caller.0.can_review_requests() {
        return Err(ApiError::forbidden());
    }
    let txn = state.begin_write().await?;
    requests::reject(
        &txn,
        state.clock.now(),
        &ctx,
        &caller.0,
        &id,
        b.reason.as_deref(),
    )
    .await
    .map_err(request_error)?;
    txn.commit().await?;
    ok(json!({ "id": id, "status": "rejected" }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovedApp {
    client_id: String,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrationApproval {
    applications: Vec<ApprovedApp>,
}

async fn registration_approve(
    State(state): State<AppState>,
    caller: ApiCaller,
    ctx: RequestContext,
    Path(account_id): Path<String>,
    ApiJson(b): ApiJson<RegistrationApproval>,
) -> ApiResult {
    if !caller.0.can_review_requests() {
        return Err(ApiError::forbidden());
    }
    let approved = b
        .applications
        .into_iter()
        .map(|a| registrations::Approved {
            client_id: a.client_id,
            roles: a.roles,
        })
        .collect();
    let txn = state.begin_write().await?;
    registrations::approve(
        &txn,
        state.clock.now(),
        &ctx,
        &caller.0,
        &account_id,
        approved,
    )
    .await
    .map_err(request_error)?;
    txn.commit().await?;
    ok(json!({ "account_id": account_id, "status": "active" }))
}

async fn registration_reject(
    State(state): State<AppState>,
    caller: ApiCaller,
    ctx: RequestContext,
    Path(account_id): Path<String>,
    ApiJson(b): ApiJson<Decision>,
) -> ApiResult {
    if !caller.0.can_review_requests() {
        return Err(ApiError::forbidden());
    }
    let reason = b.reason.unwrap_or_default();
    let txn = state.begin_write().await?;
    registrations::reject(
        &txn,
        state.clock.now(),
        &ctx,
        &caller.0,
        &account_id,
        &reason,
    )
    .await
    .map_err(request_error)?;
    txn.commit().await?;
    ok(json!({ "account_id": account_id, "status": "rejected" }))
}

async fn audit_list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(q): Query<AuditQuery>,
) -> ApiResult {
    admin_only(&caller)?;
    let since = match q.since.trim() {
        "" => None,
        s => Some(
            DateTime::parse_from_rfc3339(s)
                .map_err(|_| ApiError::invalid("since must be RFC 3339"))?
                .with_timezone(&Utc),
        ),
    };
    let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let (event, actor, target) = (opt(&q.event), opt(&q.actor), opt(&q.target));
    let events = store::audit::search(
        &state.db,
        event.as_deref(),
        actor.as_deref(),
        target.as_deref(),
        since,
        1000,
    )
    .await?;
    let out: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({ "id": e.id, "at": e.at, "event": e.event, "actor": e.actor, "target": e.target,
                         "client_ip": e.client_ip, "request_id": e.request_id, "detail": e.detail })
        })
        .collect();
    ok(json!({ "events": out }))
}
