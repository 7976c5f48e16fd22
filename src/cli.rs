//! The command line: `serve`, `migrate`, and provisioning of clients and users against the
//! same database, for operators and scripts. Every command exits non-zero with a one-line
//! reason on bad input, and writes nothing in that case (each runs in one transaction).

use std::{io::Read, path::PathBuf, sync::Arc};

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use sea_orm::DatabaseConnection;
use secrecy::SecretString;

use crate::{
    access::{
        clients::{self, AccessPolicy, GrantType, MfaPolicy, NewClient},
        grants::{self, NewGrant},
        orgs,
        staff::{self, StaffRole},
    },
    accounts::{
        customers,
        users::{self, AccountStatus, NewUser},
    },
    audit::Actor,
    audit::RequestContext,
    clock::{Clock, SystemClock},
    config::{Config, Overrides},
    crypto::{keyring::Alg, password::PasswordHasher},
    demo,
    startup::{self, Application},
    store,
};

#[derive(Debug, Parser)]
#[command(name = "ally-idp", version, about = "OpenID Connect identity provider")]
pub struct Cli {
    /// Configuration file (TOML), layered over the built-in defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://path?mode=rwc or postgres://user@host/db.
    #[arg(long, global = true, env = "DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the provider.
    Serve(ServeArgs),
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Manage applications (OAuth clients).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage per-application access grants.
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Manage staff (administrators, help desk, dealership administrators).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage dealerships.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Read the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage the customer records cardholders register against.
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// Signing keys: list them, or rotate them.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Account reports: `inactive` (deactivated user IDs and those due within the warning
    /// period) or `locked`.
    Report {
        #[arg(value_enum)]
        which: ReportArg,
        #[arg(long, value_enum, default_value = "table")]
        format: ReportFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Every key with its state: signing, next (published, signs from a set time),
    /// published (replaced, still verifying what it signed) or retired.
    List,
    /// Start replacing the signing key of each algorithm (or of `--alg`): the new key is
    /// published now and signs after `keys.publish_ahead_secs`; the old one stays published
    /// until nothing it signed can be valid, then is retired by the periodic job.
    Rotate {
        #[arg(long, value_enum)]
        alg: Option<AlgArg>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportArg {
    Inactive,
    Locked,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Table,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum CustomersCommand {
    /// Import (create or update) customer records from CSV with the columns card_number
    /// and/or account_number, ssn_last4, given_name, family_name, email. Only keyed hashes of
    /// the numbers are stored. A file with any invalid row imports nothing.
    Import {
        #[arg(value_name = "FILE.csv")]
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum GrantCommand {
    /// Grant an account access to an application (replaces roles and expiry of an existing grant).
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        client_id: String,
        /// A role within the application (repeatable), e.g. buyer, seller.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// When the grant ends (RFC 3339, e.g. 2027-01-31T00:00:00Z).
        #[arg(long)]
        expires: Option<String>,
    },
    /// Revoke a grant; the account's tokens for that application stop working at once.
    Revoke {
        #[arg(long)]
        username: String,
        #[arg(long)]
        client_id: String,
    },
    /// List grants, optionally for one account or one application.
    List {
        #[arg(long, conflicts_with = "client_id")]
        username: Option<String>,
        #[arg(long)]
        client_id: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StaffRoleArg {
    #[value(name = "admin")]
    Admin,
    #[value(name = "helpdesk")]
    Helpdesk,
    #[value(name = "dealer_admin")]
    DealerAdmin,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Give an existing account a staff role.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long, value_enum)]
        role: StaffRoleArg,
        /// The dealership (PDN) of a dealer_admin.
        #[arg(long)]
        pdn: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Register a dealership.
    Add {
        #[arg(long)]
        pdn: String,
        #[arg(long)]
        name: String,
    },
    /// List dealerships.
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Write audit events since a time to standard output, oldest first.
    Export {
        /// RFC 3339 timestamp, e.g. 2026-11-01T00:00:00Z.
        #[arg(long)]
        since: String,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AccessArg {
    #[value(name = "open")]
    Open,
    #[value(name = "grant_required")]
    GrantRequired,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MfaArg {
    None,
    Optional,
    Required,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, env = "ALLY_IDP_LISTEN")]
    pub listen: Option<String>,
    /// Issuer URL relying parties use, e.g. https://id.example.com.
    #[arg(long, env = "ALLY_IDP_ISSUER")]
    pub issuer: Option<String>,
    /// Seed the demo applications and a demo user (printed once).
    #[arg(long)]
    pub demo: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GrantArg {
    #[value(name = "authorization_code")]
    AuthorizationCode,
    #[value(name = "refresh_token")]
    RefreshToken,
    #[value(name = "client_credentials")]
    ClientCredentials,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AlgArg {
    #[value(name = "ES256")]
    Es256,
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "EdDSA")]
    EdDsa,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an application. A confidential client's generated secret is printed once
    /// on standard output; only its keyed hash is stored.
    Add(Box<ClientAddArgs>),
    /// List applications.
    List,
}

#[derive(Debug, Args)]
pub struct ClientAddArgs {
    #[arg(long)]
    pub client_id: String,
    #[arg(long)]
    pub name: String,
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where signed logout tokens are posted when a session the application took part in
    /// ends (OpenID Connect Back-Channel Logout 1.0).
    #[arg(long, value_name = "URI")]
    pub backchannel_logout_uri: Option<String>,
    /// A page the signed-out screen loads in a hidden iframe with `iss` and `sid`
    /// (OpenID Connect Front-Channel Logout 1.0); same scheme, host and port as a redirect URI.
    #[arg(long, value_name = "URI")]
    pub frontchannel_logout_uri: Option<String>,
    /// Allowed grant types (repeatable). Default: authorization_code and refresh_token.
    #[arg(long = "grant-type", value_enum)]
    pub grant_types: Vec<GrantArg>,
    /// ID token signing algorithm.
    #[arg(long, value_enum, default_value = "ES256")]
    pub id_token_alg: AlgArg,
    /// A public client (no secret; PKCE required), e.g. a single-page or mobile app.
    #[arg(long)]
    pub public: bool,
    /// A third-party application: users always see the consent screen.
    #[arg(long)]
    pub third_party: bool,
    /// Read the client secret from standard input instead of generating one (>= 32 chars).
    #[arg(long)]
    pub secret_stdin: bool,
    /// Who may sign in to it: any active account, or only accounts with a grant.
    #[arg(long, value_enum, default_value = "open")]
    pub access: AccessArg,
    /// When a second factor is asked for (default: `mfa.default_policy`).
    #[arg(long, value_enum)]
    pub mfa: Option<MfaArg>,
    /// A scope beyond the user scopes the client may be issued (repeatable): ally:admin.
    #[arg(long = "allowed-scope")]
    pub allowed_scopes: Vec<String>,
    /// A text file of terms people must accept before first use (shown once, re-shown when
    /// the text changes).
    #[arg(long, value_name = "FILE")]
    pub terms_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an active account. Prints the account id (the `sub` applications see).
    Add(UserAddArgs),
    /// List accounts.
    List,
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    #[arg(long)]
    pub username: String,
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub given_name: Option<String>,
    #[arg(long)]
    pub family_name: Option<String>,
    /// Read the password from standard input (required: never put passwords on a command line).
    #[arg(long, required = true)]
    pub password_stdin: bool,
}

async fn grant_command(
    config: &Config,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    cmd: GrantCommand,
) -> anyhow::Result<()> {
    let db = open_db(config).await?;
    let account_id = |username: String| {
        let db = &db;
        async move {
            store::accounts::find_by_username(db, &username)
                .await?
                .map(|a| a.id)
                .ok_or_else(|| anyhow::anyhow!("no account with user ID `{username}`"))
        }
    };
    match cmd {
        GrantCommand::Add {
            username,
            client_id,
            roles,
            expires,
        } => {
            let expires_at = match expires {
                Some(e) => Some(
                    DateTime::parse_from_rfc3339(&e)
                        .map_err(|_| {
                            anyhow::anyhow!(
                                "--expires must be an RFC 3339 time, e.g. 2027-01-31T00:00:00Z"
                            )
                        })?
                        .with_timezone(&Utc),
                ),
                None => None,
            };
            let account_id = account_id(username.clone()).await?;
            let txn = crate::store::db::begin_write(&db).await?;
            grants::add(
                &txn,
                now,
                ctx,
                Actor::Cli,
                NewGrant {
                    account_id,
                    client_id: client_id.clone(),
                    roles,
                    expires_at,
                },
            )
            .await?;
            txn.commit().await?;
            eprintln!("granted `{username}` access to `{client_id}`");
        }
        GrantCommand::Revoke {
            username,
            client_id,
        } => {
            let account_id = account_id(username.clone()).await?;
            let txn = crate::store::db::begin_write(&db).await?;
            grants::revoke(&txn, now, ctx, Actor::Cli, &account_id, &client_id).await?;
            txn.commit().await?;
            eprintln!("revoked `{username}`'s access to `{client_id}`");
        }
        GrantCommand::List {
            username,
            client_id,
        } => {
            let account = match username {
                Some(u) => Some(account_id(u).await?),
                None => None,
            };
            let names: std::collections::HashMap<String, String> = store::accounts::list(&db)
                .await?
                .into_iter()
                .map(|a| (a.id, a.username))
                .collect();
            println!(
                "{:<24} {:<16} {:<10} {:<26} ROLES",
                "USERNAME", "CLIENT_ID", "STATUS", "EXPIRES"
            );
            for g in
                store::access::list_grants(&db, account.as_deref(), client_id.as_deref()).await?
            {
                let status = if g.revoked_at.is_some() {
                    "revoked"
                } else if g.expires_at.is_some_and(|e| e <= now) {
                    "expired"
                } else {
                    "active"
                };
                let roles: Vec<String> = serde_json::from_value(g.roles).unwrap_or_default();
                println!(
                    "{:<24} {:<16} {:<10} {:<26} {}",
                    names.get(&g.account_id).map_or("?", String::as_str),
                    g.client_id,
                    status,
                    g.expires_at
                        .map(|e| e.to_rfc3339())
                        .unwrap_or_else(|| "-".into()),
                    roles.join(",")
                );
            }
        }
    }
    Ok(())
}

impl Cli {
    fn overrides(&self) -> Overrides {
        let mut o = Overrides {
            database_url: self.database_url.clone(),
            ..Default::default()
        };
        if let Command::Serve(s) = &self.command {
            o.listen = s.listen.clone();
            o.issuer = s.issuer.clone();
        }
        o
    }

    pub fn load_config(&self) -> Result<Config, String> {
        Config::load(self.config.as_deref(), &self.overrides())
    }
}

fn read_stdin_line(what: &str) -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut s)
        .map_err(|e| anyhow::anyhow!("reading {what} from standard input: {e}"))?;
    let line = s.lines().next().unwrap_or("").to_owned();
    if line.is_empty() {
        anyhow::bail!("no {what} on standard input");
    }
    Ok(line)
}

async fn open_db(config: &Config) -> anyhow::Result<DatabaseConnection> {
    Ok(store::db::connect_and_migrate(
        &config.database_url,
        Some(2),
        std::time::Duration::from_secs(config.database_acquire_timeout_secs),
    )
    .await?)
}

pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ctx = RequestContext::default();
    match cli.command {
        Command::Serve(args) => {
            let app = Application::build(config, clock.clone()).await?;
            if args.demo {
                demo::seed(app.state(), clock.now()).await?;
            }
            if store::access::count_admins(&app.state().db).await? == 0 {
                eprintln!(
                    "No administrator exists yet. Create an account and make it one:\n  \
                     printf '%s\\n' 'a long passphrase' | ally-idp user add --username admin --email admin@example.com --password-stdin\n  \
                     ally-idp admin add --username admin --role admin"
                );
            }
            let addr = app.local_addr()?;
            tracing::info!(%addr, issuer = app.state().issuer(), "ally-idp listening");
            app.run_until_stopped().await?;
        }
        Command::Migrate => {
            open_db(&config).await?;
            eprintln!("database schema is up to date");
        }
        Command::Client(ClientCommand::Add(a)) => {
            let secret = if a.secret_stdin {
                Some(SecretString::from(read_stdin_line("client secret")?))
            } else {
                None
            };
            let grant_types = if a.grant_types.is_empty() {
                vec![GrantType::AuthorizationCode, GrantType::RefreshToken]
            } else {
                a.grant_types
                    .iter()
                    .map(|g| match g {
                        GrantArg::AuthorizationCode => GrantType::AuthorizationCode,
                        GrantArg::RefreshToken => GrantType::RefreshToken,
                        GrantArg::ClientCredentials => GrantType::ClientCredentials,
                    })
                    .collect()
            };
            let new = NewClient {
                client_id: a.client_id.clone(),
                name: a.name,
                redirect_uris: a.redirect_uris,
                post_logout_redirect_uris: a.post_logout_redirect_uris,
                grant_types,
                id_token_alg: alg_of(a.id_token_alg),
                public: a.public,
                third_party: a.third_party,
                access_policy: match a.access {
                    AccessArg::Open => AccessPolicy::Open,
                    AccessArg::GrantRequired => AccessPolicy::GrantRequired,
                },
                service_scopes: a.allowed_scopes,
                terms: match &a.terms_file {
                    Some(f) => Some(
                        std::fs::read_to_string(f)
                            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?,
                    ),
                    None => None,
                },
                mfa: a.mfa.map(|m| match m {
                    MfaArg::None => MfaPolicy::None,
                    MfaArg::Optional => MfaPolicy::Optional,
                    MfaArg::Required => MfaPolicy::Required,
                }),
                logout: crate::access::clients::LogoutUris {
                    backchannel: a.backchannel_logout_uri,
                    frontchannel: a.frontchannel_logout_uri,
                },
                secret,
            };
            let secrets = startup::secrets(&config)?;
            let db = open_db(&config).await?;
            let txn = crate::store::db::begin_write(&db).await?;
            let shown =
                clients::register(&txn, &secrets.tokens, clock.now(), &ctx, Actor::Cli, new)
                    .await?;
            txn.commit().await?;
            match shown {
                Some(s) => {
                    println!("{s}");
                    eprintln!(
                        "created confidential client `{}`; its secret (above) is shown only this once",
                        a.client_id
                    );
                }
                None => eprintln!("created client `{}`", a.client_id),
            }
        }
        Command::Client(ClientCommand::List) => {
            let db = open_db(&config).await?;
            println!(
                "{:<24} {:<12} {:<14} {:<9} {:<40} {:<14} REDIRECT_URIS",
                "CLIENT_ID", "TYPE", "ACCESS", "MFA", "GRANT_TYPES", "LOGOUT"
            );
            for m in store::clients::list(&db).await? {
                let c = clients::Client::from_model(m).map_err(anyhow::Error::msg)?;
                let logout = match (&c.backchannel_logout_uri, &c.frontchannel_logout_uri) {
                    (Some(_), Some(_)) => "back+front",
                    (Some(_), None) => "back-channel",
                    (None, Some(_)) => "front-channel",
                    (None, None) => "-",
                };
                println!(
                    "{:<24} {:<12} {:<14} {:<9} {:<40} {:<14} {}",
                    c.client_id,
                    if c.public { "public" } else { "confidential" },
                    c.access_policy.as_str(),
                    c.mfa_policy(config.mfa.default_policy).as_str(),
                    c.grant_types
                        .iter()
                        .map(|g| g.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    logout,
                    c.redirect_uris.join(" ")
                );
            }
        }
        Command::User(UserCommand::Add(a)) => {
            let password = SecretString::from(read_stdin_line("password")?);
            let hasher = PasswordHasher::new(&config.password_hashing)?;
            let db = open_db(&config).await?;
            let txn = crate::store::db::begin_write(&db).await?;
            let id = users::create(
                &txn,
                &hasher,
                clock.now(),
                &ctx,
                Actor::Cli,
                NewUser {
                    username: a.username,
                    email: a.email,
                    given_name: a.given_name,
                    family_name: a.family_name,
                    password,
                    org_id: None,
                    password_min_length: config.accounts.password_min_length,
                    status: AccountStatus::Active,
                    customer_id: None,
                    phone: None,
                    job_role: None,
                },
            )
            .await?;
            txn.commit().await?;
            println!("{id}");
        }
        Command::Grant(cmd) => grant_command(&config, clock.now(), &ctx, cmd).await?,
        Command::Customers(CustomersCommand::Import { file }) => {
            let input = std::fs::File::open(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let hasher = customers::CustomerHasher::new(startup::secrets(&config)?.keys.customer);
            let db = open_db(&config).await?;
            let txn = crate::store::db::begin_write(&db).await?;
            match customers::import_csv(
                &txn,
                &hasher,
                clock.now(),
                &ctx,
                Actor::Cli,
                std::io::BufReader::new(input),
            )
            .await
            {
                Ok(summary) => {
                    txn.commit().await?;
                    println!(
                        "imported {}: {} created, {} updated",
                        file.display(),
                        summary.created,
                        summary.updated
                    );
                }
                Err(customers::ImportError::Invalid(rows)) => {
                    for (line, reason) in rows.iter().take(100) {
                        eprintln!("line {line}: {reason}");
                    }
                    anyhow::bail!(
                        "{} invalid row(s) in {}; nothing was imported",
                        rows.len(),
                        file.display()
                    );
                }
                Err(e) => return Err(e.into()),
            }
        }
        Command::Admin(AdminCommand::Add {
            username,
            role,
            pdn,
        }) => {
            let role = match role {
                StaffRoleArg::Admin => StaffRole::Admin,
                StaffRoleArg::Helpdesk => StaffRole::Helpdesk,
                StaffRoleArg::DealerAdmin => StaffRole::DealerAdmin,
            };
            let db = open_db(&config).await?;
            let txn = crate::store::db::begin_write(&db).await?;
            staff::add_role(
                &txn,
                clock.now(),
                &ctx,
                Actor::Cli,
                &username,
                role,
                pdn.as_deref(),
            )
            .await?;
            txn.commit().await?;
            eprintln!("`{username}` is now {}", role.as_str());
        }
        Command::Org(OrgCommand::Add { pdn, name }) => {
            let db = open_db(&config).await?;
            let txn = crate::store::db::begin_write(&db).await?;
            orgs::add(&txn, clock.now(), &ctx, Actor::Cli, &pdn, &name).await?;
            txn.commit().await?;
            eprintln!("created dealership {pdn}");
        }
        Command::Org(OrgCommand::List) => {
            let db = open_db(&config).await?;
            println!("{:<6} {:<8} NAME", "PDN", "ACTIVE");
            for o in store::access::list_orgs(&db).await? {
                println!("{:<6} {:<8} {}", o.pdn, o.active, o.name);
            }
        }
        Command::Audit(AuditCommand::Export { since, format }) => {
            let since = DateTime::parse_from_rfc3339(&since)
                .map_err(|_| {
                    anyhow::anyhow!("--since must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z")
                })?
                .with_timezone(&Utc);
            let db = open_db(&config).await?;
            let events = store::audit::list_since(&db, since).await?;
            let mut out = std::io::stdout().lock();
            crate::audit::export(&events, matches!(format, ExportFormat::Csv), &mut out)?;
        }
        Command::Keys(KeysCommand::Rotate { alg }) => {
            let algs = match alg {
                Some(a) => vec![alg_of(a)],
                None => Alg::ALL.to_vec(),
            };
            let secrets = startup::secrets(&config)?;
            let db = open_db(&config).await?;
            let now = clock.now();
            let ahead = chrono::Duration::seconds(config.keys.publish_ahead_secs);
            // On a fresh database there is nothing to replace yet: create the first keys.
            crate::crypto::keystore::load_or_create(&db, &secrets.sealer, now).await?;
            let txn = crate::store::db::begin_write(&db).await?;
            let mut made = Vec::new();
            for a in algs {
                let key = crate::crypto::keystore::rotate(
                    &txn,
                    &secrets.sealer,
                    now,
                    a,
                    ahead,
                    Actor::Cli,
                )
                .await?;
                match key {
                    Some(k) => made.push(k),
                    None => anyhow::bail!(
                        "{} is being rotated by someone else right now; try again",
                        a.as_str()
                    ),
                }
            }
            txn.commit().await?;
            for k in made {
                let from = k.signs_from.map(|t| t.to_rfc3339()).unwrap_or_default();
                println!(
                    "{:<6} {}  published now, signs from {from}",
                    k.alg.as_str(),
                    k.kid
                );
            }
        }
        Command::Keys(KeysCommand::List) => {
            let db = open_db(&config).await?;
            let now = clock.now();
            let keys = store::keys::list_all(&db).await?;
            println!(
                "{:<18} {:<6} {:<10} {:<26} SIGNS_FROM",
                "KID", "ALG", "STATE", "CREATED"
            );
            for (i, k) in keys.iter().enumerate() {
                let newer_signing = keys[i + 1..].iter().any(|n| {
                    n.alg == k.alg
                        && n.retired_at.is_none()
                        && n.signs_from.is_none_or(|t| t <= now)
                });
                let state = if k.retired_at.is_some() {
                    "retired"
                } else if k.signs_from.is_some_and(|t| t > now) {
                    "next"
                } else if newer_signing {
                    "published"
                } else {
                    "signing"
                };
                println!(
                    "{:<18} {:<6} {:<10} {:<26} {}",
                    k.kid,
                    k.alg,
                    state,
                    k.created_at.to_rfc3339(),
                    k.signs_from.unwrap_or(k.created_at).to_rfc3339()
                );
            }
        }
        Command::Report { which, format } => {
            use crate::accounts::inactivity::{self, Report};
            let which = match which {
                ReportArg::Inactive => Report::Inactive,
                ReportArg::Locked => Report::Locked,
            };
            let db = open_db(&config).await?;
            let rows = inactivity::report(&db, &config.inactivity, clock.now(), which).await?;
            let mut out = std::io::stdout().lock();
            write_report(&rows, matches!(format, ReportFormat::Csv), &mut out)?;
        }
        Command::User(UserCommand::List) => {
            let db = open_db(&config).await?;
            println!("{:<36} {:<24} {:<12} EMAIL", "ID", "USERNAME", "STATUS");
            for a in store::accounts::list(&db).await? {
                println!(
                    "{:<36} {:<24} {:<12} {}",
                    a.id, a.username, a.status, a.email
                );
            }
        }
    }
    Ok(())
}

fn alg_of(a: AlgArg) -> Alg {
    match a {
        AlgArg::Es256 => Alg::Es256,
        AlgArg::Rs256 => Alg::Rs256,
        AlgArg::EdDsa => Alg::EdDsa,
    }
}

fn write_report(
    rows: &[crate::accounts::inactivity::ReportRow],
    csv: bool,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    use crate::audit::csv_field;
    let t = |d: Option<DateTime<Utc>>| d.map(|d| d.to_rfc3339()).unwrap_or_default();
    if csv {
        writeln!(
            out,
            "username,kind,status,last_sign_in,idle_since,deactivation_due,locked_until"
        )?;
    } else {
        writeln!(
            out,
            "{:<24} {:<10} {:<12} {:<26} {:<26} LOCKED UNTIL",
            "USERNAME", "KIND", "STATUS", "LAST SIGN-IN", "DEACTIVATION DUE"
        )?;
    }
    for r in rows {
        if csv {
            writeln!(
                out,
                "{},{},{},{},{},{},{}",
                csv_field(&r.username),
                r.kind,
                r.status,
                t(r.last_sign_in),
                r.idle_since.to_rfc3339(),
                t(r.due),
                t(r.locked_until)
            )?;
        } else {
            let never = || "never".to_owned();
            writeln!(
                out,
                "{:<24} {:<10} {:<12} {:<26} {:<26} {}",
                r.username,
                r.kind,
                r.status,
                r.last_sign_in.map(|d| d.to_rfc3339()).unwrap_or_else(never),
                r.due.map(|d| d.to_rfc3339()).unwrap_or_else(never),
                r.locked_until.map(|d| d.to_rfc3339()).unwrap_or_default()
            )?;
        }
    }
    Ok(())
}
