//! Creating accounts: by the operator CLI and by self-service registration.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use secrecy::{ExposeSecret, SecretString};

use super::password_policy::{self, PolicyError};
use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    crypto::password::{PasswordError, PasswordHasher},
    store,
};

/// A user ID as typed at sign-in. Matching at sign-in is exact (case-sensitive); uniqueness
/// is checked on the case-folded form so `JSmith` and `jsmith` can never be two people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Self, CreateError> {
        let ok_len = (3..=64).contains(&s.len());
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
        let starts_alnum = s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if ok_len && ok_chars && starts_alnum {
            Ok(Self(s.to_owned()))
        } else {
            Err(CreateError::InvalidUsername)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error(
        "user ID must be 3-64 characters: letters, digits, '.', '_', '-' or '@', starting with a letter or digit"
    )]
    InvalidUsername,
    #[error("user ID `{0}` is already taken")]
    DuplicateUsername(String),
    #[error("an account already uses this e-mail address; if it is yours, use Forgot user ID")]
    DuplicateEmail,
    #[error("`{0}` is not a valid e-mail address")]
    InvalidEmail(String),
    #[error(transparent)]
    WeakPassword(#[from] PolicyError),
    #[error(transparent)]
    Hash(#[from] PasswordError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// A deliberately small check: one `@`, something on both sides, a dot in the domain, no
/// spaces. Whether the mailbox exists is only known by sending to it.
pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && s.len() <= 254
        && !s.chars().any(char::is_whitespace)
}

#[derive(Debug)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub password: SecretString,
    /// The dealership the person works for (dealer staff only).
    pub org_id: Option<String>,
    /// The configured minimum password length.
    pub password_min_length: usize,
    /// Active at once, or pending a reviewer's approval (dealer self-registration).
    pub status: AccountStatus,
    /// The customer record a registering cardholder proved.
    pub customer_id: Option<String>,
    /// Dealer staff's business phone and role at the dealership.
    pub phone: Option<String>,
    pub job_role: Option<String>,
}

/// Creates an active account; returns its id (the `sub` relying parties see).
pub async fn create(
    c: &impl ConnectionTrait,
    hasher: &PasswordHasher,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    actor: Actor<'_>,
    new: NewUser,
) -> Result<String, CreateError> {
    let username = Username::parse(&new.username)?;
    let email = new.email.trim().to_owned();
    if !valid_email(&email) {
        return Err(CreateError::InvalidEmail(email));
    }
    password_policy::check(
        new.password.expose_secret(),
        username.as_str(),
        new.password_min_length,
    )?;
    if store::accounts::exists_normalized(c, &username.normalized()).await? {
        return Err(CreateError::DuplicateUsername(username.0));
    }
    if store::accounts::email_in_use(c, &email).await? {
        return Err(CreateError::DuplicateEmail);
    }
    let password_hash = hasher.hash(&new.password).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let clean = |s: Option<String>| s.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    store::accounts::insert(
        c,
        entity::account::Model {
            id: id.clone(),
            username_normalized: username.normalized(),
            username: username.0,
            email,
            email_verified: false,
            given_name: clean(new.given_name),
            family_name: clean(new.family_name),
            password_hash,
            status: new.status.as_str().to_owned(),
            created_at: now,
            updated_at: now,
            last_login_at: None,
            org_id: new.org_id,
            customer_id: new.customer_id,
            phone: clean(new.phone),
            job_role: clean(new.job_role),
            locked_until: None,
            lock_count: 0,
            activated_at: (new.status == AccountStatus::Active).then_some(now),
            password_changed_at: Some(now),
            must_change_password: false,
            inactivity_warned_at: None,
        },
    )
    .await?;
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::AccountCreated,
        actor,
        Some(&id),
        serde_json::json!({ "status": new.status.as_str() }),
    )
    .await?;
    Ok(id)
}

/// How messages and pages address the person: their given name, else their user ID.
pub fn greeting_name(a: &entity::account::Model) -> String {
    a.given_name.clone().unwrap_or_else(|| a.username.clone())
}

/// Whose account it is: the rules for locks and inactivity differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountKind {
    /// Registered with a card or account number.
    Cardholder,
    /// Staff of a dealership.
    Dealer,
    /// Anyone else (provider staff, accounts made with `user add`).
    Other,
}

impl AccountKind {
    pub fn of(a: &entity::account::Model) -> Self {
        if a.customer_id.is_some() {
            AccountKind::Cardholder
        } else if a.org_id.is_some() {
            AccountKind::Dealer
        } else {
            AccountKind::Other
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Cardholder => "cardholder",
            AccountKind::Dealer => "dealer",
            AccountKind::Other => "other",
        }
    }
}

/// Where an account stands. Only `Active` accounts can sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    PendingApproval,
    Locked,
    Deactivated,
    /// A registration a reviewer turned down.
    Rejected,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::PendingApproval => "pending",
            AccountStatus::Locked => "locked",
            AccountStatus::Deactivated => "deactivated",
            AccountStatus::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Active,
            Self::PendingApproval,
            Self::Locked,
            Self::Deactivated,
            Self::Rejected,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_of_an_account() {
        let mut a = entity::account::Model {
            id: "a".into(),
            username: "u".into(),
            username_normalized: "u".into(),
            email: "u@example.com".into(),
            email_verified: false,
            given_name: None,
            family_name: None,
            password_hash: String::new(),
            status: "active".into(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            last_login_at: None,
            org_id: None,
            customer_id: None,
            phone: None,
            job_role: None,
            locked_until: None,
            lock_count: 0,
            activated_at: None,
            password_changed_at: None,
            must_change_password: false,
            inactivity_warned_at: None,
        };
        assert_eq!(AccountKind::of(&a), AccountKind::Other);
        a.org_id = Some("org".into());
        assert_eq!(AccountKind::of(&a), AccountKind::Dealer);
        a.org_id = None;
        a.customer_id = Some("cust".into());
        assert_eq!(AccountKind::of(&a), AccountKind::Cardholder);
    }

    #[test]
    fn usernames_and_emails() {
        assert!(Username::parse("jsmith").is_ok());
        assert!(Username::parse("j.smith@dealer-1").is_ok());
        assert!(Username::parse("js").is_err());
        assert!(Username::parse(".hidden").is_err());
        assert!(Username::parse("has space").is_err());
        assert_eq!(
            Username::parse("JSmith").map(|u| u.normalized()).ok(),
            Some("jsmith".into())
        );
        assert!(valid_email("a@b.co"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("@b.co"));
        assert!(!valid_email("a b@c.de"));
    }
}
