//! The full index, in Ruby's Marshal 4.8: `specs.4.8.gz` (and its `latest_` and
//! `prerelease_` variants: `[name, Gem::Version, platform]` tuples, gzipped),
//! `quick/Marshal.4.8/FULLNAME.gemspec.rz` (one `Gem::Specification`, deflated) and
//! bundler's `/api/v1/dependencies` (hashes of name, number, platform, dependencies).
use std::io::Write;

use crate::domain::metadata::GemFacts;

use super::{compact_index::GemRow, marshal::Marshal};

/// One `[name, version, platform]` of a specs index.
pub struct SpecTuple<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub platform: &'a str,
}

/// `specs.4.8.gz` and friends.
pub fn specs(tuples: &[SpecTuple<'_>]) -> Vec<u8> {
    let mut m = Marshal::new();
    m.array(tuples.len());
    for t in tuples {
        m.array(3);
        m.string(t.name);
        m.gem_version(t.version);
        m.string(t.platform);
    }
    gzip(&m.finish())
}

/// `Marshal.dump(spec)` of one `.gem`'s gemspec: a `Gem::Specification` whose `_dump` is
/// the Marshal of its fields in `Gem::Specification._load`'s order.
pub fn quick_spec(name: &str, row: &GemRow<'_>) -> Vec<u8> {
    let f = row.facts;
    let mut inner = Marshal::new();
    inner.array(19);
    inner.string(f.rubygems_version.as_deref().unwrap_or("3.3.0"));
    inner.int(f.specification_version.unwrap_or(4).clamp(0, 4) as i32);
    inner.string(name);
    inner.gem_version(row.version);
    // `date=` takes a `YYYY-MM-DD` string; anything else is today.
    match f.date.as_deref().and_then(|d| d.get(..10)).filter(|d| {
        d.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
    }) {
        Some(d) => {
            inner.string(d);
        }
        None => inner.nil(),
    }
    optional_string(&mut inner, f.summary.as_deref());
    inner.gem_requirement(&f.required_ruby_version);
    inner.gem_requirement(&f.required_rubygems_version);
    inner.string(row.platform);
    dependencies_of(&mut inner, f);
    inner.string(""); // rubyforge_project
    match f.email.as_slice() {
        [] => inner.nil(),
        [one] => {
            inner.string(one);
        }
        many => {
            inner.array(many.len());
            for e in many {
                inner.string(e);
            }
        }
    }
    inner.array(f.authors.len());
    for a in &f.authors {
        inner.string(a);
    }
    optional_string(&mut inner, f.description.as_deref());
    optional_string(&mut inner, f.homepage.as_deref());
    inner.bool(true); // has_rdoc
    inner.string(row.platform);
    inner.array(f.licenses.len());
    for l in &f.licenses {
        inner.string(l);
    }
    inner.hash(f.metadata.len());
    for (k, v) in &f.metadata {
        inner.string(k);
        inner.string(v);
    }
    let mut outer = Marshal::new();
    outer.user_defined("Gem::Specification", &inner.finish());
    deflate(&outer.finish())
}

fn optional_string(m: &mut Marshal, s: Option<&str>) {
    match s {
        Some(s) => {
            m.string(s);
        }
        None => m.nil(),
    }
}

/// `Gem::Dependency` objects, as `gem build` leaves them (both requirement ivars are the
/// same object).
fn dependencies_of(m: &mut Marshal, f: &GemFacts) {
    m.array(f.dependencies.len());
    for d in &f.dependencies {
        m.object("Gem::Dependency", 5);
        m.symbol("@name");
        m.string(&d.name);
        m.symbol("@requirement");
        let req = m.gem_requirement(&d.requirements);
        m.symbol("@type");
        m.symbol(if d.kind == "development" {
            "development"
        } else {
            "runtime"
        });
        m.symbol("@prerelease");
        m.bool(false);
        m.symbol("@version_requirements");
        m.link(req);
    }
}

/// `/api/v1/dependencies?gems=...`: `[{name:, number:, platform:, dependencies: [[name,
/// "req, req"]]}]` with runtime dependencies only.
pub fn dependencies(rows: &[(&str, GemRow<'_>)]) -> Vec<u8> {
    let mut m = Marshal::new();
    m.array(rows.len());
    for (name, row) in rows {
        m.hash(4);
        m.symbol("name");
        m.string(name);
        m.symbol("number");
        m.string(row.version);
        m.symbol("platform");
        m.string(row.platform);
        m.symbol("dependencies");
        let runtime: Vec<_> = row
            .facts
            .dependencies
            .iter()
            .filter(|d| d.kind == "runtime")
            .collect();
        m.array(runtime.len());
        for d in runtime {
            m.array(2);
            m.string(&d.name);
            let req = if d.requirements.is_empty() {
                ">= 0".to_string()
            } else {
                d.requirements.join(", ")
            };
            m.string(&req);
        }
    }
    m.finish()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec can't fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::formats::rubygems::compact_index::{rows, tests::sample_index};

    /// Ruby itself loads what we write (when ruby is installed, as the suite's machines
    /// have it): the quick spec becomes a `Gem::Specification` with its dependencies.
    #[test]
    fn ruby_loads_the_quick_spec_and_specs() {
        let index = sample_index();
        let rows = rows(&index);
        let row = rows
            .iter()
            .find(|r| r.platform == "ruby" && r.version == "1.0.0");
        let spec = quick_spec("a", row.expect("row"));
        let mut inflated = Vec::new();
        flate2::read::ZlibDecoder::new(spec.as_slice())
            .read_to_end(&mut inflated)
            .expect("zlib");
        assert!(inflated.starts_with(b"\x04\x08u:\x17Gem::Specification"));
        let Ok(out) = std::process::Command::new("ruby")
            .arg("-e")
            .arg(
                "s = Marshal.load(Gem::Util.inflate(STDIN.binmode.read)); \
                 print [s.name, s.version.to_s, s.platform.to_s, \
                 s.runtime_dependencies.map(&:to_s).join(';'), \
                 s.required_ruby_version.to_s].join('|')",
            )
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(&spec)
                    .expect("write");
                child.wait_with_output()
            })
        else {
            eprintln!("ruby is not installed: skipped the load check");
            return;
        };
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "a|1.0.0|ruby|b (>= 1.0, < 2);c (>= 0)|>= 2.7"
        );
    }

    #[test]
    fn specs_are_gzipped_marshal_tuples() {
        let gz = specs(&[SpecTuple {
            name: "tool",
            version: "1.0.0",
            platform: "ruby",
        }]);
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_end(&mut raw)
            .expect("gzip");
        let fixture = std::fs::read(format!(
            "{}/tests/fixtures/rubygems/marshal/version_tuple.bin",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture");
        // The fixture holds two tuples (`[\x07`), ours one (`[\x06`); the first tuple's
        // bytes are the same.
        assert_eq!((&raw[..3], raw[3]), (&fixture[..3], 6));
        assert_eq!(fixture[3], 7);
        assert_eq!(&raw[4..], &fixture[4..raw.len()]);
    }
}
