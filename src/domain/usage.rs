//! Usage metering and quotas, per owner (a user or an organization).
//!
//! - **Storage** is what the owner's live private and internal packages' files take, a blob
//!   counted once per owner however many versions (or formats) share it. It is computed from
//!   the database when asked (one aggregate over the owner's files, indexed by owner), so it
//!   is exact at every moment on every replica: publishing, deleting, restoring or changing
//!   visibility changes it with the transaction that does it, and nothing is kept to drift.
//! - **Transfer** is the bytes of private and internal *files* sent (artifacts, layers; not
//!   metadata documents), counted when a response body ends or is dropped (Range requests
//!   count what was sent), buffered in memory like download counts and added to
//!   `usage_daily` by the flush job in one additive upsert per (owner, day): exact across
//!   replicas; a crash loses at most the bytes of the last flush interval (5 s).
//! - **Quotas** (`usage_quota`; owners without a row get the configured default): `None` is
//!   unlimited, 0 allows nothing. A publish is refused when storage after it would exceed
//!   the quota and it grows storage; a private download when the month's transfer plus
//!   its bytes would exceed it. Public packages are never metered nor refused.
//! - **Thresholds** 75/90/100 % write one `usage_threshold` row per owner, kind, threshold and
//!   month (a unique index makes it once, on any replica) with an audit entry, and call
//!   [`threshold_crossed`].
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use chrono::{Datelike, NaiveDate};
use entity::{usage_daily, usage_quota, usage_threshold};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    Statement,
    sea_query::{Alias, Expr, ExprTrait, Func, OnConflict},
};

use crate::{
    auth::Actor,
    domain::{
        Domain, audit, now,
        types::{AccountKind, OrgRole, Visibility},
        views::{AccountInfo, PackageInfo},
    },
    error::{DomainError, DomainResult, What},
    storage::BlobRead,
};

/// The thresholds (percent of a quota) that are announced once a month each.
pub const THRESHOLDS: [i32; 3] = [75, 90, 100];

/// An owner's limits; `None` is unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quota {
    pub storage_bytes: Option<i64>,
    /// Per calendar month (UTC).
    pub transfer_bytes: Option<i64>,
}

impl Quota {
    /// The default from settings (bytes; beyond `i64::MAX` is as good as unlimited).
    pub fn from_config(storage: Option<u64>, transfer: Option<u64>) -> Self {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Self {
            storage_bytes: storage.map(clamp),
            transfer_bytes: transfer.map(clamp),
        }
    }
}

/// What is metered: the kind in threshold rows, audit entries and webhook events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr, strum::Display)]
#[strum(serialize_all = "lowercase")]
pub enum UsageKind {
    Storage,
    Transfer,
}

/// One day of transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyTransfer {
    pub day: NaiveDate,
    pub bytes: i64,
}

/// An owner's usage and limits.
#[derive(Clone, Debug)]
pub struct UsageReport {
    pub owner_id: i64,
    pub owner_login: String,
    pub storage_bytes: i64,
    /// Since the first of this month (UTC).
    pub month_transfer_bytes: i64,
    /// The last 30 days, days without transfer omitted.
    pub daily: Vec<DailyTransfer>,
    pub quota: Quota,
    /// Whether the quota is the owner's own (else the default).
    pub quota_is_own: bool,
    /// Bytes garbage collection freed by purging the owner's deletions (`retention`).
    pub reclaimed_bytes: i64,
    /// Bytes of the owner's deleted versions awaiting purge after the restore period.
    pub pending_reclamation_bytes: i64,
}

type Pending = Arc<Mutex<HashMap<(i64, NaiveDate), i64>>>;

/// Transfer not written yet, per (owner, day).
#[derive(Default)]
pub struct TransferMeter {
    pending: Pending,
    /// Held while taken counts are being written (see `stats::DownloadCounter`).
    flushing: tokio::sync::Mutex<()>,
    /// SQL statements `/metrics` ran for these lines, left out of its statement counter
    /// (which measures the work requests cause; tests count a request's statements with it).
    metrics_statements: std::sync::atomic::AtomicU64,
}

fn add(pending: &Pending, key: (i64, NaiveDate), bytes: i64) {
    if let Ok(mut p) = pending.lock() {
        *p.entry(key).or_default() += bytes;
    }
}

impl TransferMeter {
    fn take(&self) -> HashMap<(i64, NaiveDate), i64> {
        self.pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default()
    }

    fn pending_for(&self, owner_id: i64, since: NaiveDate) -> i64 {
        self.pending
            .lock()
            .map(|p| {
                p.iter()
                    .filter(|((o, d), _)| *o == owner_id && *d >= since)
                    .map(|(_, n)| *n)
                    .sum()
            })
            .unwrap_or(0)
    }
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn metered(visibility: Visibility) -> bool {
    visibility != Visibility::Public
}

fn human(bytes: i64) -> String {
    format!("{bytes} bytes")
}

/// Storage of owners' live private and internal packages, a blob once per owner.
/// `owner` narrows it to one owner (an integer: safe to inline).
fn storage_sql(owner: Option<i64>) -> String {
    let only = owner
        .map(|id| format!(" AND p.owner_id = {id}"))
        .unwrap_or_default();
    format!(
        "SELECT u.owner_id AS owner_id, CAST(COALESCE(SUM(u.size), 0) AS BIGINT) AS bytes FROM \
         (SELECT DISTINCT p.owner_id AS owner_id, f.blob_digest AS digest, f.size AS size \
          FROM package_file f \
          JOIN package_version v ON v.id = f.version_id \
          JOIN package p ON p.id = v.package_id \
          WHERE p.visibility <> 'public' AND p.deleted_at IS NULL AND v.deleted_at IS NULL{only}) u \
         GROUP BY u.owner_id"
    )
}

async fn storage_of<C: ConnectionTrait>(db: &C, owner_id: i64) -> DomainResult<i64> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(backend, storage_sql(Some(owner_id))))
        .await?;
    Ok(match row {
        Some(row) => row.try_get::<i64>("", "bytes")?,
        None => 0,
    })
}

async fn quota_row<C: ConnectionTrait>(
    db: &C,
    owner_id: i64,
) -> DomainResult<Option<usage_quota::Model>> {
    Ok(usage_quota::Entity::find_by_id(owner_id).one(db).await?)
}

/// A threshold reached: called once per owner, kind, threshold and month, inside the
/// transaction that recorded the crossing, it writes a `usage` webhook delivery
/// (`threshold_reached`) for each of the owner's own hooks into the outbox there, so the
/// delivery is as durable as the record.
pub(crate) async fn threshold_crossed<C: ConnectionTrait>(
    db: &C,
    owner_id: i64,
    kind: UsageKind,
    percent: i32,
    used: i64,
    quota: i64,
) -> DomainResult<()> {
    tracing::info!(owner_id, %kind, percent, used, quota, "usage threshold crossed");
    let Some(owner) = entity::account::Entity::find_by_id(owner_id)
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let who = serde_json::json!({"login": owner.login, "id": owner.id});
    let payload = serde_json::json!({
        "action": "threshold_reached",
        "usage": {
            "kind": kind.to_string(),
            "percent": percent,
            "used_bytes": used,
            "quota_bytes": quota,
            "month": first_of_month(now().date_naive()).format("%Y-%m").to_string(),
        },
        "organization": (owner.kind == "organization").then(|| who.clone()),
        "sender": who,
    });
    crate::domain::webhooks::enqueue_owner_event(
        db,
        owner_id,
        "usage",
        "threshold_reached",
        &payload,
    )
    .await?;
    Ok(())
}

/// Records the thresholds `used` has reached this month that weren't recorded yet.
async fn record_thresholds<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    owner_id: i64,
    kind: UsageKind,
    used: i64,
    quota: Option<i64>,
) -> DomainResult<()> {
    let Some(quota) = quota.filter(|q| *q > 0) else {
        return Ok(());
    };
    let month = first_of_month(now().date_naive());
    for percent in THRESHOLDS {
        if i128::from(used) * 100 < i128::from(quota) * i128::from(percent) {
            break;
        }
        let inserted = usage_threshold::Entity::insert(usage_threshold::ActiveModel {
            owner_id: Set(owner_id),
            kind: Set(kind.to_string()),
            percent: Set(percent),
            month: Set(month),
            created_at: Set(now()),
            ..Default::default()
        })
        .on_conflict(
            OnConflict::columns([
                usage_threshold::Column::OwnerId,
                usage_threshold::Column::Kind,
                usage_threshold::Column::Percent,
                usage_threshold::Column::Month,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
        if inserted == 1 {
            audit::record(
                db,
                actor,
                "usage.threshold",
                "account",
                Some(owner_id),
                serde_json::json!({
                    "kind": kind.to_string(),
                    "percent": percent,
                    "used_bytes": used,
                    "quota_bytes": quota,
                    "month": month.format("%Y-%m").to_string(),
                }),
            )
            .await?;
            threshold_crossed(db, owner_id, kind, percent, used, quota).await?;
        }
    }
    Ok(())
}

/// A publish's storage before it wrote anything, when its owner has a storage quota.
pub(crate) struct StorageCheck {
    owner_id: i64,
    owner_login: String,
    quota: i64,
    before: i64,
}

impl Domain {
    /// The quota that applies to an owner (its own, else the default).
    pub(crate) async fn quota_of<C: ConnectionTrait>(
        &self,
        db: &C,
        owner_id: i64,
    ) -> DomainResult<(Quota, bool)> {
        Ok(match quota_row(db, owner_id).await? {
            Some(row) => (
                Quota {
                    storage_bytes: row.storage_bytes,
                    transfer_bytes: row.transfer_bytes,
                },
                true,
            ),
            None => (self.config.default_quota, false),
        })
    }

    /// Before a publish into a package of `visibility` writes rows: what storage is now, if
    /// the owner has a storage quota (else nothing to check).
    pub(crate) async fn storage_check<C: ConnectionTrait>(
        &self,
        db: &C,
        owner_id: i64,
        owner_login: &str,
        visibility: &str,
    ) -> DomainResult<Option<StorageCheck>> {
        if visibility == Visibility::Public.as_str() {
            return Ok(None);
        }
        let (quota, _) = self.quota_of(db, owner_id).await?;
        let Some(quota) = quota.storage_bytes else {
            return Ok(None);
        };
        Ok(Some(StorageCheck {
            owner_id,
            owner_login: owner_login.to_string(),
            quota,
            before: storage_of(db, owner_id).await?,
        }))
    }

    /// After a publish wrote its rows (in its transaction): refuses it when it grew storage
    /// past the quota (the transaction then rolls back, and the staged blobs are orphans GC
    /// reclaims), and records the thresholds it reached.
    pub(crate) async fn enforce_storage<C: ConnectionTrait>(
        &self,
        db: &C,
        actor: &Actor,
        check: Option<StorageCheck>,
    ) -> DomainResult<()> {
        let Some(check) = check else {
            return Ok(());
        };
        let after = storage_of(db, check.owner_id).await?;
        if after > check.before && after > check.quota {
            return Err(DomainError::QuotaExceeded(format!(
                "storage quota exceeded for {}: this publish needs {} more, {} of {} used",
                check.owner_login,
                human(after - check.before),
                human(check.before),
                human(check.quota),
            )));
        }
        if after > check.before {
            record_thresholds(
                db,
                actor,
                check.owner_id,
                UsageKind::Storage,
                after,
                Some(check.quota),
            )
            .await?;
        }
        Ok(())
    }

    /// Refuses an upload of `size` bytes (when a door knows it before reading the body)
    /// into a private or internal package that would push the owner past its storage quota,
    /// before any byte is stored. The publish checks again, exactly, in its transaction.
    async fn refuse_over_storage_quota(
        &self,
        owner_id: i64,
        owner_login: &str,
        visibility: &str,
        size: Option<u64>,
    ) -> DomainResult<()> {
        let Some(check) = self
            .storage_check(&self.db, owner_id, owner_login, visibility)
            .await?
        else {
            return Ok(());
        };
        let size = size.map_or(0, |s| i64::try_from(s).unwrap_or(i64::MAX));
        // With no size known, an owner already at its quota can't store anything new.
        let over = if size == 0 {
            check.before >= check.quota
        } else {
            check.before.saturating_add(size) > check.quota
        };
        if over {
            return Err(DomainError::QuotaExceeded(format!(
                "storage quota exceeded for {owner_login}: {} of {} used{}",
                human(check.before),
                human(check.quota),
                if size > 0 {
                    format!(", this upload is {}", human(size))
                } else {
                    String::new()
                }
            )));
        }
        Ok(())
    }

    /// Refuses an upload to `r` of `size` bytes (when the door knows it from
    /// `Content-Length`) before any byte is stored, when the package (or a new one, at the
    /// owner's default visibility) is private or internal and the owner's storage quota
    /// can't take it. Without a size, an owner already at its quota is refused. The publish
    /// checks again, exactly, in its transaction.
    pub async fn refuse_upload_over_quota(
        &self,
        r: &crate::domain::packages::PackageRef,
        size: Option<u64>,
    ) -> DomainResult<()> {
        let (owner, visibility) = match self.package_model(r).await? {
            Some((pkg, owner)) => (owner, pkg.visibility),
            None => {
                let owner = self.account_model(&r.owner).await?;
                let visibility = if owner.kind == AccountKind::Organization.as_str() {
                    owner.default_package_visibility.clone()
                } else {
                    Visibility::Private.as_str().to_string()
                };
                (owner, visibility)
            }
        };
        self.refuse_over_storage_quota(owner.id, &owner.login, &visibility, size)
            .await
    }

    /// Before serving `bytes` of a private or internal file: refuses it past the owner's
    /// transfer quota for the month. Public files are never refused.
    async fn refuse_over_transfer_quota(
        &self,
        owner_id: i64,
        owner_login: &str,
        visibility: Visibility,
        bytes: u64,
    ) -> DomainResult<()> {
        if !metered(visibility) {
            return Ok(());
        }
        let (quota, _) = self.quota_of(&self.db, owner_id).await?;
        let Some(quota) = quota.transfer_bytes else {
            return Ok(());
        };
        let used = self.month_transfer(owner_id).await?;
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        if used.saturating_add(bytes) > quota {
            return Err(DomainError::QuotaExceeded(format!(
                "transfer quota exceeded for {owner_login}: {} of {} used this month, this \
                 download is {}",
                human(used),
                human(quota),
                human(bytes),
            )));
        }
        Ok(())
    }

    /// The read of a file of `package`, refused past the owner's transfer quota and counted
    /// as transfer when the package is private or internal (the download hook).
    pub(crate) async fn metered_read(
        &self,
        package: &PackageInfo,
        read: BlobRead,
    ) -> DomainResult<BlobRead> {
        self.metered_owner_read(
            package.owner_id,
            &package.owner_login,
            package.visibility,
            read,
        )
        .await
    }

    /// `metered_read` of a container blob: the image's visibility (a blob linked to a name
    /// without a live image yet is as private as an image is by default).
    pub(crate) async fn metered_image_read(
        &self,
        image: &crate::domain::packages::PackageRef,
        read: BlobRead,
    ) -> DomainResult<BlobRead> {
        let (owner_id, login, visibility) = match self.package_model(image).await? {
            Some((pkg, owner)) => (
                owner.id,
                owner.login,
                crate::domain::types::parse_stored(&pkg.visibility)?,
            ),
            None => {
                let owner = self.account_model(&image.owner).await?;
                (owner.id, owner.login, Visibility::Private)
            }
        };
        self.metered_owner_read(owner_id, &login, visibility, read)
            .await
    }

    /// A manifest GET of a private or internal image (held in memory, served whole):
    /// refused past the transfer quota, else counted as sent.
    pub(crate) async fn meter_manifest(
        &self,
        image: &crate::domain::packages::PackageRef,
        len: usize,
    ) -> DomainResult<()> {
        let Some((pkg, owner)) = self.package_model(image).await? else {
            return Ok(());
        };
        let visibility = crate::domain::types::parse_stored(&pkg.visibility)?;
        if !metered(visibility) {
            return Ok(());
        }
        let len = len as u64;
        self.refuse_over_transfer_quota(owner.id, &owner.login, visibility, len)
            .await?;
        add(
            &self.usage.pending,
            (owner.id, now().date_naive()),
            i64::try_from(len).unwrap_or(i64::MAX),
        );
        Ok(())
    }

    async fn metered_owner_read(
        &self,
        owner_id: i64,
        owner_login: &str,
        visibility: Visibility,
        read: BlobRead,
    ) -> DomainResult<BlobRead> {
        if !metered(visibility) {
            return Ok(read);
        }
        let bytes = read.range.end.saturating_sub(read.range.start);
        self.refuse_over_transfer_quota(owner_id, owner_login, visibility, bytes)
            .await?;
        let pending = self.usage.pending.clone();
        let stream = read.stream.on_sent(Arc::new(move |n| {
            add(
                &pending,
                (owner_id, now().date_naive()),
                i64::try_from(n).unwrap_or(i64::MAX),
            );
        }));
        Ok(BlobRead { stream, ..read })
    }

    /// This month's transfer of an owner: written rows plus this replica's pending bytes.
    async fn month_transfer(&self, owner_id: i64) -> DomainResult<i64> {
        let since = first_of_month(now().date_naive());
        let written: Option<Option<i64>> = usage_daily::Entity::find()
            .select_only()
            .column_as(
                Expr::from(Func::cast_as(
                    Func::sum(Expr::col((
                        usage_daily::Entity,
                        usage_daily::Column::TransferBytes,
                    ))),
                    Alias::new("BIGINT"),
                )),
                "bytes",
            )
            .filter(usage_daily::Column::OwnerId.eq(owner_id))
            .filter(usage_daily::Column::Day.gte(since))
            .into_tuple()
            .one(&self.db)
            .await?;
        let written = written.flatten();
        Ok(written.unwrap_or(0) + self.usage.pending_for(owner_id, since))
    }

    /// Adds buffered transfer to `usage_daily` (one additive upsert per owner and day, so
    /// replicas add up) and records the transfer thresholds reached. Runs with the download
    /// flush, before usage is read, and at shutdown.
    pub async fn flush_usage(&self) -> DomainResult<()> {
        let _flushing = self.usage.flushing.lock().await;
        let pending = self.usage.take();
        let mut touched = Vec::new();
        for ((owner_id, day), bytes) in pending {
            let row = usage_daily::ActiveModel {
                owner_id: Set(owner_id),
                day: Set(day),
                transfer_bytes: Set(bytes),
                ..Default::default()
            };
            let result = usage_daily::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([usage_daily::Column::OwnerId, usage_daily::Column::Day])
                        .value(
                            usage_daily::Column::TransferBytes,
                            Expr::col((usage_daily::Entity, usage_daily::Column::TransferBytes))
                                .add(Expr::col((
                                    Alias::new("excluded"),
                                    usage_daily::Column::TransferBytes,
                                ))),
                        )
                        .to_owned(),
                )
                .exec_without_returning(&self.db)
                .await;
            match result {
                Ok(_) => touched.push(owner_id),
                Err(err) if err.to_string().to_ascii_lowercase().contains("foreign key") => {
                    tracing::warn!(owner_id, error = %err, "dropping transfer of a removed owner");
                }
                Err(err) => {
                    tracing::warn!(owner_id, error = %err, "keeping transfer for later");
                    add(&self.usage.pending, (owner_id, day), bytes);
                }
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for owner_id in touched {
            let (quota, _) = self.quota_of(&self.db, owner_id).await?;
            if quota.transfer_bytes.is_some() {
                let used = self.month_transfer(owner_id).await?;
                record_thresholds(
                    &self.db,
                    &Actor::Anonymous,
                    owner_id,
                    UsageKind::Transfer,
                    used,
                    quota.transfer_bytes,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Who may see an owner's usage and quota: the user itself, the organization's owners,
    /// site admins.
    async fn may_see_usage(&self, actor: &Actor, owner: &AccountInfo) -> DomainResult<bool> {
        if actor.site_admin() {
            return Ok(true);
        }
        let Some(uid) = actor.user_id() else {
            return Ok(false);
        };
        Ok(match owner.kind {
            AccountKind::User => uid == owner.id,
            AccountKind::Organization => {
                self.org_role(owner.id, uid).await? == Some(OrgRole::Owner)
            }
        })
    }

    /// An owner's usage as the actor may see it (`None`: not the actor's to see).
    pub async fn owner_usage(
        &self,
        actor: &Actor,
        owner: &AccountInfo,
    ) -> DomainResult<Option<UsageReport>> {
        if !self.may_see_usage(actor, owner).await? {
            return Ok(None);
        }
        self.usage_report(owner).await.map(Some)
    }

    /// An owner's usage (admin command; doors use `owner_usage`).
    pub async fn usage_report(&self, owner: &AccountInfo) -> DomainResult<UsageReport> {
        self.flush_usage().await?;
        let today = now().date_naive();
        let since = today - chrono::Days::new(29);
        let daily = usage_daily::Entity::find()
            .filter(usage_daily::Column::OwnerId.eq(owner.id))
            .filter(usage_daily::Column::Day.gte(since))
            .order_by_asc(usage_daily::Column::Day)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| DailyTransfer {
                day: r.day,
                bytes: r.transfer_bytes,
            })
            .collect();
        let (quota, quota_is_own) = self.quota_of(&self.db, owner.id).await?;
        let (reclaimed_bytes, pending_reclamation_bytes) =
            self.reclamation_of(&self.db, owner.id).await?;
        Ok(UsageReport {
            owner_id: owner.id,
            owner_login: owner.login.clone(),
            storage_bytes: storage_of(&self.db, owner.id).await?,
            month_transfer_bytes: self.month_transfer(owner.id).await?,
            daily,
            quota,
            quota_is_own,
            reclaimed_bytes,
            pending_reclamation_bytes,
        })
    }

    /// Sets an owner's own quotas (site admins; `None`: unlimited).
    pub async fn set_quota(
        &self,
        actor: &Actor,
        owner: &crate::domain::OwnerName,
        quota: Quota,
    ) -> DomainResult<UsageReport> {
        if !actor.site_admin() {
            return Err(DomainError::forbidden("only site admins set quotas"));
        }
        if quota.storage_bytes.is_some_and(|n| n < 0) || quota.transfer_bytes.is_some_and(|n| n < 0)
        {
            return Err(DomainError::invalid(
                "a quota is a number of bytes, 0 or more",
            ));
        }
        let account = self.find_account(owner).await.map_err(|e| match e {
            DomainError::NotFound { .. } => {
                DomainError::not_found(What::Owner, format!("owner {owner}"))
            }
            other => other,
        })?;
        let row = usage_quota::ActiveModel {
            owner_id: Set(account.id),
            storage_bytes: Set(quota.storage_bytes),
            transfer_bytes: Set(quota.transfer_bytes),
            updated_at: Set(now()),
        };
        let txn = sea_orm::TransactionTrait::begin(&self.db).await?;
        usage_quota::Entity::insert(row)
            .on_conflict(
                OnConflict::column(usage_quota::Column::OwnerId)
                    .update_columns([
                        usage_quota::Column::StorageBytes,
                        usage_quota::Column::TransferBytes,
                        usage_quota::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        audit::record(
            &txn,
            actor,
            "usage.set_quota",
            "account",
            Some(account.id),
            serde_json::json!({
                "storage_bytes": quota.storage_bytes,
                "transfer_bytes": quota.transfer_bytes,
            }),
        )
        .await?;
        txn.commit().await?;
        self.usage_report(&account).await
    }

    /// `/metrics` lines: storage and this month's transfer per owner that has any.
    pub async fn usage_metrics(&self) -> DomainResult<String> {
        let start = self.sql_statements();
        let lines = self.usage_metrics_lines().await;
        self.usage.metrics_statements.fetch_add(
            self.sql_statements().saturating_sub(start),
            std::sync::atomic::Ordering::Relaxed,
        );
        lines
    }

    /// SQL statements executed since start, without those of `/metrics`' usage lines.
    pub fn sql_statements_of_requests(&self) -> u64 {
        self.sql_statements().saturating_sub(
            self.usage
                .metrics_statements
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    async fn usage_metrics_lines(&self) -> DomainResult<String> {
        self.flush_usage().await?;
        let backend = self.db.get_database_backend();
        let storage = self
            .db
            .query_all_raw(Statement::from_string(backend, storage_sql(None)))
            .await?;
        let since = first_of_month(now().date_naive());
        let transfer = self
            .db
            .query_all_raw(Statement::from_string(
                backend,
                format!(
                    "SELECT owner_id, CAST(SUM(transfer_bytes) AS BIGINT) AS bytes \
                     FROM usage_daily WHERE day >= '{}' GROUP BY owner_id",
                    since.format("%Y-%m-%d")
                ),
            ))
            .await?;
        let mut ids = Vec::new();
        let mut lines = |rows: &[sea_orm::QueryResult]| -> DomainResult<Vec<(i64, i64)>> {
            rows.iter()
                .map(|r| {
                    let id = r.try_get::<i64>("", "owner_id")?;
                    ids.push(id);
                    Ok((id, r.try_get::<i64>("", "bytes")?))
                })
                .collect()
        };
        let storage = lines(&storage)?;
        let transfer = lines(&transfer)?;
        ids.sort_unstable();
        ids.dedup();
        let logins: HashMap<i64, String> = self
            .accounts_by_ids(&ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a.login))
            .collect();
        let mut out = String::from(
            "# HELP packyard_usage_storage_bytes Bytes of an owner's private and internal packages (a blob once per owner).\n\
             # TYPE packyard_usage_storage_bytes gauge\n",
        );
        for (id, bytes) in storage {
            if let Some(login) = logins.get(&id) {
                out.push_str(&format!(
                    "packyard_usage_storage_bytes{{owner=\"{login}\"}} {bytes}\n"
                ));
            }
        }
        out.push_str(
            "# HELP packyard_usage_transfer_month_bytes Bytes of private and internal files sent this month (UTC).\n\
             # TYPE packyard_usage_transfer_month_bytes gauge\n",
        );
        for (id, bytes) in transfer {
            if let Some(login) = logins.get(&id) {
                out.push_str(&format!(
                    "packyard_usage_transfer_month_bytes{{owner=\"{login}\"}} {bytes}\n"
                ));
            }
        }
        out.push_str(&self.reclamation_metrics().await?);
        Ok(out)
    }
}

/// A quota as the admin command takes it: bytes, or `unlimited` (also when omitted).
pub fn parse_quota(text: Option<&str>) -> DomainResult<Option<i64>> {
    match text.map(str::trim) {
        None | Some("unlimited" | "none") => Ok(None),
        Some(n) => n
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(Some)
            .ok_or_else(|| {
                DomainError::invalid(format!("{n:?}: expected a number of bytes or unlimited"))
            }),
    }
}

/// The admin command's text of a report.
pub fn render_report(r: &UsageReport) -> String {
    let limit = |q: Option<i64>| q.map_or_else(|| "unlimited".to_string(), |n| n.to_string());
    let mut out = format!(
        "owner {}\nstorage_bytes {}\nstorage_quota {}\nmonth_transfer_bytes {}\ntransfer_quota {}\nquota {}\n",
        r.owner_login,
        r.storage_bytes,
        limit(r.quota.storage_bytes),
        r.month_transfer_bytes,
        limit(r.quota.transfer_bytes),
        if r.quota_is_own { "own" } else { "default" },
    );
    out.push_str(&format!(
        "reclaimed_bytes {}\npending_reclamation_bytes {}\n",
        r.reclaimed_bytes, r.pending_reclamation_bytes
    ));
    for d in &r.daily {
        out.push_str(&format!("day {} {}\n", d.day, d.bytes));
    }
    out
}
