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
