//! Scopes (RFC 6749 §3.3): space-delimited, case-sensitive tokens, kept unique and in order.

use serde::{Deserialize, Serialize};

pub const OPENID: &str = "openid";
pub const PROFILE: &str = "profile";
pub const EMAIL: &str = "email";
pub const OFFLINE_ACCESS: &str = "offline_access";
/// Authorizes the admin API.
pub const ADMIN: &str = "ally:admin";

/// The scopes a person can grant to an application.
pub const USER_SCOPES: [&str; 4] = [OPENID, PROFILE, EMAIL, OFFLINE_ACCESS];

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scope(Vec<String>);

#[derive(Debug, PartialEq, Eq)]
pub enum ScopeError {
    Malformed,
    Unknown(String),
}

impl Scope {
    /// Parses and checks every token against `allowed`.
    pub fn parse(s: &str, allowed: &[&str]) -> Result<Self, ScopeError> {
        let mut out: Vec<String> = Vec::new();
        for tok in s.split(' ').filter(|t| !t.is_empty()) {
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            if !tok
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
            {
                return Err(ScopeError::Malformed);
            }
            if !allowed.contains(&tok) {
                return Err(ScopeError::Unknown(tok.to_owned()));
            }
            if !out.iter().any(|t| t == tok) {
                out.push(tok.to_owned());
            }
        }
        Ok(Self(out))
    }

    pub fn contains(&self, s: &str) -> bool {
        self.0.iter().any(|t| t == s)
    }

    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.iter().all(|t| other.contains(t))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The scope from a stored space-joined string (already validated when stored).
    pub fn from_stored(s: &str) -> Self {
        Self(
            s.split(' ')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rules() {
        let s = Scope::parse("openid  email openid", &USER_SCOPES).expect("scope");
        assert_eq!(s.to_string(), "openid email");
        assert_eq!(
            Scope::parse("openid admin", &USER_SCOPES),
            Err(ScopeError::Unknown("admin".into()))
        );
        assert_eq!(
            Scope::parse("open\"id", &USER_SCOPES),
            Err(ScopeError::Malformed)
        );
        assert!(Scope::from_stored("openid").is_subset_of(&s));
        assert!(!Scope::from_stored("profile").is_subset_of(&s));
    }
}
