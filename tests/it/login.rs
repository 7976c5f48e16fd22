//! The sign-in screen.

use reqwest::{StatusCode, header};

use crate::helpers::{ClientSpec, PASSWORD, TestApp, authorize_url, hidden, location};

async fn login_page(app: &TestApp) -> (String, String) {
    let r = app
        .browser
        .get(authorize_url(app, "web", &[]))
        .send()
        .await
        .unwrap();
    let url = app.url(&location(&r));
    let page = app.browser.get(&url).send().await.unwrap();
    let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    // The form may post to us and be redirected to the application's origin only.
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:9999;"),
        "{csp}"
    );
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
    let html = page.text().await.unwrap();
    // Scripts run only with this response's nonce, and every script tag carries it.
    let nonce = csp
        .split("script-src 'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("a script nonce in the CSP");
    assert!(nonce.len() >= 22, "{csp}");
    let scripts = html.matches("<script").count();
    assert!(scripts >= 1);
    assert_eq!(
        html.matches(&format!("<script nonce=\"{nonce}\"")).count(),
        scripts
    );
    (url, html)
}

async fn setup() -> TestApp {
    let app = TestApp::spawn().await;
    app.add_client(ClientSpec::confidential("web")).await;
    app.add_user("alice").await;
    app
}

#[tokio::test]
async fn page_names_the_application_and_has_accessible_fields() {
    let app = setup().await;
    let (_, html) = login_page(&app).await;
    assert!(html.contains("App web"));
    assert!(html.contains(r#"<label for="username">User ID</label>"#));
    assert!(html.contains(r#"<label for="password">Password</label>"#));
    assert!(html.contains("Caps Lock is on"));
    assert!(html.contains(r#"autocomplete="current-password""#));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "nothing loaded from other sites"
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = setup().await;
    let mut bodies = Vec::new();
    for (user, pw) in [
        ("alice", "wrong password here"),
        ("nobody", "wrong password here"),
        ("ALICE", PASSWORD),
    ] {
        let (url, _) = login_page(&app).await;
        let r = app.submit_login(&url, user, pw).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{user}");
        assert!(r.headers().get(header::LOCATION).is_none());
        let html = r.text().await.unwrap();
        assert!(
            html.contains("The user ID or password is incorrect"),
            "{html}"
        );
        assert!(html.contains(r#"role="alert""#), "errors are announced");
        // Only the user ID the person typed differs.
        // (and the per-response script nonce).
        let nonce = html
            .split("<script nonce=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("none")
            .to_owned();
        let html = html.replace(&nonce, "NONCE");
        bodies.push(
            html.replace(user, "USER")
                .lines()
                .filter(|l| !l.contains("csrf") && !l.contains("name=\"req\""))
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(app.count("sso_session").await, 0);
    let failed = app.audit_events("login.failed").await;
    assert_eq!(failed.len(), 3);
    assert!(
        failed
            .iter()
            .all(|e| e.actor.is_none() && e.target.is_none())
    );
}

#[tokio::test]
async fn missing_or_foreign_csrf_token_is_refused() {
    let app = setup().await;
    let (url, html) = login_page(&app).await;
    let req = hidden(&html, "req").unwrap();
    let r = app
        .browser
        .post(app.url("/login"))
        .form(&[
            ("req", req.as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("expired"));
    // A token from another browser does not match this browser's cookie.
    let stranger = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let their_page = stranger
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let their_token = hidden(&their_page, "csrf").unwrap();
    let r = app
        .browser
        .post(app.url("/login"))
        .form(&[
            ("csrf", their_token.as_str()),
            ("req", req.as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("sso_session").await, 0);
    assert!(
        app.audit_events("login.failed").await.is_empty(),
        "no sign-in attempt was even made"
    );
    assert!(app.audit_events("login.succeeded").await.is_empty());
}

#[tokio::test]
async fn successful_login_sets_a_safe_session_cookie() {
    let app = setup().await;
    let (url, _) = login_page(&app).await;
    let r = app.submit_login(&url, "alice", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookies: Vec<String> = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("ally_session="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && session.contains("Path=/"),
        "{session}"
    );
    // Only a keyed hash of the cookie value is stored.
    let value = session
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("ally_session=");
    let stored = ally_idp::store::sessions::find_by_token_hash(&app.state.db, value)
        .await
        .unwrap();
    assert!(stored.is_none(), "the raw value is not a lookup key");
    assert_eq!(app.audit_events("login.succeeded").await.len(), 1);
}

#[tokio::test]
async fn direct_login_lands_on_the_account_page() {
    let app = setup().await;
    let r = app.browser.get(app.url("/")).send().await.unwrap();
    assert_eq!(location(&r), "/login");
    let r = app.submit_login("/login", "alice", PASSWORD).await;
    assert_eq!(location(&r), "/");
    let home = app
        .browser
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("alice"));
}

#[tokio::test]
async fn static_assets_are_served_with_cache_headers() {
    let app = TestApp::spawn().await;
    let r = app
        .http
        .get(app.url("/static/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    assert_eq!(
        app.http
            .get(app.url("/static/../Cargo.toml"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn signing_in_again_replaces_the_browsers_session() {
    let app = setup().await;
    app.add_user("bob").await;
    let r = app.submit_login("/login", "alice", PASSWORD).await;
    assert_eq!(location(&r), "/");
    let r = app.submit_login("/login", "bob", PASSWORD).await;
    assert_eq!(location(&r), "/");
    let home = app
        .browser
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("bob") && !home.contains("alice"));
    use sea_orm::{ConnectionTrait, Statement};
    let live = app
        .state
        .db
        .query_one_raw(Statement::from_string(
            app.state.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM sso_session WHERE ended_at IS NULL",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(
        live, 1,
        "alice's session ended when bob signed in on the same browser"
    );
}
