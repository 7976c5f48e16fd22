//! Authorization endpoint rules (RFC 6749 §4.1, OIDC Core §3.1.2).

use reqwest::{StatusCode, header};

use crate::helpers::{
    ClientSpec, PKCE_CHALLENGE, TestApp, authorize_url, location, param, redirect_uri,
};

async fn setup() -> TestApp {
    let app = TestApp::spawn().await;
    app.add_client(ClientSpec::confidential("web")).await;
    app.add_user("alice").await;
    app
}

/// The error redirect for a verified client: error, state and iss on the redirect URI.
async fn redirected_error(app: &TestApp, url: &str) -> (String, url::Url) {
    let r = app.browser.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = url::Url::parse(&location(&r)).unwrap();
    assert!(to.as_str().starts_with(&redirect_uri("web")), "{to}");
    assert_eq!(param(&to, "state").as_deref(), Some("st-123"));
    assert_eq!(param(&to, "iss").as_deref(), Some(app.issuer.as_str()));
    assert!(param(&to, "error_description").is_some());
    (param(&to, "error").unwrap(), to)
}

/// An error rendered as a page: never a redirect.
async fn rendered_error(app: &TestApp, url: &str) -> String {
    let r = app.browser.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.headers().get(header::LOCATION).is_none(),
        "must not redirect"
    );
    r.text().await.unwrap()
}

#[tokio::test]
async fn unverified_client_or_redirect_uri_renders_a_page() {
    let app = setup().await;
    let evil = authorize_url(&app, "web", &[]).replace(
        &urlencode(&redirect_uri("web")),
        &urlencode("https://evil.example/cb"),
    );
    let html = rendered_error(&app, &evil).await;
    assert!(html.contains("not registered"), "{html}");
    let unknown = authorize_url(&app, "web", &[]).replace("client_id=web", "client_id=ghost");
    rendered_error(&app, &unknown).await;
    let dup = format!("{}&client_id=web", authorize_url(&app, "web", &[]));
    rendered_error(&app, &dup).await;
    let no_redirect = app.url("/authorize?client_id=web&response_type=code&scope=openid");
    rendered_error(&app, &no_redirect).await;
    assert_eq!(app.count("authorization_request").await, 0);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn verified_client_errors_redirect_with_state_and_iss() {
    let app = setup().await;
    let cases: Vec<(String, &str)> = vec![
        (
            authorize_url(&app, "web", &[]).replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            authorize_url(&app, "web", &[]).replace("response_type=code&", ""),
            "invalid_request",
        ),
        (
            authorize_url(&app, "web", &[("scope", "openid admin")]),
            "invalid_scope",
        ),
        (
            authorize_url(&app, "web", &[("prompt", "none login")]),
            "invalid_request",
        ),
        (
            authorize_url(&app, "web", &[("max_age", "-1")]),
            "invalid_request",
        ),
        (
            authorize_url(&app, "web", &[("request", "eyJ...")]),
            "request_not_supported",
        ),
        (
            authorize_url(&app, "web", &[("request_uri", "https://x")]),
            "request_uri_not_supported",
        ),
        (
            authorize_url(&app, "web", &[("id_token_hint", "forged.token.value")]),
            "invalid_request",
        ),
        (
            authorize_url(&app, "web", &[("response_mode", "fragment")]),
            "invalid_request",
        ),
        (
            format!("{}&state=again", authorize_url(&app, "web", &[])),
            "invalid_request",
        ),
        (
            authorize_url(&app, "web", &[])
                .replace("code_challenge_method=S256", "code_challenge_method=plain"),
            "invalid_request",
        ),
    ];
    for (url, expected) in cases {
        let (error, to) = redirected_error(&app, &url).await;
        assert_eq!(error, expected, "{url} -> {to}");
    }
    assert_eq!(app.count("authorization_request").await, 0);
}

#[tokio::test]
async fn oversized_parameters_are_a_clear_400() {
    let app = setup().await;
    let url = authorize_url(&app, "web", &[("nonce", &"n".repeat(5000))]);
    let html = rendered_error(&app, &url).await;
    assert!(html.contains("too long"));
    assert_eq!(app.count("authorization_request").await, 0);
}

#[tokio::test]
async fn public_clients_must_use_pkce() {
    let app = TestApp::spawn().await;
    app.add_client(ClientSpec {
        public: true,
        ..ClientSpec::confidential("web")
    })
    .await;
    let url = authorize_url(&app, "web", &[]).replace(
        &format!("&code_challenge={PKCE_CHALLENGE}&code_challenge_method=S256"),
        "",
    );
    let (error, _) = redirected_error(&app, &url).await;
    assert_eq!(error, "invalid_request");
}

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    let app = setup().await;
    let (error, _) =
        redirected_error(&app, &authorize_url(&app, "web", &[("prompt", "none")])).await;
    assert_eq!(error, "login_required");
}

#[tokio::test]
async fn sso_session_skips_login_and_prompt_login_forces_it() {
    let app = setup().await;
    app.add_client(ClientSpec::confidential("other")).await;
    let cb = app
        .authorize(&authorize_url(&app, "web", &[]), "alice")
        .await;
    assert!(param(&cb, "code").is_some());
    // Another application: straight back with a code.
    let r = app
        .browser
        .get(authorize_url(&app, "other", &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let to = url::Url::parse(&location(&r)).unwrap();
    assert!(param(&to, "code").is_some(), "{to}");
    // prompt=login and max_age=0 show the login screen despite the session.
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let r = app
            .browser
            .get(authorize_url(&app, "web", &[extra]))
            .send()
            .await
            .unwrap();
        assert!(location(&r).starts_with("/login?req="), "{extra:?}");
    }
    // After signing in again for that request, the code is issued.
    let cb = app
        .authorize(&authorize_url(&app, "web", &[("prompt", "login")]), "alice")
        .await;
    assert!(param(&cb, "code").is_some());
}

#[tokio::test]
async fn consent_for_offline_access_is_asked_remembered_and_deniable() {
    let app = setup().await;
    let url = authorize_url(&app, "web", &[("scope", "openid offline_access")]);
    let r = app.browser.get(&url).send().await.unwrap();
    let login = app
        .submit_login(&location(&r), "alice", crate::helpers::PASSWORD)
        .await;
    let consent = location(&login);
    assert!(consent.starts_with("/consent?req="), "{consent}");
    let page = app.browser.get(app.url(&consent)).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("App web") && html.contains("Stay connected"));

    let denied = app.consent(&consent, "deny").await;
    let to = url::Url::parse(&location(&denied)).unwrap();
    assert_eq!(param(&to, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&to, "state").as_deref(), Some("st-123"));

    // Ask again, allow: the code comes, and the approval is remembered.
    let r = app.browser.get(&url).send().await.unwrap();
    let allowed = app.consent(&location(&r), "allow").await;
    assert!(param(&url::Url::parse(&location(&allowed)).unwrap(), "code").is_some());
    let r = app.browser.get(&url).send().await.unwrap();
    assert!(
        param(&url::Url::parse(&location(&r)).unwrap(), "code").is_some(),
        "remembered"
    );
    // prompt=consent asks anyway.
    let r = app
        .browser
        .get(authorize_url(
            &app,
            "web",
            &[("scope", "openid offline_access"), ("prompt", "consent")],
        ))
        .send()
        .await
        .unwrap();
    assert!(location(&r).starts_with("/consent"));
    assert_eq!(app.audit_events("consent.granted").await.len(), 1);
}

#[tokio::test]
async fn prompt_none_needing_consent_is_consent_required_and_third_parties_always_ask() {
    let app = setup().await;
    app.add_client(ClientSpec {
        third_party: true,
        ..ClientSpec::confidential("partner")
    })
    .await;
    app.authorize(&authorize_url(&app, "web", &[]), "alice")
        .await;
    let (error, _) = redirected_error(
        &app,
        &authorize_url(
            &app,
            "web",
            &[("scope", "openid offline_access"), ("prompt", "none")],
        ),
    )
    .await;
    assert_eq!(error, "consent_required");
    let r = app
        .browser
        .get(authorize_url(&app, "partner", &[]))
        .send()
        .await
        .unwrap();
    assert!(location(&r).starts_with("/consent"));
}

#[tokio::test]
async fn authorization_request_is_single_use() {
    let app = setup().await;
    let r = app
        .browser
        .get(authorize_url(&app, "web", &[]))
        .send()
        .await
        .unwrap();
    let login_url = location(&r);
    let page = app
        .browser
        .get(app.url(&login_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = [
        ("csrf", crate::helpers::hidden(&page, "csrf").unwrap()),
        ("req", crate::helpers::hidden(&page, "req").unwrap()),
        ("username", "alice".into()),
        ("password", crate::helpers::PASSWORD.into()),
    ];
    let first = app
        .browser
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(location(&first).contains("code="));
    let replay = app
        .browser
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.text().await.unwrap().contains("expired"));
    assert_eq!(app.count("authorization_code").await, 1);
}

#[tokio::test]
async fn authorize_accepts_post() {
    let app = setup().await;
    let url = url::Url::parse(&authorize_url(&app, "web", &[("prompt", "none")])).unwrap();
    let r = app
        .browser
        .post(app.url("/authorize"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(url.query().unwrap().to_owned())
        .send()
        .await
        .unwrap();
    let to = url::Url::parse(&location(&r)).unwrap();
    assert_eq!(param(&to, "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn login_hint_prefills_and_id_token_hint_must_match_the_session() {
    let app = TestApp::spawn().await;
    let secret = app
        .add_client(ClientSpec::confidential("web"))
        .await
        .unwrap();
    app.add_user("alice").await;
    app.add_user("bob").await;
    let r = app
        .browser
        .get(authorize_url(&app, "web", &[("login_hint", "alice")]))
        .send()
        .await
        .unwrap();
    let html = app
        .browser
        .get(app.url(&location(&r)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"value="alice""#), "user ID prefilled");

    // Bob signs in and gets an ID token; Alice then signs in on the same browser.
    let cb = app.authorize(&authorize_url(&app, "web", &[]), "bob").await;
    let tokens: serde_json::Value =
        crate::helpers::exchange_code(&app, "web", &secret, &param(&cb, "code").unwrap())
            .await
            .json()
            .await
            .unwrap();
    let bobs_id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let r = app
        .browser
        .get(authorize_url(
            &app,
            "web",
            &[("prompt", "none"), ("id_token_hint", &bobs_id_token)],
        ))
        .send()
        .await
        .unwrap();
    assert!(
        param(&url::Url::parse(&location(&r)).unwrap(), "code").is_some(),
        "hint matches the session"
    );
    app.authorize(&authorize_url(&app, "web", &[("prompt", "login")]), "alice")
        .await;
    let (error, _) = redirected_error(
        &app,
        &authorize_url(
            &app,
            "web",
            &[("prompt", "none"), ("id_token_hint", &bobs_id_token)],
        ),
    )
    .await;
    assert_eq!(
        error, "login_required",
        "the session belongs to someone else now"
    );
}
