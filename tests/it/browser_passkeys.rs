//! Passkeys in headless Chromium with a WebDriver virtual authenticator (a platform
//! authenticator that verifies the user, as a fingerprint reader would): add one in the
//! settings, sign in to an application that requires MFA with the passkey alone, then use
//! it as the second step after a password.

use ally_idp::access::clients::MfaPolicy;

use crate::helpers::{ClientSpec, PASSWORD, TestApp, authorize_url, browser::Browser};

async fn wait_for_callback(b: &Browser) -> url::Url {
    for _ in 0..100 {
        let url = b.url().await;
        if url.as_str().contains("/portal/callback") {
            return url;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let url = b.url().await;
    panic!("never reached the application; at {url}");
}

#[tokio::test]
async fn a_cardholder_adds_a_passkey_and_signs_in_with_it_alone() {
    let app = TestApp::spawn_on_localhost().await;
    app.add_client(ClientSpec {
        mfa: Some(MfaPolicy::Required),
        ..ClientSpec::confidential("portal")
    })
    .await;
    app.add_user("carla").await;
    let b = Browser::launch().await;
    let authenticator = b.add_virtual_authenticator().await;

    // Settings: name the passkey, add it; the first factor comes with recovery codes.
    b.goto(&app.url("/login?next=/account/security")).await;
    b.sign_in("carla", PASSWORD).await;
    b.wait_for_text("Passkeys").await;
    b.fill("pk-name", "This laptop").await;
    b.click("#passkey-add button[type=submit]").await;
    b.wait_for_text("Your passkey is saved.").await;
    b.click("a.button").await;
    let html = b.wait_for_text("This laptop").await;
    assert!(html.contains("not used yet"));
    b.screenshot("34-passkey-settings").await;
    let held = b.virtual_credentials(&authenticator).await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["isResidentCredential"], true, "discoverable");
    assert_eq!(held[0]["rpId"], "localhost");

    // The sign-in page on a phone, in a browser without passkeys: a button, and the
    // user ID field offers passkeys in its autofill.
    let phone = Browser::launch().await;
    phone.resize(390, 844).await;
    phone.goto(&authorize_url(&app, "portal", &[])).await;
    let html = phone.wait_for_text("Sign in with a passkey").await;
    assert!(html.contains(r#"autocomplete="username webauthn""#));
    phone.screenshot("35-login-with-passkey-phone").await;
    phone.close().await;

    // Signed out, on the laptop: the autofill (conditional mediation) offers the passkey
    // and the virtual authenticator, like a person, picks it: no user ID, no password.
    b.clear_cookies().await;
    b.resize(390, 844).await;
    // The page may end at the (unserved) callback before the navigation command returns,
    // which WebDriver reports as a connection error: the URL below is what counts.
    let _ = b.client.goto(&authorize_url(&app, "portal", &[])).await;
    let arrived = wait_for_callback(&b).await;
    assert!(arrived.as_str().contains("code="), "{arrived}");
    let logins = app.audit_events("login.succeeded").await;
    assert_eq!(logins.len(), 2);
    let amr = logins[1].detail["amr"].clone();
    assert!(
        amr == serde_json::json!(["hwk", "user", "mfa"])
            || amr == serde_json::json!(["swk", "user", "mfa"]),
        "{amr}"
    );

    // On a second device: the password, then the passkey as the second step. (The
    // passkey is copied in only on the second-factor page: on the sign-in page the
    // autofill would already have used it.)
    let other = Browser::launch().await;
    other.resize(390, 844).await;
    other.goto(&authorize_url(&app, "portal", &[])).await;
    other.wait_for_text("to continue to").await;
    other.sign_in("carla", PASSWORD).await;
    other.wait_for_text("Use a passkey").await;
    other.screenshot("36-second-factor-passkey-phone").await;
    let synced = other.add_virtual_authenticator().await;
    let held = b.virtual_credentials(&authenticator).await;
    other.add_virtual_credential(&synced, &held[0]).await;
    other.click("#passkey-form button[type=submit]").await;
    let arrived = wait_for_callback(&other).await;
    assert!(arrived.as_str().contains("code="), "{arrived}");
    let logins = app.audit_events("login.succeeded").await;
    assert_eq!(logins.len(), 3);
    assert_eq!(logins[2].detail["amr"][0], "pwd");
    assert_eq!(logins[2].detail["amr"][3], "mfa");
    other.close().await;
    b.close().await;
}
