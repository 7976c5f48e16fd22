//! The password policy used everywhere a password is set.

/// A few of the most common passwords; the full breached-password list arrives with
/// self-service registration. Compared case-insensitively.
const COMMON: &[&str] = &[
    "password1234",
    "123456789012",
    "qwertyuiopas",
    "passwordpassword",
    "iloveyou1234",
    "letmein12345",
    "welcome12345",
    "administrator",
    "password12345",
    "qwerty123456",
];

pub const MIN_LEN: usize = 12;
pub const MAX_LEN: usize = 128;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the password must be at least {MIN_LEN} characters")]
    TooShort,
    #[error("the password must be at most {MAX_LEN} characters")]
    TooLong,
    #[error("the password must not contain the user ID")]
    ContainsUsername,
    #[error("that password is too common; choose another")]
    Common,
}

pub fn check(password: &str, username: &str) -> Result<(), PolicyError> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(PolicyError::TooShort);
    }
    if len > MAX_LEN {
        return Err(PolicyError::TooLong);
    }
    let lower = password.to_lowercase();
    if !username.is_empty() && lower.contains(&username.to_lowercase()) {
        return Err(PolicyError::ContainsUsername);
    }
    if COMMON.iter().any(|c| *c == lower) {
        return Err(PolicyError::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert_eq!(check("", "u"), Err(PolicyError::TooShort));
        assert_eq!(check("short", "u"), Err(PolicyError::TooShort));
        assert_eq!(check(&"x".repeat(129), "u"), Err(PolicyError::TooLong));
        assert_eq!(
            check("my-jsmith-secret-pw", "JSmith"),
            Err(PolicyError::ContainsUsername)
        );
        assert_eq!(check("Password1234", "u"), Err(PolicyError::Common));
        assert_eq!(check("correct horse battery staple", "jsmith"), Ok(()));
    }
}
