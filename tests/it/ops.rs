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

/// The value of one series in an OpenMetrics exposition (0 when absent).
fn series(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

pub(crate) async fn scrape(app: &TestApp) -> String {
    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    r.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_requests_tokens_sign_ins_and_lockouts() {
    use crate::helpers::{ClientSpec, PASSWORD};
    let app = TestApp::spawn().await;
    let secret = app.add_client(ClientSpec::service("svc")).await.unwrap();
    app.add_user("alice").await;
    let before = scrape(&app).await;
    let tokens = r#"ally_tokens_issued_total{grant_type="client_credentials"}"#;
    let token_200 = r#"ally_http_requests_total{method="POST",route="/token",status="200"}"#;
    let token_401 = r#"ally_http_requests_total{method="POST",route="/token",status="401"}"#;
    let failed = r#"ally_sign_ins_total{outcome="failed"}"#;
    let succeeded = r#"ally_sign_ins_total{outcome="succeeded"}"#;
    let lockouts = "ally_lockouts_total";
    // Answered before the router (`web::documents`), counted in the same series.
    let jwks_200 = r#"ally_http_requests_total{method="GET",route="/jwks",status="200"}"#;
    let jwks_timed = r#"ally_http_request_duration_seconds_count{method="GET",route="/jwks"}"#;
    for _ in 0..2 {
        let r = app.http.get(app.url("/jwks")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }

    for _ in 0..3 {
        let r = app
            .post_as(
                "/token",
                "svc",
                &secret,
                &[("grant_type", "client_credentials")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = app
        .post_as(
            "/token",
            "svc",
            "wrong",
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app.submit_login("/login", "alice", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let max = app.state.config.lockout.max_failures;
    for _ in 0..max {
        app.submit_login("/login", "alice", "not the password")
            .await;
    }

    let after = scrape(&app).await;
    let delta = |name: &str| series(&after, name) - series(&before, name);
    assert_eq!(delta(tokens), 3.0, "{after}");
    assert_eq!(delta(token_200), 3.0);
    assert_eq!(delta(token_401), 1.0);
    // A failed client authentication issues nothing.
    assert_eq!(delta(succeeded), 1.0);
    assert_eq!(delta(failed), f64::from(max));
    assert_eq!(delta(lockouts), 1.0);
    assert_eq!(delta(jwks_200), 2.0);
    assert_eq!(delta(jwks_timed), 2.0);
    // Latency histograms by route pattern (never the raw path).
    assert!(after.contains(
        r#"ally_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/token"}"#
    ));
    let r = app
        .http
        .get(app.url("/no/such/thing/42"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let text = scrape(&app).await;
    assert!(
        !text.contains("/no/such/thing"),
        "raw paths never become labels"
    );
    assert!(text.contains(r#"route="unmatched""#));
    assert!(text.contains("process_resident_memory_bytes "));
    assert!(text.ends_with("# EOF\n"));
}

#[tokio::test]
async fn metrics_can_require_a_bearer_token_or_be_off() {
    let app = TestApp::spawn_with(|c| {
        c.metrics.bearer_token = secrecy::SecretString::from("scrape-me-0123456789");
    })
    .await;
    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("www-authenticate"));
    let r = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .http
        .get(app.url("/metrics"))
        .bearer_auth("scrape-me-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let off = TestApp::spawn_with(|c| c.metrics.enabled = false).await;
    let r = off.http.get(off.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn oversized_headers_get_431_before_any_handler() {
    let app = TestApp::spawn().await;
    let big = "a".repeat(app.state.config.http.max_header_bytes);
    let r = app
        .http
        .get(app.url("/login"))
        .header("cookie", format!("x={big}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    // Just under the limit is fine.
    let r = app
        .http
        .get(app.url("/login"))
        .header("x-note", "a".repeat(1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_page_gets_a_fresh_script_nonce() {
    let app = TestApp::spawn().await;
    let nonce = |csp: &str| {
        csp.split("script-src 'nonce-")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .map(str::to_owned)
            .expect("nonce")
    };
    let mut seen = std::collections::HashSet::new();
    for _ in 0..3 {
        let r = app.http.get(app.url("/login")).send().await.unwrap();
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!csp.contains("'unsafe-inline'") && !csp.contains("script-src 'self'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        let n = nonce(&csp);
        let html = r.text().await.unwrap();
        assert!(html.contains(&format!(r#"<script nonce="{n}" src="/static/login.js">"#)));
        assert!(seen.insert(n), "a nonce is never reused");
    }
    // JSON and other non-page responses allow nothing at all.
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
}

/// A request still unanswered after `http.request_timeout_secs` gets 408, with the headers
/// every response carries, and is counted. (A body that never finishes arriving keeps the
/// handler waiting, as a slow client would.) The shorter `http.header_timeout_secs` is over
/// once the head has arrived: it does not cut the request off.
#[tokio::test]
async fn a_request_unanswered_in_time_gets_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(|c| {
        c.http.request_timeout_secs = 2;
        c.http.header_timeout_secs = 1;
    })
    .await;
    let before = scrape(&app).await;
    let addr = app.issuer.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(
        b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 40\r\n\r\ngrant_type=",
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), sock.read(&mut buf))
        .await
        .expect("answered before the test's own limit")
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 408"), "{head}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(1900));
    assert!(head.contains("x-request-id: "), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
    let after = scrape(&app).await;
    let timed_out = r#"ally_http_requests_total{method="POST",route="/token",status="408"}"#;
    assert_eq!(series(&after, timed_out) - series(&before, timed_out), 1.0);
}

/// Reads from `sock` until the server closes the connection, and returns what it sent.
/// Fails the test if the connection is still open after 10 s.
async fn read_until_closed(sock: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), sock.read(&mut buf))
            .await
            .expect("the server closed the connection before the test's own limit");
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// A client that sends its header lines too slowly, or nothing at all after connecting, is
/// disconnected after `http.header_timeout_secs`, however steadily it trickles bytes: it
/// cannot hold connections open (slowloris).
#[tokio::test]
async fn a_request_head_not_received_in_time_closes_the_connection() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn_with(|c| c.http.header_timeout_secs = 1).await;
    let addr = app.issuer.trim_start_matches("http://").to_owned();
    let connected = std::time::Instant::now();
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One more header byte every 200 ms, never the blank line that ends the head.
    let trickle = tokio::spawn(async move {
        for _ in 0..40 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            if slow.write_all(b"X").await.is_err() {
                break;
            }
        }
        slow
    });
    let sent = read_until_closed(&mut silent).await;
    assert_eq!(sent, "", "closed without an answer");
    // Not before the limit, which started once the server had the connection.
    let open = connected.elapsed();
    assert!(open >= std::time::Duration::from_millis(950), "{open:?}");
    let mut slow = trickle.await.unwrap();
    let sent = read_until_closed(&mut slow).await;
    assert_eq!(sent, "", "closed without an answer");
    // The server itself serves on, and counted both. (At least both: the connection the
    // test's HTTP client opens here would count too on a machine that stalled it for 1 s.)
    let r = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let timed_out = series(&scrape(&app).await, "ally_http_connections_timed_out_total");
    assert!(timed_out >= 2.0, "{timed_out}");
}

/// A kept-alive connection is served as long as its requests keep coming within
/// `http.header_timeout_secs` of each other, and closed once it has sat idle that long.
#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Two seconds, so that a loaded machine's scheduling cannot stretch the 600 ms pauses
    // below past the limit.
    let app = TestApp::spawn_with(|c| c.http.header_timeout_secs = 2).await;
    let addr = app.issuer.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut buf = vec![0u8; 8192];
    let mut answered = std::time::Instant::now();
    for _ in 0..3 {
        // Well inside the limit: the connection stays open for the next request.
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        sock.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let n = sock.read(&mut buf).await.unwrap();
        answered = std::time::Instant::now();
        let head = String::from_utf8_lossy(&buf[..n]);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    }
    let sent = read_until_closed(&mut sock).await;
    assert_eq!(sent, "");
    // The limit runs from the last response, which left the server before it arrived here.
    let idle = answered.elapsed();
    assert!(idle >= std::time::Duration::from_millis(1900), "{idle:?}");
}

/// A client that goes away while its request waits (here for the database, whose write lock
/// the test holds) takes the request out of the in-flight gauge, and the request is counted
/// as abandoned, not as answered: hyper drops the request's future where it waits, so code
/// after that `await` never runs.
#[tokio::test]
async fn a_request_abandoned_by_its_client_leaves_the_in_flight_gauge() {
    use crate::helpers::{ClientSpec, authorize_url};
    use sea_orm::{ConnectionTrait, DbBackend, TransactionOptions, TransactionTrait};
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn().await;
    app.add_client(ClientSpec::confidential("web")).await;
    let gauge = "ally_http_requests_in_flight";
    let abandoned = r#"ally_http_requests_abandoned_total{method="GET",route="/authorize"}"#;
    let until = |want: f64| {
        let app = &app;
        async move {
            for _ in 0..100 {
                let text = scrape(app).await;
                if series(&text, gauge) == want {
                    return text;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("{gauge} never reached {want}");
        }
    };
    // The scrape itself is in flight while it is rendered.
    until(1.0).await;
    // Nobody signed in: /authorize parks the request, which has to wait for the lock.
    let lock = match app.state.db.get_database_backend() {
        DbBackend::Postgres => {
            let txn = app.state.db.begin().await.unwrap();
            txn.execute_unprepared("LOCK TABLE authorization_request IN EXCLUSIVE MODE")
                .await
                .unwrap();
            txn
        }
        _ => app
            .state
            .db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
            .unwrap(),
    };
    let url = url::Url::parse(&authorize_url(&app, "web", &[])).unwrap();
    let head = format!(
        "GET {}?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        url.path(),
        url.query().unwrap()
    );
    let addr = app.issuer.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(head.as_bytes()).await.unwrap();
    until(2.0).await;
    drop(sock);
    let text = until(1.0).await;
    assert_eq!(series(&text, abandoned), 1.0, "{text}");
    let answered = r#"ally_http_requests_total{method="GET",route="/authorize""#;
    assert!(!text.contains(answered), "{text}");
    lock.rollback().await.unwrap();
}

/// Every kind of response leaves the envelope with one set of security headers: a rendered
/// error page keeps its own CSP (not the API default beside it), a CORS preflight and a 431
/// (answered before any handler) get them too.
#[tokio::test]
async fn every_response_has_one_set_of_security_headers() {
    use reqwest::header;
    let app = TestApp::spawn().await;
    let big = "a".repeat(app.state.config.http.max_header_bytes);
    let responses = [
        app.http.get(app.url("/no/such/page")).send().await.unwrap(),
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/token"))
            .header(header::ORIGIN, "https://spa.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .send()
            .await
            .unwrap(),
        app.http
            .get(app.url("/jwks"))
            .header("x-big", big)
            .send()
            .await
            .unwrap(),
    ];
    for r in responses {
        let status = r.status();
        let csp: Vec<_> = r
            .headers()
            .get_all(header::CONTENT_SECURITY_POLICY)
            .iter()
            .collect();
        assert_eq!(csp.len(), 1, "{status}: {csp:?}");
        assert!(
            csp[0].to_str().unwrap().contains("frame-ancestors 'none'"),
            "{status}"
        );
        assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY", "{status}");
        assert_eq!(r.headers()[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(r.headers().get_all("x-request-id").iter().count(), 1);
    }
    // The 404 page shows the same request id its header carries.
    let r = app.http.get(app.url("/no/such/page")).send().await.unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 12);
    assert!(r.text().await.unwrap().contains(&id));
}

/// SQLite's log is copied into the database file by the server's background checkpoint, not
/// by whichever commit takes it past 1,000 pages (that commit held the single writer, and
/// every write queued behind it, for the copy and the sync), and it starts again from its
/// beginning once it is large, so the file does not grow without end.
#[tokio::test]
async fn the_sqlite_log_is_checkpointed_in_the_background_not_at_commit() {
    use ally_idp::store::db;
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let app = TestApp::spawn().await;
    let conn = &app.state.db;
    if conn.get_database_backend() != DbBackend::Sqlite {
        assert_eq!(db::checkpoint(conn, 0).await.unwrap(), None);
        return;
    }
    let pragma = |name: &'static str| async move {
        conn.query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("PRAGMA {name}"),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap()
    };
    assert_eq!(pragma("wal_autocheckpoint").await, 0);
    // Statement journals and temporary tables in memory (2), not in files created and
    // deleted beside the log for a write batch in twenty.
    assert_eq!(pragma("temp_store").await, 2);
    for name in ["carol", "dave", "erin"] {
        app.add_user(name).await;
    }
    // Below the size at which the log starts again: copied, and the log kept.
    let copied = db::checkpoint(conn, i64::MAX).await.unwrap().unwrap();
    assert!(copied.logged > 0, "the writes are in the log: {copied:?}");
    assert_eq!(copied.copied, copied.logged, "all of it copied: {copied:?}");
    // At that size: the log starts again from its beginning, so what is written next is all
    // it holds. (Under load the last pass, which waits for the readers of the log while the
    // writers wait, is what lets it start again; that is measured by the benchmark, whose
    // log file stays near `RESTART_AT` pages.)
    let restarted = db::checkpoint(conn, 0).await.unwrap().unwrap();
    assert_eq!(restarted.copied, restarted.logged, "{restarted:?}");
    app.add_user("gina").await;
    let after = db::checkpoint(conn, i64::MAX).await.unwrap().unwrap();
    assert!(
        after.logged < copied.logged,
        "one user's writes ({after:?}) are fewer than three's ({copied:?})"
    );

    // A reader still using the log is waited for only briefly (the writers wait meanwhile),
    // not for SQLite's whole busy timeout of 10 s; what it still needs stays in the log.
    use sea_orm::TransactionTrait;
    let reader = conn.begin().await.unwrap();
    reader
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT count(*) FROM account",
        ))
        .await
        .unwrap();
    app.add_user("frank").await;
    let started = std::time::Instant::now();
    let partial = db::checkpoint(conn, 0).await.unwrap().unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(partial.copied < partial.logged, "{partial:?}");
    reader.rollback().await.unwrap();
    let done = db::checkpoint(conn, 0).await.unwrap().unwrap();
    assert_eq!(done.copied, done.logged, "{done:?}");
}

/// The hot reads' own connections (`store::reads`): they see what the pool committed at
/// once (no connection keeps an old snapshot), and a statement that fails there leaves later
/// reads working. Run often enough to use each of them.
#[tokio::test]
async fn reads_see_every_commit_at_once_and_outlive_a_failed_statement() {
    use ally_idp::store;
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    let reads = &app.state.reads;
    for i in 0..6 {
        let name = format!("user{i}");
        assert!(
            store::accounts::find_by_username(reads, &name)
                .await
                .unwrap()
                .is_none()
        );
        app.add_user(&name).await;
        let found = store::accounts::find_by_username(reads, &name)
            .await
            .unwrap();
        assert!(found.is_some(), "a commit is seen by the next read");

        let bad = sea_orm::Statement::from_string(
            reads.get_database_backend(),
            "SELECT * FROM no_such_table",
        );
        let err = reads.query_all_raw(bad).await.unwrap_err();
        assert!(
            !store::db::is_unavailable(&err),
            "a fault in a statement is not a lost database (500, not 503): {err}"
        );
    }
    let names: Vec<String> = (0..6).map(|i| format!("user{i}")).collect();
    let all = futures_util::future::join_all(
        names
            .iter()
            .map(|n| store::accounts::find_by_username(reads, n)),
    )
    .await;
    assert!(all.iter().all(|r| matches!(r, Ok(Some(_)))));
}
