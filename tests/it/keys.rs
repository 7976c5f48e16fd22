//! Signing-key rotation: a new key is published before it signs, the old one keeps
//! verifying until nothing it signed can be valid, then leaves the JWKS. Relying parties
//! never meet a token whose key they could not have fetched.

use ally_idp::{
    audit::Actor,
    crypto::{keyring::Alg, keystore},
};
use reqwest::StatusCode;

use crate::{
    access::claims,
    helpers::{ClientSpec, TestApp, authorize_url, exchange_code, param},
};

fn kid(jwt: &str) -> String {
    use base64::Engine;
    let header = jwt.split('.').next().unwrap();
    let v: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    v["kid"].as_str().unwrap().to_owned()
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    app.jwks().await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn reload(app: &TestApp) -> bool {
    keystore::reload(
        &app.state.db,
        &app.state.sealer,
        &app.state.keyring,
        app.state.clock.now(),
    )
    .await
    .unwrap()
}

async fn refresh(app: &TestApp, secret: &str, rt: &str) -> serde_json::Value {
    let r = app
        .post_as(
            "/token",
            "web",
            secret,
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

#[tokio::test]
async fn a_rotated_key_is_published_first_then_signs_and_the_old_one_retires_later() {
    let app = TestApp::spawn().await;
    let secret = app
        .add_client(ClientSpec::confidential("web"))
        .await
        .unwrap();
    app.add_user("alice").await;
    let cb = app
        .authorize(
            &authorize_url(
                &app,
                "web",
                &[("scope", "openid offline_access"), ("prompt", "consent")],
            ),
            "alice",
        )
        .await;
    let t: serde_json::Value = exchange_code(&app, "web", &secret, &param(&cb, "code").unwrap())
        .await
        .json()
        .await
        .unwrap();
    let old = kid(t["id_token"].as_str().unwrap());
    assert_eq!(kid(t["access_token"].as_str().unwrap()), old);

    // Rotate ES256: the new key is in the JWKS at once, but does not sign yet.
    let ahead = app.state.config.keys.publish_ahead_secs;
    let new = keystore::rotate(
        &app.state.db,
        &app.state.sealer,
        app.state.clock.now(),
        Alg::Es256,
        chrono::Duration::seconds(ahead),
        Actor::Cli,
    )
    .await
    .unwrap()
    .unwrap()
    .kid;
    assert!(reload(&app).await);
    let kids = jwks_kids(&app).await;
    assert!(kids.contains(&old) && kids.contains(&new), "{kids:?}");
    let t = refresh(&app, &secret, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(kid(t["id_token"].as_str().unwrap()), old, "not signing yet");

    // Just before the switch: a token from the old key ...
    app.advance(ahead - 5);
    let t = refresh(&app, &secret, t["refresh_token"].as_str().unwrap()).await;
    let old_access = t["access_token"].as_str().unwrap().to_owned();
    assert_eq!(kid(&old_access), old);
    // ... and after it the new key signs, while the old token still works.
    app.advance(10);
    assert!(reload(&app).await, "the time to sign came");
    let t = refresh(&app, &secret, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(kid(t["id_token"].as_str().unwrap()), new);
    assert_eq!(kid(t["access_token"].as_str().unwrap()), new);
    let r = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&old_access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a token of the old key is still good"
    );

    // Nothing is retired while something it signed could be valid ...
    let overlap = keystore::overlap(&app.state.config);
    let retire = |app: &TestApp| {
        let (db, now) = (app.state.db.clone(), app.state.clock.now());
        async move { keystore::retire(&db, now, overlap).await.unwrap() }
    };
    assert_eq!(retire(&app).await, 0);
    assert!(jwks_kids(&app).await.contains(&old));
    // ... and after that the old key leaves the JWKS (audited), the new one stays.
    app.advance(overlap.num_seconds());
    assert_eq!(retire(&app).await, 1);
    assert!(reload(&app).await);
    let kids = jwks_kids(&app).await;
    assert!(!kids.contains(&old) && kids.contains(&new), "{kids:?}");
    assert_eq!(kids.len(), 3, "one key per algorithm");
    assert_eq!(app.audit_events("signing_key.retired").await.len(), 1);
    let t = refresh(&app, &secret, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(kid(t["id_token"].as_str().unwrap()), new);
    assert_eq!(claims(t["id_token"].as_str().unwrap())["iss"], app.issuer);
}

#[tokio::test]
async fn scheduled_rotation_replaces_keys_older_than_the_period() {
    let app = TestApp::spawn().await;
    let cfg = &app.state.config;
    let run = |app: &TestApp| {
        let (db, sealer, now, cfg) = (
            app.state.db.clone(),
            app.state.sealer.clone(),
            app.state.clock.now(),
            app.state.config.clone(),
        );
        async move {
            let txn = ally_idp::store::db::begin_write(&db).await.unwrap();
            let r = keystore::scheduled(&txn, &sealer, now, &cfg).await.unwrap();
            txn.commit().await.unwrap();
            r
        }
    };
    assert_eq!(run(&app).await, (0, 0), "young keys stay");
    app.advance(cfg.keys.rotate_after_days * 86_400 + 1);
    // Two nodes' periodic jobs at the same moment: each algorithm is rotated once. (On
    // PostgreSQL both transactions see the old keys due, and the conditional update that
    // supersedes a key lets one win; on SQLite they queue and the second finds nothing due.)
    let ((a, _), (b, _)) = tokio::join!(run(&app), run(&app));
    assert_eq!(a + b, 3, "each algorithm once ({a} + {b})");
    assert_eq!(run(&app).await, (0, 0), "and not again");
    reload(&app).await;
    assert_eq!(jwks_kids(&app).await.len(), 6);
    assert_eq!(
        app.audit_events("signing_key.created").await.len(),
        6,
        "three at start, three rotated"
    );
}
