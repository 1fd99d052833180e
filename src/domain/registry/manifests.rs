//! Manifests: pushed (what they refer to must exist), served, deleted, and listed as
//! referrers of their subject.

use bytes::Bytes;
use entity::{image_referrer, package_tag, package_version};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};
use serde_json::Value;

use crate::{
    auth::{Actor, policy::Action},
    domain::{
        Domain, VersionName,
        metadata::{ChildPlatform, ContainerMetadata, Platform, VersionMetadata},
        names::FileName,
        packages::{PackageRef, live_version, version_info},
        publish::{NewFile, PublishRequest},
    },
    error::{DomainError, DomainResult, What},
    storage::{DigestSet, Digests, Expectations, StagedBlob},
};

use super::{BlobDigest, ManifestRef};

/// A manifest or index as pushed, parsed by the door: what the registry's rules need of it.
#[derive(Debug)]
pub struct ImageManifest {
    /// Stored exactly as pushed: its digest is its name.
    pub bytes: Bytes,
    pub media_type: String,
    pub content: ManifestContent,
    /// The manifest this one refers to (an artifact's subject), as it names it.
    pub subject: Option<String>,
    pub artifact_type: Option<String>,
    pub annotations: serde_json::Map<String, Value>,
    pub labels: ImageLabels,
}

/// What a manifest refers to, and so what must exist before it is accepted.
#[derive(Debug)]
pub enum ManifestContent {
    /// An image: a config and layers, blobs of the image (foreign layers left out).
    Image {
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
    /// An index: manifests of the image.
    Index { children: Vec<IndexChild> },
}

/// A manifest an index names, with the platform it says the manifest runs on.
#[derive(Debug)]
pub struct IndexChild {
    pub digest: BlobDigest,
    pub platform: Option<Platform>,
}

/// A blob a manifest refers to, with the content type it is stored as.
#[derive(Debug)]
pub struct Descriptor {
    pub digest: BlobDigest,
    pub media_type: String,
}

/// What describes an image's package: its `org.opencontainers.image.*` annotations or
/// labels.
#[derive(Debug, Default)]
pub struct ImageLabels {
    pub description: Option<String>,
    pub licenses: Option<String>,
    pub source: Option<String>,
    pub url: Option<String>,
    pub authors: Option<String>,
}

/// A pushed manifest's digest, and the subject it refers to (clients are told).
pub struct PushedManifest {
    pub digest: String,
    pub subject: Option<String>,
}

/// A manifest that refers to another (its subject), as the referrers list shows it.
pub struct ReferrerInfo {
    pub digest: String,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub size: u64,
    pub annotations: serde_json::Map<String, Value>,
}

/// A manifest as served.
pub struct Manifest {
    pub bytes: Bytes,
    pub media_type: String,
    pub digest: String,
}

/// The version a manifest publishes: named by its digest, described by its labels, its
/// container metadata what the registry answers from (media type, subject, referrers).
pub(super) fn manifest_publish_request(
    image: &PackageRef,
    digest: &str,
    manifest: ImageManifest,
    size: u64,
    files: Vec<NewFile>,
    references: Vec<String>,
    tags: Vec<String>,
) -> DomainResult<PublishRequest> {
    let labels = manifest.labels;
    let platforms = match &manifest.content {
        ManifestContent::Index { children } => children
            .iter()
            .filter_map(|c| {
                Some(ChildPlatform {
                    digest: c.digest.to_string(),
                    platform: c.platform.clone()?,
                })
            })
            .collect(),
        ManifestContent::Image { .. } => Vec::new(),
    };
    Ok(PublishRequest {
        package: image.clone(),
        version: VersionName::parse(digest)?,
        metadata: VersionMetadata::Container(ContainerMetadata {
            media_type: manifest.media_type,
            artifact_type: manifest.artifact_type,
            subject: manifest.subject,
            annotations: manifest.annotations,
            size,
            references,
            platforms,
            url: labels.url,
            authors: labels.authors,
            description: labels.description,
            licenses: labels.licenses,
            source: labels.source,
        }),
        readme: None,
        prerelease: false,
        files,
        tags,
        visibility: None,
    })
}

pub(super) fn manifest_blob_unknown(d: &BlobDigest) -> DomainError {
    DomainError::not_found(
        What::ReferencedBlob,
        format!("manifest references unknown blob {d}"),
    )
}

impl Domain {
    /// Pushes a manifest: checks what it refers to exists, stores its exact bytes, and
    /// publishes it as a version (named by its digest) with the given tags.
    pub async fn push_manifest(
        &self,
        actor: &Actor,
        image: &PackageRef,
        reference: &ManifestRef,
        manifest: ImageManifest,
        extra_tags: Vec<String>,
    ) -> DomainResult<PushedManifest> {
        let owner_id = self.authorize_push(actor, image).await?;
        let staged = self
            .stage_manifest(reference, manifest.bytes.clone())
            .await?;
        let digest = staged.digest();
        let lead = NewFile {
            name: FileName::parse(&digest)?,
            blob: staged.clone(),
            content_type: manifest.media_type.clone(),
        };
        let (files, references) = match &manifest.content {
            ManifestContent::Image { config, layers } => {
                self.image_files(owner_id, image, lead, config, layers)
                    .await?
            }
            ManifestContent::Index { children } => {
                (vec![lead], self.index_children(image, children).await?)
            }
        };
        let mut tags = extra_tags;
        if let ManifestRef::Tag(t) = reference {
            tags.push(t.clone());
        }
        let subject = manifest.subject.clone();
        let request = manifest_publish_request(
            image,
            &digest,
            manifest,
            staged.size,
            files,
            references,
            tags,
        )?;
        self.publish(actor, request).await?;
        Ok(PushedManifest { digest, subject })
    }

    /// Stores a manifest's exact bytes, checked against the digest it was pushed by.
    pub(super) async fn stage_manifest(
        &self,
        reference: &ManifestRef,
        bytes: Bytes,
    ) -> DomainResult<StagedBlob> {
        let (want, expect) = match reference {
            ManifestRef::Digest(d) => (d.wants(), d.expectations()),
            ManifestRef::Tag(_) => (DigestSet::default(), Expectations::default()),
        };
        self.stage_bytes(bytes, want, &expect).await
    }

    /// An image manifest's files (the manifest, its config and layers, each once) and the
    /// digests it refers to. The config and every layer must be blobs of this image (the
    /// config's labels describe the package).
    pub(super) async fn image_files(
        &self,
        owner_id: i64,
        image: &PackageRef,
        lead: NewFile,
        config: &Descriptor,
        layers: &[Descriptor],
    ) -> DomainResult<(Vec<NewFile>, Vec<String>)> {
        let mut files = vec![lead];
        let mut references = Vec::new();
        for descriptor in std::iter::once(config).chain(layers) {
            let d = &descriptor.digest;
            let row = self
                .linked_blob(owner_id, image, d)
                .await?
                .ok_or_else(|| manifest_blob_unknown(d))?;
            // Claimed for this manifest: fresh again, so garbage collection (which deletes
            // only rows still old and unreferenced) leaves it until the publish commits;
            // gone since the check above means it must be pushed again.
            if !self.claim_linked(owner_id, image, &row.digest).await? {
                return Err(manifest_blob_unknown(d));
            }
            let hex = row.digest.trim_start_matches("sha256:").to_string();
            let name = FileName::parse(&row.digest)?;
            if !files.iter().any(|f| f.name == name) {
                files.push(NewFile {
                    name,
                    blob: StagedBlob {
                        size: row.size as u64,
                        digests: Digests {
                            sha256: hex,
                            md5: row.md5,
                            sha1: row.sha1,
                            sha512: row.sha512,
                        },
                    },
                    content_type: descriptor.media_type.clone(),
                });
            }
            references.push(d.to_string());
        }
        Ok((files, references))
    }

    /// An index's children: each must be a live manifest of this image.
    pub(super) async fn index_children(
        &self,
        image: &PackageRef,
        children: &[IndexChild],
    ) -> DomainResult<Vec<String>> {
        let pkg = self.package_model(image).await?.map(|(p, _)| p);
        let mut references = Vec::new();
        for IndexChild { digest: d, .. } in children {
            let exists = match &pkg {
                Some(p) => self.live_manifest(p.id, d).await?.is_some(),
                None => false,
            };
            if !exists {
                return Err(manifest_blob_unknown(d));
            }
            references.push(d.to_string());
        }
        Ok(references)
    }

    /// An image config's bytes, for the door to read its labels before it pushes the
    /// manifest: if the caller may push to the image (as they are about to), the blob is
    /// linked to it and it is small (at most `max` bytes). `None` otherwise: the labels are
    /// a description, and the push itself judges the rest.
    pub async fn read_config_blob(
        &self,
        actor: &Actor,
        image: &PackageRef,
        digest: &BlobDigest,
        max: u64,
    ) -> DomainResult<Option<Bytes>> {
        let owner_id = match self.authorize_push(actor, image).await {
            Ok(id) => id,
            Err(
                DomainError::NotFound { .. }
                | DomainError::Forbidden(_)
                | DomainError::Unauthenticated(_),
            ) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(row) = self.linked_blob(owner_id, image, digest).await? else {
            return Ok(None);
        };
        if row.size as u64 > max {
            return Ok(None);
        }
        let bytes = self
            .blobs
            .read_all(row.digest.trim_start_matches("sha256:"))
            .await?;
        Ok(Some(bytes))
    }

    pub(super) async fn manifest_version(
        &self,
        actor: &Actor,
        image: &PackageRef,
        reference: &ManifestRef,
    ) -> DomainResult<(i64, package_version::Model)> {
        let (pkg, owner) = self.live_package(actor, image).await?;
        self.authorize_package(actor, Action::Read, &pkg, &owner)
            .await?;
        let version = match reference {
            ManifestRef::Digest(d) => self.live_manifest(pkg.id, d).await?,
            ManifestRef::Tag(t) => {
                let tag = package_tag::Entity::find()
                    .filter(package_tag::Column::PackageId.eq(pkg.id))
                    .filter(package_tag::Column::Name.eq(t.as_str()))
                    .one(&self.db)
                    .await?;
                match tag {
                    Some(tag) => package_version::Entity::find_by_id(tag.version_id)
                        .one(&self.db)
                        .await?
                        .filter(|v| v.deleted_at.is_none()),
                    None => None,
                }
            }
        };
        let version = version.ok_or_else(|| DomainError::not_found(What::Manifest, "manifest"))?;
        Ok((pkg.id, version))
    }

    /// The live manifest of an image a digest names: versions are named by their sha256,
    /// so a sha512 is looked up through the blob it names (recorded when the manifest was
    /// pushed by that digest).
    async fn live_manifest(
        &self,
        package_id: i64,
        digest: &BlobDigest,
    ) -> DomainResult<Option<package_version::Model>> {
        match digest {
            BlobDigest::Sha256(h) => {
                live_version(&self.db, package_id, &format!("sha256:{h}")).await
            }
            BlobDigest::Sha512(_) => match self.blob_row(digest).await? {
                Some(row) => live_version(&self.db, package_id, &row.digest).await,
                None => Ok(None),
            },
        }
    }

    /// GET or HEAD of a manifest, by tag or digest. A GET counts a download.
    pub async fn get_manifest(
        &self,
        actor: &Actor,
        image: &PackageRef,
        reference: &ManifestRef,
        count: bool,
    ) -> DomainResult<Manifest> {
        let (package_id, version) = self.manifest_version(actor, image, reference).await?;
        let media_type = match VersionMetadata::from_stored(version.metadata.clone()) {
            VersionMetadata::Container(m) => m.media_type,
            _ => {
                return Err(DomainError::internal(
                    "container version without container metadata",
                ));
            }
        };
        let bytes = self
            .blobs
            .read_all(version.version.trim_start_matches("sha256:"))
            .await?;
        if count {
            self.meter_manifest(image, bytes.len()).await?;
            self.downloads.count(package_id, version.id);
        }
        Ok(Manifest {
            bytes,
            media_type,
            digest: version.version,
        })
    }

    /// DELETE of a manifest: by digest deletes the version (restorable), by tag only untags.
    pub async fn delete_manifest(
        &self,
        actor: &Actor,
        image: &PackageRef,
        reference: &ManifestRef,
    ) -> DomainResult<()> {
        let r = image.clone();
        match reference {
            ManifestRef::Tag(t) => self.delete_tag(actor, &r, t).await,
            ManifestRef::Digest(_) => {
                let (_, version) = self.manifest_version(actor, image, reference).await?;
                self.delete_version_named(
                    actor,
                    &r,
                    &VersionName::parse(&version.version)?,
                    crate::domain::packages::LastVersion::KeepsPackage,
                )
                .await
                .map(|_| ())
            }
        }
    }

    /// The live manifests of an image that refer to `digest` as their subject, optionally
    /// only those of one artifact type.
    pub async fn referrers(
        &self,
        actor: &Actor,
        image: &PackageRef,
        digest: &BlobDigest,
        artifact_type: Option<&str>,
    ) -> DomainResult<Vec<ReferrerInfo>> {
        let pkg = match self.find_package(actor, image).await {
            Ok(p) => p,
            Err(DomainError::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let subject = digest.to_string();
        // Only the manifests the index names (find_package checked read access).
        let versions = package_version::Entity::find()
            .filter(package_version::Column::PackageId.eq(pkg.id))
            .filter(package_version::Column::DeletedAt.is_null())
            .filter(
                package_version::Column::Id.in_subquery(
                    image_referrer::Entity::find()
                        .select_only()
                        .column(image_referrer::Column::VersionId)
                        .filter(image_referrer::Column::PackageId.eq(pkg.id))
                        .filter(image_referrer::Column::Subject.eq(subject.as_str()))
                        .into_query(),
                ),
            )
            .order_by_asc(package_version::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(version_info);
        let mut out = Vec::new();
        for v in versions {
            if let VersionMetadata::Container(ContainerMetadata {
                media_type,
                artifact_type: kind,
                subject: Some(s),
                annotations,
                size,
                ..
            }) = v.metadata
                && s == subject
                && artifact_type.is_none_or(|want| kind.as_deref() == Some(want))
            {
                out.push(ReferrerInfo {
                    digest: v.version,
                    media_type,
                    artifact_type: kind,
                    size,
                    annotations,
                });
            }
        }
        Ok(out)
    }
}
