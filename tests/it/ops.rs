//! Operations endpoints: liveness and readiness.

use reqwest::StatusCode;

use crate::helpers::TestApp;

#[tokio::test]
async fn healthz_and_readyz_answer_when_all_is_well() {
    let app = TestApp::spawn().await;
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["status"], status);
    }
}

#[tokio::test]
async fn readyz_is_503_while_migrations_are_pending_and_healthz_stays_up() {
    let app = TestApp::spawn().await;
    // As if this node's binary were newer than the schema: the last migration not applied.
    let db = &app.state.db;
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(
        "DELETE FROM seaql_migrations WHERE version = (SELECT MAX(version) FROM seaql_migrations)",
    )
    .await
    .unwrap();
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["reason"], "database migrations pending");
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn hsts_only_when_the_issuer_is_https() {
    let plain = TestApp::spawn().await;
    let r = plain.http.get(plain.url("/healthz")).send().await.unwrap();
    assert!(!r.headers().contains_key("strict-transport-security"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
    // Behind a TLS-terminating proxy: the issuer is https, the listener plain http.
    let tls = TestApp::spawn_with(|c| {
        c.issuer = ally_idp::config::Issuer::parse("https://id.example.com").unwrap();
    })
    .await;
    let addr = tls.state.config.listen;
    let r = tls
        .http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["strict-transport-security"],
        "max-age=63072000; includeSubDomains"
    );
}
