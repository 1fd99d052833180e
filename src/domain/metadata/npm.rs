//! npm: the version's `package.json` as published (without `dist`, served fresh).
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Description;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct NpmMetadata {
    pub manifest: Value,
}

impl NpmMetadata {
    /// `npm deprecate`'s message, if the version is deprecated.
    pub fn deprecated(&self) -> Option<&str> {
        self.manifest.get("deprecated").and_then(Value::as_str)
    }

    /// Sets or clears the deprecation message (a manifest that isn't an object has nowhere
    /// to keep one and is left alone).
    pub fn set_deprecated(&mut self, message: Option<&str>) {
        if let Value::Object(map) = &mut self.manifest {
            match message {
                Some(m) => map.insert("deprecated".into(), m.into()),
                None => map.remove("deprecated"),
            };
        }
    }

    pub fn describe(&self) -> Description {
        let m = &self.manifest;
        let text = |key: &str| m.get(key).and_then(Value::as_str).map(str::to_string);
        // `"MIT"`, or the legacy `{"type": "MIT"}` / `"licenses": [{"type": ...}, ...]` forms.
        let license = match (m.get("license"), m.get("licenses")) {
            (Some(Value::String(l)), _) => Some(l.clone()),
            (Some(Value::Object(o)), _) => {
                o.get("type").and_then(Value::as_str).map(str::to_string)
            }
            (None, Some(Value::Array(all))) => {
                let types: Vec<&str> = all
                    .iter()
                    .filter_map(|l| l.get("type").and_then(Value::as_str))
                    .collect();
                (!types.is_empty()).then(|| types.join(" OR "))
            }
            _ => None,
        };
        let repository_url = match m.get("repository") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(o)) => o.get("url").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        // `author` then `contributors`, each a string or `{name, email}`.
        let authors = m
            .get("author")
            .into_iter()
            .chain(
                m.get("contributors")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten(),
            )
            .filter_map(person)
            .filter(|s| !s.trim().is_empty())
            .collect();
        Description {
            summary: text("description"),
            license,
            homepage: text("homepage"),
            authors,
            repository_url,
        }
    }
}

fn person(p: &Value) -> Option<String> {
    match p {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => {
            let name = o.get("name")?.as_str()?;
            Some(match o.get("email").and_then(Value::as_str) {
                Some(email) => format!("{name} <{email}>"),
                None => name.to_string(),
            })
        }
        _ => None,
    }
}
