//! What the npm door needs beyond publish and download: reading a staged tarball back to
//! check its manifest, npm's document revision, and applying an update document (the
//! packument npm sends back to deprecate or unpublish versions and move dist-tags).
use std::collections::{BTreeMap, HashMap};

use entity::{package, package_tag, package_version};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionTrait, sea_query::Expr,
};

use crate::{
    auth::{Actor, policy::Action},
    domain::{
        Domain, audit,
        metadata::{NpmMetadata, VersionMetadata},
        now,
        packages::{PackageRef, ensure_latest_tag, touch_package, upsert_tag},
        versions::set_version_metadata_in,
    },
    error::{DomainError, DomainResult, What},
    storage::{BlobRead, StagedBlob},
};

/// The document revision npm sends back with an update (`_rev`, `/-rev/REV`): changes
/// whenever a version is published or removed, or the package is otherwise updated.
pub fn npm_revision(updated_at: chrono::DateTime<chrono::Utc>, live_versions: usize) -> String {
    let time = updated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let stamp = crate::storage::hex_sha256(time.as_bytes());
    format!("{}-{}", live_versions.max(1), &stamp[..16])
}

/// A dist-tag must not look like a version range, or `npm install pkg@TAG` would be
/// ambiguous.
pub fn check_dist_tag(tag: &str) -> DomainResult<()> {
    if tag.is_empty()
        || tag.len() > 64
        || tag
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c.is_control())
    {
        return Err(DomainError::invalid(format!("invalid dist-tag {tag:?}")));
    }
    if semver::VersionReq::parse(tag).is_ok() {
        return Err(DomainError::invalid(format!(
            "dist-tag {tag:?} can be interpreted as a semver range"
        )));
    }
    Ok(())
}

/// An npm update document, as the door read it.
#[derive(Clone, Debug)]
pub struct NpmDocumentUpdate {
    /// The revision the document was written against: it must be the current one.
    pub revision: String,
    /// The versions the document keeps, each with the deprecation message it carries.
    /// Live versions it leaves out are unpublished.
    pub versions: BTreeMap<String, Option<String>>,
    /// The document's dist-tags: those pointing at a version it keeps are moved there.
    pub dist_tags: Vec<(String, String)>,
}

/// What became of an update document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NpmUpdateOutcome {
    Applied,
    /// The package changed since the document was fetched: nothing was applied (a version
    /// published meanwhile would be "left out", and unpublished).
    StaleRevision {
        current: String,
    },
}

/// The changes an update document makes, worked out before any of them is applied.
struct UpdatePlan {
    dropped: Vec<package_version::Model>,
    deprecations: Vec<(package_version::Model, VersionMetadata)>,
    /// Tag → version id.
    tag_moves: Vec<(String, i64)>,
}

impl Domain {
    /// Opens a blob staged by this request (before it is published) to inspect it.
    pub async fn open_staged(&self, staged: &StagedBlob) -> DomainResult<BlobRead> {
        self.blobs.open(&staged.digests.sha256, None).await
    }

    /// Whether the staged blob reads back as the bytes that were verified. Stores whose
    /// copy is not atomic (s3s-fs rewrites an object in place) can show a reader a blob
    /// that another publish of the same bytes is promoting at that moment: a failed read
    /// of such a blob is that race, not a bad upload, and is read again.
    pub async fn staged_reads_back_whole(&self, staged: &StagedBlob) -> bool {
        self.blobs
            .compute_digests(&staged.digests.sha256, crate::storage::DigestSet::default())
            .await
            .is_ok_and(|d| d.sha256 == staged.digests.sha256)
    }

    /// Applies an npm update document whole or not at all: every change it makes is
    /// authorized first (write for deprecations and tag moves, delete for each version it
    /// drops), then all are applied in one transaction, against the revision it names.
    /// A document that drops every version is refused: npm unpublishes a whole package
    /// with `DELETE /-rev/REV`, never with an empty document.
    pub async fn update_npm_document(
        &self,
        actor: &Actor,
        r: &PackageRef,
        update: &NpmDocumentUpdate,
    ) -> DomainResult<NpmUpdateOutcome> {
        let (pkg, owner) = self.live_package(actor, r).await?;
        self.authorize_package(actor, Action::Write, &pkg, &owner)
            .await?;
        let live = live_versions(&self.db, pkg.id).await?;
        let current = npm_revision(pkg.updated_at, live.len());
        if update.revision != current {
            return Ok(NpmUpdateOutcome::StaleRevision { current });
        }
        let plan = self.plan_update(pkg.id, &live, update).await?;
        if !plan.dropped.is_empty() {
            self.authorize_package(actor, Action::Delete, &pkg, &owner)
                .await?;
            for v in &plan.dropped {
                self.check_delete_threshold(&pkg, Some(v.id)).await?;
            }
        }
        let txn = self.db.begin().await?;
        match apply_update(&txn, actor, &pkg, &live, &current, plan).await {
            Ok(NpmUpdateOutcome::Applied) => {
                self.emit_event(
                    &txn,
                    actor,
                    crate::domain::events::EventKind::Updated,
                    pkg.id,
                    None,
                )
                .await?;
                txn.commit().await?;
                self.events_committed().await;
                self.package_changed(pkg.id).await;
                Ok(NpmUpdateOutcome::Applied)
            }
            other => {
                txn.rollback().await?;
                other
            }
        }
    }

    async fn plan_update(
        &self,
        package_id: i64,
        live: &[package_version::Model],
        update: &NpmDocumentUpdate,
    ) -> DomainResult<UpdatePlan> {
        if let Some(unknown) = update
            .versions
            .keys()
            .find(|name| !live.iter().any(|v| &v.version == *name))
        {
            return Err(DomainError::invalid(format!(
                "the document lists version {unknown}, which is not published: a version is \
                 published with its tarball"
            )));
        }
        let (kept, dropped): (Vec<_>, Vec<_>) = live
            .iter()
            .cloned()
            .partition(|v| update.versions.contains_key(&v.version));
        if kept.is_empty() && !dropped.is_empty() {
            return Err(DomainError::invalid(
                "the document leaves out every version: unpublish the whole package instead \
                 (npm unpublish --force)",
            ));
        }
        let mut deprecations = Vec::new();
        for v in &kept {
            let wanted = update.versions.get(&v.version).cloned().flatten();
            let mut npm = match VersionMetadata::from_stored(v.metadata.clone()) {
                VersionMetadata::Npm(m) => m,
                _ => NpmMetadata {
                    manifest: serde_json::json!({}),
                },
            };
            if wanted.as_deref() == npm.deprecated() {
                continue;
            }
            npm.set_deprecated(wanted.as_deref());
            deprecations.push((v.clone(), VersionMetadata::Npm(npm)));
        }
        // Tags the document points elsewhere (at a version it keeps). Tags it leaves out
        // are kept: removing one is `npm dist-tag rm`'s own request, and a dropped
        // version's tags go with it.
        let tags: HashMap<String, i64> = package_tag::Entity::find()
            .filter(package_tag::Column::PackageId.eq(package_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| (t.name, t.version_id))
            .collect();
        let mut tag_moves = Vec::new();
        for (tag, version) in &update.dist_tags {
            let Some(target) = kept.iter().find(|v| &v.version == version) else {
                continue;
            };
            if tags.get(tag) != Some(&target.id) {
                check_dist_tag(tag)?;
                tag_moves.push((tag.clone(), target.id));
            }
        }
        Ok(UpdatePlan {
            dropped,
            deprecations,
            tag_moves,
        })
    }
}

/// Live versions of a package, oldest first.
async fn live_versions<C: sea_orm::ConnectionTrait>(
    db: &C,
    package_id: i64,
) -> DomainResult<Vec<package_version::Model>> {
    Ok(package_version::Entity::find()
        .filter(package_version::Column::PackageId.eq(package_id))
        .filter(package_version::Column::DeletedAt.is_null())
        .order_by_asc(package_version::Column::Id)
        .all(db)
        .await?)
}

async fn apply_update(
    txn: &DatabaseTransaction,
    actor: &Actor,
    pkg: &package::Model,
    planned_against: &[package_version::Model],
    revision: &str,
    plan: UpdatePlan,
) -> DomainResult<NpmUpdateOutcome> {
    // Take the package's row first (a write lock on every backend), then check that the
    // package is still what the plan was made from: a publish or unpublish in between
    // would otherwise be undone or overridden.
    package::Entity::update_many()
        .col_expr(
            package::Column::UpdatedAt,
            Expr::col(package::Column::UpdatedAt),
        )
        .filter(package::Column::Id.eq(pkg.id))
        .exec(txn)
        .await?;
    let locked = package::Entity::find_by_id(pkg.id)
        .one(txn)
        .await?
        .filter(|p| p.deleted_at.is_none())
        .ok_or_else(|| DomainError::not_found(What::Package, "package"))?;
    let live = live_versions(txn, pkg.id).await?;
    let current = npm_revision(locked.updated_at, live.len());
    let same_versions = live
        .iter()
        .map(|v| v.id)
        .eq(planned_against.iter().map(|v| v.id));
    if current != revision || !same_versions {
        return Ok(NpmUpdateOutcome::StaleRevision { current });
    }
    let at = now();
    for v in plan.dropped {
        // Tags must not point at a deleted version.
        package_tag::Entity::delete_many()
            .filter(package_tag::Column::VersionId.eq(v.id))
            .exec(txn)
            .await?;
        let mut active = v.into_active_model();
        active.deleted_at = Set(Some(at));
        let v = active.update(txn).await?;
        audit::record(
            txn,
            actor,
            "package_version.delete",
            "package_version",
            Some(v.id),
            serde_json::json!({"version": v.version}),
        )
        .await?;
    }
    for (v, metadata) in plan.deprecations {
        set_version_metadata_in(txn, v, &metadata, at).await?;
    }
    for (tag, version_id) in &plan.tag_moves {
        upsert_tag(txn, pkg.id, tag, *version_id).await?;
    }
    ensure_latest_tag(txn, pkg).await?;
    // The document changed: its revision must too (a second stale update is refused).
    touch_package(txn, pkg.id).await?;
    Ok(NpmUpdateOutcome::Applied)
}
