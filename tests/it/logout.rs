//! RP-Initiated Logout 1.0.

use openidconnect::{LogoutRequest, PostLogoutRedirectUrl, core::CoreIdToken};
use reqwest::{StatusCode, header};

use crate::helpers::{
    ClientSpec, TestApp, authorize_url, exchange_code, hidden, location, param, post_logout_uri,
};

struct Session {
    secret: String,
    id_token: String,
    refresh_token: String,
}

async fn signed_in(app: &TestApp) -> Session {
    let secret = app
        .add_client(ClientSpec::confidential("web"))
        .await
        .unwrap();
    app.add_user("alice").await;
    let cb = app
        .authorize(&authorize_url(app, "web", &[]), "alice")
        .await;
    let tokens: serde_json::Value =
        exchange_code(app, "web", &secret, &param(&cb, "code").unwrap())
            .await
            .json()
            .await
            .unwrap();
    Session {
        secret,
        id_token: tokens["id_token"].as_str().unwrap().to_owned(),
        refresh_token: tokens["refresh_token"].as_str().unwrap().to_owned(),
    }
}

async fn is_signed_in(app: &TestApp) -> bool {
    let r = app
        .browser
        .get(authorize_url(app, "web", &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    param(&url::Url::parse(&location(&r)).unwrap(), "code").is_some()
}

#[tokio::test]
async fn logout_with_id_token_hint_ends_the_session_and_redirects() {
    let app = TestApp::spawn().await;
    let s = signed_in(&app).await;
    assert!(is_signed_in(&app).await);
    let id_token: CoreIdToken = s.id_token.parse().unwrap();
    let url = LogoutRequest::from(openidconnect::EndSessionUrl::new(app.url("/logout")).unwrap())
        .set_id_token_hint(&id_token)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(post_logout_uri("web")).unwrap())
        .set_state(openidconnect::CsrfToken::new("bye".into()))
        .http_get_url();
    let r = app.browser.get(url.as_str()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = url::Url::parse(&location(&r)).unwrap();
    assert!(to.as_str().starts_with(&post_logout_uri("web")));
    assert_eq!(param(&to, "state").as_deref(), Some("bye"));
    assert!(!is_signed_in(&app).await, "SSO session ended");
    // Refresh tokens without offline_access die with the session.
    let r = app
        .http
        .post(app.url("/token"))
        .basic_auth("web", Some(&s.secret))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", s.refresh_token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    crate::helpers::assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(app.audit_events("logout").await.len(), 1);
}

#[tokio::test]
async fn unregistered_post_logout_redirect_uri_is_never_followed() {
    let app = TestApp::spawn().await;
    let s = signed_in(&app).await;
    let url = format!(
        "{}?id_token_hint={}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
        app.url("/logout"),
        s.id_token
    );
    let r = app.browser.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get(header::LOCATION).is_none());
    assert!(is_signed_in(&app).await, "nothing happened");
    let r = app
        .browser
        .get(format!("{}?id_token_hint=forged", app.url("/logout")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn logout_without_proof_asks_for_confirmation() {
    let app = TestApp::spawn().await;
    signed_in(&app).await;
    let r = app.browser.get(app.url("/logout")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("Sign out?"));
    assert!(
        is_signed_in(&app).await,
        "a bare link does not sign anyone out"
    );
    // A forged confirmation without the CSRF token only shows the page again.
    let r = app
        .browser
        .post(app.url("/logout"))
        .form(&[("confirm", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(is_signed_in(&app).await);
    let r = app
        .browser
        .post(app.url("/logout"))
        .form(&[
            ("confirm", "yes"),
            ("csrf", hidden(&html, "csrf").unwrap().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("You are signed out"));
    assert!(!is_signed_in(&app).await);
}
