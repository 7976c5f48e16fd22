//! "Forgot user ID" and "Forgot password" over HTTP with a controlled clock: answers that
//! are the same for existing and unknown user IDs and addresses, a reset link that works once
//! and expires, challenge questions (two right answers reset; a wrong one locks), and what
//! a reset ends (sessions, refresh tokens, remembered browsers) and keeps (a staff-only lock).

use ally_idp::{
    accounts::questions::{Answer, SecurityAnswers},
    config::LockPolicy,
};
use reqwest::{Client, Response, StatusCode};
use secrecy::SecretString;

use crate::helpers::{
    ClientSpec, PASSWORD, TestApp, authorize_url, exchange_code, hidden, location, new_browser,
    param,
};

const NEW_PASSWORD: &str = "violet harbour lantern 42";

async fn form_page(app: &TestApp, b: &Client, path: &str) -> String {
    let r = b.get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    r.text().await.unwrap()
}

async fn post(app: &TestApp, b: &Client, path: &str, form: &[(&str, &str)]) -> Response {
    let page = form_page(app, b, "/forgot/password").await;
    let csrf = hidden(&page, "csrf").unwrap();
    let mut all = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(form);
    b.post(app.url(path)).form(&all).send().await.unwrap()
}

/// The reset link in the newest reset e-mail to `to`.
async fn reset_link(app: &TestApp, to: &str) -> String {
    let mails = app.mail_to(to).await;
    let mail = mails
        .iter()
        .rev()
        .find(|m| m.contains("Subject: Reset your Ally password"))
        .expect("a reset e-mail");
    let at = mail.find("/reset?token=").expect("link");
    let start = mail[..at].rfind("http").unwrap();
    let end = at
        + mail[at..]
            .find(|c: char| c.is_whitespace() || c == '"')
            .unwrap();
    mail[start..end].to_owned()
}

async fn choose_password(
    app: &TestApp,
    b: &Client,
    link: &str,
    pw: &str,
    confirm: &str,
) -> Response {
    let r = b.get(link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "reset page");
    let html = r.text().await.unwrap();
    let token = hidden(&html, "token").unwrap();
    b.post(app.url("/reset"))
        .form(&[
            ("csrf", hidden(&html, "csrf").unwrap().as_str()),
            ("token", token.as_str()),
            ("password", pw),
            ("password_confirm", confirm),
        ])
        .send()
        .await
        .unwrap()
}

/// The challenge-questions page the forgot-password form leads to for `username`.
async fn questions_page(app: &TestApp, b: &Client, username: &str) -> String {
    let form = [("username", username), ("method", "questions")];
    let r = post(app, b, "/forgot/password", &form).await;
    r.text().await.unwrap()
}

pub(crate) async fn set_questions(app: &TestApp, username: &str) {
    let account = app.account(username).await;
    let a = |q: &str, x: &str| Answer {
        question: q.to_owned(),
        answer: SecretString::from(x.to_owned()),
    };
    let q = &app.state.config.questions;
    ally_idp::accounts::questions::set(
        &app.state.db,
        &app.state.passwords,
        app.state.clock.now(),
        &account.id,
        &SecurityAnswers {
            challenge: [a(&q.challenge[0], "Rex"), a(&q.challenge[1], "Paris")],
            helpdesk: a(&q.helpdesk[0], "Dune"),
        },
        q,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn forgot_user_id_answers_the_same_and_mails_only_the_owner() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let b = new_browser();
    let mut bodies = vec![];
    for email in ["ALICE@example.com", "nobody@example.com"] {
        let r = post(&app, &b, "/forgot/user-id", &[("email", email)]).await;
        assert_eq!(r.status(), StatusCode::OK);
        bodies.push(r.text().await.unwrap());
    }
    assert_eq!(
        bodies[0], bodies[1],
        "no difference between known and unknown"
    );
    let mails = app.mail_to("alice@example.com").await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("Subject: Your Ally user ID"));
    assert!(mails[0].contains("alice"));
    assert!(app.mail_to("nobody@example.com").await.is_empty());
    let r = post(&app, &b, "/forgot/user-id", &[("email", "not an address")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.audit_events("recovery.user_id_requested").await.len(),
        2
    );
}

#[tokio::test]
async fn a_reset_link_works_once_and_ends_sessions_tokens_and_remembered_browsers() {
    let app = TestApp::spawn().await;
    let secret = app
        .add_client(ClientSpec::confidential("web"))
        .await
        .unwrap();
    app.add_user("alice").await;
    // Signed in (app.browser), with a refresh token and a remembered browser.
    let cb = app
        .authorize(&authorize_url(&app, "web", &[]), "alice")
        .await;
    let tokens: serde_json::Value =
        exchange_code(&app, "web", &secret, &param(&cb, "code").unwrap())
            .await
            .json()
            .await
            .unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let alice = app.account("alice").await;
    ally_idp::authn::mfa::devices::remember(
        &app.state.db,
        &app.state.tokens,
        app.state.clock.now(),
        &alice.id,
        None,
        30,
    )
    .await
    .unwrap();

    // Known and unknown user IDs get the same page; only the known one gets mail.
    let b = new_browser();
    let mut bodies = vec![];
    for user in ["alice", "nobody"] {
        let r = post(
            &app,
            &b,
            "/forgot/password",
            &[("username", user), ("method", "link")],
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        bodies.push(r.text().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1]);
    let link = reset_link(&app, "alice@example.com").await;
    // The link is sealed in the outbox row, and only a hash of its token is stored.
    let token = link.split("token=").nth(1).unwrap().to_owned();
    assert_eq!(app.count("password_reset").await, 1);
    use sea_orm::EntityTrait;
    let stored = entity::password_reset::Entity::find()
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .token_hash;
    assert_ne!(stored, token);

    // Policy and history apply, and a refused password leaves the link usable.
    let r = choose_password(&app, &b, &link, "short", "short").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = choose_password(&app, &b, &link, PASSWORD, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("last 5"));
    let r = choose_password(&app, &b, &link, NEW_PASSWORD, "something else entirely").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = choose_password(&app, &b, &link, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Your password is changed"));

    // Once only.
    let r = b.get(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::GONE);
    // Everything the old password opened has ended.
    let r = app
        .post_as(
            "/token",
            "web",
            &secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app
        .browser
        .get(authorize_url(&app, "web", &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert!(
        location(&r).contains("error=login_required"),
        "{}",
        location(&r)
    );
    assert_eq!(app.count("remembered_device").await, 0);
    let changed = app.audit_events("password.changed").await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].detail["how"], "email_link");
    let mails = app.mail_to("alice@example.com").await;
    assert!(
        mails
            .iter()
            .any(|m| m.contains("Subject: Your Ally password was changed"))
    );
    // The old password no longer works; the new one does.
    assert_eq!(
        app.submit_login("/login", "alice", PASSWORD).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.submit_login("/login", "alice", NEW_PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_reset_link_expires_after_30_minutes() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    let b = new_browser();
    post(
        &app,
        &b,
        "/forgot/password",
        &[("username", "alice"), ("method", "link")],
    )
    .await;
    let link = reset_link(&app, "alice@example.com").await;
    app.advance(31 * 60);
    let r = b.get(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::GONE);
    assert!(r.text().await.unwrap().contains("This link has expired"));
}

#[tokio::test]
async fn two_right_answers_reset_and_a_wrong_one_locks() {
    let app = TestApp::spawn_with(|c| c.lockout.other = LockPolicy::Temporary).await;
    app.add_user("alice").await;
    app.add_user("bob").await;
    set_questions(&app, "alice").await;
    set_questions(&app, "bob").await;
    // As the page shows them (HTML-escaped).
    let q: Vec<String> = app
        .state
        .config
        .questions
        .challenge
        .iter()
        .map(|x| x.replace('\'', "&#x27;"))
        .collect();

    // The questions page for a real user ID shows its questions; for an unknown one, two
    // plausible ones, the same each time.
    let b = new_browser();
    let html = questions_page(&app, &b, "alice").await;
    assert!(html.contains(&q[0]) && html.contains(&q[1]));
    let unknown = |html: &str| q.iter().filter(|x| html.contains(x.as_str())).count();
    let first = questions_page(&app, &b, "ghost").await;
    let again = questions_page(&app, &b, "ghost").await;
    assert_eq!(unknown(&first), 2);
    assert_eq!(hidden(&first, "csrf"), hidden(&again, "csrf"));
    assert_eq!(
        q.iter()
            .filter(|x| first.contains(x.as_str()))
            .collect::<Vec<_>>(),
        q.iter()
            .filter(|x| again.contains(x.as_str()))
            .collect::<Vec<_>>()
    );

    // Two right answers (in any case) lead to the new-password page.
    let ticket = hidden(&html, "ticket").unwrap();
    let r = post(
        &app,
        &b,
        "/forgot/password/answers",
        &[("ticket", &ticket), ("a1", " rex "), ("a2", "PARIS")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = app.url(&location(&r));
    let r = choose_password(&app, &b, &to, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.audit_events("password.changed").await[0].detail["how"],
        "challenge"
    );

    // One wrong answer locks bob's online access; an unknown user ID is told the same.
    let mut bodies = vec![];
    for user in ["bob", "ghost"] {
        let html = questions_page(&app, &b, user).await;
        let ticket = hidden(&html, "ticket").unwrap();
        let r = post(
            &app,
            &b,
            "/forgot/password/answers",
            &[("ticket", &ticket), ("a1", "Rex"), ("a2", "London")],
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        bodies.push(r.text().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1]);
    assert!(bodies[0].contains("1-866-766-4622"));
    let bob = app.account("bob").await;
    assert_eq!(bob.status, "locked");
    assert_eq!(app.audit_events("challenge.failed").await.len(), 2);
    // A forged ticket is refused outright.
    let r = post(
        &app,
        &b,
        "/forgot/password/answers",
        &[
            ("ticket", "Ym9i.9999999999.x"),
            ("a1", "Rex"),
            ("a2", "Paris"),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A verified reset lifts bob's temporary lock.
    post(
        &app,
        &b,
        "/forgot/password",
        &[("username", "bob"), ("method", "link")],
    )
    .await;
    let link = reset_link(&app, "bob@example.com").await;
    let r = choose_password(&app, &b, &link, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.submit_login("/login", "bob", NEW_PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let unlocked = app.audit_events("account.unlocked").await;
    assert_eq!(unlocked.last().unwrap().detail["why"], "password_reset");
}

#[tokio::test]
async fn a_reset_does_not_lift_a_lock_only_staff_lift() {
    let app = TestApp::spawn().await;
    app.add_user("dave").await;
    for _ in 0..5 {
        app.submit_login("/login", "dave", "wrong password").await;
    }
    let b = new_browser();
    post(
        &app,
        &b,
        "/forgot/password",
        &[("username", "dave"), ("method", "link")],
    )
    .await;
    let link = reset_link(&app, "dave@example.com").await;
    let r = choose_password(&app, &b, &link, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("still locked"), "{html}");
    assert_eq!(
        app.submit_login("/login", "dave", NEW_PASSWORD)
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}
