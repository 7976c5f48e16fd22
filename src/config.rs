//! One typed configuration tree, layered with figment: the embedded `config/default.toml`
//! < an optional file < `ALLY_IDP_*` environment variables < command-line flags.

use std::{net::SocketAddr, path::PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

/// The defaults, compiled in so a release binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    pub issuer: Issuer,
    pub database_url: String,
    /// Pooled connections per process; unset means the backend's default
    /// (`store::db::default_max_connections`).
    pub database_max_connections: Option<u32>,
    pub database_acquire_timeout_secs: u64,
    pub data_dir: PathBuf,
    pub log: String,
    pub log_format: LogFormat,
    pub secrets: Secrets,
    pub accounts: Accounts,
    pub questions: Questions,
    pub registration: Registration,
    pub mfa: Mfa,
    pub lockout: Lockout,
    pub helpdesk: Helpdesk,
    pub throttle: Throttle,
    pub inactivity: Inactivity,
    pub password_hashing: PasswordHashing,
    pub tokens: Tokens,
    pub session: Session,
    pub logout: Logout,
    pub keys: Keys,
    pub http: Http,
    pub metrics: Metrics,
    pub cache: Cache,
    pub mail: Mail,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mail {
    pub transport: MailTransport,
    pub from: String,
    pub smtp: Smtp,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable text.
    Plain,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    Outbox,
    Smtp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: String,
    pub password: SecretString,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    pub master_key: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Questions {
    pub challenge: Vec<String>,
    pub helpdesk: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The application every registered cardholder is granted.
    pub cardholder_app: String,
    /// The applications dealer staff may ask for when they register.
    pub dealer_apps: Vec<String>,
    pub max_failures_per_record: u32,
    pub record_window_secs: i64,
    pub max_failures_per_ip: u32,
    pub ip_window_secs: i64,
}

/// Second factors and when they are asked for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mfa {
    /// For applications without a policy of their own.
    pub default_policy: crate::access::clients::MfaPolicy,
    /// "Remember this device": how long a browser may skip the second factor (0 disables).
    pub remember_device_days: i64,
    pub email_code_ttl_secs: i64,
    /// Wrong tries at one e-mailed code before it is void.
    pub email_code_max_attempts: i32,
    /// How long a sign-in may wait for its second factor.
    pub pending_ttl_secs: i64,
    /// Issuer name shown in authenticator apps.
    pub totp_issuer: String,
    /// The relying-party name passkey managers show (the RP id is the issuer's host).
    pub passkey_rp_name: String,
}

/// Failed sign-ins (password or second factor) before an account locks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockout {
    pub max_failures: u32,
    pub window_secs: i64,
    /// How a lock ends, per kind of account.
    pub cardholder: LockPolicy,
    pub dealer: LockPolicy,
    /// Accounts that are neither (staff, accounts made with `user add`).
    pub other: LockPolicy,
    /// A first temporary lock lasts this long; each further one twice as long as the last,
    /// up to `temporary_max_secs`.
    pub temporary_secs: i64,
    pub temporary_max_secs: i64,
}

/// How a locked account gets back in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockPolicy {
    /// The lock ends by itself after a while (or at a verified password reset).
    Temporary,
    /// Only the help desk or an administrator unlocks it.
    UntilUnlocked,
}

/// Per-client-IP allowance for the forms where guesses are made (see `web::throttle`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Sustained POSTs per minute per client IP.
    pub per_minute: u32,
    /// How many may come at once before the sustained rate applies.
    pub burst: u32,
}

/// User IDs unused this long are deactivated (0 = never), per kind of account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inactivity {
    pub cardholder_days: i64,
    pub dealer_days: i64,
    pub other_days: i64,
    /// A warning e-mail this many days before (0 = none).
    pub warn_days_before: i64,
}

/// Who to call: shown wherever a person is told to call the help desk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Helpdesk {
    pub name: String,
    pub phone: String,
    pub hours: String,
}

impl Helpdesk {
    /// "Ally Auto Dealer Help Desk at 1-866-766-4622 (Monday to Friday, …)".
    pub fn contact(&self) -> String {
        format!("{} at {} ({})", self.name, self.phone, self.hours)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    pub password_min_length: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordHashing {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
    pub max_concurrent: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    pub authorization_code_ttl_secs: i64,
    pub access_token_ttl_secs: i64,
    pub id_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    pub authorization_request_ttl_secs: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// Absolute lifetime: the session ends this long after sign-in, however busy.
    pub lifetime_secs: i64,
    /// Idle timeout: the session ends after this long with no activity (a page of this
    /// provider, or an application refreshing its tokens). 0 turns it off.
    pub idle_secs: i64,
}

/// Signing-key rotation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    /// A new key is published this long before it signs.
    pub publish_ahead_secs: i64,
    /// Scheduled rotation period per algorithm; 0 = manual only.
    pub rotate_after_days: i64,
    /// How often each node re-reads the keys.
    pub reload_secs: u64,
}

/// Logout propagation (OpenID Connect Back-Channel Logout 1.0).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logout {
    /// How long one back-channel delivery may take before it counts as failed.
    pub backchannel_timeout_secs: u64,
    /// Failed deliveries are retried with doubling delays for this long, then given up
    /// (audited as `logout.backchannel_failed`).
    pub backchannel_retry_secs: i64,
    /// Lifetime of a logout token (BCL §2.4 recommends about two minutes).
    pub logout_token_ttl_secs: i64,
}

/// In-process caches (per node; see `access::client_cache`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    /// How long a node may use a client's configuration before reading it again (0 = off).
    pub clients_secs: u64,
    /// How long a node may reuse a UserInfo or introspection answer (0 = off; see
    /// `oidc::answer_cache`).
    pub tokens_secs: u64,
}

/// The Prometheus endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    /// Serve `/metrics` at all.
    pub enabled: bool,
    /// When set, a scrape must send `Authorization: Bearer <token>`.
    pub bearer_token: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub max_body_bytes: usize,
    pub request_timeout_secs: u64,
    /// How long a connection may take to send a request's header section, and how long a
    /// kept-alive connection may wait idle for its next request, before it is closed
    /// (`web::serve`). 0: no limit.
    pub header_timeout_secs: u64,
    pub max_header_bytes: usize,
    /// Reverse proxies whose `X-Forwarded-For` is believed (exact addresses). From any other
    /// peer the header is ignored: the peer address is the client.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// The issuer URL, checked once: http(s), no query or fragment (OIDC Discovery §3), and kept
/// without a trailing slash so endpoint URLs are built by plain concatenation.
#[derive(Debug, Clone)]
pub struct Issuer(String);

impl Issuer {
    pub fn parse(s: &str) -> Result<Self, String> {
        let url = Url::parse(s).map_err(|e| format!("issuer `{s}` is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("issuer `{s}` must be an http or https URL"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("issuer `{s}` must not have a query or fragment"));
        }
        Ok(Self(s.trim_end_matches('/').to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }
    /// The issuer with `path` appended (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }
}

impl<'de> Deserialize<'de> for Issuer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Issuer::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Values given on the command line (or their dedicated environment variables); they win
/// over every other layer.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

impl Config {
    /// Builds the configuration from every layer. Unknown keys anywhere are an error, so a
    /// misspelt setting never silently falls back to its default.
    pub fn load(file: Option<&std::path::Path>, overrides: &Overrides) -> Result<Self, String> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.exists() {
                return Err(format!("config file {} does not exist", path.display()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment
            // ALLY_IDP_TEST_* variables belong to the test harness, not to the server.
            .merge(
                Env::prefixed("ALLY_IDP_")
                    .split("__")
                    .filter(|k| !k.as_str().to_ascii_lowercase().starts_with("test_")),
            )
            .merge(Serialized::defaults(overrides));
        figment.extract().map_err(|e| e.to_string())
    }

    /// Configuration for the test suite: cheap argon2, an in-memory master key, and the
    /// given issuer, listen address and database.
    pub fn for_tests(listen: SocketAddr, database_url: &str) -> Result<Self, String> {
        let mut c: Config = Figment::from(Toml::string(DEFAULT_TOML))
            .extract()
            .map_err(|e| e.to_string())?;
        c.listen = listen;
        c.issuer = Issuer::parse(&format!("http://{listen}"))?;
        c.database_url = database_url.to_owned();
        c.password_hashing = PasswordHashing {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 2,
        };
        c.secrets.master_key = SecretString::from("k8J5z2nq0uXo7mH2d9Q1cV3pL6sT4wY8aB0eF2gR5hM=");
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        let c = Config::load(None, &Overrides::default()).expect("defaults");
        assert_eq!(c.issuer.as_str(), "http://127.0.0.1:8080");
        assert_eq!(c.password_hashing.memory_kib, 19456);
    }

    #[test]
    fn overrides_win_and_issuer_is_checked() {
        let o = Overrides {
            issuer: Some("https://id.example.com/".into()),
            ..Default::default()
        };
        let c = Config::load(None, &o).expect("config");
        assert_eq!(c.issuer.as_str(), "https://id.example.com");
        assert!(c.issuer.is_https());
        let bad = Overrides {
            issuer: Some("https://id.example.com/?x=1".into()),
            ..Default::default()
        };
        assert!(Config::load(None, &bad).is_err());
    }
}
