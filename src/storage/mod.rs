//! Content-addressed blob storage over `object_store`.
//!
//! Only `domain/` calls this module; it calls nothing of ours but `error`. Blobs are keyed
//! by their SHA-256 (`blobs/sha256/aa/bb/<hex>`); uploads stream to `uploads/<uuid>` while
//! being hashed in the same pass, and are moved to their final key only once verified.

mod digest;
mod key;
pub mod zero_copy;

use std::{ops::Range, sync::Arc};

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt, stream::BoxStream};
use object_store::{
    GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt, PutPayload,
    WriteMultipart, aws::AmazonS3Builder, local::LocalFileSystem, memory::InMemory, path::Path,
};

pub use digest::{DigestSet, Digests, Hasher, hex_sha256};
pub use key::StorageKey;
pub use zero_copy::BlobStream;

use crate::error::{DomainError, DomainResult};

/// Parts written to the store while streaming; bounded so memory stays flat.
const PART_SIZE: usize = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 2;

/// What the caller knows about an upload before it arrives; every field is checked.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    pub size: Option<u64>,
    pub max_size: Option<u64>,
    /// Hex digests the content must have.
    pub sha256: Option<String>,
    pub sha512: Option<String>,
    pub sha1: Option<String>,
    pub md5: Option<String>,
}

/// A verified blob at its final content-addressed key (no database row yet).
#[derive(Clone, Debug)]
pub struct StagedBlob {
    pub size: u64,
    pub digests: Digests,
}

/// A chunk of a multi-request upload, stored but not yet the upload's next part.
#[derive(Debug)]
pub struct PendingPart {
    upload: uuid::Uuid,
    nonce: uuid::Uuid,
    pub size: u64,
    pub digests: Digests,
}

impl PendingPart {
    fn key(&self) -> StorageKey {
        StorageKey::UploadPending(self.upload, self.nonce)
    }

    /// The nonce the upload session records for this chunk once it is claimed.
    pub fn nonce(&self) -> uuid::Uuid {
        self.nonce
    }
}

/// Where a claimed chunk of an upload is: the pending key it was written to, recorded by
/// the session as its nonce.
#[derive(Clone, Copy, Debug)]
pub struct UploadPart {
    pub upload: uuid::Uuid,
    pub nonce: uuid::Uuid,
}

impl UploadPart {
    fn key(&self) -> StorageKey {
        StorageKey::UploadPending(self.upload, self.nonce)
    }
}

impl StagedBlob {
    /// `sha256:<hex>`, the blob's identity.
    pub fn digest(&self) -> String {
        format!("sha256:{}", self.digests.sha256)
    }
}

/// A readable range of a blob.
pub struct BlobRead {
    /// Total size of the blob.
    pub size: u64,
    /// The bytes served (the whole blob unless a range was asked for).
    pub range: Range<u64>,
    /// A range was asked for and is served (206), even when it covers the whole blob.
    pub partial: bool,
    pub stream: BlobStream,
}

/// A small object written at start; its absence means the store is not the one we use.
const MARKER: &str = "config/store-marker";
/// Rewritten by every readiness probe.
const PROBE: &str = "config/write-probe";

#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Where a local-filesystem store keeps its files (lets downloads use the file directly).
    local_root: Option<std::path::PathBuf>,
}

impl BlobStore {
    /// Opens the store named by a `file:///dir`, `memory://` or `s3://bucket?...` URL
    /// (durable local writes).
    pub fn from_url(url: &str) -> Result<Self, String> {
        Self::open_url(url, true)
    }

    /// Opens a store; `fsync` says whether local writes are synced to disk before they
    /// count as done.
    pub fn open_url(url: &str, fsync: bool) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
        match parsed.scheme() {
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|_| format!("{url:?}: not a directory path"))?;
                crate::storage::private_dir(&dir)?;
                // Durable (a blob is on disk before its row commits). No automatic cleanup:
                // it removes every parent left empty by a delete, up to the root, so
                // `uploads/` or `blobs/sha256/aa` could vanish under a concurrent upload
                // creating its directory inside it. Each upload removes its own directory.
                let store = LocalFileSystem::new_with_prefix(&dir)
                    .map_err(|e| e.to_string())?
                    .with_fsync(fsync);
                Ok(Self {
                    store: Arc::new(store),
                    local_root: Some(dir),
                })
            }
            "memory" => Ok(Self {
                store: Arc::new(InMemory::new()),
                local_root: None,
            }),
            "s3" => {
                let bucket = parsed
                    .host_str()
                    .ok_or_else(|| format!("{url:?}: no bucket"))?;
                // No deadline on a whole request: a slow client's multi-GB download streams
                // as long as bytes keep coming (a read stalling for a minute fails).
                let client = object_store::ClientOptions::new()
                    .with_timeout_disabled()
                    .with_read_timeout(std::time::Duration::from_secs(60));
                // A store out of reach fails a request within a few seconds (503, see
                // `DomainError::Unavailable`) instead of object_store's 3 minutes of retries.
                let retry = object_store::RetryConfig {
                    max_retries: 3,
                    retry_timeout: std::time::Duration::from_secs(10),
                    ..Default::default()
                };
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_client_options(client)
                    .with_retry(retry);
                for (key, value) in parsed.query_pairs() {
                    builder = match key.as_ref() {
                        "endpoint" => builder
                            .with_endpoint(value.as_ref())
                            .with_virtual_hosted_style_request(false),
                        "region" => builder.with_region(value.as_ref()),
                        "allow_http" => builder.with_allow_http(value == "true"),
                        other => return Err(format!("{url:?}: unknown option {other:?}")),
                    };
                }
                let store = builder.build().map_err(|e| e.to_string())?;
                Ok(Self {
                    store: Arc::new(store),
                    local_root: None,
                })
            }
            other => Err(format!(
                "{url:?}: unsupported scheme {other:?} (file, memory, s3)"
            )),
        }
    }

    /// The local file behind a blob, when the store is a local directory.
    pub fn local_path(&self, sha256_hex: &str) -> Option<std::path::PathBuf> {
        let root = self.local_root.as_ref()?;
        Some(root.join(StorageKey::Blob(sha256_hex.to_string()).to_string()))
    }

    /// Streams `body` into the store, hashing it in the same pass, and verifies it against
    /// `expect`. On success the blob is at its content-addressed key; on any failure nothing
    /// new is visible.
    pub async fn stage<S, E>(
        &self,
        body: S,
        want: DigestSet,
        expect: &Expectations,
    ) -> DomainResult<StagedBlob>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        self.stage_claimed(body, want, expect, |_| async { Ok(()) })
            .await
    }

    /// `stage`, calling `claim` once the bytes are verified and before looking for them at
    /// their content-addressed key: what `claim` takes (the blob row, see
    /// `Domain::claim_blob`) keeps garbage collection from deleting that key from then on,
    /// so the "already stored" answer can't be made stale by a collection in between.
    /// A failed claim leaves nothing new.
    pub async fn stage_claimed<S, E, C, F>(
        &self,
        body: S,
        want: DigestSet,
        expect: &Expectations,
        claim: C,
    ) -> DomainResult<StagedBlob>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
        C: FnOnce(StagedBlob) -> F,
        F: std::future::Future<Output = DomainResult<()>>,
    {
        let id = uuid::Uuid::new_v4();
        let temp = StorageKey::Upload(id).path();
        let upload = self.store.put_multipart(&temp).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let result = match write_hashing(&mut writer, body, want, expect).await {
            Ok((size, digests)) => match writer.finish().await {
                Ok(_) => match claim(StagedBlob {
                    size,
                    digests: digests.clone(),
                })
                .await
                {
                    Ok(()) => self.promote(&temp, size, digests).await,
                    Err(e) => {
                        if let Err(gone) = self.store.delete(&temp).await {
                            tracing::warn!(error = %gone, "removing an unclaimed upload");
                        }
                        Err(e)
                    }
                },
                Err(e) => Err(e.into()),
            },
            Err(err) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, "aborting a failed upload");
                }
                Err(err)
            }
        };
        self.remove_upload_dir(id);
        result
    }

    /// A local upload's directory, once its file has gone (renamed or deleted).
    fn remove_upload_dir(&self, id: uuid::Uuid) {
        if let Some(root) = &self.local_root {
            let _ = std::fs::remove_dir(root.join(format!("uploads/{id}")));
        }
    }

    /// Streams one chunk of a multi-request upload to a pending key of its own, hashing it.
    /// Nothing is verified yet: the whole upload is checked when it completes. The caller
    /// claims it as the upload's next part (recording its nonce) or `discard_part`s it, so
    /// chunks racing on one upload never write over each other, and none is copied.
    pub async fn stage_part<S, E>(
        &self,
        upload: uuid::Uuid,
        body: S,
        max_size: u64,
    ) -> DomainResult<PendingPart>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let pending = PendingPart {
            upload,
            nonce: uuid::Uuid::new_v4(),
            size: 0,
            digests: Digests::default(),
        };
        let key = pending.key().path();
        let writer_upload = self.store.put_multipart(&key).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(writer_upload, PART_SIZE);
        let expect = Expectations {
            max_size: Some(max_size),
            ..Default::default()
        };
        match write_hashing(&mut writer, body, DigestSet::default(), &expect).await {
            Ok((size, digests)) => {
                writer.finish().await?;
                Ok(PendingPart {
                    size,
                    digests,
                    ..pending
                })
            }
            Err(err) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, "aborting a failed chunk");
                }
                Err(err)
            }
        }
    }

    /// Drops a pending chunk that was not claimed.
    pub async fn discard_part(&self, pending: &PendingPart) {
        match self.store.delete(&pending.key().path()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => tracing::warn!(error = %e, "removing an unclaimed chunk"),
        }
    }

    /// Makes a one-chunk upload a blob without reading it again (its digest is known and
    /// was checked by the caller).
    pub async fn promote_part(
        &self,
        part: &UploadPart,
        size: u64,
        digests: Digests,
    ) -> DomainResult<StagedBlob> {
        self.promote(&part.key().path(), size, digests).await
    }

    /// The chunks of an upload, in order, as one stream.
    pub fn parts_stream(
        &self,
        parts: Vec<UploadPart>,
    ) -> BoxStream<'static, Result<Bytes, object_store::Error>> {
        let store = self.store.clone();
        futures::stream::iter(parts)
            .then(move |part| {
                let store = store.clone();
                async move { store.get(&part.key().path()).await.map(|r| r.into_stream()) }
            })
            .try_flatten()
            .boxed()
    }

    /// Removes an upload's chunks (and, on a local store, its directory).
    pub async fn delete_upload(&self, parts: &[UploadPart]) -> DomainResult<()> {
        for part in parts {
            match self.store.delete(&part.key().path()).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(part) = parts.first() {
            self.remove_upload_dir(part.upload);
        }
        Ok(())
    }

    /// A server secret shared by every replica through the store: created once (create-if-
    /// absent, so concurrent first starts agree), then read.
    pub async fn shared_secret(&self, name: &str) -> DomainResult<Vec<u8>> {
        let key = Path::from(format!("config/{name}"));
        // Only the server's user reads a secret (anyone with it could forge tokens); one
        // written by an older build is tightened too.
        let tighten = || match &self.local_root {
            Some(root) => private_file(&root.join(key.as_ref())),
            None => Ok(()),
        };
        if let Ok(found) = self.store.get(&key).await {
            tighten()?;
            return Ok(found.bytes().await?.to_vec());
        }
        let fresh: [u8; 32] = rand::random();
        let options = object_store::PutOptions {
            mode: object_store::PutMode::Create,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&key, PutPayload::from(fresh.to_vec()), options)
            .await
        {
            Ok(_) => {
                tighten()?;
                Ok(fresh.to_vec())
            }
            Err(object_store::Error::AlreadyExists { .. }) => {
                tighten()?;
                Ok(self.store.get(&key).await?.bytes().await?.to_vec())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Stores a small in-memory payload (manifests, metadata documents).
    pub async fn stage_bytes(
        &self,
        bytes: Bytes,
        want: DigestSet,
        expect: &Expectations,
    ) -> DomainResult<StagedBlob> {
        self.stage_bytes_claimed(bytes, want, expect, |_| async { Ok(()) })
            .await
    }

    /// `stage_bytes` with a claim taken before looking for the bytes (see `stage_claimed`).
    pub async fn stage_bytes_claimed<C, F>(
        &self,
        bytes: Bytes,
        want: DigestSet,
        expect: &Expectations,
        claim: C,
    ) -> DomainResult<StagedBlob>
    where
        C: FnOnce(StagedBlob) -> F,
        F: std::future::Future<Output = DomainResult<()>>,
    {
        let mut hasher = Hasher::new(want);
        hasher.update(&bytes);
        let digests = hasher.finish();
        let size = bytes.len() as u64;
        check(size, &digests, expect)?;
        claim(StagedBlob {
            size,
            digests: digests.clone(),
        })
        .await?;
        let key = StorageKey::Blob(digests.sha256.clone()).path();
        if self.store.head(&key).await.is_err() {
            self.store.put(&key, PutPayload::from_bytes(bytes)).await?;
        }
        Ok(StagedBlob { size, digests })
    }

    /// Moves a verified temp object to its content-addressed key (or drops it when the same
    /// bytes are already stored).
    async fn promote(&self, temp: &Path, size: u64, digests: Digests) -> DomainResult<StagedBlob> {
        let key = StorageKey::Blob(digests.sha256.clone()).path();
        if self.store.head(&key).await.is_ok() {
            self.store.delete(temp).await?;
        } else {
            // Same key, same bytes: a concurrent promote of the same content is harmless.
            self.store.rename(temp, &key).await?;
        }
        Ok(StagedBlob { size, digests })
    }

    /// Opens a blob, or the part of it `range` names.
    pub async fn open(
        &self,
        sha256_hex: &str,
        range: Option<Range<u64>>,
    ) -> DomainResult<BlobRead> {
        let key = StorageKey::Blob(sha256_hex.to_string()).path();
        let partial = range.is_some();
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let result = self.store.get_opts(&key, options).await?;
        let size = result.meta.size;
        let served = result.range.clone();
        let stream = match result.payload {
            // Read in large chunks (object_store reads local files 8 KiB per blocking task),
            // or sent by the kernel (see `zero_copy`).
            GetResultPayload::File(file, _) => BlobStream::file(file, served.start, served.end),
            GetResultPayload::Stream(stream) => {
                BlobStream::stream(stream.map_err(std::io::Error::other).boxed())
            }
        };
        Ok(BlobRead {
            size,
            range: served,
            partial,
            stream,
        })
    }

    /// Reads a whole small blob (manifests, metadata documents).
    pub async fn read_all(&self, sha256_hex: &str) -> DomainResult<Bytes> {
        let key = StorageKey::Blob(sha256_hex.to_string()).path();
        Ok(self.store.get(&key).await?.bytes().await?)
    }

    /// Computes digests of a stored blob that were not computed at upload.
    pub async fn compute_digests(
        &self,
        sha256_hex: &str,
        want: DigestSet,
    ) -> DomainResult<Digests> {
        let mut read = self.open(sha256_hex, None).await?;
        let mut hasher = Hasher::new(want);
        while let Some(chunk) = read.stream.next().await {
            hasher.update(&chunk?);
        }
        Ok(hasher.finish())
    }

    pub async fn exists(&self, sha256_hex: &str) -> DomainResult<bool> {
        match self
            .store
            .head(&StorageKey::Blob(sha256_hex.to_string()).path())
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete(&self, sha256_hex: &str) -> DomainResult<()> {
        match self
            .store
            .delete(&StorageKey::Blob(sha256_hex.to_string()).path())
            .await
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Stored blobs (hex SHA-256) last written before `cutoff`: candidates for GC.
    pub async fn blobs_older_than(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> DomainResult<Vec<String>> {
        let mut listing = self.store.list(Some(&Path::from("blobs/sha256")));
        let mut out = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            if meta.last_modified < cutoff
                && let Some(name) = meta.location.filename()
            {
                out.push(name.to_string());
            }
        }
        Ok(out)
    }

    /// Removes uploads in progress last written before `cutoff` (abandoned uploads).
    pub async fn remove_stale_uploads(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> DomainResult<u64> {
        if let Some(root) = &self.local_root {
            // On a local directory, walk the files themselves: a write cut off by a crash
            // leaves `name#N` staging files that object_store's listing hides.
            let dir = root.join("uploads");
            let cutoff = std::time::SystemTime::from(cutoff);
            return tokio::task::spawn_blocking(move || remove_files_older_than(&dir, cutoff))
                .await
                .map_err(DomainError::internal)?
                .map_err(DomainError::internal);
        }
        let mut listing = self.store.list(Some(&Path::from("uploads")));
        let mut stale = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            if meta.last_modified < cutoff {
                stale.push(meta.location);
            }
        }
        for location in &stale {
            match self.store.delete(location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(stale.len() as u64)
    }

    /// Removes staging under `uploads/` last written before `cutoff` that belongs to no
    /// upload session in `sessions` (OCI sessions keep theirs for their TTL): what a crash
    /// in the middle of a single-request upload (`stage`) leaves.
    pub async fn remove_unowned_uploads(
        &self,
        cutoff: chrono::DateTime<chrono::Utc>,
        sessions: std::collections::HashSet<String>,
    ) -> DomainResult<u64> {
        if let Some(root) = &self.local_root {
            let dir = root.join("uploads");
            let cutoff = std::time::SystemTime::from(cutoff);
            return tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                    Err(e) => return Err(e),
                };
                let mut removed = 0;
                for entry in entries.flatten() {
                    if sessions.contains(entry.file_name().to_string_lossy().as_ref()) {
                        continue;
                    }
                    let path = entry.path();
                    if path.is_dir() {
                        removed += remove_files_older_than(&path, cutoff)?;
                        let old = entry.metadata().and_then(|m| m.modified());
                        if old.is_ok_and(|t| t < cutoff) {
                            let _ = std::fs::remove_dir(&path);
                        }
                    }
                }
                Ok(removed)
            })
            .await
            .map_err(DomainError::internal)?
            .map_err(DomainError::internal);
        }
        let mut listing = self.store.list(Some(&Path::from("uploads")));
        let mut stale = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            let session = meta.location.parts().nth(1);
            let owned = session.is_some_and(|id| sessions.contains(id.as_ref()));
            if !owned && meta.last_modified < cutoff {
                stale.push(meta.location);
            }
        }
        for location in &stale {
            match self.store.delete(location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(stale.len() as u64)
    }

    /// Writes the marker `ping` looks for (at start).
    pub async fn write_marker(&self) -> DomainResult<()> {
        self.store
            .put(
                &Path::from(MARKER),
                PutPayload::from_static(b"packyard blob store\n"),
            )
            .await?;
        Ok(())
    }

    /// Checks the store answers and is the one this server wrote to (readiness probe): a
    /// blob directory gone or unmounted, or a bucket without its data, is not ready.
    /// It also writes a small probe object: a store that answers reads but takes no writes
    /// (a full disk, a read-only mount, a bucket policy) can't serve publishes.
    pub async fn ping(&self) -> DomainResult<()> {
        match self.store.head(&Path::from(MARKER)).await {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => {
                return Err(DomainError::Unavailable(
                    "the blob store has lost its marker (unmounted or emptied?)".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let stamp = chrono::Utc::now().to_rfc3339();
        self.store
            .put(&Path::from(PROBE), PutPayload::from(stamp.into_bytes()))
            .await?;
        Ok(())
    }
}

/// Creates `dir` (and missing parents) readable by the server's user only, or makes an
/// existing one so: it holds the database, secrets and private packages' bytes.
pub fn private_dir(dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let shown = |e: std::io::Error| format!("{}: {e}", dir.display());
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(shown)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(shown)
}

/// Makes a file readable and writable by the server's user only, creating it empty when
/// it doesn't exist yet (so it is never, even briefly, readable by others).
pub fn private_file(path: &std::path::Path) -> DomainResult<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// Removes the files under `dir` last modified before `cutoff`; returns how many.
/// Removes the files under `dir` (recursively) last written before `cutoff`, and old
/// directories left empty; returns how many files went.
pub fn remove_files_older_than(
    dir: &std::path::Path,
    cutoff: std::time::SystemTime,
) -> std::io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        // An upload finishing meanwhile takes its file away: not an error.
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) if gone(&e) => continue,
            Err(e) => return Err(e),
        };
        let old = meta.modified()? < cutoff;
        if meta.is_dir() {
            removed += remove_files_older_than(&path, cutoff)?;
            // An old directory left empty (a fresh one may be an upload about to write).
            if old {
                let _ = std::fs::remove_dir(&path);
            }
        } else if old {
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if gone(&e) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

async fn write_hashing<S, E>(
    writer: &mut WriteMultipart,
    body: S,
    want: DigestSet,
    expect: &Expectations,
) -> DomainResult<(u64, Digests)>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let limit = match (expect.size, expect.max_size) {
        (Some(size), Some(max)) if size > max => {
            return Err(DomainError::PayloadTooLarge(format!(
                "{size} bytes is over the limit of {max} bytes"
            )));
        }
        (_, max) => max,
    };
    let mut hasher = Hasher::new(want);
    let mut size: u64 = 0;
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| DomainError::invalid(format!("upload interrupted: {e}")))?;
        size += chunk.len() as u64;
        if let Some(max) = limit
            && size > max
        {
            return Err(DomainError::PayloadTooLarge(format!(
                "upload is over the limit of {max} bytes"
            )));
        }
        if let Some(expected) = expect.size
            && size > expected
        {
            return Err(DomainError::invalid(format!(
                "upload is larger than the declared {expected} bytes"
            )));
        }
        hasher.update(&chunk);
        writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        writer.put(chunk);
    }
    let digests = hasher.finish();
    check(size, &digests, expect)?;
    Ok((size, digests))
}

fn check(size: u64, digests: &Digests, expect: &Expectations) -> DomainResult<()> {
    if let Some(expected) = expect.size
        && expected != size
    {
        return Err(DomainError::invalid(format!(
            "size mismatch: declared {expected} bytes, received {size}"
        )));
    }
    if let Some(max) = expect.max_size
        && size > max
    {
        return Err(DomainError::PayloadTooLarge(format!(
            "upload is over the limit of {max} bytes"
        )));
    }
    let pairs = [
        ("sha256", &expect.sha256, Some(&digests.sha256)),
        ("sha512", &expect.sha512, digests.sha512.as_ref()),
        ("sha1", &expect.sha1, digests.sha1.as_ref()),
        ("md5", &expect.md5, digests.md5.as_ref()),
    ];
    for (name, expected, actual) in pairs {
        if let Some(expected) = expected {
            let actual = actual.ok_or_else(|| {
                DomainError::internal(format!("{name} was expected but not computed"))
            })?;
            if !expected.eq_ignore_ascii_case(actual) {
                return Err(DomainError::DigestMismatch {
                    expected: format!("{name}:{expected}"),
                    actual: format!("{name}:{actual}"),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(data: &'static [u8]) -> impl Stream<Item = Result<Bytes, std::io::Error>> {
        futures::stream::iter(data.chunks(3).map(|c| Ok(Bytes::from_static(c))))
    }

    /// The local filesystem, memory, and a real S3-compatible server when the test script
    /// started one (`PACKYARD_TEST_S3_ENDPOINT`); in CI the S3 store must be there.
    async fn stores() -> Vec<(BlobStore, tempfile::TempDir)> {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("file://{}", dir.path().display());
        let local = BlobStore::from_url(&url).expect("local store");
        let memory_dir = tempfile::tempdir().expect("tempdir");
        let mut stores = vec![
            (local, dir),
            (
                BlobStore::from_url("memory://").expect("memory"),
                memory_dir,
            ),
        ];
        match std::env::var("PACKYARD_TEST_S3_ENDPOINT") {
            Ok(endpoint) => {
                let bucket = std::env::var("PACKYARD_TEST_S3_BUCKET")
                    .unwrap_or_else(|_| "packyard-test".into());
                let url =
                    format!("s3://{bucket}?endpoint={endpoint}&region=us-east-1&allow_http=true");
                let s3 = BlobStore::from_url(&url).expect("s3 store");
                stores.push((s3, tempfile::tempdir().expect("tempdir")));
            }
            Err(_) => assert!(
                std::env::var("CI").is_err(),
                "CI must test the S3 blob store: run the tests through scripts/test.sh"
            ),
        }
        stores
    }

    #[tokio::test]
    async fn stage_hashes_verifies_and_deduplicates() {
        for (store, _dir) in stores().await {
            let want = DigestSet {
                md5: true,
                sha1: true,
                sha512: true,
            };
            let staged = store
                .stage(chunks(b"hello world"), want, &Expectations::default())
                .await
                .expect("stage");
            assert_eq!(staged.size, 11);
            assert_eq!(
                staged.digests.sha256,
                "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
            );
            assert_eq!(
                staged.digests.md5.as_deref(),
                Some("5eb63bbbe01eeed093cb22bb8f5acdc3")
            );
            assert_eq!(
                staged.digests.sha1.as_deref(),
                Some("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed")
            );
            let again = store
                .stage(
                    chunks(b"hello world"),
                    DigestSet::default(),
                    &Expectations::default(),
                )
                .await
                .expect("again");
            assert_eq!(again.digests.sha256, staged.digests.sha256);
            let mut read = store
                .open(&staged.digests.sha256, Some(6..11))
                .await
                .expect("open");
            assert_eq!(read.size, 11);
            let mut got = Vec::new();
            while let Some(c) = read.stream.next().await {
                got.extend_from_slice(&c.expect("chunk"));
            }
            assert_eq!(got, b"world");
        }
    }

    #[tokio::test]
    async fn wrong_digest_or_size_leaves_nothing_visible() {
        for (store, _dir) in stores().await {
            let expect = Expectations {
                sha256: Some("00".repeat(32)),
                ..Default::default()
            };
            let err = store
                .stage(chunks(b"payload"), DigestSet::default(), &expect)
                .await
                .expect_err("mismatch");
            assert!(matches!(err, DomainError::DigestMismatch { .. }), "{err:?}");
            assert!(!store.exists(&hex_sha256(b"payload")).await.expect("exists"));

            let expect = Expectations {
                max_size: Some(4),
                ..Default::default()
            };
            let err = store
                .stage(chunks(b"payload"), DigestSet::default(), &expect)
                .await
                .expect_err("too large");
            assert!(matches!(err, DomainError::PayloadTooLarge(_)), "{err:?}");
            let expect = Expectations {
                size: Some(3),
                ..Default::default()
            };
            let err = store
                .stage(chunks(b"payload"), DigestSet::default(), &expect)
                .await
                .expect_err("size");
            assert!(matches!(err, DomainError::InvalidInput(_)), "{err:?}");
            assert!(!store.exists(&hex_sha256(b"payload")).await.expect("exists"));
        }
    }

    #[tokio::test]
    async fn missing_digests_are_computed_later() {
        for (store, _dir) in stores().await {
            let staged = store
                .stage(
                    chunks(b"abc"),
                    DigestSet::default(),
                    &Expectations::default(),
                )
                .await
                .expect("stage");
            assert!(staged.digests.sha512.is_none());
            let later = store
                .compute_digests(
                    &staged.digests.sha256,
                    DigestSet {
                        sha512: true,
                        ..Default::default()
                    },
                )
                .await
                .expect("compute");
            assert!(
                later
                    .sha512
                    .as_deref()
                    .is_some_and(|h| h.starts_with("ddaf35a193617aba"))
            );
        }
    }

    /// Uploads finishing (their temp directory removed) must never take away a directory
    /// another upload is creating or using: many concurrent small uploads, some of the same
    /// bytes (deduplicated: the temp file is deleted), some distinct, all succeed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_uploads_never_lose_their_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::open_url(&format!("file://{}", dir.path().display()), false)
            .expect("local store");
        let tasks: Vec<_> = (0..16)
            .map(|task| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0..300 {
                        let body = if i % 4 != 0 {
                            Bytes::from_static(b"same bytes")
                        } else {
                            Bytes::from(format!("task {task} upload {i}"))
                        };
                        let stream = futures::stream::iter([Ok::<_, std::io::Error>(body)]);
                        store
                            .stage(stream, DigestSet::default(), &Expectations::default())
                            .await
                            .unwrap_or_else(|e| panic!("upload {i} of task {task}: {e:?}"));
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
        // Shared directories stay (removing one is what raced with an upload creating its
        // own inside it); each upload's own directory goes with it.
        let left = std::fs::read_dir(dir.path().join("uploads"))
            .expect("the shared uploads directory is kept")
            .count();
        assert_eq!(left, 0, "finished uploads leave no directories behind");
        let digest = store
            .stage(
                chunks(b"collected"),
                DigestSet::default(),
                &Expectations::default(),
            )
            .await
            .expect("stage")
            .digests
            .sha256;
        store.delete(&digest).await.expect("delete");
        assert!(
            dir.path().join("blobs/sha256").is_dir(),
            "deleting a blob keeps the shared fan-out directories"
        );
    }
}
