//! minijinja templates, embedded at compile time so the release binary needs no files
//! beside it. Auto-escaping is on for every `.html` template.

use std::borrow::Cow;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use minijinja::{Environment, Value};

use crate::error::AppError;

/// Every template, by the name handlers use; the source is embedded from `templates/`.
macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = embedded![
    "base.html",
    "error.html",
    "authn/login.html",
    "oidc/consent.html",
    "oidc/logout_confirm.html",
    "oidc/logged_out.html",
    "account/home.html",
    "admin/layout.html",
    "admin/home.html",
    "admin/clients.html",
    "admin/client.html",
    "admin/secret.html",
    "admin/accounts.html",
    "admin/account.html",
    "admin/requests.html",
    "admin/dealerships.html",
    "admin/audit.html",
    "admin/reports.html",
    "email/access_decision.subject.txt",
    "email/access_decision.txt",
    "email/access_decision.html",
    "access/terms.html",
    "access/request.html",
    "register/start.html",
    "register/_profile.html",
    "register/cardholder.html",
    "register/dealer.html",
    "register/done.html",
    "account/request.html",
    "account/reactivate.html",
    "account/_details.html",
    "account/request_sent.html",
    "email/registered.subject.txt",
    "email/registered.txt",
    "email/registered.html",
    "email/registration_decision.subject.txt",
    "email/registration_decision.txt",
    "email/registration_decision.html",
    "email/sign_in_code.subject.txt",
    "email/sign_in_code.txt",
    "email/sign_in_code.html",
    "authn/factor.html",
    "account/security.html",
    "account/sessions.html",
    "account/totp_setup.html",
    "account/recovery_codes.html",
    "email/user_ids.subject.txt",
    "email/user_ids.txt",
    "email/user_ids.html",
    "email/password_reset.subject.txt",
    "email/password_reset.txt",
    "email/password_reset.html",
    "email/password_changed.subject.txt",
    "email/password_changed.txt",
    "email/password_changed.html",
    "email/inactivity_warning.subject.txt",
    "email/inactivity_warning.txt",
    "email/inactivity_warning.html",
    "recover/forgot_user_id.html",
    "recover/forgot_password.html",
    "recover/questions.html",
    "recover/sent.html",
    "recover/reset.html",
];

#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        Ok(Self { env })
    }

    pub fn render(&self, name: &str, ctx: Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }
}

/// A rendered HTML page with its status and the extra origins its forms may be sent to (or
/// be redirected to after submission: browsers apply `form-action` to the redirect chain,
/// so a login form that ends at the client's redirect_uri must allow that origin).
pub struct Page {
    pub status: StatusCode,
    pub html: String,
    /// This response's CSP nonce: only `<script nonce=…>` elements carrying it run, so
    /// markup injected into a page cannot load a script, not even one of ours.
    pub nonce: String,
    pub form_targets: Vec<String>,
    /// Origins this page may load in frames (front-channel logout only).
    pub frame_targets: Vec<String>,
}

impl Page {
    /// Renders `name` with `ctx` plus `csp_nonce`, fresh for this response (CSP3 §7.1:
    /// a nonce must be unguessable and never reused).
    pub fn render(t: &Templates, name: &str, ctx: Value) -> Result<Self, AppError> {
        let nonce = crate::crypto::opaque::generate()[..22].to_owned();
        let ctx = minijinja::context! { csp_nonce => nonce.clone(), ..ctx };
        Ok(Self {
            status: StatusCode::OK,
            html: t.render(name, ctx).map_err(anyhow::Error::from)?,
            nonce,
            form_targets: Vec::new(),
            frame_targets: Vec::new(),
        })
    }
    pub fn status(mut self, s: StatusCode) -> Self {
        self.status = s;
        self
    }
    /// Allows forms on this page to reach the origin of `url` (ignored if not a URL).
    pub fn allow_form_target(mut self, url: &str) -> Self {
        if let Some(o) = origin(url) {
            self.form_targets.push(o);
        }
        self
    }
    /// Allows this page to load the origin of `url` in a frame (ignored if not a URL).
    pub fn allow_frame(mut self, url: &str) -> Self {
        if let Some(o) = origin(url) {
            self.frame_targets.push(o);
        }
        self
    }
}

fn origin(url: &str) -> Option<String> {
    let o = url::Url::parse(url).ok()?.origin().ascii_serialization();
    (o != "null").then_some(o)
}

/// The Content-Security-Policy of every HTML page: scripts only with this response's
/// nonce (our own files, never inline code), nothing from other sites, no inline style, no
/// framing (clickjacking), no `<base>` tricks.
pub fn page_csp(nonce: &str, form_targets: &[String], frame_targets: &[String]) -> String {
    let mut targets: Cow<'static, str> = "'self'".into();
    for t in form_targets {
        targets = format!("{targets} {t}").into();
    }
    let frames = if frame_targets.is_empty() {
        String::new()
    } else {
        format!(" frame-src {};", frame_targets.join(" "))
    };
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action {targets};{frames} frame-ancestors 'none'; base-uri 'none'"
    )
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut r = (self.status, Html(self.html)).into_response();
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&page_csp(
            &self.nonce,
            &self.form_targets,
            &self.frame_targets,
        )) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        // Pages carry CSRF tokens and personal data: never cache them.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_templates_parse() {
        Templates::new().expect("templates");
    }

    /// Every template file on disk is compiled in (a page that renders "template not found"
    /// in production is a bug this catches).
    #[test]
    fn every_template_file_is_registered() {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir)
                .expect("read templates dir")
                .flatten()
            {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, root, out);
                } else if p.extension().is_some_and(|x| x == "html" || x == "txt") {
                    out.push(
                        p.strip_prefix(root)
                            .expect("prefix")
                            .to_string_lossy()
                            .replace('\\', "/"),
                    );
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut files = Vec::new();
        walk(&root, &root, &mut files);
        for f in files {
            assert!(
                TEMPLATES.iter().any(|(n, _)| *n == f),
                "templates/{f} is not registered in TEMPLATES"
            );
        }
    }

    #[test]
    fn csp_adds_form_targets() {
        let csp = page_csp("n0nce", &["https://app.example".into()], &[]);
        assert!(csp.contains("script-src 'nonce-n0nce';"));
        assert!(csp.contains("form-action 'self' https://app.example;"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("frame-src"));
        let csp = page_csp("n0nce", &[], &["https://rp.example".into()]);
        assert!(csp.contains(" frame-src https://rp.example;"));
    }
}
