//! Single sign-on across several applications, and logout reaching all of them: OpenID
//! Connect Back-Channel Logout 1.0 (tokens checked the way a relying party checks them, by
//! the demo relying party's own validator), Front-Channel Logout 1.0, session timeouts, and
//! "Where you're signed in".

use ally_idp::{
    access::{
        clients::{AccessPolicy, LogoutUris},
        grants::{self, NewGrant},
    },
    audit::{Actor, RequestContext},
};
use reqwest::StatusCode;

use crate::{
    access::claims,
    demo_rp::validate_logout_token,
    helpers::{
        ClientSpec, PASSWORD, TestApp, authorize_url, browser_for, client_at, exchange_code,
        hidden, location, param, post_logout_uri, receiver::Receiver,
    },
};

struct App {
    id: &'static str,
    secret: String,
}

/// Registers a confidential client whose back-channel logout URI is on `rx`.
async fn app_with_backchannel(
    app: &TestApp,
    rx: &Receiver,
    id: &'static str,
    access: AccessPolicy,
) -> App {
    let secret = app
        .add_client(ClientSpec {
            access,
            logout: LogoutUris {
                backchannel: Some(rx.uri(id)),
                frontchannel: None,
            },
            ..ClientSpec::confidential(id)
        })
        .await
        .unwrap();
    App { id, secret }
}

/// A provider with one open application, "portal", whose back-channel logout goes to the
/// returned receiver, and the user alice (her account id last).
async fn portal_setup() -> (TestApp, Receiver, App, String) {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let portal = app_with_backchannel(&app, &rx, "portal", AccessPolicy::Open).await;
    let alice = app.add_user("alice").await;
    (app, rx, portal, alice)
}

/// RP-initiated logout proven by the ID token (no redirect).
pub(crate) async fn log_out(app: &TestApp, tokens: &serde_json::Value) {
    let r = app
        .browser
        .post(app.url("/logout"))
        .form(&[("id_token_hint", tokens["id_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// Signs in at `client` with the shared browser (the login form only if asked) and
/// exchanges the code; returns the token response.
async fn sign_in_at(
    app: &TestApp,
    client: &App,
    extra: &[(&str, &str)],
) -> (serde_json::Value, bool) {
    let r = app
        .browser
        .get(authorize_url(app, client.id, extra))
        .send()
        .await
        .unwrap();
    let mut loc = location(&r);
    let login_shown = loc.starts_with("/login");
    if login_shown {
        loc = location(&app.submit_login(&loc, "alice", PASSWORD).await);
    }
    if loc.starts_with("/consent") {
        loc = location(&app.consent(&loc, "allow").await);
    }
    let code = param(&url::Url::parse(&loc).unwrap(), "code")
        .unwrap_or_else(|| panic!("no code for {}: {loc}", client.id));
    let r = exchange_code(app, client.id, &client.secret, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    (r.json().await.unwrap(), login_shown)
}

async fn refresh(app: &TestApp, client: &App, tokens: &serde_json::Value) -> StatusCode {
    refreshed(app, client, tokens).await.0
}

/// Refreshes; returns the status and the response (with the rotated refresh token).
async fn refreshed(
    app: &TestApp,
    client: &App,
    tokens: &serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let rt = tokens["refresh_token"].as_str().unwrap();
    let r = app
        .post_as(
            "/token",
            client.id,
            &client.secret,
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
    (r.status(), r.json().await.unwrap())
}

/// The provider's signing keys, as a relying party fetches them.
async fn jwks(app: &TestApp) -> Vec<josekit::jwk::Jwk> {
    crate::demo_rp::to_jose_keys(&app.jwks().await).unwrap()
}

fn unix_now(app: &TestApp) -> i64 {
    app.state.clock.now().timestamp()
}

/// Whether the shared browser still has an SSO session (`prompt=none` gets a code).
async fn has_session(app: &TestApp, client: &str) -> bool {
    let r = app
        .browser
        .get(authorize_url(app, client, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    param(&url::Url::parse(&location(&r)).unwrap(), "code").is_some()
}

#[tokio::test]
async fn sso_across_apps_and_logout_at_one_reaches_every_other() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let portal = app_with_backchannel(&app, &rx, "portal", AccessPolicy::Open).await;
    let auction = app_with_backchannel(&app, &rx, "auction", AccessPolicy::Open).await;
    let cash = app_with_backchannel(&app, &rx, "cash", AccessPolicy::Open).await;
    let alice = app.add_user("alice").await;

    let (p, login_p) = sign_in_at(&app, &portal, &[]).await;
    assert!(login_p, "the first application shows the login page");
    // The second and third applications get in without it: one session, one sid.
    let (a, login_a) = sign_in_at(&app, &auction, &[]).await;
    let (c, login_c) = sign_in_at(&app, &cash, &[]).await;
    assert!(!login_a && !login_c, "no second login");
    let sid = claims(p["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    for t in [&a, &c] {
        assert_eq!(claims(t["id_token"].as_str().unwrap())["sid"], sid.as_str());
    }

    // RP-initiated logout at the portal, proven with its ID token.
    let url = format!(
        "{}?id_token_hint={}&post_logout_redirect_uri={}",
        app.url("/logout"),
        p["id_token"].as_str().unwrap(),
        url::form_urlencoded::byte_serialize(post_logout_uri("portal").as_bytes())
            .collect::<String>()
    );
    let r = app.browser.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), post_logout_uri("portal"));

    // Every application of the session gets a logout token it accepts.
    let got = rx.wait_for(3).await;
    let keys = jwks(&app).await;
    let mut clients: Vec<_> = got.iter().map(|g| g.client_id.clone()).collect();
    clients.sort();
    assert_eq!(clients, ["auction", "cash", "portal"]);
    for g in &got {
        assert_eq!(g.content_type, "application/x-www-form-urlencoded");
        let c = validate_logout_token(
            &g.logout_token,
            &keys,
            &app.issuer,
            &g.client_id,
            unix_now(&app),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", g.client_id));
        assert_eq!(c.sid.as_deref(), Some(sid.as_str()));
        assert_eq!(c.sub.as_deref(), Some(alice.as_str()));
        // A token for one application is refused by another (aud).
        let other = if g.client_id == "cash" {
            "auction"
        } else {
            "cash"
        };
        assert!(
            validate_logout_token(&g.logout_token, &keys, &app.issuer, other, unix_now(&app))
                .is_err()
        );
        let raw = claims(&g.logout_token);
        assert!(raw.get("nonce").is_none());
        assert!(raw["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    }
    // Each delivery is recorded as delivered, once.
    let rows = ally_idp::store::logout::list(&app.state.db).await.unwrap();
    assert_eq!(rows.len(), 3);
    // Their refresh tokens died with the session; no application gets a code silently.
    for (client, t) in [(&auction, &a), (&cash, &c), (&portal, &p)] {
        assert_eq!(refresh(&app, client, t).await, StatusCode::BAD_REQUEST);
    }
    assert!(!has_session(&app, "auction").await);
    for _ in 0..50 {
        let rows = ally_idp::store::logout::list(&app.state.db).await.unwrap();
        if rows.iter().all(|r| r.delivered_at.is_some()) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("deliveries not marked delivered");
}

#[tokio::test]
async fn a_forged_or_tampered_logout_token_is_refused_by_the_relying_party() {
    let (app, rx, portal, _) = portal_setup().await;
    let (p, _) = sign_in_at(&app, &portal, &[]).await;
    let id_token = p["id_token"].as_str().unwrap();
    let keys = jwks(&app).await;
    let now = unix_now(&app);
    // An ID token is not a logout token (typ, events, nonce).
    assert!(validate_logout_token(id_token, &keys, &app.issuer, "portal", now).is_err());
    log_out(&app, &p).await;
    let token = rx.wait_for(1).await[0].logout_token.clone();
    assert!(validate_logout_token(&token, &keys, &app.issuer, "portal", now).is_ok());
    // Another issuer, a flipped signature byte, an expired token: all refused.
    assert!(validate_logout_token(&token, &keys, "http://evil.example", "portal", now).is_err());
    let mut bad = token.clone().into_bytes();
    let last = bad.len() - 3;
    bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    assert!(validate_logout_token(&bad, &keys, &app.issuer, "portal", now).is_err());
    assert!(validate_logout_token(&token, &keys, &app.issuer, "portal", now + 3600).is_err());
}

#[tokio::test]
async fn revoking_a_grant_signs_the_person_out_of_that_application_only() {
    let app = TestApp::spawn().await;
    let rx = Receiver::start().await;
    let portal = app_with_backchannel(&app, &rx, "portal", AccessPolicy::Open).await;
    let dealer = app_with_backchannel(&app, &rx, "dealer", AccessPolicy::GrantRequired).await;
    let alice = app.add_user("alice").await;
    let now = app.state.clock.now();
    let ctx = RequestContext::default();
    grants::add(
        &app.state.db,
        now,
        &ctx,
        Actor::Cli,
        NewGrant {
            account_id: alice.clone(),
            client_id: "dealer".into(),
            roles: vec!["buyer".into()],
            expires_at: None,
        },
    )
    .await
    .unwrap();
    let (p, _) = sign_in_at(&app, &portal, &[]).await;
    let (d, _) = sign_in_at(&app, &dealer, &[]).await;
    grants::revoke(&app.state.db, now, &ctx, Actor::Cli, &alice, "dealer")
        .await
        .unwrap();

    let got = rx.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let got_later = rx.received();
    assert_eq!(got_later.len(), 1, "only the dealer application: {got:?}");
    assert_eq!(got[0].client_id, "dealer");
    let c = validate_logout_token(
        &got[0].logout_token,
        &jwks(&app).await,
        &app.issuer,
        "dealer",
        unix_now(&app),
    )
    .unwrap();
    assert_eq!(c.sub.as_deref(), Some(alice.as_str()));
    // The portal carries on: its refresh works and the SSO session is intact.
    assert_eq!(refresh(&app, &portal, &p).await, StatusCode::OK);
    assert!(has_session(&app, "portal").await);
    assert_eq!(refresh(&app, &dealer, &d).await, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_lock_a_deactivation_and_a_password_reset_each_send_logout() {
    let (app, rx, portal, alice) = portal_setup().await;

    // Locked by wrong passwords typed somewhere else.
    let (p, _) = sign_in_at(&app, &portal, &[]).await;
    let guesser = crate::helpers::new_browser();
    for _ in 0..5 {
        let page = guesser
            .get(app.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        guesser
            .post(app.url("/login"))
            .form(&[
                ("csrf", hidden(&page, "csrf").unwrap().as_str()),
                ("username", "alice"),
                ("password", "wrong password!"),
            ])
            .send()
            .await
            .unwrap();
    }
    assert_eq!(app.account("alice").await.status, "locked");
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].client_id, "portal");
    assert_eq!(refresh(&app, &portal, &p).await, StatusCode::BAD_REQUEST);
    let locked = app.audit_events("account.locked").await;
    assert_eq!(locked[0].detail["sessions_ended"], 1);

    // Unlocked by staff.
    ally_idp::authn::lockout::unlock(
        &app.state.db,
        app.state.clock.now(),
        &RequestContext::default(),
        Actor::Cli,
        &alice,
        "test",
    )
    .await
    .unwrap();
    // A password reset (the e-mailed link and the help desk end the same way).
    let (p2, _) = sign_in_at(&app, &portal, &[]).await;
    ally_idp::accounts::passwords::replace(
        &app.state.db,
        &app.state.passwords,
        app.state.clock.now(),
        &RequestContext::default(),
        Actor::Cli,
        &app.account("alice").await,
        &secrecy::SecretString::from("a brand new passphrase"),
        ally_idp::accounts::passwords::Kind::Own,
        "test",
    )
    .await
    .unwrap();
    assert_eq!(rx.wait_for(2).await[1].client_id, "portal");
    assert_eq!(refresh(&app, &portal, &p2).await, StatusCode::BAD_REQUEST);
    // The reset also ended this browser's session: sign in again with the new password.
    let r = app
        .browser
        .get(authorize_url(&app, "portal", &[]))
        .send()
        .await
        .unwrap();
    let r = app
        .submit_login(&location(&r), "alice", "a brand new passphrase")
        .await;
    let code = param(&url::Url::parse(&location(&r)).unwrap(), "code").unwrap();
    assert_eq!(
        exchange_code(&app, "portal", &portal.secret, &code)
            .await
            .status(),
        StatusCode::OK
    );

    // Then deactivated by staff.
    ally_idp::accounts::lifecycle::deactivate(
        &app.state.db,
        app.state.clock.now(),
        &RequestContext::default(),
        Actor::Cli,
        &alice,
        "test",
    )
    .await
    .unwrap();
    assert_eq!(rx.wait_for(3).await[2].client_id, "portal");
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_backoff_then_given_up_and_audited() {
    let (app, rx, portal, _) = portal_setup().await;
    rx.answer(StatusCode::SERVICE_UNAVAILABLE);
    let (p, _) = sign_in_at(&app, &portal, &[]).await;
    log_out(&app, &p).await;
    // The first attempt at once, the second about a second later (then 2 s, 4 s ...).
    let got = rx.wait_for(2).await;
    assert_eq!(got[0].client_id, "portal");
    // The receiver has the second request before the job records its answer: wait for it.
    let mut row = ally_idp::store::logout::list(&app.state.db).await.unwrap()[0].clone();
    for _ in 0..50 {
        if row.attempts >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        row = ally_idp::store::logout::list(&app.state.db).await.unwrap()[0].clone();
    }
    assert!(row.delivered_at.is_none() && row.given_up_at.is_none());
    assert!(row.attempts >= 2);
    assert!(row.last_error.as_deref().unwrap().contains("503"));
    // Each attempt is a fresh token (its own jti), all for the same session.
    assert_ne!(
        claims(&got[0].logout_token)["jti"],
        claims(&got[1].logout_token)["jti"]
    );

    // An hour later the next failure is the last: given up, audited once.
    app.advance(3600);
    for _ in 0..150 {
        if !app
            .audit_events("logout.backchannel_failed")
            .await
            .is_empty()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let failed = app.audit_events("logout.backchannel_failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].detail["client_id"], "portal");
    let row = &ally_idp::store::logout::list(&app.state.db).await.unwrap()[0];
    assert!(row.given_up_at.is_some());
    let n = rx.received().len();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(rx.received().len(), n, "nothing more after giving up");
}

#[tokio::test]
async fn a_delivery_that_recovers_is_marked_delivered() {
    let (app, rx, portal, _) = portal_setup().await;
    rx.answer(StatusCode::INTERNAL_SERVER_ERROR);
    let (p, _) = sign_in_at(&app, &portal, &[]).await;
    log_out(&app, &p).await;
    rx.wait_for(1).await;
    rx.answer(StatusCode::OK);
    for _ in 0..100 {
        let row = &ally_idp::store::logout::list(&app.state.db).await.unwrap()[0];
        if row.delivered_at.is_some() {
            assert!(row.attempts >= 2);
            assert!(
                app.audit_events("logout.backchannel_failed")
                    .await
                    .is_empty()
            );
            // Finished deliveries are kept a week (the periodic job purges older ones).
            let purge = |before| ally_idp::store::logout::purge_finished(&app.state.db, before);
            let now = app.state.clock.now();
            assert_eq!(purge(now - chrono::Duration::days(7)).await.unwrap(), 0);
            assert_eq!(purge(now + chrono::Duration::seconds(1)).await.unwrap(), 1);
            assert_eq!(app.count("logout_delivery").await, 0);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("never delivered");
}

#[tokio::test]
async fn front_channel_logout_loads_each_app_then_continues() {
    let app = TestApp::spawn().await;
    let front = "http://127.0.0.1:9999/portal/frontchannel-logout?x=1";
    let secret = app
        .add_client(ClientSpec {
            logout: LogoutUris {
                backchannel: None,
                frontchannel: Some(front.into()),
            },
            ..ClientSpec::confidential("portal")
        })
        .await
        .unwrap();
    let portal = App {
        id: "portal",
        secret,
    };
    app.add_user("alice").await;
    let (p, _) = sign_in_at(&app, &portal, &[]).await;
    let sid = claims(p["id_token"].as_str().unwrap())["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .browser
        .post(app.url("/logout"))
        .form(&[
            ("id_token_hint", p["id_token"].as_str().unwrap()),
            ("post_logout_redirect_uri", &post_logout_uri("portal")),
            ("state", "s1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a page that loads the frames first"
    );
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-src http://127.0.0.1:9999;"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"));
    // As the browser reads the attributes (HTML entities decoded).
    let html = r
        .text()
        .await
        .unwrap()
        .replace("&#x2f;", "/")
        .replace("&amp;", "&");
    let iss = url::form_urlencoded::byte_serialize(app.issuer.as_bytes()).collect::<String>();
    let frame = format!(r#"<iframe class="logout-frame" src="{front}&iss={iss}&sid={sid}""#);
    assert!(html.contains(&frame), "{html}");
    assert!(html.contains(&format!(
        r#"id="continue" class="button primary" href="{}?state=s1""#,
        post_logout_uri("portal")
    )));
    assert!(html.contains(r#"<script nonce=""#));
    assert!(html.contains(r#"src="/static/logout.js" defer></script>"#));
    assert!(!has_session(&app, "portal").await);
}

#[tokio::test]
async fn logout_uris_are_validated_at_registration() {
    let app = TestApp::spawn().await;
    for (back, front) in [
        (Some("http://rp.example/bcl"), None), // plain http off loopback
        (Some("https://rp.example/bcl#frag"), None), // fragment
        (Some("com.example.app:/bcl"), None),  // not http(s)
        (None, Some("https://elsewhere.example/fcl")), // not a redirect URI's origin
    ] {
        let logout = LogoutUris {
            backchannel: back.map(str::to_owned),
            frontchannel: front.map(str::to_owned),
        };
        let r = app
            .register(client_at(
                "x",
                "https://rp.example",
                AccessPolicy::Open,
                logout,
            ))
            .await;
        assert!(
            matches!(
                r,
                Err(ally_idp::access::clients::RegisterError::InvalidUri(_))
            ),
            "{back:?} {front:?}: {r:?}"
        );
    }
    assert_eq!(app.count("client").await, 0);
}

#[tokio::test]
async fn an_idle_session_ends_and_activity_keeps_it_alive() {
    let (app, rx, portal, _) = portal_setup().await;
    let idle = app.state.config.session.idle_secs;
    let (p, _) = sign_in_at(&app, &portal, &[]).await;
    let offline_scope = [("scope", "openid offline_access"), ("prompt", "consent")];
    let (offline, _) = sign_in_at(&app, &portal, &offline_scope).await;

    // Activity (a page here, a refresh by an application) pushes the timeout back.
    app.advance(idle - 100);
    assert!(has_session(&app, "portal").await);
    app.advance(idle - 100);
    let (status, p) = refreshed(&app, &portal, &p).await;
    assert_eq!(status, StatusCode::OK);
    app.advance(idle - 100);
    assert!(has_session(&app, "portal").await);

    // Then a whole idle period with nothing: the session is over, and so is every refresh
    // token without offline_access; the offline one outlives it (OIDC Core §11).
    app.advance(idle + 1);
    assert!(!has_session(&app, "portal").await);
    assert_eq!(refresh(&app, &portal, &p).await, StatusCode::BAD_REQUEST);
    assert_eq!(refresh(&app, &portal, &offline).await, StatusCode::OK);
    assert!(rx.received().is_empty());
    // The periodic pass ends it properly, so the application hears of it.
    let txn = ally_idp::store::db::begin_write(&app.state.db)
        .await
        .unwrap();
    let n = ally_idp::authn::session::end_expired(
        &txn,
        &app.state.config.session,
        app.state.clock.now(),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(n, 1);
    assert_eq!(rx.wait_for(1).await[0].client_id, "portal");
}

#[tokio::test]
async fn the_absolute_lifetime_ends_even_a_busy_session() {
    let (app, _rx, portal, _) = portal_setup().await;
    let s = app.state.config.session.clone();
    let (p, _) = sign_in_at(&app, &portal, &[]).await;
    let mut elapsed = 0;
    while elapsed + s.idle_secs / 2 < s.lifetime_secs {
        app.advance(s.idle_secs / 2);
        elapsed += s.idle_secs / 2;
        assert!(has_session(&app, "portal").await, "alive at {elapsed}s");
    }
    app.advance(s.lifetime_secs - elapsed + 1);
    assert!(!has_session(&app, "portal").await);
    assert_eq!(refresh(&app, &portal, &p).await, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn where_you_are_signed_in_lists_sessions_and_ends_one_or_all() {
    let (app, rx, portal, _) = portal_setup().await;
    let (_, _) = sign_in_at(&app, &portal, &[]).await;
    // A second device, with its own session.
    let other = browser_for(&app, "alice").await;

    let page = app
        .browser
        .get(app.url("/account/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert_eq!(html.matches("<li>").count(), 2, "{html}");
    assert_eq!(html.matches("This device").count(), 1);
    assert!(html.contains("Applications: App portal"));
    assert!(html.contains("No applications opened yet"));
    let csrf = hidden(&html, "csrf").unwrap();
    // The form of the session without applications is the other device's.
    let idx = html.find("No applications opened yet").unwrap();
    let other_sid = hidden(&html[idx..], "session").unwrap();

    // No CSRF token: refused, nothing ended.
    let r = app
        .browser
        .post(app.url("/account/sessions/end"))
        .form(&[("csrf", "nope"), ("session", other_sid.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let still = other
        .get(authorize_url(&app, "portal", &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert!(location(&still).contains("code="));

    // Someone else's (or a made-up) session id changes nothing.
    let r = app
        .browser
        .post(app.url("/account/sessions/end"))
        .form(&[("csrf", csrf.as_str()), ("session", "not-a-session")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // End the other device's session.
    let r = app
        .browser
        .post(app.url("/account/sessions/end"))
        .form(&[("csrf", csrf.as_str()), ("session", other_sid.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/account/sessions?done=ended");
    let gone = other
        .get(authorize_url(&app, "portal", &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert!(location(&gone).contains("error=login_required"));
    assert!(
        has_session(&app, "portal").await,
        "this device is still signed in"
    );
    assert_eq!(app.audit_events("session.ended").await.len(), 1);
    // The other device had opened no application, so nobody needed telling.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(rx.received().is_empty());
    let html = app
        .browser
        .get(app.url("/account/sessions"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(html.matches("<li>").count(), 1);

    // Sign out everywhere: this device too, and the portal is told.
    let r = app
        .browser
        .post(app.url("/account/sessions/end"))
        .form(&[("csrf", csrf.as_str()), ("all", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("You are signed out"));
    assert!(!has_session(&app, "portal").await);
    assert_eq!(rx.wait_for(1).await[0].client_id, "portal");
}

#[tokio::test]
async fn the_sessions_page_needs_a_session() {
    let app = TestApp::spawn().await;
    let r = app
        .browser
        .get(app.url("/account/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/login?next=%2Faccount%2Fsessions");
    let r = app
        .browser
        .post(app.url("/account/sessions/end"))
        .form(&[("csrf", "x"), ("all", "yes")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/login"));
}
