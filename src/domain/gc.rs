//! Garbage collection: purge deletions past the restore period, then blobs no file refers to.
use chrono::Duration;
use entity::{blob, image_blob, package, package_file, package_version};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};

use crate::{
    domain::{Domain, now},
    error::DomainResult,
};

/// What a collection removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    pub packages_purged: u64,
    pub versions_purged: u64,
    pub blobs_removed: u64,
    pub uploads_removed: u64,
}

impl Domain {
    /// Purges packages and versions deleted more than `restore_days` ago and removes blobs
    /// no longer referenced that are older than `grace` (so an upload between staging and
    /// its publish transaction is never collected).
    pub async fn collect_garbage(&self, grace: Duration) -> DomainResult<GcReport> {
        let cutoff = now() - Duration::days(self.config.restore_days);
        let versions_purged = package_version::Entity::delete_many()
            .filter(package_version::Column::DeletedAt.lt(cutoff))
            .exec(&self.db)
            .await?
            .rows_affected;
        let packages_purged = package::Entity::delete_many()
            .filter(package::Column::DeletedAt.lt(cutoff))
            .exec(&self.db)
            .await?
            .rows_affected;
        let mut report = GcReport {
            packages_purged,
            versions_purged,
            ..Default::default()
        };
        let referenced = package_file::Entity::find()
            .select_only()
            .column(package_file::Column::BlobDigest)
            .distinct()
            .into_query();
        // Blobs linked to an image within the grace period are about to be used by a
        // manifest (a push in progress, a mount of an old layer): they stay too.
        let recently_linked = image_blob::Entity::find()
            .select_only()
            .column(image_blob::Column::Digest)
            .filter(image_blob::Column::CreatedAt.gte(now() - grace))
            .into_query();
        let orphans = blob::Entity::find()
            .filter(blob::Column::Digest.not_in_subquery(referenced))
            .filter(blob::Column::Digest.not_in_subquery(recently_linked))
            .filter(blob::Column::CreatedAt.lt(now() - grace))
            .all(&self.db)
            .await?;
        for orphan in orphans {
            let hex = orphan.digest.trim_start_matches("sha256:").to_string();
            // Row first: a blob without a row is an orphan GC finds again; a row without a
            // blob would be a broken download. The delete re-checks, as of now, that the row
            // is still old and unreferenced: a publish that claimed it since keeps it.
            let referenced = package_file::Entity::find()
                .select_only()
                .column(package_file::Column::BlobDigest)
                .filter(package_file::Column::BlobDigest.eq(orphan.digest.as_str()))
                .into_query();
            let linked = image_blob::Entity::find()
                .select_only()
                .column(image_blob::Column::Digest)
                .filter(image_blob::Column::Digest.eq(orphan.digest.as_str()))
                .filter(image_blob::Column::CreatedAt.gte(now() - grace))
                .into_query();
            let deleted = blob::Entity::delete_many()
                .filter(blob::Column::Digest.eq(orphan.digest.as_str()))
                .filter(blob::Column::CreatedAt.lt(now() - grace))
                .filter(blob::Column::Digest.not_in_subquery(referenced))
                .filter(blob::Column::Digest.not_in_subquery(linked))
                .exec(&self.db)
                .await?;
            if deleted.rows_affected == 1 {
                self.blobs.delete(&hex).await?;
                report.blobs_removed += 1;
            }
        }
        // Blobs staged but never recorded (a publish refused after its upload, a crash
        // between staging and commit) have no row at all.
        let old = self.blobs.blobs_older_than(now() - grace).await?;
        for chunk in old.chunks(500) {
            let recorded: std::collections::HashSet<String> = blob::Entity::find()
                .select_only()
                .column(blob::Column::Digest)
                .filter(blob::Column::Digest.is_in(chunk.iter().map(|h| format!("sha256:{h}"))))
                .into_tuple::<String>()
                .all(&self.db)
                .await?
                .into_iter()
                .collect();
            for hex in chunk {
                let digest = format!("sha256:{hex}");
                // Looked at again just before deleting: a publish may have recorded it since.
                if !recorded.contains(&digest)
                    && blob::Entity::find_by_id(digest)
                        .one(&self.db)
                        .await?
                        .is_none()
                {
                    self.blobs.delete(hex).await?;
                    report.blobs_removed += 1;
                }
            }
        }
        // Upload sessions may idle for their TTL before their chunks count as abandoned.
        let upload_grace = grace.max(Duration::hours(crate::domain::registry::UPLOAD_TTL_HOURS));
        report.uploads_removed = self.expire_uploads().await?
            + self
                .blobs
                .remove_stale_uploads(now() - upload_grace)
                .await?;
        Ok(report)
    }
}
