//! Maven's repository-scoped services: a Maven package lives in the repository its URL
//! names (`/maven/OWNER/REPOSITORY/...`), takes its visibility and inherits its access.
//! Every read and deploy goes through the repository here, then through the generic
//! services (`publish`, `open_file`, `file_checksum`, `package_index`).
use std::sync::Arc;

use bytes::Bytes;
use entity::{package, package_file, package_version};
use futures::TryStreamExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    auth::{Actor, policy},
    domain::{
        Domain,
        accounts::parse_repository_name,
        cache::Document,
        download::{ByteRange, ChecksumKind, FileDownload},
        index::PackageIndex,
        metadata::VersionMetadata,
        names::{FileName, OwnerName, VersionName},
        packages::PackageRef,
        publish::{PublishRequest, Published, RepositoryScope},
        types::PackageType,
        views::{FileInfo, PackageInfo, RepositoryInfo, VersionInfo},
    },
    error::{DomainError, DomainResult, What},
};

/// A repository as a URL names it: owner and name, validated before any I/O.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepositoryRef {
    pub owner: OwnerName,
    pub name: String,
}

impl RepositoryRef {
    pub fn parse(owner: &str, name: &str) -> DomainResult<Self> {
        Ok(Self {
            owner: OwnerName::parse(owner)?,
            name: parse_repository_name(name)?,
        })
    }
}

impl std::fmt::Display for RepositoryRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Repository names by id: what the read gate compares a URL's repository with, on every
/// read. Repositories are never renamed (no mutation renames one), so entries never go
/// stale; the bound keeps the map small.
pub(crate) struct RepositoryNames(moka::sync::Cache<i64, String>);

impl Default for RepositoryNames {
    fn default() -> Self {
        Self(moka::sync::Cache::new(10_000))
    }
}

/// A plugin of a groupId in a repository, for the group-level `maven-metadata.xml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginInfo {
    pub artifact_id: String,
    /// What its jar's descriptor declares; `None` when it declares none (the door then
    /// derives Maven's default from the artifactId).
    pub prefix: Option<String>,
    pub name: Option<String>,
}

/// Largest checksum file kept (a hex digest and maybe a file name).
const CHECKSUM_FILE_MAX: usize = 1024;

impl Domain {
    /// The repository a deploy names, if the actor may see it; a repository it may not see
    /// answers as a missing one (`What::Repository`).
    async fn deploy_repository(
        &self,
        actor: &Actor,
        repo: &RepositoryRef,
    ) -> DomainResult<RepositoryInfo> {
        let missing = || DomainError::not_found(What::Repository, format!("repository {repo}"));
        if actor.is_anonymous() {
            return Err(DomainError::Unauthenticated(
                "authentication required".into(),
            ));
        }
        let found = match self.find_repository(&repo.owner, &repo.name).await {
            Ok(found) => found,
            Err(DomainError::NotFound { .. }) => return Err(missing()),
            Err(e) => return Err(e),
        };
        if !self.can_see_repository(actor, &found).await? {
            return Err(missing());
        }
        Ok(found)
    }

    /// Checks that `actor` may deploy `r` into `repo` (write on the package there, or on
    /// the repository for a new one) before a byte is stored. `deploy` checks again.
    pub async fn authorize_deploy(
        &self,
        actor: &Actor,
        repo: &RepositoryRef,
        r: &PackageRef,
    ) -> DomainResult<()> {
        let repository = self.deploy_repository(actor, repo).await?;
        let owner = self.account_model(&r.owner).await?;
        let existing = self.package_model(r).await?.map(|(p, _)| p);
        let scope = RepositoryScope {
            repository,
            update_metadata: false,
        };
        self.authorize_publish_to(actor, r, &owner, existing.as_ref(), Some(&scope))
            .await
            .map(|_| ())
    }

    /// Publishes files of a version into `repo`; with `update_metadata` the request's
    /// metadata (a POM's, a plugin jar's prefix) is merged into an existing version's.
    pub async fn deploy(
        &self,
        actor: &Actor,
        repo: &RepositoryRef,
        req: PublishRequest,
        update_metadata: bool,
    ) -> DomainResult<Published> {
        let repository = self.deploy_repository(actor, repo).await?;
        self.publish_scoped(
            actor,
            req,
            Some(RepositoryScope {
                repository,
                update_metadata,
            }),
        )
        .await
    }

    /// The package `r` as the actor may read it, if it lives in `repo`; a package of
    /// another repository answers as a missing one.
    pub async fn repository_package(
        &self,
        actor: &Actor,
        repo: &RepositoryRef,
        r: &PackageRef,
    ) -> DomainResult<PackageInfo> {
        let pkg = self.find_package(actor, r).await?;
        let name = match pkg.repository_id {
            Some(id) => match self.repository_names.0.get(&id) {
                Some(name) => Some(name),
                None => match self.repository_by_id(id).await {
                    Ok(found) => {
                        self.repository_names.0.insert(id, found.name.clone());
                        Some(found.name)
                    }
                    Err(_) => None,
                },
            },
            None => None,
        };
        let here = name.is_some_and(|n| n.eq_ignore_ascii_case(&repo.name));
        if !here {
            return Err(policy::unknown(
                actor,
                What::Package,
                format!("package {}/{} in repository {repo}", r.owner, r.name),
            ));
        }
        Ok(pkg)
    }

    /// `stat_file` of a file of a package in `repo` (HEAD: no download counted).
    pub async fn stat_repository_file(
        &self,
        actor: &Actor,
        repo: &RepositoryRef,
        r: &PackageRef,
        version: &VersionName,
        file: &FileName,
    ) -> DomainResult<(PackageInfo, VersionInfo, FileInfo)> {
        self.repository_package(actor, repo, r).await?;
        self.stat_file(actor, r, version, file).await
    }

    /// `open_file` of a file of a package in `repo` (counts the main artifact).
    pub async fn open_repository_file(
        &self,
        actor: &Actor,
        repo: &RepositoryRef,
        r: &PackageRef,
        version: &VersionName,
        file: &FileName,
        range: Option<ByteRange>,
    ) -> DomainResult<FileDownload> {
        self.repository_package(actor, repo, r).await?;
        self.open_file(actor, r, version, file, range).await
    }

    /// `file_checksum` of a file of a package in `repo`, from its stored digests.
    pub async fn repository_file_checksum(
        &self,
        actor: &Actor,
        repo: &RepositoryRef,
        r: &PackageRef,
        version: &VersionName,
        file: &FileName,
        kind: ChecksumKind,
    ) -> DomainResult<String> {
        self.repository_package(actor, repo, r).await?;
        self.file_checksum(actor, r, version, file, kind).await
    }

    /// `package_index` of a package in `repo`.
    pub async fn repository_package_index(
        &self,
        actor: &Actor,
        repo: &RepositoryRef,
        r: &PackageRef,
    ) -> DomainResult<Arc<PackageIndex>> {
        self.repository_package(actor, repo, r).await?;
        self.package_index(actor, r).await
    }

    /// The checksums uploaded for `file` before it (kept as files `{file}.{kind}`), as
    /// the hex text they hold, for the file's upload to be verified against. Only for a
    /// deployer (`authorize_deploy` first); nothing when the version doesn't exist yet.
    pub async fn kept_checksums(
        &self,
        r: &PackageRef,
        version: &VersionName,
        file: &FileName,
    ) -> DomainResult<Vec<(ChecksumKind, String)>> {
        let Some((pkg, _)) = self.package_model(r).await? else {
            return Ok(Vec::new());
        };
        let Some(v) =
            crate::domain::packages::live_version(&self.db, pkg.id, version.as_str()).await?
        else {
            return Ok(Vec::new());
        };
        let kinds = [
            ChecksumKind::Md5,
            ChecksumKind::Sha1,
            ChecksumKind::Sha256,
            ChecksumKind::Sha512,
        ];
        let names: Vec<String> = kinds.iter().map(|k| format!("{file}.{k}")).collect();
        let rows = package_file::Entity::find()
            .filter(package_file::Column::VersionId.eq(v.id))
            .filter(package_file::Column::Name.is_in(names.clone()))
            .all(&self.db)
            .await?;
        let mut out = Vec::new();
        for row in rows {
            let Some(kind) = names
                .iter()
                .position(|n| *n == row.name)
                .map(|at| kinds[at])
            else {
                continue;
            };
            if row.size as usize > CHECKSUM_FILE_MAX {
                continue;
            }
            let read = self
                .blobs
                .open(row.blob_digest.trim_start_matches("sha256:"), None)
                .await?;
            let chunks: Vec<Bytes> = read.stream.try_collect().await?;
            let text = String::from_utf8_lossy(&chunks.concat()).into_owned();
            out.push((kind, text));
        }
        Ok(out)
    }

    /// `package_document` of a package in `repo`.
    pub async fn repository_package_document<F>(
        &self,
        actor: &Actor,
        repo: &RepositoryRef,
        r: &PackageRef,
        kind: &'static str,
        render: F,
    ) -> DomainResult<Document>
    where
        F: FnOnce(&PackageIndex) -> DomainResult<Bytes>,
    {
        self.repository_package(actor, repo, r).await?;
        self.package_document(actor, r, kind, render).await
    }

    /// The plugins of `group` in `repo` the actor may read, each with the goal prefix its
    /// newest plugin version's jar declares, by artifactId. None answers like a package
    /// the caller may not know of (401 for anonymous callers, else not found).
    pub async fn repository_plugins(
        &self,
        actor: &Actor,
        repo: &RepositoryRef,
        group: &str,
    ) -> DomainResult<Vec<PluginInfo>> {
        let plugins = self.plugins_of_group(actor, repo, group).await?;
        if plugins.is_empty() {
            return Err(policy::unknown(
                actor,
                What::Package,
                format!("plugins of {group} in repository {repo}"),
            ));
        }
        Ok(plugins)
    }

    async fn plugins_of_group(
        &self,
        actor: &Actor,
        repo: &RepositoryRef,
        group: &str,
    ) -> DomainResult<Vec<PluginInfo>> {
        if group.is_empty() {
            return Ok(Vec::new());
        }
        let Ok(repository) = self.find_repository(&repo.owner, &repo.name).await else {
            return Ok(Vec::new());
        };
        let prefix = format!("{group}:");
        let packages = package::Entity::find()
            .filter(package::Column::RepositoryId.eq(repository.id))
            .filter(package::Column::Format.eq(PackageType::Maven.as_str()))
            .filter(package::Column::DeletedAt.is_null())
            .filter(package::Column::Name.starts_with(&prefix))
            .order_by_asc(package::Column::Name)
            .all(&self.db)
            .await?;
        let mut plugins = Vec::new();
        for pkg in packages {
            let Some(artifact_id) = pkg.name.strip_prefix(&prefix).map(str::to_string) else {
                continue;
            };
            let r = PackageRef {
                owner: repo.owner.clone(),
                package_type: PackageType::Maven,
                name: crate::domain::names::PackageName::parse(&pkg.name)?,
            };
            if self.find_package(actor, &r).await.is_err() {
                continue;
            }
            let versions = package_version::Entity::find()
                .filter(package_version::Column::PackageId.eq(pkg.id))
                .filter(package_version::Column::DeletedAt.is_null())
                .order_by_desc(package_version::Column::Id)
                .all(&self.db)
                .await?;
            let found =
                versions
                    .into_iter()
                    .find_map(|v| match VersionMetadata::from_stored(v.metadata) {
                        VersionMetadata::Maven(m)
                            if m.plugin_prefix.is_some()
                                || m.packaging.as_deref() == Some("maven-plugin") =>
                        {
                            Some((m.plugin_prefix, m.name))
                        }
                        _ => None,
                    });
            if let Some((prefix, name)) = found {
                plugins.push(PluginInfo {
                    artifact_id,
                    prefix,
                    name,
                });
            }
        }
        Ok(plugins)
    }
}

/// Whether `file` is a version's main artifact, the one a client of it downloads:
/// `{artifactId}-{version}.{ext}` without a classifier (a SNAPSHOT's timestamped
/// `{artifactId}-{base}-{yyyyMMdd.HHmmss}-{build}.{ext}` too), not its POM (which counts
/// only for `pom` packaging, by the version's metadata), signatures, checksums or Gradle
/// module metadata.
pub fn is_main_artifact(version: &str, file: &str) -> bool {
    let Some((stem, ext)) = file.rsplit_once('.') else {
        return false;
    };
    if matches!(
        ext,
        "pom" | "md5" | "sha1" | "sha256" | "sha512" | "asc" | "module" | "xml"
    ) {
        return false;
    }
    let stem = stem.strip_suffix(".tar").unwrap_or(stem);
    if stem.ends_with(&format!("-{version}")) {
        return true;
    }
    let Some(base) = version.strip_suffix("-SNAPSHOT") else {
        return false;
    };
    let Some(at) = stem.rfind(&format!("-{base}-")) else {
        return false;
    };
    is_snapshot_stamp(&stem[at + base.len() + 2..])
}

/// `yyyyMMdd.HHmmss-N`, a SNAPSHOT build's stamp in its file names.
pub fn is_snapshot_stamp(s: &str) -> bool {
    let Some((stamp, build)) = s.split_once('-') else {
        return false;
    };
    let Some((day, time)) = stamp.split_once('.') else {
        return false;
    };
    day.len() == 8
        && time.len() == 6
        && day.bytes().chain(time.bytes()).all(|b| b.is_ascii_digit())
        && !build.is_empty()
        && build.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_artifact_is_the_file_without_classifier() {
        assert!(is_main_artifact("1.0", "app-1.0.jar"));
        assert!(is_main_artifact("1.0", "app-1.0.war"));
        assert!(is_main_artifact("1.0", "app-1.0.tar.gz"));
        assert!(is_main_artifact("1.0-SNAPSHOT", "app-1.0-SNAPSHOT.jar"));
        assert!(is_main_artifact(
            "1.0-SNAPSHOT",
            "app-1.0-20261201.123456-2.jar"
        ));
        for not in [
            "app-1.0-sources.jar",
            "app-1.0-javadoc.jar",
            "app-1.0.pom",
            "app-1.0.jar.sha1",
            "app-1.0.jar.asc",
            "app-1.0.module",
            "maven-metadata.xml",
        ] {
            assert!(!is_main_artifact("1.0", not), "{not}");
        }
        assert!(!is_main_artifact(
            "1.0-SNAPSHOT",
            "app-1.0-20261201.123456-2-sources.jar"
        ));
        assert!(!is_main_artifact("1.0-SNAPSHOT", "app-1.0-2026.1-2.jar"));
    }

    #[test]
    fn repository_refs_are_validated() {
        assert!(RepositoryRef::parse("alice", "app.repo_1-x").is_ok());
        for (o, n) in [
            ("alice", ".."),
            ("alice", "a/b"),
            ("-x", "r"),
            ("alice", ""),
        ] {
            assert!(RepositoryRef::parse(o, n).is_err(), "{o}/{n}");
        }
    }
}
