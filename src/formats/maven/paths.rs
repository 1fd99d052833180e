//! The Maven 2 repository layout under `/maven/{owner}/{repository}/{path}`, parsed into
//! validated coordinates before any I/O:
//!
//! - `{g/r/o/u/p}/{artifactId}/{version}/{file}[.md5|.sha1|.sha256|.sha512]`
//! - `{g/r/o/u/p}/{artifactId}/maven-metadata.xml[.checksum]` (artifact level), which is
//!   also the shape of group-level plugin metadata `{g/r/o/u/p}/maven-metadata.xml`: the
//!   path alone can't tell them apart, so both readings are kept and the repository's
//!   content decides
//! - `{g/r/o/u/p}/{artifactId}/{version}-SNAPSHOT/maven-metadata.xml[.checksum]`
use crate::{
    domain::{
        FileName, PackageName, PackageType, VersionName, download::ChecksumKind,
        maven::RepositoryRef, packages::PackageRef,
    },
    error::{DomainError, DomainResult},
    formats::kit::path::{PathGrammar, PathParams},
};

pub const METADATA: &str = "maven-metadata.xml";

/// A groupId and artifactId: the package `groupId:artifactId`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coordinates {
    pub group: String,
    pub artifact: String,
}

impl Coordinates {
    pub fn package(&self, repo: &RepositoryRef) -> DomainResult<PackageRef> {
        Ok(PackageRef {
            owner: repo.owner.clone(),
            package_type: PackageType::Maven,
            name: PackageName::parse(&format!("{}:{}", self.group, self.artifact))?,
        })
    }
}

/// What a path under a repository names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A file of a version, or (with `checksum`) the checksum of one.
    File {
        coords: Coordinates,
        version: VersionName,
        file: FileName,
        checksum: Option<ChecksumKind>,
    },
    /// `maven-metadata.xml` directly under a directory: an artifact's (when the last
    /// directory is an artifactId under a groupId) or a group's (its plugins).
    Metadata {
        artifact: Option<Coordinates>,
        group: String,
        checksum: Option<ChecksumKind>,
    },
    /// A SNAPSHOT version's `maven-metadata.xml`.
    SnapshotMetadata {
        coords: Coordinates,
        version: VersionName,
        checksum: Option<ChecksumKind>,
    },
}

/// A validated request path: the repository and the target in it.
#[derive(Clone, Debug)]
pub struct MavenPath {
    pub repository: RepositoryRef,
    pub target: Target,
}

impl PathGrammar for MavenPath {
    fn from_params(p: &PathParams) -> Result<Self, DomainError> {
        Ok(MavenPath {
            repository: RepositoryRef::parse(p.get("owner")?, p.get("repository")?)?,
            target: parse_target(p.get("path")?)?,
        })
    }
}

/// A path segment of a groupId: Maven's id characters, no dots (a groupId's dots are the
/// layout's slashes, so `a/b.c` would be a second spelling of `a.b.c`).
fn group_segment(s: &str) -> DomainResult<&str> {
    if s.is_empty() || s.contains('.') || !s.bytes().all(id_byte) {
        return Err(DomainError::invalid(format!(
            "invalid groupId segment {s:?}: use letters, digits, '_' or '-'"
        )));
    }
    Ok(s)
}

fn id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_-.".contains(&b)
}

/// An artifactId: Maven's `[A-Za-z0-9_\-.]+`, not `.`/`..`.
fn artifact_id(s: &str) -> DomainResult<&str> {
    if s.is_empty() || s == "." || s == ".." || !s.bytes().all(id_byte) {
        return Err(DomainError::invalid(format!(
            "invalid artifactId {s:?}: use letters, digits, '_', '-' or '.'"
        )));
    }
    Ok(s)
}

/// A Maven version as a path segment: printable, no characters that need escaping.
fn version(s: &str) -> DomainResult<VersionName> {
    let v = VersionName::parse(s)?;
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-+~".contains(&b))
    {
        return Err(DomainError::invalid(format!(
            "invalid version {s:?}: use letters, digits, '.', '_', '-', '+' or '~'"
        )));
    }
    Ok(v)
}

fn split_checksum(file: &str) -> (&str, Option<ChecksumKind>) {
    match file.rsplit_once('.') {
        Some((base, ext)) if !base.is_empty() => match ext.parse::<ChecksumKind>() {
            Ok(kind) => (base, Some(kind)),
            Err(_) => (file, None),
        },
        _ => (file, None),
    }
}

fn group_of(segments: &[&str]) -> DomainResult<String> {
    if segments.is_empty() {
        return Err(DomainError::invalid("a Maven path needs a groupId"));
    }
    let parts = segments
        .iter()
        .map(|s| group_segment(s))
        .collect::<DomainResult<Vec<_>>>()?;
    Ok(parts.join("."))
}

/// Parses the path under `/maven/{owner}/{repository}/`.
pub fn parse_target(path: &str) -> DomainResult<Target> {
    let segments: Vec<&str> = path.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(DomainError::invalid(format!(
            "invalid Maven path {path:?}: empty segment"
        )));
    }
    let (last, dirs) = segments
        .split_last()
        .ok_or_else(|| DomainError::invalid("empty Maven path"))?;
    let (base, checksum) = split_checksum(last);
    if base == METADATA {
        if let [group @ .., artifact, snapshot] = dirs
            && snapshot.ends_with("-SNAPSHOT")
            && !group.is_empty()
        {
            return Ok(Target::SnapshotMetadata {
                coords: Coordinates {
                    group: group_of(group)?,
                    artifact: artifact_id(artifact)?.to_string(),
                },
                version: version(snapshot)?,
                checksum,
            });
        }
        // As an artifact's: the last directory is the artifactId (which may hold dots);
        // as a group's: every directory is a group segment.
        let artifact = match dirs {
            [group @ .., artifact] if !group.is_empty() => {
                match (group_of(group), artifact_id(artifact)) {
                    (Ok(group), Ok(artifact)) => Some(Coordinates {
                        group,
                        artifact: artifact.to_string(),
                    }),
                    _ => None,
                }
            }
            _ => None,
        };
        let group = match group_of(dirs) {
            Ok(g) => g,
            Err(e) if artifact.is_none() => return Err(e),
            // Not a group path (an artifactId with dots): the artifact reading stands.
            Err(_) => String::new(),
        };
        return Ok(Target::Metadata {
            artifact,
            group,
            checksum,
        });
    }
    let [group @ .., artifact, ver] = dirs else {
        return Err(DomainError::invalid(format!(
            "invalid Maven path {path:?}: expected group/artifactId/version/file"
        )));
    };
    Ok(Target::File {
        coords: Coordinates {
            group: group_of(group)?,
            artifact: artifact_id(artifact)?.to_string(),
        },
        version: version(ver)?,
        file: FileName::parse(base)?,
        checksum,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coords(g: &str, a: &str) -> Coordinates {
        Coordinates {
            group: g.into(),
            artifact: a.into(),
        }
    }

    #[test]
    fn files_and_their_checksums() {
        assert_eq!(
            parse_target("com/example/app/1.0/app-1.0.jar").expect("valid"),
            Target::File {
                coords: coords("com.example", "app"),
                version: VersionName::parse("1.0").expect("v"),
                file: FileName::parse("app-1.0.jar").expect("f"),
                checksum: None,
            }
        );
        match parse_target("com/example/app/1.0/app-1.0.jar.sha512").expect("valid") {
            Target::File { file, checksum, .. } => {
                assert_eq!(file.as_str(), "app-1.0.jar");
                assert_eq!(checksum, Some(ChecksumKind::Sha512));
            }
            other => panic!("{other:?}"),
        }
        // A signature is a file; its checksum a checksum of it.
        match parse_target("g/a/1/a-1.jar.asc.md5").expect("valid") {
            Target::File { file, checksum, .. } => {
                assert_eq!(file.as_str(), "a-1.jar.asc");
                assert_eq!(checksum, Some(ChecksumKind::Md5));
            }
            other => panic!("{other:?}"),
        }
        // Artifact ids may hold dots; group segments may not.
        assert!(parse_target("org/x/jackson.core/2.0/jackson.core-2.0.jar").is_ok());
        assert!(parse_target("org/x.y/app/1/app-1.jar").is_err());
    }

    #[test]
    fn metadata_at_each_level() {
        assert_eq!(
            parse_target("com/example/app/maven-metadata.xml").expect("valid"),
            Target::Metadata {
                artifact: Some(coords("com.example", "app")),
                group: "com.example.app".into(),
                checksum: None,
            }
        );
        assert_eq!(
            parse_target("org/apache/maven/plugins/maven-metadata.xml.sha1").expect("valid"),
            Target::Metadata {
                artifact: Some(coords("org.apache.maven", "plugins")),
                group: "org.apache.maven.plugins".into(),
                checksum: Some(ChecksumKind::Sha1),
            }
        );
        // One segment: only a group.
        assert_eq!(
            parse_target("com/maven-metadata.xml").expect("valid"),
            Target::Metadata {
                artifact: None,
                group: "com".into(),
                checksum: None,
            }
        );
        // An artifactId with dots is no group.
        assert_eq!(
            parse_target("com/a.b/maven-metadata.xml").expect("valid"),
            Target::Metadata {
                artifact: Some(coords("com", "a.b")),
                group: String::new(),
                checksum: None,
            }
        );
        assert_eq!(
            parse_target("com/example/app/1.0-SNAPSHOT/maven-metadata.xml.md5").expect("valid"),
            Target::SnapshotMetadata {
                coords: coords("com.example", "app"),
                version: VersionName::parse("1.0-SNAPSHOT").expect("v"),
                checksum: Some(ChecksumKind::Md5),
            }
        );
    }

    #[test]
    fn hostile_paths_are_refused_before_any_io() {
        for bad in [
            "",
            "app-1.0.jar",
            "a/1.0/a-1.0.jar",
            "com//app/1.0/app-1.0.jar",
            "com/../app/1.0/app-1.0.jar",
            "com/example/../1.0/x.jar",
            "com/example/app/../app.jar",
            "com/example/app/1.0/..",
            "com/exa mple/app/1.0/app.jar",
            "com/example/app/1 0/app.jar",
            "com/example/app/1.0/",
            "com/example/app/1.0/a\u{202e}b.jar",
            "com/example/app/1%2F0/app.jar",
            "com/ex\\ample/app/1.0/app.jar",
            "../maven-metadata.xml",
            "maven-metadata.xml",
        ] {
            assert!(parse_target(bad).is_err(), "{bad:?} accepted");
        }
    }
}
