//! Staff roles and what each may do. `admin` may do everything; `helpdesk` finds and views
//! accounts (unlock/reset come with account recovery); `dealer_admin` is bound to one
//! dealership and sees and decides only that dealership's requests and accounts.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    store,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaffRole {
    Admin,
    Helpdesk,
    DealerAdmin,
}

impl StaffRole {
    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Admin => "admin",
            StaffRole::Helpdesk => "helpdesk",
            StaffRole::DealerAdmin => "dealer_admin",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            StaffRole::Admin,
            StaffRole::Helpdesk,
            StaffRole::DealerAdmin,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// Who is acting in the console or the API.
#[derive(Clone, Debug)]
pub enum Principal {
    /// A person, with their staff roles (each dealer_admin role carries its dealership).
    Staff {
        account_id: String,
        roles: Vec<(StaffRole, Option<String>)>,
    },
    /// An application holding the `ally:admin` scope through client_credentials: a service
    /// account with administrator rights.
    Service { client_id: String },
}

impl Principal {
    pub async fn for_account(
        c: &impl ConnectionTrait,
        account_id: &str,
    ) -> Result<Self, sea_orm::DbErr> {
        let roles = store::access::staff_roles_of(c, account_id)
            .await?
            .into_iter()
            .filter_map(|r| Some((StaffRole::parse(&r.role)?, r.org_id)))
            .collect();
        Ok(Principal::Staff {
            account_id: account_id.to_owned(),
            roles,
        })
    }

    /// The staff member's own account (`None` for an API client).
    pub fn account_id(&self) -> Option<&str> {
        match self {
            Principal::Staff { account_id, .. } => Some(account_id),
            Principal::Service { .. } => None,
        }
    }

    pub fn actor(&self) -> Actor<'_> {
        match self {
            Principal::Staff { account_id, .. } => Actor::Account(account_id),
            Principal::Service { client_id } => Actor::Client(client_id),
        }
    }

    fn has(&self, role: StaffRole) -> bool {
        match self {
            Principal::Staff { roles, .. } => roles.iter().any(|(r, _)| *r == role),
            Principal::Service { .. } => role == StaffRole::Admin,
        }
    }

    pub fn is_staff(&self) -> bool {
        match self {
            Principal::Staff { roles, .. } => !roles.is_empty(),
            Principal::Service { .. } => true,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.has(StaffRole::Admin)
    }

    /// The dealership a dealer_admin (who is neither admin nor help desk) is confined to.
    pub fn dealership(&self) -> Option<&str> {
        match self {
            Principal::Staff { roles, .. }
                if !self.is_admin() && !self.has(StaffRole::Helpdesk) =>
            {
                roles
                    .iter()
                    .find(|(r, _)| *r == StaffRole::DealerAdmin)
                    .and_then(|(_, o)| o.as_deref())
            }
            _ => None,
        }
    }

    /// May see this account (and search among accounts like it).
    pub fn can_view_account(&self, account_org: Option<&str>) -> bool {
        self.is_admin()
            || self.has(StaffRole::Helpdesk)
            || (self.has(StaffRole::DealerAdmin)
                && self.dealership().is_some()
                && self.dealership() == account_org)
    }

    /// May approve or reject a request filed for this dealership (or none).
    pub fn can_decide_request(&self, request_org: Option<&str>) -> bool {
        self.is_admin()
            || (self.has(StaffRole::DealerAdmin)
                && self.dealership().is_some()
                && self.dealership() == request_org)
    }

    /// May see the request queue at all.
    pub fn can_review_requests(&self) -> bool {
        self.is_admin() || self.has(StaffRole::DealerAdmin)
    }

    /// May verify callers and, after a match, unlock, reset or reactivate (the help desk).
    pub fn can_assist(&self) -> bool {
        self.is_admin() || self.has(StaffRole::Helpdesk)
    }

    /// May search and view accounts at all.
    pub fn can_view_accounts(&self) -> bool {
        self.is_admin() || self.has(StaffRole::Helpdesk) || self.has(StaffRole::DealerAdmin)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("no account with user ID `{0}`")]
    UnknownUser(String),
    #[error("a dealer_admin needs --pdn naming their dealership")]
    DealerAdminNeedsDealership,
    #[error("no dealership with PDN `{0}`")]
    UnknownDealership(String),
    #[error("only dealer_admin is bound to a dealership")]
    DealershipNotAllowed,
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// Gives an account a staff role.
pub async fn add_role(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    actor: Actor<'_>,
    username: &str,
    role: StaffRole,
    pdn: Option<&str>,
) -> Result<(), StaffError> {
    let account = store::accounts::find_by_username(c, username)
        .await?
        .ok_or_else(|| StaffError::UnknownUser(username.to_owned()))?;
    let org_id = match (role, pdn) {
        (StaffRole::DealerAdmin, None) => return Err(StaffError::DealerAdminNeedsDealership),
        (StaffRole::DealerAdmin, Some(p)) => Some(
            store::access::find_org_by_pdn(c, p)
                .await?
                .ok_or_else(|| StaffError::UnknownDealership(p.to_owned()))?
                .id,
        ),
        (_, Some(_)) => return Err(StaffError::DealershipNotAllowed),
        (_, None) => None,
    };
    store::access::upsert_staff_role(
        c,
        entity::staff_role::Model {
            account_id: account.id.clone(),
            role: role.as_str().to_owned(),
            org_id: org_id.clone(),
            granted_by: actor.render(),
            granted_at: now,
        },
    )
    .await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::StaffRoleAdded,
        actor,
        Some(&account.id),
        serde_json::json!({ "role": role.as_str(), "org_id": org_id }),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(roles: &[(StaffRole, Option<&str>)]) -> Principal {
        Principal::Staff {
            account_id: "a".into(),
            roles: roles
                .iter()
                .map(|(r, o)| (*r, o.map(str::to_owned)))
                .collect(),
        }
    }

    #[test]
    fn permissions() {
        let admin = staff(&[(StaffRole::Admin, None)]);
        let help = staff(&[(StaffRole::Helpdesk, None)]);
        let dealer = staff(&[(StaffRole::DealerAdmin, Some("org1"))]);
        let nobody = staff(&[]);
        assert!(admin.can_decide_request(Some("org2")) && admin.can_view_account(None));
        assert!(
            help.can_view_account(Some("org2"))
                && !help.can_decide_request(Some("org2"))
                && !help.can_review_requests()
        );
        assert!(
            dealer.can_decide_request(Some("org1"))
                && !dealer.can_decide_request(Some("org2"))
                && !dealer.can_decide_request(None)
        );
        assert!(
            dealer.can_view_account(Some("org1"))
                && !dealer.can_view_account(Some("org2"))
                && !dealer.can_view_account(None)
        );
        assert!(!nobody.is_staff() && !nobody.can_view_accounts());
        assert!(
            Principal::Service {
                client_id: "svc".into()
            }
            .is_admin()
        );
    }
}
