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

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use sea_orm::ConnectionTrait;

use super::clients::{self, Client};

pub struct ClientCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, (Instant, Arc<Client>)>>,
}

impl ClientCache {
    pub fn new(ttl_secs: u64) -> Self {
        Self {
            ttl: Duration::from_secs(ttl_secs),
            entries: RwLock::default(),
        }
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

    pub fn invalidate(&self, client_id: &str) {
        if let Ok(mut map) = self.entries.write() {
            map.remove(client_id);
        }
    }

    fn fresh(&self, client_id: &str) -> Option<Arc<Client>> {
        let map = self.entries.read().ok()?;
        let (at, client) = map.get(client_id)?;
        (at.elapsed() < self.ttl).then(|| client.clone())
    }
}
