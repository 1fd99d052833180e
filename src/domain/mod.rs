//! The rules. Doors (formats, GraphQL, REST) call one method here per request; this layer
//! is the only one that touches `entity` (the database) and `storage` (the blob store), and
//! every decision about who may do what goes through `auth::policy`. It knows nothing of
//! HTTP or GraphQL and returns `DomainError`.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod cache;
pub mod download;
pub mod events;
pub mod gc;
pub mod index;
pub mod maven;
pub mod metadata;
pub mod names;
pub mod notify;
pub mod npm;
pub mod packages;
pub mod passwords;
pub mod publish;
pub mod registry;
pub mod retention;
pub mod rubygems;
pub mod rules;
pub mod sessions;
pub mod stats;
#[cfg(test)]
pub(crate) mod test_support;
pub mod tokens;
pub mod types;
pub mod usage;
pub mod versions;
pub mod views;
pub mod webhooks;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

use crate::{config::Config, error::DomainResult, storage::BlobStore};

pub use names::{FileName, OwnerName, PackageName, VersionName};
pub use types::{AccountKind, OrgRole, PackageType, RepositoryRole, Role, State, Visibility};

/// The domain services over one database and one blob store.
pub struct Domain {
    pub(crate) db: DatabaseConnection,
    pub(crate) blobs: BlobStore,
    pub(crate) config: Arc<Config>,
    pub(crate) downloads: stats::DownloadCounter,
    /// Transfer of private files not written yet (see `usage`).
    pub(crate) usage: usage::TransferMeter,
    /// SQL statements run so far (exported on `/metrics`; tests count queries with it).
    sql_statements: Arc<AtomicU64>,
    pub(crate) oci_keys: registry::OciKeys,
    pub(crate) cache: cache::ReadCache,
    pub(crate) passwords: passwords::PasswordGuard,
    /// Repository names by id, for the Maven door's read gate (repositories are never
    /// renamed, so an entry never goes stale).
    pub(crate) repository_names: maven::RepositoryNames,
    /// Notices to every replica (PostgreSQL `LISTEN/NOTIFY`; in-process on SQLite).
    pub(crate) notify: notify::Notifier,
    /// Set when this replica wrote webhook deliveries: its worker makes a pass at once.
    pub(crate) webhook_work: Arc<std::sync::atomic::AtomicBool>,
}

impl Domain {
    /// Connects to the configured database and blob store and runs pending migrations.
    pub async fn open(config: Arc<Config>) -> Result<Self, String> {
        // The data dir holds the database, the blobs or both (by default): the server's
        // user's only. A deployment on PostgreSQL and S3 doesn't use it, and gets none.
        let sqlite = config.database_url.starts_with("sqlite:");
        let local_blobs_inside = url::Url::parse(&config.storage_url)
            .ok()
            .filter(|u| u.scheme() == "file")
            .and_then(|u| u.to_file_path().ok())
            .zip(std::path::absolute(&config.data_dir).ok())
            .is_some_and(|(blobs, data_dir)| blobs.starts_with(data_dir));
        if sqlite || local_blobs_inside {
            crate::storage::private_dir(&config.data_dir)?;
        }
        if sqlite {
            private_sqlite_files(&config.database_url)?;
        }
        let mut options = ConnectOptions::new(config.database_url.clone());
        options
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10));
        if config.database_url.starts_with("sqlite:") {
            // One writer at a time is SQLite's model; WAL lets readers run beside it.
            options.max_connections(8).min_connections(1);
        } else {
            // With PostgreSQL out of reach (or every connection busy) a request waits at
            // most this long for a connection, then answers 503 (`DomainError::Unavailable`).
            // A refused or cut connection fails at once; 10 s rides out bursts (5 s didn't
            // under the suite's 32-way publish races on two cores).
            options
                .max_connections(config.database_max_connections)
                .min_connections(2)
                .acquire_timeout(Duration::from_secs(10));
        }
        let mut db = Database::connect(options)
            .await
            .map_err(|e| format!("database {}: {e}", redact_url(&config.database_url)))?;
        let sql_statements = Arc::new(AtomicU64::new(0));
        let counter = sql_statements.clone();
        db.set_metric_callback(move |_| {
            if BACKGROUND.try_with(|_| ()).is_err() {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        if config.database_url.starts_with("sqlite:") {
            for pragma in [
                "PRAGMA journal_mode=WAL",
                "PRAGMA busy_timeout=10000",
                "PRAGMA synchronous=NORMAL",
                "PRAGMA foreign_keys=ON",
            ] {
                db.execute_unprepared(pragma)
                    .await
                    .map_err(|e| format!("{pragma}: {e}"))?;
            }
        }
        Migrator::up(&db, None)
            .await
            .map_err(|e| format!("migrations: {e}"))?;
        let blobs = BlobStore::open_url(&config.storage_url, config.fsync)
            .map_err(|e| format!("storage: {e}"))?;
        blobs
            .write_marker()
            .await
            .map_err(|e| format!("storage: writing to {}: {e}", config.storage_url))?;
        let notify = if sqlite {
            notify::Notifier::local()
        } else {
            notify::Notifier::postgres(&config.database_url)
                .await
                .map_err(|e| format!("database {}: {e}", redact_url(&config.database_url)))?
        };
        Ok(Self {
            db,
            notify,
            blobs,
            downloads: stats::DownloadCounter::default(),
            usage: Default::default(),
            sql_statements,
            oci_keys: Default::default(),
            cache: Default::default(),
            passwords: passwords::PasswordGuard::new(config.logins.clone()),
            repository_names: Default::default(),
            webhook_work: Default::default(),
            config,
        })
    }

    /// The notices every replica sends from now on (see `notify`).
    pub fn notices(&self) -> tokio::sync::broadcast::Receiver<notify::Notice> {
        self.notify.subscribe()
    }

    /// Password verifications run since start.
    pub fn password_verifications(&self) -> u64 {
        self.passwords.verifications()
    }

    /// Password logins refused by the throttle since start.
    pub fn logins_throttled(&self) -> u64 {
        self.passwords.refused()
    }

    /// SQL statements executed since start by requests (not by background jobs).
    pub fn sql_statements(&self) -> u64 {
        self.sql_statements.load(Ordering::Relaxed)
    }

    /// A SQL expression of `column` that compares and sorts byte by byte (PostgreSQL's
    /// `COLLATE "C"`; SQLite's default already does).
    pub(crate) fn bytewise(&self, column: &str) -> String {
        match self.db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => format!("{column} COLLATE \"C\""),
            _ => column.to_string(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The largest file a publish of this package type may store (its `FormatRules`).
    pub fn max_file_bytes(&self, package_type: types::PackageType) -> u64 {
        (rules::rules(package_type).max_file_bytes)(&self.config.limits)
    }

    /// Whether the database and the blob store answer.
    pub async fn ready(&self) -> DomainResult<()> {
        self.db.execute_unprepared("SELECT 1").await?;
        self.blobs.ping().await
    }
}

/// The SQLite database (and its WAL files, which SQLite creates with the database's
/// permissions) readable by the server's user only: it holds password and token hashes.
fn private_sqlite_files(database_url: &str) -> Result<(), String> {
    use std::str::FromStr;
    let options = sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(database_url)
        .map_err(|e| format!("database {}: {e}", redact_url(database_url)))?;
    let file = options.get_filename();
    if file.as_os_str().is_empty() || file == std::path::Path::new(":memory:") {
        return Ok(());
    }
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut paths = vec![file.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut side = file.as_os_str().to_owned();
        side.push(suffix);
        let side = std::path::PathBuf::from(side);
        if side.exists() {
            paths.push(side);
        }
    }
    for path in paths {
        crate::storage::private_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

tokio::task_local! {
    /// Set while a background job runs (see [`background`]).
    static BACKGROUND: ();
}

/// Runs a background job (flushes, GC, webhook deliveries, cache notices): the SQL it runs
/// isn't counted in [`Domain::sql_statements`], which measures what requests cost.
pub fn background<F: std::future::Future>(job: F) -> impl std::future::Future<Output = F::Output> {
    BACKGROUND.scope((), job)
}

pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
