//! HTML form fields as submitted, for forms with repeated fields (checkbox groups). Missing
//! fields read as empty; a repeated single-value field keeps its first value.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(from = "Vec<(String, String)>")]
pub struct Fields(Vec<(String, String)>);

impl From<Vec<(String, String)>> for Fields {
    fn from(v: Vec<(String, String)>) -> Self {
        Self(v)
    }
}

impl Fields {
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of a repeated field, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_missing_fields() {
        let f: Fields = serde_urlencoded::from_str("app=a&x=1&app=b&x=2").expect("parse");
        assert_eq!(f.all("app"), vec!["a", "b"]);
        assert_eq!(f.get("x"), "1");
        assert_eq!(f.get("missing"), "");
    }
}
