//! Full flows driven by the openidconnect crate as a real relying party.

use openidconnect::{
    AccessTokenHash, AuthenticationFlow, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, Scope, TokenIntrospectionResponse, TokenResponse, core::CoreResponseType,
};
use reqwest::StatusCode;

use crate::helpers::{ClientSpec, TestApp, param, rp};
use ally_idp::{access::clients::GrantType, crypto::keyring::Alg};

struct Signed {
    access_token: openidconnect::AccessToken,
    refresh_token: Option<openidconnect::RefreshToken>,
    sub: String,
}

/// Authorization code + PKCE through the browser, then the exchange and full ID-token
/// validation by openidconnect.
async fn sign_in(app: &TestApp, client: &rp::Rp, username: &str) -> Signed {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let callback = app.authorize(url.as_str(), username).await;
    assert_eq!(
        param(&callback, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    // RFC 9207: the issuer comes back with the code.
    assert_eq!(
        param(&callback, "iss").as_deref(),
        Some(app.issuer.as_str())
    );
    let code = param(&callback, "code").expect("code");
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&app.http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("id token");
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).expect("valid ID token");
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().expect("alg"),
        id_token.signing_key(&verifier).expect("key"),
    )
    .expect("hash");
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));
    assert!(claims.auth_time().is_some());
    assert_eq!(
        claims
            .auth_method_refs()
            .map(|a| a.iter().map(|m| m.as_str().to_owned()).collect::<Vec<_>>()),
        Some(vec!["pwd".to_owned()])
    );
    assert!(claims.auth_context_ref().is_some());
    Signed {
        access_token: tokens.access_token().clone(),
        refresh_token: tokens.refresh_token().cloned(),
        sub: claims.subject().to_string(),
    }
}

/// RFC 7009 revocation over plain HTTP: openidconnect's revocation client insists on https
/// (`InsecureUrl`), which loopback tests cannot offer, so this one call is made directly.
async fn revoke(app: &TestApp, client_id: &str, secret: &str, token: &str) {
    let r = app
        .http
        .post(app.url("/revoke"))
        .basic_auth(client_id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn code_flow_with_pkce_id_token_and_userinfo() {
    let app = TestApp::spawn().await;
    let secret = app
        .add_client(ClientSpec::confidential("web"))
        .await
        .unwrap();
    let sub = app.add_user("alice").await;
    let client = rp::client(&app, "web", Some(&secret)).await;
    let signed = sign_in(&app, &client, "alice").await;
    assert_eq!(signed.sub, sub);

    let info: openidconnect::core::CoreUserInfoClaims = client
        .user_info(signed.access_token.clone(), None)
        .expect("userinfo endpoint")
        .request_async(&app.http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject().as_str(), sub);
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("alice"));

    // The access token is an RFC 9068 JWT.
    let header: serde_json::Value = {
        use base64::Engine;
        let h = signed.access_token.secret().split('.').next().unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
}

#[tokio::test]
async fn rs256_and_eddsa_id_tokens_verify() {
    let app = TestApp::spawn().await;
    app.add_user("alice").await;
    for (id, alg) in [("rsa-app", Alg::Rs256), ("ed-app", Alg::EdDsa)] {
        let secret = app
            .add_client(ClientSpec {
                alg,
                ..ClientSpec::confidential(id)
            })
            .await
            .unwrap();
        let client = rp::client(&app, id, Some(&secret)).await;
        // The second client is reached by single sign-on, without a login screen.
        sign_in(&app, &client, "alice").await;
    }
}

#[tokio::test]
async fn refresh_rotates_and_introspection_and_revocation_work() {
    let app = TestApp::spawn().await;
    let secret = app
        .add_client(ClientSpec::confidential("web"))
        .await
        .unwrap();
    app.add_user("alice").await;
    let client = rp::client(&app, "web", Some(&secret)).await;
    let signed = sign_in(&app, &client, "alice").await;
    let rt1 = signed.refresh_token.expect("refresh token");

    let intro = client
        .introspect(&signed.access_token)
        .request_async(&app.http)
        .await
        .expect("introspect");
    assert!(intro.active());
    assert_eq!(intro.client_id().map(|c| c.as_str()), Some("web"));

    let refreshed = client
        .exchange_refresh_token(&rt1)
        .expect("token")
        .request_async(&app.http)
        .await
        .expect("refresh");
    let rt2 = refreshed.refresh_token().expect("rotated").clone();
    assert_ne!(rt1.secret(), rt2.secret());
    // OIDC Core §12.2: a refreshed ID token keeps sub and aud; openidconnect validates it.
    let id = refreshed.id_token().expect("id token");
    let claims = id
        .claims(&client.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
        .expect("valid");
    assert_eq!(claims.subject().as_str(), signed.sub);

    // Revoking the refresh token kills the family: the new access token goes inactive too.
    revoke(&app, "web", &secret, rt2.secret()).await;
    let intro = client
        .introspect(refreshed.access_token())
        .request_async(&app.http)
        .await
        .unwrap();
    assert!(!intro.active());
    let err = client
        .exchange_refresh_token(&rt2)
        .unwrap()
        .request_async(&app.http)
        .await;
    assert!(err.is_err(), "revoked refresh token is refused");
}

#[tokio::test]
async fn access_token_revocation_deactivates_it() {
    let app = TestApp::spawn().await;
    let secret = app
        .add_client(ClientSpec::confidential("web"))
        .await
        .unwrap();
    app.add_user("alice").await;
    let client = rp::client(&app, "web", Some(&secret)).await;
    let signed = sign_in(&app, &client, "alice").await;
    // Asked about once before (so the node keeps the answers, see oidc::answer_cache):
    // the revocation must still apply to the very next question.
    let userinfo = || {
        app.http
            .get(app.url("/userinfo"))
            .bearer_auth(signed.access_token.secret())
            .send()
    };
    assert!(
        client
            .introspect(&signed.access_token)
            .request_async(&app.http)
            .await
            .unwrap()
            .active()
    );
    assert_eq!(userinfo().await.unwrap().status(), StatusCode::OK);
    revoke(&app, "web", &secret, signed.access_token.secret()).await;
    assert!(
        !client
            .introspect(&signed.access_token)
            .request_async(&app.http)
            .await
            .unwrap()
            .active()
    );
    assert_eq!(userinfo().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn client_credentials() {
    let app = TestApp::spawn().await;
    let secret = app
        .add_client(ClientSpec {
            grant_types: vec![GrantType::ClientCredentials],
            ..ClientSpec::confidential("svc")
        })
        .await
        .unwrap();
    let client = rp::client(&app, "svc", Some(&secret)).await;
    let tokens = client
        .exchange_client_credentials()
        .expect("token")
        .request_async(&app.http)
        .await
        .expect("cc");
    assert!(tokens.refresh_token().is_none());
    assert!(tokens.id_token().is_none());
    let intro = client
        .introspect(tokens.access_token())
        .request_async(&app.http)
        .await
        .unwrap();
    assert!(intro.active());
    assert_eq!(intro.sub(), Some("svc"));
    // No user, so no UserInfo: the token lacks the openid scope.
    let r = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // User scopes cannot be asked for without a user.
    let err = client
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new("openid".into()))
        .request_async(&app.http)
        .await;
    assert!(format!("{err:?}").contains("invalid_scope"), "{err:?}");
}

#[tokio::test]
async fn public_client_uses_pkce_without_a_secret() {
    let app = TestApp::spawn().await;
    assert!(
        app.add_client(ClientSpec {
            public: true,
            ..ClientSpec::confidential("spa")
        })
        .await
        .is_none()
    );
    app.add_user("alice").await;
    let client = rp::client(&app, "spa", None).await;
    let signed = sign_in(&app, &client, "alice").await;
    assert!(signed.refresh_token.is_some());
}
