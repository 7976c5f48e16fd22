//! Driving an authorization request to its end: start it, park it server-side while the
//! user signs in or consents, resume it, and finally issue the code (or the error) that goes
//! back to the verified redirect URI.

use chrono::{DateTime, Duration, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

use super::{
    decision::{Decision, Gates, Progress, SessionFacts, decide},
    request::AuthorizationRequest,
};
use crate::{
    access::clients::Client,
    audit::{self, Actor, AuditEvent, RequestContext},
    authn::{mfa, session::SsoSession},
    crypto::opaque::{self, Purpose, TokenHasher},
    oidc::error::{ErrorCode, OAuthError},
    store,
};

/// What a parked request remembers besides the request itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    pub request: AuthorizationRequest,
    #[serde(default)]
    pub login_session: Option<String>,
    #[serde(default)]
    pub consented_by: Option<String>,
}

#[derive(Debug)]
pub enum Step {
    /// Show the sign-in screen for this pending request.
    Login(String),
    /// Ask for a second factor (the session steps up) for this pending request.
    SecondFactor(String),
    /// Show the consent screen for this pending request.
    Consent(String),
    /// Show the "you have no access; request it?" screen for this pending request.
    Access(String),
    /// Show the application's terms for this pending request.
    Terms(String),
    /// Send the browser back to the application (with a code or an error).
    Redirect(String),
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// Unknown, expired or already finished: the user has to start again at the application.
    #[error("the sign-in request has expired or was already used")]
    Expired,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for FlowError {
    fn from(e: sea_orm::DbErr) -> Self {
        FlowError::Internal(e.into())
    }
}

/// Everything the flow needs besides the connection.
pub struct FlowDeps<'a> {
    pub ctx: &'a RequestContext,
    pub tokens: &'a TokenHasher,
    pub issuer: &'a str,
    pub code_ttl: Duration,
    pub request_ttl: Duration,
    /// For applications without an MFA policy of their own.
    pub mfa_default: crate::access::clients::MfaPolicy,
    /// Stores the code of a request answered at once (see `begin`).
    pub writer: &'a crate::oidc::token::group_commit::TokenWriter,
}

/// What the user decided on the consent screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsentAnswer {
    Allow,
    Deny,
}

/// Why a parked request is being resumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// The user just signed in for this request (satisfies prompt=login and max_age).
    SignedIn,
    /// The signed-in user just showed a second factor (the session stepped up).
    SteppedUp,
    /// The user answered the consent screen.
    Consented(ConsentAnswer),
    /// The user chose to go back to the application without access.
    DeclinedAccess,
    /// The user accepted the application's terms.
    AcceptedTerms,
    /// The user declined the application's terms.
    DeclinedTerms,
}

fn facts(s: &SsoSession) -> SessionFacts<'_> {
    SessionFacts {
        id: &s.id,
        account_id: &s.account_id,
        auth_time: s.auth_time,
    }
}

/// The questions `/authorize` asks about the signed-in account and `client`
/// (`store::standing`).
pub fn ask<'a>(deps: &FlowDeps<'_>, client: &'a Client) -> store::standing::Ask<'a> {
    store::standing::Ask {
        client_id: &client.client_id,
        ask_factor: mfa::depends_on_chosen_factor(client.mfa_policy(deps.mfa_default)),
        terms_version: client.terms_version(),
    }
}

/// Where the signed-in account stands with this client, from its answers to `ask`: the scope
/// it consented to before, and what it is entitled to (everything when nobody is signed in
/// yet: the question is asked again after sign-in). One more read for a grant when the
/// application needs one.
async fn gates(
    c: &impl ConnectionTrait,
    deps: &FlowDeps<'_>,
    client: &Client,
    request: &AuthorizationRequest,
    signed_in: Option<(&SsoSession, &store::standing::Standing)>,
    now: DateTime<Utc>,
) -> Result<(Option<crate::oidc::scope::Scope>, Gates), sea_orm::DbErr> {
    let Some((s, read)) = signed_in else {
        return Ok((None, Gates::OPEN));
    };
    let policy_needs =
        mfa::required_by_policy(client.mfa_policy(deps.mfa_default), read.chosen_factor);
    let acr_needs = mfa::acr_values_ask_for_mfa(&request.acr_values);
    let gates = Gates {
        second_factor: s.factors().satisfies(policy_needs, acr_needs),
        access: crate::access::grants::roles_for(c, client, &s.account_id, now)
            .await?
            .is_some(),
        terms: read.accepted_terms,
    };
    let remembered = read
        .consented_scope
        .as_deref()
        .map(crate::oidc::scope::Scope::from_stored);
    Ok((remembered, gates))
}

/// A new request from /authorize; `signed_in` is the browser's session with its answers to
/// `ask`.
pub async fn begin(
    c: &impl ConnectionTrait,
    deps: &FlowDeps<'_>,
    now: DateTime<Utc>,
    client: &Client,
    request: AuthorizationRequest,
    signed_in: Option<(&SsoSession, &store::standing::Standing)>,
) -> Result<Step, FlowError> {
    let session = signed_in.map(|(s, _)| s);
    let (remembered, gates) = gates(c, deps, client, &request, signed_in, now).await?;
    let decision = decide(
        &request,
        client.third_party,
        session.map(facts),
        remembered.as_ref(),
        Progress::default(),
        gates,
        now,
    );
    let pending = Pending {
        request,
        login_session: None,
        consented_by: None,
    };
    match decision {
        // Only reads came before, so the code alone is written, and it can go through the
        // group commit (the common case: an application sending a signed-in person over).
        Decision::Issue => {
            let (code, step) = new_code(deps, now, &pending.request, session)?;
            let write = crate::oidc::token::group_commit::Write::IssueCode(code);
            deps.writer.write(write, now).await?;
            Ok(step)
        }
        Decision::Fail(code, d) => Ok(Step::Redirect(error_redirect(
            deps.issuer,
            &pending.request,
            code,
            d,
        ))),
        Decision::NeedLogin
        | Decision::NeedSecondFactor
        | Decision::NeedConsent
        | Decision::NeedAccess
        | Decision::NeedTerms => {
            let id = opaque::generate();
            store::auth_requests::insert(
                c,
                entity::authorization_request::Model {
                    id: id.clone(),
                    client_id: client.client_id.clone(),
                    params: serde_json::to_value(&pending).map_err(anyhow::Error::from)?,
                    created_at: now,
                    expires_at: now + deps.request_ttl,
                    completed_at: None,
                },
            )
            .await?;
            Ok(match decision {
                Decision::NeedLogin => Step::Login(id),
                Decision::NeedSecondFactor => Step::SecondFactor(id),
                Decision::NeedAccess => Step::Access(id),
                Decision::NeedTerms => Step::Terms(id),
                _ => Step::Consent(id),
            })
        }
    }
}

/// A parked request that is still usable.
pub async fn load(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    id: &str,
) -> Result<Pending, FlowError> {
    let row = store::auth_requests::find(c, id)
        .await?
        .ok_or(FlowError::Expired)?;
    if row.completed_at.is_some() || row.expires_at <= now {
        return Err(FlowError::Expired);
    }
    serde_json::from_value(row.params).map_err(|e| FlowError::Internal(e.into()))
}

/// A parked request that is still usable, with its client (a deleted client makes the
/// request as good as expired).
pub async fn load_with_client(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    id: &str,
) -> Result<(Pending, Client), FlowError> {
    let pending = load(c, now, id).await?;
    let client = crate::access::clients::find(c, &pending.request.client_id)
        .await?
        .ok_or(FlowError::Expired)?;
    Ok((pending, client))
}

/// Continues a parked request after the user signed in or answered the consent screen.
pub async fn resume(
    c: &impl ConnectionTrait,
    deps: &FlowDeps<'_>,
    now: DateTime<Utc>,
    id: &str,
    session: &SsoSession,
    event: Resume,
) -> Result<Step, FlowError> {
    let (mut pending, client) = load_with_client(c, now, id).await?;
    match event {
        Resume::SignedIn => {
            pending.login_session = Some(session.id.clone());
        }
        // The session's new factors are on the session itself; nothing to note here.
        Resume::SteppedUp => {}
        Resume::Consented(ConsentAnswer::Deny) | Resume::DeclinedAccess | Resume::DeclinedTerms => {
            store::auth_requests::complete(c, id, now).await?;
            let why = match event {
                Resume::DeclinedAccess => "the account has no access to this application",
                Resume::DeclinedTerms => "the user declined the application's terms",
                _ => "the user declined",
            };
            return Ok(Step::Redirect(error_redirect(
                deps.issuer,
                &pending.request,
                ErrorCode::AccessDenied,
                why,
            )));
        }
        Resume::AcceptedTerms => {
            crate::access::terms::accept(c, now, deps.ctx, &client, &session.account_id).await?;
        }
        Resume::Consented(ConsentAnswer::Allow) => {
            let s = session;
            store::consents::upsert(
                c,
                entity::consent::Model {
                    account_id: s.account_id.clone(),
                    client_id: client.client_id.clone(),
                    scope: pending.request.scope.to_string(),
                    granted_at: now,
                },
            )
            .await?;
            audit::record(
                c,
                now,
                deps.ctx,
                AuditEvent::ConsentGranted,
                Actor::Account(&s.account_id),
                Some(&client.client_id),
                serde_json::json!({ "scope": pending.request.scope.to_string() }),
            )
            .await?;
            pending.consented_by = Some(s.account_id.clone());
        }
    }
    store::auth_requests::update_params(
        c,
        id,
        serde_json::to_value(&pending).map_err(anyhow::Error::from)?,
    )
    .await?;
    let progress = Progress {
        login_session: pending.login_session.as_deref(),
        consented_by: pending.consented_by.as_deref(),
    };
    let read = store::standing::read(c, &session.account_id, &ask(deps, &client)).await?;
    let (remembered, access_gates) = gates(
        c,
        deps,
        &client,
        &pending.request,
        Some((session, &read)),
        now,
    )
    .await?;
    match decide(
        &pending.request,
        client.third_party,
        Some(facts(session)),
        remembered.as_ref(),
        progress,
        access_gates,
        now,
    ) {
        Decision::NeedLogin => Ok(Step::Login(id.to_owned())),
        Decision::NeedSecondFactor => Ok(Step::SecondFactor(id.to_owned())),
        Decision::NeedAccess => Ok(Step::Access(id.to_owned())),
        Decision::NeedTerms => Ok(Step::Terms(id.to_owned())),
        Decision::NeedConsent => Ok(Step::Consent(id.to_owned())),
        Decision::Fail(code, d) => {
            store::auth_requests::complete(c, id, now).await?;
            Ok(Step::Redirect(error_redirect(
                deps.issuer,
                &pending.request,
                code,
                d,
            )))
        }
        Decision::Issue => {
            // Single use: a replayed sign-in or consent post cannot mint a second code.
            if !store::auth_requests::complete(c, id, now).await? {
                return Err(FlowError::Expired);
            }
            let (code, step) = new_code(deps, now, &pending.request, Some(session))?;
            store::codes::insert(c, code).await?;
            Ok(step)
        }
    }
}

/// A new authorization code (RFC 6749 §4.1.2) and the redirect that delivers it; the row
/// to store holds only its keyed hash.
fn new_code(
    deps: &FlowDeps<'_>,
    now: DateTime<Utc>,
    req: &AuthorizationRequest,
    session: Option<&SsoSession>,
) -> Result<(entity::authorization_code::Model, Step), FlowError> {
    let s = session.ok_or_else(|| anyhow::anyhow!("issuing a code without a session"))?;
    let code = opaque::generate();
    let row = entity::authorization_code::Model {
        code_hash: deps.tokens.hash(Purpose::AuthorizationCode, &code),
        client_id: req.client_id.clone(),
        account_id: s.account_id.clone(),
        session_id: s.id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        scope: req.scope.to_string(),
        nonce: req.nonce.clone(),
        code_challenge: req.code_challenge.clone(),
        auth_time: s.auth_time,
        amr: serde_json::json!(s.amr),
        acr: s.acr.clone(),
        created_at: now,
        expires_at: now + deps.code_ttl,
        consumed_at: None,
        family_id: None,
    };
    let mut params = vec![("code", code.as_str())];
    if let Some(st) = &req.state {
        params.push(("state", st));
    }
    // RFC 9207 §2: the iss parameter lets the client detect mix-up attacks.
    params.push(("iss", deps.issuer));
    Ok((
        row,
        Step::Redirect(append_query(&req.redirect_uri, &params)),
    ))
}

/// The error response of RFC 6749 §4.1.2.1 on the verified redirect URI.
pub fn error_redirect(
    issuer: &str,
    req: &AuthorizationRequest,
    code: ErrorCode,
    description: &str,
) -> String {
    error_redirect_to(
        issuer,
        &req.redirect_uri,
        req.state.as_deref(),
        &OAuthError::new(code, description.to_owned()),
    )
}

pub fn error_redirect_to(
    issuer: &str,
    redirect_uri: &str,
    state: Option<&str>,
    e: &OAuthError,
) -> String {
    let mut params = vec![
        ("error", e.code.as_str()),
        ("error_description", &e.description),
    ];
    if let Some(st) = state {
        params.push(("state", st));
    }
    params.push(("iss", issuer));
    append_query(redirect_uri, &params)
}

/// Adds parameters to a URI, keeping any query it already has (RFC 6749 §3.1.2).
pub fn append_query(uri: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        // Unchanged: `Url` would add an empty `?` to a URI that had no query.
        return uri.to_owned();
    }
    match url::Url::parse(uri) {
        Ok(mut u) => {
            u.query_pairs_mut().extend_pairs(params);
            u.to_string()
        }
        // Registered URIs were validated as absolute URLs; this is unreachable in practice.
        Err(_) => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn append_keeps_existing_query() {
        assert_eq!(
            super::append_query(
                "https://a.example/cb?x=1",
                &[("code", "c d"), ("state", "s")]
            ),
            "https://a.example/cb?x=1&code=c+d&state=s"
        );
    }
}
