//! A short-lived read cache for the hot path of public packages (package lookups, file
//! lookups, package indexes, rendered documents such as packuments).
//!
//! Only public, live packages are cached: a public package can't become private, so a
//! cached entry never shows a reader something it may not read. Every mutation of a package
//! calls [`Domain::package_changed`] after its commit: it invalidates the package's entries
//! here at once and sends a [`Channel::Cache`] notice (PostgreSQL `NOTIFY`) that every
//! replica's [`Domain::follow_cache_notices`] task turns into the same invalidation,
//! milliseconds later. A notice lost (the listening connection dropped, a subscriber fell
//! behind) clears the whole cache; `TTL`, counted from when the cached data was read, stays
//! the bound on staleness should a notice never arrive. Private packages are always read
//! from the database.
//!
//! The maps are `moka` caches: they bring the TTL and the bound (entries, or bytes through a
//! weigher). Invalidating a package writes one entry, the moment of its change, into
//! `changed`, and drops its index by key; an entry of any map read before its package's
//! last change is stale, and a read that finds one drops it by key. (moka's own
//! invalidation by predicate keeps every predicate until its scan of the whole map
//! finishes: under a steady stream of publishes they piled up, ~1.3 MB a minute.) A hit is
//! two concurrent hash lookups and a clone of the value (an `Arc` or `Bytes` for the big
//! ones).
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use entity::{account, package};
use moka::{Expiry, sync::Cache};

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::domain::{
    Domain,
    index::PackageIndex,
    notify::{Channel, Notice},
    packages::PackageRef,
    views::{FileInfo, VersionInfo},
};

/// How stale another replica's change may be seen here.
pub const TTL: Duration = Duration::from_secs(2);
/// Entries per map of small values (packages, files).
const MAX_ENTRIES: u64 = 20_000;
/// Bytes of rendered documents kept.
const MAX_DOCUMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Bytes (estimated) of package indexes kept.
const MAX_INDEX_BYTES: u64 = 64 * 1024 * 1024;
/// What an entry costs beyond its payload (key, bookkeeping), so that a flood of tiny
/// documents is bounded too.
const ENTRY_OVERHEAD: usize = 128;
/// Packages whose last change is remembered (the resurrection guard); small values.
const MAX_CHANGES: u64 = 100_000;

type FileKey = (i64, String, String);
type DocumentKey = (i64, &'static str);

/// A rendered document and its entity tag.
#[derive(Clone, Debug)]
pub struct Document {
    pub body: Bytes,
    pub etag: String,
}

/// A cached value and when the read it came from started: its age counts from there.
#[derive(Clone)]
struct Entry<V> {
    read_at: Instant,
    value: V,
}

/// Expires an entry `TTL` after its read started (not after it was inserted: rendering a
/// big document must not stretch how stale it may be).
struct FromRead;

impl<K, V> Expiry<K, Entry<V>> for FromRead {
    fn expire_after_create(
        &self,
        _key: &K,
        entry: &Entry<V>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(TTL.saturating_sub(entry.read_at.elapsed()))
    }

    fn expire_after_update(
        &self,
        _key: &K,
        entry: &Entry<V>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(TTL.saturating_sub(entry.read_at.elapsed()))
    }
}

fn counted<K, V>(max_entries: u64) -> Cache<K, Entry<V>>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(max_entries)
        .expire_after(FromRead)
        .build()
}

fn weighed<K, V>(max_bytes: u64, weight: fn(&V) -> usize) -> Cache<K, Entry<V>>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder()
        .max_capacity(max_bytes)
        .weigher(move |_, entry: &Entry<V>| {
            u32::try_from(weight(&entry.value).saturating_add(ENTRY_OVERHEAD)).unwrap_or(u32::MAX)
        })
        .expire_after(FromRead)
        .build()
}

pub(crate) struct ReadCache {
    packages: Cache<PackageRef, Entry<(package::Model, account::Model)>>,
    files: Cache<FileKey, Entry<(VersionInfo, FileInfo)>>,
    indexes: Cache<i64, Entry<Arc<PackageIndex>>>,
    documents: Cache<DocumentKey, Entry<Document>>,
    /// When each package was last changed here: data read before is not cached after,
    /// and not returned if it was cached before. Kept twice `TTL`: no entry outlives its
    /// read by more than `TTL`, and no read older than that is cached (`put`).
    changed: Cache<i64, Instant>,
    /// When the whole cache was last cleared (a lost notice): no read started before is cached.
    cleared: Mutex<Option<Instant>>,
}

impl Default for ReadCache {
    fn default() -> Self {
        Self {
            packages: counted(MAX_ENTRIES),
            files: counted(MAX_ENTRIES),
            indexes: weighed(MAX_INDEX_BYTES, |index: &Arc<PackageIndex>| index.weight()),
            documents: weighed(MAX_DOCUMENT_BYTES, |d: &Document| {
                d.body.len() + d.etag.len()
            }),
            changed: Cache::builder()
                .max_capacity(MAX_CHANGES)
                .time_to_live(2 * TTL)
                .build(),
            cleared: Mutex::new(None),
        }
    }
}

impl ReadCache {
    pub fn package(&self, r: &PackageRef) -> Option<(package::Model, account::Model)> {
        self.fresh(&self.packages, r, |(pkg, _)| pkg.id)
    }

    /// Caches a package read after `started`, unless it changed since (a read racing a
    /// delete must not put the deleted package back).
    pub fn put_package(
        &self,
        r: &PackageRef,
        started: Instant,
        pkg: &package::Model,
        owner: &account::Model,
    ) {
        if pkg.visibility != "public" || pkg.deleted_at.is_some() {
            return;
        }
        self.put(&self.packages, r.clone(), pkg.id, started, || {
            (pkg.clone(), owner.clone())
        });
    }

    pub fn file(
        &self,
        package_id: i64,
        version: &str,
        file: &str,
    ) -> Option<(VersionInfo, FileInfo)> {
        let key = (package_id, version.to_string(), file.to_string());
        self.fresh(&self.files, &key, |_| package_id)
    }

    /// Caches a file read after `started`, unless its package changed since.
    pub fn put_file(
        &self,
        package_id: i64,
        started: Instant,
        version: &VersionInfo,
        file: &FileInfo,
    ) {
        let key = (package_id, version.version.clone(), file.name.clone());
        self.put(&self.files, key, package_id, started, || {
            (version.clone(), file.clone())
        });
    }

    pub fn index(&self, package_id: i64) -> Option<Arc<PackageIndex>> {
        self.fresh(&self.indexes, &package_id, |_| package_id)
    }

    /// Caches an index read after `started`, unless its package changed since.
    pub fn put_index(&self, package_id: i64, started: Instant, index: &Arc<PackageIndex>) {
        self.put(&self.indexes, package_id, package_id, started, || {
            Arc::clone(index)
        });
    }

    pub fn document(&self, package_id: i64, kind: &'static str) -> Option<Document> {
        self.fresh(&self.documents, &(package_id, kind), |_| package_id)
    }

    /// Caches a document rendered from data read after `started`, unless the package
    /// changed since.
    pub fn put_document(
        &self,
        package_id: i64,
        kind: &'static str,
        started: Instant,
        document: &Document,
    ) {
        self.put(
            &self.documents,
            (package_id, kind),
            package_id,
            started,
            || document.clone(),
        );
    }

    /// Inserts, then checks for a change since `started`, and takes the entry back if there
    /// was one. `invalidate` records the change before it invalidates, so either it sees
    /// this entry (inserted before its invalidation) or this check sees its change: a read
    /// racing a change never stays cached.
    fn put<K, V>(
        &self,
        map: &Cache<K, Entry<V>>,
        key: K,
        package_id: i64,
        started: Instant,
        value: impl FnOnce() -> V,
    ) where
        K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        // An older read would expire at once; and the change log only covers 2 × TTL.
        if started.elapsed() >= TTL || self.changed_since(package_id, started) {
            return;
        }
        map.insert(
            key.clone(),
            Entry {
                read_at: started,
                value: value(),
            },
        );
        if self.changed_since(package_id, started) {
            map.invalidate(&key);
        }
    }

    /// The entry under `key`, unless its package (`package_of` its value) changed after it
    /// was read: then it is dropped.
    fn fresh<K, V>(
        &self,
        map: &Cache<K, Entry<V>>,
        key: &K,
        package_of: impl FnOnce(&V) -> i64,
    ) -> Option<V>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: Clone + Send + Sync + 'static,
    {
        let entry = map.get(key)?;
        if self.changed_since(package_of(&entry.value), entry.read_at) {
            map.invalidate(key);
            return None;
        }
        Some(entry.value)
    }

    fn changed_since(&self, package_id: i64, started: Instant) -> bool {
        let cleared = self
            .cleared
            .lock()
            .map_or(true, |at| at.is_some_and(|at| at >= started));
        cleared
            || self
                .changed
                .get(&package_id)
                .is_some_and(|at| at >= started)
    }

    /// Forgets everything (notices were lost: any package may have changed elsewhere).
    /// Recorded first, as `invalidate` does, so a read in flight is not cached after.
    pub fn clear(&self) {
        if let Ok(mut at) = self.cleared.lock() {
            *at = Some(Instant::now());
        }
        self.packages.invalidate_all();
        self.files.invalidate_all();
        self.indexes.invalidate_all();
        self.documents.invalidate_all();
    }

    /// Forgets everything about a package (called by every mutation): its entries read
    /// before now are stale from now on (`fresh` drops them as they are found; the TTL
    /// takes the rest), and its index, the big one, goes at once.
    pub fn invalidate(&self, package_id: i64) {
        self.changed.insert(package_id, Instant::now());
        self.indexes.invalidate(&package_id);
    }
}

impl Domain {
    /// A package changed (its transaction committed): its cached reads are dropped here at
    /// once and, through a notice, on every other replica. A notice that can't be sent is
    /// logged, not returned: the change is committed, and the others' `TTL` bounds it.
    pub(crate) async fn package_changed(&self, package_id: i64) {
        self.cache.invalidate(package_id);
        let sent = self
            .notify
            .send(&self.db, Channel::Cache, &package_id.to_string())
            .await;
        if let Err(e) = sent {
            tracing::warn!(package_id, error = %e, "cache notice not sent; other replicas catch up within the TTL");
        }
    }

    /// Applies every replica's cache notices to this replica's cache until `cancel`: a
    /// package id invalidates that package, a gap (notices lost) clears everything.
    pub async fn follow_cache_notices(&self, cancel: CancellationToken) {
        let mut notices = self.notify.subscribe();
        // Whatever changed before we listened is bounded by the TTL; start clean anyway.
        self.cache.clear();
        loop {
            let notice = tokio::select! {
                () = cancel.cancelled() => break,
                n = notices.recv() => n,
            };
            match notice {
                Ok(Notice::Message {
                    channel: Channel::Cache,
                    payload,
                }) => match payload.parse::<i64>() {
                    Ok(id) => self.cache.invalidate(id),
                    Err(_) => {
                        tracing::warn!(%payload, "cache notice without a package id");
                        self.cache.clear();
                    }
                },
                Ok(Notice::Message { .. }) => {}
                Ok(Notice::Gap) | Err(RecvError::Lagged(_)) => {
                    tracing::info!("cache notices may have been lost; cache cleared");
                    self.cache.clear();
                }
                Err(RecvError::Closed) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(size: usize) -> Document {
        Document {
            body: Bytes::from(vec![b'x'; size]),
            etag: "\"e\"".into(),
        }
    }

    #[test]
    fn an_invalidated_document_is_not_returned() {
        let cache = ReadCache::default();
        cache.put_document(1, "full", Instant::now(), &document(10));
        cache.put_document(2, "full", Instant::now(), &document(10));
        assert!(cache.document(1, "full").is_some());
        cache.invalidate(1);
        assert!(cache.document(1, "full").is_none());
        assert!(cache.document(2, "full").is_some(), "other packages stay");
        // Read again after the change: cached again.
        cache.put_document(1, "full", Instant::now(), &document(10));
        assert!(cache.document(1, "full").is_some());
    }

    #[test]
    fn a_stale_entry_is_dropped_when_read_and_others_stay() {
        let cache = ReadCache::default();
        for id in 1..=3 {
            cache.put_document(id, "full", Instant::now(), &document(10));
            cache.put_document(id, "abbreviated", Instant::now(), &document(10));
        }
        cache.invalidate(2);
        assert!(cache.document(2, "full").is_none());
        assert!(cache.document(2, "abbreviated").is_none());
        cache.documents.run_pending_tasks();
        assert_eq!(
            cache.documents.entry_count(),
            4,
            "package 2's entries are gone"
        );
        assert!(cache.document(1, "full").is_some());
        assert!(cache.document(3, "abbreviated").is_some());
    }

    #[test]
    fn a_read_started_before_a_change_is_not_cached() {
        let cache = ReadCache::default();
        let started = Instant::now();
        cache.invalidate(1);
        cache.put_document(1, "full", started, &document(10));
        assert!(cache.document(1, "full").is_none());
        cache.put_document(2, "full", started, &document(10));
        assert!(cache.document(2, "full").is_some());
    }

    #[test]
    fn a_clear_drops_everything_and_refuses_reads_started_before_it() {
        let cache = ReadCache::default();
        let started = Instant::now();
        cache.put_document(1, "full", started, &document(10));
        cache.put_document(2, "full", started, &document(10));
        cache.clear();
        assert!(cache.document(1, "full").is_none());
        assert!(cache.document(2, "full").is_none());
        cache.put_document(3, "full", started, &document(10));
        assert!(cache.document(3, "full").is_none(), "read before the clear");
        cache.put_document(3, "full", Instant::now(), &document(10));
        assert!(cache.document(3, "full").is_some());
    }

    #[test]
    fn entries_expire_a_ttl_after_their_read() {
        let cache = ReadCache::default();
        let Some(long_ago) = Instant::now().checked_sub(TTL) else {
            return;
        };
        cache.put_document(1, "full", long_ago, &document(10));
        assert!(cache.document(1, "full").is_none());
        let Some(almost) = Instant::now().checked_sub(TTL - Duration::from_millis(50)) else {
            return;
        };
        cache.put_document(1, "full", almost, &document(10));
        std::thread::sleep(Duration::from_millis(100));
        assert!(cache.document(1, "full").is_none());
    }

    #[test]
    fn documents_are_bounded_in_bytes() {
        let cache = ReadCache::default();
        let big = (MAX_DOCUMENT_BYTES / 4) as usize;
        for id in 0..8 {
            cache.put_document(id, "full", Instant::now(), &document(big));
        }
        cache.documents.run_pending_tasks();
        assert!(cache.documents.weighted_size() <= MAX_DOCUMENT_BYTES);
        let kept = (0..8)
            .filter(|id| cache.document(*id, "full").is_some())
            .count();
        assert!(kept < 4, "{kept} documents of a quarter of the bound kept");
        // Bigger than the whole bound: never kept.
        cache.put_document(
            9,
            "full",
            Instant::now(),
            &document(MAX_DOCUMENT_BYTES as usize),
        );
        cache.documents.run_pending_tasks();
        assert!(cache.document(9, "full").is_none());
    }
}
