//! Raw `application/x-www-form-urlencoded` parameters, for the protocol endpoints. serde's
//! form extractor silently keeps one of two repeated parameters; RFC 6749 §3.1 and §3.2 say
//! a parameter MUST NOT be sent more than once, so these are parsed by hand and checked.

use std::collections::HashMap;

/// The longest value accepted for any single protocol parameter. Real values (state, nonce,
/// id_token_hint, redirect URIs) stay far below it; anything longer is an attack or a bug.
pub const MAX_VALUE_LEN: usize = 4096;
/// The most parameters accepted in one request.
pub const MAX_PARAMS: usize = 64;

#[derive(Debug, Default)]
pub struct Params {
    values: HashMap<String, String>,
    duplicates: Vec<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParamsError {
    TooMany,
    TooLong(String),
}

impl std::fmt::Display for ParamsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamsError::TooMany => write!(f, "too many parameters"),
            ParamsError::TooLong(n) => write!(f, "parameter `{n}` is too long"),
        }
    }
}

impl Params {
    pub fn parse(raw: &[u8]) -> Result<Self, ParamsError> {
        let mut p = Params::default();
        for (i, (k, v)) in url::form_urlencoded::parse(raw).enumerate() {
            if i >= MAX_PARAMS {
                return Err(ParamsError::TooMany);
            }
            if v.len() > MAX_VALUE_LEN || k.len() > 128 {
                return Err(ParamsError::TooLong(k.chars().take(64).collect()));
            }
            // Empty values are treated as absent (RFC 6749 §3.1).
            if v.is_empty() {
                continue;
            }
            if p.values.contains_key(k.as_ref()) {
                p.duplicates.push(k.into_owned());
            } else {
                p.values.insert(k.into_owned(), v.into_owned());
            }
        }
        Ok(p)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn is_duplicated(&self, name: &str) -> bool {
        self.duplicates.iter().any(|d| d == name)
    }

    /// The first repeated parameter, if any.
    pub fn first_duplicate(&self) -> Option<&str> {
        self.duplicates.first().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_limits() {
        let p = Params::parse(b"a=1&b=2&a=3&c=").expect("parse");
        assert_eq!(p.get("a"), Some("1"));
        assert!(p.is_duplicated("a"));
        assert_eq!(p.get("c"), None);
        let long = format!("state={}", "x".repeat(MAX_VALUE_LEN + 1));
        assert_eq!(
            Params::parse(long.as_bytes()).err(),
            Some(ParamsError::TooLong("state".into()))
        );
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=1")).collect();
        assert_eq!(
            Params::parse(many.join("&").as_bytes()).err(),
            Some(ParamsError::TooMany)
        );
    }
}
