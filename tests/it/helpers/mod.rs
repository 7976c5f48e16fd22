//! The test harness: a real application per test on 127.0.0.1:0 with its own database
//! (a SQLite file, or a fresh PostgreSQL schema when ALLY_IDP_TEST_DATABASE_URL is set), a
//! cookie-keeping HTTP client that does not follow redirects, and openidconnect as the
//! relying party.

pub mod browser;
pub mod receiver;
pub mod rp;
pub mod soft_authenticator;

use std::sync::Arc;

use ally_idp::{
    access::clients::{self, AccessPolicy, GrantType, LogoutUris, NewClient},
    accounts::users::{self, AccountStatus, NewUser},
    audit::Actor,
    clock::OffsetClock,
    config::Config,
    crypto::keyring::Alg,
    startup::Application,
    state::AppState,
    web::context::RequestContext,
};
use chrono::Duration;
use reqwest::{Response, StatusCode, header};
use sea_orm::{ConnectionTrait, Database};
use secrecy::SecretString;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub issuer: String,
    /// Where this node listens: the issuer, except for a peer node (`spawn_peer`), which
    /// serves the same issuer from an address of its own, as behind a load balancer.
    pub base: String,
    /// Stops the server (on its own runtime thread) and waits for it.
    server: Option<(
        tokio::sync::oneshot::Sender<()>,
        std::thread::JoinHandle<()>,
    )>,
    /// A browser: keeps cookies, never follows redirects.
    pub browser: reqwest::Client,
    /// A plain back-channel client (no cookies, no redirects).
    pub http: reqwest::Client,
    pub clock: OffsetClock,
    pub state: AppState,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

/// Options for a test client registration.
pub struct ClientSpec {
    pub client_id: &'static str,
    pub access: AccessPolicy,
    pub service_scopes: Vec<String>,
    pub terms: Option<String>,
    pub public: bool,
    pub third_party: bool,
    pub grant_types: Vec<GrantType>,
    pub alg: Alg,
    pub mfa: Option<ally_idp::access::clients::MfaPolicy>,
    pub logout: ally_idp::access::clients::LogoutUris,
}

impl ClientSpec {
    /// A confidential service client: client_credentials only.
    pub fn service(client_id: &'static str) -> Self {
        Self {
            grant_types: vec![GrantType::ClientCredentials],
            ..Self::confidential(client_id)
        }
    }

    pub fn confidential(client_id: &'static str) -> Self {
        Self {
            client_id,
            access: AccessPolicy::Open,
            service_scopes: vec![],
            terms: None,
            public: false,
            third_party: false,
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            alg: Alg::Es256,
            mfa: None,
            logout: Default::default(),
        }
    }
}

/// A confidential, first-party client (code and refresh grants, ES256) with redirect URIs of
/// its own: `{base}/callback` and, after logout, `{base}/`.
pub fn client_at(id: &str, base: &str, access: AccessPolicy, logout: LogoutUris) -> NewClient {
    NewClient {
        client_id: id.into(),
        name: id.into(),
        redirect_uris: vec![format!("{base}/callback")],
        post_logout_redirect_uris: vec![format!("{base}/")],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        id_token_alg: Alg::Es256,
        public: false,
        third_party: false,
        access_policy: access,
        service_scopes: vec![],
        terms: None,
        mfa: None,
        logout,
        secret: None,
    }
}

pub fn redirect_uri(client_id: &str) -> String {
    format!("http://127.0.0.1:9999/{client_id}/callback")
}

pub fn post_logout_uri(client_id: &str) -> String {
    format!("http://127.0.0.1:9999/{client_id}/")
}

/// A database for one test: a SQLite file in `dir`, or a fresh schema in the PostgreSQL named
/// by ALLY_IDP_TEST_DATABASE_URL. Dropping it removes the schema.
pub struct TestDb {
    pub url: String,
    pg: Option<(String, String)>,
}

/// Runs a PostgreSQL statement from a thread of its own, so it works from sync code, async
/// tests and Drop alike.
fn pg_execute(base: &str, sql: String) -> Result<(), String> {
    let base = base.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let db = Database::connect(&base).await.map_err(|e| e.to_string())?;
            db.execute_unprepared(&sql)
                .await
                .map_err(|e| e.to_string())?;
            db.close().await.map_err(|e| e.to_string())
        })
    })
    .join()
    .map_err(|_| "thread panicked".to_owned())?
}

/// The PostgreSQL server for tests that need one whatever the suite runs on (several nodes
/// sharing a database, a database that goes away): ALLY_IDP_TEST_DATABASE_URL when it names
/// PostgreSQL, else the local server CI and this machine run.
pub fn postgres_url() -> String {
    std::env::var("ALLY_IDP_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl TestDb {
    pub fn new(dir: &std::path::Path) -> Self {
        match std::env::var("ALLY_IDP_TEST_DATABASE_URL") {
            Ok(base) if base.starts_with("postgres") => Self::postgres_at(base),
            _ => Self {
                url: format!("sqlite://{}?mode=rwc", dir.join("test.db").display()),
                pg: None,
            },
        }
    }

    /// A fresh schema on the PostgreSQL of `postgres_url()`.
    pub fn postgres() -> Self {
        Self::postgres_at(postgres_url())
    }

    fn postgres_at(base: String) -> Self {
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        pg_execute(&base, format!("CREATE SCHEMA {schema}")).expect("create test schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        Self {
            url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
            pg: Some((base, schema)),
        }
    }

    /// Someone else's database, used but not owned (not dropped with this value).
    fn borrowed(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            pg: None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.pg.take() {
            let _ = pg_execute(&base, format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// On `http://localhost:<port>`: WebAuthn needs a domain (not an IP address) as the
    /// relying-party id, so passkeys are on only there.
    pub async fn spawn_on_localhost() -> Self {
        Self::spawn_with(|c| {
            let issuer = format!("http://localhost:{}", c.listen.port());
            c.issuer = ally_idp::config::Issuer::parse(&issuer).expect("issuer");
        })
        .await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = TestDb::new(dir.path());
        Self::spawn_on(dir, db, tweak).await
    }

    /// On a fresh PostgreSQL schema, whatever database the suite runs on.
    pub async fn spawn_postgres_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_on(
            tempfile::tempdir().expect("tempdir"),
            TestDb::postgres(),
            tweak,
        )
        .await
    }

    /// A second node of this provider: the same database, issuer and master key, its own
    /// port, process state and background jobs, as another replica behind a load balancer.
    /// Its `url()` points at its own port; its `browser` is this node's (the same cookies),
    /// as one person's browser reaches whichever node the balancer picks.
    pub async fn spawn_peer(&self) -> Self {
        let issuer = self.issuer.clone();
        let db = TestDb::borrowed(&self.state.config.database_url);
        let mut peer = Self::spawn_on(tempfile::tempdir().expect("tempdir"), db, move |c| {
            c.issuer = ally_idp::config::Issuer::parse(&issuer).expect("issuer");
        })
        .await;
        peer.browser = self.browser.clone();
        peer
    }

    async fn spawn_on(dir: tempfile::TempDir, db: TestDb, tweak: impl FnOnce(&mut Config)) -> Self {
        // Server logs go to the test's captured output, shown when a test fails.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn,ally_idp=info")
            .with_test_writer()
            .try_init();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let mut config = Config::for_tests(addr, &db.url).expect("config");
        config.data_dir = dir.path().to_owned();
        tweak(&mut config);
        let issuer = config.issuer.as_str().to_owned();
        let own = [
            format!("http://{addr}"),
            format!("http://localhost:{}", addr.port()),
        ];
        let base = if own.contains(&issuer) {
            issuer.clone()
        } else {
            own[0].clone()
        };
        let clock = OffsetClock::default();
        // The server runs on a runtime of its own, as in production: the test's runtime can
        // block (in Drop, say) without stalling the server, and requests really run in
        // parallel with the test.
        let (state_tx, state_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server_clock = clock.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("server runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = match Application::build_with_listener(
                    config,
                    Arc::new(server_clock),
                    listener,
                )
                .await
                {
                    Ok(app) => app,
                    Err(e) => {
                        let _ = state_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = state_tx.send(Ok(app.state().clone()));
                let _ = app
                    .run_until(async move {
                        let _ = stop_rx.await;
                    })
                    .await;
            });
        });
        let state = tokio::task::spawn_blocking(move || state_rx.recv())
            .await
            .expect("join")
            .expect("server thread")
            .expect("build app");
        let no_redirects =
            || reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        Self {
            server: Some((stop_tx, thread)),
            issuer,
            base,
            browser: no_redirects().cookie_store(true).build().expect("browser"),
            http: no_redirects().build().expect("http"),
            clock,
            state,
            _db: db,
            _dir: dir,
        }
    }

    /// The provider's data directory (master key, mail outbox).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn advance(&self, secs: i64) {
        self.clock.advance(Duration::seconds(secs));
    }

    /// Registers a client as the CLI does: its secret (None if public), or why not.
    pub async fn register(&self, new: NewClient) -> Result<Option<String>, clients::RegisterError> {
        clients::register(
            &self.state.db,
            &self.state.tokens,
            self.state.clock.now(),
            &RequestContext::default(),
            Actor::Cli,
            new,
        )
        .await
    }

    /// Rotates a client's secret outside any request (as the CLI, or another node, does);
    /// returns the new secret.
    pub async fn rotate_secret(&self, client_id: &str) -> String {
        clients::rotate_secret(
            &self.state.db,
            &self.state.tokens,
            self.state.clock.now(),
            &RequestContext::default(),
            Actor::Cli,
            client_id,
        )
        .await
        .expect("rotate secret")
    }

    /// Registers a client the way the CLI does; returns its secret (None if public).
    pub async fn add_client(&self, spec: ClientSpec) -> Option<String> {
        self.register(NewClient {
            client_id: spec.client_id.to_owned(),
            name: format!("App {}", spec.client_id),
            redirect_uris: if spec.grant_types.contains(&GrantType::AuthorizationCode) {
                vec![redirect_uri(spec.client_id)]
            } else {
                vec![]
            },
            post_logout_redirect_uris: vec![post_logout_uri(spec.client_id)],
            grant_types: spec.grant_types,
            id_token_alg: spec.alg,
            public: spec.public,
            third_party: spec.third_party,
            access_policy: spec.access,
            service_scopes: spec.service_scopes,
            terms: spec.terms,
            mfa: spec.mfa,
            logout: spec.logout,
            secret: None,
        })
        .await
        .expect("register client")
    }

    /// The account with this user ID (which must exist).
    pub async fn account(&self, username: &str) -> entity::account::Model {
        ally_idp::store::accounts::find_by_username(&self.state.db, username)
            .await
            .expect("query")
            .unwrap_or_else(|| panic!("no account {username}"))
    }

    /// Delivers what the outbox holds and returns every message sent to `to` so far, oldest
    /// first, with quoted-printable soft breaks and `=3D` undone so links can be read.
    pub async fn mail_to(&self, to: &str) -> Vec<String> {
        self.state
            .mailer
            .deliver_due(&self.state.db, self.state.clock.now())
            .await
            .expect("deliver");
        let Ok(dir) = std::fs::read_dir(self.data_dir().join("outbox")) else {
            return vec![];
        };
        let mut files: Vec<_> = dir.map(|e| e.expect("entry").path()).collect();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).expect("eml"))
            .filter(|m| m.contains(&format!("To: {to}")))
            .map(|m| {
                m.replace("=\r\n", "")
                    .replace("=\n", "")
                    .replace("=3D", "=")
            })
            .collect()
    }

    pub async fn add_user(&self, username: &str) -> String {
        users::create(
            &self.state.db,
            &self.state.passwords,
            self.state.clock.now(),
            &RequestContext::default(),
            Actor::Cli,
            NewUser {
                username: username.to_owned(),
                email: format!("{username}@example.com"),
                given_name: Some("Test".into()),
                family_name: Some("User".into()),
                password: SecretString::from(PASSWORD),
                org_id: None,
                password_min_length: 12,
                status: AccountStatus::Active,
                customer_id: None,
                phone: None,
                job_role: None,
            },
        )
        .await
        .expect("create user")
    }

    /// GETs the login page at `login_url` and submits the credentials; returns the response
    /// to the POST.
    pub async fn submit_login(&self, login_url: &str, username: &str, password: &str) -> Response {
        let url = if login_url.starts_with('/') {
            self.url(login_url)
        } else {
            login_url.to_owned()
        };
        let page = self.browser.get(&url).send().await.expect("login page");
        assert_eq!(page.status(), StatusCode::OK, "login page");
        let html = page.text().await.expect("html");
        let mut form = vec![
            ("csrf", hidden(&html, "csrf").expect("csrf field")),
            ("username", username.to_owned()),
            ("password", password.to_owned()),
        ];
        if let Some(req) = hidden(&html, "req") {
            form.push(("req", req));
        }
        self.browser
            .post(self.url("/login"))
            .form(&form)
            .send()
            .await
            .expect("post login")
    }

    /// Runs an authorization request through login (and consent if asked); returns the final
    /// redirect to the application.
    pub async fn authorize(&self, authorize_url: &str, username: &str) -> url::Url {
        let resp = self
            .browser
            .get(authorize_url)
            .send()
            .await
            .expect("authorize");
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "authorize redirects");
        let mut resp = resp;
        let loc = location(&resp);
        if loc.starts_with("/login") {
            resp = self.submit_login(&loc, username, PASSWORD).await;
            assert_eq!(resp.status(), StatusCode::SEE_OTHER, "login succeeds");
        }
        let loc = location(&resp);
        if loc.starts_with("/consent") {
            resp = self.consent(&loc, "allow").await;
        }
        url::Url::parse(&location(&resp)).expect("redirect to the application")
    }

    pub async fn consent(&self, consent_path: &str, decision: &str) -> Response {
        let page = self
            .browser
            .get(self.url(consent_path))
            .send()
            .await
            .expect("consent page");
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.expect("html");
        let form = [
            ("csrf", hidden(&html, "csrf").expect("csrf")),
            ("req", hidden(&html, "req").expect("req")),
            ("decision", decision.to_owned()),
        ];
        let resp = self
            .browser
            .post(self.url("/consent"))
            .form(&form)
            .send()
            .await
            .expect("consent");
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        resp
    }

    /// POSTs a form to a protocol endpoint with client_secret_basic.
    pub async fn post_as(
        &self,
        path: &str,
        client_id: &str,
        secret: &str,
        form: &[(&str, &str)],
    ) -> Response {
        self.http
            .post(self.url(path))
            .basic_auth(client_id, Some(secret))
            .form(form)
            .send()
            .await
            .expect("request")
    }

    /// The JWKS document, fetched as a relying party would.
    pub async fn jwks(&self) -> serde_json::Value {
        let r = self.http.get(self.url("/jwks")).send().await.expect("jwks");
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.expect("jwks json")
    }

    /// Rows in a table (to prove that a bad request wrote nothing).
    pub async fn count(&self, table: &str) -> i64 {
        let db = &self.state.db;
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("row");
        row.try_get::<i64>("", "n").expect("n")
    }

    /// Audit events of one kind.
    pub async fn audit_events(&self, event: &str) -> Vec<entity::audit_event::Model> {
        ally_idp::store::audit::list(&self.state.db)
            .await
            .expect("audit")
            .into_iter()
            .filter(|e| e.event == event)
            .collect()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the server and let its pool close before the database (schema) is dropped.
        if let Some((stop, thread)) = self.server.take() {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}

/// Signs `username` in on a fresh browser of its own.
pub async fn browser_for(app: &TestApp, username: &str) -> reqwest::Client {
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
            ("username", username),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{username} signs in");
    b
}

/// A browser of its own: keeps cookies, never follows redirects.
/// A path's permission bits (the owner's, the group's, everyone's).
#[cfg(unix)]
pub fn file_mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

pub fn new_browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn location(resp: &Response) -> String {
    resp.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Location header on {}", resp.status()))
        .to_owned()
}

/// The value of a hidden input in a page (the templates write `name="x" value="y"`).
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&#x2f;", "/")
            .replace("&amp;", "&"),
    )
}

/// A query parameter of a URL.
pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Asserts an RFC 6749 §5.2 error body and status.
pub async fn assert_oauth_error(
    resp: Response,
    status: StatusCode,
    code: &str,
) -> serde_json::Value {
    assert_eq!(resp.status(), status, "status for {code}");
    assert_eq!(
        resp.headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body: serde_json::Value = resp.json().await.expect("json error body");
    assert_eq!(body["error"], code, "body: {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    body
}

/// A simple authorization URL for a client (PKCE S256 with a fixed verifier).
pub fn authorize_url(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(&app.url("/authorize")).expect("url");
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("client_id", client_id)
            .append_pair("redirect_uri", &redirect_uri(client_id))
            .append_pair("response_type", "code")
            .append_pair("state", "st-123")
            .append_pair("nonce", "n-456")
            .append_pair("code_challenge", PKCE_CHALLENGE)
            .append_pair("code_challenge_method", "S256");
        let has_scope = extra.iter().any(|(k, _)| *k == "scope");
        if !has_scope {
            q.append_pair("scope", "openid profile email");
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    u.to_string()
}

/// RFC 7636 appendix B.
pub const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Exchanges a code at the token endpoint with client_secret_basic.
pub async fn exchange_code(app: &TestApp, client_id: &str, secret: &str, code: &str) -> Response {
    app.http
        .post(app.url("/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri(client_id)),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .send()
        .await
        .expect("token request")
}
