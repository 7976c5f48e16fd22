//! The audit log: every event that changes who can get in is recorded in the same
//! transaction as the change itself, so the log and the data never disagree.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::store;

/// Who is asking, as recorded with audit events and sessions. Plain data: the web layer
/// extracts it from the request; the CLI and background jobs use the default.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    pub request_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditEvent {
    LoginSucceeded,
    LoginFailed,
    Logout,
    ConsentGranted,
    ClientCreated,
    AccountCreated,
    SigningKeyCreated,
    AuthorizationCodeReplayed,
    RefreshTokenReplayed,
    TokenRevoked,
    ClientUpdated,
    ClientSecretRotated,
    GrantAdded,
    GrantRevoked,
    GrantExpired,
    AccessRequestFiled,
    AccessRequestApproved,
    AccessRequestRejected,
    StaffRoleAdded,
    OrganizationCreated,
    CustomersImported,
    TermsAccepted,
    AccountDeactivated,
    AccountReactivated,
    RegistrationVerifyFailed,
    RegistrationSubmitted,
    RegistrationApproved,
    RegistrationRejected,
    ChallengeFailed,
    AccountLocked,
    AccountUnlocked,
    PasswordChanged,
    PasswordResetRequested,
    UserIdReminderRequested,
    HelpdeskCallerVerified,
    HelpdeskVerificationFailed,
    HelpdeskResetLinkSent,
    MfaVerified,
    MfaFailed,
    MfaEmailCodeSent,
    TotpEnabled,
    TotpRemoved,
    RecoveryCodesGenerated,
    DevicesForgotten,
    DeviceRemembered,
    PasskeyAdded,
    PasskeyRemoved,
    PasskeyRejected,
    SessionEnded,
    SigningKeyRetired,
    BackchannelLogoutFailed,
}

impl AuditEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditEvent::LoginSucceeded => "login.succeeded",
            AuditEvent::LoginFailed => "login.failed",
            AuditEvent::Logout => "logout",
            AuditEvent::ConsentGranted => "consent.granted",
            AuditEvent::ClientCreated => "client.created",
            AuditEvent::AccountCreated => "account.created",
            AuditEvent::SigningKeyCreated => "signing_key.created",
            AuditEvent::AuthorizationCodeReplayed => "authorization_code.replayed",
            AuditEvent::RefreshTokenReplayed => "refresh_token.replayed",
            AuditEvent::TokenRevoked => "token.revoked",
            AuditEvent::ClientUpdated => "client.updated",
            AuditEvent::ClientSecretRotated => "client.secret_rotated",
            AuditEvent::GrantAdded => "grant.added",
            AuditEvent::GrantRevoked => "grant.revoked",
            AuditEvent::GrantExpired => "grant.expired",
            AuditEvent::AccessRequestFiled => "access_request.filed",
            AuditEvent::AccessRequestApproved => "access_request.approved",
            AuditEvent::AccessRequestRejected => "access_request.rejected",
            AuditEvent::StaffRoleAdded => "staff.role_added",
            AuditEvent::OrganizationCreated => "organization.created",
            AuditEvent::CustomersImported => "customers.imported",
            AuditEvent::TermsAccepted => "terms.accepted",
            AuditEvent::AccountDeactivated => "account.deactivated",
            AuditEvent::AccountReactivated => "account.reactivated",
            AuditEvent::RegistrationVerifyFailed => "registration.verify_failed",
            AuditEvent::RegistrationSubmitted => "registration.submitted",
            AuditEvent::RegistrationApproved => "registration.approved",
            AuditEvent::RegistrationRejected => "registration.rejected",
            AuditEvent::ChallengeFailed => "challenge.failed",
            AuditEvent::AccountLocked => "account.locked",
            AuditEvent::AccountUnlocked => "account.unlocked",
            AuditEvent::PasswordChanged => "password.changed",
            AuditEvent::PasswordResetRequested => "password.reset_requested",
            AuditEvent::UserIdReminderRequested => "recovery.user_id_requested",
            AuditEvent::HelpdeskCallerVerified => "helpdesk.caller_verified",
            AuditEvent::HelpdeskVerificationFailed => "helpdesk.verification_failed",
            AuditEvent::HelpdeskResetLinkSent => "helpdesk.reset_link_sent",
            AuditEvent::MfaVerified => "mfa.verified",
            AuditEvent::MfaFailed => "mfa.failed",
            AuditEvent::MfaEmailCodeSent => "mfa.email_code_sent",
            AuditEvent::TotpEnabled => "mfa.totp_enabled",
            AuditEvent::TotpRemoved => "mfa.totp_removed",
            AuditEvent::RecoveryCodesGenerated => "mfa.recovery_codes_generated",
            AuditEvent::DevicesForgotten => "mfa.devices_forgotten",
            AuditEvent::DeviceRemembered => "mfa.device_remembered",
            AuditEvent::PasskeyAdded => "mfa.passkey_added",
            AuditEvent::PasskeyRemoved => "mfa.passkey_removed",
            AuditEvent::PasskeyRejected => "login.passkey_rejected",
            AuditEvent::SessionEnded => "session.ended",
            AuditEvent::SigningKeyRetired => "signing_key.retired",
            AuditEvent::BackchannelLogoutFailed => "logout.backchannel_failed",
        }
    }
}

/// Who did it.
#[derive(Clone, Copy, Debug)]
pub enum Actor<'a> {
    /// An account, by its id.
    Account(&'a str),
    /// A client application, by its client_id.
    Client(&'a str),
    /// The command-line tool, run by an operator.
    Cli,
    /// The provider itself (start-up, background jobs).
    System,
    /// Someone not (yet) identified, e.g. a failed sign-in.
    Anonymous,
}

impl Actor<'_> {
    pub fn render(self) -> Option<String> {
        match self {
            Actor::Account(id) => Some(format!("account:{id}")),
            Actor::Client(id) => Some(format!("client:{id}")),
            Actor::Cli => Some("cli".into()),
            Actor::System => Some("system".into()),
            Actor::Anonymous => None,
        }
    }
}

pub async fn record(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    event: AuditEvent,
    actor: Actor<'_>,
    target: Option<&str>,
    detail: serde_json::Value,
) -> Result<(), DbErr> {
    crate::metrics::count_audit_event(event);
    store::audit::insert(
        c,
        entity::audit_event::Model {
            id: 0,
            at: now,
            event: event.as_str().to_owned(),
            actor: actor.render(),
            target: target.map(str::to_owned),
            client_ip: ctx.client_ip.clone(),
            request_id: ctx.request_id.clone(),
            detail,
        },
    )
    .await
}

/// Writes events as JSON lines or CSV (RFC 4180 quoting) for compliance reviews.
/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

pub fn export(
    events: &[entity::audit_event::Model],
    csv: bool,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let q = csv_field;
    if csv {
        writeln!(out, "id,at,event,actor,target,client_ip,request_id,detail")?;
    }
    for e in events {
        if csv {
            writeln!(
                out,
                "{},{},{},{},{},{},{},{}",
                e.id,
                e.at.to_rfc3339(),
                q(&e.event),
                q(e.actor.as_deref().unwrap_or("")),
                q(e.target.as_deref().unwrap_or("")),
                q(e.client_ip.as_deref().unwrap_or("")),
                q(e.request_id.as_deref().unwrap_or("")),
                q(&e.detail.to_string())
            )?;
        } else {
            let line = serde_json::json!({
                "id": e.id, "at": e.at.to_rfc3339(), "event": e.event, "actor": e.actor, "target": e.target,
                "client_ip": e.client_ip, "request_id": e.request_id, "detail": e.detail,
            });
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}
