//! "Where you're signed in": a person's live single sign-on sessions with the applications
//! used in each, and ending one of them or all of them (each ending tells the session's
//! applications by back-channel logout, see `authn::session::end`).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    authn::session,
    config::Session,
    store,
};

/// One live session as the account page shows it.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub id: String,
    pub device: String,
    pub client_ip: Option<String>,
    pub started: DateTime<Utc>,
    pub last_active: DateTime<Utc>,
    /// Names of the applications that received tokens in it.
    pub apps: Vec<String>,
}

/// The account's live sessions, most recently active first.
pub async fn list(
    c: &impl ConnectionTrait,
    cfg: &Session,
    now: DateTime<Utc>,
    account_id: &str,
) -> Result<Vec<SignedIn>, DbErr> {
    let mut out = Vec::new();
    for m in store::sessions::live_for_account(c, account_id, now).await? {
        if !session::is_live(&m, cfg, now) {
            continue;
        }
        let mut apps = Vec::new();
        for client_id in store::sessions::clients_of_session(c, &m.id).await? {
            let name = store::clients::find(c, &client_id).await?.map(|c| c.name);
            apps.push(name.unwrap_or(client_id));
        }
        apps.sort();
        out.push(SignedIn {
            device: device_label(m.user_agent.as_deref()),
            id: m.id,
            client_ip: m.client_ip,
            started: m.created_at,
            last_active: m.last_seen_at,
            apps,
        });
    }
    Ok(out)
}

/// Ends one of the account's own sessions; false when it is not the account's or has
/// already ended (the same answer, so session ids of others cannot be probed).
pub async fn end_one(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    account_id: &str,
    session_id: &str,
) -> Result<bool, DbErr> {
    let owned = store::sessions::find(c, session_id)
        .await?
        .is_some_and(|s| s.account_id == account_id);
    if !owned || !session::end(c, now, session_id, "ended by the user").await? {
        return Ok(false);
    }
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::SessionEnded,
        Actor::Account(account_id),
        Some(account_id),
        serde_json::json!({ "sid": session_id, "by": "user" }),
    )
    .await?;
    Ok(true)
}

/// Ends every session of the account ("sign out everywhere"); returns how many.
pub async fn end_all(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    account_id: &str,
) -> Result<u64, DbErr> {
    let n = session::end_all_for_account(c, now, account_id, "ended by the user").await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::SessionEnded,
        Actor::Account(account_id),
        Some(account_id),
        serde_json::json!({ "all": true, "sessions_ended": n, "by": "user" }),
    )
    .await?;
    Ok(n)
}

/// "Chrome on Windows", from a User-Agent header: enough for a person to recognise their
/// own device, not a fingerprint.
pub fn device_label(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|u| !u.trim().is_empty()) else {
        return "Unknown device".into();
    };
    // Order matters: Edge and Opera also say Chrome; Chrome also says Safari.
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, v)| *v);
    let os = [
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(k, _)| ua.contains(k))
    .map(|(_, v)| *v);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(o)) => format!("A browser on {o}"),
        (None, None) => {
            // A program rather than a browser: show its name, shortened.
            let name: String = ua
                .split('/')
                .next()
                .unwrap_or(ua)
                .chars()
                .take(40)
                .collect();
            name
        }
    }
}

#[cfg(test)]
mod tests {
    use super::device_label;

    #[test]
    fn devices_people_recognise() {
        let chrome_win = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";
        assert_eq!(device_label(Some(chrome_win)), "Chrome on Windows");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0";
        assert_eq!(device_label(Some(edge)), "Edge on Windows");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device_label(Some(iphone)), "Safari on iPhone");
        let android = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36";
        assert_eq!(device_label(Some(android)), "Chrome on Android");
        assert_eq!(device_label(Some("curl/8.5.0")), "curl");
        assert_eq!(device_label(None), "Unknown device");
    }
}
