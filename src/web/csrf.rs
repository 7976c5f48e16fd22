//! CSRF protection for every form: a random secret in a Strict cookie, and in each form a
//! token that is the HMAC of that secret under a server key. A cross-site page can neither
//! read the cookie nor compute the token, and a token is useless with another browser's
//! cookie.

use axum::{extract::FromRequestParts, http::request::Parts};
use axum_extra::extract::CookieJar;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use crate::{crypto, state::AppState, web::cookies};

/// What a form says when its CSRF token does not match (an old tab, or cookies cleared).
pub const FORM_EXPIRED: &str = "Your session on this page expired. Please try again.";

/// The browser's CSRF secret: the existing cookie, or a new one that the response must set
/// (return the jar from `Csrf::jar`).
pub struct Csrf {
    secret: String,
    key: [u8; 32],
    jar: CookieJar,
    https: bool,
}

impl Csrf {
    /// The token to put in a form's hidden `csrf` field.
    pub fn token(&self) -> String {
        form_token(&self.key, &self.secret)
    }

    /// Whether `submitted` is the token for this browser's existing secret.
    pub fn verify(&self, submitted: &str) -> bool {
        let has_cookie = self
            .jar
            .get(&cookies::name(cookies::Kind::Csrf, self.https))
            .is_some();
        has_cookie && self.token().as_bytes().ct_eq(submitted.as_bytes()).into()
    }

    /// The cookie jar to return with the response, carrying the secret.
    pub fn jar(self) -> CookieJar {
        self.jar
            .add(cookies::build(cookies::Kind::Csrf, self.https, self.secret))
    }
}

fn form_token(key: &[u8; 32], secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(crypto::hmac_sha256(key, &[secret.as_bytes()]))
}

impl FromRequestParts<AppState> for Csrf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let jar = CookieJar::from_headers(&parts.headers);
        let https = state.config.issuer.is_https();
        let secret = jar
            .get(&cookies::name(cookies::Kind::Csrf, https))
            .map(|c| c.value().to_owned())
            .filter(|v| v.len() == 43)
            .unwrap_or_else(crypto::opaque::generate);
        Ok(Self {
            secret,
            key: state.secrets.csrf,
            jar,
            https,
        })
    }
}

/// A form body whose `csrf` field was verified against this browser's secret. Every staff
/// form is taken through this extractor, so a forgotten check is impossible by construction;
/// a failure is a 403 page and the handler never runs.
pub struct CsrfForm<T>(pub T);

impl<T: serde::de::DeserializeOwned> axum::extract::FromRequest<AppState> for CsrfForm<T> {
    type Rejection = axum::response::Response;

    async fn from_request(
        req: axum::extract::Request,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use axum::response::IntoResponse;
        let (mut parts, body) = req.into_parts();
        let Ok(csrf) = Csrf::from_request_parts(&mut parts, state).await;
        let forbidden = || {
            crate::error::ErrorPage {
                status: axum::http::StatusCode::FORBIDDEN,
                title: "This form has expired".into(),
                message: "Go back, reload the page and try again.".into(),
            }
            .into_response()
        };
        let bytes = axum::body::to_bytes(body, state.config.http.max_body_bytes)
            .await
            .map_err(|_| axum::http::StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
        let token = url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if !csrf.verify(&token) {
            return Err(forbidden());
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(CsrfForm)
            .map_err(|e| {
                crate::error::AppError::BadRequest(format!("The form is incomplete: {e}").into())
                    .into_response()
            })
    }
}

/// A short-lived proof, carried in a hidden form field, that this browser completed an
/// earlier step (verified a card, entered a right password for a deactivated user ID). It
/// names its subject, expires, and is bound to this browser's CSRF secret, so it cannot be
/// forged, reused elsewhere, or carried to another browser.
impl Csrf {
    pub fn ticket(&self, purpose: &str, subject: &str, expires: DateTime<Utc>) -> String {
        let exp = expires.timestamp().to_string();
        let mac = self.ticket_mac(purpose, subject, &exp);
        format!("{}.{exp}.{mac}", URL_SAFE_NO_PAD.encode(subject))
    }

    /// The subject of a valid, unexpired ticket for `purpose`.
    pub fn open_ticket(&self, purpose: &str, ticket: &str, now: DateTime<Utc>) -> Option<String> {
        let mut parts = ticket.splitn(3, '.');
        let (subject, exp, mac) = (parts.next()?, parts.next()?, parts.next()?);
        let subject = String::from_utf8(URL_SAFE_NO_PAD.decode(subject).ok()?).ok()?;
        let expected = self.ticket_mac(purpose, &subject, exp);
        let has_cookie = self
            .jar
            .get(&cookies::name(cookies::Kind::Csrf, self.https))
            .is_some();
        let fresh = exp.parse::<i64>().ok()? > now.timestamp();
        let genuine: bool = expected.as_bytes().ct_eq(mac.as_bytes()).into();
        (has_cookie && fresh && genuine).then_some(subject)
    }

    fn ticket_mac(&self, purpose: &str, subject: &str, exp: &str) -> String {
        URL_SAFE_NO_PAD.encode(crypto::hmac_sha256(
            &self.key,
            &[
                b"ticket\0",
                purpose.as_bytes(),
                b"\0",
                subject.as_bytes(),
                b"\0",
                exp.as_bytes(),
                b"\0",
                self.secret.as_bytes(),
            ],
        ))
    }
}
