//! Headless Debian Chromium driven over WebDriver (chromedriver + fantoccini), with the
//! flags this machine needs (no outside network: background services would stall it).

use std::{path::PathBuf, process::Stdio, time::Duration};

use axum::http::Method;
use fantoccini::{Client, ClientBuilder, Locator, wd::WebDriverCompatibleCommand};

/// A command of the WebDriver WebAuthn extension, which fantoccini does not wrap.
#[derive(Debug)]
struct WebAuthnCommand {
    /// Below `/session/{id}/`.
    path: String,
    method: Method,
    body: Option<serde_json::Value>,
}

impl WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/{}",
            session.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(|b| b.to_string()),
        )
    }
}

pub struct Browser {
    pub client: Client,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

fn find_binary(names: &[&str]) -> PathBuf {
    for n in names {
        for dir in ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"] {
            let p = PathBuf::from(dir).join(n);
            if p.exists() {
                return p;
            }
        }
    }
    panic!("{names:?} not found: install Debian's chromium and chromium-driver (.ci/run does)");
}

impl Browser {
    pub async fn launch() -> Self {
        let chromium = find_binary(&["chromium", "chromium-browser"]);
        let driver_bin = find_binary(&["chromedriver"]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = tokio::process::Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            match ClientBuilder::native()
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Self {
                        client,
                        _driver: driver,
                        _profile: profile,
                    };
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start: {last:?}");
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    pub async fn fill(&self, id: &str, text: &str) {
        let el = self
            .client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("#{id}: {e}"));
        el.clear().await.ok();
        el.send_keys(text).await.unwrap();
    }

    /// Fills the sign-in form and submits it.
    pub async fn sign_in(&self, username: &str, password: &str) {
        self.fill("username", username).await;
        self.fill("password", password).await;
        self.click("button[type=submit]").await;
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    /// Chooses the option at `index` (0 is the placeholder) of the `<select>` with this id.
    pub async fn select(&self, id: &str, index: usize) {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap_or_else(|e| panic!("#{id}: {e}"))
            .select_by_index(index)
            .await
            .unwrap();
    }

    /// Resizes the window (a phone is 390 x 844).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap();
    }

    /// Waits until the page source contains `text` (navigation after a click is asynchronous).
    pub async fn wait_for_text(&self, text: &str) -> String {
        let mut last = String::new();
        for _ in 0..100 {
            last = self.client.source().await.unwrap_or_default();
            if last.contains(text) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("page never showed {text:?}; last page:\n{last}");
    }

    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.unwrap()
    }

    /// Saves a screenshot under tests/artifacts/ (git-ignored) for a person to look at.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Adds a WebDriver virtual authenticator (W3C WebAuthn §11.3): a platform
    /// authenticator with discoverable credentials that verifies the user at once, as a
    /// fingerprint reader would. Returns its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let r = self
            .client
            .issue_cmd(WebAuthnCommand {
                path: "webauthn/authenticator".into(),
                method: Method::POST,
                body: Some(serde_json::json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "isUserConsenting": true,
                })),
            })
            .await
            .expect("add virtual authenticator");
        r.as_str().expect("authenticator id").to_owned()
    }

    /// The credentials a virtual authenticator holds.
    pub async fn virtual_credentials(&self, authenticator: &str) -> Vec<serde_json::Value> {
        let r = self
            .client
            .issue_cmd(WebAuthnCommand {
                path: format!("webauthn/authenticator/{authenticator}/credentials"),
                method: Method::GET,
                body: None,
            })
            .await
            .expect("virtual credentials");
        r.as_array().cloned().unwrap_or_default()
    }

    /// Puts a credential (as `virtual_credentials` lists it, private key included) on a
    /// virtual authenticator: the same passkey on a second device, as a synced one is.
    pub async fn add_virtual_credential(
        &self,
        authenticator: &str,
        credential: &serde_json::Value,
    ) {
        let mut body = serde_json::Map::new();
        for k in [
            "credentialId",
            "isResidentCredential",
            "rpId",
            "privateKey",
            "userHandle",
            "signCount",
        ] {
            body.insert(k.into(), credential[k].clone());
        }
        self.client
            .issue_cmd(WebAuthnCommand {
                path: format!("webauthn/authenticator/{authenticator}/credential"),
                method: Method::POST,
                body: Some(body.into()),
            })
            .await
            .expect("add virtual credential");
    }

    /// Forgets every cookie: the browser is signed out but keeps its authenticator.
    pub async fn clear_cookies(&self) {
        self.client.delete_all_cookies().await.unwrap();
    }

    pub async fn close(self) {
        self.client.close().await.ok();
    }
}
