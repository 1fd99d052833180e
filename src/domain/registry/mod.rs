//! The container registry over the generic model: an image is a package of type
//! `container`, a manifest is a version named by its digest, tags are package tags, layers
//! and configs are files. Uploads are sessions in the database with their chunks in the
//! blob store, so they survive restarts and work across replicas.
//!
//! Called by the OCI door (`formats/oci`), which parses the wire (names, digests, scopes,
//! manifests) and hands typed values in; this module keeps the rules: who may pull, push
//! and delete (here), what a blob is linked to (`blobs`), how uploads assemble
//! (`uploads`), what a manifest must refer to (`manifests`), listings (`tags`), and the
//! bearer tokens of the token flow (`bearer`). It calls the database, the blob store and
//! the generic publish/delete services; it knows no HTTP, media type or JSON shape.
mod bearer;
mod blobs;
mod manifests;
mod tags;
mod uploads;

use entity::package;

use crate::{
    auth::{
        Actor,
        policy::{self, Action},
    },
    domain::{Domain, PackageName, PackageType, now, packages::PackageRef, rules::rules},
    error::{DomainError, DomainResult, What},
    storage::{DigestSet, Expectations},
};

pub(crate) use bearer::OciKeys;
pub use blobs::BlobInfo;
pub use manifests::{
    Descriptor, ImageLabels, ImageManifest, IndexChild, Manifest, ManifestContent, PushedManifest,
    ReferrerInfo,
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

fn lower_hex(hex: &str, len: usize) -> bool {
    hex.len() == len
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
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

/// `owner/name`, as messages name an image.
fn full_name(image: &PackageRef) -> String {
    debug_assert_eq!(image.package_type, PackageType::Container);
    format!("{}/{}", image.owner, image.name)
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

impl Domain {
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
                // Blobs pushed before the first manifest (or left by a deleted image) are
                // deleted by whoever may delete that image's blobs (`authorize_blob_delete`).
                (None, ImageAction::Delete) => {
                    match self.authorize_unlisted(actor, image, Action::Delete).await {
                        Ok(_) => true,
                        Err(DomainError::NotFound { .. } | DomainError::Unauthenticated(_)) => {
                            false
                        }
                        Err(e) => return Err(e),
                    }
                }
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
        if let Some((pkg, owner)) = self.package_model(image).await? {
            self.authorize_package(actor, Action::Read, &pkg, &owner)
                .await?;
            return Ok(owner.id);
        }
        self.authorize_unlisted(actor, image, Action::Read).await
    }

    /// Checks the actor may delete a blob linked to an image (`Ok` is the owner's id): a
    /// live image's by the delete role on it; one before its first manifest, or deleted,
    /// by the same policy as reading its blobs, but for deleting (its owner, the
    /// organization's owners, site admins). Others get the answer for a missing image.
    async fn authorize_blob_delete(&self, actor: &Actor, image: &PackageRef) -> DomainResult<i64> {
        if let Some((pkg, owner)) = self.package_model(image).await? {
            self.authorize_package(actor, Action::Delete, &pkg, &owner)
                .await?;
            return Ok(owner.id);
        }
        self.authorize_unlisted(actor, image, Action::Delete).await
    }

    /// The gate for an image without a live package: deleted (judged as restoring it,
    /// `Delete`) or not yet created (judged as a private image without grants, for
    /// `unborn_action`). Refusals answer "not found", as for an image that isn't there.
    async fn authorize_unlisted(
        &self,
        actor: &Actor,
        image: &PackageRef,
        unborn_action: Action,
    ) -> DomainResult<i64> {
        let r = image.clone();
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
                Ok(owner) => (unborn_image(&owner, &image.name), owner, unborn_action),
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
}

#[cfg(test)]
mod tests {
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
