//! Inactivity with a controlled clock: the periodic pass warns 7 days ahead (once) and then
//! deactivates, sign-in applies the same rule when the pass has not run, an account that
//! never signed in counts from its activation, reactivation restarts the clock, and a kind
//! of account can be exempt.

use ally_idp::{
    accounts::{inactivity, lifecycle},
    audit::{Actor, RequestContext},
};
use reqwest::StatusCode;

use crate::helpers::{PASSWORD, TestApp};

async fn pass(app: &TestApp) -> inactivity::Pass {
    inactivity::run(
        &app.state.db,
        &app.state.config.inactivity,
        app.state.clock.now(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_periodic_pass_warns_once_then_deactivates() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    // Signed in today: the 60 days count from here.
    assert_eq!(
        app.submit_login("/login", "alice", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    app.advance(52 * 86_400);
    assert_eq!(pass(&app).await, inactivity::Pass::default(), "not yet");
    app.advance(2 * 86_400);
    assert_eq!(pass(&app).await.warned, 1);
    assert_eq!(pass(&app).await.warned, 0, "once per idle stretch");
    let mails = app.mail_to("alice@example.com").await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("Subject: Your Ally user ID will be deactivated soon"));
    app.advance(6 * 86_400 + 1);
    assert_eq!(pass(&app).await.deactivated, 1);
    assert_eq!(app.account("alice").await.status, "deactivated");
    let ev = app.audit_events("account.deactivated").await;
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].detail["reason"], "inactive for 60 days");
    // The right password now only says the user ID is deactivated.
    let r = app.submit_login("/login", "alice", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("deactivated"));
}

#[tokio::test]
async fn sign_in_applies_the_rule_when_the_pass_has_not_run_and_reactivation_restarts_it() {
    let app = TestApp::spawn().await;
    // Never signed in: counts from its activation.
    app.add_user("bob").await;
    app.advance(61 * 86_400);
    let r = app.submit_login("/login", "bob", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("deactivated"));
    assert_eq!(app.account("bob").await.status, "deactivated");
    assert_eq!(app.audit_events("account.deactivated").await.len(), 1);
    assert!(app.audit_events("login.succeeded").await.is_empty());

    // Reactivated: the clock starts again, although the last sign-in is long ago.
    let bob = app.account("bob").await;
    lifecycle::reactivate(
        &app.state.db,
        app.state.clock.now(),
        &RequestContext::default(),
        Actor::Cli,
        &bob.id,
    )
    .await
    .unwrap();
    assert_eq!(pass(&app).await, inactivity::Pass::default());
    assert_eq!(
        app.submit_login("/login", "bob", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_kind_of_account_can_be_exempt() {
    let app = TestApp::spawn_with(|c| c.inactivity.other_days = 0).await;
    app.add_user("ops").await;
    app.advance(400 * 86_400);
    assert_eq!(pass(&app).await, inactivity::Pass::default());
    assert_eq!(
        app.submit_login("/login", "ops", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}
