//! The compact index (https://github.com/rubygems/compact_index), byte for byte:
//! `/info/NAME` (one line per version and platform: runtime dependencies, checksum,
//! required Ruby and RubyGems), `/versions` (the owner's append-only log) and `/names`.
use std::fmt::Write;

use crate::domain::{
    index::PackageIndex,
    metadata::{GemFacts, VersionMetadata},
    rubygems::GemLog,
};

/// One installable `.gem`: a listed version's listed platform.
#[derive(Clone, Debug)]
pub struct GemRow<'a> {
    pub version: &'a str,
    pub version_id: i64,
    pub platform: &'a str,
    pub facts: &'a GemFacts,
    pub sha256: &'a str,
    pub file_id: i64,
    pub prerelease: bool,
}

/// Every installable `.gem` of the index, in the order they were pushed (so the info file
/// grows at its end as the versions file does).
pub fn rows(index: &PackageIndex) -> Vec<GemRow<'_>> {
    let mut rows: Vec<GemRow<'_>> = index
        .listed()
        .filter_map(|v| match &v.version.metadata {
            VersionMetadata::Rubygems(m) => Some((v, m)),
            _ => None,
        })
        .flat_map(|(v, m)| {
            m.listed_platforms().filter_map(move |(platform, facts)| {
                let file = v.files.iter().find(|f| f.name == facts.file)?;
                Some(GemRow {
                    version: &v.version.version,
                    version_id: v.version.id,
                    platform,
                    facts,
                    sha256: &file.sha256,
                    file_id: file.id,
                    prerelease: v.version.prerelease,
                })
            })
        })
        .collect();
    rows.sort_by_key(|r| r.file_id);
    rows
}

/// `VERSION` or `VERSION-PLATFORM`.
pub fn number_and_platform(version: &str, platform: &str) -> String {
    if platform == "ruby" {
        version.to_string()
    } else {
        format!("{version}-{platform}")
    }
}

/// `/info/NAME`.
pub fn info(index: &PackageIndex) -> Vec<u8> {
    let mut out = String::from("---\n");
    for row in rows(index) {
        out.push_str(&info_line(&row));
        out.push('\n');
    }
    out.into_bytes()
}

/// `1.0.1 dep:< 2&>= 1,other:= 1.1|checksum:HEX,ruby:>= 2.7,rubygems:> 1.3.1`: runtime
/// dependencies only (a development dependency would be installed too), each one's
/// requirements sorted and joined by `&`.
fn info_line(row: &GemRow<'_>) -> String {
    let deps: Vec<String> = row
        .facts
        .dependencies
        .iter()
        .filter(|d| d.kind == "runtime")
        .map(|d| format!("{}:{}", d.name, requirement(&d.requirements)))
        .collect();
    let mut line = format!(
        "{} {}|checksum:{}",
        number_and_platform(row.version, row.platform),
        deps.join(","),
        row.sha256
    );
    if !row.facts.required_ruby_version.is_empty() {
        let _ = write!(
            line,
            ",ruby:{}",
            requirement(&row.facts.required_ruby_version)
        );
    }
    if !row.facts.required_rubygems_version.is_empty() {
        let _ = write!(
            line,
            ",rubygems:{}",
            requirement(&row.facts.required_rubygems_version)
        );
    }
    line
}

/// Requirements sorted and joined by `&` (none: `>= 0`).
fn requirement(list: &[String]) -> String {
    if list.is_empty() {
        return ">= 0".into();
    }
    let mut sorted = list.to_vec();
    sorted.sort();
    sorted.join("&")
}

/// `/versions`: `created_at` (fixed per owner), `---`, then the log's lines in order.
pub fn versions(log: &GemLog) -> Vec<u8> {
    let mut out = format!(
        "created_at: {}\n---\n",
        log.since.format("%Y-%m-%dT%H:%M:%SZ")
    );
    for line in &log.lines {
        let _ = writeln!(out, "{} {} {}", line.name, line.entry, line.info_digest);
    }
    out.into_bytes()
}

/// The entries to append to a gem's log so that replaying it gives `current` (the
/// `VERSION[-PLATFORM]`s its info file lists now): the new ones, then `-` the gone ones.
pub fn catch_up(logged: &[&str], current: &[&str]) -> Vec<String> {
    let mut listed: Vec<&str> = Vec::new();
    for entry in logged {
        match entry.strip_prefix('-') {
            Some(gone) => listed.retain(|e| e != &gone),
            None if !listed.contains(entry) => listed.push(entry),
            None => {}
        }
    }
    let added = current
        .iter()
        .filter(|c| !listed.contains(c))
        .map(|c| c.to_string());
    let removed = listed
        .iter()
        .filter(|l| !current.contains(l))
        .map(|l| format!("-{l}"));
    added.chain(removed).collect()
}

/// The `VERSION[-PLATFORM]`s an info file lists.
pub fn info_entries(info: &[u8]) -> Vec<&str> {
    std::str::from_utf8(info)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split(' ').next())
        .filter(|e| !e.is_empty())
        .collect()
}

/// `/names`.
pub fn names(names: &[String]) -> Vec<u8> {
    let mut sorted = names.to_vec();
    sorted.sort();
    let mut out = String::from("---\n");
    for n in sorted {
        out.push_str(&n);
        out.push('\n');
    }
    out.into_bytes()
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::{
        PackageType, Visibility,
        index::IndexedVersion,
        metadata::{GemDependency, RubygemsMetadata},
        rubygems::GemLogLine,
        views::{FileInfo, PackageInfo, VersionInfo},
    };

    fn at() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc
            .with_ymd_and_hms(1990, 1, 1, 0, 0, 0)
            .single()
            .expect("date")
    }

    fn file(id: i64, name: &str, sha: &str) -> FileInfo {
        FileInfo {
            id,
            version_id: 0,
            name: name.into(),
            size: 1,
            content_type: "application/octet-stream".into(),
            lead: true,
            sha256: sha.into(),
            md5: None,
            sha1: None,
            sha512: None,
            created_at: at(),
            updated_at: at(),
        }
    }

    fn version(
        id: i64,
        v: &str,
        platforms: &[(&str, GemFacts)],
        files: Vec<FileInfo>,
    ) -> IndexedVersion {
        let mut m = RubygemsMetadata::default();
        for (p, f) in platforms {
            m.platforms.insert(p.to_string(), f.clone());
        }
        IndexedVersion {
            version: VersionInfo {
                id,
                package_id: 1,
                version: v.into(),
                metadata: VersionMetadata::Rubygems(m),
                summary: None,
                readme: None,
                license: None,
                prerelease: v.bytes().any(|b| b.is_ascii_alphabetic()),
                yanked: false,
                publisher_id: None,
                created_at: at(),
                updated_at: at(),
                deleted_at: None,
            },
            files,
        }
    }

    pub(crate) fn sample_index() -> PackageIndex {
        let plain = GemFacts {
            file: "a-0.1.0.gem".into(),
            ..Default::default()
        };
        let with_deps = GemFacts {
            file: "a-1.0.0.gem".into(),
            dependencies: vec![
                GemDependency {
                    name: "b".into(),
                    kind: "runtime".into(),
                    requirements: vec![">= 1.0".into(), "< 2".into()],
                },
                GemDependency {
                    name: "rake".into(),
                    kind: "development".into(),
                    requirements: vec![],
                },
                GemDependency {
                    name: "c".into(),
                    kind: "runtime".into(),
                    requirements: vec![],
                },
            ],
            required_ruby_version: vec![">= 2.7".into()],
            required_rubygems_version: vec!["> 1.3.1".into()],
            ..Default::default()
        };
        let java = GemFacts {
            file: "a-1.0.0-java.gem".into(),
            ..Default::default()
        };
        PackageIndex {
            package: PackageInfo {
                id: 1,
                owner_id: 1,
                owner_login: "acme".into(),
                package_type: PackageType::Rubygems,
                name: "a".into(),
                visibility: Visibility::Public,
                repository_id: None,
                inherit_access: true,
                created_at: at(),
                updated_at: at(),
                deleted_at: None,
                viewer_role: None,
            },
            versions: vec![
                version(
                    1,
                    "0.1.0",
                    &[("ruby", plain)],
                    vec![file(1, "a-0.1.0.gem", "aa")],
                ),
                version(
                    2,
                    "1.0.0",
                    &[("ruby", with_deps), ("java", java)],
                    // The java platform was pushed first.
                    vec![
                        file(2, "a-1.0.0-java.gem", "cc"),
                        file(3, "a-1.0.0.gem", "bb"),
                    ],
                ),
            ],
            tags: vec![],
        }
    }

    #[test]
    fn info_lines_are_the_compact_index_format() {
        let got = String::from_utf8(info(&sample_index())).expect("utf-8");
        assert_eq!(
            got,
            "---\n\
             0.1.0 |checksum:aa\n\
             1.0.0-java |checksum:cc\n\
             1.0.0 b:< 2&>= 1.0,c:>= 0|checksum:bb,ruby:>= 2.7,rubygems:> 1.3.1\n"
        );
        let mut yanked = sample_index();
        yanked.versions[0].version.yanked = true;
        if let VersionMetadata::Rubygems(m) = &mut yanked.versions[1].version.metadata {
            m.yanked_platforms.push("java".into());
        }
        let got = String::from_utf8(info(&yanked)).expect("utf-8");
        assert_eq!(got.lines().count(), 2, "{got}");
        assert!(got.starts_with("---\n1.0.0 b:"));
    }

    #[test]
    fn a_stale_log_catches_up_with_the_index() {
        // 1.1.0 was yanked in the log, and unyanked since; 0.9 was deleted.
        let logged = ["0.9", "1.0.0", "1.1.0", "-1.1.0"];
        assert_eq!(catch_up(&logged, &["1.0.0", "1.1.0"]), ["1.1.0", "-0.9"]);
        assert!(catch_up(&logged, &["0.9", "1.0.0"]).is_empty());
        assert_eq!(
            info_entries(&info(&sample_index())),
            ["0.1.0", "1.0.0-java", "1.0.0"]
        );
    }

    #[test]
    fn versions_and_names_files() {
        let log = GemLog {
            since: at(),
            lines: vec![
                GemLogLine {
                    package_id: 1,
                    name: "a".into(),
                    entry: "1.0.0".into(),
                    info_digest: "3180abba623fbea41f7d85bc378cc11e".into(),
                },
                GemLogLine {
                    package_id: 1,
                    name: "a".into(),
                    entry: "-1.0.0".into(),
                    info_digest: "6105347ebb9825ac754615ca55ff3b0c".into(),
                },
            ],
            gems: vec![(2, "b".into()), (1, "a".into())],
        };
        // As compact_index's conformance fixtures (04_second_push) begin.
        assert_eq!(
            String::from_utf8(versions(&log)).expect("utf-8"),
            "created_at: 1990-01-01T00:00:00Z\n---\n\
             a 1.0.0 3180abba623fbea41f7d85bc378cc11e\n\
             a -1.0.0 6105347ebb9825ac754615ca55ff3b0c\n"
        );
        assert_eq!(names(&log.names()), b"---\na\nb\n");
    }
}
