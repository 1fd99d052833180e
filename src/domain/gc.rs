//! Garbage collection: purge deletions past the restore period, then blobs no file refers to.
//!
//! One collection at a time across every replica: on PostgreSQL a collection first takes a
//! transaction-scoped advisory lock ([`GC_LOCK`]) on a connection it keeps for its whole run;
//! a replica (or `packyard gc`) that finds it taken skips its turn. Each step also stands
//! alone (re-checked deletes), so a collection killed midway leaves nothing wrong.
use chrono::Duration;
use entity::{blob, image_blob, package_file, upload_session};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait, Set, Statement, TransactionTrait, sea_query::OnConflict,
};

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
    /// Another collection held the claim: this one did nothing.
    pub skipped: bool,
}

/// The PostgreSQL advisory lock key of garbage collection ("pack_gc" in ASCII).
pub const GC_LOCK: i64 = 0x7061_636b_5f67_6300;

impl Domain {
    /// Purges packages and versions deleted more than `restore_days` ago and removes blobs
    /// no longer referenced that are older than `grace` (so an upload between staging and
    /// its publish transaction is never collected).
    pub async fn collect_garbage(&self, grace: Duration) -> DomainResult<GcReport> {
        if self.db.get_database_backend() != DatabaseBackend::Postgres {
            // One process owns a SQLite database.
            return self.collect_garbage_claimed(grace).await;
        }
        // The claim lives as long as this transaction; the work runs on other connections.
        let claim = self.db.begin().await?;
        let taken = claim
            .query_one_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_try_advisory_xact_lock($1) AS taken",
                [GC_LOCK.into()],
            ))
            .await?
            .map(|row| row.try_get::<bool>("", "taken"))
            .transpose()?
            .unwrap_or(false);
        if !taken {
            tracing::info!("garbage collection skipped: another replica is collecting");
            return Ok(GcReport {
                skipped: true,
                ..Default::default()
            });
        }
        let report = self.collect_garbage_claimed(grace).await;
        claim.rollback().await?;
        report
    }

    async fn collect_garbage_claimed(&self, grace: Duration) -> DomainResult<GcReport> {
        let cutoff = now() - Duration::days(self.config.restore_days);
        // Counts the bytes the purge frees per owner (`retention`), in its transaction.
        let (versions_purged, packages_purged) = self.purge_expired(cutoff).await?;
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
            // The delete and the file's removal share a transaction: the deleted row stays
            // locked until the file is gone, so a publish claiming the same bytes
            // (`claim_blob`) waits, then finds no file and stores it again.
            let txn = self.db.begin().await?;
            let deleted = blob::Entity::delete_many()
                .filter(blob::Column::Digest.eq(orphan.digest.as_str()))
                .filter(blob::Column::CreatedAt.lt(now() - grace))
                .filter(blob::Column::Digest.not_in_subquery(referenced))
                .filter(blob::Column::Digest.not_in_subquery(linked))
                .exec(&txn)
                .await?;
            if deleted.rows_affected == 1 {
                self.blobs.delete(&hex).await?;
                report.blobs_removed += 1;
            }
            txn.commit().await?;
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
            for hex in chunk
                .iter()
                .filter(|h| !recorded.contains(&format!("sha256:{h}")))
            {
                // The claim `claim_blob` takes too: a row for the digest, inserted (only if
                // there is none: a publish may have claimed it since) and deleted with the
                // file in one transaction, so it is never seen, and a claim made meanwhile
                // waits for it.
                let txn = self.db.begin().await?;
                let claimed = blob::Entity::insert(blob::ActiveModel {
                    digest: Set(format!("sha256:{hex}")),
                    size: Set(0),
                    md5: Set(None),
                    sha1: Set(None),
                    sha512: Set(None),
                    created_at: Set(now() - grace - grace),
                })
                .on_conflict(
                    OnConflict::column(blob::Column::Digest)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
                if claimed == 1 {
                    self.blobs.delete(hex).await?;
                    blob::Entity::delete_by_id(format!("sha256:{hex}"))
                        .exec(&txn)
                        .await?;
                    report.blobs_removed += 1;
                }
                txn.commit().await?;
            }
        }
        // Upload sessions may idle for their TTL before their chunks count as abandoned.
        let upload_grace = grace.max(Duration::hours(crate::domain::registry::UPLOAD_TTL_HOURS));
        report.uploads_removed = self.expire_uploads().await?
            + self
                .blobs
                .remove_stale_uploads(now() - upload_grace)
                .await?;
        // Staging of single-request uploads and temp files (NuGet's package inspection)
        // that a crash cut off: nothing owns them once the grace period is over.
        let sessions = upload_session::Entity::find()
            .select_only()
            .column(upload_session::Column::Id)
            .into_tuple::<String>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        report.uploads_removed += self
            .blobs
            .remove_unowned_uploads(now() - grace, sessions)
            .await?;
        let tmp = self.config.data_dir.join("tmp");
        let cutoff = std::time::SystemTime::from(now() - grace);
        report.uploads_removed += tokio::task::spawn_blocking(move || {
            crate::storage::remove_files_older_than(&tmp, cutoff)
        })
        .await
        .map_err(crate::error::DomainError::internal)??;
        Ok(report)
    }
}
