//! UserInfo and introspection answers kept per node for a moment, so that a resource server
//! asking about the same token again and again costs no signature check and no database
//! read (`cache.tokens_secs`, default 2 s; 0 turns it off).
//!
//! Correctness on this node: every write transaction this node commits (any revocation,
//! logout, lock, grant change or refresh among them) advances a generation counter, and an
//! answer is only served while the generation it was computed under is current. The
//! generation is read before the answer's reads start, so an answer computed from a state
//! that a commit has since changed is never served, however the two interleave.
//!
//! Other nodes and the CLI: a revocation made there is seen here within `tokens_secs`. A
//! resource server that validates JWT access tokens itself does not see it before the
//! token expires at all, so this bound is far tighter than the one relying parties already
//! accept; it is documented in the README.
//!
//! Only positive answers are kept (a negative one is cheap to recompute and must not let a
//! stream of garbage tokens fill memory), never past the token's own expiry, and at most
//! `CAPACITY` of them.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// About 1 KiB each at most, so a few MiB.
const CAPACITY: usize = 4096;

pub type Answer = Arc<Map<String, Value>>;
pub type Key = [u8; 32];

struct Entry {
    generation: u64,
    fresh_until: DateTime<Utc>,
    answer: Answer,
}

pub struct AnswerCache {
    ttl: chrono::Duration,
    generation: Arc<AtomicU64>,
    entries: RwLock<HashMap<Key, Entry>>,
}

impl AnswerCache {
    pub fn new(ttl_secs: u64) -> Self {
        Self {
            ttl: chrono::Duration::seconds(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 1000)),
            generation: Arc::default(),
            entries: RwLock::default(),
        }
    }

    /// The key of an answer about `token` for `asker` (the endpoint and, for introspection,
    /// the client asking: each client sees only its own tokens).
    pub fn key(asker: &[&str], token: &str) -> Key {
        let mut h = Sha256::new();
        for part in asker.iter().chain([&token]) {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().into()
    }

    /// The counter that write transactions advance when they commit.
    pub fn commits(&self) -> Arc<AtomicU64> {
        self.generation.clone()
    }

    /// The kept answer for `key`, else the one `compute` makes, which is kept until its
    /// expiry (seconds since the epoch) when it has one. The generation is read before
    /// `compute` is first polled, so before any of its reads (see the module comment).
    pub async fn get_or_compute<E>(
        &self,
        key: Key,
        now: DateTime<Utc>,
        compute: impl Future<Output = Result<(Map<String, Value>, Option<i64>), E>>,
    ) -> Result<Answer, E> {
        if let Some(hit) = self.get(&key, now) {
            return Ok(hit);
        }
        let generation = self.generation();
        let (answer, expires_at) = compute.await?;
        let answer = Arc::new(answer);
        if let Some(expires_at) = expires_at {
            self.put(key, generation, now, expires_at, answer.clone());
        }
        Ok(answer)
    }

    /// Read before computing an answer, and handed to `put` with it.
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn get(&self, key: &Key, now: DateTime<Utc>) -> Option<Answer> {
        let entries = self.entries.read().ok()?;
        let e = entries.get(key)?;
        (e.generation == self.generation() && now < e.fresh_until).then(|| e.answer.clone())
    }

    /// Keeps `answer`, computed under `generation`, until `expires_at` (the token's expiry,
    /// seconds since the epoch) or the cache lifetime, whichever comes first.
    fn put(&self, key: Key, generation: u64, now: DateTime<Utc>, expires_at: i64, answer: Answer) {
        if self.ttl.is_zero() || generation != self.generation() {
            return;
        }
        let Some(expires_at) = DateTime::from_timestamp(expires_at, 0) else {
            return;
        };
        let fresh_until = (now + self.ttl).min(expires_at);
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= CAPACITY {
            let current = self.generation();
            entries.retain(|_, e| e.generation == current && now < e.fresh_until);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                generation,
                fresh_until,
                answer,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> Answer {
        Arc::new(Map::from_iter([("active".to_owned(), Value::Bool(true))]))
    }

    #[test]
    fn an_answer_is_served_until_its_lifetime_or_the_token_expires() {
        let c = AnswerCache::new(2);
        let now = Utc::now();
        let k = AnswerCache::key(&["introspect", "web"], "t");
        c.put(k, c.generation(), now, now.timestamp() + 60, answer());
        assert!(c.get(&k, now).is_some());
        assert!(c.get(&k, now + chrono::Duration::seconds(2)).is_none());
        let short = AnswerCache::key(&["userinfo"], "t");
        c.put(short, c.generation(), now, now.timestamp() + 1, answer());
        assert!(
            c.get(&short, now + chrono::Duration::milliseconds(1500))
                .is_none()
        );
    }

    #[test]
    fn a_commit_makes_every_answer_stale_even_one_being_computed() {
        let c = AnswerCache::new(2);
        let now = Utc::now();
        let k = AnswerCache::key(&["userinfo"], "t");
        c.put(k, c.generation(), now, now.timestamp() + 60, answer());
        let during = c.generation();
        c.commits().fetch_add(1, Ordering::AcqRel);
        assert!(c.get(&k, now).is_none(), "computed before the commit");
        c.put(k, during, now, now.timestamp() + 60, answer());
        assert!(
            c.get(&k, now).is_none(),
            "computed while the commit happened"
        );
    }

    #[test]
    fn keys_separate_askers_and_tokens() {
        assert_ne!(
            AnswerCache::key(&["introspect", "a"], "bc"),
            AnswerCache::key(&["introspect", "ab"], "c")
        );
        assert_ne!(
            AnswerCache::key(&["introspect", "a"], "t"),
            AnswerCache::key(&["introspect", "b"], "t")
        );
    }

    #[test]
    fn zero_lifetime_keeps_nothing_and_memory_is_bounded() {
        let now = Utc::now();
        let off = AnswerCache::new(0);
        let k = AnswerCache::key(&["userinfo"], "t");
        off.put(k, off.generation(), now, now.timestamp() + 60, answer());
        assert!(off.get(&k, now).is_none());
        let c = AnswerCache::new(2);
        for i in 0..CAPACITY + 10 {
            let k = AnswerCache::key(&["userinfo"], &i.to_string());
            c.put(k, c.generation(), now, now.timestamp() + 60, answer());
        }
        assert!(c.entries.read().map(|e| e.len()).unwrap_or(usize::MAX) <= CAPACITY);
    }
}
