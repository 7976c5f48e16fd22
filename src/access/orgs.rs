//! Dealerships, identified by their 5-digit Primary Dealer Number (PDN).

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    store,
};

/// A Primary Dealer Number: exactly five ASCII digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pdn(String);

impl Pdn {
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        (s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit())).then(|| Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error("a PDN is exactly 5 digits")]
    InvalidPdn,
    #[error("the dealership name must not be empty")]
    EmptyName,
    #[error("a dealership with PDN {0} already exists")]
    Duplicate(String),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

pub async fn add(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    actor: Actor<'_>,
    pdn: &str,
    name: &str,
) -> Result<String, OrgError> {
    let pdn = Pdn::parse(pdn).ok_or(OrgError::InvalidPdn)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(OrgError::EmptyName);
    }
    if store::access::find_org_by_pdn(c, pdn.as_str())
        .await?
        .is_some()
    {
        return Err(OrgError::Duplicate(pdn.0));
    }
    let id = uuid::Uuid::new_v4().to_string();
    store::access::insert_org(
        c,
        entity::organization::Model {
            id: id.clone(),
            pdn: pdn.0.clone(),
            name: name.to_owned(),
            active: true,
            created_at: now,
        },
    )
    .await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::OrganizationCreated,
        actor,
        Some(&id),
        serde_json::json!({ "pdn": pdn.0, "name": name }),
    )
    .await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pdn() {
        assert!(super::Pdn::parse("12345").is_some());
        assert!(super::Pdn::parse("1234").is_none());
        assert!(super::Pdn::parse("123456").is_none());
        assert!(super::Pdn::parse("12a45").is_none());
    }
}
