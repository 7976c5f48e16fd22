//! The help-desk console: an agent verifies the caller by their help-desk answer (match or
//! no match, nothing more), a few wrong answers lock verification, and only after a match,
//! for that agent and for a short time, can the agent unlock, send a reset link, set a
//! temporary password (changed at the next sign-in) or reactivate. Every step is audited
//! with the agent's identity.

use ally_idp::access::staff::StaffRole;
use reqwest::{Client, Response, StatusCode};

use crate::{
    admin::make_staff,
    helpers::{PASSWORD, TestApp, browser_for, hidden, location, new_browser},
    recovery::set_questions,
};

struct Desk {
    app: TestApp,
    agent: Client,
    dave: String,
}

async fn setup() -> Desk {
    let app = TestApp::spawn().await;
    app.add_user("agent").await;
    app.add_user("dave").await;
    make_staff(&app, "agent", StaffRole::Helpdesk, None).await;
    set_questions(&app, "dave").await;
    // Dealer staff: locked until the help desk unlocks.
    crate::protection::make_dealer(&app, "dave").await;
    for _ in 0..5 {
        app.submit_login("/login", "dave", "wrong password").await;
    }
    assert_eq!(app.account("dave").await.status, "locked");
    let agent = browser_for(&app, "agent").await;
    let dave = app.account("dave").await.id;
    Desk { app, agent, dave }
}

impl Desk {
    async fn page(&self) -> String {
        let r = self
            .agent
            .get(self.app.url(&format!("/admin/accounts/{}", self.dave)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.text().await.unwrap()
    }

    async fn post(&self, b: &Client, path: &str, form: &[(&str, &str)]) -> Response {
        let html = self.page().await;
        let csrf = hidden(&html, "csrf").unwrap();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(form);
        b.post(
            self.app
                .url(&format!("/admin/accounts/{}/{path}", self.dave)),
        )
        .form(&all)
        .send()
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn nothing_happens_before_the_caller_is_verified() {
    let d = setup().await;
    let html = d.page().await;
    assert!(html.contains("Check the answer"));
    assert!(!html.contains("Dune"), "the stored answer is never shown");
    assert!(html.contains("account.locked"), "recent events");
    for action in ["unlock", "reset-link", "temporary-password", "reactivate"] {
        let r = d.post(&d.agent, &format!("assist/{action}"), &[]).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{action}");
        assert!(r.text().await.unwrap().contains("Verify the caller first"));
    }
    assert_eq!(d.app.account("dave").await.status, "locked");
    assert!(d.app.audit_events("account.unlocked").await.is_empty());
    // The locked report lists dave; the inactive one does not (he is not due).
    let report = |which: &'static str| {
        let app = &d.app;
        let agent = &d.agent;
        async move {
            let r = agent
                .get(app.url(&format!("/admin/reports?which={which}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.text().await.unwrap()
        }
    };
    let locked = report("locked").await;
    assert!(
        locked.contains("<td>dave</td>") && locked.contains("until unlocked"),
        "{locked}"
    );
    assert!(!report("inactive").await.contains("<td>dave</td>"));
    d.app.add_user("plain").await;
    let plain = browser_for(&d.app, "plain").await;
    let r = plain.get(d.app.url("/admin/reports")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(d.app.audit_events("password.changed").await.is_empty());
}

#[tokio::test]
async fn a_match_lets_that_agent_unlock_for_a_while() {
    let d = setup().await;
    let app = &d.app;
    let r = d.post(&d.agent, "verify", &[("answer", "Dunes")]).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("No match. 2 more tries"));
    let r = d.post(&d.agent, "verify", &[("answer", "  DUNE ")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(location(&r).ends_with("?done=verified"));
    let html = d.page().await;
    assert!(html.contains("Caller verified"));
    let agent_id = app.account("agent").await.id;
    let verified = app.audit_events("helpdesk.caller_verified").await;
    assert_eq!(
        verified[0].actor.as_deref(),
        Some(format!("account:{agent_id}").as_str())
    );
    assert_eq!(
        app.audit_events("helpdesk.verification_failed").await.len(),
        1
    );

    // Another agent has not verified this caller.
    app.add_user("other").await;
    make_staff(app, "other", StaffRole::Helpdesk, None).await;
    let other = browser_for(app, "other").await;
    let page = other
        .get(app.url(&format!("/admin/accounts/{}", d.dave)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let r = other
        .post(app.url(&format!("/admin/accounts/{}/assist/unlock", d.dave)))
        .form(&[("csrf", hidden(&page, "csrf").unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A plain user cannot get near it.
    app.add_user("plain").await;
    let user = browser_for(app, "plain").await;
    let r = user
        .post(app.url(&format!("/admin/accounts/{}/verify", d.dave)))
        .form(&[("csrf", "x"), ("answer", "Dune")])
        .send()
        .await
        .unwrap();
    assert!(matches!(
        r.status(),
        StatusCode::FORBIDDEN | StatusCode::SEE_OTHER
    ));

    let r = d.post(&d.agent, "assist/unlock", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.account("dave").await.status, "active");
    let unlocked = app.audit_events("account.unlocked").await;
    assert_eq!(
        unlocked[0].actor.as_deref(),
        Some(format!("account:{agent_id}").as_str())
    );
    assert_eq!(unlocked[0].detail["why"], "helpdesk");
    assert_eq!(
        app.submit_login("/login", "dave", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );

    // The match lasts 15 minutes.
    app.advance(16 * 60);
    let r = d.post(&d.agent, "assist/reset-link", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_temporary_password_must_be_changed_at_the_next_sign_in() {
    let d = setup().await;
    let app = &d.app;
    d.post(&d.agent, "verify", &[("answer", "dune")]).await;
    d.post(&d.agent, "assist/unlock", &[]).await;
    let r = d.post(&d.agent, "assist/temporary-password", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let at = html.find("it is shown only now): ").unwrap() + "it is shown only now): ".len();
    let temp = html[at..at + 19].to_owned();
    assert_eq!(temp.len(), 19, "{temp}");
    let changed = app.audit_events("password.changed").await;
    assert_eq!(changed[0].detail["how"], "helpdesk");
    assert_eq!(changed[0].detail["temporary"], true);

    // Signing in with it leads to choosing a new one, not to a session.
    let b = new_browser();
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
            ("csrf", hidden(&page, "csrf").unwrap().as_str()),
            ("username", "dave"),
            ("password", temp.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    assert!(to.starts_with("/reset?token="), "{to}");
    assert!(
        app.audit_events("login.succeeded")
            .await
            .iter()
            .all(|e| e.target.as_deref() != Some(d.dave.as_str()))
    );
    let html = b
        .get(app.url(&to))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("set by the help desk"));
    let r = b
        .post(app.url("/reset"))
        .form(&[
            ("csrf", hidden(&html, "csrf").unwrap().as_str()),
            ("token", hidden(&html, "token").unwrap().as_str()),
            ("password", "violet harbour lantern 42"),
            ("password_confirm", "violet harbour lantern 42"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.submit_login("/login", "dave", "violet harbour lantern 42")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.submit_login("/login", "dave", &temp).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn three_wrong_answers_lock_verification() {
    let d = setup().await;
    for _ in 0..2 {
        let r = d.post(&d.agent, "verify", &[("answer", "wrong")]).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let r = d.post(&d.agent, "verify", &[("answer", "wrong")]).await;
    assert!(r.text().await.unwrap().contains("Verification is locked"));
    // Even the right answer is not checked now.
    let r = d.post(&d.agent, "verify", &[("answer", "Dune")]).await;
    assert!(r.text().await.unwrap().contains("Verification is locked"));
    assert!(
        d.app
            .audit_events("helpdesk.caller_verified")
            .await
            .is_empty()
    );
    // An hour later it may be tried again.
    // An hour later (the agent busy meanwhile, so their own session stays alive).
    for minutes in [29, 29, 3] {
        d.page().await;
        d.app.advance(minutes * 60);
    }
    let r = d.post(&d.agent, "verify", &[("answer", "Dune")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}
