use reqwest::{StatusCode, header};

use crate::helpers::{TestApp, rp};

#[tokio::test]
async fn discovery_is_valid_for_openidconnect_and_lists_only_what_exists() {
    let app = TestApp::spawn().await;
    let meta = rp::discover(&app).await;
    assert_eq!(meta.issuer().as_str(), app.issuer);
    assert_eq!(
        meta.additional_metadata().code_challenge_methods_supported,
        vec!["S256"]
    );
    assert!(
        meta.additional_metadata()
            .authorization_response_iss_parameter_supported
    );
    let raw: serde_json::Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(raw["request_uri_parameter_supported"], false);
    assert_eq!(
        raw["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256", "RS256", "EdDSA"])
    );
    // Back-Channel Logout 1.0 §2.1, Front-Channel Logout 1.0 §3.
    for k in [
        "backchannel_logout_supported",
        "backchannel_logout_session_supported",
        "frontchannel_logout_supported",
        "frontchannel_logout_session_supported",
    ] {
        assert_eq!(raw[k], true, "{k}");
    }
    // Every advertised endpoint answers (not 404).
    for k in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        let url = raw[k].as_str().unwrap();
        let r = app.http.get(url).send().await.unwrap();
        assert_ne!(r.status(), StatusCode::NOT_FOUND, "{k} {url}");
    }
}

#[tokio::test]
async fn oauth_metadata_and_jwks() {
    let app = TestApp::spawn().await;
    let r = app
        .http
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let meta: serde_json::Value = r.json().await.unwrap();
    assert_eq!(meta["issuer"], app.issuer);

    let r = app.http.get(app.url("/jwks")).send().await.unwrap();
    assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        "application/jwk-set+json"
    );
    let jwks: serde_json::Value = r.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    for k in keys {
        assert!(k["kid"].is_string());
        assert_eq!(k["use"], "sig");
        assert!(k.get("d").is_none(), "no private parts in the JWKS");
        assert!(k.get("p").is_none());
    }
}

#[tokio::test]
async fn private_keys_are_sealed_at_rest() {
    let app = TestApp::spawn().await;
    let keys = ally_idp::store::keys::list_published(&app.state.db)
        .await
        .unwrap();
    assert_eq!(keys.len(), 3);
    for k in keys {
        assert!(!k.private_key_sealed.contains("BEGIN"), "not PEM");
        assert!(!k.public_jwk.contains("\"d\""), "public part only");
        // DER of an EC/RSA/Ed25519 private key starts with 0x30 (SEQUENCE); sealed bytes are random.
        use base64::Engine;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&k.private_key_sealed)
            .unwrap();
        let sealer = ally_idp::crypto::seal::Sealer::new([0; 32]);
        assert!(
            sealer
                .open(&k.private_key_sealed, &format!("signing_key:{}", k.kid))
                .is_err(),
            "a wrong key cannot open it"
        );
        assert!(raw.len() > 28);
    }
}

#[tokio::test]
async fn unknown_paths_are_404_pages_with_security_headers() {
    let app = TestApp::spawn().await;
    let r = app.http.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
    assert!(
        r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(r.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn browser_applications_may_call_the_protocol_endpoints_cross_origin() {
    let app = TestApp::spawn().await;
    for path in [
        "/token",
        "/userinfo",
        "/revoke",
        "/introspect",
        "/jwks",
        "/.well-known/openid-configuration",
    ] {
        let r = app
            .http
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header(header::ORIGIN, "https://spa.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization,content-type",
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "preflight {path}: {}", r.status());
        assert_eq!(
            r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "*",
            "{path}"
        );
        assert!(
            r.headers()
                .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .is_none(),
            "never credentialed"
        );
    }
    // Actual responses (errors included) carry the header too.
    let r = app
        .http
        .post(app.url("/token"))
        .header(header::ORIGIN, "https://spa.example")
        .form(&[("grant_type", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    // Pages are not CORS resources.
    let r = app
        .http
        .get(app.url("/login"))
        .header(header::ORIGIN, "https://spa.example")
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}

/// A response's headers without the two that differ by request (`date`, `x-request-id`).
fn stable_headers(r: &reqwest::Response) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out = std::collections::BTreeMap::<String, Vec<String>>::new();
    for (k, v) in r.headers() {
        if k != header::DATE && k != "x-request-id" {
            out.entry(k.to_string())
                .or_default()
                .push(v.to_str().unwrap().to_owned());
        }
    }
    out
}

/// `web::documents` answers a plain GET of these before the router; a GET with a body still
/// goes through the router (and the envelope). Both must answer alike, header for header.
#[tokio::test]
async fn the_documents_answer_alike_before_and_through_the_router() {
    let app = TestApp::spawn().await;
    for path in [
        "/jwks",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let early = app.http.get(app.url(path)).send().await.unwrap();
        let routed = app.http.get(app.url(path)).body("x").send().await.unwrap();
        assert_eq!(early.status(), StatusCode::OK, "{path}");
        assert_eq!(routed.status(), StatusCode::OK, "{path}");
        assert_eq!(stable_headers(&early), stable_headers(&routed), "{path}");
        let (a, b) = (
            &early.headers()["x-request-id"],
            &routed.headers()["x-request-id"],
        );
        assert_eq!(a.len(), 12);
        assert_ne!(a, b, "a fresh request id each");
        assert_eq!(
            early.bytes().await.unwrap(),
            routed.bytes().await.unwrap(),
            "{path}"
        );
    }
    // HEAD is the router's too: the same headers, no body.
    let r = app.http.head(app.url("/jwks")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        "application/jwk-set+json"
    );
}

/// The envelope's limits hold for the documents too: an oversized header section is 431 and
/// an oversized body 413, as on every other route.
#[tokio::test]
async fn the_documents_keep_the_header_and_body_limits() {
    let app = TestApp::spawn().await;
    let http = &app.state.config.http;
    let r = app
        .http
        .get(app.url("/jwks"))
        .header("x-big", "a".repeat(http.max_header_bytes))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
    let r = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .body("a".repeat(http.max_body_bytes + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
