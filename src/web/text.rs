//! Domain errors read as lower-case clauses ("the link has expired"), as Rust error messages
//! do; pages show sentences. These turn one into the other.

/// "the link has expired" → "The link has expired".
pub fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// "Your access is locked." → "your access is locked.", to follow a lead-in.
pub fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

/// An error clause as a sentence: capitalised, ending with a period.
pub fn sentence(clause: impl std::fmt::Display) -> String {
    format!("{}.", upper_first(&clause.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_and_sentences() {
        assert_eq!(sentence("the link has expired"), "The link has expired.");
        assert_eq!(
            lower_first("Your access is locked."),
            "your access is locked."
        );
        assert_eq!(upper_first("élan"), "Élan");
        assert_eq!(upper_first(""), "");
    }
}
