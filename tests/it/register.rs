//! Self-service registration over HTTP: cardholders (card or account number + SSN last four,
//! with guessing limits) and dealer staff (PDN, review by a dealer_admin), and what every bad
//! input leaves behind: nothing but the attempt counter and the audit event.

use ally_idp::{
    access::{clients::AccessPolicy, orgs, staff},
    accounts::customers::{self, CustomerHasher},
    audit::{Actor, RequestContext},
    store,
};
use base64::Engine;
use reqwest::StatusCode;

use crate::helpers::{
    ClientSpec, PASSWORD, TestApp, authorize_url, browser_for, exchange_code, hidden, new_browser,
    param,
};

pub const CARD: &str = "4111 1111 1111 1111";
pub const SSN: &str = "1234";
const Q1: &str = "What is your mother's maiden name?";
const Q2: &str = "What was the name of your first pet?";
const HQ: &str = "What is your favorite book?";

pub async fn import_customers(app: &TestApp) {
    let csv = "card_number,account_number,ssn_last4,given_name,family_name,email\n\
               4111111111111111,,1234,Carla,Holder,carla@example.com\n\
               ,123456789,5678,Abe,Account,abe@example.com\n";
    customers::import_csv(
        &app.state.db,
        &CustomerHasher::new(app.state.secrets.customer),
        app.state.clock.now(),
        &RequestContext::default(),
        Actor::Cli,
        csv.as_bytes(),
    )
    .await
    .unwrap();
}

pub async fn get(b: &reqwest::Client, app: &TestApp, path: &str) -> String {
    let r = b.get(app.url(path)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "GET {path}");
    r.text().await.unwrap()
}

/// POSTs a form with this browser's CSRF token (taken from `page`).
pub async fn post(
    b: &reqwest::Client,
    app: &TestApp,
    path: &str,
    page: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let csrf = hidden(page, "csrf").expect("csrf");
    let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
    form.extend_from_slice(fields);
    let r = b.post(app.url(path)).form(&form).send().await.unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}

/// The user ID, password and questions step, with one field overridden.
pub fn profile<'a>(username: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("username", username),
        ("email", email),
        ("password", PASSWORD),
        ("password_confirm", PASSWORD),
        ("q1", Q1),
        ("a1", "Smith"),
        ("q2", Q2),
        ("a2", "Rex"),
        ("hq", HQ),
        ("ha", "Dune"),
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

/// Counts of every table registration writes to, to prove a failure wrote nothing.
async fn snapshot(app: &TestApp) -> Vec<i64> {
    let mut v = Vec::new();
    for t in [
        "account",
        "security_answer",
        "access_grant",
        "access_request",
        "email_outbox",
        "sso_session",
    ] {
        v.push(app.count(t).await);
    }
    v
}

const GENERIC: &str = "We could not verify those details";

async fn verify(
    b: &reqwest::Client,
    app: &TestApp,
    kind: &str,
    number: &str,
    ssn: &str,
) -> (StatusCode, String) {
    let page = get(b, app, "/register/cardholder").await;
    post(
        b,
        app,
        "/register/cardholder",
        &page,
        &[
            ("step", "verify"),
            ("number_kind", kind),
            ("number", number),
            ("ssn_last4", ssn),
        ],
    )
    .await
}

fn claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_cardholder_registers_and_the_card_portal_sees_their_customer_id() {
    let app = TestApp::spawn().await;
    let portal_secret = app
        .add_client(ClientSpec::confidential("card-portal"))
        .await
        .unwrap();
    let other_secret = app
        .add_client(ClientSpec::confidential("web"))
        .await
        .unwrap();
    import_customers(&app).await;
    let b = new_browser();

    let (status, page) = verify(&b, &app, "card", CARD, SSN).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Step 2 of 2") && page.contains("password-strength"));
    // The strength hint's script is our own.
    assert!(page.contains("src=\"/static/password.js\"></script>"));
    let (status, done) = post(
        &b,
        &app,
        "/register/cardholder",
        &page,
        &[
            &[
                ("step", "profile"),
                ("ticket", hidden(&page, "ticket").unwrap().as_str()),
            ][..],
            &profile("carla.h", "carla@example.com"),
        ]
        .concat(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done.contains("Your user ID is ready"));

    let account = store::accounts::find_by_username(&app.state.db, "carla.h")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.status, "active");
    assert_eq!(
        account.given_name.as_deref(),
        Some("Carla"),
        "names come from the record"
    );
    let customer_id = account.customer_id.clone().expect("linked to the record");
    assert_eq!(app.count("security_answer").await, 3);
    let grant = store::access::find_grant(&app.state.db, &account.id, "card-portal")
        .await
        .unwrap();
    assert!(
        grant.is_some_and(|g| g.revoked_at.is_none()),
        "granted the card portal"
    );
    assert_eq!(app.count("email_outbox").await, 1, "welcome e-mail");
    // Answers are hashed, never stored as typed.
    let stored = store::answers::find(&app.state.db, &account.id, "challenge1")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.answer_hash.starts_with("$argon2id$") && !stored.answer_hash.contains("smith"));

    // The card portal's tokens carry the stable customer_id; another application's do not.
    let to = app
        .authorize(&authorize_url(&app, "card-portal", &[]), "carla.h")
        .await;
    let t: serde_json::Value = exchange_code(
        &app,
        "card-portal",
        &portal_secret,
        &param(&to, "code").unwrap(),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        claims(t["id_token"].as_str().unwrap())["customer_id"],
        customer_id.as_str()
    );
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["customer_id"],
        customer_id.as_str()
    );
    let to = app
        .authorize(&authorize_url(&app, "web", &[]), "carla.h")
        .await;
    let t: serde_json::Value =
        exchange_code(&app, "web", &other_secret, &param(&to, "code").unwrap())
            .await
            .json()
            .await
            .unwrap();
    assert!(
        claims(t["id_token"].as_str().unwrap())
            .get("customer_id")
            .is_none()
    );

    // The same card cannot be registered again; the page points to "Forgot user ID".
    let (status, page) = verify(&new_browser(), &app, "card", CARD, SSN).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("Forgot user ID"));
}

#[tokio::test]
async fn wrong_card_details_are_one_generic_error_counted_per_record_and_address() {
    let app = TestApp::spawn_with(|c| {
        c.registration.max_failures_per_record = 3;
        c.registration.max_failures_per_ip = 6;
    })
    .await;
    app.add_client(ClientSpec::confidential("card-portal"))
        .await;
    import_customers(&app).await;
    let before = snapshot(&app).await;
    let b = new_browser();

    // Malformed input says what is wrong and counts nothing.
    for (kind, number, ssn) in [
        ("card", "4111 1111 1111 1112", SSN),
        ("account", "12345", SSN),
        ("card", CARD, "12a4"),
        ("card", CARD, "123"),
    ] {
        let (status, page) = verify(&b, &app, kind, number, ssn).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!page.contains(GENERIC), "{number}/{ssn}: {page}");
    }
    assert_eq!(app.count("attempt_counter").await, 0);

    // An unknown card and a wrong SSN ending read the same.
    let (s1, unknown) = verify(&b, &app, "card", "5555 5555 5555 4444", SSN).await;
    let (s2, wrong) = verify(&b, &app, "card", CARD, "9999").await;
    assert_eq!(
        (s1, s2),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            StatusCode::UNPROCESSABLE_ENTITY
        )
    );
    assert!(unknown.contains(GENERIC) && wrong.contains(GENERIC));
    // The card number is never echoed back into the page.
    assert!(!wrong.contains("4111"));
    // Two more wrong endings reach the record's limit: now even the right one fails.
    verify(&b, &app, "card", CARD, "0000").await;
    verify(&b, &app, "card", CARD, "1111").await;
    let (status, page) = verify(&b, &app, "card", CARD, SSN).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains(GENERIC), "record locked");
    // The other record is still reachable from this address (5 failures so far, limit 6)...
    let (status, _) = verify(&b, &app, "account", "123456789", "5678").await;
    assert_eq!(status, StatusCode::OK, "another record is not locked");
    // ...until the address's own limit is reached.
    verify(&b, &app, "account", "123456780", "5678").await;
    let (status, page) = verify(&b, &app, "account", "123456789", "5678").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains(GENERIC), "address locked");
    assert_eq!(
        app.audit_events("registration.verify_failed").await.len(),
        7
    );
    // Nothing but counters and audit events was written.
    assert_eq!(snapshot(&app).await, before);
    // The window passes: the record can be proved again.
    app.advance(2 * 86_400);
    let (status, _) = verify(&b, &app, "card", CARD, SSN).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bad_profile_input_re_renders_and_writes_nothing() {
    let app = TestApp::spawn().await;
    app.add_client(ClientSpec::confidential("card-portal"))
        .await;
    import_customers(&app).await;
    app.add_user("taken").await;
    let b = new_browser();
    let (_, page) = verify(&b, &app, "card", CARD, SSN).await;
    let ticket = hidden(&page, "ticket").unwrap();
    let before = snapshot(&app).await;
    let ok = profile("carla.h", "carla@example.com");
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            with(
                with(ok.clone(), "password", "Password1234"),
                "password_confirm",
                "Password1234",
            ),
            "most common passwords",
        ),
        (
            with(
                with(ok.clone(), "password", "my carla.h password"),
                "password_confirm",
                "my carla.h password",
            ),
            "must not contain the user ID",
        ),
        (
            with(
                with(ok.clone(), "password", "short pw"),
                "password_confirm",
                "short pw",
            ),
            "at least 12 characters",
        ),
        (
            with(ok.clone(), "password_confirm", "something else entirely"),
            "do not match",
        ),
        (with(ok.clone(), "username", "taken"), "already taken"),
        (with(ok.clone(), "username", "TAKEN"), "already taken"),
        (
            with(ok.clone(), "email", "taken@example.com"),
            "already uses this e-mail",
        ),
        (
            with(ok.clone(), "email", "not-an-address"),
            "not a valid e-mail",
        ),
        (with(ok.clone(), "username", ""), "user ID must be"),
        (
            with(ok.clone(), "q2", Q1),
            "two different challenge questions",
        ),
        (with(ok.clone(), "a2", ""), "2 to 100 characters"),
        (with(ok.clone(), "hq", "Who are you?"), "from the list"),
    ];
    for (form, message) in cases {
        let fields = [
            &[("step", "profile"), ("ticket", ticket.as_str())][..],
            &form,
        ]
        .concat();
        let (status, html) = post(&b, &app, "/register/cardholder", &page, &fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        assert!(html.contains(message), "{message}: {html}");
        assert!(html.contains("role=\"alert\""), "the error is announced");
        // Secrets are not echoed back.
        assert!(!html.contains(PASSWORD) && !html.contains("Smith"));
        assert_eq!(snapshot(&app).await, before, "{message}");
    }
    // A forged or foreign ticket sends the person back to the card step.
    let fields = [
        &[("step", "profile"), ("ticket", "Zm9v.99999999999.bad")][..],
        &ok,
    ]
    .concat();
    let (status, html) = post(&b, &app, "/register/cardholder", &page, &fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("Step 1 of 2"));
    let other = new_browser();
    let other_page = get(&other, &app, "/register/cardholder").await;
    let fields = [&[("step", "profile"), ("ticket", ticket.as_str())][..], &ok].concat();
    let (status, _) = post(&other, &app, "/register/cardholder", &other_page, &fields).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a ticket is bound to its browser"
    );
    // An expired ticket too.
    app.advance(21 * 60);
    let (status, _) = post(&b, &app, "/register/cardholder", &page, &fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "expired");
    assert_eq!(snapshot(&app).await, before);

    // A double submission creates one account; the second is told the card is registered.
    let (_, page) = verify(&b, &app, "card", CARD, SSN).await;
    let ticket = hidden(&page, "ticket").unwrap();
    let fields = [&[("step", "profile"), ("ticket", ticket.as_str())][..], &ok].concat();
    let (first, _) = post(&b, &app, "/register/cardholder", &page, &fields).await;
    let (second, html) = post(&b, &app, "/register/cardholder", &page, &fields).await;
    assert_eq!((first, second), (StatusCode::OK, StatusCode::CONFLICT));
    assert!(html.contains("Forgot user ID"));
    assert_eq!(app.count("account").await, before[0] + 1);
    // Without the CSRF token nothing happens at all.
    let r = b
        .post(app.url("/register/cardholder"))
        .form(&[("step", "verify"), ("number", CARD), ("ssn_last4", SSN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// The three dealer applications, Main Street Motors (12345, active), Closed Cars (54321,
/// inactive) and Main Street's dealer_admin `dana`.
pub async fn dealer_setup(app: &TestApp) {
    for id in ["smartauction", "smartcash", "intellirater"] {
        app.add_client(ClientSpec {
            access: AccessPolicy::GrantRequired,
            terms: (id == "smartauction").then(|| "Be fair at auction.".to_owned()),
            ..ClientSpec::confidential(id)
        })
        .await;
    }
    add_dealerships(app).await;
}

pub async fn add_dealerships(app: &TestApp) {
    let ctx = RequestContext::default();
    let now = app.state.clock.now();
    orgs::add(
        &app.state.db,
        now,
        &ctx,
        Actor::Cli,
        "12345",
        "Main Street Motors",
    )
    .await
    .unwrap();
    let inactive = orgs::add(&app.state.db, now, &ctx, Actor::Cli, "54321", "Closed Cars")
        .await
        .unwrap();
    use sea_orm::{ConnectionTrait, Statement};
    app.state
        .db
        .execute_raw(Statement::from_sql_and_values(
            app.state.db.get_database_backend(),
            "UPDATE organization SET active = $1 WHERE id = $2",
            [false.into(), inactive.into()],
        ))
        .await
        .unwrap();
    app.add_user("dana").await;
    staff::add_role(
        &app.state.db,
        now,
        &ctx,
        Actor::Cli,
        "dana",
        staff::StaffRole::DealerAdmin,
        Some("12345"),
    )
    .await
    .unwrap();
}

pub fn dealer_details<'a>() -> Vec<(&'a str, &'a str)> {
    vec![
        ("step", "details"),
        ("pdn", "12345"),
        ("given_name", "Sam"),
        ("family_name", "Seller"),
        ("phone", "(555) 010-2030"),
        ("job_role", "Sales manager"),
        ("app", "smartauction"),
        ("app", "smartcash"),
    ]
}

async fn pdn(b: &reqwest::Client, app: &TestApp, value: &str) -> (StatusCode, String) {
    let page = get(b, app, "/register/dealer").await;
    post(
        b,
        app,
        "/register/dealer",
        &page,
        &[("step", "pdn"), ("pdn", value)],
    )
    .await
}

#[tokio::test]
async fn dealer_staff_register_and_a_dealer_admin_approves_some_applications() {
    let app = TestApp::spawn().await;
    dealer_setup(&app).await;
    let b = new_browser();
    let before = snapshot(&app).await;

    for (value, message) in [
        ("1234", "exactly 5 digits"),
        ("123456", "exactly 5 digits"),
        ("12a45", "exactly 5 digits"),
    ] {
        let (status, html) = pdn(&b, &app, value).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{value}");
        assert!(html.contains(message), "{value}");
    }
    assert_eq!(
        app.count("attempt_counter").await,
        0,
        "malformed PDNs are not guesses"
    );
    for value in ["99999", "54321"] {
        let (status, html) = pdn(&b, &app, value).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{value}");
        assert!(
            html.contains("No active dealership has that PDN"),
            "{value}"
        );
        assert!(
            !html.contains("Closed Cars"),
            "an inactive dealership is not named"
        );
    }
    assert_eq!(
        app.audit_events("registration.verify_failed").await.len(),
        2
    );
    let (status, page) = pdn(&b, &app, "12345").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Main Street Motors") && page.contains("SmartAuction")
            || page.contains("smartauction")
    );

    // Bad details: each re-renders with its message and writes nothing.
    let ok = [
        dealer_details(),
        profile("sam.seller", "sam@dealer.example"),
    ]
    .concat();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (with(ok.clone(), "given_name", " "), "Enter your first name"),
        (with(ok.clone(), "family_name", ""), "Enter your last name"),
        (with(ok.clone(), "job_role", ""), "Enter your role"),
        (with(ok.clone(), "phone", "12"), "business phone"),
        (
            ok.iter().copied().filter(|(k, _)| *k != "app").collect(),
            "at least one application",
        ),
        (with(ok.clone(), "app", "card-portal"), "from the list"),
        (with(ok.clone(), "username", "dana"), "already taken"),
        (
            with(
                with(ok.clone(), "password", "qwertyuiop123"),
                "password_confirm",
                "qwertyuiop123",
            ),
            "most common",
        ),
        (with(ok.clone(), "pdn", "54321"), "No active dealership"),
    ];
    let before_details = snapshot(&app).await;
    for (form, message) in cases {
        let (status, html) = post(&b, &app, "/register/dealer", &page, &form).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
        assert!(html.contains(message), "{message}: {html}");
        assert_eq!(snapshot(&app).await, before_details, "{message}");
    }
    assert_eq!(before, before_details);

    let (status, html) = post(&b, &app, "/register/dealer", &page, &ok).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("being reviewed"));
    // A double submission files nothing more.
    let (status, html) = post(&b, &app, "/register/dealer", &page, &ok).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("already taken"));
    let sam = store::accounts::find_by_username(&app.state.db, "sam.seller")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sam.status, "pending");
    assert_eq!(
        (sam.phone.as_deref(), sam.job_role.as_deref()),
        (Some("(555) 010-2030"), Some("Sales manager"))
    );
    assert_eq!(
        app.count("access_request").await,
        2,
        "one request per application"
    );
    assert_eq!(
        app.count("email_outbox").await,
        1,
        "the applicant is told it is being reviewed"
    );

    // Before approval: "being reviewed", no session, nothing issued.
    let r = app.submit_login("/login", "sam.seller", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("being reviewed"));
    assert_eq!(app.count("sso_session").await, 0);

    // The dealer_admin sees the registration; the requests cannot be approved one by one.
    let dana = browser_for(&app, "dana").await;
    let queue = get(&dana, &app, "/admin/requests").await;
    assert!(
        queue.contains("sam.seller")
            && queue.contains("Sales manager")
            && queue.contains("Main Street Motors")
    );
    let one = store::access::list_requests(&app.state.db, Some("pending"), None)
        .await
        .unwrap()[0]
        .id
        .clone();
    let (status, html) = post(
        &dana,
        &app,
        &format!("/admin/requests/{one}/approve"),
        &queue,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("part of a registration"));
    // Approve SmartAuction only.
    let path = format!("/admin/registrations/{}/approve", sam.id);
    let (status, _) = post(
        &dana,
        &app,
        &path,
        &queue,
        &[("app", "smartauction"), ("roles.smartauction", "buyer")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let sam_now = store::accounts::find_by_id(&app.state.db, &sam.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sam_now.status, "active");
    let grants = store::access::list_grants(&app.state.db, Some(&sam.id), None)
        .await
        .unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].client_id, "smartauction");
    let decided = store::access::list_requests(&app.state.db, None, None)
        .await
        .unwrap();
    let status_of = |c: &str| {
        decided
            .iter()
            .find(|r| r.client_id == c)
            .unwrap()
            .status
            .clone()
    };
    assert_eq!(
        (
            status_of("smartauction").as_str(),
            status_of("smartcash").as_str()
        ),
        ("approved", "rejected")
    );
    assert_eq!(app.audit_events("registration.approved").await.len(), 1);
    assert_eq!(
        app.count("email_outbox").await,
        2,
        "the decision is e-mailed"
    );
    // Deciding again is refused.
    let (status, _) = post(&dana, &app, &path, &queue, &[("app", "smartauction")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Sam can now sign in.
    let r = app.submit_login("/login", "sam.seller", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_rejected_registration_is_closed_and_mailed_with_its_reason() {
    let app = TestApp::spawn().await;
    dealer_setup(&app).await;
    let b = new_browser();
    let (_, page) = pdn(&b, &app, "12345").await;
    let form = [dealer_details(), profile("rita", "rita@dealer.example")].concat();
    let (status, _) = post(&b, &app, "/register/dealer", &page, &form).await;
    assert_eq!(status, StatusCode::OK);
    let rita = store::accounts::find_by_username(&app.state.db, "rita")
        .await
        .unwrap()
        .unwrap();
    let dana = browser_for(&app, "dana").await;
    let queue = get(&dana, &app, "/admin/requests").await;
    let path = format!("/admin/registrations/{}/reject", rita.id);
    let (status, html) = post(&dana, &app, &path, &queue, &[("reason", " ")]).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a reason is required"
    );
    assert!(html.contains("needs a reason"));
    // An approval that names none of the requested applications is refused too.
    let approve = format!("/admin/registrations/{}/approve", rita.id);
    let (status, _) = post(&dana, &app, &approve, &queue, &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = post(&dana, &app, &approve, &queue, &[("app", "intellirater")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "not requested");
    assert_eq!(app.count("access_grant").await, 0);
    let (status, _) = post(
        &dana,
        &app,
        &path,
        &queue,
        &[("reason", "Not employed here")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let rita = store::accounts::find_by_id(&app.state.db, &rita.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rita.status, "rejected");
    let mails = store::mail::list(&app.state.db).await.unwrap();
    let decision = mails
        .iter()
        .find(|m| m.template == "registration_decision")
        .expect("decision mail");
    assert_eq!(decision.to_addr, "rita@dealer.example");
    assert_eq!(decision.params["reason"], "Not employed here");
    let r = app.submit_login("/login", "rita", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("not approved"));
    // Another dealership's admin cannot see or decide it (404 like the console elsewhere).
    assert_eq!(app.audit_events("registration.rejected").await.len(), 1);
}
