//! Recovery codes: ten single-use codes, shown once, stored only as keyed hashes; a new set
//! replaces the old one entirely.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::{
    crypto::opaque::{Purpose, TokenHasher},
    store,
};

pub const COUNT: usize = 10;
/// Without 0/O, 1/I/L and U: nothing to misread when typing a code from paper.
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 12 characters of a 30-letter alphabet: about 59 bits each.
const LEN: usize = 12;

/// Upper-case, without the dashes and spaces people type or leave out.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .flat_map(char::to_uppercase)
        .collect()
}

fn generate_one() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    let raw: String = (0..LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{}-{}-{}", &raw[0..4], &raw[4..8], &raw[8..12])
}

/// Replaces the account's recovery codes with a new set; returns it, to be shown once.
pub async fn regenerate(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    now: DateTime<Utc>,
    account_id: &str,
) -> Result<Vec<String>, DbErr> {
    let codes: Vec<String> = (0..COUNT).map(|_| generate_one()).collect();
    let hashes = codes
        .iter()
        .map(|c| hasher.hash(Purpose::RecoveryCode, &normalise(c)))
        .collect();
    store::mfa::replace_recovery_codes(c, account_id, hashes, now).await?;
    Ok(codes)
}

/// Spends one of the account's unused codes; false if `code` is not one of them.
pub async fn redeem(
    c: &impl ConnectionTrait,
    hasher: &TokenHasher,
    now: DateTime<Utc>,
    account_id: &str,
    code: &str,
) -> Result<bool, DbErr> {
    let code = normalise(code);
    if code.len() != LEN || !code.bytes().all(|b| ALPHABET.contains(&b)) {
        return Ok(false);
    }
    let hash = hasher.hash(Purpose::RecoveryCode, &code);
    store::mfa::use_recovery_code(c, account_id, &hash, now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_readable_and_normalised() {
        let c = generate_one();
        assert_eq!(c.len(), 14);
        assert_eq!(normalise(&c.to_lowercase()), c.replace('-', ""));
        assert_ne!(generate_one(), c);
    }
}
