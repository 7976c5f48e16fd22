//! The recovery screens in headless Chromium on a phone: from the sign-in page to "Forgot
//! password?", the e-mailed link, the new-password page and signing in with the new
//! password; and "Forgot user ID?".

use crate::helpers::{PASSWORD, TestApp, browser::Browser};

#[tokio::test]
async fn a_cardholder_resets_a_forgotten_password_from_the_sign_in_page() {
    let app = TestApp::spawn().await;
    app.add_user("carla").await;
    let b = Browser::launch().await;
    b.resize(390, 844).await;
    b.goto(&app.url("/login")).await;
    b.click("a[href='/forgot/password']").await;
    b.wait_for_text("Forgot your password?").await;
    b.fill("username", "carla").await;
    b.screenshot("37-forgot-password-phone").await;
    b.click("button[type=submit]").await;
    b.wait_for_text("Check your e-mail").await;
    b.screenshot("38-reset-link-sent-phone").await;

    let mail = app.mail_to("carla@example.com").await;
    let mail = mail.last().unwrap();
    let at = mail.find("http").unwrap();
    let link: String = mail[at..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"')
        .collect();
    b.goto(&link).await;
    b.wait_for_text("Choose a new password").await;
    b.fill("new-password", PASSWORD).await;
    b.fill("password-confirm", PASSWORD).await;
    b.click("button[type=submit]").await;
    b.wait_for_text("not among your last 5").await;
    b.screenshot("39-new-password-refused-phone").await;
    b.fill("new-password", "violet harbour lantern 42").await;
    b.fill("password-confirm", "violet harbour lantern 42")
        .await;
    b.click("button[type=submit]").await;
    b.wait_for_text("Your password is changed").await;
    b.click("a[href='/login']").await;
    b.wait_for_text("Forgot user ID?").await;
    b.sign_in("carla", "violet harbour lantern 42").await;
    b.wait_for_text("carla").await;

    b.goto(&app.url("/forgot/user-id")).await;
    b.wait_for_text("Forgot your user ID?").await;
    b.screenshot("40-forgot-user-id-phone").await;
    b.close().await;
}

#[tokio::test]
async fn a_help_desk_agent_verifies_the_caller_and_unlocks() {
    use ally_idp::access::staff::StaffRole;
    let app = TestApp::spawn().await;
    app.add_user("agent").await;
    app.add_user("dave").await;
    crate::admin::make_staff(&app, "agent", StaffRole::Helpdesk, None).await;
    crate::recovery::set_questions(&app, "dave").await;
    for _ in 0..5 {
        app.submit_login("/login", "dave", "wrong password").await;
    }
    let dave = app.account("dave").await;
    let b = Browser::launch().await;
    b.goto(&app.url(&format!("/login?next=/admin/accounts/{}", dave.id)))
        .await;
    b.sign_in("agent", PASSWORD).await;
    b.wait_for_text("Check the answer").await;
    b.fill("answer", "wrong").await;
    b.click("form[action$='/verify'] button").await;
    b.wait_for_text("No match.").await;
    b.screenshot("41-helpdesk-no-match").await;
    b.fill("answer", "dune").await;
    b.click("form[action$='/verify'] button").await;
    b.wait_for_text("Caller verified").await;
    b.screenshot("42-helpdesk-verified").await;
    b.click("form[action$='/assist/unlock'] button").await;
    b.wait_for_text("The user ID is unlocked.").await;
    b.close().await;
}
