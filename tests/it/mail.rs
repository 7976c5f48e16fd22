//! E-mail: the transactional outbox, the .eml outbox transport, retries, and real SMTP.

use ally_idp::{
    access::{requests, staff::Principal},
    audit::RequestContext,
    config::{MailTransport, SmtpSecurity},
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::helpers::{ClientSpec, TestApp};

async fn file_request(app: &TestApp, username: &str) -> (String, String) {
    let account = app.add_user(username).await;
    let id = requests::file(
        &app.state.db,
        app.state.clock.now(),
        &RequestContext::default(),
        &account,
        "dealer",
        Some("please"),
    )
    .await
    .unwrap();
    (account, id)
}

fn ops() -> Principal {
    Principal::Service {
        client_id: "ops".into(),
    }
}

#[tokio::test]
async fn decisions_are_mailed_once_through_the_outbox() {
    let app = TestApp::spawn().await;
    app.add_client(ClientSpec::confidential("dealer")).await;
    let (_, approved) = file_request(&app, "ann").await;
    let (_, rejected) = file_request(&app, "ben").await;
    let ctx = RequestContext::default();
    let now = app.state.clock.now();
    requests::approve(&app.state.db, now, &ctx, &ops(), &approved, vec![])
        .await
        .unwrap();
    requests::reject(
        &app.state.db,
        now,
        &ctx,
        &ops(),
        &rejected,
        Some("not at this dealership"),
    )
    .await
    .unwrap();
    // A failed decision (already decided) queues nothing: the message is part of the change.
    assert!(
        requests::approve(&app.state.db, now, &ctx, &ops(), &approved, vec![])
            .await
            .is_err()
    );
    assert_eq!(app.count("email_outbox").await, 2);

    assert_eq!(
        app.state
            .mailer
            .deliver_due(&app.state.db, now)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        app.state
            .mailer
            .deliver_due(&app.state.db, now)
            .await
            .unwrap(),
        0,
        "exactly once"
    );
    let sent = ally_idp::store::mail::list(&app.state.db).await.unwrap();
    let ann = sent
        .iter()
        .find(|m| m.to_addr == "ann@example.com")
        .unwrap();
    assert_eq!(
        ann.subject.as_deref(),
        Some("You now have access to App dealer")
    );
    assert!(ann.body_text.as_deref().unwrap().contains("user ID ann"));
    let ben = sent
        .iter()
        .find(|m| m.to_addr == "ben@example.com")
        .unwrap();
    assert_eq!(ben.subject.as_deref(), Some("Your request for App dealer"));
    assert!(
        ben.body_text
            .as_deref()
            .unwrap()
            .contains("Reason: not at this dealership")
    );

    let files: Vec<_> = std::fs::read_dir(app.data_dir().join("outbox"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(files.len(), 2);
    #[cfg(unix)]
    {
        // They carry sign-in codes and reset links.
        use crate::helpers::file_mode;
        assert_eq!(file_mode(&app.data_dir().join("outbox")), 0o700);
        for f in &files {
            assert_eq!(file_mode(&f.path()), 0o600, "{}", f.path().display());
        }
    }
    let eml = files
        .iter()
        .map(|f| std::fs::read_to_string(f.path()).unwrap())
        .find(|e| e.contains("To: ann@example.com"))
        .unwrap();
    assert!(eml.contains("Subject: You now have access to App dealer"));
    assert!(eml.contains("Content-Type: text/plain") && eml.contains("Content-Type: text/html"));
    assert!(eml.contains("From: Ally <no-reply@ally.example>"));
}

#[tokio::test]
async fn failed_deliveries_are_retried_a_bounded_number_of_times() {
    let app = TestApp::spawn().await;
    let now = app.state.clock.now();
    ally_idp::mail::enqueue(
        &app.state.db,
        now,
        "not an address",
        ally_idp::mail::Template::AccessDecision,
        serde_json::json!({"name": "x", "username": "x", "application": "A", "approved": true}),
    )
    .await
    .unwrap();
    for _ in 0..7 {
        assert_eq!(
            app.state
                .mailer
                .deliver_due(&app.state.db, now)
                .await
                .unwrap(),
            0
        );
    }
    let m = ally_idp::store::mail::list(&app.state.db)
        .await
        .unwrap()
        .remove(0);
    assert!(m.sent_at.is_none());
    assert_eq!(m.attempts, 5, "gives up after five attempts");
    assert!(m.last_error.is_some());
}

/// A minimal SMTP server (RFC 5321) that accepts one message and returns its DATA.
async fn smtp_sink() -> (u16, tokio::sync::oneshot::Receiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        let (r, mut w) = sock.into_split();
        let mut lines = BufReader::new(r).lines();
        w.write_all(b"220 sink ESMTP\r\n").await.unwrap();
        let mut data = String::new();
        let mut in_data = false;
        let mut tx = Some(tx);
        while let Ok(Some(line)) = lines.next_line().await {
            if in_data {
                if line == "." {
                    in_data = false;
                    w.write_all(b"250 OK queued\r\n").await.unwrap();
                    // The client may keep the session open for reuse: report now.
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(std::mem::take(&mut data));
                    }
                } else {
                    data.push_str(&line);
                    data.push('\n');
                }
                continue;
            }
            let cmd = line.to_ascii_uppercase();
            let reply: &[u8] = if cmd.starts_with("EHLO") {
                b"250-sink\r\n250 8BITMIME\r\n"
            } else if cmd.starts_with("DATA") {
                in_data = true;
                b"354 go ahead\r\n"
            } else if cmd.starts_with("QUIT") {
                w.write_all(b"221 bye\r\n").await.ok();
                break;
            } else {
                b"250 OK\r\n"
            };
            w.write_all(reply).await.unwrap();
        }
    });
    (port, rx)
}

#[tokio::test]
async fn smtp_transport_delivers_to_a_real_smtp_server() {
    let (port, received) = smtp_sink().await;
    let app = TestApp::spawn_with(|c| {
        c.mail.transport = MailTransport::Smtp;
        c.mail.smtp.host = "127.0.0.1".into();
        c.mail.smtp.port = port;
        c.mail.smtp.security = SmtpSecurity::None;
    })
    .await;
    app.add_client(ClientSpec::confidential("dealer")).await;
    let (_, id) = file_request(&app, "cyd").await;
    let now = app.state.clock.now();
    requests::approve(
        &app.state.db,
        now,
        &RequestContext::default(),
        &ops(),
        &id,
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(
        app.state
            .mailer
            .deliver_due(&app.state.db, now)
            .await
            .unwrap(),
        1
    );
    let data = tokio::time::timeout(std::time::Duration::from_secs(10), received)
        .await
        .unwrap()
        .unwrap();
    assert!(data.contains("To: cyd@example.com"), "{data}");
    assert!(data.contains("Subject: You now have access to App dealer"));
    assert!(
        !app.data_dir().join("outbox").exists(),
        "SMTP mode writes no outbox files"
    );
}
