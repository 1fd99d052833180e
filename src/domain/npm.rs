//! What the npm door needs beyond publish and download: reading a staged tarball back to
//! check its manifest, and rewriting a version's metadata (deprecation).
use entity::package_version;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set, TransactionTrait};

use crate::{
    auth::{Actor, policy::Action},
    domain::{Domain, metadata::VersionMetadata, now, packages::PackageRef},
    error::{DomainError, DomainResult},
    storage::{BlobRead, StagedBlob},
};

impl Domain {
    /// Opens a blob staged by this request (before it is published) to inspect it.
    pub async fn open_staged(&self, staged: &StagedBlob) -> DomainResult<BlobRead> {
        self.blobs.open(&staged.digests.sha256, None).await
    }

    /// Replaces the metadata of a live version (npm deprecate). Needs write.
    pub async fn update_version_metadata(
        &self,
        actor: &Actor,
        r: &PackageRef,
        version_id: i64,
        metadata: VersionMetadata,
    ) -> DomainResult<()> {
        let (pkg, owner) = self.live_package(actor, r).await?;
        self.authorize_package(actor, Action::Write, &pkg, &owner)
            .await?;
        let v = package_version::Entity::find_by_id(version_id)
            .one(&self.db)
            .await?
            .filter(|v| v.package_id == pkg.id && v.deleted_at.is_none())
            .ok_or_else(|| DomainError::not_found("package version"))?;
        let txn = self.db.begin().await?;
        let mut active = v.into_active_model();
        active.metadata = Set(metadata.to_json());
        active.updated_at = Set(now());
        active.update(&txn).await?;
        // The document changed: its revision must too (a second stale update is refused).
        crate::domain::packages::touch_package(&txn, pkg.id).await?;
        txn.commit().await?;
        self.cache.invalidate(pkg.id);
        Ok(())
    }
}
