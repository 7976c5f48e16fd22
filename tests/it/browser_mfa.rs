//! Second factors in headless Chromium: set up an authenticator app in the settings, then
//! sign in to an application that requires MFA, with the code and "remember this device".

use ally_idp::{access::clients::MfaPolicy, authn::mfa::totp};

use crate::helpers::{ClientSpec, PASSWORD, TestApp, authorize_url, browser::Browser};

#[tokio::test]
async fn a_cardholder_sets_up_an_authenticator_app_and_signs_in_with_it() {
    let app = TestApp::spawn().await;
    app.add_client(ClientSpec {
        mfa: Some(MfaPolicy::Required),
        ..ClientSpec::confidential("portal")
    })
    .await;
    app.add_user("carla").await;
    let b = Browser::launch().await;

    // Settings: set up the app from the QR page (the key is shown as text too).
    b.goto(&app.url("/login?next=/account/security")).await;
    b.sign_in("carla", PASSWORD).await;
    b.wait_for_text("Sign-in and security").await;
    b.screenshot("30-security-settings").await;
    b.click("form[action='/account/security/totp'] button")
        .await;
    // A text only the set-up page has (the settings page has the button's words too).
    let html = b.wait_for_text("class=\"secret\"").await;
    b.screenshot("31-totp-setup").await;
    let start = html.find("class=\"secret\">").unwrap() + "class=\"secret\">".len();
    let secret = html[start..start + html[start..].find('<').unwrap()].to_owned();
    let seed = totp_rs::Secret::Encoded(secret).to_bytes().unwrap();
    b.fill(
        "code",
        &totp::code_at(&seed, app.state.clock.now()).unwrap(),
    )
    .await;
    b.click("button[type=submit]").await;
    b.wait_for_text("This is the only time we show them").await;
    b.screenshot("32-recovery-codes").await;
    app.advance(30);

    // An application that requires MFA: the password, then the code.
    let signed_out = Browser::launch().await;
    b.close().await;
    signed_out.resize(390, 844).await;
    signed_out.goto(&authorize_url(&app, "portal", &[])).await;
    signed_out.wait_for_text("to continue to").await;
    signed_out.sign_in("carla", PASSWORD).await;
    signed_out.wait_for_text("Confirm it").await;
    signed_out.fill("code", "000000").await;
    signed_out
        .click("form:not(.actions) button[type=submit]")
        .await;
    signed_out.wait_for_text("That code is not right").await;
    signed_out.screenshot("33-second-factor-error-phone").await;
    signed_out
        .fill(
            "code",
            &totp::code_at(&seed, app.state.clock.now()).unwrap(),
        )
        .await;
    signed_out.click("#remember").await;
    signed_out
        .click("form:not(.actions) button[type=submit]")
        .await;
    for _ in 0..50 {
        if signed_out.url().await.as_str().contains("/portal/callback") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let arrived = signed_out.url().await;
    assert!(
        arrived.as_str().contains("/portal/callback?code="),
        "{arrived}"
    );
    assert_eq!(app.audit_events("mfa.device_remembered").await.len(), 1);
    signed_out.close().await;
}
