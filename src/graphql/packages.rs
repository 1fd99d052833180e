//! Packages, versions, files, tags, grants and statistics; the package settings mutations.
use async_graphql::{Context, ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

use crate::{
    domain::{
        OwnerName, PackageName, VersionName,
        metadata::{ContainerMetadata, VersionMetadata},
        packages::{GrantTarget, PackageFilter, PackageOrder, PackageRef},
        registry::BlobDigest,
        rules::{FileUrl, rules},
        views::{FileInfo, GrantInfo, PackageInfo, TagInfo, VersionInfo},
    },
    error::{DomainError, What},
    graphql::{
        GqlResult,
        accounts::{PackageOwner, RepositoryObject, TeamObject, UserObject},
        connection::{CountedConnection, paginate},
        ctx, gql_error, ids,
        types::{
            OrderDirection, PackageFileOrder, PackageOrder as PackageOrderInput, PackageRole,
            PackageState, PackageType, PackageVersionOrder, PackageVisibility,
        },
    },
};

/// Lists packages the viewer may read as a connection.
pub async fn packages_connection(
    c: &Context<'_>,
    filter: PackageFilter,
    order: PackageOrderInput,
    after: Option<String>,
    before: Option<String>,
    first: Option<i32>,
    last: Option<i32>,
) -> async_graphql::Result<CountedConnection<PackageObject>> {
    let c = ctx(c)?;
    let order: PackageOrder = order.into();
    paginate(after, before, first, last, |offset, limit| {
        let filter = filter.clone();
        async move {
            let (items, total) = c
                .domain
                .list_packages(c.actor, &filter, order, offset, limit)
                .await?;
            Ok((items.into_iter().map(PackageObject).collect(), total))
        }
    })
    .await
}

pub struct PackageObject(pub PackageInfo);

#[Object(name = "Package")]
impl PackageObject {
    pub async fn id(&self) -> ID {
        ids::encode("Package", self.0.id)
    }
    /// The retention policies that apply to this package (its own and its owner's that
    /// match it), for those who may delete its versions; `null` for anyone else.
    async fn retention_policies(
        &self,
        c: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<crate::graphql::retention::RetentionPolicyObject>>> {
        crate::graphql::retention::policies_of_package(c, self.0.id).await
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn package_type(&self) -> PackageType {
        self.0.package_type.into()
    }
    async fn visibility(&self) -> PackageVisibility {
        self.0.visibility.into()
    }
    async fn owner(&self, c: &Context<'_>) -> async_graphql::Result<PackageOwner> {
        let owner = ctx(c)?.loaders.accounts.load_one(self.0.owner_id).await?;
        Ok(owner
            .ok_or_else(|| gql_error(DomainError::internal("package without owner")))?
            .into())
    }
    /// The linked repository, if any.
    async fn repository(&self, c: &Context<'_>) -> async_graphql::Result<Option<RepositoryObject>> {
        match self.0.repository_id {
            Some(id) => Ok(ctx(c)?
                .loaders
                .visible_repositories
                .load_one(id)
                .await?
                .map(RepositoryObject)),
            None => Ok(None),
        }
    }
    /// Whether access is inherited from the linked repository.
    async fn inherit_access(&self) -> bool {
        self.0.inherit_access
    }
    async fn latest_version(
        &self,
        c: &Context<'_>,
    ) -> async_graphql::Result<Option<PackageVersionObject>> {
        Ok(ctx(c)?
            .loaders
            .latest_version
            .load_one(self.0.id)
            .await?
            .map(PackageVersionObject))
    }
    /// A live version by its name.
    async fn version(
        &self,
        c: &Context<'_>,
        version: String,
    ) -> async_graphql::Result<Option<PackageVersionObject>> {
        let c = ctx(c)?;
        let r = PackageRef {
            owner: OwnerName::parse(&self.0.owner_login).gql()?,
            package_type: self.0.package_type,
            name: PackageName::parse(&self.0.name).gql()?,
        };
        match c
            .domain
            .find_version(c.actor, &r, &VersionName::parse(&version).gql()?)
            .await
        {
            Ok((_, v)) => Ok(Some(PackageVersionObject(v))),
            Err(DomainError::NotFound { .. }) => Ok(None),
            Err(e) => Err(gql_error(e)),
        }
    }
    /// Versions, newest first unless `orderBy: {direction: ASC}`. `DELETED` lists
    /// soft-deleted ones (admins only).
    #[allow(clippy::too_many_arguments)]
    async fn versions(
        &self,
        c: &Context<'_>,
        #[graphql(default)] state: PackageState,
        order_by: Option<PackageVersionOrder>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(maximum = 100))] first: Option<i32>,
        #[graphql(validator(maximum = 100))] last: Option<i32>,
    ) -> async_graphql::Result<CountedConnection<PackageVersionObject>> {
        let c = ctx(c)?;
        let id = self.0.id;
        let order = order_by.unwrap_or_default().into();
        paginate(after, before, first, last, |offset, limit| async move {
            let (items, total) = c
                .domain
                .list_versions_ordered(c.actor, id, state.into(), order, offset, limit)
                .await?;
            Ok((items.into_iter().map(PackageVersionObject).collect(), total))
        })
        .await
    }
    /// Tags (npm dist-tags, container tags).
    async fn tags(&self, c: &Context<'_>) -> async_graphql::Result<Vec<PackageTagObject>> {
        Ok(ctx(c)?
            .loaders
            .package_tags
            .load_one(self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(PackageTagObject)
            .collect())
    }
    async fn statistics(&self) -> PackageStatistics {
        PackageStatistics {
            package_id: self.0.id,
            version_id: None,
        }
    }
    /// The viewer's role on the package; null when they read it only because it is visible.
    async fn viewer_permission(
        &self,
        c: &Context<'_>,
    ) -> async_graphql::Result<Option<PackageRole>> {
        let c = ctx(c)?;
        match c.loaders.viewer_roles.load_one(self.0.id).await? {
            Some(role) => Ok(role.map(Into::into)),
            None => Err(DomainError::not_found(What::Package, "package")).gql(),
        }
    }
    /// Who was granted access (visible to the package's admins).
    async fn grants(&self, c: &Context<'_>) -> async_graphql::Result<Vec<PackageGrantObject>> {
        let c = ctx(c)?;
        Ok(c.domain
            .package_grants(c.actor, self.0.id)
            .await
            .gql()?
            .into_iter()
            .map(PackageGrantObject)
            .collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at
    }
}

pub struct PackageVersionObject(pub VersionInfo);

/// A container version: a manifest or an index.
pub struct ContainerImageObject {
    metadata: ContainerMetadata,
    package_id: i64,
    /// The version's name: the manifest's digest.
    digest: String,
}

#[Object(name = "ContainerImage")]
impl ContainerImageObject {
    async fn media_type(&self) -> &str {
        &self.metadata.media_type
    }
    /// The artifact type of a manifest that refers to another (signature, SBOM).
    async fn artifact_type(&self) -> Option<&str> {
        self.metadata.artifact_type.as_deref()
    }
    /// The digest of the manifest this one refers to.
    async fn subject(&self) -> Option<&str> {
        self.metadata.subject.as_deref()
    }
    /// The manifest's size in bytes.
    async fn size(&self) -> u64 {
        self.metadata.size
    }
    /// The live manifests of the image that refer to this one as their subject
    /// (signatures, SBOMs), from the registry's referrers index, as the referrers API
    /// lists them.
    async fn referrers(&self, c: &Context<'_>) -> async_graphql::Result<Vec<ImageReferrer>> {
        let c = ctx(c)?;
        let Some(hex) = self.digest.strip_prefix("sha256:") else {
            return Ok(Vec::new());
        };
        let package = c
            .domain
            .package_by_id(c.actor, self.package_id)
            .await
            .gql()?;
        let image = PackageRef {
            owner: OwnerName::parse(&package.owner_login).gql()?,
            package_type: package.package_type,
            name: PackageName::parse(&package.name).gql()?,
        };
        let digest = BlobDigest::sha256(hex).gql()?;
        Ok(c.domain
            .referrers(c.actor, &image, &digest, None)
            .await
            .gql()?
            .into_iter()
            .map(|r| ImageReferrer {
                digest: r.digest,
                media_type: r.media_type,
                artifact_type: r.artifact_type,
                size: r.size,
            })
            .collect())
    }
    /// An index's manifests that name a platform, in the index's order (empty for an
    /// image, and for indexes stored before platforms were kept).
    async fn platforms(&self) -> Vec<ImagePlatform> {
        self.metadata
            .platforms
            .iter()
            .map(|c| ImagePlatform {
                digest: c.digest.clone(),
                os: c.platform.os.clone(),
                architecture: c.platform.architecture.clone(),
                variant: c.platform.variant.clone(),
                os_version: c.platform.os_version.clone(),
            })
            .collect()
    }
}

/// A manifest that refers to another (its subject).
#[derive(SimpleObject)]
pub struct ImageReferrer {
    /// The referring manifest's digest (a version of the same package).
    digest: String,
    media_type: String,
    /// What it is (a signature's or an SBOM's type), when it says.
    artifact_type: Option<String>,
    size: u64,
}

/// A manifest of an index and the platform the index names for it.
#[derive(SimpleObject)]
pub struct ImagePlatform {
    /// The child manifest's digest (a version of the same package).
    digest: String,
    os: String,
    architecture: String,
    variant: Option<String>,
    os_version: Option<String>,
}

#[Object(name = "PackageVersion")]
impl PackageVersionObject {
    pub async fn id(&self) -> ID {
        ids::encode("PackageVersion", self.0.id)
    }
    async fn version(&self) -> &str {
        &self.0.version
    }
    async fn summary(&self) -> Option<&str> {
        self.0.summary.as_deref()
    }
    async fn readme(&self) -> Option<&str> {
        self.0.readme.as_deref()
    }
    async fn license(&self) -> Option<&str> {
        self.0.license.as_deref()
    }
    /// The project's home page, from the format's metadata (npm `homepage`, the image's
    /// `org.opencontainers.image.url`).
    async fn homepage(&self) -> Option<String> {
        self.0.metadata.describe().homepage
    }
    /// The authors, from the format's metadata (npm `author` and `contributors`, the
    /// image's `org.opencontainers.image.authors`).
    async fn authors(&self) -> Vec<String> {
        self.0.metadata.describe().authors
    }
    async fn pre_release(&self) -> bool {
        self.0.prerelease
    }
    /// Yanked versions leave the format's index (a fresh resolve skips them) but stay
    /// versions; whether their files still download by exact version is the format's rule.
    async fn yanked(&self) -> bool {
        self.0.yanked
    }
    /// What a container version is: its media type, and for an index the platforms of
    /// its manifests. Null for other formats.
    async fn container(&self) -> Option<ContainerImageObject> {
        match &self.0.metadata {
            VersionMetadata::Container(m) => Some(ContainerImageObject {
                metadata: m.clone(),
                package_id: self.0.package_id,
                digest: self.0.version.clone(),
            }),
            _ => None,
        }
    }
    /// Format-specific metadata (package.json, manifest annotations, ...).
    async fn metadata(&self) -> Json<serde_json::Value> {
        Json(self.0.metadata.to_json())
    }
    /// The version's files, in upload order unless `orderBy: {direction: DESC}` (GitHub's
    /// `PackageFileConnection`).
    async fn files(
        &self,
        c: &Context<'_>,
        order_by: Option<PackageFileOrder>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(maximum = 100))] first: Option<i32>,
        #[graphql(validator(maximum = 100))] last: Option<i32>,
    ) -> async_graphql::Result<CountedConnection<PackageFileObject>> {
        // One batched load for every version of the page; a version's files are few, so
        // its page is cut from them here.
        let mut files = ctx(c)?
            .loaders
            .files
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        if order_by.is_some_and(|o| o.direction == Some(OrderDirection::Desc)) {
            files.reverse();
        }
        let files = &files;
        paginate(after, before, first, last, |offset, limit| async move {
            let page = files
                .iter()
                .skip(offset as usize)
                .take(limit as usize)
                .map(|file| PackageFileObject {
                    file: file.clone(),
                    package_id: self.0.package_id,
                    version: self.0.version.clone(),
                })
                .collect();
            Ok((page, files.len() as u64))
        })
        .await
    }
    async fn tags(&self, c: &Context<'_>) -> async_graphql::Result<Vec<PackageTagObject>> {
        Ok(ctx(c)?
            .loaders
            .version_tags
            .load_one(self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(PackageTagObject)
            .collect())
    }
    async fn statistics(&self) -> PackageStatistics {
        PackageStatistics {
            package_id: self.0.package_id,
            version_id: Some(self.0.id),
        }
    }
    async fn package(&self, c: &Context<'_>) -> async_graphql::Result<PackageObject> {
        let c = ctx(c)?;
        Ok(PackageObject(
            c.domain
                .package_by_id(c.actor, self.0.package_id)
                .await
                .gql()?,
        ))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at
    }
}

pub struct PackageFileObject {
    file: FileInfo,
    package_id: i64,
    version: String,
}

#[Object(name = "PackageFile")]
impl PackageFileObject {
    async fn name(&self) -> &str {
        &self.file.name
    }
    async fn size(&self) -> i64 {
        self.file.size
    }
    async fn content_type(&self) -> &str {
        &self.file.content_type
    }
    async fn sha256(&self) -> &str {
        &self.file.sha256
    }
    async fn md5(&self) -> Option<&str> {
        self.file.md5.as_deref()
    }
    async fn sha1(&self) -> Option<&str> {
        self.file.sha1.as_deref()
    }
    async fn sha512(&self) -> Option<&str> {
        self.file.sha512.as_deref()
    }
    /// Where the format's door serves the file.
    async fn url(&self, c: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let c = ctx(c)?;
        let Some(pkg) = c.loaders.packages.load_one(self.package_id).await? else {
            return Ok(None);
        };
        let base = c.domain.config().base_url();
        // Formats whose URLs name the repository (Maven) have one; readers of the file
        // may read the package, which lives in it.
        let repository = match pkg.repository_id {
            Some(id) if rules(pkg.package_type).repository_scoped => {
                c.loaders.repositories.load_one(id).await?
            }
            _ => None,
        };
        Ok(rules(pkg.package_type).file_url(&FileUrl {
            base: &base,
            owner: &pkg.owner_login,
            name: &pkg.name,
            version: &self.version,
            file: &self.file.name,
            sha256: &self.file.sha256,
            repository: repository.as_ref().map(|r| r.name.as_str()),
        }))
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.file.updated_at
    }
}

pub struct PackageTagObject(TagInfo);

#[Object(name = "PackageTag")]
impl PackageTagObject {
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The version the tag points at.
    async fn version(&self) -> &str {
        &self.0.version
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

pub struct PackageGrantObject(GrantInfo);

#[Object(name = "PackageGrant")]
impl PackageGrantObject {
    async fn role(&self) -> PackageRole {
        self.0.role.into()
    }
    async fn user(&self, c: &Context<'_>) -> async_graphql::Result<Option<UserObject>> {
        match self.0.user_id {
            Some(id) => Ok(ctx(c)?.loaders.accounts.load_one(id).await?.map(UserObject)),
            None => Ok(None),
        }
    }
    async fn team(&self, c: &Context<'_>) -> async_graphql::Result<Option<TeamObject>> {
        match self.0.team_id {
            Some(id) => Ok(ctx(c)?
                .domain
                .teams_by_ids(&[id])
                .await
                .gql()?
                .pop()
                .map(TeamObject)),
            None => Ok(None),
        }
    }
    async fn repository(&self, c: &Context<'_>) -> async_graphql::Result<Option<RepositoryObject>> {
        match self.0.repository_id {
            Some(id) => Ok(ctx(c)?
                .loaders
                .visible_repositories
                .load_one(id)
                .await?
                .map(RepositoryObject)),
            None => Ok(None),
        }
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Download statistics of a package or a version.
pub struct PackageStatistics {
    package_id: i64,
    version_id: Option<i64>,
}

#[derive(SimpleObject)]
pub struct DailyDownloadCount {
    pub day: NaiveDate,
    pub count: i64,
}

/// The longest daily series one request may ask for.
const MAX_DAYS: i64 = 366;

#[Object]
impl PackageStatistics {
    async fn downloads_total_count(&self, c: &Context<'_>) -> async_graphql::Result<i64> {
        let c = ctx(c)?;
        let total = match self.version_id {
            Some(v) => c.loaders.version_downloads.load_one(v).await?,
            None => {
                c.loaders
                    .package_downloads
                    .load_one(self.package_id)
                    .await?
            }
        };
        Ok(total.unwrap_or(0))
    }
    /// Downloads per day between `since` and `until` (inclusive; default: the last 30 days).
    /// Days without downloads are omitted.
    async fn downloads_daily(
        &self,
        c: &Context<'_>,
        since: Option<NaiveDate>,
        until: Option<NaiveDate>,
    ) -> async_graphql::Result<Vec<DailyDownloadCount>> {
        let c = ctx(c)?;
        let until = until.unwrap_or_else(|| Utc::now().date_naive());
        let since = since.unwrap_or(until - chrono::Duration::days(29));
        if since > until || (until - since).num_days() >= MAX_DAYS {
            return Err(gql_error(DomainError::invalid(format!(
                "since..until must be ordered and span at most {MAX_DAYS} days"
            ))));
        }
        Ok(c.domain
            .downloads_daily(self.package_id, self.version_id, since, until)
            .await
            .gql()?
            .into_iter()
            .map(|d| DailyDownloadCount {
                day: d.day,
                count: d.count,
            })
            .collect())
    }
}

#[derive(Default)]
pub struct PackageQuery;

#[Object]
impl PackageQuery {
    /// A package by owner, type and name (null when missing or not readable).
    async fn package(
        &self,
        c: &Context<'_>,
        owner: String,
        package_type: PackageType,
        name: String,
    ) -> async_graphql::Result<Option<PackageObject>> {
        let c = ctx(c)?;
        let r = PackageRef {
            owner: OwnerName::parse(&owner).gql()?,
            package_type: package_type.into(),
            name: PackageName::parse(&name).gql()?,
        };
        match c.domain.find_package(c.actor, &r).await {
            Ok(p) => Ok(Some(PackageObject(p))),
            // A package the caller may not know of (anonymous callers are asked to sign in).
            Err(DomainError::NotFound { .. } | DomainError::Unauthenticated(_)) => Ok(None),
            Err(e) => Err(gql_error(e)),
        }
    }

    /// Packages across every owner that the viewer may read.
    #[allow(clippy::too_many_arguments)]
    async fn packages(
        &self,
        c: &Context<'_>,
        #[graphql(desc = "Substring of the name")] query: Option<String>,
        owner: Option<String>,
        package_type: Option<PackageType>,
        visibility: Option<PackageVisibility>,
        #[graphql(default)] state: PackageState,
        order_by: Option<PackageOrderInput>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(maximum = 100))] first: Option<i32>,
        #[graphql(validator(maximum = 100))] last: Option<i32>,
    ) -> async_graphql::Result<CountedConnection<PackageObject>> {
        let owner_id = match owner {
            Some(login) => Some(
                ctx(c)?
                    .domain
                    .find_account(&OwnerName::parse(&login).gql()?)
                    .await
                    .gql()?
                    .id,
            ),
            None => None,
        };
        let filter = PackageFilter {
            owner_id,
            package_type: package_type.map(Into::into),
            visibility: visibility.map(Into::into),
            query,
            state: state.into(),
            ..Default::default()
        };
        packages_connection(
            c,
            filter,
            order_by.unwrap_or_default(),
            after,
            before,
            first,
            last,
        )
        .await
    }
}

macro_rules! input_payload {
    ($input:ident { $($field:ident : $ty:ty),* $(,)? } => $payload:ident { $pfield:ident : $pty:ty }) => {
        #[derive(InputObject)]
        pub struct $input {
            $(pub $field: $ty,)*
            pub client_mutation_id: Option<String>,
        }

        #[derive(SimpleObject)]
        pub struct $payload {
            pub client_mutation_id: Option<String>,
            pub $pfield: $pty,
        }
    };
}

input_payload!(DeletePackageInput { package_id: ID } => DeletePackagePayload { package: PackageObject });
input_payload!(RestorePackageInput { package_id: ID } => RestorePackagePayload { package: PackageObject });
#[derive(InputObject)]
pub struct DeletePackageVersionInput {
    pub package_version_id: ID,
    pub client_mutation_id: Option<String>,
}

/// GitHub's payload (`success`) with the deleted version beside it.
#[derive(SimpleObject)]
pub struct DeletePackageVersionPayload {
    pub client_mutation_id: Option<String>,
    /// Whether the version was deleted (GitHub's field; a refusal is an error instead).
    pub success: bool,
    pub package_version: PackageVersionObject,
}
input_payload!(YankPackageVersionInput { package_version_id: ID } => YankPackageVersionPayload { package_version: PackageVersionObject });
input_payload!(UnyankPackageVersionInput { package_version_id: ID } => UnyankPackageVersionPayload { package_version: PackageVersionObject });
input_payload!(RestorePackageVersionInput { package_version_id: ID } => RestorePackageVersionPayload { package_version: PackageVersionObject });
input_payload!(SetPackageVisibilityInput { package_id: ID, visibility: PackageVisibility } => SetPackageVisibilityPayload { package: PackageObject });
input_payload!(LinkPackageRepositoryInput { package_id: ID, repository_id: ID } => LinkPackageRepositoryPayload { package: PackageObject });
input_payload!(UnlinkPackageRepositoryInput { package_id: ID } => UnlinkPackageRepositoryPayload { package: PackageObject });
input_payload!(SetPackageInheritAccessInput { package_id: ID, inherit_access: bool } => SetPackageInheritAccessPayload { package: PackageObject });

/// Exactly one of `login`, `teamSlug`, `repositoryId` names who gets the role.
#[derive(InputObject)]
pub struct GrantPackageAccessInput {
    pub package_id: ID,
    pub login: Option<String>,
    pub team_slug: Option<String>,
    pub repository_id: Option<ID>,
    pub role: PackageRole,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct GrantPackageAccessPayload {
    pub client_mutation_id: Option<String>,
    pub package: PackageObject,
    pub grant: PackageGrantObject,
}

#[derive(InputObject)]
pub struct RevokePackageAccessInput {
    pub package_id: ID,
    pub login: Option<String>,
    pub team_slug: Option<String>,
    pub repository_id: Option<ID>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct RevokePackageAccessPayload {
    pub client_mutation_id: Option<String>,
    pub package: PackageObject,
}

fn grant_target(
    login: Option<String>,
    team_slug: Option<String>,
    repository_id: Option<ID>,
) -> async_graphql::Result<GrantTarget> {
    match (login, team_slug, repository_id) {
        (Some(l), None, None) => Ok(GrantTarget::User(OwnerName::parse(&l).gql()?)),
        (None, Some(t), None) => Ok(GrantTarget::Team(t)),
        (None, None, Some(r)) => Ok(GrantTarget::Repository(ids::decode(&r, "Repository")?)),
        _ => Err(gql_error(DomainError::invalid(
            "give exactly one of login, teamSlug or repositoryId",
        ))),
    }
}

#[derive(Default)]
pub struct PackageMutation;

#[Object]
impl PackageMutation {
    /// Soft-deletes a package (restorable for 30 days).
    async fn delete_package(
        &self,
        c: &Context<'_>,
        input: DeletePackageInput,
    ) -> async_graphql::Result<DeletePackagePayload> {
        let c = ctx(c)?;
        let p = c
            .domain
            .delete_package(c.actor, ids::decode(&input.package_id, "Package")?)
            .await
            .gql()?;
        Ok(DeletePackagePayload {
            client_mutation_id: input.client_mutation_id,
            package: PackageObject(p),
        })
    }

    async fn restore_package(
        &self,
        c: &Context<'_>,
        input: RestorePackageInput,
    ) -> async_graphql::Result<RestorePackagePayload> {
        let c = ctx(c)?;
        let p = c
            .domain
            .restore_package(c.actor, ids::decode(&input.package_id, "Package")?)
            .await
            .gql()?;
        Ok(RestorePackagePayload {
            client_mutation_id: input.client_mutation_id,
            package: PackageObject(p),
        })
    }

    /// Soft-deletes a version; the last version can't be deleted (delete the package).
    async fn delete_package_version(
        &self,
        c: &Context<'_>,
        input: DeletePackageVersionInput,
    ) -> async_graphql::Result<DeletePackageVersionPayload> {
        let c = ctx(c)?;
        let v = c
            .domain
            .delete_version(
                c.actor,
                ids::decode(&input.package_version_id, "PackageVersion")?,
                crate::domain::packages::LastVersion::Refuse,
            )
            .await
            .gql()?;
        Ok(DeletePackageVersionPayload {
            client_mutation_id: input.client_mutation_id,
            success: true,
            package_version: PackageVersionObject(v),
        })
    }

    /// Yanks a version (needs write): it leaves the index, and stays installable by exact
    /// version where the format allows.
    async fn yank_package_version(
        &self,
        c: &Context<'_>,
        input: YankPackageVersionInput,
    ) -> async_graphql::Result<YankPackageVersionPayload> {
        let c = ctx(c)?;
        let id = ids::decode(&input.package_version_id, "PackageVersion")?;
        let v = c
            .domain
            .set_version_yanked_by_id(c.actor, id, true)
            .await
            .gql()?;
        Ok(YankPackageVersionPayload {
            client_mutation_id: input.client_mutation_id,
            package_version: PackageVersionObject(v),
        })
    }

    /// Takes a yank back (needs write).
    async fn unyank_package_version(
        &self,
        c: &Context<'_>,
        input: UnyankPackageVersionInput,
    ) -> async_graphql::Result<UnyankPackageVersionPayload> {
        let c = ctx(c)?;
        let id = ids::decode(&input.package_version_id, "PackageVersion")?;
        let v = c
            .domain
            .set_version_yanked_by_id(c.actor, id, false)
            .await
            .gql()?;
        Ok(UnyankPackageVersionPayload {
            client_mutation_id: input.client_mutation_id,
            package_version: PackageVersionObject(v),
        })
    }

    async fn restore_package_version(
        &self,
        c: &Context<'_>,
        input: RestorePackageVersionInput,
    ) -> async_graphql::Result<RestorePackageVersionPayload> {
        let c = ctx(c)?;
        let v = c
            .domain
            .restore_version(
                c.actor,
                ids::decode(&input.package_version_id, "PackageVersion")?,
            )
            .await
            .gql()?;
        Ok(RestorePackageVersionPayload {
            client_mutation_id: input.client_mutation_id,
            package_version: PackageVersionObject(v),
        })
    }

    /// Public packages can't be made private again.
    async fn set_package_visibility(
        &self,
        c: &Context<'_>,
        input: SetPackageVisibilityInput,
    ) -> async_graphql::Result<SetPackageVisibilityPayload> {
        let c = ctx(c)?;
        let p = c
            .domain
            .set_package_visibility(
                c.actor,
                ids::decode(&input.package_id, "Package")?,
                input.visibility.into(),
            )
            .await
            .gql()?;
        Ok(SetPackageVisibilityPayload {
            client_mutation_id: input.client_mutation_id,
            package: PackageObject(p),
        })
    }

    async fn link_package_repository(
        &self,
        c: &Context<'_>,
        input: LinkPackageRepositoryInput,
    ) -> async_graphql::Result<LinkPackageRepositoryPayload> {
        let c = ctx(c)?;
        let p = c
            .domain
            .link_package_repository(
                c.actor,
                ids::decode(&input.package_id, "Package")?,
                ids::decode(&input.repository_id, "Repository")?,
            )
            .await
            .gql()?;
        Ok(LinkPackageRepositoryPayload {
            client_mutation_id: input.client_mutation_id,
            package: PackageObject(p),
        })
    }

    async fn unlink_package_repository(
        &self,
        c: &Context<'_>,
        input: UnlinkPackageRepositoryInput,
    ) -> async_graphql::Result<UnlinkPackageRepositoryPayload> {
        let c = ctx(c)?;
        let p = c
            .domain
            .unlink_package_repository(c.actor, ids::decode(&input.package_id, "Package")?)
            .await
            .gql()?;
        Ok(UnlinkPackageRepositoryPayload {
            client_mutation_id: input.client_mutation_id,
            package: PackageObject(p),
        })
    }

    async fn set_package_inherit_access(
        &self,
        c: &Context<'_>,
        input: SetPackageInheritAccessInput,
    ) -> async_graphql::Result<SetPackageInheritAccessPayload> {
        let c = ctx(c)?;
        let p = c
            .domain
            .set_package_inherit_access(
                c.actor,
                ids::decode(&input.package_id, "Package")?,
                input.inherit_access,
            )
            .await
            .gql()?;
        Ok(SetPackageInheritAccessPayload {
            client_mutation_id: input.client_mutation_id,
            package: PackageObject(p),
        })
    }

    async fn grant_package_access(
        &self,
        c: &Context<'_>,
        input: GrantPackageAccessInput,
    ) -> async_graphql::Result<GrantPackageAccessPayload> {
        let c = ctx(c)?;
        let package_id = ids::decode(&input.package_id, "Package")?;
        let target = grant_target(input.login, input.team_slug, input.repository_id)?;
        let grant = c
            .domain
            .grant_package_access(c.actor, package_id, &target, input.role.into())
            .await
            .gql()?;
        let package = c.domain.package_by_id(c.actor, package_id).await.gql()?;
        Ok(GrantPackageAccessPayload {
            client_mutation_id: input.client_mutation_id,
            package: PackageObject(package),
            grant: PackageGrantObject(grant),
        })
    }

    async fn revoke_package_access(
        &self,
        c: &Context<'_>,
        input: RevokePackageAccessInput,
    ) -> async_graphql::Result<RevokePackageAccessPayload> {
        let c = ctx(c)?;
        let target = grant_target(input.login, input.team_slug, input.repository_id)?;
        let p = c
            .domain
            .revoke_package_access(c.actor, ids::decode(&input.package_id, "Package")?, &target)
            .await
            .gql()?;
        Ok(RevokePackageAccessPayload {
            client_mutation_id: input.client_mutation_id,
            package: PackageObject(p),
        })
    }
}
