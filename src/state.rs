//! Application state shared by every handler. One `Arc`, so a clone is one reference-count
//! increment: every middleware layer and extractor clones it per request, and with a field
//! per `Arc` those clones (atomic increments on cache lines both cores write) were nearly half
//! the CPU time of a discovery request.

use std::sync::Arc;

use bytes::Bytes;
use sea_orm::DatabaseConnection;

use crate::{
    clock::Clock,
    config::Config,
    crypto::{master::DerivedKeys, opaque::TokenHasher, password::PasswordHasher},
    web::Templates,
};

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl From<Shared> for AppState {
    fn from(s: Shared) -> Self {
        Self(Arc::new(s))
    }
}

/// What `AppState` shares.
pub struct Shared {
    pub db: DatabaseConnection,
    /// The hot reads, on connections of their own on SQLite (`store::reads`).
    pub reads: crate::store::reads::Reads,
    pub config: Arc<Config>,
    /// The signing keys in use (swapped when keys rotate).
    pub keyring: Arc<crate::crypto::keyring::LiveKeys>,
    pub secrets: Arc<DerivedKeys>,
    pub tokens: TokenHasher,
    /// At-rest encryption (TOTP seeds, sealed outbox messages).
    pub sealer: crate::crypto::seal::Sealer,
    pub passwords: PasswordHasher,
    pub templates: Arc<Templates>,
    pub clock: Arc<dyn Clock>,
    pub mailer: Arc<crate::mail::Mailer>,
    /// Per-client-IP throttling of the guessable forms.
    pub throttle: Arc<crate::web::throttle::Throttle>,
    /// The WebAuthn relying party; `None` when the issuer's host is an IP address.
    pub passkeys: Option<Arc<crate::authn::passkeys::RelyingParty>>,
    /// Back-channel logout sender.
    pub backchannel: Arc<crate::oidc::backchannel::Backchannel>,
    /// The discovery document, serialised once at start-up.
    pub discovery: Bytes,
    /// Client configuration for the protocol endpoints (short-lived, per node).
    pub clients: Arc<crate::access::client_cache::ClientCache>,
    /// UserInfo and introspection answers (short-lived, per node, stale after any commit).
    pub answers: Arc<crate::oidc::answer_cache::AnswerCache>,
    /// Writes codes, code exchanges and refresh rotations in batches (see
    /// `oidc::token::group_commit`).
    pub token_writes: crate::oidc::token::group_commit::TokenWriter,
    /// This node's Prometheus metrics.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl AppState {
    /// A write transaction whose commit makes the cached token answers stale (see
    /// `oidc::answer_cache`): every write of a request or job goes through here.
    pub async fn begin_write(&self) -> Result<crate::store::db::WriteTxn, sea_orm::DbErr> {
        Ok(crate::store::db::begin_write(&self.db)
            .await?
            .advancing(self.answers.commits())
            .reading_through(self.reads.clone()))
    }

    pub fn issuer(&self) -> &str {
        self.config.issuer.as_str()
    }
}
