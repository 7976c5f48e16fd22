//! Client configuration cached in process for the protocol endpoints, so that issuing a
//! token needs no database read that is not essential (a client is read on every token,
//! introspection and revocation request).
//!
//! Entries live `cache.clients_secs` (default 5 s; 0 turns caching off) and are dropped at
//! once on this node when the console or API changes the client. Another node (or the CLI,
//! which is a process of its own) sees a change within that lifetime, with one exception
//! made for safety of use: a secret that does not match a cached entry is checked again
//! against the database before it is refused, so a freshly rotated secret works
//! everywhere at once; only the old secret may keep working for up to the lifetime on
//! nodes that cached it. Unknown client ids are never cached, so the cache holds at most
//! one entry per registered client.
//!
//! The list of sign-in applications (for the `ally_apps` claim) is cached the same way and
//! dropped with any entry.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use sea_orm::ConnectionTrait;

use super::clients::{self, AccessPolicy, Client, GrantType};

/// A registered application people sign in to, as `ally_apps` needs it.
#[derive(Debug, Clone)]
pub struct SignInApp {
    pub client_id: String,
    pub access_policy: AccessPolicy,
}

type Apps = Arc<Vec<SignInApp>>;

pub struct ClientCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, (Instant, Arc<Client>)>>,
    apps: RwLock<Option<(Instant, Apps)>>,
}

impl ClientCache {
    pub fn new(ttl_secs: u64) -> Self {
        Self {
            ttl: Duration::from_secs(ttl_secs),
            entries: RwLock::default(),
            apps: RwLock::default(),
        }
    }

    /// Every application that allows the authorization-code grant, in registration order.
    pub async fn sign_in_apps(&self, c: &impl ConnectionTrait) -> anyhow::Result<Apps> {
        if let Ok(guard) = self.apps.read()
            && let Some((at, apps)) = &*guard
            && at.elapsed() < self.ttl
        {
            return Ok(apps.clone());
        }
        let mut apps = Vec::new();
        for m in crate::store::clients::list(c).await? {
            let client = Client::from_model(m).map_err(anyhow::Error::msg)?;
            if client.allows(GrantType::AuthorizationCode) {
                apps.push(SignInApp {
                    client_id: client.client_id,
                    access_policy: client.access_policy,
                });
            }
        }
        let apps = Arc::new(apps);
        if !self.ttl.is_zero()
            && let Ok(mut slot) = self.apps.write()
        {
            *slot = Some((Instant::now(), apps.clone()));
        }
        Ok(apps)
    }

    /// The client, from the cache while its entry is fresh, else from the database.
    pub async fn get(
        &self,
        c: &impl ConnectionTrait,
        client_id: &str,
    ) -> anyhow::Result<Option<Arc<Client>>> {
        if let Some(hit) = self.fresh(client_id) {
            return Ok(Some(hit));
        }
        self.reload(c, client_id).await
    }

    /// The client read from the database now (and cached).
    pub async fn reload(
        &self,
        c: &impl ConnectionTrait,
        client_id: &str,
    ) -> anyhow::Result<Option<Arc<Client>>> {
        let Some(client) = clients::find(c, client_id).await? else {
            self.invalidate(client_id);
            return Ok(None);
        };
        let client = Arc::new(client);
        if !self.ttl.is_zero()
            && let Ok(mut map) = self.entries.write()
        {
            map.insert(client_id.to_owned(), (Instant::now(), client.clone()));
        }
        Ok(Some(client))
    }

    /// Drops `client_id`'s entry and the application list (call it after any change to a
    /// client, its creation included).
    pub fn invalidate(&self, client_id: &str) {
        if let Ok(mut map) = self.entries.write() {
            map.remove(client_id);
        }
        if let Ok(mut slot) = self.apps.write() {
            *slot = None;
        }
    }

    fn fresh(&self, client_id: &str) -> Option<Arc<Client>> {
        let map = self.entries.read().ok()?;
        let (at, client) = map.get(client_id)?;
        (at.elapsed() < self.ttl).then(|| client.clone())
    }
}
