//! Changes to one version that keep it: yank and unyank (gem yank, NuGet unlist and
//! relist, Cargo yank), and its metadata (npm deprecate, NuGet deprecation).
use chrono::{DateTime, Utc};
use entity::package_version;
use sea_orm::{ActiveModelTrait, ConnectionTrait, IntoActiveModel, Set, TransactionTrait};

use crate::{
    auth::{Actor, policy::Action},
    domain::{
        Domain, audit,
        metadata::VersionMetadata,
        names::VersionName,
        now,
        packages::{PackageRef, ensure_latest_tag, live_version, touch_package, version_info},
        types::PackageType,
        views::VersionInfo,
    },
    error::{DomainError, DomainResult, What},
};

/// Writes a version's metadata inside the caller's transaction (which authorized it and
/// touches the package once for all its changes).
pub(crate) async fn set_version_metadata_in<C: ConnectionTrait>(
    db: &C,
    version: package_version::Model,
    metadata: &VersionMetadata,
    at: DateTime<Utc>,
) -> DomainResult<package_version::Model> {
    let mut active = version.into_active_model();
    active.metadata = Set(metadata.to_json());
    active.updated_at = Set(at);
    Ok(active.update(db).await?)
}

/// The package type a metadata variant belongs to (`Other` belongs to none in particular).
fn metadata_type(m: &VersionMetadata) -> Option<PackageType> {
    match m {
        VersionMetadata::Generic(_) => Some(PackageType::Generic),
        VersionMetadata::Container(_) => Some(PackageType::Container),
        VersionMetadata::Npm(_) => Some(PackageType::Npm),
        VersionMetadata::Rubygems(_) => Some(PackageType::Rubygems),
        VersionMetadata::Nuget(_) => Some(PackageType::Nuget),
        VersionMetadata::Maven(_) => Some(PackageType::Maven),
        VersionMetadata::Other(_) => None,
    }
}

impl Domain {
    /// Replaces one live version's metadata (the whole value: callers read, change, and
    /// write it back). Needs write; one transaction with the package's touch and an audit
    /// row. The version's summary and license columns keep what was published.
    pub async fn update_version_metadata(
        &self,
        actor: &Actor,
        r: &PackageRef,
        version: &VersionName,
        metadata: VersionMetadata,
    ) -> DomainResult<VersionInfo> {
        let (pkg, owner) = self.live_package(actor, r).await?;
        self.authorize_package(actor, Action::Write, &pkg, &owner)
            .await?;
        if metadata_type(&metadata).is_some_and(|t| t != r.package_type) {
            return Err(DomainError::invalid(format!(
                "metadata of another format than {}",
                r.package_type
            )));
        }
        let txn = self.db.begin().await?;
        let v = live_version(&txn, pkg.id, version.as_str())
            .await?
            .ok_or_else(|| DomainError::not_found(What::Version, format!("version {version}")))?;
        let v = set_version_metadata_in(&txn, v, &metadata, now()).await?;
        touch_package(&txn, pkg.id).await?;
        audit::record(
            &txn,
            actor,
            "package_version.metadata",
            "package_version",
            Some(v.id),
            serde_json::json!({"package": pkg.name, "version": v.version}),
        )
        .await?;
        self.emit_event(
            &txn,
            actor,
            crate::domain::events::EventKind::Updated,
            pkg.id,
            Some(v.id),
        )
        .await?;
        txn.commit().await?;
        self.events_committed().await;
        self.package_changed(pkg.id).await;
        Ok(version_info(v))
    }

    /// Yanks or unyanks a live version. Needs write. A yanked version stays a version
    /// (`find_version` returns it, flagged); whether its files stay downloadable by exact
    /// version is the format's `yanked_downloadable` rule.
    pub async fn set_version_yanked_by_id(
        &self,
        actor: &Actor,
        version_id: i64,
        yanked: bool,
    ) -> DomainResult<VersionInfo> {
        let (v, pkg) = self
            .gated_live_version(actor, version_id, Action::Write)
            .await?;
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
        self.emit_event(
            &txn,
            actor,
            crate::domain::events::EventKind::Updated,
            pkg.id,
            Some(v.id),
        )
        .await?;
        txn.commit().await?;
        self.events_committed().await;
        self.package_changed(pkg.id).await;
        Ok(version_info(v))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use crate::{
        auth::Actor,
        domain::{
            metadata::{GenericMetadata, NpmMetadata, VersionMetadata},
            names::{FileName, PackageName, VersionName},
            packages::PackageRef,
            publish::{NewFile, PublishRequest},
            types::PackageType,
        },
        error::DomainError,
        storage::{DigestSet, Expectations},
    };

    /// The whole value replaced in one go, for the writer only, and only with its own
    /// format's metadata.
    #[tokio::test]
    async fn metadata_updates_need_write_and_the_package_format() {
        let (_dir, domain, actor, login) =
            crate::domain::test_support::domain_with_user("alice").await;
        let none = DigestSet {
            md5: false,
            sha1: false,
            sha512: false,
        };
        let staged = domain
            .stage_bytes(
                Bytes::from_static(b"tarball"),
                none,
                &Expectations::default(),
            )
            .await
            .expect("stage");
        let r = PackageRef {
            owner: login,
            package_type: PackageType::Npm,
            name: PackageName::parse("tool").expect("name"),
        };
        let version = VersionName::parse("1.0.0").expect("version");
        let manifest = serde_json::json!({"name": "@alice/tool", "version": "1.0.0"});
        domain
            .publish(
                &actor,
                PublishRequest {
                    package: r.clone(),
                    version: version.clone(),
                    metadata: VersionMetadata::Npm(NpmMetadata {
                        manifest: manifest.clone(),
                    }),
                    readme: None,
                    prerelease: false,
                    files: vec![NewFile {
                        name: FileName::parse("tool-1.0.0.tgz").expect("file"),
                        blob: staged,
                        content_type: "application/octet-stream".into(),
                    }],
                    tags: Vec::new(),
                    visibility: None,
                },
            )
            .await
            .expect("publish");
        let mut npm = NpmMetadata { manifest };
        npm.set_deprecated(Some("use v2"));
        let deprecated = VersionMetadata::Npm(npm);
        let refused = domain
            .update_version_metadata(&Actor::Anonymous, &r, &version, deprecated.clone())
            .await;
        assert!(refused.is_err());
        let wrong = domain
            .update_version_metadata(
                &actor,
                &r,
                &version,
                VersionMetadata::Generic(GenericMetadata {}),
            )
            .await;
        assert!(
            matches!(wrong, Err(DomainError::InvalidInput(_))),
            "{wrong:?}"
        );
        let missing = domain
            .update_version_metadata(
                &actor,
                &r,
                &VersionName::parse("9.9.9").expect("version"),
                deprecated.clone(),
            )
            .await;
        assert!(
            matches!(missing, Err(DomainError::NotFound { .. })),
            "{missing:?}"
        );
        let updated = domain
            .update_version_metadata(&actor, &r, &version, deprecated.clone())
            .await
            .expect("update");
        assert_eq!(updated.metadata, deprecated);
        let (_, read) = domain
            .find_version(&actor, &r, &version)
            .await
            .expect("read");
        match read.metadata {
            VersionMetadata::Npm(m) => assert_eq!(m.deprecated(), Some("use v2")),
            other => panic!("not npm: {other:?}"),
        }
    }
}
