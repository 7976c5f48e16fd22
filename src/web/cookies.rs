//! Cookie names and attributes. With an https issuer every cookie is `Secure` and uses the
//! `__Host-` prefix (bound to this exact host, path `/`, no Domain: RFC 6265bis §4.1.3.2);
//! on plain-http development issuers neither is possible.

use axum_extra::extract::cookie::{Cookie, SameSite};

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// The SSO session. Lax, because the browser must send it when an application
    /// navigates the user to /authorize.
    Session,
    /// The CSRF secret. Strict: only our own pages post forms back to us.
    Csrf,
    /// A sign-in waiting for its second factor. Strict: only our own pages continue it.
    SignIn,
    /// "Remember this device": lets this browser skip the second factor for the accounts it
    /// was remembered for. Strict, and persistent (the others end with the browser).
    Device,
}

impl Kind {
    fn base_name(self) -> &'static str {
        match self {
            Kind::Session => "ally_session",
            Kind::Csrf => "ally_csrf",
            Kind::SignIn => "ally_signin",
            Kind::Device => "ally_device",
        }
    }
    fn same_site(self) -> SameSite {
        match self {
            Kind::Session => SameSite::Lax,
            Kind::Csrf | Kind::SignIn | Kind::Device => SameSite::Strict,
        }
    }
}

pub fn name(kind: Kind, https: bool) -> String {
    if https {
        format!("__Host-{}", kind.base_name())
    } else {
        kind.base_name().to_owned()
    }
}

pub fn build(kind: Kind, https: bool, value: String) -> Cookie<'static> {
    Cookie::build((name(kind, https), value))
        .path("/")
        .http_only(true)
        .secure(https)
        .same_site(kind.same_site())
        .build()
}

pub fn removal(kind: Kind, https: bool) -> Cookie<'static> {
    let mut c = build(kind, https, String::new());
    c.make_removal();
    c
}

/// A cookie that outlives the browser session (the remembered device).
pub fn persistent(kind: Kind, https: bool, value: String, days: i64) -> Cookie<'static> {
    let mut c = build(kind, https, value);
    c.set_max_age(cookie::time::Duration::days(days));
    c
}
