//! Container images over the generic model: an image is a package of type `container`, a
//! manifest is a version named by its digest, tags are package tags, layers and configs
//! are files. Uploads are sessions in the database with their chunks in the blob store, so
//! they survive restarts and work across replicas.
use std::str::FromStr;

use bytes::Bytes;
use chrono::Duration;
use entity::{
    blob, image_blob, image_referrer, package, package_tag, package_version, upload_session,
};
use futures::Stream;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Set,
    sea_query::{Expr, OnConflict},
};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::{
    auth::{
        Actor,
        jwt::{Access, Claims, JwtKeys},
        policy::{self, Action},
    },
    domain::{
        Domain, OwnerName, PackageName, PackageType, VersionName,
        metadata::{ContainerMetadata, VersionMetadata},
        names::FileName,
        now,
        packages::{PackageRef, live_version, version_info},
        publish::{NewFile, PublishRequest},
        rules::rules,
    },
    error::{DomainError, DomainResult, What},
    storage::{BlobRead, DigestSet, Digests, Expectations, StagedBlob, UploadPart},
};

/// The most tags one page of `tags/list?n=` holds (fewer than asked is allowed).
const TAGS_PAGE_MAX: u64 = 10_000;
/// The most `repository:...` scopes one token request may ask for.
const MAX_TOKEN_SCOPES: usize = 32;
/// The largest manifest accepted (distribution uses 4 MiB too).
pub const MANIFEST_MAX: usize = 4 * 1024 * 1024;
/// Chunks smaller than this (but the last) are refused; advertised as `OCI-Chunk-Min-Length`.
pub const CHUNK_MIN: u64 = 0;
/// Upload sessions idle longer than this are expired by GC.
pub const UPLOAD_TTL_HOURS: i64 = 24;

/// A content digest as OCI names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OciDigest {
    Sha256(String),
    Sha512(String),
}

impl FromStr for OciDigest {
    type Err = DomainError;

    fn from_str(s: &str) -> DomainResult<Self> {
        let (algorithm, hex) = s
            .split_once(':')
            .ok_or_else(|| DomainError::invalid(format!("invalid digest {s:?}")))?;
        let valid_hex = |n: usize| {
            hex.len() == n
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        match algorithm {
            "sha256" if valid_hex(64) => Ok(Self::Sha256(hex.to_string())),
            "sha512" if valid_hex(128) => Ok(Self::Sha512(hex.to_string())),
            "sha256" | "sha512" => Err(DomainError::invalid(format!("invalid digest {s:?}"))),
            other => Err(DomainError::invalid(format!(
                "unsupported digest algorithm {other:?}"
            ))),
        }
    }
}

impl std::fmt::Display for OciDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sha256(h) => write!(f, "sha256:{h}"),
            Self::Sha512(h) => write!(f, "sha512:{h}"),
        }
    }
}

impl OciDigest {
    fn expectations(&self) -> Expectations {
        match self {
            Self::Sha256(h) => Expectations {
                sha256: Some(h.clone()),
                ..Default::default()
            },
            Self::Sha512(h) => Expectations {
                sha512: Some(h.clone()),
                ..Default::default()
            },
        }
    }

    fn wants(&self) -> DigestSet {
        DigestSet {
            sha512: matches!(self, Self::Sha512(_)),
            ..Default::default()
        }
    }
}

/// An image as the door names it: `OWNER/a/b` → owner `OWNER`, package `a/b`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageName {
    pub owner: OwnerName,
    pub name: PackageName,
}

impl ImageName {
    /// Validates a repository name per the distribution spec's grammar
    /// (`[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/...)*`), with at least an owner and a name.
    pub fn parse(full: &str) -> DomainResult<Self> {
        let invalid = || DomainError::invalid(format!("invalid repository name {full:?}"));
        if full.len() > 255 {
            return Err(invalid());
        }
        let segment_ok = |seg: &str| {
            let bytes = seg.as_bytes();
            if bytes.is_empty()
                || !bytes[0].is_ascii_alphanumeric()
                || !bytes[bytes.len() - 1].is_ascii_alphanumeric()
            {
                return false;
            }
            let mut i = 0;
            while i < bytes.len() {
                let b = bytes[i];
                if b.is_ascii_lowercase() || b.is_ascii_digit() {
                    i += 1;
                    continue;
                }
                // separators: '.', '_', '__', or runs of '-'
                let sep_len = match b {
                    b'.' => 1,
                    b'_' if bytes.get(i + 1) == Some(&b'_') => 2,
                    b'_' => 1,
                    b'-' => bytes[i..].iter().take_while(|&&c| c == b'-').count(),
                    _ => return false,
                };
                i += sep_len;
                if !bytes
                    .get(i)
                    .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                {
                    return false;
                }
            }
            true
        };
        let (owner, rest) = full.split_once('/').ok_or_else(invalid)?;
        if !full.split('/').all(segment_ok) {
            return Err(invalid());
        }
        Ok(Self {
            owner: OwnerName::parse(owner).map_err(|_| invalid())?,
            name: PackageName::parse(rest)?,
        })
    }

    fn package_ref(&self) -> PackageRef {
        PackageRef {
            owner: self.owner.clone(),
            package_type: PackageType::Container,
            name: self.name.clone(),
        }
    }
}

impl std::fmt::Display for ImageName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// A manifest reference: a tag or a digest.
#[derive(Clone, Debug)]
pub enum Reference {
    Tag(String),
    Digest(OciDigest),
}

impl Reference {
    pub fn parse(s: &str) -> DomainResult<Self> {
        if s.contains(':') {
            return Ok(Self::Digest(s.parse()?));
        }
        let ok = !s.is_empty()
            && s.len() <= 128
            && (s.as_bytes()[0].is_ascii_alphanumeric() || s.as_bytes()[0] == b'_')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !ok {
            return Err(DomainError::invalid(format!("invalid tag {s:?}")));
        }
        Ok(Self::Tag(s.to_string()))
    }
}

/// A manifest as served.
pub struct Manifest {
    pub bytes: Bytes,
    pub media_type: String,
    pub digest: String,
}

/// A blob as served.
pub struct BlobInfo {
    pub size: u64,
    pub digest: String,
}

#[derive(Default)]
pub(crate) struct OciKeys(OnceCell<JwtKeys>);

impl Domain {
    /// The keys bearer tokens are signed with: the configured secret, or one generated once
    /// and shared through the blob store by every replica.
    pub async fn jwt_keys(&self) -> DomainResult<&JwtKeys> {
        self.oci_keys
            .0
            .get_or_try_init(|| async {
                let secret = match &self.config.jwt_secret {
                    Some(s) => s.as_bytes().to_vec(),
                    None => self.blobs.shared_secret("oci-jwt-secret").await?,
                };
                Ok(JwtKeys::new(&secret))
            })
            .await
    }

    /// The actor a bearer token speaks for: the access token it was issued for (`tid`),
    /// checked again now, or else (tokens issued to anonymous callers) nobody.
    pub async fn actor_for_bearer(&self, claims: &Claims) -> DomainResult<Actor> {
        let actor = match claims.tid {
            Some(tid) => self.actor_for_token_id(tid).await?,
            None => Actor::Anonymous,
        };
        let subject = match &actor {
            Actor::Anonymous => "anonymous".to_string(),
            Actor::User { id, .. } => format!("user:{id}"),
            Actor::Repository { repository_id, .. } => format!("repository:{repository_id}"),
        };
        if subject != claims.sub {
            return Err(DomainError::Unauthenticated(
                "bad credentials: the token's subject changed".into(),
            ));
        }
        Ok(actor)
    }

    /// Issues a bearer token granting, for each requested `repository:NAME:ACTIONS` scope,
    /// the actions policy allows the actor now.
    pub async fn issue_registry_token(
        &self,
        actor: &Actor,
        audience: &str,
        scopes: &[String],
    ) -> DomainResult<(String, i64)> {
        // Each requested scope costs lookups; no client asks for more than a few.
        let requested: Vec<&str> = scopes.iter().flat_map(|s| s.split(' ')).collect();
        if requested.len() > MAX_TOKEN_SCOPES {
            return Err(DomainError::invalid(format!(
                "too many scopes: at most {MAX_TOKEN_SCOPES} per token request, {} asked for",
                requested.len()
            )));
        }
        let mut access = Vec::new();
        for one in requested {
            let mut parts = one.splitn(3, ':');
            let (Some(kind), Some(name), Some(actions)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if kind == "registry" && name == "catalog" {
                access.push(Access {
                    kind: kind.into(),
                    name: name.into(),
                    actions: vec!["*".into()],
                });
                continue;
            }
            if kind != "repository" {
                continue;
            }
            let Ok(image) = ImageName::parse(name) else {
                continue;
            };
            let wanted: Vec<&str> = actions.split(',').collect();
            let granted = self.granted_actions(actor, &image, &wanted).await?;
            if !granted.is_empty() {
                access.push(Access {
                    kind: kind.into(),
                    name: name.into(),
                    actions: granted,
                });
            }
        }
        let sub = match actor {
            Actor::Anonymous => "anonymous".to_string(),
            Actor::User { id, .. } => format!("user:{id}"),
            Actor::Repository { repository_id, .. } => format!("repository:{repository_id}"),
        };
        let (token, claims) = self
            .jwt_keys()
            .await?
            .issue(sub, actor.token().map(|t| t.token_id), audience, access)
            .map_err(DomainError::internal)?;
        Ok((token, claims.iat))
    }

    /// Whether policy lets the actor do `action` (`pull`, `push`, `delete`) on an image now.
    pub async fn may(&self, actor: &Actor, image: &ImageName, action: &str) -> DomainResult<bool> {
        Ok(!self
            .granted_actions(actor, image, &[action])
            .await?
            .is_empty())
    }

    async fn granted_actions(
        &self,
        actor: &Actor,
        image: &ImageName,
        wanted: &[&str],
    ) -> DomainResult<Vec<String>> {
        let existing = self.package_model(&image.package_ref()).await?;
        let mut granted = Vec::new();
        for &action in wanted {
            let allowed = match (&existing, action) {
                (Some((pkg, owner)), "pull") => self
                    .authorize_package(actor, Action::Read, pkg, owner)
                    .await
                    .is_ok(),
                (Some((pkg, owner)), "push") => self
                    .authorize_package(actor, Action::Write, pkg, owner)
                    .await
                    .is_ok(),
                (Some((pkg, owner)), "delete") => self
                    .authorize_package(actor, Action::Delete, pkg, owner)
                    .await
                    .is_ok(),
                (Some((pkg, owner)), "*") => self
                    .authorize_package(actor, Action::Delete, pkg, owner)
                    .await
                    .is_ok(),
                // A new image: who may create it may push to it; pulling its blobs before
                // its first manifest is `authorize_pull`'s call.
                (None, "pull") => match self.authorize_pull(actor, image).await {
                    Ok(_) => true,
                    Err(DomainError::NotFound { .. } | DomainError::Unauthenticated(_)) => false,
                    Err(e) => return Err(e),
                },
                (None, "push" | "*") => self.may_create_image(actor, image).await?,
                _ => false,
            };
            if allowed {
                granted.push(action.to_string());
            }
        }
        Ok(granted)
    }

    async fn may_create_image(&self, actor: &Actor, image: &ImageName) -> DomainResult<bool> {
        let Ok(owner) = self.account_model(&image.owner).await else {
            return Ok(false);
        };
        match self
            .authorize_create_in(actor, &image.package_ref(), &owner)
            .await
        {
            Ok(()) => Ok(true),
            Err(DomainError::Forbidden(_) | DomainError::Unauthenticated(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Checks the actor may push to an image (existing: write; new: create). Returns the
    /// owner's id.
    async fn authorize_push(&self, actor: &Actor, image: &ImageName) -> DomainResult<i64> {
        match self.package_model(&image.package_ref()).await? {
            Some((pkg, owner)) => {
                match self
                    .authorize_package(actor, Action::Write, &pkg, &owner)
                    .await
                {
                    Ok(_) => Ok(owner.id),
                    // An image the caller may not read answers as one it may not create,
                    // so pushing doesn't tell whether a private image exists.
                    Err(DomainError::NotFound { .. }) if actor.is_anonymous() => Err(
                        DomainError::Unauthenticated("authentication required".into()),
                    ),
                    Err(DomainError::NotFound { .. }) => Err(DomainError::forbidden(format!(
                        "you may not push to {image}"
                    ))),
                    Err(e) => Err(e),
                }
            }
            None => {
                if self.may_create_image(actor, image).await? {
                    return Ok(self.account_model(&image.owner).await?.id);
                }
                if actor.is_anonymous() {
                    return Err(DomainError::Unauthenticated(
                        "authentication required".into(),
                    ));
                }
                Err(DomainError::forbidden(format!(
                    "you may not push to {image}"
                )))
            }
        }
    }

    /// Checks the actor may pull from an image (its manifests and blobs); `Ok` is the
    /// owner's id. Blobs are linked to a name, so they can be there without a live image:
    /// pushed before its first manifest, or left by a deleted one. They are read by the
    /// same policy as the image: a deleted image by those who may restore it; one not yet
    /// created as a private image without grants (its owner, the organization's owners
    /// and site admins hold a role on it; members who may merely create images don't).
    /// Everyone else gets the answer for an image that isn't there.
    async fn authorize_pull(&self, actor: &Actor, image: &ImageName) -> DomainResult<i64> {
        let r = image.package_ref();
        if let Some((pkg, owner)) = self.package_model(&r).await? {
            self.authorize_package(actor, Action::Read, &pkg, &owner)
                .await?;
            return Ok(owner.id);
        }
        let unknown = || policy::unknown(actor, What::Package, format!("package {image}"));
        let (pkg, owner, action) = match self.deleted_package_model(&r).await? {
            Some((pkg, owner)) => (pkg, owner, Action::Delete),
            None => match self.account_model(&image.owner).await {
                Ok(owner) => (unborn_image(&owner, &image.name), owner, Action::Read),
                Err(DomainError::NotFound { .. }) => return Err(unknown()),
                Err(e) => return Err(e),
            },
        };
        match self.authorize_package(actor, action, &pkg, &owner).await {
            Ok(_) => Ok(owner.id),
            Err(
                DomainError::NotFound { .. }
                | DomainError::Forbidden(_)
                | DomainError::Unauthenticated(_),
            ) => Err(unknown()),
            Err(e) => Err(e),
        }
    }

    async fn blob_row(&self, digest: &OciDigest) -> DomainResult<Option<blob::Model>> {
        Ok(match digest {
            OciDigest::Sha256(h) => {
                blob::Entity::find_by_id(format!("sha256:{h}"))
                    .one(&self.db)
                    .await?
            }
            OciDigest::Sha512(h) => {
                blob::Entity::find()
                    .filter(blob::Column::Sha512.eq(h.as_str()))
                    .one(&self.db)
                    .await?
            }
        })
    }

    /// The blob a digest names, if it is linked to the image.
    async fn linked_blob(
        &self,
        owner_id: i64,
        image: &ImageName,
        digest: &OciDigest,
    ) -> DomainResult<Option<blob::Model>> {
        let Some(row) = self.blob_row(digest).await? else {
            return Ok(None);
        };
        let linked = image_blob::Entity::find()
            .filter(image_blob::Column::OwnerId.eq(owner_id))
            .filter(image_blob::Column::Name.eq(image.name.as_str()))
            .filter(image_blob::Column::Digest.eq(row.digest.as_str()))
            .one(&self.db)
            .await?;
        Ok(linked.map(|_| row))
    }

    /// Records a verified blob and links it to the image (idempotent).
    async fn link_blob(
        &self,
        owner_id: i64,
        image: &ImageName,
        staged: &StagedBlob,
    ) -> DomainResult<()> {
        blob::Entity::insert(blob::ActiveModel {
            digest: Set(staged.digest()),
            size: Set(staged.size as i64),
            md5: Set(None),
            sha1: Set(None),
            sha512: Set(staged.digests.sha512.clone()),
            created_at: Set(now()),
        })
        .on_conflict(
            OnConflict::column(blob::Column::Digest)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        if let Some(sha512) = &staged.digests.sha512 {
            blob::Entity::update_many()
                .col_expr(
                    blob::Column::Sha512,
                    sea_orm::sea_query::Expr::value(sha512.clone()),
                )
                .filter(blob::Column::Digest.eq(staged.digest()))
                .filter(blob::Column::Sha512.is_null())
                .exec(&self.db)
                .await?;
        }
        image_blob::Entity::insert(image_blob::ActiveModel {
            owner_id: Set(owner_id),
            name: Set(image.name.to_string()),
            digest: Set(staged.digest()),
            created_at: Set(now()),
            ..Default::default()
        })
        .on_conflict(
            // Linked again: fresh again, so garbage collection leaves the blob to the
            // manifest that is about to use it (see `collect_garbage`).
            OnConflict::columns([
                image_blob::Column::OwnerId,
                image_blob::Column::Name,
                image_blob::Column::Digest,
            ])
            .update_column(image_blob::Column::CreatedAt)
            .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// Refreshes a blob and its link to the image; false if the blob is gone.
    async fn claim_linked(
        &self,
        owner_id: i64,
        image: &ImageName,
        digest: &str,
    ) -> DomainResult<bool> {
        let claimed = blob::Entity::update_many()
            .col_expr(blob::Column::CreatedAt, Expr::value(now()))
            .filter(blob::Column::Digest.eq(digest))
            .exec(&self.db)
            .await?;
        image_blob::Entity::update_many()
            .col_expr(image_blob::Column::CreatedAt, Expr::value(now()))
            .filter(image_blob::Column::OwnerId.eq(owner_id))
            .filter(image_blob::Column::Name.eq(image.name.as_str()))
            .filter(image_blob::Column::Digest.eq(digest))
            .exec(&self.db)
            .await?;
        Ok(claimed.rows_affected == 1)
    }

    /// HEAD of a blob.
    pub async fn stat_image_blob(
        &self,
        actor: &Actor,
        image: &ImageName,
        digest: &OciDigest,
    ) -> DomainResult<BlobInfo> {
        let owner_id = self.authorize_pull(actor, image).await?;
        let row = self
            .linked_blob(owner_id, image, digest)
            .await?
            .ok_or_else(|| DomainError::not_found(What::Blob, format!("blob {digest}")))?;
        Ok(BlobInfo {
            size: row.size as u64,
            digest: digest.to_string(),
        })
    }

    /// GET of a blob (blob GETs are not downloads of the image).
    pub async fn open_image_blob(
        &self,
        actor: &Actor,
        image: &ImageName,
        digest: &OciDigest,
        range: Option<crate::domain::download::ByteRange>,
    ) -> DomainResult<(BlobInfo, BlobRead)> {
        let owner_id = self.authorize_pull(actor, image).await?;
        let row = self
            .linked_blob(owner_id, image, digest)
            .await?
            .ok_or_else(|| DomainError::not_found(What::Blob, format!("blob {digest}")))?;
        let size = row.size as u64;
        let range = match range {
            Some(r) => Some(
                r.resolve(size)
                    .ok_or(DomainError::RangeNotSatisfiable { size })?,
            ),
            None => None,
        };
        let read = self
            .blobs
            .open(row.digest.trim_start_matches("sha256:"), range)
            .await?;
        Ok((
            BlobInfo {
                size,
                digest: digest.to_string(),
            },
            read,
        ))
    }

    /// Unlinks a blob from an image (the bytes stay while anything else refers to them).
    pub async fn delete_image_blob(
        &self,
        actor: &Actor,
        image: &ImageName,
        digest: &OciDigest,
    ) -> DomainResult<()> {
        let (pkg, owner) = self.live_package(actor, &image.package_ref()).await?;
        self.authorize_package(actor, Action::Delete, &pkg, &owner)
            .await?;
        let row = self
            .linked_blob(owner.id, image, digest)
            .await?
            .ok_or_else(|| DomainError::not_found(What::Blob, format!("blob {digest}")))?;
        image_blob::Entity::delete_many()
            .filter(image_blob::Column::OwnerId.eq(owner.id))
            .filter(image_blob::Column::Name.eq(image.name.as_str()))
            .filter(image_blob::Column::Digest.eq(row.digest))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// A whole blob in one request (`POST ...?digest=` or `PUT` of a fresh session).
    pub async fn push_blob<S, E>(
        &self,
        actor: &Actor,
        image: &ImageName,
        digest: &OciDigest,
        body: S,
        size: Option<u64>,
    ) -> DomainResult<BlobInfo>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let owner_id = self.authorize_push(actor, image).await?;
        let mut expect = digest.expectations();
        expect.size = size;
        expect.max_size = Some(self.max_file_bytes(PackageType::Container));
        let staged = self.blobs.stage(body, digest.wants(), &expect).await?;
        self.link_blob(owner_id, image, &staged).await?;
        Ok(BlobInfo {
            size: staged.size,
            digest: digest.to_string(),
        })
    }

    /// Cross-repository mount: links a blob of `from` into `image` when the actor may read
    /// `from` and the blob is there. `Ok(None)` means "fall back to an upload".
    pub async fn mount_blob(
        &self,
        actor: &Actor,
        image: &ImageName,
        from: &ImageName,
        digest: &OciDigest,
    ) -> DomainResult<Option<BlobInfo>> {
        let owner_id = self.authorize_push(actor, image).await?;
        let Ok(from_owner) = self.authorize_pull(actor, from).await else {
            return Ok(None);
        };
        let Some(row) = self.linked_blob(from_owner, from, digest).await? else {
            return Ok(None);
        };
        let staged = StagedBlob {
            size: row.size as u64,
            digests: Digests {
                sha256: row.digest.trim_start_matches("sha256:").to_string(),
                md5: None,
                sha1: None,
                sha512: row.sha512.clone(),
            },
        };
        self.link_blob(owner_id, image, &staged).await?;
        Ok(Some(BlobInfo {
            size: staged.size,
            digest: digest.to_string(),
        }))
    }

    async fn session(
        &self,
        owner_id: i64,
        image: &ImageName,
        id: &str,
    ) -> DomainResult<upload_session::Model> {
        upload_session::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .filter(|s| s.owner_id == owner_id && s.name == image.name.as_str())
            .ok_or_else(|| DomainError::not_found(What::Upload, format!("upload {id}")))
    }

    /// Where a session's chunks are, in order.
    fn upload_parts(session: &upload_session::Model) -> DomainResult<Vec<UploadPart>> {
        let upload = uuid::Uuid::parse_str(&session.id)
            .map_err(|_| DomainError::not_found(What::Upload, format!("upload {}", session.id)))?;
        let parts = session.parts.max(0) as usize;
        let nonces: Vec<uuid::Uuid> = session
            .part_nonces
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter(|n| !n.is_empty())
            .map(|n| uuid::Uuid::parse_str(n).map_err(DomainError::internal))
            .collect::<DomainResult<_>>()?;
        // The last `nonces.len()` parts are recorded by nonce; any before them come from a
        // session started before nonces were kept, and were renamed to `part-N`.
        let numbered = parts.saturating_sub(nonces.len());
        Ok((0..parts)
            .map(|i| match i.checked_sub(numbered) {
                Some(k) => UploadPart::Pending(upload, nonces[k]),
                None => UploadPart::Numbered(upload, i as u32),
            })
            .collect())
    }

    /// Opens an upload session.
    pub async fn start_upload(&self, actor: &Actor, image: &ImageName) -> DomainResult<String> {
        let owner_id = self.authorize_push(actor, image).await?;
        let id = uuid::Uuid::new_v4().to_string();
        upload_session::ActiveModel {
            id: Set(id.clone()),
            owner_id: Set(owner_id),
            name: Set(image.name.to_string()),
            size: Set(0),
            parts: Set(0),
            first_part_sha256: Set(None),
            part_nonces: Set(None),
            created_at: Set(now()),
            updated_at: Set(now()),
        }
        .insert(&self.db)
        .await?;
        Ok(id)
    }

    /// How many bytes an upload has received.
    pub async fn upload_status(
        &self,
        actor: &Actor,
        image: &ImageName,
        id: &str,
    ) -> DomainResult<u64> {
        let owner_id = self.authorize_push(actor, image).await?;
        Ok(self.session(owner_id, image, id).await?.size as u64)
    }

    /// Appends a chunk. `start` (from `Content-Range`) must be where the upload stands, or
    /// the chunk is refused with the current size (416).
    pub async fn upload_chunk<S, E>(
        &self,
        actor: &Actor,
        image: &ImageName,
        id: &str,
        start: Option<u64>,
        body: S,
    ) -> DomainResult<u64>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let owner_id = self.authorize_push(actor, image).await?;
        let session = self.session(owner_id, image, id).await?;
        let current = session.size as u64;
        if start.is_some_and(|s| s != current) {
            return Err(DomainError::RangeNotSatisfiable { size: current });
        }
        let upload = uuid::Uuid::parse_str(id)
            .map_err(|_| DomainError::not_found(What::Upload, format!("upload {id}")))?;
        let part = session.parts as u32;
        let pending = self
            .blobs
            .stage_part(
                upload,
                body,
                self.max_file_bytes(PackageType::Container)
                    .saturating_sub(current),
            )
            .await?;
        if pending.size == 0 {
            self.blobs.discard_part(&pending).await;
            return Ok(current);
        }
        let total = current + pending.size;
        // Claim part `part`, unless a chunk racing on this upload got there first: then this
        // one lost, and gets the 416 with where the upload now stands.
        let mut claim = upload_session::Entity::update_many()
            .col_expr(upload_session::Column::Size, Expr::value(total as i64))
            .col_expr(upload_session::Column::Parts, Expr::value(part as i32 + 1))
            .col_expr(upload_session::Column::UpdatedAt, Expr::value(now()))
            // The chunk stays where it was written; the session records its key.
            .col_expr(
                upload_session::Column::PartNonces,
                self.sql_expr(
                    "COALESCE(upload_session.part_nonces || ',', '') || $1",
                    [pending.nonce().to_string()],
                ),
            )
            .filter(upload_session::Column::Id.eq(id))
            .filter(upload_session::Column::Parts.eq(part as i32))
            .filter(upload_session::Column::Size.eq(current as i64));
        if part == 0 {
            claim = claim.col_expr(
                upload_session::Column::FirstPartSha256,
                Expr::value(pending.digests.sha256.clone()),
            );
        }
        if claim.exec(&self.db).await?.rows_affected != 1 {
            self.blobs.discard_part(&pending).await;
            let size = self
                .session(owner_id, image, id)
                .await
                .map(|s| s.size as u64)
                .unwrap_or(current);
            return Err(DomainError::RangeNotSatisfiable { size });
        }
        Ok(total)
    }

    /// Completes an upload (with an optional last chunk), verifies the digest and links the
    /// blob to the image. A one-chunk upload is promoted without reading it again.
    pub async fn finish_upload<S, E>(
        &self,
        actor: &Actor,
        image: &ImageName,
        id: &str,
        digest: &OciDigest,
        last_chunk: Option<S>,
    ) -> DomainResult<BlobInfo>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let owner_id = self.authorize_push(actor, image).await?;
        if let Some(body) = last_chunk {
            self.upload_chunk(actor, image, id, None, body).await?;
        }
        let session = self.session(owner_id, image, id).await?;
        let parts = Self::upload_parts(&session)?;
        let result = match (&digest, parts.as_slice(), &session.first_part_sha256) {
            (OciDigest::Sha256(want), [only], Some(got)) => {
                if want != got {
                    Err(DomainError::DigestMismatch {
                        expected: digest.to_string(),
                        actual: format!("sha256:{got}"),
                    })
                } else {
                    let digests = Digests {
                        sha256: got.clone(),
                        ..Default::default()
                    };
                    self.blobs
                        .promote_part(only, session.size as u64, digests)
                        .await
                }
            }
            _ => {
                let mut expect = digest.expectations();
                expect.size = Some(session.size as u64);
                self.blobs
                    .stage(
                        self.blobs.parts_stream(parts.clone()),
                        digest.wants(),
                        &expect,
                    )
                    .await
            }
        };
        // The session ends either way: a wrong digest means the client starts over.
        self.blobs.delete_upload(&parts).await?;
        upload_session::Entity::delete_by_id(id.to_string())
            .exec(&self.db)
            .await?;
        let staged = result?;
        self.link_blob(owner_id, image, &staged).await?;
        Ok(BlobInfo {
            size: staged.size,
            digest: digest.to_string(),
        })
    }

    /// Cancels an upload and removes what it stored.
    pub async fn cancel_upload(
        &self,
        actor: &Actor,
        image: &ImageName,
        id: &str,
    ) -> DomainResult<()> {
        let owner_id = self.authorize_push(actor, image).await?;
        let session = self.session(owner_id, image, id).await?;
        if let Ok(parts) = Self::upload_parts(&session) {
            self.blobs.delete_upload(&parts).await?;
        }
        upload_session::Entity::delete_by_id(id.to_string())
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Removes upload sessions idle for longer than the TTL, with their chunks.
    pub async fn expire_uploads(&self) -> DomainResult<u64> {
        let stale = upload_session::Entity::find()
            .filter(upload_session::Column::UpdatedAt.lt(now() - Duration::hours(UPLOAD_TTL_HOURS)))
            .all(&self.db)
            .await?;
        for s in &stale {
            if let Ok(parts) = Self::upload_parts(s) {
                self.blobs.delete_upload(&parts).await?;
            }
            upload_session::Entity::delete_by_id(s.id.clone())
                .exec(&self.db)
                .await?;
        }
        Ok(stale.len() as u64)
    }

    /// Pushes a manifest: checks what it refers to exists, stores its exact bytes, and
    /// publishes it as a version (named by its digest) with the given tags.
    pub async fn put_manifest(
        &self,
        actor: &Actor,
        image: &ImageName,
        reference: &Reference,
        content_type: Option<&str>,
        bytes: Bytes,
        extra_tags: Vec<String>,
    ) -> DomainResult<(String, Option<String>)> {
        let owner_id = self.authorize_push(actor, image).await?;
        if bytes.len() > MANIFEST_MAX {
            return Err(DomainError::PayloadTooLarge(format!(
                "manifests are limited to {MANIFEST_MAX} bytes"
            )));
        }
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|e| DomainError::invalid(format!("manifest is not JSON: {e}")))?;
        let media_type = doc
            .get("mediaType")
            .and_then(Value::as_str)
            .or(content_type)
            .map(str::to_string)
            .ok_or_else(|| DomainError::invalid("manifest has no media type"))?;
        let is_index = matches!(
            media_type.as_str(),
            "application/vnd.oci.image.index.v1+json"
                | "application/vnd.docker.distribution.manifest.list.v2+json"
        );
        let is_image = matches!(
            media_type.as_str(),
            "application/vnd.oci.image.manifest.v1+json"
                | "application/vnd.docker.distribution.manifest.v2+json"
        );
        if !is_index && !is_image {
            return Err(DomainError::invalid(format!(
                "unsupported manifest media type {media_type:?}"
            )));
        }
        let want = match reference {
            Reference::Digest(d) => d.wants(),
            Reference::Tag(_) => DigestSet::default(),
        };
        let expect = match reference {
            Reference::Digest(d) => d.expectations(),
            Reference::Tag(_) => Expectations::default(),
        };
        let staged = self.stage_bytes(bytes.clone(), want, &expect).await?;
        let digest = staged.digest();

        // A descriptor list is an array of objects (the image spec's schema): anything else
        // is an invalid manifest, not an empty list (else `"layers": "nope"` would store an
        // image without its layers).
        let descriptors = |key: &str| -> DomainResult<Vec<Value>> {
            match doc.get(key) {
                None => Ok(Vec::new()),
                Some(Value::Array(items)) if items.iter().all(Value::is_object) => {
                    Ok(items.clone())
                }
                Some(_) => Err(DomainError::invalid(format!(
                    "manifest field {key:?} must be an array of descriptors"
                ))),
            }
        };
        let mut files = vec![NewFile {
            name: FileName::parse(&digest)?,
            blob: staged.clone(),
            content_type: media_type.clone(),
            lead: true,
        }];
        let mut references = Vec::new();
        if is_image {
            let config = doc
                .get("config")
                .filter(|c| c.is_object())
                .cloned()
                .ok_or_else(|| {
                    DomainError::invalid("image manifest without a config descriptor")
                })?;
            for (n, descriptor) in std::iter::once(config)
                .chain(descriptors("layers")?)
                .enumerate()
            {
                // Foreign layers live elsewhere. The config never does: it must be a blob
                // of this image (its labels become the package's description).
                if n > 0 && descriptor.get("urls").is_some() {
                    continue;
                }
                let d: OciDigest = descriptor
                    .get("digest")
                    .and_then(Value::as_str)
                    .ok_or_else(|| DomainError::invalid("descriptor without digest"))?
                    .parse()?;
                let row = self
                    .linked_blob(owner_id, image, &d)
                    .await?
                    .ok_or_else(|| manifest_blob_unknown(&d))?;
                // Claimed for this manifest: fresh again, so garbage collection (which deletes
                // only rows still old and unreferenced) leaves it until the publish commits;
                // gone since the check above means it must be pushed again.
                if !self.claim_linked(owner_id, image, &row.digest).await? {
                    return Err(manifest_blob_unknown(&d));
                }
                let hex = row.digest.trim_start_matches("sha256:").to_string();
                let name = FileName::parse(&row.digest)?;
                if !files.iter().any(|f| f.name == name) {
                    files.push(NewFile {
                        name,
                        blob: StagedBlob {
                            size: row.size as u64,
                            digests: Digests {
                                sha256: hex,
                                md5: row.md5,
                                sha1: row.sha1,
                                sha512: row.sha512,
                            },
                        },
                        content_type: descriptor
                            .get("mediaType")
                            .and_then(Value::as_str)
                            .unwrap_or("application/octet-stream")
                            .to_string(),
                        lead: false,
                    });
                }
                references.push(d.to_string());
            }
        } else {
            let pkg = self
                .package_model(&image.package_ref())
                .await?
                .map(|(p, _)| p);
            for descriptor in descriptors("manifests")? {
                let d = descriptor
                    .get("digest")
                    .and_then(Value::as_str)
                    .ok_or_else(|| DomainError::invalid("descriptor without digest"))?;
                let exists = match &pkg {
                    Some(p) => live_version(&self.db, p.id, d).await?.is_some(),
                    None => false,
                };
                if !exists {
                    return Err(manifest_blob_unknown(&d.parse()?));
                }
                references.push(d.to_string());
            }
        }
        let annotations = doc
            .get("annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let subject = doc
            .get("subject")
            .and_then(|s| s.get("digest"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let artifact_type = doc
            .get("artifactType")
            .and_then(Value::as_str)
            .or_else(|| {
                doc.get("config")
                    .and_then(|c| c.get("mediaType"))
                    .and_then(Value::as_str)
                    .filter(|_| subject.is_some())
            })
            .map(str::to_string);
        // Description, license and source from annotations, else from the config's labels.
        let mut labels = annotations.clone();
        if is_image
            && let Some(config_digest) = doc
                .get("config")
                .and_then(|c| c.get("digest"))
                .and_then(Value::as_str)
            && let Some(config) = self.small_blob_json(config_digest).await?
            && let Some(config_labels) = config
                .get("config")
                .and_then(|c| c.get("Labels"))
                .and_then(Value::as_object)
        {
            for (k, v) in config_labels {
                labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let label = |key: &str| labels.get(key).and_then(Value::as_str).map(str::to_string);
        let mut tags = extra_tags;
        if let Reference::Tag(t) = reference {
            tags.push(t.clone());
        }
        self.publish(
            actor,
            PublishRequest {
                package: image.package_ref(),
                version: VersionName::parse(&digest)?,
                metadata: VersionMetadata::Container(ContainerMetadata {
                    media_type,
                    artifact_type,
                    subject: subject.clone(),
                    annotations,
                    size: staged.size,
                    references,
                    url: label("org.opencontainers.image.url"),
                    authors: label("org.opencontainers.image.authors"),
                    description: label("org.opencontainers.image.description"),
                    licenses: label("org.opencontainers.image.licenses"),
                    source: label("org.opencontainers.image.source"),
                }),
                readme: None,
                prerelease: false,
                files,
                tags,
                visibility: None,
            },
        )
        .await?;
        Ok((digest, subject))
    }

    /// Reads a small JSON blob (an image config), if stored and under 1 MiB.
    async fn small_blob_json(&self, digest: &str) -> DomainResult<Option<Value>> {
        let Some(row) = blob::Entity::find_by_id(digest.to_string())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        if row.size > 1024 * 1024 {
            return Ok(None);
        }
        let bytes = self
            .blobs
            .read_all(digest.trim_start_matches("sha256:"))
            .await?;
        Ok(serde_json::from_slice(&bytes).ok())
    }

    async fn manifest_version(
        &self,
        actor: &Actor,
        image: &ImageName,
        reference: &Reference,
    ) -> DomainResult<(i64, package_version::Model)> {
        let (pkg, owner) = self.live_package(actor, &image.package_ref()).await?;
        self.authorize_package(actor, Action::Read, &pkg, &owner)
            .await?;
        let version = match reference {
            Reference::Digest(OciDigest::Sha256(h)) => {
                live_version(&self.db, pkg.id, &format!("sha256:{h}")).await?
            }
            Reference::Digest(d @ OciDigest::Sha512(_)) => {
                let row = self.blob_row(d).await?;
                match row {
                    Some(r) => live_version(&self.db, pkg.id, &r.digest).await?,
                    None => None,
                }
            }
            Reference::Tag(t) => {
                let tag = package_tag::Entity::find()
                    .filter(package_tag::Column::PackageId.eq(pkg.id))
                    .filter(package_tag::Column::Name.eq(t.as_str()))
                    .one(&self.db)
                    .await?;
                match tag {
                    Some(tag) => package_version::Entity::find_by_id(tag.version_id)
                        .one(&self.db)
                        .await?
                        .filter(|v| v.deleted_at.is_none()),
                    None => None,
                }
            }
        };
        let version = version.ok_or_else(|| DomainError::not_found(What::Manifest, "manifest"))?;
        Ok((pkg.id, version))
    }

    /// GET or HEAD of a manifest, by tag or digest. A GET counts a download.
    pub async fn get_manifest(
        &self,
        actor: &Actor,
        image: &ImageName,
        reference: &Reference,
        count: bool,
    ) -> DomainResult<Manifest> {
        let (package_id, version) = self.manifest_version(actor, image, reference).await?;
        let media_type = match VersionMetadata::from_stored(version.metadata.clone()) {
            VersionMetadata::Container(m) => m.media_type,
            _ => {
                return Err(DomainError::internal(
                    "container version without container metadata",
                ));
            }
        };
        let bytes = self
            .blobs
            .read_all(version.version.trim_start_matches("sha256:"))
            .await?;
        if count {
            self.downloads.count(package_id, version.id);
        }
        Ok(Manifest {
            bytes,
            media_type,
            digest: version.version,
        })
    }

    /// DELETE of a manifest: by digest deletes the version (restorable), by tag only untags.
    pub async fn delete_manifest(
        &self,
        actor: &Actor,
        image: &ImageName,
        reference: &Reference,
    ) -> DomainResult<()> {
        let r = image.package_ref();
        match reference {
            Reference::Tag(t) => self.delete_tag(actor, &r, t).await,
            Reference::Digest(_) => {
                let (_, version) = self.manifest_version(actor, image, reference).await?;
                self.delete_version_named(
                    actor,
                    &r,
                    &VersionName::parse(&version.version)?,
                    crate::domain::packages::LastVersion::KeepsPackage,
                )
                .await
                .map(|_| ())
            }
        }
    }

    /// Tags of an image in lexical order, `n` after `last`; the bool says whether more follow.
    pub async fn list_image_tags(
        &self,
        actor: &Actor,
        image: &ImageName,
        n: Option<u64>,
        last: Option<&str>,
    ) -> DomainResult<(Vec<String>, bool)> {
        let pkg = self.find_package(actor, &image.package_ref()).await?;
        // Lexical means byte order (the spec's, and what clients compare `last` with),
        // whatever the database's collation; paged in SQL.
        let name = self.bytewise("package_tag.name");
        let mut query =
            package_tag::Entity::find().filter(package_tag::Column::PackageId.eq(pkg.id));
        if let Some(last) = last {
            query = query.filter(self.sql_expr(&format!("{name} > $1"), [last]));
        }
        let query = query.order_by(Expr::cust(name), Order::Asc);
        let n = n.map(|n| n.min(TAGS_PAGE_MAX));
        let query = match n {
            Some(n) => query.limit(n + 1),
            None => query,
        };
        let mut tags: Vec<String> = query
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect();
        Ok(match n {
            Some(n) if (tags.len() as u64) > n => {
                tags.truncate(n as usize);
                (tags, true)
            }
            _ => (tags, false),
        })
    }

    /// The catalog: container images the caller may read, in `owner/name` order, `n` after
    /// `last`, paged in SQL (keyset on owner login then name), whatever the registry's size.
    pub async fn catalog(
        &self,
        actor: &Actor,
        n: u64,
        last: Option<&str>,
    ) -> DomainResult<(Vec<String>, bool)> {
        // Lexical order of the whole `owner/name`, byte by byte, as the spec asks.
        let full = self.bytewise(
            "((SELECT login FROM account WHERE account.id = package.owner_id) || '/' || package.name)",
        );
        let mut cond = Condition::all()
            .add(self.readable_condition(actor))
            .add(package::Column::DeletedAt.is_null())
            .add(package::Column::Format.eq(PackageType::Container.as_str()));
        if let Some(last) = last {
            cond = cond.add(self.sql_expr(&format!("{full} > $1"), [last]));
        }
        let rows = package::Entity::find()
            .filter(cond)
            .order_by(Expr::cust(full), Order::Asc)
            .limit(n + 1)
            .all(&self.db)
            .await?;
        let owners = self.owners_of(&rows).await?;
        let more = rows.len() as u64 > n;
        let names = rows
            .into_iter()
            .take(n as usize)
            .filter_map(|p| Some(format!("{}/{}", owners.get(&p.owner_id)?.login, p.name)))
            .collect();
        Ok((names, more))
    }

    pub async fn referrers(
        &self,
        actor: &Actor,
        image: &ImageName,
        digest: &OciDigest,
        artifact_type: Option<&str>,
    ) -> DomainResult<Vec<Value>> {
        let pkg = match self.find_package(actor, &image.package_ref()).await {
            Ok(p) => p,
            Err(DomainError::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let subject = digest.to_string();
        // Only the manifests the index names (find_package checked read access).
        let versions = package_version::Entity::find()
            .filter(package_version::Column::PackageId.eq(pkg.id))
            .filter(package_version::Column::DeletedAt.is_null())
            .filter(
                package_version::Column::Id.in_subquery(
                    image_referrer::Entity::find()
                        .select_only()
                        .column(image_referrer::Column::VersionId)
                        .filter(image_referrer::Column::PackageId.eq(pkg.id))
                        .filter(image_referrer::Column::Subject.eq(subject.as_str()))
                        .into_query(),
                ),
            )
            .order_by_asc(package_version::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(version_info);
        let mut out = Vec::new();
        for v in versions {
            if let VersionMetadata::Container(ContainerMetadata {
                media_type,
                artifact_type: kind,
                subject: Some(s),
                annotations,
                size,
                ..
            }) = v.metadata
                && s == subject
                && artifact_type.is_none_or(|want| kind.as_deref() == Some(want))
            {
                let mut descriptor =
                    serde_json::json!({"mediaType": media_type, "digest": v.version, "size": size});
                if let Some(kind) = kind {
                    descriptor["artifactType"] = Value::String(kind);
                }
                if !annotations.is_empty() {
                    descriptor["annotations"] = Value::Object(annotations);
                }
                out.push(descriptor);
            }
        }
        Ok(out)
    }
}

/// An image before its first manifest, as the gate judges it: private, no grants, no
/// repository (the id names no row, so no grant matches it).
fn unborn_image(owner: &entity::account::Model, name: &PackageName) -> package::Model {
    package::Model {
        id: 0,
        owner_id: owner.id,
        format: PackageType::Container.as_str().into(),
        name: name.to_string(),
        name_key: rules(PackageType::Container)
            .name_key(name.as_str())
            .into_owned(),
        visibility: crate::domain::Visibility::Private.as_str().into(),
        repository_id: None,
        inherit_access: false,
        created_at: now(),
        updated_at: now(),
        deleted_at: None,
    }
}

fn manifest_blob_unknown(d: &OciDigest) -> DomainError {
    DomainError::not_found(
        What::ReferencedBlob,
        format!("manifest references unknown blob {d}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_follow_the_spec_grammar() {
        let n = ImageName::parse("acme/web/api").expect("valid");
        assert_eq!((n.owner.as_str(), n.name.as_str()), ("acme", "web/api"));
        for ok in [
            "a/b",
            "acme/my_app",
            "acme/my__app",
            "acme/my--app",
            "acme/v1.2",
        ] {
            assert!(ImageName::parse(ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "acme",
            "Acme/app",
            "acme/App",
            "acme/-app",
            "acme/app-",
            "acme//app",
            "acme/a___b",
            "acme/../x",
            "acme/a b",
        ] {
            assert!(ImageName::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn digests_and_references() {
        let hex = "a".repeat(64);
        assert_eq!(
            format!("sha256:{hex}").parse::<OciDigest>().expect("valid"),
            OciDigest::Sha256(hex.clone())
        );
        assert!(
            format!("sha512:{}", "b".repeat(128))
                .parse::<OciDigest>()
                .is_ok()
        );
        for bad in [
            "sha256:xyz",
            "md5:abc",
            "sha256",
            &format!("sha256:{}", "A".repeat(64)),
        ] {
            assert!(bad.parse::<OciDigest>().is_err(), "{bad} accepted");
        }
        assert!(matches!(Reference::parse("latest"), Ok(Reference::Tag(_))));
        assert!(matches!(
            Reference::parse(&format!("sha256:{hex}")),
            Ok(Reference::Digest(_))
        ));
        assert!(Reference::parse("-bad").is_err());
        assert!(Reference::parse(&"t".repeat(129)).is_err());
    }
}
