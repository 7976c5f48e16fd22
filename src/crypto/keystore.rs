//! Persistence of the signing keys: load the published keys (creating any missing
//! algorithm's key on first start), rotate (a new key published `publish_ahead` before it
//! signs), retire keys nothing valid can still be signed with, and rebuild the in-memory
//! ring when the stored keys change. Every change is audited in its transaction.

use std::{collections::BTreeSet, sync::Arc};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use super::{
    keyring::{self, Alg, KeyRing, LiveKeys, StoredKey},
    seal::Sealer,
};
use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    store,
};

fn stored(m: entity::signing_key::Model) -> Option<StoredKey> {
    Some(StoredKey {
        alg: Alg::parse(&m.alg)?,
        kid: m.kid,
        public_jwk: m.public_jwk,
        private_key_sealed: m.private_key_sealed,
        signs_from: m.signs_from,
    })
}

async fn insert_key(
    c: &impl ConnectionTrait,
    key: &StoredKey,
    now: DateTime<Utc>,
    actor: Actor<'_>,
    replaces: Option<&str>,
) -> Result<(), DbErr> {
    store::keys::insert(
        c,
        entity::signing_key::Model {
            kid: key.kid.clone(),
            alg: key.alg.as_str().to_owned(),
            public_jwk: key.public_jwk.clone(),
            private_key_sealed: key.private_key_sealed.clone(),
            created_at: now,
            retired_at: None,
            signs_from: key.signs_from,
            superseded_at: None,
        },
    )
    .await?;
    audit::record(
        c,
        now,
        &RequestContext::default(),
        AuditEvent::SigningKeyCreated,
        actor,
        Some(&key.kid),
        serde_json::json!({ "alg": key.alg.as_str(), "signs_from": key.signs_from, "replaces": replaces }),
    )
    .await
}

pub async fn load_or_create(
    db: &DatabaseConnection,
    sealer: &Sealer,
    now: DateTime<Utc>,
) -> anyhow::Result<Arc<KeyRing>> {
    let txn = crate::store::db::begin_write(db).await?;
    let mut keys: Vec<StoredKey> = store::keys::list_published(&txn)
        .await?
        .into_iter()
        .filter_map(stored)
        .collect();
    for alg in Alg::ALL {
        if keys.iter().any(|k| k.alg == alg) {
            continue;
        }
        let key = keyring::generate(alg, sealer)?;
        insert_key(&txn, &key, now, Actor::System, None).await?;
        tracing::info!(kid = %key.kid, alg = alg.as_str(), "created signing key");
        keys.push(key);
    }
    txn.commit().await?;
    Ok(KeyRing::load(&keys, sealer, now)?)
}

/// Rebuilds the ring if the stored keys differ from it or a key's time to sign has come;
/// true if it did. Each node runs this every `keys.reload_secs`.
pub async fn reload(
    db: &DatabaseConnection,
    sealer: &Sealer,
    live: &LiveKeys,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let keys: Vec<StoredKey> = store::keys::list_published(db)
        .await?
        .into_iter()
        .filter_map(stored)
        .collect();
    let kids: BTreeSet<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
    if !live.is_stale(&kids, now) {
        return Ok(false);
    }
    live.replace(KeyRing::load(&keys, sealer, now)?);
    tracing::info!(kids = ?kids, "signing keys reloaded");
    Ok(true)
}

/// Starts replacing the key of `alg`: a new key, published now, signing from
/// `now + publish_ahead`. The key it replaces is marked superseded by one conditional
/// update, so when two nodes (or a node and the CLI) rotate at once only one new key is
/// made. Returns the new key, or None if another rotation got there first.
pub async fn rotate(
    c: &impl ConnectionTrait,
    sealer: &Sealer,
    now: DateTime<Utc>,
    alg: Alg,
    publish_ahead: Duration,
    actor: Actor<'_>,
) -> anyhow::Result<Option<StoredKey>> {
    let newest = store::keys::list_published(c)
        .await?
        .into_iter()
        .rev()
        .find(|k| k.alg == alg.as_str());
    let replaces = newest.as_ref().map(|k| k.kid.as_str());
    replace(c, sealer, now, alg, replaces, publish_ahead, actor).await
}

/// Replaces the key `replaces` (the one the caller judged due) with a new key of `alg`.
/// Naming the old key, not "the newest", is what makes concurrent rotations safe: a
/// transaction that read the keys before another rotation committed still names the old
/// key, finds it superseded, and makes nothing.
async fn replace(
    c: &impl ConnectionTrait,
    sealer: &Sealer,
    now: DateTime<Utc>,
    alg: Alg,
    replaces: Option<&str>,
    publish_ahead: Duration,
    actor: Actor<'_>,
) -> anyhow::Result<Option<StoredKey>> {
    if let Some(old) = replaces
        && !store::keys::supersede(c, old, now).await?
    {
        return Ok(None);
    }
    let mut key = keyring::generate(alg, sealer)?;
    key.signs_from = Some(now + publish_ahead);
    insert_key(c, &key, now, actor, replaces).await?;
    Ok(Some(key))
}

/// The scheduled part of rotation, run by the periodic job on every node: each algorithm's
/// key older than `rotate_after` is rotated (once, see `rotate`), and keys replaced long
/// enough ago are retired. Returns (rotated, retired).
pub async fn scheduled(
    c: &impl ConnectionTrait,
    sealer: &Sealer,
    now: DateTime<Utc>,
    cfg: &crate::config::Config,
) -> anyhow::Result<(usize, usize)> {
    let mut rotated = 0;
    if cfg.keys.rotate_after_days > 0 {
        let period = Duration::days(cfg.keys.rotate_after_days);
        let keys = store::keys::list_published(c).await?;
        let ahead = Duration::seconds(cfg.keys.publish_ahead_secs);
        for alg in Alg::ALL {
            let newest = keys.iter().rev().find(|k| k.alg == alg.as_str());
            let Some(due) =
                newest.filter(|k| k.superseded_at.is_none() && k.created_at + period <= now)
            else {
                continue;
            };
            let made = replace(c, sealer, now, alg, Some(&due.kid), ahead, Actor::System).await?;
            if made.is_some() {
                rotated += 1;
            }
        }
    }
    let retired = retire(c, now, overlap(cfg)).await?;
    Ok((rotated, retired))
}

/// How long a replaced key stays published after its successor starts signing: the
/// longest life of anything it signed (access, ID and logout tokens), and the session
/// lifetime, because an ID token is still accepted as a logout `id_token_hint` after it
/// expired; plus a minute of clock skew.
pub fn overlap(cfg: &crate::config::Config) -> Duration {
    let longest = [
        cfg.tokens.access_token_ttl_secs,
        cfg.tokens.id_token_ttl_secs,
        cfg.logout.logout_token_ttl_secs,
        cfg.session.lifetime_secs,
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    Duration::seconds(longest + 60)
}

/// Retires every key whose successor (a newer key of the same algorithm) has been signing
/// for longer than `overlap`: nothing it signed can still be valid. Returns how many.
pub async fn retire(
    c: &impl ConnectionTrait,
    now: DateTime<Utc>,
    overlap: Duration,
) -> Result<usize, DbErr> {
    let keys = store::keys::list_published(c).await?;
    let mut n = 0;
    for (i, k) in keys.iter().enumerate() {
        let successor = keys[i + 1..].iter().find(|s| s.alg == k.alg);
        let Some(s) = successor else { continue };
        let signing_since = s.signs_from.unwrap_or(s.created_at);
        if signing_since + overlap <= now && store::keys::retire(c, &k.kid, now).await? {
            audit::record(
                c,
                now,
                &RequestContext::default(),
                AuditEvent::SigningKeyRetired,
                Actor::System,
                Some(&k.kid),
                serde_json::json!({ "alg": k.alg, "successor": s.kid }),
            )
            .await?;
            n += 1;
        }
    }
    Ok(n)
}
