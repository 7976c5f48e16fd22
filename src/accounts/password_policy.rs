//! The password policy used everywhere a password is set: a minimum length (configurable,
//! 12 by default), at most 128 characters, not containing the user ID, and not among the
//! 100,000 most common passwords (SecLists; see common-passwords.LICENSE).

use std::cmp::Ordering;

/// The list, case-folded and byte-sorted, embedded in the binary. It is searched in place,
/// so it costs no heap and its pages are only touched when a password is checked.
const COMMON: &str = include_str!("common-passwords.txt");

pub const DEFAULT_MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 128;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the password must be at least {0} characters")]
    TooShort(usize),
    #[error("the password must be at most {MAX_LEN} characters")]
    TooLong,
    #[error("the password must not contain the user ID")]
    ContainsUsername,
    #[error("that password is one of the most common passwords; choose another")]
    Common,
}

/// Binary search for a whole line in byte-sorted, newline-separated text.
fn contains_line(text: &str, needle: &str) -> bool {
    let bytes = text.as_bytes();
    let (mut lo, mut hi) = (0, bytes.len());
    // Invariant: `lo` is always the start of a line; `hi` is a line start or the end.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let start = bytes[lo..mid]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(lo, |p| lo + p + 1);
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| start + p);
        match bytes[start..end].cmp(needle.as_bytes()) {
            Ordering::Equal => return true,
            Ordering::Less => lo = end + 1,
            Ordering::Greater => hi = start,
        }
    }
    false
}

pub fn is_common(password: &str) -> bool {
    contains_line(COMMON, &password.to_lowercase())
}

pub fn check(password: &str, username: &str, min_len: usize) -> Result<(), PolicyError> {
    let len = password.chars().count();
    if len < min_len {
        return Err(PolicyError::TooShort(min_len));
    }
    if len > MAX_LEN {
        return Err(PolicyError::TooLong);
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err(PolicyError::ContainsUsername);
    }
    if is_common(password) {
        return Err(PolicyError::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert_eq!(check("", "u", 12), Err(PolicyError::TooShort(12)));
        assert_eq!(check("short", "u", 12), Err(PolicyError::TooShort(12)));
        assert_eq!(check("eight ch", "u", 8), Ok(()));
        assert_eq!(check(&"x".repeat(129), "u", 12), Err(PolicyError::TooLong));
        assert_eq!(
            check("my-jsmith-secret-pw", "JSmith", 12),
            Err(PolicyError::ContainsUsername)
        );
        assert_eq!(check("correct horse battery staple", "jsmith", 12), Ok(()));
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for p in [
            "password1234",
            "PASSWORD1234",
            "qwertyuiop123",
            "1qaz2wsx3edc",
        ] {
            assert!(is_common(p), "{p}");
        }
        assert_eq!(check("Password1234", "u", 12), Err(PolicyError::Common));
        assert!(!is_common("correct horse battery staple"));
        assert!(!is_common(""));
    }

    #[test]
    fn the_list_is_sorted_unique_and_fully_searchable() {
        let lines: Vec<&str> = COMMON.lines().collect();
        assert!(lines.len() >= 96_000, "{}", lines.len());
        assert!(
            lines.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()),
            "byte-sorted, no duplicates"
        );
        for (i, l) in lines.iter().enumerate() {
            if i % 97 == 0 || i + 1 == lines.len() {
                assert!(contains_line(COMMON, l), "{l}");
                assert!(!contains_line(COMMON, &format!("{l}\u{1}")), "{l} + suffix");
            }
        }
    }
}
