//! Changes to one version that keep it: yank and unyank (gem yank, NuGet unlist and
//! relist, Cargo yank).
use entity::package_version;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set, TransactionTrait};

use crate::{
    auth::{Actor, policy, policy::Action},
    domain::{
        Domain, audit, now,
        packages::{ensure_latest_tag, touch_package, version_info},
        views::VersionInfo,
    },
    error::{DomainError, DomainResult, What},
};

impl Domain {
    /// Yanks or unyanks a live version. Needs write. A yanked version stays a version
    /// (`find_version` returns it, flagged); whether its files stay downloadable by exact
    /// version is the format's `yanked_downloadable` rule.
    pub async fn set_version_yanked_by_id(
        &self,
        actor: &Actor,
        version_id: i64,
        yanked: bool,
    ) -> DomainResult<VersionInfo> {
        let v = package_version::Entity::find_by_id(version_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| policy::unknown(actor, What::Version, "package version"))?;
        let (pkg, _, _) = self
            .gated_package_by_id(actor, v.package_id, Action::Write, None, What::Version)
            .await?;
        if v.deleted_at.is_some() {
            return Err(DomainError::not_found(What::Version, "package version"));
        }
        if v.yanked == yanked {
            return Ok(version_info(v));
        }
        let txn = self.db.begin().await?;
        let mut active = v.into_active_model();
        active.yanked = Set(yanked);
        active.updated_at = Set(now());
        let v = active.update(&txn).await?;
        touch_package(&txn, pkg.id).await?;
        ensure_latest_tag(&txn, &pkg).await?;
        audit::record(
            &txn,
            actor,
            if yanked {
                "package_version.yank"
            } else {
                "package_version.unyank"
            },
            "package_version",
            Some(v.id),
            serde_json::json!({"package": pkg.name, "version": v.version}),
        )
        .await?;
        txn.commit().await?;
        self.cache.invalidate(pkg.id);
        Ok(version_info(v))
    }
}
