//! Blobs of an image: linked to its name (so they are there before its first manifest),
//! read by the pull gate, pushed whole or mounted from another image.

use bytes::Bytes;
use entity::{blob, image_blob};
use futures::Stream;
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, OnConflict},
};

use crate::{
    auth::Actor,
    domain::{Domain, PackageType, now, packages::PackageRef},
    error::{DomainError, DomainResult, What},
    storage::{BlobRead, Digests, StagedBlob},
};

use super::BlobDigest;

/// A blob as served.
pub struct BlobInfo {
    pub size: u64,
    pub digest: String,
}

impl Domain {
    pub(super) async fn blob_row(&self, digest: &BlobDigest) -> DomainResult<Option<blob::Model>> {
        Ok(match digest {
            BlobDigest::Sha256(h) => {
                blob::Entity::find_by_id(format!("sha256:{h}"))
                    .one(&self.db)
                    .await?
            }
            BlobDigest::Sha512(h) => {
                blob::Entity::find()
                    .filter(blob::Column::Sha512.eq(h.as_str()))
                    .one(&self.db)
                    .await?
            }
        })
    }

    /// The blob a digest names, if it is linked to the image.
    pub(super) async fn linked_blob(
        &self,
        owner_id: i64,
        image: &PackageRef,
        digest: &BlobDigest,
    ) -> DomainResult<Option<blob::Model>> {
        let Some(row) = self.blob_row(digest).await? else {
            return Ok(None);
        };
        let linked = image_blob::Entity::find()
            .filter(image_blob::Column::OwnerId.eq(owner_id))
            .filter(image_blob::Column::Name.eq(image.name.as_str()))
            .filter(image_blob::Column::Digest.eq(row.digest.as_str()))
            .one(&self.db)
            .await?;
        Ok(linked.map(|_| row))
    }

    /// Records a verified blob and links it to the image (idempotent).
    pub(super) async fn link_blob(
        &self,
        owner_id: i64,
        image: &PackageRef,
        staged: &StagedBlob,
    ) -> DomainResult<()> {
        blob::Entity::insert(blob::ActiveModel {
            digest: Set(staged.digest()),
            size: Set(staged.size as i64),
            md5: Set(None),
            sha1: Set(None),
            sha512: Set(staged.digests.sha512.clone()),
            created_at: Set(now()),
        })
        .on_conflict(
            OnConflict::column(blob::Column::Digest)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        if let Some(sha512) = &staged.digests.sha512 {
            blob::Entity::update_many()
                .col_expr(
                    blob::Column::Sha512,
                    sea_orm::sea_query::Expr::value(sha512.clone()),
                )
                .filter(blob::Column::Digest.eq(staged.digest()))
                .filter(blob::Column::Sha512.is_null())
                .exec(&self.db)
                .await?;
        }
        image_blob::Entity::insert(image_blob::ActiveModel {
            owner_id: Set(owner_id),
            name: Set(image.name.to_string()),
            digest: Set(staged.digest()),
            created_at: Set(now()),
            ..Default::default()
        })
        .on_conflict(
            // Linked again: fresh again, so garbage collection leaves the blob to the
            // manifest that is about to use it (see `collect_garbage`).
            OnConflict::columns([
                image_blob::Column::OwnerId,
                image_blob::Column::Name,
                image_blob::Column::Digest,
            ])
            .update_column(image_blob::Column::CreatedAt)
            .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// Refreshes a blob and its link to the image; false if the blob is gone.
    pub(super) async fn claim_linked(
        &self,
        owner_id: i64,
        image: &PackageRef,
        digest: &str,
    ) -> DomainResult<bool> {
        let claimed = blob::Entity::update_many()
            .col_expr(blob::Column::CreatedAt, Expr::value(now()))
            .filter(blob::Column::Digest.eq(digest))
            .exec(&self.db)
            .await?;
        image_blob::Entity::update_many()
            .col_expr(image_blob::Column::CreatedAt, Expr::value(now()))
            .filter(image_blob::Column::OwnerId.eq(owner_id))
            .filter(image_blob::Column::Name.eq(image.name.as_str()))
            .filter(image_blob::Column::Digest.eq(digest))
            .exec(&self.db)
            .await?;
        Ok(claimed.rows_affected == 1)
    }

    /// HEAD of a blob.
    pub async fn stat_image_blob(
        &self,
        actor: &Actor,
        image: &PackageRef,
        digest: &BlobDigest,
    ) -> DomainResult<BlobInfo> {
        let owner_id = self.authorize_pull(actor, image).await?;
        let row = self
            .linked_blob(owner_id, image, digest)
            .await?
            .ok_or_else(|| DomainError::not_found(What::Blob, format!("blob {digest}")))?;
        Ok(BlobInfo {
            size: row.size as u64,
            digest: digest.to_string(),
        })
    }

    /// GET of a blob (blob GETs are not downloads of the image).
    pub async fn open_image_blob(
        &self,
        actor: &Actor,
        image: &PackageRef,
        digest: &BlobDigest,
        range: Option<crate::domain::download::ByteRange>,
    ) -> DomainResult<(BlobInfo, BlobRead)> {
        let owner_id = self.authorize_pull(actor, image).await?;
        let row = self
            .linked_blob(owner_id, image, digest)
            .await?
            .ok_or_else(|| DomainError::not_found(What::Blob, format!("blob {digest}")))?;
        let size = row.size as u64;
        let range = match range {
            Some(r) => Some(
                r.resolve(size)
                    .ok_or(DomainError::RangeNotSatisfiable { size })?,
            ),
            None => None,
        };
        let read = self
            .blobs
            .open(row.digest.trim_start_matches("sha256:"), range)
            .await?;
        let read = self.metered_image_read(image, read).await?;
        Ok((
            BlobInfo {
                size,
                digest: digest.to_string(),
            },
            read,
        ))
    }

    /// Unlinks a blob from an image (the bytes stay while anything else refers to them).
    pub async fn delete_image_blob(
        &self,
        actor: &Actor,
        image: &PackageRef,
        digest: &BlobDigest,
    ) -> DomainResult<()> {
        let owner_id = self.authorize_blob_delete(actor, image).await?;
        let row = self
            .linked_blob(owner_id, image, digest)
            .await?
            .ok_or_else(|| DomainError::not_found(What::Blob, format!("blob {digest}")))?;
        image_blob::Entity::delete_many()
            .filter(image_blob::Column::OwnerId.eq(owner_id))
            .filter(image_blob::Column::Name.eq(image.name.as_str()))
            .filter(image_blob::Column::Digest.eq(row.digest))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// A whole blob in one request (`POST ...?digest=` or `PUT` of a fresh session).
    pub async fn push_blob<S, E>(
        &self,
        actor: &Actor,
        image: &PackageRef,
        digest: &BlobDigest,
        body: S,
        size: Option<u64>,
    ) -> DomainResult<BlobInfo>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let owner_id = self.authorize_push(actor, image).await?;
        let mut expect = digest.expectations();
        expect.size = size;
        expect.max_size = Some(self.max_file_bytes(PackageType::Container));
        // Claimed against GC like every publish's content (`Domain::claim_blob`).
        let staged = self.stage_blob(body, digest.wants(), &expect).await?;
        self.link_blob(owner_id, image, &staged).await?;
        Ok(BlobInfo {
            size: staged.size,
            digest: digest.to_string(),
        })
    }

    /// Cross-repository mount: links a blob of `from` into `image` when the actor may read
    /// `from` and the blob is there. `Ok(None)` means "fall back to an upload".
    pub async fn mount_blob(
        &self,
        actor: &Actor,
        image: &PackageRef,
        from: &PackageRef,
        digest: &BlobDigest,
    ) -> DomainResult<Option<BlobInfo>> {
        let owner_id = self.authorize_push(actor, image).await?;
        let Ok(from_owner) = self.authorize_pull(actor, from).await else {
            return Ok(None);
        };
        let Some(row) = self.linked_blob(from_owner, from, digest).await? else {
            return Ok(None);
        };
        // Made fresh before it is linked, so a collection deciding on the same blob either
        // sees it fresh (and keeps it) or has deleted the row first (nothing to refresh:
        // the client uploads instead). No new row: that would outlive a deleted file.
        let refreshed = blob::Entity::update_many()
            .col_expr(blob::Column::CreatedAt, Expr::value(now()))
            .filter(blob::Column::Digest.eq(row.digest.as_str()))
            .exec(&self.db)
            .await?;
        if refreshed.rows_affected != 1 {
            return Ok(None);
        }
        let staged = StagedBlob {
            size: row.size as u64,
            digests: Digests {
                sha256: row.digest.trim_start_matches("sha256:").to_string(),
                md5: None,
                sha1: None,
                sha512: row.sha512.clone(),
            },
        };
        self.link_blob(owner_id, image, &staged).await?;
        Ok(Some(BlobInfo {
            size: staged.size,
            digest: digest.to_string(),
        }))
    }
}
