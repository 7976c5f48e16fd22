//! Telling applications that a person's session with them is over: back-channel logout
//! deliveries queued in the same transaction as the change that ends the session (so a
//! rollback sends nothing and a commit can never forget to send), and the front-channel
//! logout URLs the signed-out page loads.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::{oidc::authorize::flow::append_query, store};

/// Queues a back-channel logout (BCL §2.5) for every application that received tokens in
/// this session and registered a `backchannel_logout_uri`. Returns how many.
pub async fn queue_for_session(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    account_id: &str,
    session_id: &str,
    reason: &str,
) -> Result<usize, DbErr> {
    let mut n = 0;
    for client_id in store::sessions::clients_of_session(c, session_id).await? {
        if queue(c, now, &client_id, account_id, session_id, reason).await? {
            n += 1;
        }
    }
    Ok(n)
}

/// Signs the account out of one application only (its grant was revoked): a back-channel
/// logout for each live session in which that application received tokens. The SSO session
/// itself stays, for the other applications.
pub async fn sign_out_of_app(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    account_id: &str,
    client_id: &str,
    reason: &str,
) -> Result<usize, DbErr> {
    let mut n = 0;
    for sid in store::sessions::session_ids_with_client(c, account_id, client_id).await? {
        let live = store::sessions::find(c, &sid)
            .await?
            .is_some_and(|s| s.ended_at.is_none() && s.expires_at > now);
        if live && queue(c, now, client_id, account_id, &sid, reason).await? {
            n += 1;
        }
    }
    Ok(n)
}

async fn queue(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    client_id: &str,
    account_id: &str,
    session_id: &str,
    reason: &str,
) -> Result<bool, DbErr> {
    let wants_it = store::clients::find(c, client_id)
        .await?
        .is_some_and(|m| m.backchannel_logout_uri.is_some());
    if wants_it {
        store::logout::insert(
            c,
            entity::logout_delivery::Model {
                id: uuid::Uuid::new_v4().to_string(),
                client_id: client_id.to_owned(),
                account_id: account_id.to_owned(),
                session_id: Some(session_id.to_owned()),
                reason: reason.to_owned(),
                attempts: 0,
                created_at: now,
                next_attempt_at: now,
                delivered_at: None,
                given_up_at: None,
                last_error: None,
            },
        )
        .await?;
    }
    Ok(wants_it)
}

/// The front-channel logout URLs (FCL §2-§3) of the applications in a session, each with
/// `iss` and `sid` so the application can tell which session ended: the signed-out page
/// renders one hidden iframe per URL.
pub async fn front_channel_urls(
    c: &impl ConnectionTrait,
    issuer: &str,
    session_id: &str,
) -> Result<Vec<String>, DbErr> {
    let mut urls = Vec::new();
    for client_id in store::sessions::clients_of_session(c, session_id).await? {
        if let Some(uri) = store::clients::find(c, &client_id)
            .await?
            .and_then(|m| m.frontchannel_logout_uri)
        {
            urls.push(append_query(&uri, &[("iss", issuer), ("sid", session_id)]));
        }
    }
    Ok(urls)
}
