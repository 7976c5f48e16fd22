//! Persistence of the signing keys: load the published keys, creating any missing
//! algorithm's key on first start (audited), and build the in-memory key ring.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::{
    keyring::{self, Alg, KeyRing, StoredKey},
    seal::Sealer,
};
use crate::{
    audit::{self, Actor, AuditEvent, RequestContext},
    store,
};

pub async fn load_or_create(
    db: &DatabaseConnection,
    sealer: &Sealer,
    now: DateTime<Utc>,
) -> anyhow::Result<Arc<KeyRing>> {
    let txn = crate::store::db::begin_write(db).await?;
    let mut stored: Vec<StoredKey> = store::keys::list_published(&txn)
        .await?
        .into_iter()
        .filter_map(|m| {
            Some(StoredKey {
                alg: Alg::parse(&m.alg)?,
                kid: m.kid,
                public_jwk: m.public_jwk,
                private_key_sealed: m.private_key_sealed,
            })
        })
        .collect();
    for alg in Alg::ALL {
        if stored.iter().any(|k| k.alg == alg) {
            continue;
        }
        let key = keyring::generate(alg, sealer)?;
        store::keys::insert(
            &txn,
            entity::signing_key::Model {
                kid: key.kid.clone(),
                alg: alg.as_str().to_owned(),
                public_jwk: key.public_jwk.clone(),
                private_key_sealed: key.private_key_sealed.clone(),
                created_at: now,
                retired_at: None,
            },
        )
        .await?;
        audit::record(
            &txn,
            now,
            &RequestContext::default(),
            AuditEvent::SigningKeyCreated,
            Actor::System,
            Some(&key.kid),
            serde_json::json!({ "alg": alg.as_str() }),
        )
        .await?;
        tracing::info!(kid = %key.kid, alg = alg.as_str(), "created signing key");
        stored.push(key);
    }
    txn.commit().await?;
    Ok(KeyRing::load(&stored, sealer)?)
}
