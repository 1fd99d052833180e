//! A short-lived read cache for the hot path of public packages (package lookups, file
//! lookups, rendered documents such as packuments).
//!
//! Only public, live packages are cached: a public package can't become private, so a
//! cached entry never shows a reader something it may not read. Every mutation of a package
//! on this replica invalidates its entries at once; other replicas see the change within
//! `TTL`. Private packages are always read from the database.
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use bytes::Bytes;
use entity::{account, package};

use crate::domain::{
    packages::PackageRef,
    views::{FileInfo, VersionInfo},
};

/// How stale another replica's change may be seen here.
pub const TTL: Duration = Duration::from_secs(2);
/// Entries per map before it is cleared (bounded memory).
const MAX_ENTRIES: usize = 20_000;
/// Bytes of rendered documents kept.
const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

type FileKey = (i64, String, String);
type DocumentKey = (i64, &'static str);

#[derive(Default)]
pub(crate) struct ReadCache {
    packages: Mutex<HashMap<PackageRef, (Instant, package::Model, account::Model)>>,
    files: Mutex<HashMap<FileKey, (Instant, VersionInfo, FileInfo)>>,
    documents: Mutex<Documents>,
    /// When each package was last changed here, so a document rendered from older data
    /// is not cached after the change.
    changed: Mutex<HashMap<i64, Instant>>,
}

/// Rendered documents, with their total size kept as they come and go.
#[derive(Default)]
struct Documents {
    map: HashMap<DocumentKey, (Instant, Document)>,
    bytes: usize,
}

impl Documents {
    fn insert(&mut self, key: DocumentKey, at: Instant, document: Document) {
        self.bytes += document.body.len();
        if let Some((_, old)) = self.map.insert(key, (at, document)) {
            self.bytes -= old.body.len();
        }
    }

    fn retain(&mut self, mut keep: impl FnMut(&DocumentKey, &(Instant, Document)) -> bool) {
        let mut bytes = 0;
        self.map.retain(|k, v| {
            let kept = keep(k, v);
            if kept {
                bytes += v.1.body.len();
            }
            kept
        });
        self.bytes = bytes;
    }

    fn clear(&mut self) {
        self.map.clear();
        self.bytes = 0;
    }
}

/// A rendered document and its entity tag.
#[derive(Clone, Debug)]
pub struct Document {
    pub body: Bytes,
    pub etag: String,
}

fn fresh(at: &Instant) -> bool {
    at.elapsed() < TTL
}

fn bounded<K, V>(map: &mut HashMap<K, V>) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
}

impl ReadCache {
    pub fn package(&self, r: &PackageRef) -> Option<(package::Model, account::Model)> {
        let map = self.packages.lock().ok()?;
        map.get(r)
            .filter(|(at, ..)| fresh(at))
            .map(|(_, p, o)| (p.clone(), o.clone()))
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
        if self.changed_since(pkg.id, started) {
            return;
        }
        if let Ok(mut map) = self.packages.lock() {
            bounded(&mut map);
            map.insert(r.clone(), (Instant::now(), pkg.clone(), owner.clone()));
        }
    }

    pub fn file(
        &self,
        package_id: i64,
        version: &str,
        file: &str,
    ) -> Option<(VersionInfo, FileInfo)> {
        let map = self.files.lock().ok()?;
        map.get(&(package_id, version.to_string(), file.to_string()))
            .filter(|(at, ..)| fresh(at))
            .map(|(_, v, f)| (v.clone(), f.clone()))
    }

    /// Caches a file read after `started`, unless its package changed since.
    pub fn put_file(
        &self,
        package_id: i64,
        started: Instant,
        version: &VersionInfo,
        file: &FileInfo,
    ) {
        if self.changed_since(package_id, started) {
            return;
        }
        if let Ok(mut map) = self.files.lock() {
            bounded(&mut map);
            map.insert(
                (package_id, version.version.clone(), file.name.clone()),
                (Instant::now(), version.clone(), file.clone()),
            );
        }
    }

    pub fn document(&self, package_id: i64, kind: &'static str) -> Option<Document> {
        let docs = self.documents.lock().ok()?;
        docs.map
            .get(&(package_id, kind))
            .filter(|(at, _)| fresh(at))
            .map(|(_, d)| d.clone())
    }

    /// Caches a document rendered from data read after `started`, unless the package
    /// changed since.
    pub fn put_document(
        &self,
        package_id: i64,
        kind: &'static str,
        started: Instant,
        document: Document,
    ) {
        if self.changed_since(package_id, started) {
            return;
        }
        if let Ok(mut docs) = self.documents.lock() {
            if docs.map.len() >= MAX_ENTRIES {
                docs.clear();
            }
            // Bounded in bytes too (packuments of big packages are megabytes): expired
            // entries go first, then everything.
            if docs.bytes + document.body.len() > MAX_DOCUMENT_BYTES {
                docs.retain(|_, (at, _)| fresh(at));
                if docs.bytes + document.body.len() > MAX_DOCUMENT_BYTES {
                    docs.clear();
                }
            }
            if document.body.len() <= MAX_DOCUMENT_BYTES {
                docs.insert((package_id, kind), started, document);
            }
        }
    }

    fn changed_since(&self, package_id: i64, started: Instant) -> bool {
        self.changed
            .lock()
            .ok()
            .and_then(|m| m.get(&package_id).copied())
            .is_some_and(|at| at >= started)
    }

    /// Forgets everything about a package (called by every mutation).
    pub fn invalidate(&self, package_id: i64) {
        if let Ok(mut map) = self.changed.lock() {
            bounded(&mut map);
            map.insert(package_id, Instant::now());
        }
        if let Ok(mut map) = self.packages.lock() {
            map.retain(|_, (_, p, _)| p.id != package_id);
        }
        if let Ok(mut map) = self.files.lock() {
            map.retain(|(id, ..), _| *id != package_id);
        }
        if let Ok(mut docs) = self.documents.lock() {
            docs.retain(|(id, _), _| *id != package_id);
        }
    }
}
