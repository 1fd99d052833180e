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

/// A byte range a client asked for (doors parse their own header grammar into it),
/// resolved against the size once it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-` and `bytes=a-b` (inclusive end).
    From { start: u64, end: Option<u64> },
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
}

impl ByteRange {
    /// The half-open range to serve, or `None` when it can't be satisfied.
    pub fn resolve(self, size: u64) -> Option<Range<u64>> {
        match self {
            Self::From { start, .. } if start >= size => None,
            // `bytes=500-0`: an end before the start is satisfied by no size.
            Self::From {
                start,
                end: Some(end),
            } if end < start => None,
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

/// A checksum a client can ask for next to a file (Maven's `.sha1`, `.md5`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::EnumString, strum::Display)]
#[strum(serialize_all = "lowercase")]
pub enum ChecksumKind {
    Md5,
    Sha1,
    Sha256,
    Sha512,
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
        let read = self.metered_read(&package, read).await?;
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

    /// The hex checksum of a stored file, authorized as a HEAD of it (no download counted).
    /// A digest not taken at upload is computed once from the blob and stored.
    pub async fn file_checksum(
        &self,
        actor: &Actor,
        r: &PackageRef,
        version: &VersionName,
        name: &FileName,
        kind: ChecksumKind,
    ) -> DomainResult<String> {
        let (pkg, _, file) = self.stat_file(actor, r, version, name).await?;
        let known = match kind {
            ChecksumKind::Md5 => file.md5,
            ChecksumKind::Sha1 => file.sha1,
            ChecksumKind::Sha256 => Some(file.sha256.clone()),
            ChecksumKind::Sha512 => file.sha512,
        };
        if let Some(hex) = known {
            return Ok(hex);
        }
        let want = DigestSet {
            md5: kind == ChecksumKind::Md5,
            sha1: kind == ChecksumKind::Sha1,
            sha512: kind == ChecksumKind::Sha512,
        };
        let digests = self.blob_digests(&file.sha256, want).await?;
        // The cached `FileInfo` has the digest missing; the next read picks it up.
        self.package_changed(pkg.id).await;
        let computed = match kind {
            ChecksumKind::Md5 => digests.md5,
            ChecksumKind::Sha1 => digests.sha1,
            ChecksumKind::Sha256 => Some(digests.sha256),
            ChecksumKind::Sha512 => digests.sha512,
        };
        computed.ok_or_else(|| DomainError::internal(format!("{kind} of a blob not computed")))
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
        self.emit_event(
            &txn,
            actor,
            crate::domain::events::EventKind::Updated,
            pkg.id,
            Some(file.version_id),
        )
        .await?;
        txn.commit().await?;
        self.events_committed().await;
        self.package_changed(pkg.id).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::ByteRange;

    #[test]
    fn ranges() {
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
        let everything = ByteRange::From {
            start: 0,
            end: Some(u64::MAX),
        };
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

#[cfg(test)]
mod checksum_tests {
    use bytes::Bytes;

    use super::ChecksumKind;
    use crate::{
        auth::Actor,
        domain::{
            metadata::{GenericMetadata, VersionMetadata},
            names::{FileName, PackageName, VersionName},
            packages::PackageRef,
            publish::{NewFile, PublishRequest},
            types::PackageType,
        },
        storage::{DigestSet, Expectations},
    };

    #[test]
    fn kinds_parse_from_sidecar_suffixes() {
        for (suffix, kind) in [
            ("md5", ChecksumKind::Md5),
            ("sha1", ChecksumKind::Sha1),
            ("sha256", ChecksumKind::Sha256),
            ("sha512", ChecksumKind::Sha512),
        ] {
            assert_eq!(suffix.parse::<ChecksumKind>().ok(), Some(kind));
            assert_eq!(kind.to_string(), suffix);
        }
        assert!("crc32".parse::<ChecksumKind>().is_err());
    }

    /// A file uploaded without md5 or sha512 gets them computed on first ask, stored, and
    /// answered from the row afterwards; a stranger learns nothing.
    #[tokio::test]
    async fn checksums_are_computed_once_and_stored() {
        let (_dir, domain, actor, login) =
            crate::domain::test_support::domain_with_user("alice").await;
        let none = DigestSet {
            md5: false,
            sha1: false,
            sha512: false,
        };
        let staged = domain
            .stage_bytes(
                Bytes::from_static(b"hello world"),
                none,
                &Expectations::default(),
            )
            .await
            .expect("stage");
        let r = PackageRef {
            owner: login,
            package_type: PackageType::Generic,
            name: PackageName::parse("tool").expect("name"),
        };
        let version = VersionName::parse("1.0.0").expect("version");
        let file = FileName::parse("hello.txt").expect("file");
        domain
            .publish(
                &actor,
                PublishRequest {
                    package: r.clone(),
                    version: version.clone(),
                    metadata: VersionMetadata::Generic(GenericMetadata {}),
                    readme: None,
                    prerelease: false,
                    files: vec![NewFile {
                        name: file.clone(),
                        blob: staged,
                        content_type: "text/plain".into(),
                    }],
                    tags: Vec::new(),
                    visibility: None,
                },
            )
            .await
            .expect("publish");
        let (_, _, before) = domain
            .stat_file(&actor, &r, &version, &file)
            .await
            .expect("stat");
        assert_eq!(before.sha512, None, "not taken at upload");
        let sha512 = "309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f\
                      989dd35bc5ff499670da34255b45b0cfd830e81f605dcf7dc5542e93ae9cd76f";
        let md5 = "5eb63bbbe01eeed093cb22bb8f5acdc3";
        for _ in 0..2 {
            let got = domain
                .file_checksum(&actor, &r, &version, &file, ChecksumKind::Sha512)
                .await
                .expect("sha512");
            assert_eq!(got, sha512);
        }
        let (_, _, after) = domain
            .stat_file(&actor, &r, &version, &file)
            .await
            .expect("stat");
        assert_eq!(after.sha512.as_deref(), Some(sha512), "stored");
        assert_eq!(after.md5, None, "only what was asked for is computed");
        let got = domain
            .file_checksum(&actor, &r, &version, &file, ChecksumKind::Md5)
            .await
            .expect("md5");
        assert_eq!(got, md5);
        let got = domain
            .file_checksum(&actor, &r, &version, &file, ChecksumKind::Sha256)
            .await
            .expect("sha256");
        assert_eq!(
            got,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        let stranger = domain
            .file_checksum(&Actor::Anonymous, &r, &version, &file, ChecksumKind::Md5)
            .await;
        assert!(stranger.is_err());
    }
}
