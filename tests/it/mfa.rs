//! Multi-factor sign-in over HTTP: authenticator apps (codes computed from the seed the
//! set-up page shows, with the test's clock), e-mailed codes read from the outbox, recovery
//! codes, per-application policy, `acr_values` step-up, `amr`/`acr` in the ID token,
//! "remember this device", and wrong codes counting toward the lockout.

use ally_idp::{
    access::clients::MfaPolicy,
    authn::{acr, mfa::totp},
};
use reqwest::{Client, Response, StatusCode};

use crate::access::claims;
use crate::helpers::{
    ClientSpec, PASSWORD, TestApp, authorize_url, browser_for, exchange_code, hidden, location,
    new_browser, param,
};

pub(crate) struct Apps {
    pub app: TestApp,
    /// policy none
    plain: String,
    /// policy optional (asks enrolled accounts)
    optional: String,
    /// policy required
    strict: String,
}

async fn setup() -> Apps {
    setup_on(TestApp::spawn().await).await
}

/// The three applications (MFA policy none, optional, required) on `app`.
pub(crate) async fn setup_on(app: TestApp) -> Apps {
    let mut secrets = vec![];
    for (id, mfa) in [
        ("plain", MfaPolicy::None),
        ("optional", MfaPolicy::Optional),
        ("strict", MfaPolicy::Required),
    ] {
        let s = app
            .add_client(ClientSpec {
                mfa: Some(mfa),
                ..ClientSpec::confidential(id)
            })
            .await
            .unwrap();
        secrets.push(s);
    }
    let strict = secrets.pop().unwrap();
    let optional = secrets.pop().unwrap();
    let plain = secrets.pop().unwrap();
    Apps {
        app,
        plain,
        optional,
        strict,
    }
}

impl Apps {
    fn secret(&self, client: &str) -> &str {
        match client {
            "plain" => &self.plain,
            "optional" => &self.optional,
            _ => &self.strict,
        }
    }

    /// Starts an authorization request in browser `b`; returns where the IdP sends it.
    pub async fn start(&self, b: &Client, client: &str, extra: &[(&str, &str)]) -> String {
        let r = b
            .get(authorize_url(&self.app, client, extra))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        location(&r)
    }

    /// Signs in with the password on the sign-in page `login_path`.
    pub async fn password(&self, b: &Client, login_path: &str, username: &str) -> Response {
        let html = b
            .get(self.app.url(login_path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut form = vec![
            ("csrf", hidden(&html, "csrf").unwrap()),
            ("username", username.to_owned()),
            ("password", PASSWORD.to_owned()),
        ];
        if let Some(req) = hidden(&html, "req") {
            form.push(("req", req));
        }
        b.post(self.app.url("/login"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Starts a request at `client` in browser `b` and signs in with the password there.
    pub async fn sign_in_at(&self, b: &Client, client: &str, username: &str) -> Response {
        let login = self.start(b, client, &[]).await;
        self.password(b, &login, username).await
    }

    /// Opens the second-factor page at `path` and submits `code` for `method`.
    async fn factor(
        &self,
        b: &Client,
        path: &str,
        method: &str,
        code: &str,
        remember: bool,
    ) -> Response {
        let page = b.get(self.app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "factor page {path}");
        let html = page.text().await.unwrap();
        let mut form = vec![
            ("csrf", hidden(&html, "csrf").unwrap()),
            ("method", method.to_owned()),
            ("action", "verify".to_owned()),
            ("code", code.to_owned()),
        ];
        for k in ["req", "next"] {
            if let Some(v) = hidden(&html, k) {
                form.push((k, v));
            }
        }
        if remember {
            form.push(("remember", "yes".to_owned()));
        }
        b.post(self.app.url("/login/factor"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// The ID token's claims for the code in a redirect to `client`.
    pub async fn id_token(&self, client: &str, redirect: &Response) -> serde_json::Value {
        assert_eq!(redirect.status(), StatusCode::SEE_OTHER);
        let to = url::Url::parse(&location(redirect)).unwrap();
        let code = param(&to, "code").unwrap_or_else(|| panic!("no code in {to}"));
        let r = exchange_code(&self.app, client, self.secret(client), &code).await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: serde_json::Value = r.json().await.unwrap();
        claims(body["id_token"].as_str().unwrap())
    }

    /// A browser whose session showed only the password (at the app that asks no more):
    /// the settings send it to the second step, where the authenticator app's current code
    /// opens them. Returns the browser and the settings page.
    pub async fn settings_after_step_up(&self, username: &str, seed: &[u8]) -> (Client, String) {
        let app = &self.app;
        let b = new_browser();
        self.sign_in_at(&b, "plain", username).await;
        let r = b.get(app.url("/account/security")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let step_up = location(&r);
        assert!(step_up.starts_with("/login/factor?next="), "{step_up}");
        let r = self
            .factor(&b, &step_up, "totp", &self.totp_now(seed), false)
            .await;
        assert_eq!(location(&r), "/account/security");
        let r = b.get(app.url("/account/security")).send().await.unwrap();
        let html = r.text().await.unwrap();
        (b, html)
    }

    fn totp_now(&self, seed: &[u8]) -> String {
        totp::code_at(seed, self.app.state.clock.now()).unwrap()
    }
}

pub(crate) fn amr(claims: &serde_json::Value) -> Vec<String> {
    serde_json::from_value(claims["amr"].clone()).unwrap()
}

/// Sets up an authenticator app from the settings page of a signed-in browser; returns the
/// seed (from the key shown as text) and the recovery codes shown once.
async fn enroll_totp(apps: &Apps, b: &Client) -> (Vec<u8>, Vec<String>) {
    let app = &apps.app;
    let settings = b.get(app.url("/account/security")).send().await.unwrap();
    assert_eq!(settings.status(), StatusCode::OK);
    let html = settings.text().await.unwrap();
    assert!(html.contains("Set up an authenticator app"));
    let csrf = hidden(&html, "csrf").unwrap();
    let setup = b
        .post(app.url("/account/security/totp"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(setup.status(), StatusCode::OK);
    let html = setup.text().await.unwrap();
    assert!(html.contains("<svg"), "QR code rendered inline");
    assert!(!html.contains("https://"), "no external QR service");
    let start = html.find("class=\"secret\">").unwrap() + "class=\"secret\">".len();
    let secret = &html[start..start + html[start..].find('<').unwrap()];
    let seed = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .unwrap();
    assert_eq!(seed.len(), 20);
    // Stored sealed: the seed appears nowhere in the table.
    let row = ally_idp::store::mfa::find_totp(&app.state.db, &app.account("alice").await.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!row.sealed_secret.contains(secret));

    // A wrong code does not turn it on.
    let wrong = b
        .post(app.url("/account/security/totp/confirm"))
        .form(&[("csrf", csrf.as_str()), ("code", "000000")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.audit_events("mfa.totp_enabled").await.is_empty());

    let ok = b
        .post(app.url("/account/security/totp/confirm"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("code", apps.totp_now(&seed).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let html = ok.text().await.unwrap();
    let codes: Vec<String> = html
        .split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "ten recovery codes shown once");
    assert_eq!(app.audit_events("mfa.totp_enabled").await.len(), 1);
    // The code used to confirm belongs to this 30-second step: move past it.
    app.advance(30);
    (seed, codes)
}

#[tokio::test]
async fn an_optional_app_steps_up_a_password_session_once_the_account_sets_up_a_factor() {
    let apps = setup().await;
    let app = &apps.app;
    app.add_user("alice").await;

    // A password session and no factor: the optional app issues a code at once.
    let b = new_browser();
    apps.sign_in_at(&b, "plain", "alice").await;
    let to = url::Url::parse(&apps.start(&b, "optional", &[]).await).unwrap();
    assert!(param(&to, "code").is_some(), "{to}");

    // The account sets up an authenticator app in another browser: the same password
    // session is now asked for the second step there (and still not at the plain app).
    let settings = browser_for(app, "alice").await;
    enroll_totp(&apps, &settings).await;
    let factor = apps.start(&b, "optional", &[]).await;
    assert!(factor.starts_with("/login/factor?req="), "{factor}");
    let to = url::Url::parse(&apps.start(&b, "plain", &[]).await).unwrap();
    assert!(param(&to, "code").is_some(), "{to}");
}

/// What counts as a factor the person chose (the optional policy's question): a passkey or
/// a confirmed authenticator app; not an unconfirmed one, not recovery codes alone. And the
/// other answers of the same read (`store::standing`): consent and terms, per account and
/// application, and the same answers read with the session behind a cookie.
#[tokio::test]
async fn a_chosen_factor_is_a_passkey_or_a_confirmed_authenticator() {
    use ally_idp::store;
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    app.add_user("bob").await;
    let db = &app.state.db;
    let (alice, bob) = (app.account("alice").await.id, app.account("bob").await.id);
    let now = app.state.clock.now();
    let read = |id: String, ask_factor: bool, terms: Option<&'static str>| async move {
        let ask = store::standing::Ask {
            client_id: "app",
            ask_factor,
            terms_version: terms.map(String::from),
        };
        store::standing::read(db, &id, &ask).await.unwrap()
    };
    let chosen = |id: String| async move { read(id, true, None).await.chosen_factor };
    assert!(!chosen(alice.clone()).await);

    let mut totp = entity::totp_factor::Model {
        account_id: alice.clone(),
        sealed_secret: "sealed".into(),
        created_at: now,
        confirmed_at: None,
        last_step: None,
    };
    store::mfa::replace_totp(db, totp.clone()).await.unwrap();
    assert!(!chosen(alice.clone()).await, "unconfirmed");
    totp.confirmed_at = Some(now);
    store::mfa::replace_totp(db, totp).await.unwrap();
    assert!(chosen(alice.clone()).await, "confirmed");
    assert!(!chosen(bob.clone()).await, "another account's factor");

    store::passkeys::insert(
        db,
        entity::passkey::Model {
            id: "pk1".into(),
            account_id: bob.clone(),
            credential_id: "cred1".into(),
            name: "laptop".into(),
            credential: "{}".into(),
            created_at: now,
            last_used_at: None,
        },
    )
    .await
    .unwrap();
    assert!(chosen(bob.clone()).await, "passkey");
    assert!(
        !read(bob.clone(), false, None).await.chosen_factor,
        "not asked"
    );

    // Consent: the scope granted to this application by this account, nobody else's.
    assert_eq!(read(alice.clone(), false, None).await.consented_scope, None);
    for (account, client, scope) in [(&alice, "app", "openid email"), (&bob, "other", "openid")] {
        store::consents::upsert(
            db,
            entity::consent::Model {
                account_id: account.clone(),
                client_id: client.into(),
                scope: scope.into(),
                granted_at: now,
            },
        )
        .await
        .unwrap();
    }
    let alice_at_app = read(alice.clone(), false, None).await;
    assert_eq!(
        alice_at_app.consented_scope.as_deref(),
        Some("openid email")
    );
    assert_eq!(read(bob.clone(), false, None).await.consented_scope, None);

    // Terms: none to accept, or this very version accepted.
    assert!(alice_at_app.accepted_terms, "no terms");
    assert!(!read(alice.clone(), false, Some("v1")).await.accepted_terms);
    store::terms::insert(db, &alice, "app", "v1", now)
        .await
        .unwrap();
    assert!(read(alice.clone(), false, Some("v1")).await.accepted_terms);
    assert!(
        !read(alice.clone(), false, Some("v2")).await.accepted_terms,
        "a new version"
    );
    assert!(
        !read(bob.clone(), false, Some("v1")).await.accepted_terms,
        "another account"
    );

    // With the session: the answers are its account's, whoever else has answers.
    for (account, hash) in [(&alice, "alice-session"), (&bob, "bob-session")] {
        store::sessions::insert(
            db,
            entity::sso_session::Model {
                id: format!("id-{hash}"),
                token_hash: hash.into(),
                account_id: account.clone(),
                auth_time: now,
                amr: serde_json::json!(["pwd"]),
                acr: "1".into(),
                user_agent: None,
                client_ip: None,
                created_at: now,
                last_seen_at: now,
                expires_at: now + chrono::Duration::hours(1),
                ended_at: None,
                mfa_remembered: false,
            },
        )
        .await
        .unwrap();
    }
    let ask = store::standing::Ask {
        client_id: "app",
        ask_factor: true,
        terms_version: Some("v1".into()),
    };
    for (account, hash) in [(&alice, "alice-session"), (&bob, "bob-session")] {
        let (session, standing) = store::standing::read_with_session(db, hash, &ask)
            .await
            .unwrap()
            .expect("the session is found by its token hash");
        assert_eq!(&session.account_id, account);
        assert_eq!(session.id, format!("id-{hash}"));
        assert_eq!(
            standing,
            store::standing::read(db, account, &ask).await.unwrap()
        );
    }
    let (_, alice_standing) = store::standing::read_with_session(db, "alice-session", &ask)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        alice_standing,
        store::standing::Standing {
            consented_scope: Some("openid email".into()),
            chosen_factor: true,
            accepted_terms: true,
        }
    );
    assert!(
        store::standing::read_with_session(db, "no-such-session", &ask)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn totp_sign_in_reports_amr_and_acr_and_refuses_a_replayed_code() {
    let apps = setup().await;
    let app = &apps.app;
    app.add_user("alice").await;
    let settings = browser_for(app, "alice").await;
    let (seed, _) = enroll_totp(&apps, &settings).await;

    // Optional policy + an enrolled app: the password leads to the second step.
    let b = new_browser();
    let r = apps.sign_in_at(&b, "optional", "alice").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let factor = location(&r);
    assert!(factor.starts_with("/login/factor?req="), "{factor}");
    // Not signed in yet: no session cookie, no sign-in recorded.
    assert!(
        app.audit_events("login.succeeded").await.len() == 1,
        "only the settings browser"
    );
    let html = b
        .get(app.url(&factor))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("authenticator app"));
    assert!(
        html.contains("Code by e-mail") && html.contains("Recovery code"),
        "other methods offered"
    );

    let wrong = apps.factor(&b, &factor, "totp", "123456", false).await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.audit_events("mfa.failed").await.len(), 1);

    let code = apps.totp_now(&seed);
    let ok = apps.factor(&b, &factor, "totp", &code, false).await;
    let id = apps.id_token("optional", &ok).await;
    assert_eq!(amr(&id), ["pwd", "otp", "mfa"]);
    assert_eq!(id["acr"], acr::AAL2);
    assert_eq!(app.audit_events("mfa.verified").await.len(), 1);

    // The same code again, in the same 30 seconds, on another sign-in: refused.
    let b2 = new_browser();
    let factor = location(&apps.sign_in_at(&b2, "optional", "alice").await);
    let replay = apps.factor(&b2, &factor, "totp", &code, false).await;
    assert_eq!(
        replay.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "replayed code refused"
    );
    // The next step's code works.
    app.advance(30);
    let ok = apps
        .factor(&b2, &factor, "totp", &apps.totp_now(&seed), false)
        .await;
    assert_eq!(
        amr(&apps.id_token("optional", &ok).await),
        ["pwd", "otp", "mfa"]
    );

    // An application without MFA does not ask, even of an enrolled account.
    let b3 = new_browser();
    let r = apps.sign_in_at(&b3, "plain", "alice").await;
    let id = apps.id_token("plain", &r).await;
    assert_eq!(amr(&id), ["pwd"]);
    assert_eq!(id["acr"], acr::AAL1);
}

#[tokio::test]
async fn recovery_codes_work_once_and_a_new_set_voids_the_old() {
    let apps = setup().await;
    let app = &apps.app;
    app.add_user("alice").await;
    let settings = browser_for(app, "alice").await;
    let (seed, codes) = enroll_totp(&apps, &settings).await;

    let b = new_browser();
    let factor = location(&apps.sign_in_at(&b, "strict", "alice").await);
    // Typed in lower case without dashes: still the code.
    let typed = codes[0].replace('-', "").to_lowercase();
    let ok = apps
        .factor(&b, &factor, "recovery_code", &typed, false)
        .await;
    assert_eq!(
        amr(&apps.id_token("strict", &ok).await),
        ["pwd", "otp", "mfa"]
    );

    let b2 = new_browser();
    let factor = location(&apps.sign_in_at(&b2, "strict", "alice").await);
    let again = apps
        .factor(&b2, &factor, "recovery_code", &codes[0], false)
        .await;
    assert_eq!(
        again.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "single use"
    );

    // A new set (password required; a wrong one is refused and changes nothing).
    // A session that showed only the password (at an app that asks no more) must step up
    // first; the browser that enrolled the app showed its code and needs not.
    let (settings, html) = apps.settings_after_step_up("alice", &seed).await;
    assert!(
        html.contains("<strong>9</strong> unused recovery codes"),
        "{html}"
    );
    let csrf = hidden(&html, "csrf").unwrap();
    let bad = settings
        .post(app.url("/account/security/recovery"))
        .form(&[("csrf", csrf.as_str()), ("password", "not the password")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.audit_events("mfa.recovery_codes_generated").await.len(),
        1
    );
    let fresh = settings
        .post(app.url("/account/security/recovery"))
        .form(&[("csrf", csrf.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
    assert_eq!(
        app.audit_events("mfa.recovery_codes_generated").await.len(),
        2
    );
    let b3 = new_browser();
    let factor = location(&apps.sign_in_at(&b3, "strict", "alice").await);
    let old = apps
        .factor(&b3, &factor, "recovery_code", &codes[1], false)
        .await;
    assert_eq!(
        old.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "old set void"
    );
}

/// The 6-digit code in the newest outbox e-mail to `to`.
async fn emailed_code(app: &TestApp) -> String {
    app.state
        .mailer
        .deliver_due(&app.state.db, app.state.clock.now())
        .await
        .unwrap();
    let mut files: Vec<_> = std::fs::read_dir(app.data_dir().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
    let eml = std::fs::read_to_string(files.last().unwrap()).unwrap();
    assert!(eml.contains("Subject: Your sign-in code"), "{eml}");
    let at = eml.find("sign-in code for alice is:").unwrap();
    eml[at..]
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned()
}

async fn send_code(apps: &Apps, b: &Client, factor: &str) -> Response {
    let html = b
        .get(apps.app.url(factor))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form = vec![
        ("csrf", hidden(&html, "csrf").unwrap()),
        ("method", "email_code".to_owned()),
        ("action", "send".to_owned()),
    ];
    if let Some(r) = hidden(&html, "req") {
        form.push(("req", r));
    }
    b.post(apps.app.url("/login/factor"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_app_requiring_mfa_gets_an_emailed_code_and_a_password_session_steps_up() {
    let apps = setup().await;
    let app = &apps.app;
    app.add_user("alice").await;

    // Signed in with the password at an app without MFA.
    let b = new_browser();
    let r = apps.sign_in_at(&b, "plain", "alice").await;
    assert_eq!(amr(&apps.id_token("plain", &r).await), ["pwd"]);

    // prompt=none cannot show the second step.
    let to = url::Url::parse(&apps.start(&b, "strict", &[("prompt", "none")]).await).unwrap();
    assert_eq!(param(&to, "error").as_deref(), Some("interaction_required"));

    // The app requiring MFA asks only for the missing step: no password page.
    let factor = apps.start(&b, "strict", &[]).await;
    assert!(factor.starts_with("/login/factor?req="), "{factor}");
    let html = b
        .get(app.url(&factor))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("a•••@example.com") && html.contains("Send code"));
    assert!(!html.contains("name=\"password\""));

    let sent = send_code(&apps, &b, &factor).await;
    assert_eq!(sent.status(), StatusCode::OK);
    assert_eq!(app.audit_events("mfa.email_code_sent").await.len(), 1);
    let code = emailed_code(app).await;
    // The stored copy of the message does not keep the code.
    let stored = ally_idp::store::mail::list(&app.state.db).await.unwrap();
    assert!(
        stored
            .iter()
            .all(|m| !m.body_text.as_deref().unwrap_or("").contains(&code))
    );

    let ok = apps.factor(&b, &factor, "email_code", &code, false).await;
    let id = apps.id_token("strict", &ok).await;
    assert_eq!(amr(&id), ["pwd", "otp", "mfa"]);
    assert_eq!(id["acr"], acr::AAL2);
    // The same session now satisfies acr_values=AAL2 at the plain app without a prompt.
    let r = b
        .get(authorize_url(app, "plain", &[("acr_values", acr::AAL2)]))
        .send()
        .await
        .unwrap();
    assert_eq!(apps.id_token("plain", &r).await["acr"], acr::AAL2);

    // A fresh password session asked for acr_values=AAL2 steps up too; the code works once,
    // and expires after 10 minutes.
    let b2 = new_browser();
    let r = apps.sign_in_at(&b2, "plain", "alice").await;
    assert_eq!(apps.id_token("plain", &r).await["acr"], acr::AAL1);
    let factor = apps.start(&b2, "plain", &[("acr_values", acr::AAL2)]).await;
    assert!(factor.starts_with("/login/factor?req="), "{factor}");
    send_code(&apps, &b2, &factor).await;
    let code = emailed_code(app).await;
    app.advance(601);
    let late = apps.factor(&b2, &factor, "email_code", &code, false).await;
    assert_eq!(
        late.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "expired code refused"
    );
    assert!(late.text().await.unwrap().contains("expired"));
}

#[tokio::test]
async fn an_emailed_code_allows_few_tries() {
    let apps = setup().await;
    let app = &apps.app;
    app.add_user("alice").await;
    let b = new_browser();
    let factor = location(&apps.sign_in_at(&b, "strict", "alice").await);
    send_code(&apps, &b, &factor).await;
    let code = emailed_code(app).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..4 {
        let r = apps.factor(&b, &factor, "email_code", wrong, false).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Four wrong tries: the fifth failure (even with the right code) would be the lockout's
    // fifth; the code itself is void after its 5 tries.
    let r = apps.factor(&b, &factor, "email_code", &code, false).await;
    assert_eq!(
        amr(&apps.id_token("strict", &r).await),
        ["pwd", "otp", "mfa"]
    );
}

#[tokio::test]
async fn wrong_second_factors_count_toward_the_lockout() {
    let apps = setup().await;
    let app = &apps.app;
    app.add_user("alice").await;
    let b = new_browser();
    let factor = location(&apps.sign_in_at(&b, "strict", "alice").await);
    for _ in 0..4 {
        let r = apps
            .factor(&b, &factor, "recovery_code", "AAAA-BBBB-CCCC", false)
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let r = apps
        .factor(&b, &factor, "recovery_code", "AAAA-BBBB-CCCC", false)
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("locked"));
    assert_eq!(app.audit_events("account.locked").await.len(), 1);
    let account = app.account("alice").await;
    assert_eq!(account.status, "locked");
    // The right password now only says the account is locked.
    let b2 = new_browser();
    let r = apps.password(&b2, "/login", "alice").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("locked"));
}

#[tokio::test]
async fn a_remembered_browser_skips_the_second_step_for_that_account_until_forgotten() {
    let apps = setup().await;
    let app = &apps.app;
    app.add_user("alice").await;
    app.add_user("bob").await;
    let settings = browser_for(app, "alice").await;
    let (seed, _) = enroll_totp(&apps, &settings).await;

    let b = new_browser();
    let factor = location(&apps.sign_in_at(&b, "optional", "alice").await);
    let r = apps
        .factor(&b, &factor, "totp", &apps.totp_now(&seed), true)
        .await;
    let set_cookies: Vec<_> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let device = set_cookies
        .iter()
        .find(|c| c.starts_with("ally_device="))
        .unwrap();
    assert!(
        device.contains("Max-Age=2592000")
            && device.contains("HttpOnly")
            && device.contains("SameSite=Strict"),
        "{device}"
    );
    apps.id_token("optional", &r).await;
    assert_eq!(app.audit_events("mfa.device_remembered").await.len(), 1);

    // Signed out, then in again on the same browser: the password is enough.
    sign_out(app, &b).await;
    let r = apps.sign_in_at(&b, "optional", "alice").await;
    let id = apps.id_token("optional", &r).await;
    assert_eq!(
        amr(&id),
        ["pwd"],
        "the ID token tells the truth: no second factor now"
    );
    assert_eq!(id["acr"], acr::AAL1);
    // ...also for an app that requires MFA by policy...
    let r = b
        .get(authorize_url(app, "strict", &[]))
        .send()
        .await
        .unwrap();
    apps.id_token("strict", &r).await;
    // ...but not when the app asks for acr_values=AAL2 explicitly.
    let to = apps
        .start(&b, "optional", &[("acr_values", acr::AAL2)])
        .await;
    assert!(to.starts_with("/login/factor"), "{to}");

    // The browser is remembered for alice only: bob (no factor) at the strict app is asked.
    sign_out(app, &b).await;
    let r = apps.sign_in_at(&b, "strict", "bob").await;
    assert!(location(&r).starts_with("/login/factor"));

    // "Forget all remembered browsers" (needs the second step in a password-only session).
    app.advance(30);
    let (settings, html) = apps.settings_after_step_up("alice", &seed).await;
    assert!(html.contains("1 browser skips"), "{html}");
    let r = settings
        .post(app.url("/account/security/devices/forget"))
        .form(&[("csrf", hidden(&html, "csrf").unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/account/security?done=devices_forgotten");
    sign_out(app, &b).await;
    let r = apps.sign_in_at(&b, "optional", "alice").await;
    assert!(
        location(&r).starts_with("/login/factor"),
        "forgotten: asked again"
    );
}

#[tokio::test]
async fn changing_factors_forgets_remembered_browsers_and_needs_the_password() {
    let apps = setup().await;
    let app = &apps.app;
    app.add_user("alice").await;
    let settings = browser_for(app, "alice").await;
    let (seed, _) = enroll_totp(&apps, &settings).await;
    let b = new_browser();
    let factor = location(&apps.sign_in_at(&b, "strict", "alice").await);
    apps.factor(&b, &factor, "totp", &apps.totp_now(&seed), true)
        .await;
    assert_eq!(app.count("remembered_device").await, 1);

    // Remove the app from a browser that showed the second factor: password needed.
    app.advance(30);
    let r = b.get(app.url("/account/security")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let csrf = hidden(&html, "csrf").unwrap();
    let bad = b
        .post(app.url("/account/security/totp/remove"))
        .form(&[("csrf", csrf.as_str()), ("password", "wrong password!")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("totp_factor").await, 1);
    let forged = b
        .post(app.url("/account/security/totp/remove"))
        .form(&[("csrf", "forged"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("totp_factor").await, 1);
    let ok = b
        .post(app.url("/account/security/totp/remove"))
        .form(&[("csrf", csrf.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&ok), "/account/security?done=totp_removed");
    assert_eq!(app.count("totp_factor").await, 0);
    assert_eq!(
        app.count("remembered_device").await,
        0,
        "a factor change forgets devices"
    );
    assert_eq!(app.audit_events("mfa.totp_removed").await.len(), 1);
    assert_eq!(app.audit_events("mfa.devices_forgotten").await.len(), 1);
}

/// Signs the browser out of its session, if it has one.
async fn sign_out(app: &TestApp, b: &Client) {
    let home = b.get(app.url("/")).send().await.unwrap();
    if home.status() != StatusCode::OK {
        return;
    }
    let html = home.text().await.unwrap();
    let r = b
        .post(app.url("/logout"))
        .form(&[
            ("csrf", hidden(&html, "csrf").unwrap().as_str()),
            ("confirm", "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success() || r.status().is_redirection());
}
