//! Token endpoint failures, each with its exact RFC 6749 error.

use reqwest::{StatusCode, header};

use crate::helpers::{
    ClientSpec, PKCE_VERIFIER, TestApp, assert_oauth_error, authorize_url, exchange_code, param,
    redirect_uri,
};
use ally_idp::access::clients::GrantType;
use futures_util::future::join_all;

async fn code_for(app: &TestApp, client_id: &str) -> String {
    let cb = app
        .authorize(&authorize_url(app, client_id, &[]), "alice")
        .await;
    param(&cb, "code").expect("code")
}

pub(crate) async fn setup() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let secret = app
        .add_client(ClientSpec::confidential("web"))
        .await
        .unwrap();
    app.add_user("alice").await;
    (app, secret)
}

pub(crate) async fn introspect(app: &TestApp, secret: &str, token: &str) -> bool {
    let r = app
        .post_as("/introspect", "web", secret, &[("token", token)])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<serde_json::Value>().await.unwrap()["active"]
        .as_bool()
        .unwrap()
}

#[tokio::test]
async fn wrong_code_verifier_is_invalid_grant_and_does_not_burn_the_code() {
    let (app, secret) = setup().await;
    let code = code_for(&app, "web").await;
    let r = app
        .post_as(
            "/token",
            "web",
            &secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect_uri("web")),
                (
                    "code_verifier",
                    "wrong-verifier-wrong-verifier-wrong-verifier-00",
                ),
            ],
        )
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let r = app
        .post_as(
            "/token",
            "web",
            &secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect_uri("web")),
            ],
        )
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(
        exchange_code(&app, "web", &secret, &code).await.status(),
        StatusCode::OK
    );
}

/// The account a code was issued for is read with the code: one locked (or otherwise no
/// longer active) between the redirect and the exchange gets nothing, and once active again
/// the same code still works (the refusal spent nothing).
#[tokio::test]
async fn a_code_for_an_account_no_longer_active_buys_nothing() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let (app, secret) = setup().await;
    let code = code_for(&app, "web").await;
    let set_status = |status: &'static str| {
        let app = &app;
        async move {
            let mut a = app.account("alice").await.into_active_model();
            a.status = Set(status.to_owned());
            a.update(&app.state.db).await.unwrap();
        }
    };
    set_status("locked").await;
    let r = exchange_code(&app, "web", &secret, &code).await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    set_status("active").await;
    let r = exchange_code(&app, "web", &secret, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn reused_code_revokes_what_it_issued() {
    let (app, secret) = setup().await;
    let code = code_for(&app, "web").await;
    let first: serde_json::Value = exchange_code(&app, "web", &secret, &code)
        .await
        .json()
        .await
        .unwrap();
    let at = first["access_token"].as_str().unwrap();
    let rt = first["refresh_token"].as_str().unwrap();
    assert!(introspect(&app, &secret, at).await);

    let again = exchange_code(&app, "web", &secret, &code).await;
    assert_oauth_error(again, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(
        !introspect(&app, &secret, at).await,
        "access token from the replayed code is dead"
    );
    assert!(
        !introspect(&app, &secret, rt).await,
        "refresh token from the replayed code is dead"
    );
    let r = app
        .post_as(
            "/token",
            "web",
            &secret,
            &[("grant_type", "refresh_token"), ("refresh_token", rt)],
        )
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(
        app.audit_events("authorization_code.replayed").await.len(),
        1
    );
}

#[tokio::test]
async fn reused_refresh_token_revokes_the_family() {
    let (app, secret) = setup().await;
    let code = code_for(&app, "web").await;
    let first: serde_json::Value = exchange_code(&app, "web", &secret, &code)
        .await
        .json()
        .await
        .unwrap();
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |rt: String| {
        let app = &app;
        let secret = secret.clone();
        async move {
            app.post_as(
                "/token",
                "web",
                &secret,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", rt.as_str()),
                ],
            )
            .await
        }
    };
    let second: serde_json::Value = refresh(rt1.clone()).await.json().await.unwrap();
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    let at2 = second["access_token"].as_str().unwrap().to_owned();

    assert_oauth_error(refresh(rt1).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    // The legitimate holder's newer token dies with the family.
    assert_oauth_error(refresh(rt2).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert!(!introspect(&app, &secret, &at2).await);
    assert_eq!(app.audit_events("refresh_token.replayed").await.len(), 1);
}

pub(crate) async fn refresh(app: &TestApp, secret: &str, rt: &str) -> reqwest::Response {
    app.post_as(
        "/token",
        "web",
        secret,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await
}

async fn first_refresh_token(app: &TestApp, secret: &str) -> String {
    let code = code_for(app, "web").await;
    let tokens: serde_json::Value = exchange_code(app, "web", secret, &code)
        .await
        .json()
        .await
        .unwrap();
    tokens["refresh_token"].as_str().unwrap().to_owned()
}

/// Rotations are written in batches (`oidc::token::rotation`): of several uses of one
/// token arriving together exactly one rotates it, and the others count as reuse.
#[tokio::test]
async fn of_concurrent_uses_of_one_refresh_token_exactly_one_rotates_it() {
    let (app, secret) = setup().await;
    let rt = first_refresh_token(&app, &secret).await;
    let uses = (0..8).map(|_| async { refresh(&app, &secret, &rt).await.status() });
    let statuses: Vec<StatusCode> = join_all(uses).await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST)
    );
    assert!(!app.audit_events("refresh_token.replayed").await.is_empty());
    assert_eq!(
        app.count("refresh_token").await,
        2,
        "one successor was stored"
    );
}

/// A batch of token writes is one transaction (`store::batch`): when a write after the
/// spends fails, the spends are undone with it, and the next batch runs normally on the
/// same pool. A spent code is not spent twice.
#[tokio::test]
async fn a_batch_that_fails_part_way_writes_nothing() {
    use ally_idp::store;
    use std::collections::HashSet;
    let (app, _) = setup().await;
    let db = &app.state.db;
    let account = app.account("alice").await.id;
    let now = app.state.clock.now();
    let code = |hash: &str| entity::authorization_code::Model {
        code_hash: hash.into(),
        client_id: "web".into(),
        account_id: account.clone(),
        session_id: "s1".into(),
        redirect_uri: "http://127.0.0.1:9/cb".into(),
        scope: "openid".into(),
        nonce: None,
        code_challenge: None,
        auth_time: now,
        amr: serde_json::json!(["pwd"]),
        acr: "1".into(),
        created_at: now,
        expires_at: now + chrono::Duration::minutes(1),
        consumed_at: None,
        family_id: None,
    };
    let found = |hash: &'static str| async move {
        store::codes::find_with_account(db, hash)
            .await
            .unwrap()
            .map(|(c, _, _)| c)
    };
    store::codes::insert(db, code("c1")).await.unwrap();
    let backend = db.get_database_backend();
    let spend = || {
        store::codes::consume_many(backend, &[("c1", "f1")], now)
            .into_iter()
            .collect::<Vec<_>>()
    };

    // The writes store a new code, then one whose hash is taken: the second fails.
    let failed = store::batch::spend_then_write(db, spend(), |spent| {
        assert!(spent.contains("c1"), "the spend ran first");
        let mut writes = store::bulk::insert_all(backend, vec![code("c2")]);
        writes.extend(store::bulk::insert_all(backend, vec![code("c1")]));
        writes
    })
    .await;
    let err = failed.unwrap_err();
    assert!(
        !store::db::is_unavailable(&err),
        "a constraint violation is not a lost database (500, not 503): {err}"
    );
    let c1 = found("c1").await.unwrap();
    assert!(c1.consumed_at.is_none() && c1.family_id.is_none(), "{c1:?}");
    assert!(found("c2").await.is_none());

    for _ in 0..4 {
        // Every pooled connection is usable (none was left inside the failed transaction).
        assert!(found("c2").await.is_none());
    }
    let spent = store::batch::spend_then_write(db, spend(), |_| {
        store::bulk::insert_all(backend, vec![code("c2")])
    })
    .await
    .unwrap();
    assert_eq!(spent, HashSet::from(["c1".to_owned()]));
    let c1 = found("c1").await.unwrap();
    assert_eq!(c1.family_id.as_deref(), Some("f1"));
    assert!(found("c2").await.is_some());

    let again = store::batch::spend_then_write(db, spend(), |_| Vec::new())
        .await
        .unwrap();
    assert!(again.is_empty(), "a spent code is not spent again");
}

/// The group commit's inserts (`store::bulk::insert_all`; on PostgreSQL every row in one JSON
/// parameter) store each column as a plain insert would: nulls, booleans, JSON, quotes in
/// text, and times to the microsecond.
#[tokio::test]
async fn rows_written_in_bulk_read_back_as_they_were() {
    use ally_idp::store;
    use sea_orm::{ConnectionTrait, EntityTrait};
    let (app, _) = setup().await;
    let db = &app.state.db;
    let account = app.account("alice").await.id;
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-07T10:11:12.345678Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let family = |id: &str, offline: bool| entity::token_family::Model {
        id: id.into(),
        client_id: "web".into(),
        account_id: account.clone(),
        session_id: None,
        scope: "openid profile".into(),
        offline,
        auth_time: at,
        amr: serde_json::json!(["pwd", "otp"]),
        acr: "2".into(),
        created_at: at + chrono::Duration::microseconds(1),
        revoked_at: offline.then_some(at),
        revoked_reason: offline.then(|| "it's \"quoted\", \\ and ü".to_owned()),
        expires_at: (!offline).then_some(at + chrono::Duration::hours(1)),
    };
    let rows: Vec<_> = (0..3)
        .map(|i| family(&format!("f{i}"), i % 2 == 0))
        .collect();
    for s in store::bulk::insert_all(db.get_database_backend(), rows.clone()) {
        db.execute_raw(s).await.unwrap();
    }
    for row in rows {
        let stored = entity::token_family::Entity::find_by_id(row.id.clone())
            .one(db)
            .await
            .unwrap();
        assert_eq!(stored.as_ref(), Some(&row));
    }
}

/// Each of several rotations written together stores its own successor, which works.
#[tokio::test]
async fn concurrent_refreshes_of_different_families_each_rotate() {
    let (app, secret) = setup().await;
    let mut first = Vec::new();
    for _ in 0..5 {
        first.push(first_refresh_token(&app, &secret).await);
    }
    let rotated: Vec<serde_json::Value> = {
        let calls = first.iter().map(|rt| async {
            let r = refresh(&app, &secret, rt).await;
            assert_eq!(r.status(), StatusCode::OK);
            r.json::<serde_json::Value>().await.unwrap()
        });
        join_all(calls).await
    };
    for (old, new) in first.iter().zip(&rotated) {
        let next = new["refresh_token"].as_str().unwrap();
        assert_ne!(next, old);
        assert_eq!(refresh(&app, &secret, next).await.status(), StatusCode::OK);
    }
    assert!(app.audit_events("refresh_token.replayed").await.is_empty());
}

#[tokio::test]
async fn refresh_cannot_widen_scope_and_can_narrow_it() {
    let (app, secret) = setup().await;
    let code = code_for(&app, "web").await;
    let first: serde_json::Value = exchange_code(&app, "web", &secret, &code)
        .await
        .json()
        .await
        .unwrap();
    let rt = first["refresh_token"].as_str().unwrap();
    let r = app
        .post_as(
            "/token",
            "web",
            &secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("scope", "openid offline_access"),
            ],
        )
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_scope").await;
    let r = app
        .post_as(
            "/token",
            "web",
            &secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["scope"], "openid");
}

#[tokio::test]
async fn expired_code_and_mismatched_redirect_uri() {
    let (app, secret) = setup().await;
    let code = code_for(&app, "web").await;
    let r = app
        .post_as(
            "/token",
            "web",
            &secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "http://127.0.0.1:9999/other"),
                ("code_verifier", PKCE_VERIFIER),
            ],
        )
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    app.advance(61);
    assert_oauth_error(
        exchange_code(&app, "web", &secret, &code).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn code_issued_to_another_client_is_refused() {
    let (app, _) = setup().await;
    let other = app
        .add_client(ClientSpec::confidential("other"))
        .await
        .unwrap();
    let code = code_for(&app, "web").await;
    let r = app
        .post_as(
            "/token",
            "other",
            &other,
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", &redirect_uri("web")),
                ("code_verifier", PKCE_VERIFIER),
            ],
        )
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn client_authentication_failures() {
    let (app, secret) = setup().await;
    let form = [("grant_type", "client_credentials")];
    let r = app
        .http
        .post(app.url("/token"))
        .basic_auth("web", Some("wrong-secret"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let r = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "web"),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let r = app
        .http
        .post(app.url("/token"))
        .basic_auth("nobody", Some(&secret))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // A confidential client cannot drop its secret and pass as public.
    let r = app
        .http
        .post(app.url("/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "web")])
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // RFC 6749 §2.3: one method only.
    let r = app
        .post_as(
            "/token",
            "web",
            &secret,
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", secret.as_str()),
            ],
        )
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;
    // client_secret_post works with the right secret.
    let r = app
        .http
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "web"),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "unauthorized_client").await;
}

#[tokio::test]
async fn malformed_token_requests() {
    let (app, secret) = setup().await;
    let r = app
        .post_as("/token", "web", &secret, &[("grant_type", "password")])
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
    let r = app
        .post_as("/token", "web", &secret, &[("foo", "bar")])
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;
    let r = app
        .http
        .post(app.url("/token"))
        .basic_auth("web", Some(&secret))
        .body("grant_type=authorization_code&grant_type=refresh_token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;
    let r = app
        .http
        .post(app.url("/token"))
        .basic_auth("web", Some(&secret))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;
    let long = "x".repeat(5000);
    let r = app
        .post_as(
            "/token",
            "web",
            &secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", long.as_str()),
            ],
        )
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_request").await;
    // An oversized body is refused from its Content-Length, before it is read. (Over a raw
    // socket: a client still writing the body would see the early close as a reset.)
    let status = raw_status_line(&app, "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n").await;
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    let r = app
        .post_as(
            "/token",
            "web",
            &secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", "nope"),
                ("redirect_uri", &redirect_uri("web")),
            ],
        )
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(app.count("token_family").await, 0, "nothing was written");
}

#[tokio::test]
async fn userinfo_and_introspection_failures() {
    let (app, secret) = setup().await;
    let r = app.http.get(app.url("/userinfo")).send().await.unwrap();
    assert!(
        r.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let r = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_token").await;

    let code = code_for(&app, "web").await;
    let tokens: serde_json::Value = exchange_code(&app, "web", &secret, &code)
        .await
        .json()
        .await
        .unwrap();
    // An ID token is not an access token (RFC 9068 §4: typ must be at+jwt).
    let r = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(tokens["id_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let at = tokens["access_token"].as_str().unwrap();
    let r = app
        .http
        .post(app.url("/userinfo"))
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "RFC 6750 §2.2 form body");
    app.advance(601);
    let r = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_token").await;

    let r = app
        .http
        .post(app.url("/introspect"))
        .form(&[("token", at)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

#[tokio::test]
async fn revocation_rules() {
    let (app, secret) = setup().await;
    let other = app
        .add_client(ClientSpec::confidential("other"))
        .await
        .unwrap();
    let code = code_for(&app, "web").await;
    let tokens: serde_json::Value = exchange_code(&app, "web", &secret, &code)
        .await
        .json()
        .await
        .unwrap();
    let rt = tokens["refresh_token"].as_str().unwrap();
    // RFC 7009 §2.2: unknown tokens are answered 200.
    let r = app
        .post_as("/revoke", "web", &secret, &[("token", "no-such-token")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // §2.1: another client's token is refused and stays valid.
    let r = app
        .post_as("/revoke", "other", &other, &[("token", rt)])
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    assert!(introspect(&app, &secret, rt).await);
    let r = app
        .http
        .post(app.url("/revoke"))
        .form(&[("token", rt)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(r, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // Another client cannot see the token through introspection either.
    let r = app
        .post_as("/introspect", "other", &other, &[("token", rt)])
        .await;
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["active"],
        false
    );
}

#[tokio::test]
async fn client_credentials_only_for_clients_allowed_it() {
    let app = TestApp::spawn().await;
    let secret = app
        .add_client(ClientSpec {
            grant_types: vec![GrantType::ClientCredentials],
            ..ClientSpec::confidential("svc")
        })
        .await
        .unwrap();
    let r = app
        .post_as(
            "/token",
            "svc",
            &secret,
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    let r = app
        .post_as(
            "/token",
            "svc",
            &secret,
            &[("grant_type", "authorization_code"), ("code", "x")],
        )
        .await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "unauthorized_client").await;
}

/// Sends raw request bytes and returns the response's status line.
async fn raw_status_line(app: &TestApp, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.issuer.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 512];
    let n = sock.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

/// A rotation made outside this node (the CLI, another node) is seen through the client
/// cache: the new secret works at once, the old one stops once the cache lifetime passes.
#[tokio::test]
async fn a_secret_rotated_elsewhere_is_seen_through_the_client_cache() {
    let app = TestApp::spawn_with(|c| c.cache.clients_secs = 1).await;
    let old = app
        .add_client(ClientSpec::confidential("web"))
        .await
        .unwrap();
    let works = |secret: String| {
        let app = &app;
        async move {
            app.post_as("/introspect", "web", &secret, &[("token", "x")])
                .await
                .status()
                == StatusCode::OK
        }
    };
    assert!(works(old.clone()).await, "cached now");
    let new = app.rotate_secret("web").await;
    assert!(
        works(new.clone()).await,
        "a fresh secret is checked against the database"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(
        !works(old).await,
        "the replaced secret is refused after the lifetime"
    );
    assert!(works(new).await);
    // An unknown client is never cached: registering it makes it usable at once.
    let r = app
        .post_as("/introspect", "late", "whatever-secret", &[("token", "x")])
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let late = app
        .add_client(ClientSpec::confidential("late"))
        .await
        .unwrap();
    let r = app
        .post_as("/introspect", "late", &late, &[("token", "x")])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}
