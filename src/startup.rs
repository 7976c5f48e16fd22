//! Building and running the application: the same path for `serve` and for the tests.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, middleware, routing::get};
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;

use crate::{
    access, accounts, admin,
    authn::{self, passkeys::RelyingParty},
    clock::Clock,
    config::Config,
    crypto::{
        keystore,
        master::{self, DerivedKeys},
        opaque::TokenHasher,
        password::PasswordHasher,
        seal::Sealer,
    },
    oidc::{self, discovery, endpoints},
    state::AppState,
    store,
    web::{self, Templates},
};

/// The secrets and hashers every entry point (server and CLI) derives from configuration.
pub struct Secrets {
    pub keys: DerivedKeys,
    pub tokens: TokenHasher,
    pub sealer: Sealer,
    /// True when the master key file was created just now.
    pub generated_master_key: bool,
}

pub fn secrets(config: &Config) -> anyhow::Result<Secrets> {
    let (master, generated) = master::load_or_create(&config.secrets.master_key, &config.data_dir)?;
    let keys = DerivedKeys::from_master(&master);
    Ok(Secrets {
        tokens: TokenHasher::new(keys.token_hash),
        sealer: Sealer::new(keys.seal),
        keys,
        generated_master_key: generated,
    })
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Binds the configured address, then builds.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        Self::build_with_listener(config, clock, listener).await
    }

    /// Builds on an already bound listener (tests bind port 0 first: the issuer needs the
    /// port before the application exists).
    pub async fn build_with_listener(
        config: Config,
        clock: Arc<dyn Clock>,
        listener: TcpListener,
    ) -> anyhow::Result<Self> {
        let secrets = secrets(&config)?;
        if secrets.generated_master_key {
            tracing::warn!(
                path = %crate::crypto::master::key_file(&config.data_dir).display(),
                "generated a new master key; back it up, and in production set secrets.master_key instead"
            );
        }
        let db = store::db::connect_and_migrate(
            &config.database_url,
            config.database_max_connections,
            Duration::from_secs(config.database_acquire_timeout_secs),
        )
        .await?;
        warn_of_shared_files(&config);
        let keyring = keystore::load_or_create(&db, &secrets.sealer, clock.now()).await?;
        let templates = Arc::new(Templates::new()?);
        let passkeys =
            RelyingParty::for_issuer(config.issuer.as_str(), &config.mfa.passkey_rp_name)?
                .map(Arc::new);
        if passkeys.is_none() {
            tracing::warn!(
                issuer = config.issuer.as_str(),
                "passkeys are off: WebAuthn needs the issuer's host to be a domain name, not an IP address"
            );
        }
        let throttle = Arc::new(web::throttle::Throttle::new(
            &config.throttle,
            clock.clone(),
        )?);
        let answers = Arc::new(crate::oidc::answer_cache::AnswerCache::new(
            config.cache.tokens_secs,
        ));
        let state = AppState::from(crate::state::Shared {
            reads: crate::store::reads::Reads::new(db.clone()),
            token_writes: crate::oidc::token::group_commit::TokenWriter::start(
                db.clone(),
                answers.commits(),
            ),
            metrics: Arc::default(),
            clients: Arc::new(crate::access::client_cache::ClientCache::new(
                config.cache.clients_secs,
            )),
            answers,
            throttle,
            backchannel: Arc::new(crate::oidc::backchannel::Backchannel::new(&config.logout)?),
            passkeys,
            discovery: discovery::document(&config.issuer),
            passwords: PasswordHasher::new(&config.password_hashing)?,
            mailer: Arc::new(crate::mail::Mailer::from_config(
                &config,
                templates.clone(),
                secrets.sealer.clone(),
            )?),
            templates,
            tokens: secrets.tokens,
            sealer: secrets.sealer,
            secrets: Arc::new(secrets.keys),
            keyring: Arc::new(crate::crypto::keyring::LiveKeys::new(keyring)),
            clock,
            db,
            config: Arc::new(config),
        });
        Ok(Self {
            router: router(state.clone()),
            listener,
            state,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT or SIGTERM, then finishes in-flight requests and returns.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests and returns.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let metrics = self.state.metrics.clone();
        let jobs = tokio::spawn(crate::metrics::scoped(
            metrics.clone(),
            crate::jobs::run(self.state.clone()),
        ));
        let logouts = tokio::spawn(crate::metrics::scoped(
            metrics,
            crate::oidc::backchannel::run(self.state.clone()),
        ));
        let header_timeout = match self.state.config.http.header_timeout_secs {
            0 => None,
            secs => Some(Duration::from_secs(secs)),
        };
        let limits = crate::web::serve::Limits {
            header_timeout,
            timed_out: self.state.metrics.connections_timed_out.clone(),
        };
        let documents = Arc::new(crate::web::documents::Documents::new(&self.state));
        let served =
            crate::web::serve::serve(self.listener, documents, self.router, limits, shutdown).await;
        jobs.abort();
        logouts.abort();
        served
    }
}

/// Files of secrets that other local users can read, made so before ally-idp created them
/// owner-only (`private_files`) or by hand: left as they are (an operator may share the
/// directory with a backup user on purpose), but said once at start.
fn warn_of_shared_files(config: &Config) {
    let database = store::db::sqlite_file(&config.database_url).map(std::path::PathBuf::from);
    let key = crate::crypto::master::key_file(&config.data_dir);
    for path in database.iter().chain([&key]) {
        if crate::private_files::readable_by_others(path) {
            tracing::warn!(
                path = %path.display(),
                "other users of this machine can read this file, which holds secrets: make it owner-only (`chmod go= FILE`, a database's -wal and -shm files too)"
            );
        }
    }
}

pub fn router(state: AppState) -> Router {
    let http = &state.config.http;
    Router::new()
        .merge(oidc::routes())
        .merge(authn::routes::routes())
        .merge(access::routes::routes())
        .merge(admin::routes())
        .merge(accounts::register_pages::routes())
        .merge(accounts::request_pages::routes())
        .merge(accounts::security_pages::routes())
        .merge(accounts::sessions_pages::routes())
        .merge(accounts::recovery_pages::routes())
        .route(endpoints::HOME, get(accounts::home::home_get))
        .merge(web::assets::routes())
        .merge(web::health::routes())
        .merge(web::telemetry::routes())
        .fallback(|| async { crate::error::AppError::NotFound })
        // Inside the envelope, so a 413 is counted and gets the security headers.
        .layer(RequestBodyLimitLayer::new(http.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            web::envelope::envelope,
        ))
        .with_state(state)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
