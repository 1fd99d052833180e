//! What the generic services decide per format, as data: one entry per `PackageType`.
//! A new format adds an entry here, never a branch in publish, packages or the URL code.
use std::borrow::Cow;

use crate::{
    config::Limits,
    domain::{names::VersionName, publish::OnExisting, types::PackageType},
};

/// One format's answers to the questions the generic services ask.
pub struct FormatRules {
    /// The format's name in messages ("Maven packages take ...").
    pub label: &'static str,
    /// The identity of a name: two names with one key are the same package. Lookups go by
    /// the key (`package.name_key`); the name is shown as first published.
    pub name_key: fn(&str) -> Cow<'_, str>,
    /// What a publish of an existing version does.
    pub on_existing: fn(&VersionName) -> OnExisting,
    /// Which tag, if any, must always point at a live version.
    pub latest: LatestRule,
    /// Whether visibility and repository link follow the linked repository and can't be
    /// changed on the package (Maven: a repository is the unit of deployment).
    pub repository_scoped: bool,
    /// Whether a version naming a subject is indexed for the referrers API.
    pub indexes_referrers: bool,
    /// The URL the format's door serves a file at (GraphQL `PackageFile.url`), if it has one.
    pub file_url: fn(&FileUrl<'_>) -> Option<String>,
    /// Whether a yanked version's files stay downloadable by exact version (lockfiles
    /// that name it keep working: npm, NuGet, Cargo) or not (RubyGems).
    pub yanked_downloadable: bool,
    /// The largest file a publish of this format may store.
    pub max_file_bytes: fn(&Limits) -> u64,
    /// Whether downloading the file (by its name, in the version of that name) counts a
    /// download of the version: the artifact a client installs, not its metadata.
    pub lead_file: fn(version: &str, file: &str) -> bool,
    /// Whether a deleted version's name may be published again (npm: never — lockfiles pin
    /// a version's integrity, so its name means those bytes forever).
    pub reuses_deleted_versions: bool,
}

/// Which version a format calls "latest".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatestRule {
    /// A tag that must exist while the package has versions (npm's `latest`: clients
    /// resolve a bare install through it). When missing it is pointed at the highest live
    /// version that is not a prerelease, else the highest.
    Tag(&'static str),
    /// No tag is kept: the newest version is the latest.
    Newest,
}

/// What a file's URL is made of.
pub struct FileUrl<'a> {
    /// The public base URL, without a trailing slash.
    pub base: &'a str,
    pub owner: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    pub file: &'a str,
    pub sha256: &'a str,
    /// The repository the package belongs to, for formats whose URLs name it (Maven).
    pub repository: Option<&'a str>,
}

/// The rules of a package type.
pub fn rules(t: PackageType) -> &'static FormatRules {
    match t {
        PackageType::Generic => &GENERIC,
        PackageType::Container => &CONTAINER,
        PackageType::Npm => &NPM,
        PackageType::Maven => &MAVEN,
        PackageType::Rubygems => &RUBYGEMS,
        PackageType::Nuget => &NUGET,
    }
}

static GENERIC: FormatRules = FormatRules {
    label: "Generic",
    // A generic version collects files uploaded one by one.
    name_key: name_as_written,
    on_existing: |_| OnExisting::AddFiles,
    latest: LatestRule::Newest,
    repository_scoped: false,
    indexes_referrers: false,
    file_url: |u| {
        Some(format!(
            "{}/generic/{}/{}/{}/{}",
            u.base, u.owner, u.name, u.version, u.file
        ))
    },
    yanked_downloadable: true,
    max_file_bytes: |l| l.generic_file_bytes,
    // Every file of a generic version is something a script downloads on purpose.
    lead_file: |_, _| true,
    reuses_deleted_versions: true,
};

static CONTAINER: FormatRules = FormatRules {
    label: "Container",
    // A manifest pushed again (by digest, under another tag) replaces its own files.
    name_key: name_as_written,
    on_existing: |_| OnExisting::ReplaceFiles,
    latest: LatestRule::Newest,
    repository_scoped: false,
    indexes_referrers: true,
    file_url: |u| {
        Some(format!(
            "{}/v2/{}/{}/blobs/sha256:{}",
            u.base, u.owner, u.name, u.sha256
        ))
    },
    yanked_downloadable: true,
    max_file_bytes: |l| l.container_blob_bytes,
    // A pull is a GET of the manifest (named by its digest, the version's name); layers
    // and configs are shared between images and don't count.
    lead_file: |version, file| version == file,
    reuses_deleted_versions: true,
};

static NPM: FormatRules = FormatRules {
    label: "npm",
    // Lockfiles pin a version's integrity: a published version never changes.
    name_key: name_as_written,
    on_existing: |_| OnExisting::Refuse,
    latest: LatestRule::Tag("latest"),
    repository_scoped: false,
    indexes_referrers: false,
    file_url: |u| {
        Some(format!(
            "{}/npm/@{}/{}/-/{}",
            u.base, u.owner, u.name, u.file
        ))
    },
    yanked_downloadable: true,
    max_file_bytes: |l| l.npm_tarball_bytes,
    // A version has one file, its tarball.
    lead_file: |_, _| true,
    reuses_deleted_versions: false,
};

static MAVEN: FormatRules = FormatRules {
    label: "Maven",
    name_key: name_as_written,
    // A release is immutable: files may be added (signatures, classifiers), an existing
    // one is refused. A SNAPSHOT takes new builds and rewrites its non-unique files.
    on_existing: |v| {
        if v.as_str().ends_with("-SNAPSHOT") {
            OnExisting::ReplaceFiles
        } else {
            OnExisting::AddFiles
        }
    },
    latest: LatestRule::Newest,
    repository_scoped: true,
    indexes_referrers: false,
    file_url: |u| {
        let (group, artifact) = u.name.rsplit_once(':')?;
        Some(format!(
            "{}/maven/{}/{}/{}/{}/{}/{}",
            u.base,
            u.owner,
            u.repository?,
            group.replace('.', "/"),
            artifact,
            u.version,
            u.file
        ))
    },
    yanked_downloadable: true,
    max_file_bytes: |l| l.generic_file_bytes,
    // The main artifact (the POM too for `pom` packaging, by the version's metadata):
    // metadata, checksums, POMs of jars, sources and javadoc don't count.
    lead_file: crate::domain::maven::is_main_artifact,
    reuses_deleted_versions: true,
};

// RubyGems and NuGet have no door yet: their entries hold what the generic services
// already decide for them; their issues fill in the rest.
static RUBYGEMS: FormatRules = FormatRules {
    label: "RubyGems",
    name_key: name_as_written,
    // Each platform built for a version (`ruby`, `x86_64-linux`, `java`) is a file of it,
    // pushed on its own; a platform pushed again is the file's `AlreadyExists` (409).
    on_existing: |_| OnExisting::AddFiles,
    latest: LatestRule::Newest,
    repository_scoped: false,
    indexes_referrers: false,
    file_url: |u| Some(format!("{}/rubygems/{}/gems/{}", u.base, u.owner, u.file)),
    yanked_downloadable: false,
    max_file_bytes: |l| l.generic_file_bytes,
    lead_file: |_, _| true,
    reuses_deleted_versions: true,
};

static NUGET: FormatRules = FormatRules {
    label: "NuGet",
    // Ids are case-insensitive: `Tool.Core` and `tool.core` are one package, shown as first
    // pushed.
    name_key: |name| Cow::Owned(name.to_ascii_lowercase()),
    // A version gets its `.nupkg`, then maybe its `.snupkg` (symbols) in a second push; the
    // door refuses a second `.nupkg` (an existing file name is `AlreadyExists`, a 409).
    on_existing: |_| OnExisting::AddFiles,
    latest: LatestRule::Newest,
    repository_scoped: false,
    indexes_referrers: false,
    file_url: |u| {
        Some(format!(
            "{}/nuget/{}/v3/flatcontainer/{}/{}/{}",
            u.base,
            u.owner,
            u.name.to_ascii_lowercase(),
            u.version.to_ascii_lowercase(),
            u.file
        ))
    },
    yanked_downloadable: true,
    max_file_bytes: |l| l.generic_file_bytes,
    // The `.nupkg` is what a restore downloads; symbols and the `.nuspec` are not installs.
    lead_file: |_, file| file.ends_with(".nupkg"),
    // nuget.org never lets a deleted version's number be pushed again (lock files and
    // caches pin a version's bytes).
    reuses_deleted_versions: false,
};

/// The name key of formats whose names are case-sensitive: the name itself.
fn name_as_written(name: &str) -> Cow<'_, str> {
    Cow::Borrowed(name)
}

impl FormatRules {
    /// The key `name` is stored and looked up by.
    pub fn name_key<'a>(&self, name: &'a str) -> Cow<'a, str> {
        (self.name_key)(name)
    }

    /// The URL of a file, absolute from the public base URL.
    pub fn file_url(&self, url: &FileUrl<'_>) -> Option<String> {
        (self.file_url)(url)
    }
}

/// The version a `LatestRule::Tag` points at when it is missing: the highest live version
/// (by semver) that is not a prerelease, else the highest. Versions that aren't semver
/// are never picked.
pub fn highest_release<'a>(versions: impl IntoIterator<Item = (&'a str, i64)>) -> Option<i64> {
    versions
        .into_iter()
        .filter_map(|(v, id)| Some((semver::Version::parse(v).ok()?, id)))
        .max_by(|(a, _), (b, _)| (a.pre.is_empty(), a).cmp(&(b.pre.is_empty(), b)))
        .map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    use strum::VariantArray;

    use super::*;

    #[test]
    fn every_type_has_rules_and_urls_as_before() {
        let url = FileUrl {
            base: "https://pk.example",
            owner: "alice",
            name: "tool",
            version: "1.0.0",
            file: "tool-1.0.0.tgz",
            sha256: "ab12",
            repository: None,
        };
        let got = |t| rules(t).file_url(&url);
        assert_eq!(
            got(PackageType::Generic).as_deref(),
            Some("https://pk.example/generic/alice/tool/1.0.0/tool-1.0.0.tgz")
        );
        assert_eq!(
            got(PackageType::Npm).as_deref(),
            Some("https://pk.example/npm/@alice/tool/-/tool-1.0.0.tgz")
        );
        assert_eq!(
            got(PackageType::Container).as_deref(),
            Some("https://pk.example/v2/alice/tool/blobs/sha256:ab12")
        );
        assert_eq!(
            got(PackageType::Rubygems).as_deref(),
            Some("https://pk.example/rubygems/alice/gems/tool-1.0.0.tgz")
        );
        assert_eq!(
            got(PackageType::Nuget).as_deref(),
            Some("https://pk.example/nuget/alice/v3/flatcontainer/tool/1.0.0/tool-1.0.0.tgz")
        );
        let maven = rules(PackageType::Maven).file_url(&FileUrl {
            name: "com.example:app",
            file: "app-1.0.0.jar",
            repository: Some("libs"),
            ..url
        });
        assert_eq!(
            maven.as_deref(),
            Some("https://pk.example/maven/alice/libs/com/example/app/1.0.0/app-1.0.0.jar")
        );
        let snapshot = VersionName::parse("1.0-SNAPSHOT").expect("version");
        assert_eq!(
            (rules(PackageType::Maven).on_existing)(&snapshot),
            OnExisting::ReplaceFiles
        );
        assert_eq!(
            (rules(PackageType::Maven).on_existing)(&VersionName::parse("1.0").expect("v")),
            OnExisting::AddFiles
        );
        for t in PackageType::VARIANTS {
            assert!(!rules(*t).label.is_empty());
        }
        let v = VersionName::parse("1.0.0").expect("version");
        assert_eq!(
            (rules(PackageType::Npm).on_existing)(&v),
            OnExisting::Refuse
        );
        assert_eq!(
            (rules(PackageType::Generic).on_existing)(&v),
            OnExisting::AddFiles
        );
        assert_eq!(
            (rules(PackageType::Container).on_existing)(&v),
            OnExisting::ReplaceFiles
        );
        assert_eq!(rules(PackageType::Npm).latest, LatestRule::Tag("latest"));
        assert!(rules(PackageType::Maven).repository_scoped);
        assert!(rules(PackageType::Container).indexes_referrers);
        assert!(!rules(PackageType::Rubygems).yanked_downloadable);
        assert!(rules(PackageType::Nuget).yanked_downloadable);
        for t in PackageType::VARIANTS {
            let key = if *t == PackageType::Nuget {
                "tool.core"
            } else {
                "Tool.Core"
            };
            assert_eq!(rules(*t).name_key("Tool.Core"), key);
        }
    }

    #[test]
    fn lead_files_are_what_clients_install() {
        let manifest = "sha256:aa";
        let container = rules(PackageType::Container).lead_file;
        assert!(container(manifest, manifest), "a pull GETs the manifest");
        assert!(
            !container(manifest, "sha256:bb"),
            "layers are shared, not pulls"
        );
        assert!((rules(PackageType::Npm).lead_file)(
            "1.0.0",
            "tool-1.0.0.tgz"
        ));
        assert!((rules(PackageType::Generic).lead_file)(
            "1.0.0",
            "notes.txt"
        ));
    }

    #[test]
    fn highest_release_prefers_releases() {
        let pick = |vs: &[(&str, i64)]| highest_release(vs.iter().copied());
        assert_eq!(
            pick(&[("1.0.0", 1), ("2.0.0-rc.1", 2), ("1.2.0", 3)]),
            Some(3)
        );
        assert_eq!(pick(&[("1.0.0-a", 1), ("1.0.0-b", 2)]), Some(2));
        assert_eq!(pick(&[("10.0.0", 1), ("9.0.0", 2), ("latest", 3)]), Some(1));
        assert_eq!(pick(&[("nope", 1)]), None);
    }
}
