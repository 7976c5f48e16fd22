//! Real browser flows in headless Chromium.

use ally_idp::{
    access::{
        clients::{self, AccessPolicy, GrantType, NewClient},
        staff::{self, StaffRole},
    },
    audit::{Actor, RequestContext},
    crypto::keyring::Alg,
};
use axum::{Router, extract::RawQuery, routing::get};

use crate::helpers::{PASSWORD, PKCE_CHALLENGE, PKCE_VERIFIER, TestApp, browser::Browser, param};

/// A stand-in application: it only shows that the browser arrived with a code.
async fn spawn_app_receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().route(
        "/callback",
        get(|RawQuery(q): RawQuery| async move {
            let has_code = q.unwrap_or_default().contains("code=");
            axum::response::Html(format!(
                "<h1>{}</h1>",
                if has_code {
                    "Welcome to SmartAuction"
                } else {
                    "SmartAuction: sign-in failed"
                }
            ))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// Redeems a code at the token endpoint as SmartAuction; returns the ID token's claims.
async fn smartauction_id_token(
    app: &TestApp,
    secret: &str,
    redirect: &str,
    code: &str,
) -> serde_json::Value {
    let r = app
        .post_as(
            "/token",
            "smartauction",
            secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect),
                ("code_verifier", PKCE_VERIFIER),
            ],
        )
        .await;
    let tokens: serde_json::Value = r.json().await.unwrap();
    crate::access::claims(tokens["id_token"].as_str().unwrap())
}

#[tokio::test]
async fn admin_approves_a_request_in_the_queue_and_the_user_reaches_the_application() {
    let app = TestApp::spawn().await;
    let rp = spawn_app_receiver().await;
    let redirect = format!("{rp}/callback");
    let secret = clients::register(
        &app.state.db,
        &app.state.tokens,
        app.state.clock.now(),
        &RequestContext::default(),
        Actor::Cli,
        NewClient {
            client_id: "smartauction".into(),
            name: "SmartAuction".into(),
            redirect_uris: vec![redirect.clone()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            id_token_alg: Alg::Es256,
            public: false,
            third_party: false,
            access_policy: AccessPolicy::GrantRequired,
            service_scopes: vec![],
            terms: None,
            mfa: None,
            logout: Default::default(),
            secret: None,
        },
    )
    .await
    .unwrap()
    .unwrap();
    app.add_user("bob").await;
    app.add_user("root").await;
    staff::add_role(
        &app.state.db,
        app.state.clock.now(),
        &RequestContext::default(),
        Actor::Cli,
        "root",
        StaffRole::Admin,
        None,
    )
    .await
    .unwrap();
    let authorize = format!(
        "{}/authorize?client_id=smartauction&response_type=code&scope=openid%20profile&state=s1&redirect_uri={}&code_challenge={PKCE_CHALLENGE}&code_challenge_method=S256",
        app.issuer,
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );

    // Bob signs in, has no access, and asks for it.
    let bob = Browser::launch().await;
    bob.goto(&authorize).await;
    bob.wait_for_text("to continue to").await;
    bob.screenshot("01-login").await;
    bob.sign_in("bob", PASSWORD).await;
    bob.wait_for_text("have access to SmartAuction").await;
    bob.fill("reason", "I buy cars at auction for the dealership")
        .await;
    bob.screenshot("02-access-request").await;
    bob.click("button[value=request]").await;
    bob.wait_for_text("Request sent").await;

    // An administrator signs in to the console and approves it with a role.
    let admin = Browser::launch().await;
    admin.goto(&format!("{}/admin/requests", app.issuer)).await;
    admin.wait_for_text("Sign in").await;
    admin.sign_in("root", PASSWORD).await;
    admin.wait_for_text("I buy cars at auction").await;
    admin.screenshot("03-admin-queue").await;
    admin.fill("roles-1", "buyer").await;
    admin.click("form[action$='/approve'] button").await;
    admin.wait_for_text("Request approved").await;
    admin.screenshot("04-admin-approved").await;
    admin
        .goto(&format!("{}/admin/accounts?q=bob", app.issuer))
        .await;
    admin.click("td a").await;
    admin.wait_for_text("Application access").await;
    admin.screenshot("05-admin-account").await;
    admin.goto(&format!("{}/admin/audit", app.issuer)).await;
    admin.wait_for_text("access_request.approved").await;
    admin.screenshot("06-admin-audit").await;
    admin.close().await;

    // Bob tries again: single sign-on, straight into the application.
    bob.goto(&authorize).await;
    bob.wait_for_text("Welcome to SmartAuction").await;
    let landed = bob.url().await;
    assert!(landed.as_str().starts_with(&redirect));
    assert_eq!(param(&landed, "state").as_deref(), Some("s1"));
    let code = param(&landed, "code").unwrap();
    bob.close().await;

    let claims = smartauction_id_token(&app, &secret, &redirect, &code).await;
    assert_eq!(claims["roles"], serde_json::json!(["buyer"]));
}

#[tokio::test]
async fn a_dealer_registers_is_approved_by_their_dealer_admin_and_accepts_smartauction_terms() {
    let app = TestApp::spawn().await;
    let rp = spawn_app_receiver().await;
    let redirect = format!("{rp}/callback");
    // SmartAuction sends people to the stand-in application and has terms.
    let secret = clients::register(
        &app.state.db,
        &app.state.tokens,
        app.state.clock.now(),
        &RequestContext::default(),
        Actor::Cli,
        NewClient {
            client_id: "smartauction".into(),
            name: "SmartAuction".into(),
            redirect_uris: vec![redirect.clone()],
            post_logout_redirect_uris: vec![],
            grant_types: vec![GrantType::AuthorizationCode],
            id_token_alg: Alg::Es256,
            public: false,
            third_party: false,
            access_policy: AccessPolicy::GrantRequired,
            service_scopes: vec![],
            terms: Some("Bids are binding. Vehicles are sold as described.".into()),
            mfa: None,
            logout: Default::default(),
            secret: None,
        },
    )
    .await
    .unwrap()
    .unwrap();
    app.add_client(crate::helpers::ClientSpec {
        access: AccessPolicy::GrantRequired,
        ..crate::helpers::ClientSpec::confidential("smartcash")
    })
    .await;
    crate::register::add_dealerships(&app).await;

    // The applicant finds registration from the sign-in page.
    let sam = Browser::launch().await;
    sam.resize(390, 844).await;
    sam.goto(&format!("{}/login", app.issuer)).await;
    sam.click("a[href='/register']").await;
    sam.wait_for_text("Create your user ID").await;
    sam.screenshot("10-register-start-phone").await;
    sam.click("a[href='/register/dealer']").await;
    sam.wait_for_text("Primary Dealer Number").await;
    sam.fill("pdn", "12345").await;
    sam.click("button[type=submit]").await;
    sam.wait_for_text("Main Street Motors").await;
    for (id, v) in [
        ("given_name", "Sam"),
        ("family_name", "Seller"),
        ("phone", "555 010 2030"),
        ("job_role", "Sales manager"),
        ("email", "sam@dealer.example"),
        ("username", "sam.seller"),
        ("new-password", PASSWORD),
        ("password-confirm", PASSWORD),
        ("a1", "Smith"),
        ("a2", "Rex"),
        ("ha", "Dune"),
    ] {
        sam.fill(id, v).await;
    }
    sam.select("q1", 1).await;
    sam.select("q2", 2).await;
    sam.select("hq", 1).await;
    sam.click("#app-smartauction").await;
    sam.wait_for_text("Strength: strong").await;
    sam.screenshot("11-register-dealer-phone").await;
    sam.resize(1280, 1000).await;
    sam.screenshot("12-register-dealer").await;
    sam.click("form button.primary").await;
    sam.wait_for_text("Registration received").await;
    sam.screenshot("13-register-received").await;

    // The dealership's dealer_admin approves it in the queue.
    let dana = Browser::launch().await;
    dana.goto(&format!("{}/admin/requests", app.issuer)).await;
    dana.sign_in("dana", PASSWORD).await;
    dana.wait_for_text("New user IDs").await;
    dana.screenshot("14-queue-registration").await;
    dana.fill("reg-1-roles-smartauction", "buyer").await;
    dana.click("form[action$='/approve'] button").await;
    dana.wait_for_text("Registration approved").await;
    dana.close().await;
    let account = ally_idp::store::accounts::find_by_username(&app.state.db, "sam.seller")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.status, "active");

    // Sam signs in to SmartAuction and accepts its terms, once.
    let authorize = format!(
        "{}/authorize?client_id=smartauction&response_type=code&scope=openid&state=s2&redirect_uri={}&code_challenge={PKCE_CHALLENGE}&code_challenge_method=S256",
        app.issuer,
        url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
    );
    sam.goto(&authorize).await;
    sam.wait_for_text("to continue to").await;
    sam.sign_in("sam.seller", PASSWORD).await;
    sam.wait_for_text("Bids are binding").await;
    sam.screenshot("15-smartauction-terms").await;
    sam.click("button[value=accept]").await;
    sam.wait_for_text("Welcome to SmartAuction").await;
    let landed = sam.url().await;
    let code = param(&landed, "code").unwrap();
    sam.close().await;
    let claims = smartauction_id_token(&app, &secret, &redirect, &code).await;
    assert_eq!(claims["roles"], serde_json::json!(["buyer"]));
    assert_eq!(app.audit_events("terms.accepted").await.len(), 1);
}

#[tokio::test]
async fn a_cardholder_registers_files_a_request_and_after_deactivation_asks_for_reactivation() {
    let app = TestApp::spawn().await;
    crate::register::import_customers(&app).await;

    // Step 1: the card and the SSN's last four; a wrong guess first gets the generic message.
    let carla = Browser::launch().await;
    carla.goto(&format!("{}/register", app.issuer)).await;
    carla.click("a[href='/register/cardholder']").await;
    carla.wait_for_text("Step 1 of 2").await;
    carla.fill("number", crate::register::CARD).await;
    carla.fill("ssn_last4", "9999").await;
    carla.click("button[type=submit]").await;
    carla.wait_for_text("could not verify").await;
    carla.screenshot("20-register-card-error").await;
    carla.fill("number", crate::register::CARD).await;
    carla.fill("ssn_last4", crate::register::SSN).await;
    carla.click("button[type=submit]").await;

    // Step 2: user ID, password (with its strength hint) and questions.
    carla.wait_for_text("Step 2 of 2").await;
    for (id, v) in [
        ("email", "carla@example.com"),
        ("username", "carla.h"),
        ("new-password", PASSWORD),
        ("password-confirm", PASSWORD),
        ("a1", "Smith"),
        ("a2", "Rex"),
        ("ha", "Dune"),
    ] {
        carla.fill(id, v).await;
    }
    carla.select("q1", 1).await;
    carla.select("q2", 2).await;
    carla.select("hq", 1).await;
    carla.wait_for_text("Strength: strong").await;
    carla.screenshot("21-register-cardholder").await;
    carla.click("form button.primary").await;
    carla.wait_for_text("Your user ID is ready").await;

    // Signed in, the account page leads to the User ID Request form.
    carla.goto(&format!("{}/login", app.issuer)).await;
    carla.sign_in("carla.h", PASSWORD).await;
    carla.wait_for_text("Hello, Carla").await;
    carla.click("a[href='/account/requests']").await;
    carla.wait_for_text("User ID request").await;
    carla.screenshot("22-user-id-request").await;
    carla.close().await;

    // Deactivated (say, by inactivity): signing in offers reactivation behind the questions.
    let account = ally_idp::store::accounts::find_by_username(&app.state.db, "carla.h")
        .await
        .unwrap()
        .unwrap();
    ally_idp::accounts::lifecycle::deactivate(
        &app.state.db,
        app.state.clock.now(),
        &RequestContext::default(),
        Actor::Cli,
        &account.id,
        "inactive for 60 days",
    )
    .await
    .unwrap();
    let carla = Browser::launch().await;
    carla.goto(&format!("{}/login", app.issuer)).await;
    carla.sign_in("carla.h", PASSWORD).await;
    carla.wait_for_text("deactivated").await;
    carla.screenshot("23-login-deactivated").await;
    carla.click("form[action='/reactivate'] button").await;
    carla.wait_for_text("Answer your challenge questions").await;
    carla.fill("a1", "smith").await;
    carla.fill("a2", "Rex").await;
    carla.screenshot("24-reactivate").await;
    carla.click("form button.primary").await;
    carla.wait_for_text("Request sent").await;
    carla.close().await;
    let pending = ally_idp::store::access::list_requests(&app.state.db, Some("pending"), None)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].kind, "reactivate");
}
