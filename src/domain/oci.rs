//! Container images over the generic model: an image is a package of type `container`, a
//! manifest is a version named by its digest, tags are package tags, layers and configs
//! are files. Uploads are sessions in the database with their chunks in the blob store, so
//! they survive restarts and work across replicas.
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
        Domain, PackageName, PackageType, VersionName,
        metadata::VersionMetadata,
        names::FileName,
        now,
        packages::{PackageRef, live_version, version_info},
        publish::{NewFile, OnExisting, PublishRequest},
    },
    error::{DomainError, DomainResult, What},
    storage::{BlobRead, DigestSet, Digests, Expectations, StagedBlob, UploadPart},
};

/// The most tags one page of `tags/list?n=` holds (fewer than asked is allowed).
const TAGS_PAGE_MAX: u64 = 10_000;
/// Upload sessions idle longer than this are expired by GC.
pub const UPLOAD_TTL_HOURS: i64 = 24;

/// A content digest the domain can look a blob up by. Its constructors check the hex, so
/// a digest is always one the blob store could hold.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BlobDigest {
    Sha256(String),
    Sha512(String),
}

fn lower_hex(hex: &str, len: usize) -> bool {
    hex.len() == len
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl BlobDigest {
    /// 64 lower-case hex digits.
    pub fn sha256(hex: &str) -> DomainResult<Self> {
        if !lower_hex(hex, 64) {
            return Err(DomainError::invalid(format!("invalid sha256 {hex:?}")));
        }
        Ok(Self::Sha256(hex.to_string()))
    }

    /// 128 lower-case hex digits.
    pub fn sha512(hex: &str) -> DomainResult<Self> {
        if !lower_hex(hex, 128) {
            return Err(DomainError::invalid(format!("invalid sha512 {hex:?}")));
        }
        Ok(Self::Sha512(hex.to_string()))
    }

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

/// `algorithm:hex`, the identity string blobs are stored and compared by.
impl std::fmt::Display for BlobDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sha256(h) => write!(f, "sha256:{h}"),
            Self::Sha512(h) => write!(f, "sha512:{h}"),
        }
    }
}

/// A manifest as the registry looks it up: by tag or by digest.
#[derive(Clone, Debug)]
pub enum ManifestRef {
    Tag(String),
    Digest(BlobDigest),
}

/// What an image's bearer token may grant: the token flow's action vocabulary, which the
/// rules below map onto policy's actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, strum::EnumString, strum::Display)]
pub enum ImageAction {
    #[strum(serialize = "pull")]
    Pull,
    #[strum(serialize = "push")]
    Push,
    #[strum(serialize = "delete")]
    Delete,
    /// Everything the actor may do (`*`), granted as by delete.
    #[strum(serialize = "*")]
    All,
}

/// Who a bearer token speaks for, as its `sub` claim names them; checked again on use.
fn bearer_subject(actor: &Actor) -> String {
    match actor {
        Actor::Anonymous => "anonymous".to_string(),
        Actor::User { id, .. } => format!("user:{id}"),
        Actor::Repository { repository_id, .. } => format!("repository:{repository_id}"),
    }
}

/// `owner/name`, as messages name an image.
fn full_name(image: &PackageRef) -> String {
    debug_assert_eq!(image.package_type, PackageType::Container);
    format!("{}/{}", image.owner, image.name)
}

/// A manifest or index as pushed, parsed by the door: what the registry's rules need of it.
#[derive(Debug)]
pub struct ImageManifest {
    /// Stored exactly as pushed: its digest is its name.
    pub bytes: Bytes,
    pub media_type: String,
    pub content: ManifestContent,
    /// The manifest this one refers to (an artifact's subject), as it names it.
    pub subject: Option<String>,
    pub artifact_type: Option<String>,
    pub annotations: serde_json::Map<String, Value>,
    pub labels: ImageLabels,
}

/// What a manifest refers to, and so what must exist before it is accepted.
#[derive(Debug)]
pub enum ManifestContent {
    /// An image: a config and layers, blobs of the image (foreign layers left out).
    Image {
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
    /// An index: manifests of the image.
    Index { children: Vec<BlobDigest> },
}

/// A blob a manifest refers to, with the content type it is stored as.
#[derive(Debug)]
pub struct Descriptor {
    pub digest: BlobDigest,
    pub media_type: String,
}

/// What describes an image's package: its `org.opencontainers.image.*` annotations or
/// labels.
#[derive(Debug, Default)]
pub struct ImageLabels {
    pub description: Option<String>,
    pub licenses: Option<String>,
    pub source: Option<String>,
    pub url: Option<String>,
    pub authors: Option<String>,
}

/// A pushed manifest's digest, and the subject it refers to (clients are told).
pub struct PushedManifest {
    pub digest: String,
    pub subject: Option<String>,
}

/// A manifest that refers to another (its subject), as the referrers list shows it.
pub struct ReferrerInfo {
    pub digest: String,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub size: u64,
    pub annotations: serde_json::Map<String, Value>,
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
        if bearer_subject(&actor) != claims.sub {
            return Err(DomainError::Unauthenticated(
                "bad credentials: the token's subject changed".into(),
            ));
        }
        Ok(actor)
    }

    /// Signs a bearer token for the actor carrying the access the door computed from the
    /// grants (`granted_actions`) for the scopes it was asked for.
    pub async fn issue_bearer(
        &self,
        actor: &Actor,
        audience: &str,
        access: Vec<Access>,
    ) -> DomainResult<(String, i64)> {
        let (token, claims) = self
            .jwt_keys()
            .await?
            .issue(
                bearer_subject(actor),
                actor.token().map(|t| t.token_id),
                audience,
                access,
            )
            .map_err(DomainError::internal)?;
        Ok((token, claims.iat))
    }

    /// Whether policy lets the actor do `action` on an image now.
    pub async fn may(
        &self,
        actor: &Actor,
        image: &PackageRef,
        action: ImageAction,
    ) -> DomainResult<bool> {
        Ok(!self
            .granted_actions(actor, image, &[action])
            .await?
            .is_empty())
    }

    /// Of the actions wanted on an image, those policy allows the actor now, in the order
    /// asked.
    pub async fn granted_actions(
        &self,
        actor: &Actor,
        image: &PackageRef,
        wanted: &[ImageAction],
    ) -> DomainResult<Vec<ImageAction>> {
        let existing = self.package_model(image).await?;
        let mut granted = Vec::new();
        for &action in wanted {
            let allowed = match (&existing, action) {
                (Some((pkg, owner)), _) => {
                    let needs = match action {
                        ImageAction::Pull => Action::Read,
                        ImageAction::Push => Action::Write,
                        ImageAction::Delete | ImageAction::All => Action::Delete,
                    };
                    self.authorize_package(actor, needs, pkg, owner)
                        .await
                        .is_ok()
                }
                // A new image: who may create it may push to it; pulling its blobs before
                // its first manifest is `authorize_pull`'s call.
                (None, ImageAction::Pull) => match self.authorize_pull(actor, image).await {
                    Ok(_) => true,
                    Err(DomainError::NotFound { .. } | DomainError::Unauthenticated(_)) => false,
                    Err(e) => return Err(e),
                },
                (None, ImageAction::Push | ImageAction::All) => {
                    self.may_create_image(actor, image).await?
                }
                (None, ImageAction::Delete) => false,
            };
            if allowed {
                granted.push(action);
            }
        }
        Ok(granted)
    }

    async fn may_create_image(&self, actor: &Actor, image: &PackageRef) -> DomainResult<bool> {
        let Ok(owner) = self.account_model(&image.owner).await else {
            return Ok(false);
        };
        match self.authorize_create_in(actor, image, &owner).await {
            Ok(()) => Ok(true),
            Err(DomainError::Forbidden(_) | DomainError::Unauthenticated(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Checks the actor may push to an image (existing: write; new: create). Returns the
    /// owner's id.
    async fn authorize_push(&self, actor: &Actor, image: &PackageRef) -> DomainResult<i64> {
        match self.package_model(image).await? {
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
                        "you may not push to {}",
                        full_name(image)
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
                    "you may not push to {}",
                    full_name(image)
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
    async fn authorize_pull(&self, actor: &Actor, image: &PackageRef) -> DomainResult<i64> {
        let r = image.clone();
        if let Some((pkg, owner)) = self.package_model(&r).await? {
            self.authorize_package(actor, Action::Read, &pkg, &owner)
                .await?;
            return Ok(owner.id);
        }
        let unknown = || {
            policy::unknown(
                actor,
                What::Package,
                format!("package {}", full_name(image)),
            )
        };
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

    async fn blob_row(&self, digest: &BlobDigest) -> DomainResult<Option<blob::Model>> {
        Ok(match digest {
            BlobDigest::Sha256(h) => {
                blob::Entity::find_by_id(format!("sha256:{h}"))
                    .one(&self.db)
                    .await?
            }
            BlobDigest::Sha512(h) => {
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
        image: &PackageRef,
        digest: &BlobDigest,
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
        image: &PackageRef,
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
        image: &PackageRef,
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
        image: &PackageRef,
        digest: &BlobDigest,
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
        image: &PackageRef,
        digest: &BlobDigest,
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
        image: &PackageRef,
        digest: &BlobDigest,
    ) -> DomainResult<()> {
        let (pkg, owner) = self.live_package(actor, image).await?;
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
        image: &PackageRef,
        digest: &BlobDigest,
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
        expect.max_size = Some(self.config.limits.container_blob_bytes);
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
        image: &PackageRef,
        from: &PackageRef,
        digest: &BlobDigest,
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
        image: &PackageRef,
        id: &str,
    ) -> DomainResult<upload_session::Model> {
        upload_session::Entity::find_by_id(id.to_string())
            .one(&self.db)
            .await?
            .filter(|s| s.owner_id == owner_id && s.name == image.name.as_str())
            .ok_or_else(|| DomainError::not_found(What::Upload, format!("upload {id}")))
    }

    /// Opens an upload session.
    pub async fn start_upload(&self, actor: &Actor, image: &PackageRef) -> DomainResult<String> {
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
        image: &PackageRef,
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
        image: &PackageRef,
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
                self.config
                    .limits
                    .container_blob_bytes
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
        image: &PackageRef,
        id: &str,
        digest: &BlobDigest,
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
        let parts = upload_parts(&session)?;
        let result = match (&digest, parts.as_slice(), &session.first_part_sha256) {
            (BlobDigest::Sha256(want), [only], Some(got)) => {
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
        image: &PackageRef,
        id: &str,
    ) -> DomainResult<()> {
        let owner_id = self.authorize_push(actor, image).await?;
        let session = self.session(owner_id, image, id).await?;
        if let Ok(parts) = upload_parts(&session) {
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
            if let Ok(parts) = upload_parts(s) {
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
    pub async fn push_manifest(
        &self,
        actor: &Actor,
        image: &PackageRef,
        reference: &ManifestRef,
        manifest: ImageManifest,
        extra_tags: Vec<String>,
    ) -> DomainResult<PushedManifest> {
        let owner_id = self.authorize_push(actor, image).await?;
        let staged = self
            .stage_manifest(reference, manifest.bytes.clone())
            .await?;
        let digest = staged.digest();
        let lead = NewFile {
            name: FileName::parse(&digest)?,
            blob: staged.clone(),
            content_type: manifest.media_type.clone(),
            lead: true,
        };
        let (files, references) = match &manifest.content {
            ManifestContent::Image { config, layers } => {
                self.image_files(owner_id, image, lead, config, layers)
                    .await?
            }
            ManifestContent::Index { children } => {
                (vec![lead], self.index_children(image, children).await?)
            }
        };
        let mut tags = extra_tags;
        if let ManifestRef::Tag(t) = reference {
            tags.push(t.clone());
        }
        let subject = manifest.subject.clone();
        let request = manifest_publish_request(
            image,
            &digest,
            manifest,
            staged.size,
            files,
            references,
            tags,
        )?;
        self.publish(actor, request).await?;
        Ok(PushedManifest { digest, subject })
    }

    /// Stores a manifest's exact bytes, checked against the digest it was pushed by.
    async fn stage_manifest(
        &self,
        reference: &ManifestRef,
        bytes: Bytes,
    ) -> DomainResult<StagedBlob> {
        let (want, expect) = match reference {
            ManifestRef::Digest(d) => (d.wants(), d.expectations()),
            ManifestRef::Tag(_) => (DigestSet::default(), Expectations::default()),
        };
        self.stage_bytes(bytes, want, &expect).await
    }

    /// An image manifest's files (the manifest, its config and layers, each once) and the
    /// digests it refers to. The config and every layer must be blobs of this image (the
    /// config's labels describe the package).
    async fn image_files(
        &self,
        owner_id: i64,
        image: &PackageRef,
        lead: NewFile,
        config: &Descriptor,
        layers: &[Descriptor],
    ) -> DomainResult<(Vec<NewFile>, Vec<String>)> {
        let mut files = vec![lead];
        let mut references = Vec::new();
        for descriptor in std::iter::once(config).chain(layers) {
            let d = &descriptor.digest;
            let row = self
                .linked_blob(owner_id, image, d)
                .await?
                .ok_or_else(|| manifest_blob_unknown(d))?;
            // Claimed for this manifest: fresh again, so garbage collection (which deletes
            // only rows still old and unreferenced) leaves it until the publish commits;
            // gone since the check above means it must be pushed again.
            if !self.claim_linked(owner_id, image, &row.digest).await? {
                return Err(manifest_blob_unknown(d));
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
                    content_type: descriptor.media_type.clone(),
                    lead: false,
                });
            }
            references.push(d.to_string());
        }
        Ok((files, references))
    }

    /// An index's children: each must be a live manifest of this image.
    async fn index_children(
        &self,
        image: &PackageRef,
        children: &[BlobDigest],
    ) -> DomainResult<Vec<String>> {
        let pkg = self.package_model(image).await?.map(|(p, _)| p);
        let mut references = Vec::new();
        for d in children {
            let exists = match &pkg {
                Some(p) => live_version(&self.db, p.id, &d.to_string())
                    .await?
                    .is_some(),
                None => false,
            };
            if !exists {
                return Err(manifest_blob_unknown(d));
            }
            references.push(d.to_string());
        }
        Ok(references)
    }

    /// An image config's bytes, for the door to read its labels: if the caller may pull
    /// the image, the blob is linked to it and it is small (at most `max` bytes). `None`
    /// otherwise: the labels are a description, and the push itself judges the rest.
    pub async fn read_config_blob(
        &self,
        actor: &Actor,
        image: &PackageRef,
        digest: &BlobDigest,
        max: u64,
    ) -> DomainResult<Option<Bytes>> {
        let owner_id = match self.authorize_pull(actor, image).await {
            Ok(id) => id,
            Err(
                DomainError::NotFound { .. }
                | DomainError::Forbidden(_)
                | DomainError::Unauthenticated(_),
            ) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(row) = self.linked_blob(owner_id, image, digest).await? else {
            return Ok(None);
        };
        if row.size as u64 > max {
            return Ok(None);
        }
        let bytes = self
            .blobs
            .read_all(row.digest.trim_start_matches("sha256:"))
            .await?;
        Ok(Some(bytes))
    }

    async fn manifest_version(
        &self,
        actor: &Actor,
        image: &PackageRef,
        reference: &ManifestRef,
    ) -> DomainResult<(i64, package_version::Model)> {
        let (pkg, owner) = self.live_package(actor, image).await?;
        self.authorize_package(actor, Action::Read, &pkg, &owner)
            .await?;
        let version = match reference {
            ManifestRef::Digest(BlobDigest::Sha256(h)) => {
                live_version(&self.db, pkg.id, &format!("sha256:{h}")).await?
            }
            ManifestRef::Digest(d @ BlobDigest::Sha512(_)) => {
                let row = self.blob_row(d).await?;
                match row {
                    Some(r) => live_version(&self.db, pkg.id, &r.digest).await?,
                    None => None,
                }
            }
            ManifestRef::Tag(t) => {
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
        image: &PackageRef,
        reference: &ManifestRef,
        count: bool,
    ) -> DomainResult<Manifest> {
        let (package_id, version) = self.manifest_version(actor, image, reference).await?;
        let media_type = match serde_json::from_value::<VersionMetadata>(version.metadata.clone()) {
            Ok(VersionMetadata::Container { media_type, .. }) => media_type,
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
        image: &PackageRef,
        reference: &ManifestRef,
    ) -> DomainResult<()> {
        let r = image.clone();
        match reference {
            ManifestRef::Tag(t) => self.delete_tag(actor, &r, t).await,
            ManifestRef::Digest(_) => {
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
        image: &PackageRef,
        n: Option<u64>,
        last: Option<&str>,
    ) -> DomainResult<(Vec<String>, bool)> {
        let pkg = self.find_package(actor, image).await?;
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

    /// The live manifests of an image that refer to `digest` as their subject, optionally
    /// only those of one artifact type.
    pub async fn referrers(
        &self,
        actor: &Actor,
        image: &PackageRef,
        digest: &BlobDigest,
        artifact_type: Option<&str>,
    ) -> DomainResult<Vec<ReferrerInfo>> {
        let pkg = match self.find_package(actor, image).await {
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
            if let Ok(VersionMetadata::Container {
                media_type,
                artifact_type: kind,
                subject: Some(s),
                annotations,
                size,
                ..
            }) = serde_json::from_value::<VersionMetadata>(v.metadata.clone())
                && s == subject
                && artifact_type.is_none_or(|want| kind.as_deref() == Some(want))
            {
                out.push(ReferrerInfo {
                    digest: v.version,
                    media_type,
                    artifact_type: kind,
                    size,
                    annotations,
                });
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
        visibility: crate::domain::Visibility::Private.as_str().into(),
        repository_id: None,
        inherit_access: false,
        created_at: now(),
        updated_at: now(),
        deleted_at: None,
    }
}

/// Where a session's chunks are, in order. Every claimed chunk is recorded by its nonce; a
/// session whose nonces don't cover its parts can't be assembled, so it answers as an
/// unknown upload and the client starts its push over.
fn upload_parts(session: &upload_session::Model) -> DomainResult<Vec<UploadPart>> {
    let unknown = || DomainError::not_found(What::Upload, format!("upload {}", session.id));
    let upload = uuid::Uuid::parse_str(&session.id).map_err(|_| unknown())?;
    let parts: Vec<UploadPart> = session
        .part_nonces
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .filter(|n| !n.is_empty())
        .map(|n| {
            uuid::Uuid::parse_str(n)
                .map(|nonce| UploadPart { upload, nonce })
                .map_err(DomainError::internal)
        })
        .collect::<DomainResult<_>>()?;
    if parts.len() != session.parts.max(0) as usize {
        return Err(unknown());
    }
    Ok(parts)
}

/// The version a manifest publishes: named by its digest, described by its labels, its
/// container metadata what the registry answers from (media type, subject, referrers).
fn manifest_publish_request(
    image: &PackageRef,
    digest: &str,
    manifest: ImageManifest,
    size: u64,
    files: Vec<NewFile>,
    references: Vec<String>,
    tags: Vec<String>,
) -> DomainResult<PublishRequest> {
    let labels = manifest.labels;
    Ok(PublishRequest {
        package: image.clone(),
        version: VersionName::parse(digest)?,
        metadata: VersionMetadata::Container {
            media_type: manifest.media_type,
            artifact_type: manifest.artifact_type,
            subject: manifest.subject,
            annotations: manifest.annotations,
            size,
            references,
            url: labels.url,
            authors: labels.authors,
        },
        summary: labels.description,
        readme: None,
        license: labels.licenses,
        prerelease: false,
        files,
        tags,
        visibility: None,
        repository_url: labels.source,
        on_existing: OnExisting::ReplaceFiles,
    })
}

fn manifest_blob_unknown(d: &BlobDigest) -> DomainError {
    DomainError::not_found(
        What::ReferencedBlob,
        format!("manifest references unknown blob {d}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session_with(parts: i32, nonces: &[uuid::Uuid]) -> upload_session::Model {
        let joined: Vec<String> = nonces.iter().map(ToString::to_string).collect();
        upload_session::Model {
            id: uuid::Uuid::new_v4().to_string(),
            owner_id: 1,
            name: "app".into(),
            size: 10,
            parts,
            first_part_sha256: None,
            part_nonces: (!nonces.is_empty()).then(|| joined.join(",")),
            created_at: now(),
            updated_at: now(),
        }
    }

    #[test]
    fn upload_parts_need_a_nonce_for_every_part() {
        let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
        let session = session_with(2, &[a, b]);
        let parts = upload_parts(&session).expect("covered");
        let nonces: Vec<_> = parts.iter().map(|p| p.nonce).collect();
        assert_eq!(nonces, [a, b]);
        assert!(parts.iter().all(|p| p.upload.to_string() == session.id));
        assert_eq!(upload_parts(&session_with(0, &[])).expect("empty").len(), 0);
        // A session from before nonces were recorded: its first part has no key we know.
        let err = upload_parts(&session_with(2, &[a])).expect_err("uncovered");
        assert!(matches!(err.what(), Some(What::Upload)), "{err:?}");
    }

    /// The domain knows no wire format: manifests are parsed in the door, media types and
    /// HTTP live there too. A cheap guard that keeps the rule true as the code grows.
    #[test]
    fn domain_imports_no_wire_types() {
        // Spelled in pieces, so this file doesn't trip its own check.
        let forbidden = [
            ["application", "/vnd."].concat(),
            ["serde_json::", "from_slice"].concat(),
            ["from_str::", "<Value>"].concat(),
            ["axum", "::"].concat(),
            ["http", "::"].concat(),
        ];
        fn sources(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("read src/domain") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/domain"),
            &mut files,
        );
        assert!(files.len() > 5, "found {files:?}");
        let mut offences = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file).expect("read source");
            for (n, line) in text.lines().enumerate() {
                for word in &forbidden {
                    if line.contains(word.as_str()) {
                        offences.push(format!("{}:{}: {word}", file.display(), n + 1));
                    }
                }
            }
        }
        assert!(
            offences.is_empty(),
            "wire types in the domain:\n{}",
            offences.join("\n")
        );
    }
}
