//! Customer records: what a cardholder proves ownership of at registration (card or account
//! number plus the last four digits of their SSN). Imported by operators from CSV. Only
//! keyed hashes of the numbers are stored; an import is validated in full first and written in
//! one transaction, so a file with any bad row changes nothing.

use std::collections::HashSet;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::{
    accounts::users::valid_email,
    audit::{self, Actor, AuditEvent, RequestContext},
    crypto::hmac_sha256,
    store,
};

/// Keyed hashing of customer identifiers (HMAC-SHA256 under a key derived from the master
/// key). The SSN digits are bound to their customer, so equal digits of two customers do not
/// hash alike.
#[derive(Clone)]
pub struct CustomerHasher {
    key: [u8; 32],
}

impl CustomerHasher {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }
    fn hash(&self, parts: &[&[u8]]) -> String {
        URL_SAFE_NO_PAD.encode(hmac_sha256(&self.key, parts))
    }
    pub fn card(&self, digits: &str) -> String {
        self.hash(&[b"card\0", digits.as_bytes()])
    }
    pub fn account(&self, digits: &str) -> String {
        self.hash(&[b"account\0", digits.as_bytes()])
    }
    pub fn ssn_last4(&self, customer_id: &str, digits: &str) -> String {
        self.hash(&[b"ssn4\0", customer_id.as_bytes(), b"\0", digits.as_bytes()])
    }
}

/// Digits only: spaces and dashes, as people type them, are dropped; anything else is invalid.
pub fn digits(s: &str) -> Option<String> {
    let d: String = s.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (!d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())).then_some(d)
}

/// The Luhn check every payment card number satisfies (ISO/IEC 7812-1).
pub fn luhn_ok(d: &str) -> bool {
    let sum: u32 = d
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let n = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = n * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                n
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

pub fn valid_card(d: &str) -> bool {
    (13..=19).contains(&d.len()) && luhn_ok(d)
}

pub fn valid_account(d: &str) -> bool {
    (6..=20).contains(&d.len())
}

#[derive(Debug, serde::Deserialize)]
struct Row {
    #[serde(default)]
    card_number: Option<String>,
    #[serde(default)]
    account_number: Option<String>,
    ssn_last4: String,
    given_name: String,
    family_name: String,
    email: String,
}

#[derive(Debug)]
struct Valid {
    line: u64,
    card: Option<String>,
    account: Option<String>,
    ssn_last4: String,
    given_name: String,
    family_name: String,
    email: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{} invalid row(s); nothing was imported", .0.len())]
    Invalid(Vec<(u64, String)>),
    #[error("the file is not readable CSV: {0}")]
    Csv(String),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub created: usize,
    pub updated: usize,
}

fn validate(line: u64, r: Row) -> Result<Valid, String> {
    let opt = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
    let card = match opt(r.card_number) {
        None => None,
        Some(c) => Some(
            digits(&c)
                .filter(|d| valid_card(d))
                .ok_or("card_number is not a valid card number")?,
        ),
    };
    let account = match opt(r.account_number) {
        None => None,
        Some(a) => Some(
            digits(&a)
                .filter(|d| valid_account(d))
                .ok_or("account_number must be 6-20 digits")?,
        ),
    };
    if card.is_none() && account.is_none() {
        return Err("a card_number or an account_number is required".into());
    }
    let ssn_last4 = digits(&r.ssn_last4)
        .filter(|d| d.len() == 4)
        .ok_or("ssn_last4 must be exactly 4 digits")?;
    let given_name = r.given_name.trim().to_owned();
    let family_name = r.family_name.trim().to_owned();
    if given_name.is_empty()
        || family_name.is_empty()
        || given_name.len() > 100
        || family_name.len() > 100
    {
        return Err("given_name and family_name are required (at most 100 characters)".into());
    }
    let email = r.email.trim().to_owned();
    if !valid_email(&email) {
        return Err("email is not a valid e-mail address".into());
    }
    Ok(Valid {
        line,
        card,
        account,
        ssn_last4,
        given_name,
        family_name,
        email,
    })
}

/// Parses and checks the whole file; returns every problem with its line number.
fn parse(input: impl std::io::Read) -> Result<Vec<Valid>, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| ImportError::Csv(e.to_string()))?
        .clone();
    for required in ["ssn_last4", "given_name", "family_name", "email"] {
        if !headers.iter().any(|h| h == required) {
            return Err(ImportError::Csv(format!(
                "the header has no `{required}` column"
            )));
        }
    }
    if !headers
        .iter()
        .any(|h| h == "card_number" || h == "account_number")
    {
        return Err(ImportError::Csv(
            "the header needs a `card_number` or `account_number` column".into(),
        ));
    }
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    let (mut cards, mut accounts) = (HashSet::new(), HashSet::new());
    for rec in reader.records() {
        let rec = rec.map_err(|e| ImportError::Csv(e.to_string()))?;
        let line = rec.position().map_or(0, |p| p.line());
        let row: Row = match rec.deserialize(Some(&headers)) {
            Ok(r) => r,
            Err(e) => {
                errors.push((line, e.to_string()));
                continue;
            }
        };
        match validate(line, row) {
            Ok(v) => {
                let dup = v.card.as_ref().is_some_and(|c| !cards.insert(c.clone()))
                    || v.account
                        .as_ref()
                        .is_some_and(|a| !accounts.insert(a.clone()));
                if dup {
                    errors.push((
                        line,
                        "the same card or account number appears earlier in the file".into(),
                    ));
                } else {
                    rows.push(v);
                }
            }
            Err(e) => errors.push((line, e)),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(ImportError::Invalid(errors))
    }
}

/// Imports (creating or updating) customer records from CSV with the columns
/// `card_number` and/or `account_number`, `ssn_last4`, `given_name`, `family_name`, `email`.
pub async fn import_csv(
    c: &impl ConnectionTrait,
    hasher: &CustomerHasher,
    now: DateTime<Utc>,
    ctx: &RequestContext,
    actor: Actor<'_>,
    input: impl std::io::Read,
) -> Result<ImportSummary, ImportError> {
    let rows = parse(input)?;
    let mut summary = ImportSummary::default();
    let mut conflicts = Vec::new();
    for v in rows {
        let card_hash = v.card.as_deref().map(|d| hasher.card(d));
        let account_hash = v.account.as_deref().map(|d| hasher.account(d));
        let by_card = match &card_hash {
            Some(h) => store::customers::find_by_card(c, h).await?,
            None => None,
        };
        let by_account = match &account_hash {
            Some(h) => store::customers::find_by_account(c, h).await?,
            None => None,
        };
        let existing = match (by_card, by_account) {
            (Some(a), Some(b)) if a.id != b.id => {
                conflicts.push((
                    v.line,
                    "the card and the account number belong to two different existing records"
                        .to_owned(),
                ));
                continue;
            }
            (Some(a), _) | (None, Some(a)) => Some(a),
            (None, None) => None,
        };
        match existing {
            Some(mut m) => {
                m.card_hash = card_hash.or(m.card_hash);
                m.account_hash = account_hash.or(m.account_hash);
                m.ssn_last4_hash = hasher.ssn_last4(&m.id, &v.ssn_last4);
                m.given_name = v.given_name;
                m.family_name = v.family_name;
                m.email = v.email;
                m.updated_at = now;
                store::customers::update(c, m).await?;
                summary.updated += 1;
            }
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                store::customers::insert(
                    c,
                    entity::customer::Model {
                        ssn_last4_hash: hasher.ssn_last4(&id, &v.ssn_last4),
                        id,
                        card_hash,
                        account_hash,
                        given_name: v.given_name,
                        family_name: v.family_name,
                        email: v.email,
                        created_at: now,
                        updated_at: now,
                    },
                )
                .await?;
                summary.created += 1;
            }
        }
    }
    if !conflicts.is_empty() {
        // The caller's transaction is rolled back: nothing from this file is kept.
        return Err(ImportError::Invalid(conflicts));
    }
    audit::record(
        c,
        now,
        ctx,
        AuditEvent::CustomersImported,
        actor,
        None,
        serde_json::json!({ "created": summary.created, "updated": summary.updated }),
    )
    .await?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers() {
        assert!(valid_card("4111111111111111"));
        assert!(valid_card(&digits("4111 1111-1111 1111").unwrap()));
        assert!(!valid_card("4111111111111112"), "Luhn");
        assert!(!valid_card("411111111111"), "too short");
        assert_eq!(digits("12a4"), None);
        assert!(valid_account("123456") && !valid_account("12345"));
    }

    #[test]
    fn parse_reports_every_bad_line() {
        let csv = "card_number,account_number,ssn_last4,given_name,family_name,email\n\
                   4111111111111111,,1234,Ann,Lee,ann@example.com\n\
                   4111111111111112,,1234,Bad,Luhn,b@example.com\n\
                   ,123456789,12,Short,Ssn,c@example.com\n\
                   4111111111111111,,9999,Dup,Card,d@example.com\n\
                   ,,1234,No,Number,e@example.com\n";
        match parse(csv.as_bytes()) {
            Err(ImportError::Invalid(errs)) => {
                let lines: Vec<u64> = errs.iter().map(|e| e.0).collect();
                assert_eq!(lines, vec![3, 4, 5, 6], "{errs:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse("name,email\nx,y\n".as_bytes()),
            Err(ImportError::Csv(_))
        ));
    }

    #[test]
    fn hashes_are_keyed_and_bound() {
        let h = CustomerHasher::new([9; 32]);
        assert_ne!(
            h.card("4111111111111111"),
            CustomerHasher::new([8; 32]).card("4111111111111111")
        );
        assert_ne!(h.ssn_last4("a", "1234"), h.ssn_last4("b", "1234"));
        assert!(!h.card("4111111111111111").contains("4111"));
    }
}
