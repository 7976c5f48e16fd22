//! Limits on guessing. Registration proves a card with four SSN digits and reactivation with
//! two challenge answers: small secrets, so failures are counted per record (the card or
//! account being claimed, the user ID being reactivated) and per client IP address, in fixed
//! windows. At a limit the form refuses further tries, with the same generic message, until
//! the window has passed. Counters live in the database so every node sees the same ones.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::{config::Registration, store};

#[derive(Clone, Debug)]
pub struct Limiter {
    record_max: u32,
    record_window: Duration,
    ip_max: u32,
    ip_window: Duration,
}

/// What is being guessed at.
#[derive(Clone, Copy, Debug)]
pub enum Record<'a> {
    Customer(&'a str),
    Answers(&'a str),
}

impl Record<'_> {
    fn key(self) -> String {
        match self {
            Record::Customer(id) => format!("customer:{id}"),
            Record::Answers(account) => format!("answers:{account}"),
        }
    }
}

fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

impl Limiter {
    pub fn from_config(r: &Registration) -> Self {
        Self {
            record_max: r.max_failures_per_record,
            record_window: Duration::seconds(r.record_window_secs),
            ip_max: r.max_failures_per_ip,
            ip_window: Duration::seconds(r.ip_window_secs),
        }
    }

    /// Whether this address has used up its tries. Requests without a known address (the
    /// CLI, tests without a peer) are not limited by address.
    pub async fn ip_blocked(
        &self,
        c: &impl ConnectionTrait,
        ip: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, DbErr> {
        let Some(ip) = ip else { return Ok(false) };
        Ok(store::attempts::failures(c, &ip_key(ip), self.ip_window, now).await? >= self.ip_max)
    }

    pub async fn record_blocked(
        &self,
        c: &impl ConnectionTrait,
        record: Record<'_>,
        now: DateTime<Utc>,
    ) -> Result<bool, DbErr> {
        Ok(
            store::attempts::failures(c, &record.key(), self.record_window, now).await?
                >= self.record_max,
        )
    }

    /// Counts a failure against the address and, when one was named, the record.
    pub async fn fail(
        &self,
        c: &impl ConnectionTrait,
        record: Option<Record<'_>>,
        ip: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), DbErr> {
        if let Some(r) = record {
            store::attempts::add_failure(c, &r.key(), self.record_window, now).await?;
        }
        if let Some(ip) = ip {
            store::attempts::add_failure(c, &ip_key(ip), self.ip_window, now).await?;
        }
        Ok(())
    }

    /// A success clears the record's count (not the address's: one right guess must not buy
    /// an attacker more tries elsewhere).
    pub async fn succeed(&self, c: &impl ConnectionTrait, record: Record<'_>) -> Result<(), DbErr> {
        store::attempts::clear(c, &record.key()).await
    }
}
