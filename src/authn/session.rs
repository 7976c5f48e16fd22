//! The single sign-on session: a server-side row and a cookie holding a random token whose
//! keyed hash is the row's lookup key. The public session id (`sid` in tokens) is a
//! different random value, so nothing a relying party sees can be replayed as the cookie.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::{
    audit::RequestContext,
    config::Session,
    crypto::opaque::{self, Purpose, TokenHasher},
    store,
};

#[derive(Clone, Debug)]
pub struct SsoSession {
    pub id: String,
    pub account_id: String,
    pub auth_time: DateTime<Utc>,
    pub amr: Vec<String>,
    pub acr: String,
    /// The second factor was skipped because the browser was remembered for the account.
    pub mfa_remembered: bool,
}

impl SsoSession {
    /// RFC 8176 `mfa`: more than one factor was shown in this session.
    pub fn multi_factor(&self) -> bool {
        self.amr.iter().any(|m| m == "mfa")
    }

    pub fn factors(&self) -> crate::authn::mfa::SessionFactors {
        crate::authn::mfa::SessionFactors {
            multi_factor: self.multi_factor(),
            remembered: self.mfa_remembered,
        }
    }

    fn from_model(m: entity::sso_session::Model) -> Self {
        Self {
            mfa_remembered: m.mfa_remembered,
            amr: serde_json::from_value(m.amr).unwrap_or_default(),
            id: m.id,
            account_id: m.account_id,
            auth_time: m.auth_time,
            acr: m.acr,
        }
    }
}

/// Who just authenticated, and how (OIDC Core §2: `amr`, `acr`).
#[derive(Clone, Copy, Debug)]
pub struct Authenticated<'a> {
    pub account_id: &'a str,
    pub amr: &'a [&'a str],
    pub acr: &'a str,
    /// A remembered browser stood in for the second factor.
    pub remembered: bool,
}

/// Starts a session for an account that just authenticated; returns it and the cookie value.
pub async fn start(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    who: Authenticated<'_>,
    lifetime: Duration,
) -> Result<(SsoSession, String), DbErr> {
    let Authenticated {
        account_id,
        amr,
        acr,
        remembered,
    } = who;
    let token = opaque::generate();
    let m = entity::sso_session::Model {
        id: uuid::Uuid::new_v4().to_string(),
        token_hash: hasher.hash(Purpose::Session, &token),
        account_id: account_id.to_owned(),
        auth_time: now,
        amr: serde_json::json!(amr),
        acr: acr.to_owned(),
        user_agent: ctx.user_agent.clone(),
        client_ip: ctx.client_ip.clone(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + lifetime,
        ended_at: None,
        mfa_remembered: remembered,
    };
    store::sessions::insert(c, m.clone()).await?;
    Ok((SsoSession::from_model(m), token))
}

/// Starts a session, ending the one the browser had: a new sign-in replaces it (and its
/// non-offline tokens), so two accounts never share one browser session.
pub async fn replace(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    previous: Option<&SsoSession>,
    who: Authenticated<'_>,
    lifetime: Duration,
) -> Result<(SsoSession, String), DbErr> {
    if let Some(old) = previous {
        end(c, now, &old.id, "signed in again").await?;
    }
    start(c, hasher, now, ctx, who, lifetime).await
}

/// Activity is written at most this often, so browsing does not write on every page.
const TOUCH_EVERY: i64 = 60;

/// Whether a session is still usable: not ended, within its absolute lifetime, and (when an
/// idle timeout is set) used recently enough.
pub fn is_live(m: &entity::sso_session::Model, cfg: &Session, now: DateTime<Utc>) -> bool {
    m.ended_at.is_none()
        && m.expires_at > now
        && (cfg.idle_secs <= 0 || m.last_seen_at + Duration::seconds(cfg.idle_secs) > now)
}

/// The live session behind a cookie value, if any; using it counts as activity.
pub async fn resume(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    cfg: &Session,
    now: DateTime<Utc>,
    cookie_value: &str,
) -> Result<Option<SsoSession>, DbErr> {
    let hash = hasher.hash(Purpose::Session, cookie_value);
    let Some(m) = store::sessions::find_by_token_hash(c, &hash).await? else {
        return Ok(None);
    };
    live(c, m, cfg, now).await
}

/// `resume`, and the account's standing with an application read in the same statement
/// (`/authorize` asks both on every request).
pub async fn resume_with_standing(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    cfg: &Session,
    now: DateTime<Utc>,
    cookie_value: &str,
    ask: &store::standing::Ask<'_>,
) -> Result<Option<(SsoSession, store::standing::Standing)>, DbErr> {
    let hash = hasher.hash(Purpose::Session, cookie_value);
    let Some((m, standing)) = store::standing::read_with_session(c, &hash, ask).await? else {
        return Ok(None);
    };
    Ok(live(c, m, cfg, now).await?.map(|s| (s, standing)))
}

/// `m` as a session if it is live, recording the activity.
async fn live(
    c: &impl ConnectionTrait,
    m: entity::sso_session::Model,
    cfg: &Session,
    now: DateTime<Utc>,
) -> Result<Option<SsoSession>, DbErr> {
    if !is_live(&m, cfg, now) {
        return Ok(None);
    }
    touch(c, &m, now).await?;
    Ok(Some(SsoSession::from_model(m)))
}

/// Records activity in a session (a page here, or an application refreshing its tokens),
/// pushing back the idle timeout.
pub async fn touch(
    c: &impl ConnectionTrait,
    m: &entity::sso_session::Model,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if needs_touch(m, now) {
        store::sessions::touch_many(c, &[&m.id], now).await?;
    }
    Ok(())
}

/// Whether using `m` now should be recorded as activity (`touch` writes at most once a
/// minute per session).
pub fn needs_touch(m: &entity::sso_session::Model, now: DateTime<Utc>) -> bool {
    now - m.last_seen_at >= Duration::seconds(TOUCH_EVERY)
}

/// Ends a session and every token family bound to it that was not granted offline access
/// (OIDC Core §11), and queues a back-channel logout to each application that took part
/// (`reason` goes to the audit trail of the delivery). Returns false if it had already
/// ended.
pub async fn end(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    session_id: &str,
    reason: &str,
) -> Result<bool, DbErr> {
    let ended = store::sessions::end(c, session_id, now).await?;
    store::tokens::revoke_online_families_of_session(c, session_id, now).await?;
    if ended && let Some(m) = store::sessions::find(c, session_id).await? {
        super::logout::queue_for_session(c, now, &m.account_id, session_id, reason).await?;
    }
    Ok(ended)
}

/// Ends every live session of an account (password reset, deactivation, lock), each with
/// its back-channel logouts; returns how many ended.
pub async fn end_all_for_account(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    account_id: &str,
    reason: &str,
) -> Result<u64, DbErr> {
    let mut n = 0;
    for id in store::sessions::unended_ids_for_account(c, account_id).await? {
        if end(c, now, &id, reason).await? {
            n += 1;
        }
    }
    Ok(n)
}

/// Ends the sessions that have run out (absolute lifetime or idle timeout) but were never
/// ended, so their applications hear of it by back-channel logout. Run periodically.
pub async fn end_expired(
    c: &impl ConnectionTrait,
    cfg: &Session,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let idle_cutoff = (cfg.idle_secs > 0).then(|| now - Duration::seconds(cfg.idle_secs));
    let mut n = 0;
    for id in store::sessions::expired_unended_ids(c, now, idle_cutoff, 500).await? {
        if end(c, now, &id, "session expired").await? {
            n += 1;
        }
    }
    Ok(n)
}

/// Records a second factor shown by a signed-in session (step-up): its methods, its class,
/// and the time of this authentication (OIDC Core §2 `auth_time`, used by `max_age`).
pub async fn step_up(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    session_id: &str,
    amr: &[String],
    acr: &str,
) -> Result<bool, DbErr> {
    store::sessions::step_up(c, session_id, serde_json::json!(amr), acr, now).await
}

/// A factor was just set up in this session and proven by its first use (a TOTP code, a
/// passkey with user verification): the session has now shown two factors, so the person
/// is not sent to a second step right after setting one up.
pub async fn add_factor(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    s: &SsoSession,
    shown: &[&str],
) -> Result<(), DbErr> {
    if s.multi_factor() {
        return Ok(());
    }
    let mut amr = s.amr.clone();
    for m in shown.iter().chain(&["mfa"]) {
        if !amr.iter().any(|a| a == m) {
            amr.push((*m).to_owned());
        }
    }
    step_up(c, now, &s.id, &amr, super::acr::AAL2)
        .await
        .map(|_| ())
}
