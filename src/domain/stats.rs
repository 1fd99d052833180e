//! Download statistics: counted in memory on the hot path, flushed to `download_daily` in
//! one statement per (version, day), so a download never waits on a database write.
use std::{collections::HashMap, sync::Mutex};

use chrono::NaiveDate;
use entity::download_daily;
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Alias, Expr, ExprTrait, Func, OnConflict},
};

use crate::{
    domain::{Domain, views::DailyDownloads},
    error::DomainResult,
};

#[derive(Default)]
pub struct DownloadCounter {
    pending: Mutex<HashMap<(i64, i64, NaiveDate), i64>>,
    /// Held while counts taken from `pending` are being written, so a reader that flushes
    /// before reading waits for a flush already under way (the background job's) instead of
    /// reading the table without the counts that flush holds.
    flushing: tokio::sync::Mutex<()>,
}

impl DownloadCounter {
    pub(crate) fn count(&self, package_id: i64, version_id: i64) {
        let day = chrono::Utc::now().date_naive();
        if let Ok(mut pending) = self.pending.lock() {
            *pending.entry((package_id, version_id, day)).or_default() += 1;
        }
    }

    /// Puts counts back that could not be written (they go with the next flush).
    fn restore(&self, key: (i64, i64, NaiveDate), count: i64) {
        if let Ok(mut pending) = self.pending.lock() {
            *pending.entry(key).or_default() += count;
        }
    }

    fn take(&self) -> HashMap<(i64, i64, NaiveDate), i64> {
        self.pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }
}

/// `SUM(count)` as a 64-bit integer on every backend (PostgreSQL's `SUM` of a `BIGINT` is a
/// `NUMERIC`, which doesn't decode as an `i64`).
fn total_count() -> Expr {
    Func::cast_as(
        Func::sum(Expr::col((
            download_daily::Entity,
            download_daily::Column::Count,
        ))),
        Alias::new("BIGINT"),
    )
    .into()
}

impl Domain {
    /// Writes buffered download counts. Runs every few seconds, before statistics are read,
    /// and at shutdown.
    pub async fn flush_downloads(&self) -> DomainResult<()> {
        let _flushing = self.downloads.flushing.lock().await;
        let pending = self.downloads.take();
        for ((package_id, version_id, day), count) in pending {
            let row = download_daily::ActiveModel {
                package_id: Set(package_id),
                version_id: Set(version_id),
                day: Set(day),
                count: Set(count),
                ..Default::default()
            };
            let result = download_daily::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([
                        download_daily::Column::VersionId,
                        download_daily::Column::Day,
                    ])
                    .value(
                        download_daily::Column::Count,
                        Expr::col((download_daily::Entity, download_daily::Column::Count)).add(
                            Expr::col((Alias::new("excluded"), download_daily::Column::Count)),
                        ),
                    )
                    .to_owned(),
                )
                .exec(&self.db)
                .await;
            if let Err(err) = result {
                let text = err.to_string().to_ascii_lowercase();
                if text.contains("foreign key") {
                    // A version purged meanwhile: its counts go with it.
                    tracing::warn!(version_id, error = %err, "dropping download counts");
                } else {
                    // The database is away (restarting, locked): count them next time.
                    tracing::warn!(version_id, error = %err, "keeping download counts for later");
                    self.downloads.restore((package_id, version_id, day), count);
                }
            }
        }
        Ok(())
    }

    /// Total downloads per version, for many versions at once.
    pub async fn version_download_totals(
        &self,
        version_ids: &[i64],
    ) -> DomainResult<HashMap<i64, i64>> {
        self.flush_downloads().await?;
        let rows: Vec<(i64, Option<i64>)> = download_daily::Entity::find()
            .select_only()
            .column(download_daily::Column::VersionId)
            .column_as(total_count(), "total")
            .filter(download_daily::Column::VersionId.is_in(version_ids.iter().copied()))
            .group_by(download_daily::Column::VersionId)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, n)| (id, n.unwrap_or(0)))
            .collect())
    }

    /// Total downloads per package, for many packages at once.
    pub async fn package_download_totals(
        &self,
        package_ids: &[i64],
    ) -> DomainResult<HashMap<i64, i64>> {
        self.flush_downloads().await?;
        let rows: Vec<(i64, Option<i64>)> = download_daily::Entity::find()
            .select_only()
            .column(download_daily::Column::PackageId)
            .column_as(total_count(), "total")
            .filter(download_daily::Column::PackageId.is_in(package_ids.iter().copied()))
            .group_by(download_daily::Column::PackageId)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, n)| (id, n.unwrap_or(0)))
            .collect())
    }

    /// The daily series of a package (or one of its versions) between two days, inclusive.
    /// Days without downloads are omitted.
    pub async fn downloads_daily(
        &self,
        package_id: i64,
        version_id: Option<i64>,
        since: NaiveDate,
        until: NaiveDate,
    ) -> DomainResult<Vec<DailyDownloads>> {
        self.flush_downloads().await?;
        let mut query = download_daily::Entity::find()
            .select_only()
            .column(download_daily::Column::Day)
            .column_as(total_count(), "total")
            .filter(download_daily::Column::PackageId.eq(package_id))
            .filter(download_daily::Column::Day.gte(since))
            .filter(download_daily::Column::Day.lte(until));
        if let Some(v) = version_id {
            query = query.filter(download_daily::Column::VersionId.eq(v));
        }
        let rows: Vec<(NaiveDate, Option<i64>)> = query
            .group_by(download_daily::Column::Day)
            .order_by_asc(download_daily::Column::Day)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(day, n)| DailyDownloads {
                day,
                count: n.unwrap_or(0),
            })
            .collect())
    }
}
