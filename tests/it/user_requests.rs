//! The User ID Request form (add/remove access, deactivate, reactivate), its review, and the
//! reactivation a deactivated user reaches from the sign-in page after their challenge
//! questions.

use ally_idp::{
    access::grants::{self, NewGrant},
    accounts::questions::{self, Answer, SecurityAnswers},
    audit::{Actor, RequestContext},
    store,
};
use reqwest::StatusCode;
use secrecy::SecretString;

use crate::{
    helpers::{
        PASSWORD, TestApp, authorize_url, browser_for, exchange_code, hidden, location,
        new_browser, param,
    },
    register::{dealer_setup, get, post},
};

/// A dealer user of Main Street Motors with SmartCash, challenge questions and a phone.
async fn dealer_user(app: &TestApp, username: &str) -> String {
    let id = app.add_user(username).await;
    let org = store::access::find_org_by_pdn(&app.state.db, "12345")
        .await
        .unwrap()
        .unwrap();
    use sea_orm::{ConnectionTrait, Statement};
    app.state
        .db
        .execute_raw(Statement::from_sql_and_values(
            app.state.db.get_database_backend(),
            "UPDATE account SET org_id = $1, phone = $2, job_role = $3 WHERE id = $4",
            [
                org.id.into(),
                "555-010-2030".into(),
                "Finance".into(),
                id.clone().into(),
            ],
        ))
        .await
        .unwrap();
    let now = app.state.clock.now();
    grants::add(
        &app.state.db,
        now,
        &RequestContext::default(),
        Actor::Cli,
        NewGrant {
            account_id: id.clone(),
            client_id: "smartcash".into(),
            roles: vec![],
            expires_at: None,
        },
    )
    .await
    .unwrap();
    let a = |q: &str, x: &str| Answer {
        question: q.into(),
        answer: SecretString::from(x.to_owned()),
    };
    questions::set(
        &app.state.db,
        &app.state.passwords,
        now,
        &id,
        &SecurityAnswers {
            challenge: [
                a("What is your mother's maiden name?", "Smith"),
                a("What was the name of your first pet?", "Rex"),
            ],
            helpdesk: a("What is your favorite book?", "Dune"),
        },
        &app.state.config.questions,
    )
    .await
    .unwrap();
    id
}

fn details<'a>() -> Vec<(&'a str, &'a str)> {
    vec![
        ("dealership_name", "Main Street Motors"),
        ("pdn", "12345"),
        ("given_name", "Test"),
        ("family_name", "User"),
        ("email", "rick@example.com"),
        ("phone", "555-010-2030"),
        ("job_role", "Finance"),
    ]
}

fn with<'a>(
    mut f: Vec<(&'a str, &'a str)>,
    key: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    f.retain(|(k, _)| *k != key);
    f.push((key, value));
    f
}

#[tokio::test]
async fn a_user_files_requests_that_reviewers_apply_atomically() {
    let app = TestApp::spawn().await;
    dealer_setup(&app).await;
    let rick = dealer_user(&app, "rick").await;
    // Signed out, the form sends you to sign in first.
    let r = new_browser()
        .get(app.url("/account/requests"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/login?next=/account/requests");

    let b = browser_for(&app, "rick").await;
    let home = get(&b, &app, "/").await;
    assert!(
        home.contains("/account/requests"),
        "reachable from the account page"
    );
    let page = get(&b, &app, "/account/requests").await;
    // Prefilled with what we know; reactivation is not offered to an active user.
    assert!(page.contains("Main Street Motors") && page.contains("555-010-2030"));
    assert!(!page.contains("value=\"reactivate\""));

    let requests_before = app.count("access_request").await;
    let bad: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            [&[("kind", "remove_access")][..], &details()].concat(),
            "choose an application",
        ),
        (
            [
                &[("kind", "remove_access"), ("app", "smartauction")][..],
                &details(),
            ]
            .concat(),
            "does not have access",
        ),
        (
            [&[("kind", "access"), ("app", "smartcash")][..], &details()].concat(),
            "already has access",
        ),
        (
            with(
                [&[("kind", "deactivate")][..], &details()].concat(),
                "phone",
                "",
            ),
            "Business phone is required",
        ),
        (
            with(
                [&[("kind", "deactivate")][..], &details()].concat(),
                "job_role",
                "",
            ),
            "Role is required",
        ),
        (
            with(
                [&[("kind", "deactivate")][..], &details()].concat(),
                "pdn",
                "1234",
            ),
            "exactly 5 digits",
        ),
        (
            with(
                [&[("kind", "deactivate")][..], &details()].concat(),
                "pdn",
                "99999",
            ),
            "not this user&#x27;s dealership",
        ),
        (
            [&[("kind", "reactivate")][..], &details()].concat(),
            "kind of request",
        ),
        (details(), "kind of request"),
    ];
    for (form, message) in bad {
        let (status, html) = post(&b, &app, "/account/requests", &page, &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        assert!(html.contains(message), "{message}: {html}");
        assert_eq!(app.count("access_request").await, requests_before);
    }

    // Remove SmartCash: filed once even if submitted twice, with the form's details.
    let form = [
        &[("kind", "remove_access"), ("app", "smartcash")][..],
        &details(),
    ]
    .concat();
    let (status, html) = post(&b, &app, "/account/requests", &page, &form).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Request sent"));
    post(&b, &app, "/account/requests", &page, &form).await;
    let pending = store::access::list_requests(&app.state.db, Some("pending"), None)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].kind, "remove_access");
    assert_eq!(
        pending[0].details.as_ref().unwrap()["job_role"],
        "Finance",
        "the details travel with the request"
    );

    // The dealer_admin approves: the grant is revoked, audited, and Rick is e-mailed.
    let dana = browser_for(&app, "dana").await;
    let queue = get(&dana, &app, "/admin/requests").await;
    assert!(queue.contains("removal of access to"), "{queue}");
    let path = format!("/admin/requests/{}/approve", pending[0].id);
    let (status, _) = post(&dana, &app, &path, &queue, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let g = store::access::find_grant(&app.state.db, &rick, "smartcash")
        .await
        .unwrap()
        .unwrap();
    assert!(g.revoked_at.is_some());
    assert_eq!(app.audit_events("grant.revoked").await.len(), 1);
    let mails = store::mail::list(&app.state.db).await.unwrap();
    assert!(
        mails
            .iter()
            .any(|m| m.to_addr == "rick@example.com" && m.params["kind"] == "remove_access")
    );
}

#[tokio::test]
async fn deactivation_ends_sessions_and_tokens_and_reactivation_needs_the_answers() {
    let app = TestApp::spawn().await;
    dealer_setup(&app).await;
    let secret = app
        .add_client(crate::helpers::ClientSpec::confidential("web"))
        .await
        .unwrap();
    let rick = dealer_user(&app, "rick").await;
    // Rick holds a session and a refresh token.
    let to = app
        .authorize(&authorize_url(&app, "web", &[]), "rick")
        .await;
    let t: serde_json::Value = exchange_code(&app, "web", &secret, &param(&to, "code").unwrap())
        .await
        .json()
        .await
        .unwrap();
    let refresh = t["refresh_token"].as_str().unwrap().to_owned();

    // His dealer_admin files the deactivation for him (an employee who left) and approves.
    let dana = browser_for(&app, "dana").await;
    let page = get(&dana, &app, "/account/requests?for=rick").await;
    assert!(page.contains("For <strong>rick</strong>"));
    let form = [
        &[("for", "rick"), ("kind", "deactivate"), ("reason", "left")][..],
        &details(),
    ]
    .concat();
    let (status, _) = post(&dana, &app, "/account/requests", &page, &form).await;
    assert_eq!(status, StatusCode::OK);
    // Someone outside the dealership is not found; a non-reviewer cannot file for others.
    app.add_user("outsider").await;
    let r = dana
        .get(app.url("/account/requests?for=outsider"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let plain = browser_for(&app, "outsider").await;
    let r = plain
        .get(app.url("/account/requests?for=rick"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let req = store::access::list_requests(&app.state.db, Some("pending"), None)
        .await
        .unwrap()
        .remove(0);
    let queue = get(&dana, &app, "/admin/requests").await;
    let (status, _) = post(
        &dana,
        &app,
        &format!("/admin/requests/{}/approve", req.id),
        &queue,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let account = store::accounts::find_by_id(&app.state.db, &rick)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.status, "deactivated");
    assert!(
        store::sessions::live_for_account(&app.state.db, &rick, app.state.clock.now())
            .await
            .unwrap()
            .is_empty(),
        "sessions ended"
    );
    let r = app
        .post_as(
            "/token",
            "web",
            &secret,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "refresh token revoked");
    let audit = app.audit_events("account.deactivated").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].detail["sessions_ended"], 1);

    // Signing in with the right password: told the user ID is deactivated, offered reactivation.
    let b = new_browser();
    let login = get(&b, &app, "/login").await;
    let (status, html) = post(
        &b,
        &app,
        "/login",
        &login,
        &[("username", "rick"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("deactivated") && html.contains("Request reactivation"));
    let ticket = hidden(&html, "ticket").expect("reactivation ticket");
    // A wrong password earns no ticket.
    let (_, wrong) = post(
        &b,
        &app,
        "/login",
        &login,
        &[
            ("username", "rick"),
            ("password", "not the password at all"),
        ],
    )
    .await;
    assert!(hidden(&wrong, "ticket").is_none());

    let (status, page) = post(&b, &app, "/reactivate", &html, &[("ticket", &ticket)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("What is your mother&#x27;s maiden name?") || page.contains("mother"));
    let answer = |a1: &'static str, a2: &'static str| {
        [
            &[
                ("ticket", ticket.as_str()),
                ("step", "answer"),
                ("a1", a1),
                ("a2", a2),
            ][..],
            &details(),
        ]
        .concat()
    };
    let before = app.count("access_request").await;
    let (status, html) = post(&b, &app, "/reactivate", &page, &answer("Smith", "Fido")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("do not match"));
    assert_eq!(app.count("access_request").await, before);
    assert_eq!(app.audit_events("challenge.failed").await.len(), 1);
    // The challenge counts per record and per address; the wrong password above counts
    // toward rick's sign-in lockout.
    assert_eq!(
        app.count("attempt_counter").await,
        3,
        "record, address and sign-in"
    );
    // A forged ticket is refused.
    let forged = [
        &[("ticket", "cmljaw.99999999999.x"), ("step", "answer")][..],
        &details(),
    ]
    .concat();
    let (status, html) = post(&b, &app, "/reactivate", &page, &forged).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("expired"));
    // Right answers (any case and spacing) file the request.
    let (status, html) = post(&b, &app, "/reactivate", &page, &answer(" smith ", "REX")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let req = store::access::list_requests(&app.state.db, Some("pending"), None)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(req.kind, "reactivate");
    let queue = get(&dana, &app, "/admin/requests").await;
    let (status, _) = post(
        &dana,
        &app,
        &format!("/admin/requests/{}/approve", req.id),
        &queue,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let r = app.submit_login("/login", "rick", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "active again");
    assert_eq!(app.audit_events("account.reactivated").await.len(), 1);
}

#[tokio::test]
async fn reactivation_answers_are_limited_per_user_id() {
    let app = TestApp::spawn_with(|c| c.registration.max_failures_per_record = 2).await;
    dealer_setup(&app).await;
    let rick = dealer_user(&app, "rick").await;
    ally_idp::accounts::lifecycle::deactivate(
        &app.state.db,
        app.state.clock.now(),
        &RequestContext::default(),
        Actor::Cli,
        &rick,
        "test",
    )
    .await
    .unwrap();
    let b = new_browser();
    let login = get(&b, &app, "/login").await;
    let (_, html) = post(
        &b,
        &app,
        "/login",
        &login,
        &[("username", "rick"), ("password", PASSWORD)],
    )
    .await;
    let ticket = hidden(&html, "ticket").unwrap();
    let answer = |a2: &'static str| {
        [
            &[
                ("ticket", ticket.as_str()),
                ("step", "answer"),
                ("a1", "Smith"),
                ("a2", a2),
            ][..],
            &details(),
        ]
        .concat()
    };
    for _ in 0..2 {
        let (status, _) = post(&b, &app, "/reactivate", &html, &answer("nope")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (status, _) = post(&b, &app, "/reactivate", &html, &answer("Rex")).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "locked even with the right answers"
    );
    assert_eq!(app.count("access_request").await, 0);
}
