//! Account protection with a controlled clock: the two lock policies (temporary locks that
//! end by themselves and grow when repeated; locks only staff lift), what a locked account
//! is told, and per-client-IP throttling (429 with Retry-After) that says nothing about
//! whether a user ID exists.

use ally_idp::config::LockPolicy;
use reqwest::{StatusCode, header};

use crate::helpers::{PASSWORD, TestApp};

/// Five wrong passwords (the default limit).
async fn lock_out(app: &TestApp, username: &str) {
    for _ in 0..5 {
        let r = app.submit_login("/login", username, "wrong password").await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(app.account(username).await.status, "locked");
}

#[tokio::test]
async fn a_temporary_lock_ends_by_itself_and_a_repeated_one_lasts_longer() {
    let app = TestApp::spawn_with(|c| c.lockout.other = LockPolicy::Temporary).await;
    app.add_user("carla").await;

    lock_out(&app, "carla").await;
    let locked = app.audit_events("account.locked").await;
    assert_eq!(locked.len(), 1);
    assert!(
        locked[0].detail["until"].is_string(),
        "{:?}",
        locked[0].detail
    );
    // The right password is refused, with when it ends and how to get in sooner.
    let r = app.submit_login("/login", "carla", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(html.contains("locked until"), "{html}");
    assert!(html.contains("Forgot password?"));
    assert!(html.contains("1-866-766-4622"));

    // 15 minutes later the lock has ended: the next wrong passwords count again...
    app.advance(15 * 60 + 1);
    lock_out(&app, "carla").await;
    assert_eq!(app.audit_events("account.unlocked").await.len(), 1);
    // ...and the second lock lasts twice as long.
    app.advance(16 * 60);
    let r = app.submit_login("/login", "carla", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "still locked");
    app.advance(15 * 60);
    let r = app.submit_login("/login", "carla", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "lock over");
    let unlocked = app.audit_events("account.unlocked").await;
    assert_eq!(unlocked.len(), 2);
    assert_eq!(unlocked[1].detail["why"], "lock_expired");
    // A successful sign-in starts the doubling again.
    assert_eq!(app.account("carla").await.lock_count, 0);
}

/// Makes `username` staff of a new dealership (PDN 12345): a dealer account.
pub(crate) async fn make_dealer(app: &TestApp, username: &str) {
    use ally_idp::audit::{Actor, RequestContext};
    use sea_orm::{ConnectionTrait, Statement, Value};
    let org = ally_idp::access::orgs::add(
        &app.state.db,
        app.state.clock.now(),
        &RequestContext::default(),
        Actor::Cli,
        "12345",
        "Main Street Motors",
    )
    .await
    .unwrap();
    let db = &app.state.db;
    let sql = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => "UPDATE account SET org_id = $1 WHERE username = $2",
        _ => "UPDATE account SET org_id = ? WHERE username = ?",
    };
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [Value::from(org), Value::from(username.to_owned())],
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn a_dealer_lock_does_not_end_by_itself() {
    // Default configuration: cardholders temporary, dealer staff until unlocked.
    let app = TestApp::spawn().await;
    app.add_user("dave").await;
    make_dealer(&app, "dave").await;
    lock_out(&app, "dave").await;
    let account = app.account("dave").await;
    assert_eq!(account.locked_until, None);
    app.advance(30 * 24 * 3600);
    let r = app.submit_login("/login", "dave", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Please call the Ally Auto Dealer Help Desk at 1-866-766-4622"),
        "{html}"
    );
    assert!(!html.contains("locked until"));
    assert!(app.audit_events("account.unlocked").await.is_empty());
}

#[tokio::test]
async fn guessing_from_one_address_is_throttled_whatever_the_user_id() {
    let app = TestApp::spawn_with(|c| {
        c.throttle.burst = 3;
        c.throttle.per_minute = 1;
    })
    .await;
    app.add_user("erin").await;
    // Three tries (two at a real user ID, one at an unknown one) are answered as usual.
    for user in ["erin", "nobody", "erin"] {
        let r = app.submit_login("/login", user, "wrong").await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    // The fourth is refused before it is checked, the same for both.
    let mut bodies = vec![];
    for user in ["erin", "nobody"] {
        let r = app.submit_login("/login", user, PASSWORD).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = r.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        bodies.push(r.text().await.unwrap().replace(&id, ""));
    }
    assert_eq!(bodies[0], bodies[1], "no difference between user IDs");
    assert!(bodies[0].contains("Too many attempts"));
    assert!(app.audit_events("login.succeeded").await.is_empty());
    // Pages still load, and other endpoints are not throttled.
    let r = app.browser.get(app.url("/login")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .http
        .post(app.url("/token"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // A minute later one more try is allowed.
    app.advance(61);
    let r = app.submit_login("/login", "erin", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_hash_made_with_older_parameters_is_upgraded_at_the_next_sign_in() {
    use ally_idp::{config::PasswordHashing, crypto::password::PasswordHasher};
    use secrecy::SecretString;
    let app = TestApp::spawn().await;
    let id = app.add_user("hana").await;
    let older = PasswordHasher::new(&PasswordHashing {
        memory_kib: 32,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 1,
    })
    .unwrap()
    .hash(&SecretString::from(PASSWORD))
    .await
    .unwrap();
    ally_idp::store::accounts::set_password_hash(&app.state.db, &id, &older)
        .await
        .unwrap();
    // A wrong password changes nothing.
    app.submit_login("/login", "hana", "wrong password").await;
    assert!(app.account("hana").await.password_hash.contains("m=32,"));
    let r = app.submit_login("/login", "hana", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let now = app.account("hana").await.password_hash;
    assert!(now.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{now}");
    // Still the same password.
    let b = crate::helpers::new_browser();
    let page = b
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = b
        .post(app.url("/login"))
        .form(&[
            (
                "csrf",
                crate::helpers::hidden(&page, "csrf").unwrap().as_str(),
            ),
            ("username", "hana"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_allowance() {
    let app = TestApp::spawn_with(|c| {
        c.throttle.burst = 2;
        c.throttle.per_minute = 1;
        c.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let b = crate::helpers::new_browser();
    let page = b
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::helpers::hidden(&page, "csrf").unwrap();
    let try_from = |client: &'static str| {
        b.post(app.url("/login"))
            .header("x-forwarded-for", format!("6.6.6.6, {client}"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "nobody"),
                ("password", "wrong"),
            ])
            .send()
    };
    for _ in 0..2 {
        assert_eq!(
            try_from("203.0.113.1").await.unwrap().status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    assert_eq!(
        try_from("203.0.113.1").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy is not held back; a spoofed left-most entry
    // (6.6.6.6) counts for nothing.
    assert_eq!(
        try_from("203.0.113.2").await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let failed = app.audit_events("login.failed").await;
    assert_eq!(failed[0].client_ip.as_deref(), Some("203.0.113.1"));
    assert_eq!(
        failed.last().unwrap().client_ip.as_deref(),
        Some("203.0.113.2")
    );
}
