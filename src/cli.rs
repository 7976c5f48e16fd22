//! The command line: `serve`, `migrate`, and provisioning of clients and users against the
//! same database, for operators and scripts. Every command exits non-zero with a one-line
//! reason on bad input, and writes nothing in that case (each runs in one transaction).

use std::{io::Read, path::PathBuf, sync::Arc};

use clap::{Args, Parser, Subcommand, ValueEnum};
use sea_orm::{DatabaseConnection, TransactionTrait};
use secrecy::SecretString;

use crate::{
    access::clients::{self, GrantType, NewClient},
    accounts::users::{self, NewUser},
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
    Add(ClientAddArgs),
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
    Ok(store::db::connect_and_migrate(&config.database_url, 2).await?)
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
                id_token_alg: match a.id_token_alg {
                    AlgArg::Es256 => Alg::Es256,
                    AlgArg::Rs256 => Alg::Rs256,
                    AlgArg::EdDsa => Alg::EdDsa,
                },
                public: a.public,
                third_party: a.third_party,
                secret,
            };
            let secrets = startup::secrets(&config)?;
            let db = open_db(&config).await?;
            let txn = db.begin().await?;
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
                "{:<24} {:<12} {:<40} REDIRECT_URIS",
                "CLIENT_ID", "TYPE", "GRANT_TYPES"
            );
            for m in store::clients::list(&db).await? {
                let c = clients::Client::from_model(m).map_err(anyhow::Error::msg)?;
                println!(
                    "{:<24} {:<12} {:<40} {}",
                    c.client_id,
                    if c.public { "public" } else { "confidential" },
                    c.grant_types
                        .iter()
                        .map(|g| g.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    c.redirect_uris.join(" ")
                );
            }
        }
        Command::User(UserCommand::Add(a)) => {
            let password = SecretString::from(read_stdin_line("password")?);
            let hasher = PasswordHasher::new(&config.password_hashing)?;
            let db = open_db(&config).await?;
            let txn = db.begin().await?;
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
                },
            )
            .await?;
            txn.commit().await?;
            println!("{id}");
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
