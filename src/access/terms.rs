//! Application terms accepted on first use (SmartAuction): shown once at the authorization
//! step, recorded per account, application and version of the text.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::clients::Client;
use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    store,
};

/// Records acceptance of the client's current terms (idempotent; audited once).
pub async fn accept(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    client: &Client,
    account_id: &str,
) -> Result<(), sea_orm::DbErr> {
    let Some(version) = client.terms_version() else {
        return Ok(());
    };
    if store::terms::insert(c, account_id, &client.client_id, &version, now).await? {
        audit::record(
            c,
            now,
            ctx,
            AuditEvent::TermsAccepted,
            Actor::Account(account_id),
            Some(account_id),
            serde_json::json!({ "client_id": client.client_id, "version": version }),
        )
        .await?;
    }
    Ok(())
}
