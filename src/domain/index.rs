//! A package's index: what every index-serving door renders (npm packuments; Maven
//! metadata, RubyGems compact index, NuGet registrations next) from one authorized read,
//! cached as the documents rendered from it are.
use std::{sync::Arc, time::Instant};

use bytes::Bytes;
use entity::package_version;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    auth::Actor,
    domain::{
        Domain,
        cache::Document,
        packages::{PackageRef, version_info},
        types::Visibility,
        views::{FileInfo, PackageInfo, TagInfo, VersionInfo},
    },
    error::DomainResult,
};

/// Everything an index-serving door renders, read at one moment. Shared between readers
/// through the cache, so `package.viewer_role` is never set.
#[derive(Clone, Debug)]
pub struct PackageIndex {
    pub package: PackageInfo,
    /// Live versions, oldest first, yanked ones included (flagged on the version) for the
    /// formats that list them; [`PackageIndex::listed`] skips them.
    pub versions: Vec<IndexedVersion>,
    /// By name.
    pub tags: Vec<TagInfo>,
}

/// A live version and its files (oldest first, with their digests).
#[derive(Clone, Debug)]
pub struct IndexedVersion {
    pub version: VersionInfo,
    pub files: Vec<FileInfo>,
}

impl PackageIndex {
    /// The versions an index lists: live and not yanked.
    pub fn listed(&self) -> impl Iterator<Item = &IndexedVersion> {
        self.versions.iter().filter(|v| !v.version.yanked)
    }

    pub fn version(&self, id: i64) -> Option<&IndexedVersion> {
        self.versions.iter().find(|v| v.version.id == id)
    }

    pub fn tag(&self, name: &str) -> Option<&TagInfo> {
        self.tags.iter().find(|t| t.name == name)
    }

    /// Roughly the bytes this index holds, for the cache's bound. Metadata is measured as
    /// its JSON text is long, which is close enough and costs one walk per cache fill.
    pub(crate) fn weight(&self) -> usize {
        const ROW: usize = 128;
        let versions: usize = self
            .versions
            .iter()
            .map(|v| {
                let version = &v.version;
                ROW + version.version.len()
                    + json_length(&version.metadata)
                    + version.summary.as_ref().map_or(0, String::len)
                    + version.readme.as_ref().map_or(0, String::len)
                    + version.license.as_ref().map_or(0, String::len)
                    + v.files
                        .iter()
                        .map(|f| ROW + f.name.len() + f.content_type.len() + 256)
                        .sum::<usize>()
            })
            .sum();
        let tags: usize = self
            .tags
            .iter()
            .map(|t| ROW + t.name.len() + t.version.len())
            .sum();
        ROW + self.package.name.len() + self.package.owner_login.len() + versions + tags
    }
}

/// The length of `value`'s JSON text, counted without building it.
fn json_length(value: &impl serde::Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Serializing typed metadata into a counter can't fail; an error would only undercount.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

impl Domain {
    /// The index of a live package the actor may read: one authorization, then versions,
    /// files (with blob digests) and tags in a constant number of queries whatever the
    /// version count. Public packages' indexes come from the read cache while unchanged.
    pub async fn package_index(
        &self,
        actor: &Actor,
        r: &PackageRef,
    ) -> DomainResult<Arc<PackageIndex>> {
        // Taken before the package is read: a change after it keeps the index uncached.
        let started = Instant::now();
        let package = self.find_package(actor, r).await?;
        self.index_of(package, started).await
    }

    /// A document rendered from a package's index (a packument, an index page), served
    /// from the read cache while the package is public and unchanged. `kind` names the
    /// rendering (one per door and variant); `render` is a pure function of the index.
    pub async fn package_document<F>(
        &self,
        actor: &Actor,
        r: &PackageRef,
        kind: &'static str,
        render: F,
    ) -> DomainResult<Document>
    where
        F: FnOnce(&PackageIndex) -> DomainResult<Bytes>,
    {
        let started = Instant::now();
        let package = self.find_package(actor, r).await?;
        let public = package.visibility == Visibility::Public;
        if public && let Some(hit) = self.cache.document(package.id, kind) {
            return Ok(hit);
        }
        let id = package.id;
        let index = self.index_of(package, started).await?;
        let body = render(&index)?;
        let etag = format!("\"{}\"", &crate::storage::hex_sha256(&body)[..32]);
        let document = Document { body, etag };
        if public {
            self.cache.put_document(id, kind, started, &document);
        }
        Ok(document)
    }

    /// The index of a package already authorized for reading; `started` is when the read
    /// of `package` began.
    async fn index_of(
        &self,
        mut package: PackageInfo,
        started: Instant,
    ) -> DomainResult<Arc<PackageIndex>> {
        let public = package.visibility == Visibility::Public;
        if public && let Some(hit) = self.cache.index(package.id) {
            return Ok(hit);
        }
        let versions: Vec<VersionInfo> = package_version::Entity::find()
            .filter(package_version::Column::PackageId.eq(package.id))
            .filter(package_version::Column::DeletedAt.is_null())
            .order_by_asc(package_version::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(version_info)
            .collect();
        let ids: Vec<i64> = versions.iter().map(|v| v.id).collect();
        let mut files = self.files_of_versions(&ids).await?;
        let tags = self
            .tags_of_packages(&[package.id])
            .await?
            .remove(&package.id)
            .unwrap_or_default();
        package.viewer_role = None;
        let index = Arc::new(PackageIndex {
            package,
            versions: versions
                .into_iter()
                .map(|version| IndexedVersion {
                    files: files.remove(&version.id).unwrap_or_default(),
                    version,
                })
                .collect(),
            tags,
        });
        if public {
            self.cache.put_index(index.package.id, started, &index);
        }
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_length_grows_with_the_text() {
        let small = serde_json::json!({"a": "b"});
        let large = serde_json::json!({"a": "b".repeat(1000), "c": [1, 2, 3]});
        assert!(json_length(&small) < 64);
        assert!(json_length(&large) > 1000);
    }
}
