//! Password hashing with Argon2id. A hash is CPU-bound for milliseconds, so it runs off the
//! async workers (a blocking thread waits while rayon's threads compute it) behind a
//! semaphore: a burst of sign-ins queues here instead of starving the workers that serve
//! token requests. The lanes of one hash (`parallelism`, RFC 9106 §3.2) run on two cores at
//! once, so the semaphore admits cores ÷ lanes hashes: every core busy, a sign-in waiting
//! about half as long as with one lane, and half as many working buffers in memory. Measured
//! against one-lane hashes two at a time (README, Benchmarks): sign-in latency 16 → 9 ms,
//! peak memory 19 MiB lower, throughput at saturation 5–7% lower (a lane waits for the
//! other at each of the eight segment boundaries when the cores are also serving requests).
//!
//! Each hash needs `memory_kib` of working memory (19 MiB by default). Allocating it per
//! hash lets the allocator keep a freed block per blocking thread it ever ran on, so memory
//! grew with the sign-in rate (seen in the benchmark: hundreds of MiB). Instead the blocks
//! are kept in a pool of at most one per permit and reused: the provider's memory is its
//! baseline plus `max_concurrent` × `memory_kib`, whatever the load. Once no hash has run for
//! `RELEASE_AFTER`, the pool is emptied: a provider that saw a burst of sign-ins returns to its
//! baseline instead of holding the burst's working memory for good.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::phc::{Output, ParamsString, PasswordHash, Salt},
};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::config::PasswordHashing;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("argon2: {0}")]
    Argon2(String),
    #[error("hashing task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("hashing limiter closed")]
    Closed,
}

/// Argon2 working memory, reused across hashes (one per permit at most).
type Blocks = Vec<Block>;

/// How long the pool keeps working memory with no hash running. Long enough that a steady
/// trickle of sign-ins reuses it (a fresh 19 MiB buffer costs thousands of page faults), short
/// enough that the memory of a burst goes back to the system soon after it.
const RELEASE_AFTER: Duration = Duration::from_secs(5);

/// The pooled working memory, and what empties it when hashing stops.
#[derive(Default)]
struct Pool {
    blocks: Mutex<Vec<Blocks>>,
    /// Counts hashes started; unchanged over `RELEASE_AFTER` means idle.
    uses: AtomicU64,
    /// Whether a task is already waiting to empty the pool.
    release_pending: AtomicBool,
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    pool: Arc<Pool>,
    /// A hash of a random password with the configured parameters. Verifying against it when
    /// the user does not exist makes "unknown user" cost the same time as "wrong password".
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish()
    }
}

impl PasswordHasher {
    pub fn new(cfg: &PasswordHashing) -> Result<Self, PasswordError> {
        let params = Params::new(cfg.memory_kib, cfg.iterations, cfg.parallelism, None)
            .map_err(|e| PasswordError::Argon2(e.to_string()))?;
        let permits = match cfg.max_concurrent {
            0 => default_concurrency(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
                cfg.parallelism,
            ),
            n => n,
        };
        let dummy = crate::crypto::opaque::generate();
        let mut blocks = vec![Block::default(); params.block_count()];
        let dummy_hash = hash_with(&params, dummy.as_bytes(), &mut blocks)?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(permits)),
            // The start-up buffer is dropped, not pooled: an idle provider holds no
            // working memory until people sign in.
            pool: Arc::default(),
            dummy_hash: dummy_hash.into(),
        })
    }

    /// Working memory for one hash: a pooled block list, or a new one.
    fn take_blocks(&self) -> Blocks {
        self.pool.uses.fetch_add(1, Ordering::Relaxed);
        self.pool
            .blocks
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_else(|| vec![Block::default(); self.params.block_count()])
    }

    /// Returns a buffer taken by `take_blocks`. Each buffer in use belongs to one permit
    /// holder, so the pool never holds more than there are permits. Makes sure a task will
    /// empty the pool once hashing has stopped for `RELEASE_AFTER`.
    fn give_back(&self, blocks: Blocks) {
        if let Ok(mut p) = self.pool.blocks.lock() {
            p.push(blocks);
        }
        if !self.pool.release_pending.swap(true, Ordering::AcqRel) {
            tokio::spawn(release_when_idle(self.pool.clone()));
        }
    }

    pub async fn hash(&self, password: &SecretString) -> Result<String, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Closed)?;
        let params = self.params.clone();
        let pw = password.clone();
        let mut blocks = self.take_blocks();
        let (hashed, blocks) = tokio::task::spawn_blocking(move || {
            on_rayon(|| {
                let h = hash_with(&params, pw.expose_secret().as_bytes(), &mut blocks);
                (h, blocks)
            })
        })
        .await?;
        self.give_back(blocks);
        hashed
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no
    /// account, so both paths take the same time. Returns false for a malformed hash.
    pub async fn verify(
        &self,
        password: &SecretString,
        stored: Option<&str>,
    ) -> Result<bool, PasswordError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| PasswordError::Closed)?;
        let known = stored.is_some();
        let stored: String = stored.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let pw = password.clone();
        let mut blocks = self.take_blocks();
        let (ok, blocks) = tokio::task::spawn_blocking(move || {
            on_rayon(|| {
                let ok = verify_with(&stored, pw.expose_secret().as_bytes(), &mut blocks);
                (ok, blocks)
            })
        })
        .await?;
        self.give_back(blocks);
        Ok(ok && known)
    }
}

impl PasswordHasher {
    /// Whether `stored` was made with other parameters (or another algorithm) than the
    /// configured ones: the next successful sign-in then stores a new hash, so raising the
    /// Argon2 cost in the configuration upgrades every active account over time.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return true;
        };
        if parsed.algorithm.as_str() != "argon2id" || parsed.version != Some(0x13) {
            return true;
        }
        match Params::try_from(&parsed) {
            Ok(p) => {
                p.m_cost() != self.params.m_cost()
                    || p.t_cost() != self.params.t_cost()
                    || p.p_cost() != self.params.p_cost()
            }
            Err(_) => true,
        }
    }
}

/// Empties `pool` once no hash has started for `RELEASE_AFTER`.
async fn release_when_idle(pool: Arc<Pool>) {
    let mut seen = pool.uses.load(Ordering::Relaxed);
    loop {
        tokio::time::sleep(RELEASE_AFTER).await;
        let now = pool.uses.load(Ordering::Relaxed);
        if now == seen {
            break;
        }
        seen = now;
    }
    // Cleared before the buffers go, so a hash that finishes meanwhile starts a new wait.
    pool.release_pending.store(false, Ordering::Release);
    let idle = pool.blocks.lock().map(|mut p| std::mem::take(&mut *p));
    drop(idle);
}

/// Runs `f` on one of rayon's threads, the caller waiting. A hash started from outside the
/// pool hands each of its segments (t passes × 4 slices, RFC 9106 §3.4: eight at the
/// default) to the pool and waits for it; started on the pool, its lanes are split between
/// the pool's threads by work stealing, with no hand-off per segment.
fn on_rayon<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::scope(|_| f())
}

/// Hashes at once that keep `cores` busy when each runs `lanes` lanes in parallel (at least
/// one; a single-lane hash uses one core).
fn default_concurrency(cores: usize, lanes: u32) -> usize {
    (cores / (lanes.max(1) as usize)).max(1)
}

/// A PHC-string Argon2id hash of `password` with a fresh 16-byte salt, computed in
/// `blocks` (`params.block_count()` of them).
fn hash_with(
    params: &Params,
    password: &[u8],
    blocks: &mut [Block],
) -> Result<String, PasswordError> {
    let err = |e: &dyn std::fmt::Display| PasswordError::Argon2(e.to_string());
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, &salt, &mut out, blocks)
        .map_err(|e| err(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| err(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| err(&e))?),
        hash: Some(Output::new(&out).map_err(|e| err(&e))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `stored` (with its own algorithm, version and
/// parameters), computed in `blocks`; false for anything malformed. A hash made with more
/// memory than configured (an older, costlier setting) gets a temporary buffer.
fn verify_with(stored: &str, password: &[u8], blocks: &mut [Block]) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut out = vec![0u8; expected.as_bytes().len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    let hashed = if blocks.len() >= params.block_count() {
        argon.hash_password_into_with_memory(password, salt, &mut out, blocks)
    } else {
        let mut bigger = vec![Block::default(); params.block_count()];
        argon.hash_password_into_with_memory(password, salt, &mut out, &mut bigger[..])
    };
    hashed.is_ok() && bool::from(out.ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> PasswordHasher {
        hasher_with(1, 1)
    }

    /// A hasher at the smallest cost, with `lanes` lanes and `max_concurrent` hashes at once.
    fn hasher_with(lanes: u32, max_concurrent: usize) -> PasswordHasher {
        PasswordHasher::new(&PasswordHashing {
            memory_kib: 64,
            iterations: 1,
            parallelism: lanes,
            max_concurrent,
        })
        .expect("hasher")
    }

    fn pooled(h: &PasswordHasher) -> usize {
        h.pool.blocks.lock().expect("pool").len()
    }

    #[tokio::test(start_paused = true)]
    async fn working_memory_is_kept_while_used_and_released_when_idle() {
        let h = hasher();
        assert_eq!(pooled(&h), 0, "an idle provider holds none");
        let pw = SecretString::from("pw");
        h.hash(&pw).await.expect("hash");
        assert_eq!(pooled(&h), 1, "kept for the next sign-in");
        // Used again before RELEASE_AFTER has passed: kept past the first deadline.
        tokio::time::sleep(RELEASE_AFTER / 2).await;
        h.verify(&pw, None).await.expect("verify");
        tokio::time::sleep(RELEASE_AFTER * 3 / 4).await;
        assert_eq!(pooled(&h), 1, "still in use");
        tokio::time::sleep(RELEASE_AFTER * 2).await;
        assert_eq!(pooled(&h), 0, "released once idle");
        // And pooled again by the next use.
        h.hash(&pw).await.expect("hash");
        assert_eq!(pooled(&h), 1);
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let h = hasher();
        let pw = SecretString::from("correct horse battery staple");
        let stored = h.hash(&pw).await.expect("hash");
        assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(h.verify(&pw, Some(&stored)).await.expect("verify"));
        assert!(
            !h.verify(&SecretString::from("wrong"), Some(&stored))
                .await
                .expect("verify")
        );
        assert!(
            !h.verify(&pw, None).await.expect("dummy"),
            "no account never verifies"
        );
        assert!(!h.verify(&pw, Some("garbage")).await.expect("garbage"));
    }

    #[tokio::test]
    async fn two_lane_hashes_match_the_reference_and_one_lane_hashes_still_verify() {
        let two = hasher_with(2, 0);
        let pw = SecretString::from("correct horse battery staple");
        let stored = two.hash(&pw).await.expect("hash");
        assert!(
            stored.starts_with("$argon2id$v=19$m=64,t=1,p=2$"),
            "{stored}"
        );
        // The pooled computation agrees with the crate's own verification of the PHC string.
        use argon2::password_hash::PasswordVerifier;
        let parsed = PasswordHash::new(&stored).expect("phc");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery staple", &parsed)
                .is_ok()
        );
        assert!(two.verify(&pw, Some(&stored)).await.expect("verify"));
        // A hash from the one-lane default of earlier versions verifies, and is redone.
        let old = hasher().hash(&pw).await.expect("hash");
        assert!(two.verify(&pw, Some(&old)).await.expect("verify"));
        assert!(two.needs_rehash(&old) && !two.needs_rehash(&stored));
    }

    #[test]
    fn by_default_as_many_hashes_run_as_keep_every_core_busy() {
        assert_eq!(default_concurrency(2, 1), 2);
        assert_eq!(default_concurrency(2, 2), 1);
        assert_eq!(default_concurrency(8, 2), 4);
        assert_eq!(default_concurrency(1, 4), 1, "at least one");
        assert_eq!(default_concurrency(4, 0), 4, "no lanes counts as one");
    }

    #[tokio::test]
    async fn hashes_made_by_the_argon2_crate_itself_still_verify() {
        // Every hash stored before the pooled implementation was made this way.
        use argon2::password_hash::PasswordHasher as _;
        let params = Params::new(64, 1, 1, None).expect("params");
        let stored = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"correct horse battery staple")
            .expect("hash")
            .to_string();
        let h = hasher();
        let pw = SecretString::from("correct horse battery staple");
        assert!(h.verify(&pw, Some(&stored)).await.expect("verify"));
        assert!(
            !h.verify(
                &SecretString::from("Correct horse battery staple"),
                Some(&stored)
            )
            .await
            .expect("verify")
        );
        // And ours verify with the crate's verifier: the PHC strings are the same format.
        use argon2::password_hash::PasswordVerifier as _;
        let ours = h.hash(&pw).await.expect("hash");
        let parsed = PasswordHash::new(&ours).expect("phc");
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery staple", &parsed)
                .is_ok()
        );
    }

    #[tokio::test]
    async fn working_memory_is_reused_not_grown() {
        let h = hasher_with(1, 2);
        let pw = SecretString::from("correct horse battery staple");
        let stored = h.hash(&pw).await.expect("hash");
        // Sixteen at once on two permits.
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (h, pw, stored) = (h.clone(), pw.clone(), stored.clone());
            set.spawn(async move { h.verify(&pw, Some(&stored)).await });
        }
        while let Some(ok) = set.join_next().await {
            assert!(ok.expect("join").expect("verify"));
        }
        let pooled = pooled(&h);
        assert!((1..=2).contains(&pooled), "{pooled} buffers pooled");
    }

    #[tokio::test]
    async fn hashes_made_with_other_parameters_need_rehashing() {
        let h = hasher();
        let pw = SecretString::from("correct horse battery staple");
        assert!(!h.needs_rehash(&h.hash(&pw).await.expect("hash")));
        let weaker = PasswordHasher::new(&PasswordHashing {
            memory_kib: 32,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 1,
        })
        .expect("hasher");
        assert!(h.needs_rehash(&weaker.hash(&pw).await.expect("hash")));
        assert!(h.needs_rehash("garbage"));
    }
}
