//! The gemspec inside a `.gem` (`metadata.gz`): YAML with Ruby tags, read as plain data.
//! Only the tags `gem build` writes are accepted (`Gem::Specification`, `Gem::Version`,
//! `Gem::Requirement`, `Gem::Dependency`, `Gem::Platform`); nothing is instantiated from a
//! tag, and the input is bounded by the caller (decompressed size) and by the YAML reader
//! (nesting depth, alias expansion).
use std::collections::BTreeMap;

use serde_yaml::Value;

use crate::{
    domain::metadata::{GemDependency, GemFacts},
    error::{DomainError, DomainResult},
};

use super::version::{check_gem_name, check_platform, check_version};

/// What a gemspec says.
#[derive(Clone, Debug, PartialEq)]
pub struct GemSpec {
    pub name: String,
    pub version: String,
    pub platform: String,
    pub facts: GemFacts,
}

const TAGS: [&str; 5] = [
    "!ruby/object:Gem::Specification",
    "!ruby/object:Gem::Version",
    "!ruby/object:Gem::Requirement",
    "!ruby/object:Gem::Dependency",
    "!ruby/object:Gem::Platform",
];

fn invalid(msg: impl std::fmt::Display) -> DomainError {
    DomainError::invalid(format!("invalid gemspec: {msg}"))
}

/// Parses the gemspec YAML of a `.gem`.
pub fn parse(yaml: &[u8]) -> DomainResult<GemSpec> {
    let doc: Value = serde_yaml::from_slice(yaml).map_err(invalid)?;
    check_tags(&doc, 0)?;
    let spec = match &doc {
        Value::Tagged(t) if t.tag == "!ruby/object:Gem::Specification" => &t.value,
        _ => return Err(invalid("not a Gem::Specification")),
    };
    let name = text(spec.get("name")).ok_or_else(|| invalid("no name"))?;
    check_gem_name(&name)?;
    let version = spec
        .get("version")
        .and_then(version_text)
        .ok_or_else(|| invalid("no version"))?;
    check_version(&version)?;
    let platform = match spec.get("platform") {
        None | Some(Value::Null) => "ruby".to_string(),
        Some(v) => platform_text(v).ok_or_else(|| invalid("unreadable platform"))?,
    };
    check_platform(&platform)?;
    let mut dependencies = Vec::new();
    for d in list(spec.get("dependencies")) {
        dependencies.push(dependency(d)?);
    }
    let metadata: BTreeMap<String, String> = match spec.get("metadata") {
        Some(Value::Mapping(m)) => m
            .iter()
            .filter_map(|(k, v)| Some((text(Some(k))?, text(Some(v))?)))
            .collect(),
        _ => BTreeMap::new(),
    };
    let facts = GemFacts {
        file: String::new(),
        summary: text(spec.get("summary")),
        description: text(spec.get("description")),
        authors: strings(spec.get("authors")),
        email: strings(spec.get("email")),
        licenses: strings(spec.get("licenses")),
        homepage: text(spec.get("homepage")),
        metadata,
        dependencies,
        required_ruby_version: requirement(spec.get("required_ruby_version"))?,
        required_rubygems_version: requirement(spec.get("required_rubygems_version"))?,
        date: text(spec.get("date")),
        rubygems_version: text(spec.get("rubygems_version")),
        specification_version: spec.get("specification_version").and_then(Value::as_i64),
    };
    Ok(GemSpec {
        name,
        version,
        platform,
        facts,
    })
}

/// Every tag must be one `gem build` writes; the depth is bounded again here (the YAML
/// reader stops at 128).
fn check_tags(v: &Value, depth: usize) -> DomainResult<()> {
    if depth > 32 {
        return Err(invalid("nested too deeply"));
    }
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            if !TAGS.contains(&tag.as_str()) {
                return Err(invalid(format!("unexpected tag {tag}")));
            }
            check_tags(&t.value, depth + 1)
        }
        Value::Sequence(s) => s.iter().try_for_each(|x| check_tags(x, depth + 1)),
        Value::Mapping(m) => m.iter().try_for_each(|(k, x)| {
            check_tags(k, depth + 1)?;
            check_tags(x, depth + 1)
        }),
        _ => Ok(()),
    }
}

fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => &t.value,
        other => other,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v.map(untag)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn list(v: Option<&Value>) -> Vec<&Value> {
    match v.map(untag) {
        Some(Value::Sequence(s)) => s.iter().collect(),
        _ => Vec::new(),
    }
}

/// A string or a list of strings (`email` may be either).
fn strings(v: Option<&Value>) -> Vec<String> {
    match v.map(untag) {
        Some(Value::Sequence(s)) => s.iter().filter_map(|x| text(Some(x))).collect(),
        Some(other) => text(Some(other)).into_iter().collect(),
        None => Vec::new(),
    }
}

/// `!ruby/object:Gem::Version {version: "1.0"}` (or a bare string).
fn version_text(v: &Value) -> Option<String> {
    match untag(v) {
        m @ Value::Mapping(_) => text(m.get("version")),
        other => text(Some(other)),
    }
}

/// `x86_64-linux`, or a `Gem::Platform {cpu, os, version}`.
fn platform_text(v: &Value) -> Option<String> {
    match untag(v) {
        m @ Value::Mapping(_) => {
            let parts: Vec<String> = ["cpu", "os", "version"]
                .iter()
                .filter_map(|k| text(m.get(*k)))
                .collect();
            Some(parts.join("-"))
        }
        other => text(Some(other)),
    }
}

/// `Gem::Requirement {requirements: [[op, Gem::Version], ...]}` → `["op version", ...]`,
/// leaving out the `>= 0` that means "any".
fn requirement(v: Option<&Value>) -> DomainResult<Vec<String>> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let reqs = match untag(v) {
        Value::Null => return Ok(Vec::new()),
        m @ Value::Mapping(_) => list(m.get("requirements")),
        _ => return Err(invalid("unreadable requirement")),
    };
    let mut out = Vec::new();
    for r in reqs {
        let pair = list(Some(r));
        let (Some(op), Some(ver)) = (
            pair.first().and_then(|o| text(Some(o))),
            pair.get(1).and_then(|v| version_text(v)),
        ) else {
            return Err(invalid("unreadable requirement"));
        };
        if !matches!(op.as_str(), "=" | "!=" | ">" | "<" | ">=" | "<=" | "~>") {
            return Err(invalid(format!("unknown requirement operator {op:?}")));
        }
        check_version(&ver)?;
        if op == ">=" && ver == "0" {
            continue;
        }
        out.push(format!("{op} {ver}"));
    }
    Ok(out)
}

fn dependency(d: &Value) -> DomainResult<GemDependency> {
    let name = text(untag(d).get("name")).ok_or_else(|| invalid("dependency without name"))?;
    check_gem_name(&name)?;
    let kind = match text(untag(d).get("type")).as_deref() {
        Some(":development") => "development",
        _ => "runtime",
    };
    let requirements = requirement(
        untag(d)
            .get("requirement")
            .or_else(|| untag(d).get("version_requirements")),
    )?;
    Ok(GemDependency {
        name,
        kind: kind.into(),
        requirements,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What `gem build` (RubyGems 3.3) writes, trimmed.
    pub(crate) const SPEC: &str = r#"--- !ruby/object:Gem::Specification
name: tool
version: !ruby/object:Gem::Version
  version: 1.2.0
platform: x86_64-linux
authors:
- Ada
- Bob
autorequire:
bindir: bin
cert_chain: []
date: 2026-12-01 00:00:00.000000000 Z
dependencies:
- !ruby/object:Gem::Dependency
  name: base
  requirement: !ruby/object:Gem::Requirement
    requirements:
    - - "~>"
      - !ruby/object:Gem::Version
        version: '1.0'
    - - ">="
      - !ruby/object:Gem::Version
        version: 1.0.2
  type: :runtime
  prerelease: false
  version_requirements: !ruby/object:Gem::Requirement
    requirements:
    - - "~>"
      - !ruby/object:Gem::Version
        version: '1.0'
- !ruby/object:Gem::Dependency
  name: rake
  requirement: !ruby/object:Gem::Requirement
    requirements:
    - - ">="
      - !ruby/object:Gem::Version
        version: '0'
  type: :development
  prerelease: false
description: A longer text.
email: ada@example.com
homepage: https://example.com/tool
licenses:
- MIT
metadata:
  source_code_uri: https://pk.example/acme/tool
post_install_message:
required_ruby_version: !ruby/object:Gem::Requirement
  requirements:
  - - ">="
    - !ruby/object:Gem::Version
      version: '2.7'
required_rubygems_version: !ruby/object:Gem::Requirement
  requirements:
  - - ">="
    - !ruby/object:Gem::Version
      version: '0'
rubygems_version: 3.3.15
specification_version: 4
summary: A tool
test_files: []
"#;

    #[test]
    fn reads_what_gem_build_writes() {
        let spec = parse(SPEC.as_bytes()).expect("parses");
        assert_eq!(
            (
                spec.name.as_str(),
                spec.version.as_str(),
                spec.platform.as_str()
            ),
            ("tool", "1.2.0", "x86_64-linux")
        );
        let f = &spec.facts;
        assert_eq!(f.authors, ["Ada", "Bob"]);
        assert_eq!(f.email, ["ada@example.com"]);
        assert_eq!(f.licenses, ["MIT"]);
        assert_eq!(f.summary.as_deref(), Some("A tool"));
        assert_eq!(f.required_ruby_version, [">= 2.7"]);
        assert!(f.required_rubygems_version.is_empty());
        assert_eq!(
            f.metadata.get("source_code_uri").map(String::as_str),
            Some("https://pk.example/acme/tool")
        );
        assert_eq!(
            f.dependencies,
            [
                GemDependency {
                    name: "base".into(),
                    kind: "runtime".into(),
                    requirements: vec!["~> 1.0".into(), ">= 1.0.2".into()],
                },
                GemDependency {
                    name: "rake".into(),
                    kind: "development".into(),
                    requirements: vec![],
                }
            ]
        );
        assert_eq!(f.specification_version, Some(4));
    }

    #[test]
    fn refuses_foreign_tags_and_bad_names() {
        let evil = SPEC.replace(
            "!ruby/object:Gem::Version\n  version: 1.2.0",
            "!ruby/object:ERB\n  src: system('id')",
        );
        assert!(parse(evil.as_bytes()).is_err());
        let hash = "--- !ruby/hash:Gem::Specification\nname: x\n";
        assert!(parse(hash.as_bytes()).is_err());
        let bad_name = SPEC.replace("name: tool", "name: ../tool");
        assert!(parse(bad_name.as_bytes()).is_err());
        let bad_op = SPEC.replace("\"~>\"", "\"=~\"");
        assert!(parse(bad_op.as_bytes()).is_err());
        assert!(parse(b"- just a list").is_err());
    }

    #[test]
    fn refuses_alias_bombs() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for i in 0..12 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("b{}", i - 1)
            };
            bomb.push_str(&format!(
                "b{i}: &b{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        assert!(parse(bomb.as_bytes()).is_err());
    }
}
