//! What happens next with an authorization request: pure logic, tested on its own.

use chrono::{DateTime, Utc};

use super::request::{AuthorizationRequest, age_secs};
use crate::oidc::{
    error::ErrorCode,
    scope::{self, Scope},
};

/// What the provider knows about the signed-in browser.
#[derive(Clone, Copy, Debug)]
pub struct SessionFacts<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub auth_time: DateTime<Utc>,
}

/// Progress made on this request while it was pending.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress<'a> {
    /// The session created by signing in for this very request (satisfies prompt=login).
    pub login_session: Option<&'a str>,
    /// The account that approved the consent screen for this request.
    pub consented_by: Option<&'a str>,
}

/// What the signed-in account is entitled to with this application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gates {
    /// It may use the application (open, or it holds an active grant).
    pub access: bool,
    /// It has accepted the application's current terms (or there are none).
    pub terms: bool,
    /// The session has the second factor this application or request needs (or none is
    /// needed).
    pub second_factor: bool,
}

impl Gates {
    pub const OPEN: Gates = Gates {
        access: true,
        terms: true,
        second_factor: true,
    };
}

#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    NeedLogin,
    /// Signed in, but a second factor is needed first (step-up without the password).
    NeedSecondFactor,
    /// Signed in, but the application needs a grant the account does not hold.
    NeedAccess,
    /// The application's terms must be accepted first (once per version).
    NeedTerms,
    NeedConsent,
    Issue,
    Fail(ErrorCode, &'static str),
}

pub fn decide(
    req: &AuthorizationRequest,
    third_party_client: bool,
    session: Option<SessionFacts<'_>>,
    remembered_consent: Option<&Scope>,
    progress: Progress<'_>,
    gates: Gates,
    now: DateTime<Utc>,
) -> Decision {
    let session_ok = session.is_some_and(|s| {
        let fresh = progress.login_session == Some(s.id);
        // OIDC Core §3.1.2.1: prompt=login forces re-authentication; max_age bounds the
        // age of the authentication, and max_age=0 is equivalent to prompt=login (errata 2).
        (!req.prompt.login || fresh)
            && req
                .max_age
                .is_none_or(|m| fresh || (m > 0 && age_secs(s.auth_time, now) <= m))
            && req
                .id_token_hint_sub
                .as_deref()
                .is_none_or(|sub| sub == s.account_id)
    });
    let Some(session) = session.filter(|_| session_ok) else {
        return if req.prompt.none {
            Decision::Fail(ErrorCode::LoginRequired, "the user is not signed in")
        } else {
            Decision::NeedLogin
        };
    };
    if !gates.second_factor {
        return if req.prompt.none {
            Decision::Fail(
                ErrorCode::InteractionRequired,
                "a second factor is required for this application",
            )
        } else {
            Decision::NeedSecondFactor
        };
    }
    // Single sign-on is not "signed in everywhere": a grant_required application gets no
    // code for an account without an active grant.
    if !gates.access {
        return if req.prompt.none {
            Decision::Fail(
                ErrorCode::AccessDenied,
                "the account has no access to this application",
            )
        } else {
            Decision::NeedAccess
        };
    }
    if !gates.terms {
        return if req.prompt.none {
            Decision::Fail(
                ErrorCode::InteractionRequired,
                "the application's terms must be accepted first",
            )
        } else {
            Decision::NeedTerms
        };
    }
    // Consent is asked when the application asks for it, when it is a third party, and for
    // offline access (OIDC Core §11); a remembered approval covering the scopes satisfies it
    // unless prompt=consent demands a fresh one.
    let needed =
        req.prompt.consent || third_party_client || req.scope.contains(scope::OFFLINE_ACCESS);
    let given = progress.consented_by == Some(session.account_id)
        || (!req.prompt.consent && remembered_consent.is_some_and(|r| req.scope.is_subset_of(r)));
    if needed && !given {
        return if req.prompt.none {
            Decision::Fail(
                ErrorCode::ConsentRequired,
                "the user has not approved this application",
            )
        } else {
            Decision::NeedConsent
        };
    }
    Decision::Issue
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::oidc::authorize::request::Prompt;

    fn req(scope: &str, prompt: Prompt, max_age: Option<i64>) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: "c".into(),
            redirect_uri: "https://c/cb".into(),
            scope: Scope::from_stored(scope),
            state: None,
            nonce: None,
            code_challenge: None,
            prompt,
            max_age,
            login_hint: None,
            id_token_hint_sub: None,
            acr_values: vec![],
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("ts")
    }

    fn session(age: i64) -> SessionFacts<'static> {
        SessionFacts {
            id: "s1",
            account_id: "a1",
            auth_time: now() - Duration::seconds(age),
        }
    }

    #[test]
    fn no_session() {
        let r = req("openid", Prompt::default(), None);
        assert_eq!(
            decide(
                &r,
                false,
                None,
                None,
                Progress::default(),
                Gates::OPEN,
                now()
            ),
            Decision::NeedLogin
        );
        let none = Prompt {
            none: true,
            ..Default::default()
        };
        assert_eq!(
            decide(
                &req("openid", none, None),
                false,
                None,
                None,
                Progress::default(),
                Gates::OPEN,
                now()
            ),
            Decision::Fail(ErrorCode::LoginRequired, "the user is not signed in")
        );
    }

    #[test]
    fn sso_skips_login_for_first_party() {
        let r = req("openid profile", Prompt::default(), None);
        assert_eq!(
            decide(
                &r,
                false,
                Some(session(10)),
                None,
                Progress::default(),
                Gates::OPEN,
                now()
            ),
            Decision::Issue
        );
    }

    #[test]
    fn prompt_login_needs_a_fresh_login_for_this_request() {
        let r = req(
            "openid",
            Prompt {
                login: true,
                ..Default::default()
            },
            None,
        );
        assert_eq!(
            decide(
                &r,
                false,
                Some(session(1)),
                None,
                Progress::default(),
                Gates::OPEN,
                now()
            ),
            Decision::NeedLogin
        );
        let p = Progress {
            login_session: Some("s1"),
            consented_by: None,
        };
        assert_eq!(
            decide(&r, false, Some(session(1)), None, p, Gates::OPEN, now()),
            Decision::Issue
        );
    }

    #[test]
    fn max_age() {
        let r = req("openid", Prompt::default(), Some(60));
        assert_eq!(
            decide(
                &r,
                false,
                Some(session(30)),
                None,
                Progress::default(),
                Gates::OPEN,
                now()
            ),
            Decision::Issue
        );
        assert_eq!(
            decide(
                &r,
                false,
                Some(session(61)),
                None,
                Progress::default(),
                Gates::OPEN,
                now()
            ),
            Decision::NeedLogin
        );
        let zero = req("openid", Prompt::default(), Some(0));
        assert_eq!(
            decide(
                &zero,
                false,
                Some(session(0)),
                None,
                Progress::default(),
                Gates::OPEN,
                now()
            ),
            Decision::NeedLogin
        );
        let p = Progress {
            login_session: Some("s1"),
            consented_by: None,
        };
        assert_eq!(
            decide(&zero, false, Some(session(0)), None, p, Gates::OPEN, now()),
            Decision::Issue
        );
    }

    #[test]
    fn consent_rules() {
        let offline = req("openid offline_access", Prompt::default(), None);
        assert_eq!(
            decide(
                &offline,
                false,
                Some(session(1)),
                None,
                Progress::default(),
                Gates::OPEN,
                now()
            ),
            Decision::NeedConsent
        );
        let remembered = Scope::from_stored("openid offline_access profile");
        assert_eq!(
            decide(
                &offline,
                false,
                Some(session(1)),
                Some(&remembered),
                Progress::default(),
                Gates::OPEN,
                now()
            ),
            Decision::Issue
        );
        let third = req("openid", Prompt::default(), None);
        assert_eq!(
            decide(
                &third,
                true,
                Some(session(1)),
                None,
                Progress::default(),
                Gates::OPEN,
                now()
            ),
            Decision::NeedConsent
        );
        let forced = req(
            "openid",
            Prompt {
                consent: true,
                ..Default::default()
            },
            None,
        );
        assert_eq!(
            decide(
                &forced,
                false,
                Some(session(1)),
                Some(&remembered),
                Progress::default(),
                Gates::OPEN,
                now()
            ),
            Decision::NeedConsent
        );
        let p = Progress {
            login_session: None,
            consented_by: Some("a1"),
        };
        assert_eq!(
            decide(
                &forced,
                false,
                Some(session(1)),
                None,
                p,
                Gates::OPEN,
                now()
            ),
            Decision::Issue
        );
        let none = req(
            "openid offline_access",
            Prompt {
                none: true,
                ..Default::default()
            },
            None,
        );
        assert!(matches!(
            decide(
                &none,
                false,
                Some(session(1)),
                None,
                Progress::default(),
                Gates::OPEN,
                now()
            ),
            Decision::Fail(ErrorCode::ConsentRequired, _)
        ));
    }

    #[test]
    fn second_factor_comes_right_after_sign_in() {
        let r = req("openid", Prompt::default(), None);
        let gates = Gates {
            access: false,
            terms: false,
            second_factor: false,
        };
        let d = |r: &AuthorizationRequest| {
            decide(
                r,
                false,
                Some(session(5)),
                None,
                Progress::default(),
                gates,
                now(),
            )
        };
        assert_eq!(d(&r), Decision::NeedSecondFactor);
        let none = Prompt {
            none: true,
            ..Default::default()
        };
        assert!(matches!(
            d(&req("openid", none, None)),
            Decision::Fail(ErrorCode::InteractionRequired, _)
        ));
    }

    #[test]
    fn access_is_checked_after_sign_in() {
        let r = req("openid", Prompt::default(), None);
        assert_eq!(
            decide(
                &r,
                false,
                None,
                None,
                Progress::default(),
                Gates {
                    access: false,
                    terms: true,
                    second_factor: true,
                },
                now()
            ),
            Decision::NeedLogin
        );
        assert_eq!(
            decide(
                &r,
                false,
                Some(session(1)),
                None,
                Progress::default(),
                Gates {
                    access: false,
                    terms: true,
                    second_factor: true,
                },
                now()
            ),
            Decision::NeedAccess
        );
        let none = req(
            "openid",
            Prompt {
                none: true,
                ..Default::default()
            },
            None,
        );
        assert!(matches!(
            decide(
                &none,
                false,
                Some(session(1)),
                None,
                Progress::default(),
                Gates {
                    access: false,
                    terms: true,
                    second_factor: true,
                },
                now()
            ),
            Decision::Fail(ErrorCode::AccessDenied, _)
        ));
    }

    #[test]
    fn terms_come_after_access_and_before_consent() {
        let r = req("openid", Prompt::default(), None);
        let gates = Gates {
            access: true,
            terms: false,
            second_factor: true,
        };
        assert_eq!(
            decide(
                &r,
                false,
                Some(session(1)),
                None,
                Progress::default(),
                gates,
                now()
            ),
            Decision::NeedTerms
        );
        let both = Gates {
            access: false,
            terms: false,
            second_factor: true,
        };
        assert_eq!(
            decide(
                &r,
                false,
                Some(session(1)),
                None,
                Progress::default(),
                both,
                now()
            ),
            Decision::NeedAccess
        );
        let none = req(
            "openid",
            Prompt {
                none: true,
                ..Default::default()
            },
            None,
        );
        assert!(matches!(
            decide(
                &none,
                false,
                Some(session(1)),
                None,
                Progress::default(),
                gates,
                now()
            ),
            Decision::Fail(ErrorCode::InteractionRequired, _)
        ));
    }

    #[test]
    fn id_token_hint_must_match_session() {
        let mut r = req(
            "openid",
            Prompt {
                none: true,
                ..Default::default()
            },
            None,
        );
        r.id_token_hint_sub = Some("someone-else".into());
        assert!(matches!(
            decide(
                &r,
                false,
                Some(session(1)),
                None,
                Progress::default(),
                Gates::OPEN,
                now()
            ),
            Decision::Fail(ErrorCode::LoginRequired, _)
        ));
    }
}
