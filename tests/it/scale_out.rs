//! Several nodes on one PostgreSQL behave as one provider, and a node that loses its
//! database answers 503 and recovers by itself. These run on PostgreSQL whatever the suite
//! runs on: scale-out is what PostgreSQL is for.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use reqwest::StatusCode;
use tokio::{net::TcpListener, task::JoinHandle};

use crate::helpers::{
    ClientSpec, PASSWORD, TestApp, assert_oauth_error, authorize_url, exchange_code, hidden,
    location, param,
};

/// Signs alice in on `node` and returns the code the web client gets.
async fn code_from(node: &TestApp) -> String {
    let to_app = node
        .authorize(&authorize_url(node, "web", &[]), "alice")
        .await;
    param(&to_app, "code").expect("code")
}

#[tokio::test]
async fn two_nodes_on_one_postgres_act_as_one_provider() {
    let a = TestApp::spawn_postgres_with(|_| {}).await;
    let b = a.spawn_peer().await;
    assert_ne!(a.base, b.base);
    let secret = a.add_client(ClientSpec::confidential("web")).await.unwrap();
    a.add_user("alice").await;

    // Authorize and sign in on A; B knows the client registered on A.
    let code = code_from(&a).await;
    // Exchange on B: the code, the session and the keys are shared.
    let r = exchange_code(&b, "web", &secret, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    let tokens: serde_json::Value = r.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();

    // Refresh on B, introspect the new access token on A, UserInfo on B.
    let refresh = |node: &'static str, token: String| {
        let node = if node == "a" { &a } else { &b };
        let secret = secret.clone();
        async move {
            node.post_as(
                "/token",
                "web",
                &secret,
                &[("grant_type", "refresh_token"), ("refresh_token", &token)],
            )
            .await
        }
    };
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let r = refresh("b", first_refresh.clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let refreshed: serde_json::Value = r.json().await.unwrap();
    let access = refreshed["access_token"].as_str().unwrap();
    let r = a
        .post_as("/introspect", "web", &secret, &[("token", access)])
        .await;
    let info: serde_json::Value = r.json().await.unwrap();
    assert_eq!(info["active"], true, "{info}");
    assert_eq!(info["iss"], a.issuer.as_str());
    let r = b
        .http
        .get(b.url("/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Both nodes publish the same keys.
    assert_eq!(a.jwks().await, b.jwks().await);

    // Log out on B with the ID token; the session A created is gone on A too, and so is
    // the refresh token that B issued.
    let r = b
        .browser
        .post(b.url("/logout"))
        .form(&[("id_token_hint", id_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = a
        .browser
        .get(authorize_url(&a, "web", &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let back = url::Url::parse(&location(&r)).unwrap();
    assert_eq!(param(&back, "error").as_deref(), Some("login_required"));
    let current = refreshed["refresh_token"].as_str().unwrap().to_owned();
    let r = refresh("a", current).await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;

    // Replays are caught across nodes: a code spent on A is refused on B, and the replay
    // revokes what the code bought (RFC 6749 §4.1.2), wherever it is used next.
    let code = code_from(&b).await;
    let r = exchange_code(&a, "web", &secret, &code).await;
    assert_eq!(r.status(), StatusCode::OK);
    let t: serde_json::Value = r.json().await.unwrap();
    let again = exchange_code(&b, "web", &secret, &code).await;
    assert_oauth_error(again, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let r = refresh("a", t["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    // And a rotated-away refresh token used on the other node kills the family.
    let code = code_from(&a).await;
    let t: serde_json::Value = exchange_code(&a, "web", &secret, &code)
        .await
        .json()
        .await
        .unwrap();
    let old = t["refresh_token"].as_str().unwrap().to_owned();
    let r = refresh("a", old.clone()).await;
    let newer: serde_json::Value = r.json().await.unwrap();
    let r = refresh("b", old).await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let r = refresh("a", newer["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_oauth_error(r, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn failed_sign_ins_on_different_nodes_add_up_to_one_lock() {
    let a = TestApp::spawn_postgres_with(|_| {}).await;
    let b = a.spawn_peer().await;
    a.add_user("alice").await;
    let max = a.state.config.lockout.max_failures;
    for i in 0..max {
        let node = if i % 2 == 0 { &a } else { &b };
        let r = node
            .submit_login("/login", "alice", "wrong password!!")
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "attempt {i}");
    }
    // Neither node saw `max` failures by itself, yet the account is locked.
    assert_eq!(a.account("alice").await.status, "locked");
    let r = b.submit_login("/login", "alice", PASSWORD).await;
    assert_ne!(
        r.status(),
        StatusCode::SEE_OTHER,
        "a locked account stays out"
    );
}

/// A TCP relay in front of PostgreSQL that can be cut (every connection dropped, new ones
/// refused) and restored on the same port: the database "goes away" for real.
struct Relay {
    addr: SocketAddr,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let r = Self {
            addr: listener.local_addr().unwrap(),
            target,
            tasks: Arc::default(),
        };
        r.serve(listener);
        r
    }

    fn serve(&self, listener: TcpListener) {
        let (target, tasks) = (self.target, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let conn = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(conn);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Drops every relayed connection and stops listening.
    fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    async fn restore(&self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}

#[tokio::test]
async fn losing_the_database_gives_503_and_service_resumes_when_it_returns() {
    let pg = url::Url::parse(&crate::helpers::postgres_url()).unwrap();
    let target: SocketAddr = format!(
        "{}:{}",
        pg.host_str().unwrap().replace("localhost", "127.0.0.1"),
        pg.port().unwrap_or(5432)
    )
    .parse()
    .unwrap();
    let relay = Relay::start(target).await;
    let relay_addr = relay.addr;
    let app = TestApp::spawn_postgres_with(move |c| {
        let mut u = url::Url::parse(&c.database_url).unwrap();
        u.set_host(Some("127.0.0.1")).unwrap();
        u.set_port(Some(relay_addr.port())).unwrap();
        c.database_url = u.to_string();
        c.database_max_connections = Some(4);
        c.database_acquire_timeout_secs = 1;
    })
    .await;
    let secret = app.add_client(ClientSpec::service("svc")).await.unwrap();
    app.add_user("alice").await;
    let token = || {
        app.post_as(
            "/token",
            "svc",
            &secret,
            &[("grant_type", "client_credentials")],
        )
    };
    assert_eq!(token().await.status(), StatusCode::OK);
    let text_of = |path: &str| {
        let req = app.browser.get(app.url(path));
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    let login = text_of("/login").await;
    let csrf = hidden(&login, "csrf").unwrap();

    relay.cut();
    // client_credentials needs no database once the client is cached: it keeps working.
    assert_eq!(token().await.status(), StatusCode::OK);
    // What needs the database (here: looking up an opaque token) gets an RFC-shaped 503
    // with Retry-After: no panic, no hang.
    let r = app
        .post_as("/introspect", "svc", &secret, &[("token", "opaque-token")])
        .await;
    assert_eq!(r.headers()["retry-after"], "5");
    assert_oauth_error(
        r,
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
    )
    .await;
    // A page: a clear 503 page with the request id, and nothing half-done.
    let r = app
        .browser
        .post(app.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let html = r.text().await.unwrap();
    assert!(html.contains("temporarily unavailable"), "{html}");
    assert!(html.contains(&id), "the page quotes the request id");
    // Readiness says so; liveness does not (the process is fine).
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let metrics = text_of("/metrics").await;
    assert!(
        metrics.contains("ally_database_unavailable_total "),
        "{metrics}"
    );

    // The database comes back: service resumes with no restart.
    relay.restore().await;
    let mut ok = false;
    for _ in 0..50 {
        let r = app
            .post_as("/introspect", "svc", &secret, &[("token", "opaque-token")])
            .await;
        if r.status() == StatusCode::OK {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(ok, "introspection works again");
    let r = app.submit_login("/login", "alice", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in works again");
    let r = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn is_active(node: &TestApp, secret: &str, token: &str) -> bool {
    let r = node
        .post_as("/introspect", "web", secret, &[("token", token)])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<serde_json::Value>().await.unwrap()["active"] == true
}

/// Nodes keep introspection answers for `cache.tokens_secs` (oidc::answer_cache): a
/// revocation applies at once on the node that made it and within that bound on the others.
#[tokio::test]
async fn a_revocation_on_one_node_reaches_the_others_within_the_cache_lifetime() {
    let a = TestApp::spawn_postgres_with(|_| {}).await;
    let b = a.spawn_peer().await;
    let secret = a.add_client(ClientSpec::confidential("web")).await.unwrap();
    a.add_user("alice").await;
    let code = code_from(&a).await;
    let tokens: serde_json::Value = exchange_code(&a, "web", &secret, &code)
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert!(is_active(&a, &secret, access).await);
    assert!(is_active(&b, &secret, access).await);

    let r = b
        .post_as("/revoke", "web", &secret, &[("token", access)])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        !is_active(&b, &secret, access).await,
        "at once where it was revoked"
    );
    let bound = std::time::Duration::from_secs(a.state.config.cache.tokens_secs + 1);
    let started = std::time::Instant::now();
    while is_active(&a, &secret, access).await {
        assert!(
            started.elapsed() < bound,
            "still active on the other node after {bound:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
