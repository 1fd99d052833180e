//! Publishing: stage blobs outside any transaction, then record the version, its files,
//! blobs and tags in one transaction.
use bytes::Bytes;
use entity::{
    account, blob, image_referrer, package, package_file, package_grant, package_version,
    repository,
};
use futures::Stream;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    Set, TransactionTrait,
    sea_query::{Expr, ExprTrait, Func, OnConflict},
};

use crate::{
    auth::{
        Actor,
        policy::{self, Action, OwnerFacts},
    },
    domain::{
        Domain, audit,
        metadata::VersionMetadata,
        names::{FileName, VersionName},
        now,
        packages::{PackageRef, file_info, live_version, package_info, upsert_tag, version_info},
        rules::rules,
        types::{AccountKind, Role, Visibility, parse_stored},
        views::{FileInfo, PackageInfo, RepositoryInfo, VersionInfo},
    },
    error::{DomainError, DomainResult, What},
    storage::{DigestSet, Expectations, StagedBlob},
};

/// A file to attach to a version, already staged in the blob store.
#[derive(Clone, Debug)]
pub struct NewFile {
    pub name: FileName,
    pub blob: StagedBlob,
    pub content_type: String,
}

/// What to do when the version already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnExisting {
    /// Versions are immutable (npm, NuGet, RubyGems): `AlreadyExists`.
    Refuse,
    /// Add files to it (generic, Maven); an existing file name is `AlreadyExists`.
    AddFiles,
    /// Add files, replacing same-named ones (Maven SNAPSHOTs and metadata).
    ReplaceFiles,
}

#[derive(Clone, Debug)]
pub struct PublishRequest {
    pub package: PackageRef,
    pub version: VersionName,
    /// Also the source of the version's summary and license and the package's repository
    /// link (`describe()`), so no door extracts them itself.
    pub metadata: VersionMetadata,
    /// From the tarball or the package, not from metadata.
    pub readme: Option<String>,
    pub prerelease: bool,
    pub files: Vec<NewFile>,
    pub tags: Vec<String>,
    /// Visibility asked for a new package (e.g. `npm publish --access public`).
    pub visibility: Option<Visibility>,
}

/// A publish into a repository (Maven's `/maven/OWNER/REPOSITORY`): the package belongs to
/// that repository, takes its visibility and inherits its access, and creating it needs
/// write on the repository (not the right to create packages in the owner's namespace).
#[derive(Clone, Debug)]
pub(crate) struct RepositoryScope {
    pub repository: RepositoryInfo,
    /// The request's metadata is merged into an existing version's
    /// (`VersionMetadata::merged_over`), with its summary, license and README: Maven's POM
    /// may arrive after the jar.
    pub update_metadata: bool,
}

#[derive(Clone, Debug)]
pub struct Published {
    pub package: PackageInfo,
    pub version: VersionInfo,
    pub files: Vec<FileInfo>,
    pub created_package: bool,
    pub created_version: bool,
}

fn truncate_chars(s: Option<String>, max: usize) -> Option<String> {
    s.map(|s| match s.char_indices().nth(max) {
        Some((at, _)) => s[..at].to_string(),
        None => s,
    })
}

/// How often a publish that lost a race on a unique row runs (see `Domain::publish`).
const PUBLISH_ATTEMPTS: u32 = 3;

impl Domain {
    /// Streams an upload into the blob store (no database rows yet). `max_size` is enforced
    /// while streaming.
    pub async fn stage_blob<S, E>(
        &self,
        body: S,
        want: DigestSet,
        expect: &Expectations,
    ) -> DomainResult<StagedBlob>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        self.blobs
            .stage_claimed(body, want, expect, |staged| async move {
                self.claim_blob(&staged).await
            })
            .await
    }

    /// Stores a small document held in memory (manifests, metadata).
    pub async fn stage_bytes(
        &self,
        bytes: Bytes,
        want: DigestSet,
        expect: &Expectations,
    ) -> DomainResult<StagedBlob> {
        self.blobs
            .stage_bytes_claimed(bytes, want, expect, |staged| async move {
                self.claim_blob(&staged).await
            })
            .await
    }

    /// The claim a publish takes on its content before staging looks for it at its
    /// content address: the blob's row, inserted fresh or made fresh again (an orphan past
    /// its grace period stays an orphan otherwise). Garbage collection removes a blob's
    /// file only inside the transaction that deletes (or, for a file without a row,
    /// inserts and deletes) that row while it is still old and unreferenced, so this
    /// upsert either lands first (and GC leaves the blob) or waits for that transaction
    /// (PostgreSQL's row lock, SQLite's write lock) and then finds the file gone, and
    /// staging writes it again. The publish's transaction fills in the row's digests.
    pub(crate) async fn claim_blob(&self, staged: &StagedBlob) -> DomainResult<()> {
        blob::Entity::insert(blob::ActiveModel {
            digest: Set(staged.digest()),
            size: Set(staged.size as i64),
            md5: Set(staged.digests.md5.clone()),
            sha1: Set(staged.digests.sha1.clone()),
            sha512: Set(staged.digests.sha512.clone()),
            created_at: Set(now()),
        })
        .on_conflict(
            OnConflict::column(blob::Column::Digest)
                .update_column(blob::Column::CreatedAt)
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// The repository a metadata URL names, if it is one of the owner's on this server.
    async fn repository_from_url(
        &self,
        owner: &account::Model,
        url: &str,
    ) -> DomainResult<Option<i64>> {
        let url = url
            .trim()
            .trim_start_matches("git+")
            .trim_end_matches(".git");
        let Ok(parsed) = url::Url::parse(url) else {
            return Ok(None);
        };
        let ours = &self.config.public_url;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.host_str() != ours.host_str()
            || parsed.port_or_known_default() != ours.port_or_known_default()
        {
            return Ok(None);
        }
        let mut segments = parsed
            .path_segments()
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty());
        let (Some(owner_login), Some(repo_name)) = (segments.next(), segments.next()) else {
            return Ok(None);
        };
        if !owner_login.eq_ignore_ascii_case(&owner.login) {
            return Ok(None);
        }
        // Repository names match case-insensitively, as GitHub's do.
        let repo_name = repo_name.to_lowercase();
        Ok(repository::Entity::find()
            .filter(repository::Column::OwnerId.eq(owner.id))
            .filter(
                Expr::expr(Func::lower(Expr::col((
                    repository::Entity,
                    repository::Column::Name,
                ))))
                .eq(repo_name),
            )
            .one(&self.db)
            .await?
            .map(|r| r.id))
    }

    /// Checks that `actor` may publish to `r` (write on an existing package, or creating it
    /// under its owner), so a door can refuse before it receives any bytes. `publish`
    /// checks again.
    pub async fn authorize_publish(&self, actor: &Actor, r: &PackageRef) -> DomainResult<()> {
        let owner = self.account_model(&r.owner).await.map_err(|e| match e {
            // Only a missing account is a missing owner: an unreachable database stays 503.
            DomainError::NotFound { .. } => {
                DomainError::not_found(What::Owner, format!("owner {}", r.owner))
            }
            other => other,
        })?;
        let existing = self.package_model(r).await?.map(|(p, _)| p);
        self.authorize_publish_to(actor, r, &owner, existing.as_ref(), None)
            .await
            .map(|_| ())
    }

    /// The gate of a publish; `Ok(role)` is the caller's role on the package (`Admin` for a
    /// package it creates).
    pub(crate) async fn authorize_publish_to(
        &self,
        actor: &Actor,
        r: &PackageRef,
        owner: &account::Model,
        existing: Option<&package::Model>,
        scope: Option<&RepositoryScope>,
    ) -> DomainResult<Option<Role>> {
        let create = async {
            match scope {
                Some(scope) => {
                    self.authorize_create_in_repository(actor, r, owner, &scope.repository)
                        .await
                }
                None => self.authorize_create_in(actor, r, owner).await,
            }
        };
        match existing {
            Some(pkg) => match self
                .authorize_package(actor, Action::Write, pkg, owner)
                .await
            {
                // A package the caller may not read answers as a name it may not create,
                // so the answer doesn't tell whether a private package exists (a caller
                // who may create packages there learns only that the name is taken).
                Err(DomainError::NotFound { .. }) => {
                    create.await?;
                    Err(DomainError::forbidden(format!(
                        "{}/{} is taken by a package you may not publish to",
                        owner.login, r.name
                    )))
                }
                Ok(_) if scope.is_some_and(|s| pkg.repository_id != Some(s.repository.id)) => {
                    Err(DomainError::exists(
                        What::Package,
                        format!(
                            "{}/{} belongs to another repository of {}: a package is deployed \
                             to one repository",
                            owner.login, r.name, owner.login
                        ),
                    ))
                }
                other => other,
            },
            None => {
                create.await?;
                Ok(Some(Role::Admin))
            }
        }
    }

    /// Whether `actor` may create the package `r` in a repository: write on the repository
    /// (as its owner, an owner of its organization, a collaborator with write, or its CI
    /// token), decided by the one gate on the package as it would be once created there.
    /// A repository the actor may not see answers as a missing one.
    async fn authorize_create_in_repository(
        &self,
        actor: &Actor,
        r: &PackageRef,
        owner: &account::Model,
        repository: &RepositoryInfo,
    ) -> DomainResult<()> {
        let at = now();
        let would_be = package::Model {
            id: 0,
            owner_id: owner.id,
            format: r.package_type.as_str().into(),
            name: r.name.to_string(),
            name_key: rules(r.package_type).name_key(r.name.as_str()).into_owned(),
            visibility: repository.visibility.as_str().into(),
            repository_id: Some(repository.id),
            inherit_access: true,
            created_at: at,
            updated_at: at,
            deleted_at: None,
        };
        match self
            .authorize_package(actor, Action::Write, &would_be, owner)
            .await
        {
            Err(DomainError::NotFound { .. }) => {
                return Err(DomainError::not_found(
                    What::Repository,
                    format!("repository {}/{}", owner.login, repository.name),
                ));
            }
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        self.refuse_restorable_name(actor, r, owner).await
    }

    /// Whether `actor` may create the package `r` under `owner` (policy's rule, with the
    /// organization facts it needs).
    pub(crate) async fn authorize_create_in(
        &self,
        actor: &Actor,
        r: &PackageRef,
        owner: &account::Model,
    ) -> DomainResult<()> {
        let org_role = match actor.user_id() {
            Some(uid) if owner.kind == AccountKind::Organization.as_str() => {
                self.org_role(owner.id, uid).await?
            }
            _ => None,
        };
        let facts = OwnerFacts {
            owner_id: owner.id,
            owner_login: &owner.login,
            is_organization: owner.kind == AccountKind::Organization.as_str(),
            org_role,
            members_can_create_packages: owner.members_can_create_packages,
        };
        policy::authorize_create(actor, &facts, r.name.as_str())?;
        self.refuse_restorable_name(actor, r, owner).await
    }

    async fn refuse_restorable_name(
        &self,
        actor: &Actor,
        r: &PackageRef,
        owner: &account::Model,
    ) -> DomainResult<()> {
        // A deleted package keeps its name while it can be restored: only those who may
        // restore it may take the name (else its admins' restore fails, and a new package
        // under the old name would serve its readers someone else's content).
        if let Some((deleted, _)) = self.deleted_package_model(r).await? {
            match self
                .authorize_package(actor, Action::Delete, &deleted, owner)
                .await
            {
                Ok(_) => {}
                Err(DomainError::NotFound { .. } | DomainError::Forbidden(_)) => {
                    return Err(DomainError::forbidden(format!(
                        "{}/{} is taken by a package you may not publish to",
                        owner.login, r.name
                    )));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Publishes a version with its files in one transaction. On the first publish the
    /// package is created (the publisher becomes its admin).
    pub async fn publish(&self, actor: &Actor, req: PublishRequest) -> DomainResult<Published> {
        self.publish_scoped(actor, req, None).await
    }

    /// `publish`, into a repository when `scope` says so (see [`RepositoryScope`]).
    pub(crate) async fn publish_scoped(
        &self,
        actor: &Actor,
        req: PublishRequest,
        scope: Option<RepositoryScope>,
    ) -> DomainResult<Published> {
        // Concurrent publishes race on unique rows (the package of a new image whose
        // platform manifests are pushed in parallel, a tag, the same manifest twice): the
        // loser's transaction rolls back and it runs again against what the winner wrote.
        // A real duplicate (a version `Refuse`d) is refused again.
        let on_existing = (rules(req.package.package_type).on_existing)(&req.version);
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.publish_once(actor, &req, scope.as_ref()).await {
                Err(DomainError::AlreadyExists { what, .. })
                    if attempts < PUBLISH_ATTEMPTS
                        && !(on_existing == OnExisting::Refuse && what == What::Version) =>
                {
                    continue;
                }
                other => return other,
            }
        }
    }

    async fn publish_once(
        &self,
        actor: &Actor,
        req: &PublishRequest,
        scope: Option<&RepositoryScope>,
    ) -> DomainResult<Published> {
        let owner = self
            .account_model(&req.package.owner)
            .await
            .map_err(|e| match e {
                DomainError::NotFound { .. } => {
                    DomainError::not_found(What::Owner, format!("owner {}", req.package.owner))
                }
                other => other,
            })?;
        let existing = self.package_model(&req.package).await?.map(|(p, _)| p);
        let role = self
            .authorize_publish_to(actor, &req.package, &owner, existing.as_ref(), scope)
            .await?;
        if !rules(req.package.package_type).reuses_deleted_versions
            && self.version_unpublished(&req.package, &req.version).await?
        {
            return Err(DomainError::exists(
                What::Version,
                format!(
                    "version {} of {}/{} was published before (and unpublished); versions \
                     can't be reused",
                    req.version, req.package.owner, req.package.name
                ),
            ));
        }
        // A repository URL from the format's metadata (`http(s)://HOST/OWNER/REPO`).
        let repository_url = req.metadata.describe().repository_url;
        let linked = match (&existing, &repository_url) {
            _ if scope.is_some() => scope.map(|s| s.repository.id),
            (Some(p), _) if p.repository_id.is_some() => p.repository_id,
            // Linking decides who inherits access: for an existing package that is an
            // admin's call (as `linkPackageRepository` is), not any writer's.
            (Some(_), Some(_)) if role != Some(Role::Admin) => None,
            (_, Some(url)) => self.repository_from_url(&owner, url).await?,
            (None, None) => match actor {
                // A repository's CI token links what it creates to its repository.
                Actor::Repository { repository_id, .. } => Some(*repository_id),
                _ => None,
            },
            _ => None,
        };
        let txn = self.db.begin().await?;
        let result = self
            .publish_in(&txn, actor, &owner, existing, linked, req, scope)
            .await;
        match result {
            Ok(published) => {
                txn.commit().await?;
                self.events_committed().await;
                self.package_changed(published.package.id).await;
                Ok(published)
            }
            Err(e) => {
                txn.rollback().await?;
                Err(e)
            }
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the publish's facts, read before the transaction, and its request"
    )]
    async fn publish_in(
        &self,
        txn: &DatabaseTransaction,
        actor: &Actor,
        owner: &account::Model,
        existing: Option<package::Model>,
        linked: Option<i64>,
        req: &PublishRequest,
        scope: Option<&RepositoryScope>,
    ) -> DomainResult<Published> {
        let limits = &self.config.limits;
        let at = now();
        let created_package = existing.is_none();
        let pkg = match existing {
            Some(pkg) => {
                let mut active = pkg.into_active_model();
                active.updated_at = Set(at);
                if linked.is_some() {
                    active.repository_id = Set(linked);
                }
                active.update(txn).await?
            }
            None => {
                let is_org = owner.kind == AccountKind::Organization.as_str();
                let default_visibility = if is_org {
                    parse_stored(&owner.default_package_visibility)?
                } else {
                    Visibility::Private
                };
                let visibility = match (scope, req.visibility) {
                    // A repository's packages are as visible as it is.
                    (Some(scope), _) => scope.repository.visibility,
                    (None, Some(Visibility::Internal)) if !is_org => Visibility::Private,
                    (None, Some(v)) => v,
                    (None, None) => default_visibility,
                };
                let pkg = package::ActiveModel {
                    owner_id: Set(owner.id),
                    format: Set(req.package.package_type.as_str().into()),
                    name: Set(req.package.name.to_string()),
                    name_key: Set(rules(req.package.package_type)
                        .name_key(req.package.name.as_str())
                        .into_owned()),
                    visibility: Set(visibility.as_str().into()),
                    repository_id: Set(linked),
                    inherit_access: Set(if is_org && scope.is_none() {
                        owner.default_inherit_access
                    } else {
                        true
                    }),
                    created_at: Set(at),
                    updated_at: Set(at),
                    deleted_at: Set(None),
                    ..Default::default()
                }
                .insert(txn)
                .await
                .map_err(|e| match DomainError::from(e) {
                    DomainError::AlreadyExists { .. } => DomainError::exists(
                        What::Package,
                        format!(
                            "package {}/{} was created concurrently; retry",
                            owner.login, req.package.name
                        ),
                    ),
                    other => other,
                })?;
                // The publisher becomes admin: a user (unless it is the owner, admin
                // anyway), or the repository whose CI token published (as a workflow's
                // repository does on GitHub), so that workflow can manage what it made.
                let publisher = match actor {
                    Actor::User { id, .. } if *id != owner.id => Some((Some(*id), None)),
                    Actor::Repository { repository_id, .. } => Some((None, Some(*repository_id))),
                    _ => None,
                };
                if let Some((user_id, repository_id)) = publisher {
                    package_grant::ActiveModel {
                        package_id: Set(pkg.id),
                        user_id: Set(user_id),
                        team_id: Set(None),
                        repository_id: Set(repository_id),
                        role: Set(Role::Admin.as_str().into()),
                        created_at: Set(at),
                        ..Default::default()
                    }
                    .insert(txn)
                    .await?;
                }
                pkg
            }
        };

        let rules = rules(req.package.package_type);
        let on_existing = (rules.on_existing)(&req.version);
        let lead_file = |file: &NewFile| {
            (rules.lead_file)(req.version.as_str(), file.name.as_str())
                || req.metadata.counts_download(file.name.as_str())
        };
        let current = live_version(txn, pkg.id, req.version.as_str()).await?;
        let created_version = current.is_none();
        let version = match current {
            Some(_) if on_existing == OnExisting::Refuse => {
                return Err(DomainError::exists(
                    What::Version,
                    format!(
                        "version {} of {}/{} already exists",
                        req.version, owner.login, req.package.name
                    ),
                ));
            }
            Some(v) if scope.is_some_and(|s| s.update_metadata) => {
                let merged = req
                    .metadata
                    .clone()
                    .merged_over(&VersionMetadata::from_stored(v.metadata.clone()));
                let described = merged.describe();
                let mut active = v.into_active_model();
                active.metadata = Set(merged.to_json());
                active.summary = Set(truncate_chars(described.summary, limits.description_chars));
                active.license = Set(truncate_chars(described.license, limits.license_chars));
                if req.readme.is_some() {
                    active.readme = Set(req.readme.clone());
                }
                active.updated_at = Set(at);
                active.update(txn).await?
            }
            Some(v) => {
                let mut active = v.into_active_model();
                active.updated_at = Set(at);
                active.update(txn).await?
            }
            None => {
                let described = req.metadata.describe();
                package_version::ActiveModel {
                    package_id: Set(pkg.id),
                    version: Set(req.version.to_string()),
                    metadata: Set(req.metadata.to_json()),
                    summary: Set(truncate_chars(described.summary, limits.description_chars)),
                    readme: Set(req.readme.clone()),
                    license: Set(truncate_chars(described.license, limits.license_chars)),
                    prerelease: Set(req.prerelease),
                    yanked: Set(false),
                    publisher_id: Set(actor.user_id()),
                    created_at: Set(at),
                    updated_at: Set(at),
                    deleted_at: Set(None),
                    ..Default::default()
                }
                .insert(txn)
                .await
                .map_err(|e| match DomainError::from(e) {
                    DomainError::AlreadyExists { .. } => DomainError::exists(
                        What::Version,
                        format!(
                            "version {} of {}/{} already exists",
                            req.version, owner.login, req.package.name
                        ),
                    ),
                    other => other,
                })?
            }
        };

        let storage = self
            .storage_check(txn, owner.id, &owner.login, &pkg.visibility)
            .await?;
        let mut files = Vec::with_capacity(req.files.len());
        for file in &req.files {
            let blob_row = upsert_blob(txn, &file.blob).await?;
            let same_name = package_file::Entity::find()
                .filter(package_file::Column::VersionId.eq(version.id))
                .filter(package_file::Column::Name.eq(file.name.as_str()))
                .one(txn)
                .await?;
            let row = match same_name {
                Some(old) if on_existing == OnExisting::ReplaceFiles => {
                    let mut active = old.into_active_model();
                    active.blob_digest = Set(file.blob.digest());
                    active.size = Set(file.blob.size as i64);
                    active.content_type = Set(file.content_type.clone());
                    active.lead = Set(lead_file(file));
                    active.updated_at = Set(at);
                    active.update(txn).await?
                }
                Some(_) => {
                    return Err(DomainError::exists(
                        What::File,
                        format!(
                            "file {} already exists in version {}",
                            file.name, req.version
                        ),
                    ));
                }
                None => package_file::ActiveModel {
                    version_id: Set(version.id),
                    name: Set(file.name.to_string()),
                    blob_digest: Set(file.blob.digest()),
                    size: Set(file.blob.size as i64),
                    content_type: Set(file.content_type.clone()),
                    lead: Set(lead_file(file)),
                    created_at: Set(at),
                    updated_at: Set(at),
                    ..Default::default()
                }
                .insert(txn)
                .await
                .map_err(|e| match DomainError::from(e) {
                    DomainError::AlreadyExists { .. } => DomainError::exists(
                        What::File,
                        format!("file {} already exists", file.name),
                    ),
                    other => other,
                })?,
            };
            files.push(file_info(row, Some(&blob_row)));
        }
        for tag in &req.tags {
            upsert_tag(txn, pkg.id, tag, version.id).await?;
        }
        crate::domain::packages::ensure_latest_tag(txn, &pkg).await?;
        // A manifest naming a subject is indexed for the referrers API.
        if created_version
            && rules.indexes_referrers
            && let Some(subject) = req.metadata.subject()
        {
            image_referrer::ActiveModel {
                version_id: Set(version.id),
                package_id: Set(pkg.id),
                subject: Set(subject.to_string()),
            }
            .insert(txn)
            .await?;
        }
        self.enforce_storage(txn, actor, storage).await?;
        let kind = if created_version {
            crate::domain::events::EventKind::Published
        } else {
            crate::domain::events::EventKind::Updated
        };
        self.emit_event(txn, actor, kind, pkg.id, Some(version.id))
            .await?;
        audit::record(
            txn,
            actor,
            if created_version { "package_version.publish" } else { "package_version.update" },
            "package_version",
            Some(version.id),
            serde_json::json!({"package": pkg.name, "version": version.version, "files": req.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>()}),
        )
        .await?;
        Ok(Published {
            package: package_info(pkg, owner.login.clone(), Some(Role::Admin))?,
            version: version_info(version),
            files,
            created_package,
            created_version,
        })
    }
}

/// Inserts the blob row if new; fills in digests computed now that an earlier upload lacked.
async fn upsert_blob(txn: &DatabaseTransaction, staged: &StagedBlob) -> DomainResult<blob::Model> {
    let digest = staged.digest();
    blob::Entity::insert(blob::ActiveModel {
        digest: Set(digest.clone()),
        size: Set(staged.size as i64),
        md5: Set(staged.digests.md5.clone()),
        sha1: Set(staged.digests.sha1.clone()),
        sha512: Set(staged.digests.sha512.clone()),
        created_at: Set(now()),
    })
    .on_conflict(
        OnConflict::column(blob::Column::Digest)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    let row = blob::Entity::find_by_id(digest)
        .one(txn)
        .await?
        .ok_or_else(|| DomainError::internal("blob row vanished"))?;
    let d = &staged.digests;
    if (row.md5.is_none() && d.md5.is_some())
        || (row.sha1.is_none() && d.sha1.is_some())
        || (row.sha512.is_none() && d.sha512.is_some())
    {
        let mut active = row.clone().into_active_model();
        if row.md5.is_none() && d.md5.is_some() {
            active.md5 = Set(d.md5.clone());
        }
        if row.sha1.is_none() && d.sha1.is_some() {
            active.sha1 = Set(d.sha1.clone());
        }
        if row.sha512.is_none() && d.sha512.is_some() {
            active.sha512 = Set(d.sha512.clone());
        }
        return Ok(active.update(txn).await?);
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::truncate_chars;

    #[test]
    fn truncation_is_char_safe() {
        assert_eq!(
            truncate_chars(Some("héllo".into()), 2).as_deref(),
            Some("hé")
        );
        assert_eq!(
            truncate_chars(Some("abc".into()), 5).as_deref(),
            Some("abc")
        );
        assert_eq!(truncate_chars(None, 5), None);
    }
}
