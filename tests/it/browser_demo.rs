//! The README walkthrough, in headless Chromium, through the real demo relying parties
//! (`examples/demo_apps`): sign in at the card portal, open SmartAuction without a login
//! screen, find IntelliRater refused (no grant), sign out at SmartAuction and see the card
//! portal signed out too (back-channel logout).

use ally_idp::{
    access::{
        clients::{AccessPolicy, LogoutUris, NewClient},
        grants::{self, NewGrant},
    },
    audit::{Actor, RequestContext},
};

use crate::{
    demo_rp::{self, RpConfig},
    helpers::{PASSWORD, TestApp, browser::Browser, client_at},
};

/// Starts the four demo applications on free ports, registered as `serve --demo` does.
async fn demo_apps(app: &TestApp) -> Vec<(String, String)> {
    let names = [
        ("card-portal", "Ally Credit Card", AccessPolicy::Open),
        ("smartauction", "SmartAuction", AccessPolicy::GrantRequired),
        ("smartcash", "SmartCash", AccessPolicy::GrantRequired),
        ("intellirater", "IntelliRater", AccessPolicy::GrantRequired),
    ];
    let mut listeners = Vec::new();
    for _ in &names {
        listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let bases: Vec<String> = listeners
        .iter()
        .map(|l| format!("http://{}", l.local_addr().unwrap()))
        .collect();
    let mut out = Vec::new();
    for (((id, name, access), listener), base) in names.iter().zip(listeners).zip(&bases) {
        let logout = LogoutUris {
            backchannel: Some(format!("{base}/backchannel-logout")),
            frontchannel: None,
        };
        let new = NewClient {
            name: (*name).into(),
            ..client_at(id, base, *access, logout)
        };
        let secret = app.register(new).await.unwrap().unwrap();
        let router = demo_rp::app(RpConfig {
            issuer: app.issuer.clone(),
            client_id: (*id).into(),
            client_secret: secret,
            name: (*name).into(),
            base_url: base.clone(),
            others: names
                .iter()
                .zip(&bases)
                .filter(|((other, _, _), _)| other != id)
                .map(|((_, n, _), b)| ((*n).to_owned(), b.clone()))
                .collect(),
        })
        .await
        .unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        out.push(((*name).to_owned(), base.clone()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_once_open_another_app_sign_out_everywhere() {
    let app = TestApp::spawn().await;
    let dana = app.add_user("dana").await;
    let apps = demo_apps(&app).await;
    grants::add(
        &app.state.db,
        app.state.clock.now(),
        &RequestContext::default(),
        Actor::Cli,
        NewGrant {
            account_id: dana,
            client_id: "smartauction".into(),
            roles: vec!["buyer".into(), "seller".into()],
            expires_at: None,
        },
    )
    .await
    .unwrap();
    let (portal, auction, rater) = (&apps[0].1, &apps[1].1, &apps[3].1);
    let b = Browser::launch().await;

    // 1. The card portal: "Sign in with Ally", the provider's sign-in page, back signed in.
    b.goto(&format!("{portal}/")).await;
    b.wait_for_text("Not signed in").await;
    b.click("a.button").await;
    b.wait_for_text("Sign in").await;
    assert!(b.url().await.as_str().starts_with(&app.issuer));
    b.screenshot("43-demo-login").await;
    b.sign_in("dana", PASSWORD).await;
    let html = b.wait_for_text("Welcome, Test User").await;
    assert!(b.url().await.as_str().starts_with(portal.as_str()));
    assert!(html.contains("dana"));
    b.screenshot("44-demo-card-portal-signed-in").await;

    // 2. SmartAuction: signed in without a login screen, with its roles.
    b.goto(&format!("{auction}/")).await;
    b.wait_for_text("Not signed in").await;
    b.click("a.button").await;
    let html = b.wait_for_text("Welcome, Test User").await;
    assert!(b.url().await.as_str().starts_with(auction.as_str()));
    assert!(
        html.contains("<code>buyer</code> <code>seller</code>"),
        "{html}"
    );
    assert_eq!(
        app.audit_events("login.succeeded").await.len(),
        1,
        "one sign-in for both applications"
    );
    b.screenshot("45-demo-smartauction-sso").await;

    // The provider's "Where you're signed in" lists both applications in this session.
    b.resize(390, 844).await;
    b.goto(&app.url("/account/sessions")).await;
    let html = b.wait_for_text("Where you").await;
    assert!(
        html.contains("Applications: Ally Credit Card, SmartAuction"),
        "{html}"
    );
    assert!(html.contains("This device"));
    b.screenshot("45b-account-sessions-phone").await;
    b.resize(1280, 900).await;

    // 3. IntelliRater: no grant, so the provider says so (and offers to request it).
    b.goto(&format!("{rater}/")).await;
    b.wait_for_text("Not signed in").await;
    b.click("a.button").await;
    b.wait_for_text("IntelliRater").await;
    let url = b.url().await;
    assert!(
        url.as_str().starts_with(&app.issuer),
        "stays at the provider: {url}"
    );
    b.screenshot("46-demo-intellirater-no-grant").await;

    // 4. Sign out at SmartAuction: back there signed out, and the card portal too.
    b.goto(&format!("{auction}/")).await;
    b.wait_for_text("Welcome, Test User").await;
    b.click("form[action='/logout'] button").await;
    b.wait_for_text("Not signed in").await;
    assert!(b.url().await.as_str().starts_with(auction.as_str()));
    b.screenshot("47-demo-smartauction-signed-out").await;
    // The card portal heard by back-channel logout (within a second or so).
    let mut signed_out = false;
    for _ in 0..50 {
        b.goto(&format!("{portal}/")).await;
        if b.client.source().await.unwrap().contains("Not signed in") {
            signed_out = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(signed_out, "the card portal still shows a session");
    b.screenshot("48-demo-card-portal-signed-out").await;
    // And signing in there again needs the password: the provider session is gone.
    b.click("a.button").await;
    b.wait_for_text("Password").await;
    assert!(b.url().await.as_str().starts_with(&app.issuer));
    b.close().await;
}

/// Front-Channel Logout 1.0 in a real browser: the signed-out page loads the application's
/// logout URL (with `iss` and `sid`) in a hidden frame, and `static/logout.js` then takes the
/// browser on to the application's post-logout page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_channel_logout_loads_the_frame_then_continues() {
    use crate::helpers::{PKCE_CHALLENGE, PKCE_VERIFIER, receiver::Receiver};
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let base = rx.base().to_owned();
    let logout = LogoutUris {
        backchannel: None,
        frontchannel: Some(format!("{base}/fc/front")),
    };
    let new = NewClient {
        redirect_uris: vec![format!("{base}/fc/callback")],
        post_logout_redirect_uris: vec![format!("{base}/fc/bye")],
        ..client_at("fc", &base, AccessPolicy::Open, logout)
    };
    let secret = app.register(new).await.unwrap().unwrap();
    app.add_user("dana").await;
    let b = Browser::launch().await;
    let mut url = url::Url::parse(&app.url("/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "fc")
        .append_pair("redirect_uri", &format!("{base}/fc/callback"))
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("code_challenge", PKCE_CHALLENGE)
        .append_pair("code_challenge_method", "S256");
    b.goto(url.as_str()).await;
    b.sign_in("dana", PASSWORD).await;
    b.wait_for_text("RP page /fc/callback").await;
    let code = crate::helpers::param(&b.url().await, "code").unwrap();
    let tokens: serde_json::Value = app
        .post_as(
            "/token",
            "fc",
            &secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", &format!("{base}/fc/callback")),
                ("code_verifier", PKCE_VERIFIER),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let sid = crate::access::claims(id_token)["sid"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut logout = url::Url::parse(&app.url("/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", &format!("{base}/fc/bye"));
    b.goto(logout.as_str()).await;
    b.wait_for_text("RP page /fc/bye").await;
    let front: Vec<_> = rx
        .gets()
        .into_iter()
        .filter(|g| g.starts_with("/fc/front"))
        .collect();
    assert_eq!(front.len(), 1, "{:?}", rx.gets());
    let u = url::Url::parse(&format!("{base}{}", front[0])).unwrap();
    assert_eq!(
        crate::helpers::param(&u, "sid").as_deref(),
        Some(sid.as_str())
    );
    assert_eq!(
        crate::helpers::param(&u, "iss").as_deref(),
        Some(app.issuer.as_str())
    );
    b.close().await;
}
