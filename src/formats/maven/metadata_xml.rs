//! `maven-metadata.xml`, generated from what is stored (pure renderers of a
//! `PackageIndex`, so it is the same whatever order a client uploaded in, and after
//! deletes): the artifact's versions, a SNAPSHOT's timestamped builds, a group's plugins.
//! And the sanity check of a client's own upload, which is never stored.
use crate::formats::kit::xml::general_ref;
use std::fmt::Write;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use quick_xml::{Reader, events::Event};

use crate::{
    domain::{
        download::ChecksumKind,
        index::{IndexedVersion, PackageIndex},
        maven::{PluginInfo, is_snapshot_stamp},
        views::FileInfo,
    },
    error::{DomainError, DomainResult},
    formats::maven::paths::Coordinates,
};

/// The largest `maven-metadata.xml` a client may upload (it is read, checked, dropped).
pub const UPLOADED_MAX: u64 = 4 * 1024 * 1024;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Maven's `lastUpdated` form.
fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d%H%M%S").to_string()
}

fn is_checksum(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| ext.parse::<ChecksumKind>().is_ok())
}

/// A version is listed once it has a file that isn't a checksum kept ahead of its file.
fn deployed(v: &IndexedVersion) -> bool {
    v.files.iter().any(|f| !is_checksum(&f.name))
}

fn last_updated<'a>(files: impl Iterator<Item = &'a FileInfo>) -> Option<DateTime<Utc>> {
    files.map(|f| f.updated_at).max()
}

/// The artifact-level metadata: every deployed version (in deploy order, as mvn appends
/// them), `latest` (the last deployed), `release` (the last non-SNAPSHOT).
pub fn render_artifact(index: &PackageIndex, coords: &Coordinates) -> DomainResult<Bytes> {
    let versions: Vec<&IndexedVersion> = index.listed().filter(|v| deployed(v)).collect();
    if versions.is_empty() {
        return Err(DomainError::not_found(
            crate::error::What::Version,
            format!("versions of {}:{}", coords.group, coords.artifact),
        ));
    }
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n");
    let _ = writeln!(xml, "  <groupId>{}</groupId>", escape(&coords.group));
    let _ = writeln!(
        xml,
        "  <artifactId>{}</artifactId>",
        escape(&coords.artifact)
    );
    xml.push_str("  <versioning>\n");
    if let Some(latest) = versions.last() {
        let _ = writeln!(
            xml,
            "    <latest>{}</latest>",
            escape(&latest.version.version)
        );
    }
    if let Some(release) = versions
        .iter()
        .rev()
        .find(|v| !v.version.version.ends_with("-SNAPSHOT"))
    {
        let _ = writeln!(
            xml,
            "    <release>{}</release>",
            escape(&release.version.version)
        );
    }
    xml.push_str("    <versions>\n");
    for v in &versions {
        let _ = writeln!(
            xml,
            "      <version>{}</version>",
            escape(&v.version.version)
        );
    }
    xml.push_str("    </versions>\n");
    if let Some(at) = last_updated(versions.iter().flat_map(|v| v.files.iter())) {
        let _ = writeln!(xml, "    <lastUpdated>{}</lastUpdated>", stamp(at));
    }
    xml.push_str("  </versioning>\n</metadata>\n");
    Ok(Bytes::from(xml))
}

/// A file of a SNAPSHOT build: `{artifactId}-{base}-{yyyyMMdd.HHmmss}-{build}[-{classifier}].{ext}`
/// or the non-unique `{artifactId}-{version}[-{classifier}].{ext}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotFile {
    /// `(timestamp, build)` of a timestamped file; `None` for a non-unique one.
    pub build: Option<(String, u32)>,
    pub classifier: Option<String>,
    pub extension: String,
}

pub fn snapshot_file(artifact: &str, version: &str, name: &str) -> Option<SnapshotFile> {
    let base = version.strip_suffix("-SNAPSHOT")?;
    let rest = name.strip_prefix(artifact)?.strip_prefix('-')?;
    let split_tail = |tail: &str| -> Option<(Option<String>, String)> {
        if let Some(ext) = tail.strip_prefix('.') {
            return (!ext.is_empty()).then(|| (None, ext.to_string()));
        }
        let tail = tail.strip_prefix('-')?;
        let (classifier, ext) = tail.split_once('.')?;
        (!classifier.is_empty() && !ext.is_empty())
            .then(|| (Some(classifier.to_string()), ext.to_string()))
    };
    if let Some(tail) = rest.strip_prefix(version) {
        let (classifier, extension) = split_tail(tail)?;
        return Some(SnapshotFile {
            build: None,
            classifier,
            extension,
        });
    }
    let rest = rest.strip_prefix(base)?.strip_prefix('-')?;
    // `yyyyMMdd.HHmmss-N` then the tail.
    let stamp_end = 15;
    let stamp = rest.get(..stamp_end)?;
    let after = rest.get(stamp_end + 1..)?;
    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
    let (build, tail) = after.split_at(digits);
    if !is_snapshot_stamp(&format!("{stamp}-{build}")) || rest.as_bytes()[stamp_end] != b'-' {
        return None;
    }
    let (classifier, extension) = split_tail(tail)?;
    Some(SnapshotFile {
        build: Some((stamp.to_string(), build.parse().ok()?)),
        classifier,
        extension,
    })
}

/// Per classifier and extension: the newest build (timestamp and number, `None` for a
/// non-unique file) and when it was stored.
type Newest = (Option<String>, String, Option<(String, u32)>, DateTime<Utc>);

/// A SNAPSHOT version's metadata: the newest build (`snapshot`), and per classifier and
/// extension the newest file (`snapshotVersions`), as mvn writes it.
pub fn render_snapshot(
    index: &PackageIndex,
    coords: &Coordinates,
    version: &str,
) -> DomainResult<Bytes> {
    let not_found = || {
        DomainError::not_found(
            crate::error::What::Version,
            format!("version {version} of {}:{}", coords.group, coords.artifact),
        )
    };
    let v = index
        .listed()
        .find(|v| v.version.version == version && deployed(v))
        .ok_or_else(not_found)?;
    let base = version.strip_suffix("-SNAPSHOT").ok_or_else(not_found)?;
    // (classifier, extension) → (build, value, updated), newest build wins.
    let mut newest: Vec<Newest> = Vec::new();
    for f in v.files.iter().filter(|f| !is_checksum(&f.name)) {
        let Some(sf) = snapshot_file(&coords.artifact, version, &f.name) else {
            continue;
        };
        match newest
            .iter_mut()
            .find(|(c, e, _, _)| *c == sf.classifier && *e == sf.extension)
        {
            Some(entry) => {
                let newer = match (&entry.2, &sf.build) {
                    (Some(a), Some(b)) => (&b.0, b.1) > (&a.0, a.1),
                    (None, Some(_)) => true,
                    (Some(_), None) => false,
                    (None, None) => f.updated_at > entry.3,
                };
                if newer {
                    entry.2 = sf.build.clone();
                    entry.3 = f.updated_at;
                }
            }
            None => newest.push((sf.classifier, sf.extension, sf.build, f.updated_at)),
        }
    }
    let latest_build = newest
        .iter()
        .filter_map(|(_, _, b, _)| b.as_ref())
        .max_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata modelVersion=\"1.1.0\">\n",
    );
    let _ = writeln!(xml, "  <groupId>{}</groupId>", escape(&coords.group));
    let _ = writeln!(
        xml,
        "  <artifactId>{}</artifactId>",
        escape(&coords.artifact)
    );
    let _ = writeln!(xml, "  <version>{}</version>", escape(version));
    xml.push_str("  <versioning>\n");
    match latest_build {
        Some((ts, build)) => {
            let _ = writeln!(
                xml,
                "    <snapshot>\n      <timestamp>{ts}</timestamp>\n      <buildNumber>{build}</buildNumber>\n    </snapshot>"
            );
        }
        None => {
            xml.push_str("    <snapshot>\n      <localCopy>true</localCopy>\n    </snapshot>\n")
        }
    }
    if let Some(at) = last_updated(v.files.iter()) {
        let _ = writeln!(xml, "    <lastUpdated>{}</lastUpdated>", stamp(at));
    }
    xml.push_str("    <snapshotVersions>\n");
    for (classifier, extension, build, updated) in &newest {
        let value = match build {
            Some((ts, n)) => format!("{base}-{ts}-{n}"),
            None => version.to_string(),
        };
        xml.push_str("      <snapshotVersion>\n");
        if let Some(c) = classifier {
            let _ = writeln!(xml, "        <classifier>{}</classifier>", escape(c));
        }
        let _ = writeln!(xml, "        <extension>{}</extension>", escape(extension));
        let _ = writeln!(xml, "        <value>{}</value>", escape(&value));
        let _ = writeln!(xml, "        <updated>{}</updated>", stamp(*updated));
        xml.push_str("      </snapshotVersion>\n");
    }
    xml.push_str("    </snapshotVersions>\n  </versioning>\n</metadata>\n");
    Ok(Bytes::from(xml))
}

/// A group's plugin metadata: each plugin's prefix, so `mvn PREFIX:goal` finds it.
pub fn render_group(plugins: &[PluginInfo]) -> Bytes {
    let mut xml =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata>\n  <plugins>\n");
    for p in plugins {
        xml.push_str("    <plugin>\n");
        if let Some(name) = &p.name {
            let _ = writeln!(xml, "      <name>{}</name>", escape(name));
        }
        if let Some(prefix) = &p.prefix {
            let _ = writeln!(xml, "      <prefix>{}</prefix>", escape(prefix));
        }
        let _ = writeln!(
            xml,
            "      <artifactId>{}</artifactId>",
            escape(&p.artifact_id)
        );
        xml.push_str("    </plugin>\n");
    }
    xml.push_str("  </plugins>\n</metadata>\n");
    Bytes::from(xml)
}

/// A client's own `maven-metadata.xml`: well-formed, no DTD, `<metadata>` at the root, and
/// naming the artifact of its path if it names one. It is then dropped (ours is served).
pub fn check_uploaded(xml: &[u8], coords: Option<&Coordinates>) -> DomainResult<()> {
    let bad = |e: &dyn std::fmt::Display| {
        DomainError::invalid(format!("invalid maven-metadata.xml: {e}"))
    };
    if xml.len() as u64 > UPLOADED_MAX {
        return Err(bad(&format!("larger than {UPLOADED_MAX} bytes")));
    }
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut root = false;
    let (mut group, mut artifact) = (None, None);
    loop {
        match reader.read_event_into(&mut buf).map_err(|e| bad(&e))? {
            Event::DocType(_) => return Err(bad(&"a DOCTYPE is not allowed")),
            Event::Start(e) => {
                if depth == 0 {
                    if e.local_name().as_ref() != b"metadata" || root {
                        return Err(bad(&"the root element must be <metadata>"));
                    }
                    root = true;
                }
                depth += 1;
                if depth > 32 {
                    return Err(bad(&"nested too deeply"));
                }
                path.push(e.local_name().as_ref().to_vec());
            }
            Event::Empty(e) if depth == 0 => {
                if e.local_name().as_ref() != b"metadata" {
                    return Err(bad(&"the root element must be <metadata>"));
                }
                root = true;
            }
            Event::Text(t) => {
                let text = t.decode().map_err(|e| bad(&e))?;
                if depth == 2 {
                    match path.last().map(Vec::as_slice) {
                        Some(b"groupId") => group.get_or_insert_with(String::new).push_str(&text),
                        Some(b"artifactId") => {
                            artifact.get_or_insert_with(String::new).push_str(&text)
                        }
                        _ => {}
                    }
                }
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| bad(&e))?;
                let c = general_ref(&name)
                    .ok_or_else(|| bad(&format!("entity &{name}; is not allowed")))?;
                if depth == 2 {
                    match path.last().map(Vec::as_slice) {
                        Some(b"groupId") => group.get_or_insert_with(String::new).push(c),
                        Some(b"artifactId") => artifact.get_or_insert_with(String::new).push(c),
                        _ => {}
                    }
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                path.pop();
            }
            Event::Eof if depth > 0 => return Err(bad(&"unclosed elements")),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !root {
        return Err(bad(&"no <metadata> element"));
    }
    if let Some(c) = coords
        && (group.as_deref().is_some_and(|g| g != c.group)
            || artifact.as_deref().is_some_and(|a| a != c.artifact))
    {
        return Err(bad(&format!(
            "it names {}:{}, not {}:{}",
            group.unwrap_or_default(),
            artifact.unwrap_or_default(),
            c.group,
            c.artifact
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::{
        PackageType, Visibility,
        metadata::{MavenMetadata, VersionMetadata},
        views::{PackageInfo, VersionInfo},
    };

    fn at(s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, s)
            .single()
            .expect("time")
    }

    fn file(name: &str, s: u32) -> FileInfo {
        FileInfo {
            id: 0,
            version_id: 0,
            name: name.into(),
            size: 1,
            content_type: "application/java-archive".into(),
            lead: false,
            sha256: "00".into(),
            md5: None,
            sha1: None,
            sha512: None,
            created_at: at(s),
            updated_at: at(s),
        }
    }

    fn version(id: i64, v: &str, files: Vec<FileInfo>) -> IndexedVersion {
        IndexedVersion {
            version: VersionInfo {
                id,
                package_id: 1,
                version: v.into(),
                metadata: VersionMetadata::Maven(MavenMetadata::default()),
                summary: None,
                readme: None,
                license: None,
                prerelease: false,
                yanked: false,
                publisher_id: None,
                created_at: at(0),
                updated_at: at(0),
                deleted_at: None,
            },
            files,
        }
    }

    fn index(versions: Vec<IndexedVersion>) -> PackageIndex {
        PackageIndex {
            package: PackageInfo {
                id: 1,
                owner_id: 1,
                owner_login: "alice".into(),
                package_type: PackageType::Maven,
                name: "com.example:app".into(),
                visibility: Visibility::Private,
                repository_id: Some(1),
                inherit_access: true,
                created_at: at(0),
                updated_at: at(0),
                deleted_at: None,
                viewer_role: None,
            },
            versions,
            tags: Vec::new(),
        }
    }

    fn coords() -> Coordinates {
        Coordinates {
            group: "com.example".into(),
            artifact: "app".into(),
        }
    }

    #[test]
    fn artifact_metadata_lists_deployed_versions() {
        let idx = index(vec![
            version(
                1,
                "1.0",
                vec![file("app-1.0.jar", 1), file("app-1.0.pom", 2)],
            ),
            version(
                2,
                "1.1-SNAPSHOT",
                vec![file("app-1.1-20261201.120003-1.jar", 3)],
            ),
            // Only a checksum kept ahead of its file: not deployed yet.
            version(3, "2.0", vec![file("app-2.0.jar.sha1", 4)]),
        ]);
        let xml = String::from_utf8(render_artifact(&idx, &coords()).expect("render").to_vec())
            .expect("utf-8");
        assert!(xml.contains("<latest>1.1-SNAPSHOT</latest>"), "{xml}");
        assert!(xml.contains("<release>1.0</release>"), "{xml}");
        assert!(xml.contains("<version>1.0</version>"));
        assert!(!xml.contains("<version>2.0</version>"));
        assert!(
            xml.contains("<lastUpdated>20261201120003</lastUpdated>"),
            "{xml}"
        );
        assert!(render_artifact(&index(Vec::new()), &coords()).is_err());
    }

    #[test]
    fn snapshot_metadata_names_the_newest_build_per_classifier_and_extension() {
        let idx = index(vec![version(
            1,
            "1.0-SNAPSHOT",
            vec![
                file("app-1.0-20261201.120000-1.jar", 1),
                file("app-1.0-20261201.120000-1.pom", 1),
                file("app-1.0-20261201.120000-1-sources.jar", 1),
                file("app-1.0-20261201.120500-2.jar", 5),
                file("app-1.0-20261201.120500-2.pom", 5),
                file("app-1.0-20261201.120500-2.jar.sha1", 5),
            ],
        )]);
        let xml = String::from_utf8(
            render_snapshot(&idx, &coords(), "1.0-SNAPSHOT")
                .expect("render")
                .to_vec(),
        )
        .expect("utf-8");
        assert!(
            xml.contains("<timestamp>20261201.120500</timestamp>"),
            "{xml}"
        );
        assert!(xml.contains("<buildNumber>2</buildNumber>"), "{xml}");
        assert!(xml.contains("<value>1.0-20261201.120500-2</value>"));
        // Build 1's sources are still the newest sources.
        assert!(xml.contains("<classifier>sources</classifier>"));
        assert!(xml.contains("<value>1.0-20261201.120000-1</value>"));
        assert_eq!(xml.matches("<snapshotVersion>").count(), 3, "{xml}");
        assert!(!xml.contains("jar.sha1"));
    }

    #[test]
    fn snapshot_file_names() {
        assert_eq!(
            snapshot_file(
                "app",
                "1.0-SNAPSHOT",
                "app-1.0-20261201.120000-12-tests.jar.asc"
            ),
            Some(SnapshotFile {
                build: Some(("20261201.120000".into(), 12)),
                classifier: Some("tests".into()),
                extension: "jar.asc".into(),
            })
        );
        assert_eq!(
            snapshot_file("app", "1.0-SNAPSHOT", "app-1.0-SNAPSHOT.pom"),
            Some(SnapshotFile {
                build: None,
                classifier: None,
                extension: "pom".into(),
            })
        );
        assert_eq!(
            snapshot_file("app", "1.0-SNAPSHOT", "other-1.0-SNAPSHOT.pom"),
            None
        );
        assert_eq!(snapshot_file("app", "1.0", "app-1.0.pom"), None);
        assert_eq!(
            snapshot_file("app", "1.0-SNAPSHOT", "app-1.0-2026.1-1.jar"),
            None
        );
    }

    #[test]
    fn uploaded_metadata_is_checked_for_sanity() {
        let ok = b"<?xml version=\"1.0\"?><metadata><groupId>com.example</groupId><artifactId>app</artifactId><versioning/></metadata>";
        assert!(check_uploaded(ok, Some(&coords())).is_ok());
        let other = b"<metadata><groupId>org.evil</groupId><artifactId>app</artifactId></metadata>";
        assert!(check_uploaded(other, Some(&coords())).is_err());
        assert!(
            check_uploaded(b"<!DOCTYPE metadata [<!ENTITY x \"y\">]><metadata/>", None).is_err()
        );
        assert!(check_uploaded(b"<project/>", None).is_err());
        assert!(
            check_uploaded(b"<metadata><a>", None).is_err() || check_uploaded(b"", None).is_err()
        );
    }
}
