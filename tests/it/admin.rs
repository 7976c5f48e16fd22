//! Administration: the role checks on every route (walking the route table), CSRF on every
//! staff form, dealer_admin scoping, audit events, and the API with its OpenAPI document.

use ally_idp::{
    access::{clients::AccessPolicy, orgs, requests, staff},
    audit::{Actor, RequestContext},
};
use reqwest::{Method, StatusCode, header};

use crate::helpers::{ClientSpec, TestApp, browser_for, hidden, location};

/// A CSRF token for a signed-in browser (any page with a form will do).
async fn csrf_of(app: &TestApp, b: &reqwest::Client) -> String {
    let page = b
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    hidden(&page, "csrf").unwrap()
}

fn concrete(path: &str) -> String {
    path.replace("{client_id}", "web")
        .replace("{account_id}", "nobody")
        .replace("{id}", "nothing")
        .replace("{action}", "unlock")
}

pub(crate) async fn make_staff(
    app: &TestApp,
    username: &str,
    role: staff::StaffRole,
    pdn: Option<&str>,
) {
    staff::add_role(
        &app.state.db,
        app.state.clock.now(),
        &RequestContext::default(),
        Actor::Cli,
        username,
        role,
        pdn,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn every_admin_route_refuses_non_staff() {
    let app = TestApp::spawn().await;
    app.add_client(ClientSpec {
        service_scopes: vec!["ally:admin".into()],
        ..ClientSpec::confidential("web")
    })
    .await;
    app.add_user("mallory").await;
    let routes = ally_idp::admin::route_table();
    assert!(
        routes.len() >= 25,
        "the table lists every route ({})",
        routes.len()
    );
    let anon = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let user = browser_for(&app, "mallory").await;
    let token = user_token_with_admin_scope(&app, &user).await;
    let csrf = csrf_of(&app, &user).await;
    for (method, path) in routes {
        let url = app.url(&concrete(path));
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        if path.starts_with("/admin") {
            let r = anon.request(m.clone(), &url).send().await.unwrap();
            if method == "GET" {
                assert!(
                    location(&r).starts_with("/login?next="),
                    "{method} {path} anonymous"
                );
            } else {
                assert!(
                    r.status().is_redirection() || r.status() == StatusCode::FORBIDDEN,
                    "{method} {path} anonymous: {}",
                    r.status()
                );
            }
            let r = user
                .request(m, &url)
                .form(&[("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                StatusCode::FORBIDDEN,
                "{method} {path} as a non-staff account"
            );
        } else {
            let r = anon.request(m.clone(), &url).send().await.unwrap();
            assert_eq!(
                r.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} without a token"
            );
            assert_eq!(
                r.json::<serde_json::Value>().await.unwrap()["code"],
                "unauthenticated"
            );
            // A valid ally:admin token of a person without a staff role is still refused.
            let r = anon
                .request(m, &url)
                .bearer_auth(&token)
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status(),
                StatusCode::FORBIDDEN,
                "{method} {path} as a non-staff token"
            );
            assert_eq!(
                r.json::<serde_json::Value>().await.unwrap()["code"],
                "forbidden"
            );
        }
    }
    // The same person's token works once they are made a staff member: roles are checked
    // at call time, not baked into the token.
    make_staff(&app, "mallory", staff::StaffRole::Admin, None).await;
    let r = anon
        .get(app.url("/api/v1/clients"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    // The OpenAPI document is public and parses.
    let doc: serde_json::Value = anon
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/access-requests/{id}/approve"]["post"].is_object());
}

/// A person's access token carrying ally:admin, obtained through the code flow.
async fn user_token_with_admin_scope(app: &TestApp, browser: &reqwest::Client) -> String {
    let url = crate::helpers::authorize_url(app, "web", &[("scope", "openid ally:admin")]);
    let r = browser.get(url).send().await.unwrap();
    let to = url::Url::parse(&location(&r)).unwrap();
    let code = crate::helpers::param(&to, "code").expect("code");
    // The secret is not kept by this helper: use a fresh one via rotation is overkill, so
    // exchange with PKCE as a confidential client registered by the caller.
    let secret = app.rotate_secret("web").await;
    let t: serde_json::Value = crate::helpers::exchange_code(app, "web", &secret, &code)
        .await
        .json()
        .await
        .unwrap();
    assert!(t["scope"].as_str().unwrap().contains("ally:admin"));
    t["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_staff_form_requires_its_csrf_token() {
    let app = TestApp::spawn().await;
    app.add_client(ClientSpec::confidential("web")).await;
    app.add_user("root").await;
    make_staff(&app, "root", staff::StaffRole::Admin, None).await;
    let admin = browser_for(&app, "root").await;
    let events_before = app.count("audit_event").await;
    for (method, path) in ally_idp::admin::route_table() {
        if method != "POST" || !path.starts_with("/admin") {
            continue;
        }
        let r = admin
            .post(app.url(&concrete(path)))
            .form(&[("name", "x"), ("client_id", "web"), ("reason", "r")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "POST {path} without csrf"
        );
        let r = admin
            .post(app.url(&concrete(path)))
            .form(&[("csrf", "forged"), ("name", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "POST {path} with a forged csrf"
        );
    }
    assert_eq!(
        app.count("audit_event").await,
        events_before,
        "nothing happened"
    );
}

#[tokio::test]
async fn admin_console_manages_clients_grants_and_the_queue_with_one_audit_event_each() {
    let app = TestApp::spawn().await;
    app.add_client(ClientSpec {
        access: AccessPolicy::GrantRequired,
        ..ClientSpec::confidential("dealer")
    })
    .await;
    let root_id = app.add_user("root").await;
    let bob = app.add_user("bob").await;
    make_staff(&app, "root", staff::StaffRole::Admin, None).await;
    let admin = browser_for(&app, "root").await;
    let csrf = csrf_of(&app, &admin).await;
    let actor = format!("account:{root_id}");
    let one = |event: &'static str, target: String| {
        let app = &app;
        let actor = actor.clone();
        async move {
            let events: Vec<_> = app
                .audit_events(event)
                .await
                .into_iter()
                .filter(|e| e.target.as_deref() == Some(target.as_str()))
                .collect();
            assert_eq!(events.len(), 1, "{event}");
            assert_eq!(
                events[0].actor.as_deref(),
                Some(actor.as_str()),
                "{event} actor"
            );
            assert_eq!(
                events[0].target.as_deref(),
                Some(target.as_str()),
                "{event} target"
            );
            assert!(
                events[0].request_id.is_some() && events[0].client_ip.is_some(),
                "{event} context"
            );
        }
    };

    // Applications: create (secret shown once), edit, rotate.
    let r = admin
        .post(app.url("/admin/clients"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("client_id", "crm"),
            ("name", "CRM"),
            ("redirect_uris", "https://crm.example/cb"),
            ("access", "grant_required"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("shown only this once"));
    one("client.created", "crm".into()).await;
    let r = admin
        .post(app.url("/admin/clients/crm"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "CRM 2"),
            (
                "redirect_uris",
                "https://crm.example/cb\nhttps://crm.example/cb2",
            ),
            ("access", "open"),
            ("backchannel_logout_uri", "https://crm.example/logout"),
            ("frontchannel_logout_uri", ""),
            ("mfa", "required"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/admin/clients/crm?done=saved");
    one("client.updated", "crm".into()).await;
    let c = ally_idp::access::clients::find(&app.state.db, "crm")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.redirect_uris.len(), 2);
    assert_eq!(c.access_policy, AccessPolicy::Open);
    assert_eq!(
        c.backchannel_logout_uri.as_deref(),
        Some("https://crm.example/logout")
    );
    assert_eq!(c.frontchannel_logout_uri, None);
    assert_eq!(c.mfa, Some(ally_idp::access::clients::MfaPolicy::Required));
    let page = admin
        .get(app.url("/admin/clients/crm"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"<option value="required" selected>"#));
    let r = admin
        .post(app.url("/admin/clients/crm"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "CRM"),
            ("redirect_uris", "http://crm.example/cb"),
            ("access", "open"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad URI re-renders"
    );
    assert!(r.text().await.unwrap().contains("must use https"));
    assert_eq!(
        app.audit_events("client.updated").await.len(),
        1,
        "nothing changed"
    );
    let r = admin
        .post(app.url("/admin/clients/crm/secret"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    one("client.secret_rotated", "crm".into()).await;

    // Grants: add with roles and expiry, revoke.
    let r = admin
        .post(app.url(&format!("/admin/accounts/{bob}/grants")))
        .form(&[
            ("csrf", csrf.as_str()),
            ("client_id", "dealer"),
            ("roles", "buyer, seller"),
            ("expires", "2099-01-01T00:00"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), format!("/admin/accounts/{bob}?done=granted"));
    one("grant.added", bob.clone()).await;
    let page = admin
        .get(app.url(&format!("/admin/accounts/{bob}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("buyer, seller") && page.contains("2099-01-01 00:00 UTC"));
    let r = admin
        .post(app.url(&format!("/admin/accounts/{bob}/grants/dealer/revoke")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), format!("/admin/accounts/{bob}?done=revoked"));
    one("grant.revoked", bob.clone()).await;

    // The queue: approve one request, reject another (a reason is required).
    let ctx = RequestContext::default();
    let now = app.state.clock.now();
    let req1 = requests::file(&app.state.db, now, &ctx, &bob, "dealer", Some("need it"))
        .await
        .unwrap();
    let req2 = requests::file(&app.state.db, now, &ctx, &bob, "crm", None)
        .await
        .unwrap();
    let queue = admin
        .get(app.url("/admin/requests"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(queue.contains("bob") && queue.contains("need it"));
    let r = admin
        .post(app.url(&format!("/admin/requests/{req2}/reject")))
        .form(&[("csrf", csrf.as_str()), ("reason", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = admin
        .post(app.url(&format!("/admin/requests/{req2}/reject")))
        .form(&[("csrf", csrf.as_str()), ("reason", "not your department")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/admin/requests?done=rejected");
    one("access_request.rejected", bob.clone()).await;
    let r = admin
        .post(app.url(&format!("/admin/requests/{req1}/approve")))
        .form(&[("csrf", csrf.as_str()), ("roles", "buyer")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/admin/requests?done=approved");
    one("access_request.approved", bob.clone()).await;
    assert_eq!(app.audit_events("grant.added").await.len(), 2);
    // Deciding twice is refused.
    let r = admin
        .post(app.url(&format!("/admin/requests/{req1}/approve")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Dealerships: add one; a bad PDN re-renders and writes nothing.
    let r = admin
        .post(app.url("/admin/dealerships"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("pdn", "1234"),
            ("name", "Short Motors"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("exactly 5 digits"));
    let r = admin
        .post(app.url("/admin/dealerships"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("pdn", "54321"),
            ("name", "Main Street Motors"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/admin/dealerships?done=dealership");
    assert_eq!(app.audit_events("organization.created").await.len(), 1);
    let page = admin
        .get(app.url("/admin/dealerships"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("54321") && page.contains("Main Street Motors"));

    // Search and the audit log.
    let found = admin
        .get(app.url("/admin/accounts?q=BOB"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(found.contains(&format!("/admin/accounts/{bob}")));
    let audit = admin
        .get(app.url("/admin/audit?event=grant.revoked"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(audit.contains("grant.revoked") && !audit.contains("client.created"));
}

#[tokio::test]
async fn dealer_admins_see_and_decide_only_their_dealership() {
    let app = TestApp::spawn().await;
    app.add_client(ClientSpec {
        access: AccessPolicy::GrantRequired,
        ..ClientSpec::confidential("dealer")
    })
    .await;
    let ctx = RequestContext::default();
    let now = app.state.clock.now();
    let org_a = orgs::add(
        &app.state.db,
        now,
        &ctx,
        Actor::Cli,
        "11111",
        "Alpha Motors",
    )
    .await
    .unwrap();
    let org_b = orgs::add(&app.state.db, now, &ctx, Actor::Cli, "22222", "Beta Autos")
        .await
        .unwrap();
    let da = app.add_user("dana").await;
    let ann = app.add_user("ann").await;
    let ben = app.add_user("ben").await;
    for (id, org) in [(&da, &org_a), (&ann, &org_a), (&ben, &org_b)] {
        use sea_orm::{ConnectionTrait, Statement};
        app.state
            .db
            .execute_raw(Statement::from_sql_and_values(
                app.state.db.get_database_backend(),
                "UPDATE account SET org_id = $1 WHERE id = $2",
                [org.clone().into(), id.clone().into()],
            ))
            .await
            .unwrap();
    }
    make_staff(&app, "dana", staff::StaffRole::DealerAdmin, Some("11111")).await;
    let ann_req = requests::file(&app.state.db, now, &ctx, &ann, "dealer", None)
        .await
        .unwrap();
    let ben_req = requests::file(&app.state.db, now, &ctx, &ben, "dealer", None)
        .await
        .unwrap();

    let b = browser_for(&app, "dana").await;
    let csrf = csrf_of(&app, &b).await;
    let queue = b
        .get(app.url("/admin/requests"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        queue.contains("ann") && !queue.contains("ben"),
        "only Alpha's requests"
    );
    assert_eq!(
        b.get(app.url(&format!("/admin/accounts/{ben}")))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get(app.url(&format!("/admin/accounts/{ann}")))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let found = b
        .get(app.url("/admin/accounts?q=b"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!found.contains(&ben));
    for forbidden in ["/admin/clients", "/admin/audit", "/admin/dealerships"] {
        assert_eq!(
            b.get(app.url(forbidden)).send().await.unwrap().status(),
            StatusCode::FORBIDDEN,
            "{forbidden}"
        );
    }
    let r = b
        .post(app.url(&format!("/admin/requests/{ben_req}/approve")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(app.audit_events("access_request.approved").await.is_empty());
    let r = b
        .post(app.url(&format!("/admin/requests/{ann_req}/approve")))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/admin/requests?done=approved");
    // Grants are an administrator's tool, not a dealer_admin's.
    let r = b
        .post(app.url(&format!("/admin/accounts/{ann}/grants")))
        .form(&[("csrf", csrf.as_str()), ("client_id", "dealer")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn admin_api_with_a_service_client() {
    let app = TestApp::spawn().await;
    let secret = app
        .add_client(ClientSpec {
            grant_types: vec![ally_idp::access::clients::GrantType::ClientCredentials],
            service_scopes: vec!["ally:admin".into()],
            ..ClientSpec::confidential("ops")
        })
        .await
        .unwrap();
    let plain = app
        .add_client(ClientSpec {
            grant_types: vec![ally_idp::access::clients::GrantType::ClientCredentials],
            ..ClientSpec::confidential("plain")
        })
        .await
        .unwrap();
    let bob = app.add_user("bob").await;
    let token = |client: &'static str, secret: String, scope: &'static str| {
        let app = &app;
        async move {
            let r = app
                .post_as(
                    "/token",
                    client,
                    &secret,
                    &[("grant_type", "client_credentials"), ("scope", scope)],
                )
                .await;
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let refused = token("plain", plain.clone(), "ally:admin").await;
    assert_eq!(
        refused["error"], "invalid_scope",
        "a client not allowed the scope cannot get it"
    );
    let t = token("ops", secret.clone(), "ally:admin").await;
    let at = t["access_token"].as_str().unwrap().to_owned();
    let api = |m: Method, path: &str| app.http.request(m, app.url(path)).bearer_auth(&at);

    let no_scope = token("ops", secret.clone(), "").await;
    let r = app
        .http
        .get(app.url("/api/v1/clients"))
        .bearer_auth(no_scope["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["code"],
        "insufficient_scope"
    );

    let r = api(Method::POST, "/api/v1/clients").json(&serde_json::json!({"client_id": "smartcash", "name": "SmartCash", "redirect_uris": ["https://sc.example/cb"], "access_policy": "grant_required"})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: serde_json::Value = r.json().await.unwrap();
    assert_eq!(created["client_secret"].as_str().unwrap().len(), 43);
    let r = api(Method::POST, "/api/v1/clients").json(&serde_json::json!({"client_id": "smartcash", "name": "again", "redirect_uris": ["https://sc.example/cb"]})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = api(Method::POST, "/api/v1/clients")
        .json(&serde_json::json!({"client_id": "x", "name": "X", "redirect_uris": ["not a uri"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["code"],
        "invalid_input"
    );
    let r = api(Method::POST, "/api/v1/clients")
        .header(header::CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = api(Method::PATCH, "/api/v1/clients/smartcash").json(&serde_json::json!({"redirect_uris": ["https://sc.example/cb", "https://sc.example/cb2"]})).send().await.unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["redirect_uris"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Logout URIs: set, refused when off the redirect URIs' origin, cleared with "".
    let r = api(Method::PATCH, "/api/v1/clients/smartcash")
        .json(&serde_json::json!({"backchannel_logout_uri": "https://sc.example/bcl"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["backchannel_logout_uri"],
        "https://sc.example/bcl"
    );
    let r = api(Method::PATCH, "/api/v1/clients/smartcash")
        .json(&serde_json::json!({"frontchannel_logout_uri": "https://evil.example/fcl"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = api(Method::PATCH, "/api/v1/clients/smartcash")
        .json(&serde_json::json!({"backchannel_logout_uri": ""}))
        .send()
        .await
        .unwrap();
    assert!(r.json::<serde_json::Value>().await.unwrap()["backchannel_logout_uri"].is_null());
    assert_eq!(
        api(Method::GET, "/api/v1/clients/ghost")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    // The old secret works (and is now cached by this node) until the rotation...
    let introspect_as = |secret: String| {
        let app = &app;
        async move {
            app.post_as("/introspect", "smartcash", &secret, &[("token", "x")])
                .await
        }
    };
    let old_secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(
        introspect_as(old_secret.clone()).await.status(),
        StatusCode::OK
    );
    let r: serde_json::Value = api(Method::POST, "/api/v1/clients/smartcash/secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(r["client_secret"], created["client_secret"]);
    // ...and is refused right after it: the rotation drops this node's cached entry.
    let r2 = introspect_as(old_secret).await;
    assert_eq!(r2.status(), StatusCode::UNAUTHORIZED);
    let new_secret = r["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(introspect_as(new_secret).await.status(), StatusCode::OK);

    let r = api(Method::POST, "/api/v1/grants")
        .json(
            &serde_json::json!({"account_id": bob, "client_id": "smartcash", "roles": ["cashier"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let grants: serde_json::Value = api(Method::GET, &format!("/api/v1/grants?account_id={bob}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(grants["grants"][0]["active"], true);
    assert_eq!(
        api(Method::DELETE, &format!("/api/v1/grants/{bob}/smartcash"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api(Method::DELETE, &format!("/api/v1/grants/{bob}/smartcash"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );

    let now = app.state.clock.now();
    let req = requests::file(
        &app.state.db,
        now,
        &RequestContext::default(),
        &bob,
        "smartcash",
        Some("please"),
    )
    .await
    .unwrap();
    let list: serde_json::Value = api(Method::GET, "/api/v1/access-requests")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["access_requests"][0]["id"], req);
    let r = api(
        Method::POST,
        &format!("/api/v1/access-requests/{req}/approve"),
    )
    .json(&serde_json::json!({"roles": ["cashier"]}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = api(
        Method::POST,
        &format!("/api/v1/access-requests/{req}/reject"),
    )
    .json(&serde_json::json!({"reason": "late"}))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);

    let account: serde_json::Value = api(Method::GET, &format!("/api/v1/accounts/{bob}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        account["grants"][0]["roles"],
        serde_json::json!(["cashier"])
    );
    let audit: serde_json::Value = api(Method::GET, "/api/v1/audit?event=access_request.approved")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit["events"].as_array().unwrap().len(), 1);
    assert_eq!(audit["events"][0]["actor"], "client:ops");
}
