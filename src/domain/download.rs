//! Downloads: permission, the file's blob as a stream, download counting; and file deletion.
use std::ops::Range;

use entity::{blob, package_file};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set,
    TransactionTrait,
};

use crate::{
    auth::{Actor, policy::Action},
    domain::{
        Domain, audit,
        names::{FileName, VersionName},
        now,
        packages::{PackageRef, file_info, live_version},
        rules::rules,
        views::{FileInfo, PackageInfo, VersionInfo},
    },
    error::{DomainError, DomainResult, What},
    storage::{BlobRead, DigestSet, Digests},
};

/// A byte range as HTTP asks for it, resolved against the size once it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-` and `bytes=a-b` (inclusive end).
    From { start: u64, end: Option<u64> },
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
}

impl ByteRange {
    /// Parses a single-range `Range` header value; `None` for anything else (then the whole
    /// file is served, as RFC 9110 allows).
    pub fn parse(header: &str) -> Option<Self> {
        let spec = header.trim().strip_prefix("bytes=")?;
        if spec.contains(',') {
            return None;
        }
        let (a, b) = spec.split_once('-')?;
        let (a, b) = (a.trim(), b.trim());
        if a.is_empty() {
            return b.parse().ok().map(Self::Suffix);
        }
        let start = a.parse().ok()?;
        let end = if b.is_empty() {
            None
        } else {
            Some(b.parse().ok()?)
        };
        if end.is_some_and(|e| e < start) {
            return None;
        }
        Some(Self::From { start, end })
    }

    /// The half-open range to serve, or `None` when it can't be satisfied.
    pub fn resolve(self, size: u64) -> Option<Range<u64>> {
        match self {
            Self::From { start, .. } if start >= size => None,
            // `bytes=0-18446744073709551615` asks for everything: the end saturates.
            Self::From { start, end } => {
                Some(start..end.map_or(size, |e| e.saturating_add(1).min(size)))
            }
            Self::Suffix(0) => None,
            Self::Suffix(n) => Some(size.saturating_sub(n)..size),
        }
    }
}

/// A file being downloaded.
pub struct FileDownload {
    pub package: PackageInfo,
    pub version: VersionInfo,
    pub file: FileInfo,
    pub read: BlobRead,
}

/// A yanked version's files are gone for formats whose rule says so (RubyGems); the
/// version itself still shows, flagged.
fn downloadable(r: &PackageRef, v: &VersionInfo) -> DomainResult<()> {
    if v.yanked && !rules(r.package_type).yanked_downloadable {
        return Err(DomainError::not_found(
            What::Version,
            format!("version {} (yanked)", v.version),
        ));
    }
    Ok(())
}

impl Domain {
    /// Metadata of one file of a live version the actor may read (HEAD).
    pub async fn stat_file(
        &self,
        actor: &Actor,
        r: &PackageRef,
        version: &VersionName,
        name: &FileName,
    ) -> DomainResult<(PackageInfo, VersionInfo, FileInfo)> {
        let pkg = self.find_package(actor, r).await?;
        if let Some((v, f)) = self.cache.file(pkg.id, version.as_str(), name.as_str()) {
            downloadable(r, &v)?;
            return Ok((pkg, v, f));
        }
        let started = std::time::Instant::now();
        let (pkg, v) = self.find_version(actor, r, version).await?;
        downloadable(r, &v)?;
        let f = package_file::Entity::find()
            .filter(package_file::Column::VersionId.eq(v.id))
            .filter(package_file::Column::Name.eq(name.as_str()))
            .one(&self.db)
            .await?
            .ok_or_else(|| DomainError::not_found(What::File, format!("file {name}")))?;
        let b = blob::Entity::find_by_id(f.blob_digest.clone())
            .one(&self.db)
            .await?;
        let file = file_info(f, b.as_ref());
        if pkg.visibility == crate::domain::Visibility::Public {
            self.cache.put_file(pkg.id, started, &v, &file);
        }
        Ok((pkg, v, file))
    }

    /// Opens a file for download and counts it (a lead file, read from its start).
    pub async fn open_file(
        &self,
        actor: &Actor,
        r: &PackageRef,
        version: &VersionName,
        name: &FileName,
        range: Option<ByteRange>,
    ) -> DomainResult<FileDownload> {
        let (package, version, file) = self.stat_file(actor, r, version, name).await?;
        let size = file.size as u64;
        let byte_range = match range {
            Some(r) => Some(
                r.resolve(size)
                    .ok_or(DomainError::RangeNotSatisfiable { size })?,
            ),
            None => None,
        };
        let read = self.blobs.open(&file.sha256, byte_range.clone()).await?;
        if file.lead && byte_range.is_none_or(|r| r.start == 0) {
            self.downloads.count(package.id, version.id);
        }
        Ok(FileDownload {
            package,
            version,
            file,
            read,
        })
    }

    /// The digests of a stored blob, computing (once) and recording any not known yet.
    pub async fn blob_digests(&self, sha256_hex: &str, want: DigestSet) -> DomainResult<Digests> {
        let digest = format!("sha256:{sha256_hex}");
        let row = blob::Entity::find_by_id(digest)
            .one(&self.db)
            .await?
            .ok_or_else(|| DomainError::not_found(What::Blob, "blob"))?;
        let missing = (want.md5 && row.md5.is_none())
            || (want.sha1 && row.sha1.is_none())
            || (want.sha512 && row.sha512.is_none());
        if !missing {
            return Ok(Digests {
                sha256: sha256_hex.to_string(),
                md5: row.md5,
                sha1: row.sha1,
                sha512: row.sha512,
            });
        }
        let computed = self.blobs.compute_digests(sha256_hex, want).await?;
        let mut active = row.clone().into_active_model();
        active.md5 = Set(row.md5.or(computed.md5.clone()));
        active.sha1 = Set(row.sha1.or(computed.sha1.clone()));
        active.sha512 = Set(row.sha512.or(computed.sha512.clone()));
        let row = active.update(&self.db).await?;
        Ok(Digests {
            sha256: sha256_hex.to_string(),
            md5: row.md5,
            sha1: row.sha1,
            sha512: row.sha512,
        })
    }

    /// Deletes one file of a version (generic packages). The version goes when its last file
    /// does, and the package when its last version does (restorable like any deletion).
    pub async fn delete_file(
        &self,
        actor: &Actor,
        r: &PackageRef,
        version: &VersionName,
        name: &FileName,
    ) -> DomainResult<()> {
        let (pkg, owner) = self.live_package(actor, r).await?;
        self.authorize_package(actor, Action::Delete, &pkg, &owner)
            .await?;
        let v = live_version(&self.db, pkg.id, version.as_str())
            .await?
            .ok_or_else(|| DomainError::not_found(What::Version, format!("version {version}")))?;
        let remaining = package_file::Entity::find()
            .filter(package_file::Column::VersionId.eq(v.id))
            .count(&self.db)
            .await?;
        let file = package_file::Entity::find()
            .filter(package_file::Column::VersionId.eq(v.id))
            .filter(package_file::Column::Name.eq(name.as_str()))
            .one(&self.db)
            .await?
            .ok_or_else(|| DomainError::not_found(What::File, format!("file {name}")))?;
        if remaining <= 1 {
            // The last file: delete the version instead, so it can be restored with its file.
            self.delete_version(
                actor,
                v.id,
                crate::domain::packages::LastVersion::DeletesPackage,
            )
            .await?;
            return Ok(());
        }
        let txn = self.db.begin().await?;
        package_file::Entity::delete_by_id(file.id)
            .exec(&txn)
            .await?;
        let mut active = v.into_active_model();
        active.updated_at = Set(now());
        active.update(&txn).await?;
        audit::record(
            &txn,
            actor,
            "package_file.delete",
            "package_file",
            Some(file.id),
            serde_json::json!({"name": file.name}),
        )
        .await?;
        txn.commit().await?;
        self.cache.invalidate(pkg.id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::ByteRange;

    #[test]
    fn ranges() {
        assert_eq!(
            ByteRange::parse("bytes=0-99"),
            Some(ByteRange::From {
                start: 0,
                end: Some(99)
            })
        );
        assert_eq!(
            ByteRange::parse("bytes=5-"),
            Some(ByteRange::From {
                start: 5,
                end: None
            })
        );
        assert_eq!(ByteRange::parse("bytes=-10"), Some(ByteRange::Suffix(10)));
        assert_eq!(ByteRange::parse("bytes=5-1"), None);
        assert_eq!(ByteRange::parse("bytes=0-1,4-5"), None);
        assert_eq!(ByteRange::parse("items=0-1"), None);
        assert_eq!(
            ByteRange::From {
                start: 0,
                end: Some(99)
            }
            .resolve(50),
            Some(0..50)
        );
        assert_eq!(
            ByteRange::From {
                start: 50,
                end: None
            }
            .resolve(50),
            None
        );
        assert_eq!(ByteRange::Suffix(10).resolve(50), Some(40..50));
        let everything = ByteRange::parse("bytes=0-18446744073709551615").expect("a range");
        assert_eq!(everything.resolve(50), Some(0..50));
        assert_eq!(ByteRange::Suffix(100).resolve(50), Some(0..50));
        assert_eq!(
            ByteRange::From {
                start: 10,
                end: Some(19)
            }
            .resolve(50),
            Some(10..20)
        );
    }
}
