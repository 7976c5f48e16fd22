//! Passkeys over HTTP, against a software authenticator that builds its answers byte by
//! byte (tests/it/helpers/soft_authenticator.rs): adding one in the settings, username-less
//! sign-in (`amr` hwk/swk + user + mfa, `acr` aal2), a passkey as the second factor, removal
//! behind the password, and every refusal: replayed or expired ceremonies, another origin,
//! no user verification, a forged or cloned authenticator, a locked account, another
//! account's passkey.

use ally_idp::authn::acr;
use reqwest::{Client, Response, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::Value;

use crate::helpers::{
    TestApp, browser_for, hidden, location, new_browser, soft_authenticator::SoftPasskey,
};
use crate::mfa::{Apps, amr, setup_on};

async fn setup() -> Apps {
    let apps = setup_on(TestApp::spawn_on_localhost().await).await;
    apps.app.add_user("alice").await;
    apps
}

async fn page(app: &TestApp, b: &Client, path: &str) -> String {
    let r = b.get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    r.text().await.unwrap()
}

/// Asks for a ceremony at `path` with `csrf`; returns the response.
async fn options(app: &TestApp, b: &Client, path: &str, csrf: &str) -> Response {
    b.post(app.url(path))
        .json(&serde_json::json!({ "csrf": csrf }))
        .send()
        .await
        .unwrap()
}

async fn ceremony(app: &TestApp, b: &Client, path: &str, csrf: &str) -> (Value, String) {
    let r = options(app, b, path, csrf).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let j: Value = r.json().await.unwrap();
    (
        j["options"].clone(),
        j["ceremony"].as_str().unwrap().to_owned(),
    )
}

/// Adds a passkey from the settings page of signed-in browser `b`; returns the
/// authenticator and the page the form post answered with.
async fn add_passkey(
    app: &TestApp,
    b: &Client,
    name: &str,
    synced: bool,
) -> (SoftPasskey, Response) {
    let html = page(app, b, "/account/security").await;
    assert!(html.contains("Add a passkey"), "{html}");
    let csrf = hidden(&html, "csrf").unwrap();
    let (opts, id) = ceremony(app, b, "/account/security/passkeys/options", &csrf).await;
    let (pk, answer) = SoftPasskey::create(&opts, &app.issuer, synced);
    let r = b
        .post(app.url("/account/security/passkeys"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", name),
            ("ceremony", id.as_str()),
            ("credential", answer.to_string().as_str()),
        ])
        .send()
        .await
        .unwrap();
    (pk, r)
}

/// What the sign-in page `login_path` posts after the browser answered with `pk`.
async fn passkey_sign_in(
    app: &TestApp,
    b: &Client,
    login_path: &str,
    answer: impl FnOnce(&Value) -> Value,
) -> Response {
    let html = page(app, b, login_path).await;
    let csrf = hidden(&html, "csrf").unwrap();
    let (opts, id) = ceremony(app, b, "/login/passkey/options", &csrf).await;
    let mut form = vec![
        ("csrf", csrf),
        ("ceremony", id),
        ("credential", answer(&opts).to_string()),
    ];
    if let Some(req) = hidden(&html, "req") {
        form.push(("req", req));
    }
    b.post(app.url("/login/passkey"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

async fn stored_counter(app: &TestApp, pk: &SoftPasskey) -> (u64, bool) {
    let row = ally_idp::store::passkeys::find_by_credential_id(&app.state.db, &pk.credential_id())
        .await
        .unwrap()
        .unwrap();
    let cred: Value = serde_json::from_str(&row.credential).unwrap();
    (
        cred["cred"]["counter"].as_u64().unwrap(),
        row.last_used_at.is_some(),
    )
}

#[tokio::test]
async fn a_passkey_added_in_settings_signs_in_without_a_user_id() {
    let apps = setup().await;
    let app = &apps.app;
    let settings = browser_for(app, "alice").await;

    // The ceremony: a discoverable credential with user verification, for this RP id.
    let html = page(app, &settings, "/account/security").await;
    let csrf = hidden(&html, "csrf").unwrap();
    let refused = options(
        app,
        &settings,
        "/account/security/passkeys/options",
        "forged",
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(body["message"].as_str().unwrap().contains("expired"));
    let (opts, _) = ceremony(app, &settings, "/account/security/passkeys/options", &csrf).await;
    let pk = &opts["publicKey"];
    assert_eq!(pk["rp"]["id"], "localhost");
    assert_eq!(pk["rp"]["name"], "Ally");
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");

    let (mut key, added) = add_passkey(app, &settings, "My phone", false).await;
    // The first factor set up also hands out recovery codes, once.
    assert_eq!(added.status(), StatusCode::OK);
    let html = added.text().await.unwrap();
    assert!(html.contains("Your passkey is saved."));
    assert_eq!(html.matches("<li><code>").count(), 10);
    assert_eq!(app.audit_events("mfa.passkey_added").await.len(), 1);
    let html = page(app, &settings, "/account/security").await;
    assert!(
        html.contains("My phone") && html.contains("not used yet"),
        "{html}"
    );

    // Username-less sign-in at an application that requires MFA: the passkey is enough.
    let b = new_browser();
    let login = apps.start(&b, "strict", &[]).await;
    let html = page(app, &b, &login).await;
    assert!(html.contains("Sign in with a passkey"));
    assert!(
        html.contains(r#"autocomplete="username webauthn""#),
        "conditional mediation"
    );
    let r = passkey_sign_in(app, &b, &login, |o| key.get(o, &app.issuer)).await;
    let claims = apps.id_token("strict", &r).await;
    assert_eq!(amr(&claims), ["hwk", "user", "mfa"]);
    assert_eq!(claims["acr"], acr::AAL2);
    let succeeded = app.audit_events("login.succeeded").await;
    assert_eq!(succeeded.len(), 2, "the settings browser and this one");
    assert_eq!(
        succeeded[1].target.as_deref(),
        Some(app.account("alice").await.id.as_str())
    );

    // The new signature counter and the time of use are stored.
    assert_eq!(stored_counter(app, &key).await, (2, true));
    let html = page(app, &settings, "/account/security").await;
    assert!(html.contains("last used"), "{html}");

    // A clone of the authenticator shows a counter that did not move: refused.
    key.rewind_counter(1);
    let b = new_browser();
    let r = passkey_sign_in(app, &b, "/login", |o| key.get(o, &app.issuer)).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("That passkey could not be used")
    );
    assert_eq!(stored_counter(app, &key).await.0, 2);
}

#[tokio::test]
async fn a_synced_passkey_is_reported_as_a_software_key() {
    let apps = setup().await;
    let app = &apps.app;
    let settings = browser_for(app, "alice").await;
    let (mut key, _) = add_passkey(app, &settings, "Password manager", true).await;
    let b = new_browser();
    let login = apps.start(&b, "plain", &[]).await;
    let r = passkey_sign_in(app, &b, &login, |o| key.get(o, &app.issuer)).await;
    let claims = apps.id_token("plain", &r).await;
    assert_eq!(amr(&claims), ["swk", "user", "mfa"]);
}

#[tokio::test]
async fn passkey_sign_in_refusals_change_nothing() {
    let apps = setup().await;
    let app = &apps.app;
    let settings = browser_for(app, "alice").await;
    let (mut key, _) = add_passkey(app, &settings, "Laptop", false).await;
    let refused = |r: Response| async move {
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = r.text().await.unwrap();
        assert!(html.contains("role=\"alert\""), "{html}");
        html
    };
    let b = new_browser();

    // Another origin (a phishing site relaying the ceremony).
    let r = passkey_sign_in(app, &b, "/login", |o| key.get(o, "http://evil.example")).await;
    refused(r).await;
    // No user verification: a passkey alone must be two factors.
    key.verify_user = false;
    let r = passkey_sign_in(app, &b, "/login", |o| key.get(o, &app.issuer)).await;
    refused(r).await;
    key.verify_user = true;
    // Someone else's key claiming this credential id and user handle.
    let (mut forger, _) = SoftPasskey::create(
        &serde_json::json!({ "publicKey": { "rp": { "id": "localhost" }, "user": { "id": "AA" }, "challenge": "AA" } }),
        &app.issuer,
        false,
    );
    forger.claim_id_of(&key);
    let r = passkey_sign_in(app, &b, "/login", |o| forger.get(o, &app.issuer)).await;
    refused(r).await;
    // A ceremony answered after it expired.
    let html = page(app, &b, "/login").await;
    let csrf = hidden(&html, "csrf").unwrap();
    let (opts, id) = ceremony(app, &b, "/login/passkey/options", &csrf).await;
    app.advance(301);
    let answer = key.get(&opts, &app.issuer).to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("ceremony", id.as_str()),
        ("credential", answer.as_str()),
    ];
    let post = || b.post(app.url("/login/passkey")).form(&form).send();
    refused(post().await.unwrap()).await;
    assert_eq!(app.audit_events("login.passkey_rejected").await.len(), 4);
    assert_eq!(
        app.audit_events("login.succeeded").await.len(),
        1,
        "settings only"
    );

    // A good answer is accepted once: the same ceremony again is refused.
    let (opts, id) = ceremony(app, &b, "/login/passkey/options", &csrf).await;
    let answer = key.get(&opts, &app.issuer).to_string();
    let form = [
        ("csrf", csrf.as_str()),
        ("ceremony", id.as_str()),
        ("credential", answer.as_str()),
    ];
    let post = || b.post(app.url("/login/passkey")).form(&form).send();
    let first = post().await.unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&first), "/");
    refused(post().await.unwrap()).await;

    // Without the page's CSRF token, or with a broken answer: refused before any check.
    let other = new_browser();
    let r = other
        .post(app.url("/login/passkey"))
        .form(&[
            ("csrf", "x"),
            ("ceremony", id.as_str()),
            ("credential", answer.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = b
        .post(app.url("/login/passkey"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("ceremony", id.as_str()),
            ("credential", "{not json"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = b
        .post(app.url("/login/passkey/options"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let j: Value = r.json().await.unwrap();
    assert_eq!(j["error"], "invalid_request");

    // A locked account's passkey verifies but does not sign in.
    app.state
        .db
        .execute_unprepared("UPDATE account SET status = 'locked' WHERE username = 'alice'")
        .await
        .unwrap();
    let fresh = new_browser();
    let r = passkey_sign_in(app, &fresh, "/login", |o| key.get(o, &app.issuer)).await;
    let html = refused(r).await;
    assert!(html.contains("locked"), "{html}");
    assert_eq!(app.audit_events("login.succeeded").await.len(), 2);
}

#[tokio::test]
async fn a_passkey_serves_as_the_second_factor_only_for_its_own_account() {
    let apps = setup().await;
    let app = &apps.app;
    app.add_user("bob").await;
    let (mut alices, _) = add_passkey(app, &browser_for(app, "alice").await, "A", false).await;
    let (mut bobs, _) = add_passkey(app, &browser_for(app, "bob").await, "B", false).await;

    // The password first; the passkey is offered first among the factors.
    let b = new_browser();
    let r = apps.sign_in_at(&b, "optional", "alice").await;
    let factor = location(&r);
    assert!(factor.starts_with("/login/factor"), "{factor}");
    let html = page(app, &b, &factor).await;
    assert!(html.contains("Use a passkey"), "{html}");
    let first_choice = html
        .find("Authenticator app")
        .or(html.find("Code by e-mail"))
        .unwrap();
    assert!(html.find("<h2 class=\"sub\">Passkey").unwrap() < first_choice);

    let csrf = hidden(&html, "csrf").unwrap();
    let req = hidden(&html, "req");
    let post = |id: String, answer: Value| {
        let mut form = vec![
            ("csrf", csrf.clone()),
            ("method", "passkey".to_owned()),
            ("action", "verify".to_owned()),
            ("ceremony", id),
            ("credential", answer.to_string()),
        ];
        if let Some(r) = &req {
            form.push(("req", r.clone()));
        }
        b.post(app.url("/login/factor")).form(&form).send()
    };

    // Bob's passkey cannot finish Alice's sign-in; the failure counts toward her lockout.
    let (opts, id) = ceremony(app, &b, "/login/passkey/options", &csrf).await;
    let r = post(id, bobs.get(&opts, &app.issuer)).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("That passkey could not be used")
    );
    let failed = app.audit_events("mfa.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].target.as_deref(),
        Some(app.account("alice").await.id.as_str())
    );

    let (opts, id) = ceremony(app, &b, "/login/passkey/options", &csrf).await;
    let r = post(id, alices.get(&opts, &app.issuer)).await.unwrap();
    let claims = apps.id_token("optional", &r).await;
    assert_eq!(amr(&claims), ["pwd", "hwk", "user", "mfa"]);
    assert_eq!(claims["acr"], acr::AAL2);

    // Wrong passkeys count toward the lockout like wrong codes: the fifth locks Bob out.
    let b = new_browser();
    let r = apps.sign_in_at(&b, "optional", "bob").await;
    let factor = location(&r);
    let html = page(app, &b, &factor).await;
    let csrf = hidden(&html, "csrf").unwrap();
    let req = hidden(&html, "req").unwrap();
    let mut last = None;
    for _ in 0..5 {
        let (opts, id) = ceremony(app, &b, "/login/passkey/options", &csrf).await;
        let answer = alices.get(&opts, &app.issuer).to_string();
        let r = b
            .post(app.url("/login/factor"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("req", req.as_str()),
                ("method", "passkey"),
                ("action", "verify"),
                ("ceremony", id.as_str()),
                ("credential", answer.as_str()),
            ])
            .send()
            .await
            .unwrap();
        last = Some(r.status());
    }
    assert_eq!(last, Some(StatusCode::FORBIDDEN));
    assert_eq!(app.audit_events("account.locked").await.len(), 1);
    let b = new_browser();
    let r = apps.sign_in_at(&b, "optional", "bob").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("locked"));
}

#[tokio::test]
async fn removing_a_passkey_needs_the_password_and_forgets_remembered_browsers() {
    let apps = setup().await;
    let app = &apps.app;
    app.add_user("bob").await;
    let settings = browser_for(app, "alice").await;
    let (mut key, _) = add_passkey(app, &settings, "Phone", false).await;
    let (_, _) = add_passkey(app, &browser_for(app, "bob").await, "Bob's", false).await;

    // The session that added it showed it, so its settings stay open.
    page(app, &settings, "/account/security").await;
    // Now that Alice has a factor, a password-only session must step up for settings.
    let password_only = new_browser();
    apps.sign_in_at(&password_only, "plain", "alice").await;
    let r = password_only
        .get(app.url("/account/security"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login/factor"));
    // Sign in with the passkey, remembering nothing; settings open.
    let b = new_browser();
    let r = passkey_sign_in(app, &b, "/login", |o| key.get(o, &app.issuer)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let html = page(app, &b, "/account/security").await;
    let csrf = hidden(&html, "csrf").unwrap();
    let mine = hidden(&html, "id").unwrap();
    let bobs = ally_idp::store::passkeys::of_account(&app.state.db, &app.account("bob").await.id)
        .await
        .unwrap()[0]
        .id
        .clone();
    // A remembered browser, to see it forgotten.
    ally_idp::authn::mfa::devices::remember(
        &app.state.db,
        &app.state.tokens,
        app.state.clock.now(),
        &app.account("alice").await.id,
        None,
        30,
    )
    .await
    .unwrap();
    assert_eq!(app.count("remembered_device").await, 1);

    let remove = |id: &str, password: &str| {
        b.post(app.url("/account/security/passkeys/remove"))
            .form(&[("csrf", csrf.as_str()), ("id", id), ("password", password)])
            .send()
    };
    let r = remove(&mine, "wrong password").await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("passkey").await, 2);
    // Bob's passkey is not Alice's to remove.
    let r = remove(&bobs, crate::helpers::PASSWORD).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count("passkey").await, 2);
    let r = remove(&mine, crate::helpers::PASSWORD).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/account/security?done=passkey_removed");
    assert_eq!(app.count("passkey").await, 1);
    assert_eq!(app.count("remembered_device").await, 0);
    assert_eq!(app.audit_events("mfa.passkey_removed").await.len(), 1);

    // The removed passkey no longer signs in.
    let r = passkey_sign_in(app, &new_browser(), "/login", |o| key.get(o, &app.issuer)).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn passkeys_are_off_when_the_issuer_is_an_ip_address() {
    let app = TestApp::spawn().await;
    let b = new_browser();
    let html = page(&app, &b, "/login").await;
    assert!(!html.contains("passkey"), "{html}");
    assert!(html.contains(r#"autocomplete="username""#));
    let csrf = hidden(&html, "csrf").unwrap();
    let r = options(&app, &b, "/login/passkey/options", &csrf).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let j: Value = r.json().await.unwrap();
    assert_eq!(j["error"], "not_available");
}

#[tokio::test]
async fn adding_a_passkey_refuses_another_origin_a_replay_and_a_stranger() {
    let apps = setup().await;
    let app = &apps.app;
    let b = browser_for(app, "alice").await;
    let html = page(app, &b, "/account/security").await;
    let csrf = hidden(&html, "csrf").unwrap();
    let add = |ceremony: String, answer: Value| {
        b.post(app.url("/account/security/passkeys"))
            .form(&[
                ("csrf", csrf.clone()),
                ("name", "Phone".to_owned()),
                ("ceremony", ceremony),
                ("credential", answer.to_string()),
            ])
            .send()
    };

    // Created for another origin: refused, nothing stored.
    let (opts, id) = ceremony(app, &b, "/account/security/passkeys/options", &csrf).await;
    let (_, answer) = SoftPasskey::create(&opts, "http://evil.example", false);
    let r = add(id, answer).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("could not be saved"));
    assert_eq!(app.count("passkey").await, 0);

    // Accepted once; the same ceremony again is refused.
    let (opts, id) = ceremony(app, &b, "/account/security/passkeys/options", &csrf).await;
    let (_, answer) = SoftPasskey::create(&opts, &app.issuer, false);
    let r = add(id.clone(), answer.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = add(id, answer).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count("passkey").await, 1);
    assert_eq!(app.audit_events("mfa.passkey_added").await.len(), 1);

    // A browser without a session gets no ceremony and cannot add one.
    let stranger = new_browser();
    let html = page(app, &stranger, "/login").await;
    let csrf = hidden(&html, "csrf").unwrap();
    let r = options(app, &stranger, "/account/security/passkeys/options", &csrf).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let j: Value = r.json().await.unwrap();
    assert_eq!(j["error"], "login_required");
    let r = stranger
        .post(app.url("/account/security/passkeys"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("ceremony", "x"),
            ("credential", "{}"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login"));
    assert_eq!(app.count("passkey").await, 1);
}
