//! The periodic removal of what has expired (`retention`): each kind goes once it can no
//! longer matter, and not before (a used code or refresh token still has to be recognised as
//! a replay; a session still open has to be ended, and its applications told, first).

use reqwest::StatusCode;

use crate::helpers::{
    ClientSpec, TestApp, assert_oauth_error, authorize_url, browser_for, exchange_code, param,
};
use crate::tokens::{introspect, refresh, setup};
use ally_idp::{access::clients::GrantType, retention::remove_expired};

const DAY: i64 = 86_400;

async fn tokens_for(app: &TestApp, client_id: &str, secret: &str) -> (String, serde_json::Value) {
    tokens_with(app, client_id, secret, &[]).await
}

async fn tokens_with(
    app: &TestApp,
    client_id: &str,
    secret: &str,
    extra: &[(&str, &str)],
) -> (String, serde_json::Value) {
    let cb = app
        .authorize(&authorize_url(app, client_id, extra), "alice")
        .await;
    let code = param(&cb, "code").expect("code");
    let r = exchange_code(app, client_id, secret, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    (code, r.json().await.unwrap())
}

async fn counts(app: &TestApp) -> (i64, i64, i64) {
    (
        app.count("authorization_code").await,
        app.count("refresh_token").await,
        app.count("token_family").await,
    )
}

#[tokio::test]
async fn codes_refresh_tokens_and_their_family_go_once_expired_and_not_before() {
    let (app, secret) = setup().await;
    let (_, first) = tokens_for(&app, "web", &secret).await;
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    let second: serde_json::Value = refresh(&app, &secret, &rt1).await.json().await.unwrap();
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(counts(&app).await, (1, 2, 1));

    // Nothing has expired yet.
    assert_eq!(remove_expired(&app.state).await.unwrap().total(), 0);
    assert_eq!(counts(&app).await, (1, 2, 1));

    // Two hours on: the code is past its expiry, but within the replay window; the used
    // refresh token is kept until it would have expired, so presenting it is still a replay.
    app.advance(2 * 3_600);
    remove_expired(&app.state).await.unwrap();
    assert_eq!(counts(&app).await, (1, 2, 1));
    assert!(introspect(&app, &secret, &rt2).await);
    assert_oauth_error(
        refresh(&app, &secret, &rt1).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert_eq!(app.audit_events("refresh_token.replayed").await.len(), 1);
    assert!(
        !introspect(&app, &secret, &rt2).await,
        "the replay revoked the family"
    );

    // Past the replay window the code goes; the family stays while it has refresh tokens.
    app.advance(DAY);
    let removed = remove_expired(&app.state).await.unwrap();
    assert_eq!(removed.get("authorization_code"), 1);
    assert_eq!(counts(&app).await, (0, 2, 1));

    // Once its refresh tokens have expired, they go, and the family with them.
    app.advance(30 * DAY);
    let removed = remove_expired(&app.state).await.unwrap();
    assert_eq!(removed.get("refresh_token"), 2);
    assert_eq!(removed.get("token_family"), 1);
    assert_eq!(counts(&app).await, (0, 0, 0));

    let metrics = crate::ops::scrape(&app).await;
    for line in [
        r#"ally_expired_removed_total{kind="authorization_code"} 1"#,
        r#"ally_expired_removed_total{kind="refresh_token"} 2"#,
        r#"ally_expired_removed_total{kind="token_family"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

#[tokio::test]
async fn a_family_in_use_outlives_its_used_refresh_tokens() {
    let (app, secret) = setup().await;
    let scope = [("scope", "openid offline_access")];
    let (_, first) = tokens_with(&app, "web", &secret, &scope).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    app.advance(10 * DAY);
    let second = refresh(&app, &secret, rt1).await;
    assert_eq!(second.status(), StatusCode::OK);
    let rt2 = second.json::<serde_json::Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The first token has expired; its successor, the family's current one, has not.
    app.advance(21 * DAY);
    let removed = remove_expired(&app.state).await.unwrap();
    assert_eq!(removed.get("refresh_token"), 1);
    assert_eq!(removed.get("token_family"), 0);
    assert_eq!(refresh(&app, &secret, &rt2).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_used_code_presented_within_a_day_of_its_expiry_still_revokes_what_it_bought() {
    let (app, secret) = setup().await;
    let (code, tokens) = tokens_for(&app, "web", &secret).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    app.advance(2 * 3_600);
    remove_expired(&app.state).await.unwrap();
    assert!(introspect(&app, &secret, rt).await);
    let again = exchange_code(&app, "web", &secret, &code).await;
    assert_oauth_error(again, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(
        app.audit_events("authorization_code.replayed").await.len(),
        1
    );
    assert!(!introspect(&app, &secret, rt).await);
}

#[tokio::test]
async fn a_family_without_refresh_tokens_goes_once_its_access_token_has_expired() {
    let app = TestApp::spawn().await;
    let secret = app
        .add_client(ClientSpec {
            grant_types: vec![GrantType::AuthorizationCode],
            ..ClientSpec::confidential("web")
        })
        .await
        .unwrap();
    app.add_user("alice").await;
    let (_, tokens) = tokens_for(&app, "web", &secret).await;
    assert!(tokens.get("refresh_token").is_none());
    let lifetime = tokens["expires_in"].as_i64().unwrap();
    // Not while its access token could still be in use (and a little after).
    app.advance(lifetime + 60);
    assert_eq!(remove_expired(&app.state).await.unwrap().total(), 0);
    assert_eq!(app.count("token_family").await, 1);
    app.advance(3_600);
    let removed = remove_expired(&app.state).await.unwrap();
    assert_eq!(removed.get("token_family"), 1);
    assert_eq!(app.count("token_family").await, 0);
    // Its code is kept for the replay window.
    assert_eq!(app.count("authorization_code").await, 1);
}

#[tokio::test]
async fn sign_in_leftovers_go_but_a_session_stays_until_it_has_been_ended_a_week() {
    let (app, secret) = setup().await;
    let (_, tokens) = tokens_for(&app, "web", &secret).await;
    // Bob signs in elsewhere and never signs out; a wrong password counts a failure for him.
    app.add_user("bob").await;
    let _bob = browser_for(&app, "bob").await;
    let r = app.submit_login("/login", "bob", "not the password").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    for table in ["authorization_request", "attempt_counter"] {
        assert!(app.count(table).await > 0, "{table} has rows");
    }
    assert_eq!(app.count("sso_session").await, 2);
    // Alice signs out: her session is ended.
    crate::sso::log_out(&app, &tokens).await;

    // Six days on, the pending sign-ins and the failure counter are gone; the ended session
    // is kept for support questions.
    app.advance(6 * DAY);
    let removed = remove_expired(&app.state).await.unwrap();
    assert_eq!(app.count("authorization_request").await, 0);
    assert_eq!(app.count("attempt_counter").await, 0);
    assert!(removed.get("attempt_counter") >= 1);
    assert_eq!(removed.get("sso_session"), 0);

    // Past a week the ended one goes. Bob's ran out long ago, but it was never ended (the
    // job that ends such sessions, and tells their applications, has not run): it stays.
    app.advance(2 * DAY);
    assert_eq!(
        remove_expired(&app.state).await.unwrap().get("sso_session"),
        1
    );
    assert_eq!(app.count("sso_session").await, 1);
}

#[tokio::test]
async fn a_backlog_larger_than_a_chunk_goes_in_one_pass() {
    let app = TestApp::spawn().await;
    let now = app.state.clock.now();
    let chunk = ally_idp::store::expired::CHUNK as i64;
    for i in 0..(2 * chunk + 7) {
        let expires = now - chrono::Duration::hours(2) - chrono::Duration::seconds(i);
        ally_idp::store::tokens::deny_access_token(&app.state.db, &format!("old-{i}"), expires)
            .await
            .unwrap();
    }
    for i in 0..3 {
        let expires = now + chrono::Duration::minutes(10);
        ally_idp::store::tokens::deny_access_token(&app.state.db, &format!("live-{i}"), expires)
            .await
            .unwrap();
    }
    let removed = remove_expired(&app.state).await.unwrap();
    assert_eq!(removed.get("revoked_access_token"), (2 * chunk + 7) as u64);
    assert_eq!(app.count("revoked_access_token").await, 3);
    assert!(
        ally_idp::store::tokens::is_access_token_denied(&app.state.db, "live-0")
            .await
            .unwrap()
    );
}

/// The upgrade from the schema before removal existed: refresh tokens survive the rebuild of
/// their table, a family that has none is given its end, one that has some is not; and the
/// step back restores the old table, rows and all.
#[tokio::test]
async fn the_upgrade_keeps_every_token_and_dates_families_without_one() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Statement};
    let dir = tempfile::tempdir().unwrap();
    let test_db = crate::helpers::TestDb::new(dir.path());
    let db =
        ally_idp::store::db::connect(&test_db.url, Some(2), std::time::Duration::from_secs(10))
            .await
            .unwrap();
    Migrator::up(&db, Some(12)).await.unwrap();
    let t = "'2026-12-01T10:00:00+00:00'";
    for (family, tokens) in [("with-tokens", 2), ("without", 0)] {
        db.execute_unprepared(&format!(
            "INSERT INTO token_family (id, client_id, account_id, session_id, scope, offline, \
             auth_time, amr, acr, created_at) VALUES ('{family}', 'web', 'a', 's', 'openid', \
             false, {t}, '[]', '1', {t})"
        ))
        .await
        .unwrap();
        for i in 0..tokens {
            db.execute_unprepared(&format!(
                "INSERT INTO refresh_token (token_hash, family_id, client_id, scope, created_at, \
                 expires_at) VALUES ('{family}-{i}', '{family}', 'web', 'openid', {t}, {t})"
            ))
            .await
            .unwrap();
        }
    }
    let ended = |db: sea_orm::DatabaseConnection| async move {
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT id FROM token_family WHERE expires_at IS NOT NULL",
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.try_get_by_index::<String>(0).unwrap())
            .collect::<Vec<_>>()
    };
    let tokens = |db: sea_orm::DatabaseConnection| async move {
        db.query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) FROM refresh_token",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
    };

    Migrator::up(&db, None).await.unwrap();
    assert_eq!(tokens(db.clone()).await, 2);
    assert_eq!(ended(db.clone()).await, vec!["without".to_owned()]);

    Migrator::down(&db, Some(1)).await.unwrap();
    assert_eq!(tokens(db.clone()).await, 2);
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(tokens(db.clone()).await, 2);
    db.close().await.unwrap();
}
