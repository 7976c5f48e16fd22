//! Self-service registration.
//!
//! Cardholders prove a customer record (card or account number plus the SSN's last four
//! digits), then choose their user ID: the account is active at once, linked to the record and
//! granted the card portal. Dealer staff name their dealership by PDN and ask for
//! applications: the account waits, pending, for a reviewer (`access::registrations`).
//!
//! Every failed proof is counted (`attempts`) and answered with one generic message, so the
//! form tells an attacker neither which cards exist nor which digit was wrong.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::{
    attempts::{Limiter, Record},
    customers::{self, CustomerHasher},
    questions::{self, QuestionError, SecurityAnswers, SetError},
    users::{self, AccountStatus, CreateError, NewUser},
};
use crate::{
    access::{
        grants::{self, NewGrant},
        orgs::Pdn,
        requests::{self, valid_phone},
    },
    audit::{self, Actor, AuditEvent, RequestContext},
    config::{Questions, Registration},
    crypto::password::PasswordHasher,
    mail::{self, Template},
    store,
};

/// What registration needs from the application.
pub struct Deps<'a> {
    pub passwords: &'a PasswordHasher,
    pub customers: CustomerHasher,
    pub limiter: Limiter,
    pub questions: &'a Questions,
    pub registration: &'a Registration,
    pub password_min_length: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The one message for an unknown card, a wrong SSN ending, or too many tries.
    #[error(
        "We could not verify those details. Check them and try again. After several unsuccessful tries, registration is paused for a while."
    )]
    NotVerified,
    #[error("Enter a card number (13 to 19 digits) or an account number (6 to 20 digits).")]
    MalformedNumber,
    #[error("Enter the last four digits of your Social Security number.")]
    MalformedSsn,
    #[error(
        "This card or account already has a user ID. Use \"Forgot user ID\" on the sign-in page to find it."
    )]
    AlreadyRegistered,
    #[error(
        "No active dealership has that PDN. Check the number with your dealership's office manager."
    )]
    UnknownPdn,
    #[error("A PDN is exactly 5 digits.")]
    MalformedPdn,
    #[error("Too many unsuccessful tries from this network. Please try again later.")]
    TooManyTries,
    #[error("The passwords do not match.")]
    PasswordMismatch,
    #[error("{0}")]
    Invalid(&'static str),
    #[error("Choose at least one application.")]
    NoApplication,
    #[error(transparent)]
    Create(#[from] CreateError),
    #[error("{0}")]
    Questions(#[from] QuestionError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sea_orm::DbErr> for RegisterError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(e.into())
    }
}

impl From<SetError> for RegisterError {
    fn from(e: SetError) -> Self {
        match e {
            SetError::Invalid(q) => Self::Questions(q),
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

impl RegisterError {
    /// Whether the error is the caller's input (re-render the form) rather than ours.
    pub fn is_input(&self) -> bool {
        !matches!(
            self,
            RegisterError::Internal(_) | RegisterError::Create(CreateError::Db(_))
        ) && !matches!(self, RegisterError::Create(CreateError::Hash(_)))
    }
}

/// The number a cardholder proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumberKind {
    Card,
    Account,
}

/// What the user ID, password and questions step collects (both kinds of registration).
pub struct Profile {
    pub username: String,
    pub email: String,
    pub password: SecretString,
    pub password_confirm: SecretString,
    pub answers: SecurityAnswers,
}

impl Profile {
    /// Checks that need no database, so a bad form costs no hashing.
    fn precheck(&self, d: &Deps<'_>) -> Result<(), RegisterError> {
        users::Username::parse(self.username.trim())?;
        if !users::valid_email(self.email.trim()) {
            return Err(CreateError::InvalidEmail(self.email.trim().to_owned()).into());
        }
        super::password_policy::check(
            self.password.expose_secret(),
            self.username.trim(),
            d.password_min_length,
        )
        .map_err(CreateError::from)?;
        let same: bool = self
            .password
            .expose_secret()
            .as_bytes()
            .ct_eq(self.password_confirm.expose_secret().as_bytes())
            .into();
        if !same {
            return Err(RegisterError::PasswordMismatch);
        }
        questions::validate(&self.answers, d.questions)?;
        Ok(())
    }
}

/// Step 1 for cardholders: checks the number and SSN digits against the customer records.
/// Failures are counted and audited here; the caller commits them even though the form
/// fails. Returns the customer record's id.
pub async fn verify_cardholder(
    c: &impl ConnectionTrait,
    d: &Deps<'_>,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    kind: NumberKind,
    number: &str,
    ssn_last4: &str,
) -> Result<String, RegisterError> {
    let number = customers::digits(number)
        .filter(|n| match kind {
            NumberKind::Card => customers::valid_card(n),
            NumberKind::Account => customers::valid_account(n),
        })
        .ok_or(RegisterError::MalformedNumber)?;
    let ssn = customers::digits(ssn_last4)
        .filter(|s| s.len() == 4)
        .ok_or(RegisterError::MalformedSsn)?;
    let ip = ctx.client_ip.as_deref();
    let fail = |why: &'static str, record: Option<String>| async move {
        d.limiter
            .fail(c, record.as_deref().map(Record::Customer), ip, now)
            .await?;
        audit::record(
            c,
            now,
            ctx,
            AuditEvent::RegistrationVerifyFailed,
            Actor::Anonymous,
            None,
            serde_json::json!({ "why": why, "number_kind": format!("{kind:?}").to_lowercase() }),
        )
        .await?;
        Err::<String, _>(RegisterError::NotVerified)
    };
    if d.limiter.ip_blocked(c, ip, now).await? {
        return fail("address limit", None).await;
    }
    let found = match kind {
        NumberKind::Card => store::customers::find_by_card(c, &d.customers.card(&number)).await?,
        NumberKind::Account => {
            store::customers::find_by_account(c, &d.customers.account(&number)).await?
        }
    };
    let Some(customer) = found else {
        return fail("unknown number", None).await;
    };
    if d.limiter
        .record_blocked(c, Record::Customer(&customer.id), now)
        .await?
    {
        return fail("record limit", Some(customer.id)).await;
    }
    let expected = d.customers.ssn_last4(&customer.id, &ssn);
    if !bool::from(
        expected
            .as_bytes()
            .ct_eq(customer.ssn_last4_hash.as_bytes()),
    ) {
        return fail("wrong ssn digits", Some(customer.id)).await;
    }
    d.limiter.succeed(c, Record::Customer(&customer.id)).await?;
    if store::accounts::find_by_customer(c, &customer.id)
        .await?
        .is_some()
    {
        return Err(RegisterError::AlreadyRegistered);
    }
    Ok(customer.id)
}

/// Step 2 for cardholders: creates the active account for a verified customer record.
pub async fn register_cardholder(
    c: &impl ConnectionTrait,
    d: &Deps<'_>,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    customer_id: &str,
    p: Profile,
) -> Result<String, RegisterError> {
    p.precheck(d)?;
    let customer = store::customers::find(c, customer_id)
        .await?
        .ok_or(RegisterError::NotVerified)?;
    if store::accounts::find_by_customer(c, customer_id)
        .await?
        .is_some()
    {
        return Err(RegisterError::AlreadyRegistered);
    }
    let username = p.username.trim().to_owned();
    let id = users::create(
        c,
        d.passwords,
        now,
        ctx,
        Actor::Anonymous,
        NewUser {
            username: username.clone(),
            email: p.email.clone(),
            given_name: Some(customer.given_name.clone()),
            family_name: Some(customer.family_name.clone()),
            password: p.password,
            org_id: None,
            password_min_length: d.password_min_length,
            status: AccountStatus::Active,
            customer_id: Some(customer.id.clone()),
            phone: None,
            job_role: None,
        },
    )
    .await?;
    questions::set(c, d.passwords, now, &id, &p.answers, d.questions).await?;
    let app = &d.registration.cardholder_app;
    let app_name = match store::clients::find(c, app).await? {
        Some(client) => {
            grants::add(
                c,
                now,
                ctx,
                Actor::System,
                NewGrant {
                    account_id: id.clone(),
                    client_id: client.client_id.clone(),
                    roles: vec!["cardholder".into()],
                    expires_at: None,
                },
            )
            .await
            .map_err(anyhow::Error::new)?;
            Some(client.name)
        }
        None => {
            tracing::warn!(
                app,
                "registration.cardholder_app is not a registered application"
            );
            None
        }
    };
    mail::enqueue(
        c,
        now,
        p.email.trim(),
        Template::Registered,
        serde_json::json!({
            "name": customer.given_name,
            "username": username,
            "pending": false,
            "applications": app_name.into_iter().collect::<Vec<_>>(),
        }),
    )
    .await?;
    Ok(id)
}

/// The dealership a PDN names, if it is active. Unknown numbers count against the address
/// (the PDN space is small enough to walk).
pub async fn find_dealership(
    c: &impl ConnectionTrait,
    d: &Deps<'_>,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    pdn: &str,
) -> Result<entity::organization::Model, RegisterError> {
    let pdn = Pdn::parse(pdn).ok_or(RegisterError::MalformedPdn)?;
    let ip = ctx.client_ip.as_deref();
    if d.limiter.ip_blocked(c, ip, now).await? {
        return Err(RegisterError::TooManyTries);
    }
    match store::access::find_org_by_pdn(c, pdn.as_str()).await? {
        Some(org) if org.active => Ok(org),
        _ => {
            d.limiter.fail(c, None, ip, now).await?;
            audit::record(
                c,
                now,
                ctx,
                AuditEvent::RegistrationVerifyFailed,
                Actor::Anonymous,
                None,
                serde_json::json!({ "why": "unknown pdn", "pdn": pdn.as_str() }),
            )
            .await?;
            Err(RegisterError::UnknownPdn)
        }
    }
}

/// What dealer staff enter besides their user ID, password and questions.
pub struct DealerApplicant {
    pub pdn: String,
    pub given_name: String,
    pub family_name: String,
    pub phone: String,
    pub job_role: String,
    /// Client ids of the applications wanted.
    pub applications: Vec<String>,
}

fn required(v: &str, name: &'static str) -> Result<String, RegisterError> {
    let v = v.trim();
    if v.is_empty() {
        return Err(RegisterError::Invalid(name));
    }
    if v.chars().count() > 100 {
        return Err(RegisterError::Invalid(
            "Names and role must be at most 100 characters.",
        ));
    }
    Ok(v.to_owned())
}

/// Creates a pending dealer account with one access request per application wanted, and
/// tells the applicant their registration is being reviewed.
pub async fn register_dealer(
    c: &impl ConnectionTrait,
    d: &Deps<'_>,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    a: DealerApplicant,
    p: Profile,
) -> Result<String, RegisterError> {
    let given = required(&a.given_name, "Enter your first name.")?;
    let family = required(&a.family_name, "Enter your last name.")?;
    let job_role = required(&a.job_role, "Enter your role at the dealership.")?;
    if !valid_phone(a.phone.trim()) {
        return Err(RegisterError::Invalid(
            "Enter a business phone number of 10 to 15 digits.",
        ));
    }
    let mut apps: Vec<String> = Vec::new();
    for app in a.applications {
        if !d.registration.dealer_apps.contains(&app) {
            return Err(RegisterError::Invalid("Choose applications from the list."));
        }
        if !apps.contains(&app) {
            apps.push(app);
        }
    }
    if apps.is_empty() {
        return Err(RegisterError::NoApplication);
    }
    p.precheck(d)?;
    let org = match store::access::find_org_by_pdn(c, a.pdn.trim()).await? {
        Some(o) if o.active => o,
        _ => return Err(RegisterError::UnknownPdn),
    };
    let mut names = Vec::new();
    for app in &apps {
        let client = store::clients::find(c, app)
            .await?
            .ok_or(RegisterError::Invalid("Choose applications from the list."))?;
        names.push(client.name);
    }
    let username = p.username.trim().to_owned();
    let id = users::create(
        c,
        d.passwords,
        now,
        ctx,
        Actor::Anonymous,
        NewUser {
            username: username.clone(),
            email: p.email.clone(),
            given_name: Some(given.clone()),
            family_name: Some(family),
            password: p.password,
            org_id: Some(org.id.clone()),
            password_min_length: d.password_min_length,
            status: AccountStatus::PendingApproval,
            customer_id: None,
            phone: Some(a.phone.trim().to_owned()),
            job_role: Some(job_role),
        },
    )
    .await?;
    questions::set(c, d.passwords, now, &id, &p.answers, d.questions).await?;
    for app in &apps {
        requests::file(c, now, ctx, &id, app, None)
            .await
            .map_err(anyhow::Error::new)?;
    }
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::RegistrationSubmitted,
        Actor::Account(&id),
        Some(&id),
        serde_json::json!({ "pdn": org.pdn, "applications": apps }),
    )
    .await?;
    mail::enqueue(
        c,
        now,
        p.email.trim(),
        Template::Registered,
        serde_json::json!({
            "name": given,
            "username": username,
            "pending": true,
            "dealership": org.name,
            "applications": names,
        }),
    )
    .await?;
    Ok(id)
}
