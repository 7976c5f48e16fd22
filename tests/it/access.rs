//! Per-application access: grant_required applications, access requests, roles in tokens,
//! and revocation and expiry taking effect at once.

use ally_idp::{
    access::{
        clients::AccessPolicy,
        grants::{self, NewGrant},
        requests,
        staff::Principal,
    },
    audit::{Actor, RequestContext},
};
use chrono::Duration;
use reqwest::StatusCode;

use crate::helpers::{
    ClientSpec, TestApp, assert_oauth_error, authorize_url, exchange_code, hidden, location, param,
};

/// The payload of a JWT (signature checked elsewhere by the RP tests).
pub fn claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

struct Setup {
    app: TestApp,
    dealer_secret: String,
    portal_secret: String,
    alice: String,
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    let dealer_secret = app
        .add_client(ClientSpec {
            access: AccessPolicy::GrantRequired,
            ..ClientSpec::confidential("dealer")
        })
        .await
        .unwrap();
    let portal_secret = app
        .add_client(ClientSpec::confidential("portal"))
        .await
        .unwrap();
    let alice = app.add_user("alice").await;
    Setup {
        app,
        dealer_secret,
        portal_secret,
        alice,
    }
}

async fn grant(
    app: &TestApp,
    account: &str,
    client: &str,
    roles: &[&str],
    expires_in: Option<i64>,
) {
    let now = app.state.clock.now();
    grants::add(
        &app.state.db,
        now,
        &RequestContext::default(),
        Actor::Cli,
        NewGrant {
            account_id: account.into(),
            client_id: client.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            expires_at: expires_in.map(|s| now + Duration::seconds(s)),
        },
    )
    .await
    .unwrap();
}

/// Signs in (if needed) and returns the landing URL: the access page or the application.
async fn start(app: &TestApp, client: &str, extra: &[(&str, &str)]) -> String {
    let r = app
        .browser
        .get(authorize_url(app, client, extra))
        .send()
        .await
        .unwrap();
    let mut loc = location(&r);
    if loc.starts_with("/login") {
        loc = location(
            &app.submit_login(&loc, "alice", crate::helpers::PASSWORD)
                .await,
        );
    }
    loc
}

async fn tokens(app: &TestApp, client: &str, secret: &str) -> serde_json::Value {
    let loc = start(app, client, &[]).await;
    let code =
        param(&url::Url::parse(&loc).unwrap(), "code").unwrap_or_else(|| panic!("no code: {loc}"));
    let r = exchange_code(app, client, secret, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test]
async fn no_grant_means_no_code_until_a_request_is_approved() {
    let Setup {
        app,
        dealer_secret,
        portal_secret,
        alice,
    } = setup().await;
    let loc = start(&app, "dealer", &[]).await;
    assert!(loc.starts_with("/access?req="), "{loc}");
    let page = app
        .browser
        .get(app.url(&loc))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("You don&#x27;t have access to App dealer")
            || page.contains("have access to App dealer"),
        "{page}"
    );
    let form = |decision: &str, reason: &str| {
        vec![
            ("csrf", hidden(&page, "csrf").unwrap()),
            ("req", hidden(&page, "req").unwrap()),
            ("decision", decision.to_owned()),
            ("reason", reason.to_owned()),
        ]
    };
    // Requesting twice files one request.
    for _ in 0..2 {
        let r = app
            .browser
            .post(app.url("/access"))
            .form(&form("request", "I sell cars"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.text().await.unwrap().contains("Request sent"));
    }
    assert_eq!(app.count("access_request").await, 1);
    assert_eq!(app.audit_events("access_request.filed").await.len(), 1);
    // Going back tells the application access_denied.
    let r = app
        .browser
        .post(app.url("/access"))
        .form(&form("decline", ""))
        .send()
        .await
        .unwrap();
    let to = url::Url::parse(&location(&r)).unwrap();
    assert_eq!(param(&to, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&to, "state").as_deref(), Some("st-123"));
    // prompt=none is answered access_denied directly.
    let to = url::Url::parse(&start(&app, "dealer", &[("prompt", "none")]).await).unwrap();
    assert_eq!(param(&to, "error").as_deref(), Some("access_denied"));

    // An administrator approves with roles.
    let req = ally_idp::store::access::list_requests(&app.state.db, Some("pending"), None)
        .await
        .unwrap()
        .remove(0);
    let admin = Principal::Service {
        client_id: "ops".into(),
    };
    requests::approve(
        &app.state.db,
        app.state.clock.now(),
        &RequestContext::default(),
        &admin,
        &req.id,
        vec!["seller".into(), "buyer".into()],
    )
    .await
    .unwrap();
    assert_eq!(app.audit_events("access_request.approved").await.len(), 1);
    assert_eq!(app.audit_events("grant.added").await.len(), 1);

    let t = tokens(&app, "dealer", &dealer_secret).await;
    for jwt in [
        t["id_token"].as_str().unwrap(),
        t["access_token"].as_str().unwrap(),
    ] {
        let c = claims(jwt);
        assert_eq!(c["roles"], serde_json::json!(["buyer", "seller"]), "{c}");
        assert_eq!(c["ally_apps"], serde_json::json!(["dealer", "portal"]));
        assert_eq!(c["sub"], alice);
    }
    let info: serde_json::Value = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(t["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["roles"], serde_json::json!(["buyer", "seller"]));

    // Another application's tokens carry no roles from this grant.
    let p = tokens(&app, "portal", &portal_secret).await;
    for jwt in [
        p["id_token"].as_str().unwrap(),
        p["access_token"].as_str().unwrap(),
    ] {
        let c = claims(jwt);
        assert!(c.get("roles").is_none(), "{c}");
        assert_eq!(c["ally_apps"], serde_json::json!(["dealer", "portal"]));
    }
    let info: serde_json::Value = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(p["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(info.get("roles").is_none());
}

/// The code exchange and a refresh read the account's grants in the same statement as the
/// code or refresh token (one row per grant): each grant counts once, for its own
/// application, and another account's grants never do.
#[tokio::test]
async fn tokens_carry_every_grant_of_the_account_and_only_its_own() {
    let Setup {
        app,
        dealer_secret,
        alice,
        ..
    } = setup().await;
    app.add_client(ClientSpec {
        access: AccessPolicy::GrantRequired,
        ..ClientSpec::confidential("auction")
    })
    .await
    .unwrap();
    app.add_client(ClientSpec {
        access: AccessPolicy::GrantRequired,
        ..ClientSpec::confidential("rater")
    })
    .await
    .unwrap();
    let bob = app.add_user("bob").await;
    grant(&app, &alice, "dealer", &["buyer"], None).await;
    grant(&app, &alice, "auction", &["seller"], None).await;
    grant(&app, &bob, "rater", &["admin"], None).await;
    grant(&app, &bob, "dealer", &["seller"], None).await;

    let t = tokens(&app, "dealer", &dealer_secret).await;
    let rt = t["refresh_token"].as_str().unwrap();
    let refreshed: serde_json::Value = app
        .post_as(
            "/token",
            "dealer",
            &dealer_secret,
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await
        .json()
        .await
        .unwrap();
    for (step, t) in [("code", &t), ("refresh", &refreshed)] {
        for jwt in [
            t["id_token"].as_str().unwrap(),
            t["access_token"].as_str().unwrap(),
        ] {
            let c = claims(jwt);
            assert_eq!(c["sub"], alice, "{step}: {c}");
            assert_eq!(c["roles"], serde_json::json!(["buyer"]), "{step}: {c}");
            assert_eq!(
                c["ally_apps"],
                serde_json::json!(["auction", "dealer", "portal"]),
                "{step}: {c}"
            );
        }
    }
}

#[tokio::test]
async fn revoking_a_grant_takes_effect_at_once() {
    let Setup {
        app,
        dealer_secret,
        portal_secret,
        alice,
    } = setup().await;
    grant(&app, &alice, "dealer", &["buyer"], None).await;
    let t = tokens(&app, "dealer", &dealer_secret).await;
    let p = tokens(&app, "portal", &portal_secret).await;
    grants::revoke(
        &app.state.db,
        app.state.clock.now(),
        &RequestContext::default(),
        Actor::Cli,
        &alice,
        "dealer",
    )
    .await
    .unwrap();
    assert_eq!(app.audit_events("grant.revoked").await.len(), 1);

    let rt = t["refresh_token"].as_str().unwrap();
    let r = app
        .post_as(
            "/token",
            "dealer",
            &dealer_secret,
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let at = t["access_token"].as_str().unwrap();
    let r: serde_json::Value = app
        .post_as("/introspect", "dealer", &dealer_secret, &[("token", at)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["active"], false);
    assert_eq!(
        app.http
            .get(app.url("/userinfo"))
            .bearer_auth(at)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(
        start(&app, "dealer", &[]).await.starts_with("/access"),
        "no new code"
    );
    // The open application is untouched.
    let r: serde_json::Value = app
        .post_as(
            "/introspect",
            "portal",
            &portal_secret,
            &[("token", p["access_token"].as_str().unwrap())],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["active"], true);
    // Revoking twice is an error, not a second event.
    assert!(
        grants::revoke(
            &app.state.db,
            app.state.clock.now(),
            &RequestContext::default(),
            Actor::Cli,
            &alice,
            "dealer"
        )
        .await
        .is_err()
    );
    assert_eq!(app.audit_events("grant.revoked").await.len(), 1);
}

#[tokio::test]
async fn grant_expiry_is_honoured_without_waiting() {
    let Setup {
        app,
        dealer_secret,
        alice,
        ..
    } = setup().await;
    grant(&app, &alice, "dealer", &[], Some(3600)).await;
    let t = tokens(&app, "dealer", &dealer_secret).await;
    let ctx = RequestContext::default();
    assert_eq!(
        grants::record_expiries(&app.state.db, app.state.clock.now(), &ctx)
            .await
            .unwrap(),
        0
    );
    app.advance(3601);
    let r: serde_json::Value = app
        .post_as(
            "/introspect",
            "dealer",
            &dealer_secret,
            &[("token", t["refresh_token"].as_str().unwrap())],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        r["active"], true,
        "the refresh token itself is still valid..."
    );
    let rt = t["refresh_token"].as_str().unwrap();
    let r = app
        .post_as(
            "/token",
            "dealer",
            &dealer_secret,
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(
        grants::record_expiries(&app.state.db, app.state.clock.now(), &ctx)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        grants::record_expiries(&app.state.db, app.state.clock.now(), &ctx)
            .await
            .unwrap(),
        0
    );
    assert_eq!(app.audit_events("grant.expired").await.len(), 1);
    // Re-granting restores access.
    grant(&app, &alice, "dealer", &["buyer"], None).await;
    tokens(&app, "dealer", &dealer_secret).await;
}

#[tokio::test]
async fn grant_input_is_validated() {
    let Setup { app, alice, .. } = setup().await;
    let now = app.state.clock.now();
    let ctx = RequestContext::default();
    let bad = |roles: Vec<String>, expires_at, client: &str| NewGrant {
        account_id: alice.clone(),
        client_id: client.into(),
        roles,
        expires_at,
    };
    assert!(
        grants::add(
            &app.state.db,
            now,
            &ctx,
            Actor::Cli,
            bad(vec!["has space".into()], None, "dealer")
        )
        .await
        .is_err()
    );
    assert!(
        grants::add(
            &app.state.db,
            now,
            &ctx,
            Actor::Cli,
            bad(vec![], Some(now - Duration::seconds(1)), "dealer")
        )
        .await
        .is_err()
    );
    assert!(
        grants::add(
            &app.state.db,
            now,
            &ctx,
            Actor::Cli,
            bad(vec![], None, "ghost")
        )
        .await
        .is_err()
    );
    assert_eq!(app.count("access_grant").await, 0);
}

#[tokio::test]
async fn application_terms_are_accepted_once_before_first_use() {
    let app = TestApp::spawn().await;
    app.add_client(ClientSpec {
        terms: Some("Rule 1: bids are binding.".into()),
        ..ClientSpec::confidential("auction")
    })
    .await;
    app.add_user("alice").await;
    let loc = start(&app, "auction", &[]).await;
    assert!(loc.starts_with("/terms?req="), "{loc}");
    let page = app
        .browser
        .get(app.url(&loc))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Rule 1: bids are binding.") && page.contains("I accept"));
    let form = |decision: &str, csrf: Option<String>| {
        let mut f = vec![
            ("req", hidden(&page, "req").unwrap()),
            ("decision", decision.to_owned()),
        ];
        if let Some(c) = csrf {
            f.push(("csrf", c));
        }
        f
    };
    let r = app
        .browser
        .post(app.url("/terms"))
        .form(&form("accept", None))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "CSRF is checked");
    let r = app
        .browser
        .post(app.url("/terms"))
        .form(&form("decline", hidden(&page, "csrf")))
        .send()
        .await
        .unwrap();
    let to = url::Url::parse(&location(&r)).unwrap();
    assert_eq!(param(&to, "error").as_deref(), Some("access_denied"));
    assert!(app.audit_events("terms.accepted").await.is_empty());
    // Signed in but not accepted: prompt=none cannot show the terms.
    let to = url::Url::parse(&start(&app, "auction", &[("prompt", "none")]).await).unwrap();
    assert_eq!(param(&to, "error").as_deref(), Some("interaction_required"));

    let loc = start(&app, "auction", &[]).await;
    let page = app
        .browser
        .get(app.url(&loc))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let f = vec![
        ("req", hidden(&page, "req").unwrap()),
        ("decision", "accept".to_owned()),
        ("csrf", hidden(&page, "csrf").unwrap()),
    ];
    let r = app
        .browser
        .post(app.url("/terms"))
        .form(&f)
        .send()
        .await
        .unwrap();
    assert!(
        param(&url::Url::parse(&location(&r)).unwrap(), "code").is_some(),
        "accepted: the code is issued"
    );
    assert_eq!(app.audit_events("terms.accepted").await.len(), 1);
    // Shown once: next time straight through.
    assert!(
        param(
            &url::Url::parse(&start(&app, "auction", &[]).await).unwrap(),
            "code"
        )
        .is_some()
    );
}
