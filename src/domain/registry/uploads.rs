//! Upload sessions: rows in the database with their chunks in the blob store, so an
//! upload survives restarts and works across replicas.

use bytes::Bytes;
use chrono::Duration;
use entity::upload_session;
use futures::Stream;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, sea_query::Expr};

use crate::{
    auth::Actor,
    domain::{Domain, PackageType, now, packages::PackageRef},
    error::{DomainError, DomainResult, What},
    storage::{Digests, StagedBlob, UploadPart},
};

use super::{BlobDigest, UPLOAD_TTL_HOURS, blobs::BlobInfo};

/// Where a session's chunks are, in order. Every claimed chunk is recorded by its nonce; a
/// session whose nonces don't cover its parts can't be assembled, so it answers as an
/// unknown upload and the client starts its push over.
pub(super) fn upload_parts(session: &upload_session::Model) -> DomainResult<Vec<UploadPart>> {
    let unknown = || DomainError::not_found(What::Upload, format!("upload {}", session.id));
    let upload = uuid::Uuid::parse_str(&session.id).map_err(|_| unknown())?;
    let parts: Vec<UploadPart> = session
        .part_nonces
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter(|n| !n.is_empty())
        .map(|n| {
            uuid::Uuid::parse_str(n)
                .map(|nonce| UploadPart { upload, nonce })
                .map_err(DomainError::internal)
        })
        .collect::<DomainResult<_>>()?;
    if parts.len() != session.parts.max(0) as usize {
        return Err(unknown());
    }
    Ok(parts)
}

impl Domain {
    pub(super) async fn session(
        &self,
        owner_id: i64,
        image: &PackageRef,
        id: &str,
    ) -> DomainResult<upload_session::Model> {
        upload_session::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .filter(|s| s.owner_id == owner_id && s.name == image.name.as_str())
            .ok_or_else(|| DomainError::not_found(What::Upload, format!("upload {id}")))
    }

    /// Opens an upload session.
    pub async fn start_upload(&self, actor: &Actor, image: &PackageRef) -> DomainResult<String> {
        let owner_id = self.authorize_push(actor, image).await?;
        self.refuse_upload_over_quota(image, None).await?;
        let id = uuid::Uuid::new_v4().to_string();
        upload_session::ActiveModel {
            id: Set(id.clone()),
            owner_id: Set(owner_id),
            name: Set(image.name.to_string()),
            size: Set(0),
            parts: Set(0),
            first_part_sha256: Set(None),
            part_nonces: Set(None),
            created_at: Set(now()),
            updated_at: Set(now()),
        }
        .insert(&self.db)
        .await?;
        Ok(id)
    }

    /// How many bytes an upload has received.
    pub async fn upload_status(
        &self,
        actor: &Actor,
        image: &PackageRef,
        id: &str,
    ) -> DomainResult<u64> {
        let owner_id = self.authorize_push(actor, image).await?;
        Ok(self.session(owner_id, image, id).await?.size as u64)
    }

    /// Appends a chunk. `start` (from `Content-Range`) must be where the upload stands, or
    /// the chunk is refused with the current size (416).
    pub async fn upload_chunk<S, E>(
        &self,
        actor: &Actor,
        image: &PackageRef,
        id: &str,
        start: Option<u64>,
        body: S,
    ) -> DomainResult<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let owner_id = self.authorize_push(actor, image).await?;
        let session = self.session(owner_id, image, id).await?;
        let current = session.size as u64;
        if start.is_some_and(|s| s != current) {
            return Err(DomainError::RangeNotSatisfiable { size: current });
        }
        let upload = uuid::Uuid::parse_str(id)
            .map_err(|_| DomainError::not_found(What::Upload, format!("upload {id}")))?;
        let part = session.parts as u32;
        let pending = self
            .blobs
            .stage_part(
                upload,
                body,
                self.max_file_bytes(PackageType::Container)
                    .saturating_sub(current),
            )
            .await?;
        if pending.size == 0 {
            self.blobs.discard_part(&pending).await;
            return Ok(current);
        }
        let total = current + pending.size;
        // Claim part `part`, unless a chunk racing on this upload got there first: then this
        // one lost, and gets the 416 with where the upload now stands.
        let mut claim = upload_session::Entity::update_many()
            .col_expr(upload_session::Column::Size, Expr::value(total as i64))
            .col_expr(upload_session::Column::Parts, Expr::value(part as i32 + 1))
            .col_expr(upload_session::Column::UpdatedAt, Expr::value(now()))
            // The chunk stays where it was written; the session records its key. The claim
            // only matches the row as it was read (same parts, same size), so the nonces
            // read with it are the row's: appending in Rust is race-free.
            .col_expr(
                upload_session::Column::PartNonces,
                Expr::value(match session.part_nonces.as_deref() {
                    Some(nonces) if !nonces.is_empty() => format!("{nonces},{}", pending.nonce()),
                    _ => pending.nonce().to_string(),
                }),
            )
            .filter(upload_session::Column::Id.eq(id))
            .filter(upload_session::Column::Parts.eq(part as i32))
            .filter(upload_session::Column::Size.eq(current as i64));
        if part == 0 {
            claim = claim.col_expr(
                upload_session::Column::FirstPartSha256,
                Expr::value(pending.digests.sha256.clone()),
            );
        }
        if claim.exec(&self.db).await?.rows_affected != 1 {
            self.blobs.discard_part(&pending).await;
            let size = self
                .session(owner_id, image, id)
                .await
                .map(|s| s.size as u64)
                .unwrap_or(current);
            return Err(DomainError::RangeNotSatisfiable { size });
        }
        Ok(total)
    }

    /// Completes an upload (with an optional last chunk), verifies the digest and links the
    /// blob to the image. A one-chunk upload is promoted without reading it again. A
    /// `start` (the last chunk's `Content-Range`) not where the upload stands is refused
    /// (416) before anything is appended, and the session stays.
    pub async fn finish_upload<S, E>(
        &self,
        actor: &Actor,
        image: &PackageRef,
        id: &str,
        digest: &BlobDigest,
        start: Option<u64>,
        last_chunk: Option<S>,
    ) -> DomainResult<BlobInfo>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let owner_id = self.authorize_push(actor, image).await?;
        match last_chunk {
            Some(body) => {
                self.upload_chunk(actor, image, id, start, body).await?;
            }
            // No last chunk: a `Content-Range` must still name where the upload stands.
            None if start.is_some() => {
                let current = self.session(owner_id, image, id).await?.size as u64;
                if start != Some(current) {
                    return Err(DomainError::RangeNotSatisfiable { size: current });
                }
            }
            None => {}
        }
        let session = self.session(owner_id, image, id).await?;
        let parts = upload_parts(&session)?;
        let result = match (&digest, parts.as_slice(), &session.first_part_sha256) {
            (BlobDigest::Sha256(want), [only], Some(got)) => {
                if want != got {
                    Err(DomainError::DigestMismatch {
                        expected: digest.to_string(),
                        actual: format!("sha256:{got}"),
                    })
                } else {
                    let staged = StagedBlob {
                        size: session.size as u64,
                        digests: Digests {
                            sha256: got.clone(),
                            ..Default::default()
                        },
                    };
                    // Claimed against GC before the promote looks for the bytes at their
                    // content address, as every publish's content is (`Domain::claim_blob`).
                    match self.claim_blob(&staged).await {
                        Ok(()) => {
                            self.blobs
                                .promote_part(only, staged.size, staged.digests)
                                .await
                        }
                        Err(e) => Err(e),
                    }
                }
            }
            _ => {
                let mut expect = digest.expectations();
                expect.size = Some(session.size as u64);
                self.stage_blob(
                    self.blobs.parts_stream(parts.clone()),
                    digest.wants(),
                    &expect,
                )
                .await
            }
        };
        // The session ends either way: a wrong digest means the client starts over.
        self.blobs.delete_upload(&parts).await?;
        upload_session::Entity::delete_by_id(id.to_string())
            .exec(&self.db)
            .await?;
        let staged = result?;
        self.link_blob(owner_id, image, &staged).await?;
        Ok(BlobInfo {
            size: staged.size,
            digest: digest.to_string(),
        })
    }

    /// Cancels an upload and removes what it stored.
    pub async fn cancel_upload(
        &self,
        actor: &Actor,
        image: &PackageRef,
        id: &str,
    ) -> DomainResult<()> {
        let owner_id = self.authorize_push(actor, image).await?;
        let session = self.session(owner_id, image, id).await?;
        if let Ok(parts) = upload_parts(&session) {
            self.blobs.delete_upload(&parts).await?;
        }
        upload_session::Entity::delete_by_id(id.to_string())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Removes upload sessions idle for longer than the TTL, with their chunks.
    pub async fn expire_uploads(&self) -> DomainResult<u64> {
        let stale = upload_session::Entity::find()
            .filter(upload_session::Column::UpdatedAt.lt(now() - Duration::hours(UPLOAD_TTL_HOURS)))
            .all(&self.db)
            .await?;
        for s in &stale {
            if let Ok(parts) = upload_parts(s) {
                self.blobs.delete_upload(&parts).await?;
            }
            upload_session::Entity::delete_by_id(s.id.clone())
                .exec(&self.db)
                .await?;
        }
        Ok(stale.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session_with(parts: i32, nonces: &[uuid::Uuid]) -> upload_session::Model {
        let joined: Vec<String> = nonces.iter().map(ToString::to_string).collect();
        upload_session::Model {
            id: uuid::Uuid::new_v4().to_string(),
            owner_id: 1,
            name: "app".into(),
            size: 10,
            parts,
            first_part_sha256: None,
            part_nonces: (!nonces.is_empty()).then(|| joined.join(",")),
            created_at: now(),
            updated_at: now(),
        }
    }

    #[test]
    fn upload_parts_need_a_nonce_for_every_part() {
        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let session = session_with(2, &[a, b]);
        let parts = upload_parts(&session).expect("covered");
        let nonces: Vec<_> = parts.iter().map(|p| p.nonce).collect();
        assert_eq!(nonces, [a, b]);
        assert!(parts.iter().all(|p| p.upload.to_string() == session.id));
        assert_eq!(upload_parts(&session_with(0, &[])).expect("empty").len(), 0);
        // A session from before nonces were recorded: its first part has no key we know.
        let err = upload_parts(&session_with(2, &[a])).expect_err("uncovered");
        assert!(matches!(err.what(), Some(What::Upload)), "{err:?}");
    }
}
