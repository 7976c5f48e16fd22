//! Second factors and when they are asked for.
//!
//! A sign-in's first factor is the password (or nothing else: a passkey is multi-factor on
//! its own); the second is a passkey, an authenticator app (TOTP), a code e-mailed to the
//! account, or a recovery code. Whether one is needed depends on the
//! application's policy, on what the account enrolled, on `acr_values`, and on whether this
//! browser was remembered for the account.

pub mod devices;
pub mod email_code;
pub mod pending;
pub mod recovery;
pub mod settings;
pub mod totp;

use sea_orm::{ConnectionTrait, DbErr};

use crate::{access::clients::MfaPolicy, authn::acr, store};

/// A second factor, in the order they are offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    Passkey,
    Totp,
    EmailCode,
    RecoveryCode,
}

impl Factor {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "passkey" => Some(Factor::Passkey),
            "totp" => Some(Factor::Totp),
            "email_code" => Some(Factor::EmailCode),
            "recovery_code" => Some(Factor::RecoveryCode),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Passkey => "passkey",
            Factor::Totp => "totp",
            Factor::EmailCode => "email_code",
            Factor::RecoveryCode => "recovery_code",
        }
    }
}

/// What an account has enrolled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Enrolled {
    pub passkeys: u64,
    pub totp: bool,
    pub recovery_codes: u64,
}

impl Enrolled {
    /// A factor the person chose to set up (the e-mailed code is only a fallback, and
    /// recovery codes only back up another factor). `store::mfa::chosen_factor` asks the
    /// same question in SQL for `/authorize`: change the two together.
    pub fn any(&self) -> bool {
        self.passkeys > 0 || self.totp
    }

    /// The factors this account may use now, in the order they are offered.
    pub fn offered(&self) -> Vec<Factor> {
        let mut v = Vec::new();
        if self.passkeys > 0 {
            v.push(Factor::Passkey);
        }
        if self.totp {
            v.push(Factor::Totp);
        }
        v.push(Factor::EmailCode);
        if self.recovery_codes > 0 {
            v.push(Factor::RecoveryCode);
        }
        v
    }
}

pub async fn enrolled(c: &impl ConnectionTrait, account_id: &str) -> Result<Enrolled, DbErr> {
    let totp = store::mfa::find_totp(c, account_id)
        .await?
        .is_some_and(|t| t.confirmed_at.is_some());
    Ok(Enrolled {
        passkeys: store::passkeys::count_of_account(c, account_id).await?,
        totp,
        recovery_codes: store::mfa::unused_recovery_codes(c, account_id).await?,
    })
}

/// Whether `acr_values` (OIDC Core §3.1.2.1, voluntary) asks for multi-factor: the
/// recognised values, in order of preference, leave no single-factor option.
pub fn acr_values_ask_for_mfa(acr_values: &[String]) -> bool {
    let known: Vec<&str> = acr_values
        .iter()
        .map(String::as_str)
        .filter(|v| acr::SUPPORTED.contains(v))
        .collect();
    !known.is_empty() && known.iter().all(|v| *v == acr::AAL2)
}

/// Whether this sign-in must show a second factor, given the application's policy, what the
/// account enrolled and whether the request asked for multi-factor.
pub fn required(policy: MfaPolicy, enrolled: &Enrolled, acr_asks_mfa: bool) -> bool {
    acr_asks_mfa || by_policy(policy, enrolled.any())
}

/// Whether `policy` asks an account that is already signed in for a second factor, given
/// whether it has a factor it chose to set up. Only the optional policy depends on that
/// (`depends_on_chosen_factor`); `/authorize` asks it on every request of a signed-in person,
/// with its other questions in one read (`store::standing`).
pub fn required_by_policy(policy: MfaPolicy, has_chosen_factor: bool) -> bool {
    by_policy(policy, has_chosen_factor)
}

/// Whether `required_by_policy` needs to know if the account has a factor it chose.
pub fn depends_on_chosen_factor(policy: MfaPolicy) -> bool {
    matches!(policy, MfaPolicy::Optional)
}

fn by_policy(policy: MfaPolicy, has_chosen_factor: bool) -> bool {
    match policy {
        MfaPolicy::None => false,
        MfaPolicy::Optional => has_chosen_factor,
        MfaPolicy::Required => true,
    }
}

/// How a session stands with respect to the second factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionFactors {
    /// A second factor was shown in this session.
    pub multi_factor: bool,
    /// The second factor was skipped because the browser was remembered for the account.
    pub remembered: bool,
}

impl SessionFactors {
    /// Whether the session meets what this request needs. A remembered device stands in
    /// for the second factor an application's policy asks for (that is what the person
    /// chose), but not for an explicit `acr_values` request, whose answer (`acr`) must be
    /// true of this session.
    pub fn satisfies(self, policy_needs: bool, acr_needs: bool) -> bool {
        (!acr_needs || self.multi_factor) && (!policy_needs || self.multi_factor || self.remembered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_table() {
        let none = Enrolled::default();
        let totp = Enrolled {
            totp: true,
            recovery_codes: 10,
            ..Default::default()
        };
        let all = Enrolled {
            passkeys: 2,
            totp: true,
            recovery_codes: 1,
        };
        let passkey_only = Enrolled {
            passkeys: 1,
            ..Default::default()
        };
        assert!(!required(MfaPolicy::None, &totp, false));
        assert!(required(MfaPolicy::None, &none, true));
        assert!(!required(MfaPolicy::Optional, &none, false));
        assert!(required(MfaPolicy::Optional, &totp, false));
        assert!(required(MfaPolicy::Required, &none, false));
        assert_eq!(
            totp.offered(),
            [Factor::Totp, Factor::EmailCode, Factor::RecoveryCode]
        );
        assert_eq!(none.offered(), [Factor::EmailCode]);
        assert_eq!(
            all.offered(),
            [
                Factor::Passkey,
                Factor::Totp,
                Factor::EmailCode,
                Factor::RecoveryCode
            ]
        );
        assert!(passkey_only.any());
        assert!(required(MfaPolicy::Optional, &passkey_only, false));
    }

    #[test]
    fn acr_values_preference() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(acr_values_ask_for_mfa(&v(&[acr::AAL2])));
        assert!(acr_values_ask_for_mfa(&v(&["urn:other", acr::AAL2])));
        assert!(!acr_values_ask_for_mfa(&v(&[acr::AAL1, acr::AAL2])));
        assert!(!acr_values_ask_for_mfa(&v(&["urn:other"])));
        assert!(!acr_values_ask_for_mfa(&[]));
    }

    #[test]
    fn remembered_devices_satisfy_policy_not_acr() {
        let remembered = SessionFactors {
            multi_factor: false,
            remembered: true,
        };
        assert!(remembered.satisfies(true, false));
        assert!(!remembered.satisfies(false, true));
        let pwd = SessionFactors {
            multi_factor: false,
            remembered: false,
        };
        assert!(!pwd.satisfies(true, false));
        assert!(pwd.satisfies(false, false));
    }
}
