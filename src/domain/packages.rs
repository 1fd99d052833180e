//! Reading packages and changing them after publish: lookups, lists, settings, tags,
//! grants, deletion and restore.
use std::collections::HashMap;

use chrono::Duration;
use entity::{
    account, blob, package, package_file, package_grant, package_tag, package_version, repository,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
    sea_query::{Asterisk, Expr, ExprTrait, Func, LikeExpr},
};

use crate::{
    auth::{
        Actor,
        policy::{self, Action},
    },
    domain::{
        Domain, audit,
        names::{OwnerName, PackageName, VersionName},
        now,
        rules::{LatestRule, highest_release, rules},
        types::{AccountKind, PackageType, Role, State, Visibility, parse_stored},
        views::{FileInfo, GrantInfo, PackageInfo, TagInfo, VersionInfo},
    },
    error::{DomainError, DomainResult, What},
};

/// Names a package the way doors do: owner, type and name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PackageRef {
    pub owner: OwnerName,
    pub package_type: PackageType,
    pub name: PackageName,
}

/// Which packages a list wants.
#[derive(Clone, Debug, Default)]
pub struct PackageFilter {
    pub owner_id: Option<i64>,
    pub repository_id: Option<i64>,
    pub package_type: Option<PackageType>,
    pub visibility: Option<Visibility>,
    pub names: Option<Vec<String>>,
    /// Substring of the name.
    pub query: Option<String>,
    pub state: State,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PackageOrder {
    #[default]
    CreatedDesc,
    CreatedAsc,
    UpdatedDesc,
    UpdatedAsc,
    NameAsc,
    NameDesc,
}

/// The order of a package's versions (GitHub's `PackageVersionOrder` on `CREATED_AT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VersionOrder {
    #[default]
    NewestFirst,
    OldestFirst,
}

/// What deleting the last live version of a package means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastVersion {
    /// Refused (the API): delete the package instead.
    Refuse,
    /// The package goes with it, restorable (npm unpublish, a generic `DELETE`).
    DeletesPackage,
    /// The package stays, empty, with its settings and grants (a registry deleting an
    /// image's last manifest, which the next push fills again).
    KeepsPackage,
}

/// Who a grant is for.
#[derive(Clone, Debug)]
pub enum GrantTarget {
    User(OwnerName),
    Team(String),
    Repository(i64),
}

pub(crate) fn package_info(
    m: package::Model,
    owner_login: String,
    viewer_role: Option<Role>,
) -> DomainResult<PackageInfo> {
    Ok(PackageInfo {
        id: m.id,
        owner_id: m.owner_id,
        owner_login,
        package_type: parse_stored(&m.format)?,
        visibility: parse_stored(&m.visibility)?,
        name: m.name,
        repository_id: m.repository_id,
        inherit_access: m.inherit_access,
        created_at: m.created_at,
        updated_at: m.updated_at,
        deleted_at: m.deleted_at,
        viewer_role,
    })
}

pub(crate) fn version_info(m: package_version::Model) -> VersionInfo {
    VersionInfo {
        id: m.id,
        package_id: m.package_id,
        version: m.version,
        metadata: crate::domain::metadata::VersionMetadata::from_stored(m.metadata),
        summary: m.summary,
        readme: m.readme,
        license: m.license,
        prerelease: m.prerelease,
        yanked: m.yanked,
        publisher_id: m.publisher_id,
        created_at: m.created_at,
        updated_at: m.updated_at,
        deleted_at: m.deleted_at,
    }
}

pub(crate) fn file_info(f: package_file::Model, b: Option<&blob::Model>) -> FileInfo {
    FileInfo {
        id: f.id,
        version_id: f.version_id,
        sha256: f.blob_digest.trim_start_matches("sha256:").to_string(),
        md5: b.and_then(|b| b.md5.clone()),
        sha1: b.and_then(|b| b.sha1.clone()),
        sha512: b.and_then(|b| b.sha512.clone()),
        name: f.name,
        size: f.size,
        content_type: f.content_type,
        lead: f.lead,
        created_at: f.created_at,
        updated_at: f.updated_at,
    }
}

fn grant_info(g: package_grant::Model) -> DomainResult<GrantInfo> {
    Ok(GrantInfo {
        id: g.id,
        package_id: g.package_id,
        user_id: g.user_id,
        team_id: g.team_id,
        repository_id: g.repository_id,
        role: parse_stored(&g.role)?,
        created_at: g.created_at,
    })
}

impl Domain {
    /// The live package a ref names, with its owner; no permission check.
    pub(crate) async fn package_model(
        &self,
        r: &PackageRef,
    ) -> DomainResult<Option<(package::Model, account::Model)>> {
        let Some(owner) = account::Entity::find()
            .filter(account::Column::Login.eq(r.owner.as_str()))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let pkg = packages_named(owner.id, r)
            .filter(package::Column::DeletedAt.is_null())
            .one(&self.db)
            .await?;
        Ok(pkg.map(|p| (p, owner)))
    }

    /// A package by id (live or deleted) with its owner; no permission check.
    pub(crate) async fn package_model_by_id(
        &self,
        id: i64,
    ) -> DomainResult<(package::Model, account::Model)> {
        let pkg = package::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| DomainError::not_found(What::Package, "package"))?;
        let owner = account::Entity::find_by_id(pkg.owner_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| DomainError::internal("package without owner"))?;
        Ok((pkg, owner))
    }

    /// The live package a ref names, for a caller about to be gated on it: a missing one
    /// answers as one the caller may not read ([`policy::unknown`]).
    pub(crate) async fn live_package(
        &self,
        actor: &Actor,
        r: &PackageRef,
    ) -> DomainResult<(package::Model, account::Model)> {
        self.package_model(r).await?.ok_or_else(|| {
            policy::unknown(
                actor,
                What::Package,
                format!("package {}/{}", r.owner, r.name),
            )
        })
    }

    /// A package by id, gated: live for `action`; deleted for `on_deleted` (`None`: a
    /// deleted package is not there). A missing id, a package the caller may not read and
    /// a deleted one it may not act on answer alike ([`policy::unknown`] of `what`), naming
    /// no package: ids are sequential, and a name in the answer would list private ones.
    pub(crate) async fn gated_package_by_id(
        &self,
        actor: &Actor,
        id: i64,
        action: Action,
        on_deleted: Option<Action>,
        what: What,
    ) -> DomainResult<(package::Model, account::Model, Option<Role>)> {
        let message = if what == What::Version {
            "package version"
        } else {
            "package"
        };
        let unknown = || policy::unknown(actor, what, message);
        let (pkg, owner) = match self.package_model_by_id(id).await {
            Ok(found) => found,
            Err(DomainError::NotFound { .. }) => return Err(unknown()),
            Err(e) => return Err(e),
        };
        let action = match (pkg.deleted_at, on_deleted) {
            (None, _) => action,
            (Some(_), Some(on_deleted)) => on_deleted,
            (Some(_), None) => return Err(unknown()),
        };
        let deleted = pkg.deleted_at.is_some();
        match self.authorize_package(actor, action, &pkg, &owner).await {
            Ok(role) => Ok((pkg, owner, role)),
            Err(DomainError::NotFound { .. }) => Err(unknown()),
            // Deleted things are for those who may restore them; others learn nothing.
            Err(DomainError::Forbidden(_) | DomainError::Unauthenticated(_)) if deleted => {
                Err(unknown())
            }
            Err(e) => Err(e),
        }
    }

    /// The most recently deleted package a ref names that can still be restored (deleted
    /// within the restore period), with its owner; no permission check.
    pub(crate) async fn deleted_package_model(
        &self,
        r: &PackageRef,
    ) -> DomainResult<Option<(package::Model, account::Model)>> {
        let Some(owner) = account::Entity::find()
            .filter(account::Column::Login.eq(r.owner.as_str()))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let pkg = packages_named(owner.id, r)
            .filter(package::Column::DeletedAt.gt(now() - Duration::days(self.config.restore_days)))
            .order_by_desc(package::Column::DeletedAt)
            .one(&self.db)
            .await?;
        Ok(pkg.map(|p| (p, owner)))
    }

    /// Looks up a live package the actor may read.
    pub async fn find_package(&self, actor: &Actor, r: &PackageRef) -> DomainResult<PackageInfo> {
        let (pkg, owner) = match self.cache.package(r) {
            Some(hit) => hit,
            None => {
                let started = std::time::Instant::now();
                let found = self.package_model(r).await?.ok_or_else(|| {
                    policy::unknown(
                        actor,
                        What::Package,
                        format!("package {}/{}", r.owner, r.name),
                    )
                })?;
                self.cache.put_package(r, started, &found.0, &found.1);
                found
            }
        };
        let role = self
            .authorize_package(actor, Action::Read, &pkg, &owner)
            .await?;
        package_info(pkg, owner.login, role)
    }

    /// A package by id. Deleted packages are visible only to their admins.
    pub async fn package_by_id(&self, actor: &Actor, id: i64) -> DomainResult<PackageInfo> {
        let (pkg, owner, role) = self
            .gated_package_by_id(actor, id, Action::Read, Some(Action::Delete), What::Package)
            .await?;
        package_info(pkg, owner.login, role)
    }

    /// A page of the packages the actor may read, and the total count of the filter.
    pub async fn list_packages(
        &self,
        actor: &Actor,
        filter: &PackageFilter,
        order: PackageOrder,
        offset: u64,
        limit: u64,
    ) -> DomainResult<(Vec<PackageInfo>, u64)> {
        let mut cond = Condition::all().add(self.readable_condition(actor));
        cond = match filter.state {
            State::Active => cond.add(package::Column::DeletedAt.is_null()),
            State::Deleted => {
                // Deleted packages are listed for their admins only.
                if actor.is_anonymous() {
                    return Ok((Vec::new(), 0));
                }
                cond.add(package::Column::DeletedAt.is_not_null())
            }
        };
        if let Some(owner) = filter.owner_id {
            cond = cond.add(package::Column::OwnerId.eq(owner));
        }
        if let Some(repo) = filter.repository_id {
            cond = cond.add(package::Column::RepositoryId.eq(repo));
        }
        if let Some(t) = filter.package_type {
            cond = cond.add(package::Column::Format.eq(t.as_str()));
        }
        if let Some(v) = filter.visibility {
            cond = cond.add(package::Column::Visibility.eq(v.as_str()));
        }
        if let Some(names) = &filter.names {
            cond = cond.add(package::Column::Name.is_in(names.iter().cloned()));
        }
        if let Some(q) = filter.query.as_deref().filter(|q| !q.is_empty()) {
            let like = format!(
                "%{}%",
                q.to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            cond = cond.add(
                Expr::expr(Func::lower(Expr::col((
                    package::Entity,
                    package::Column::Name,
                ))))
                .like(LikeExpr::new(like).escape('\\')),
            );
        }
        let query = package::Entity::find().filter(cond);
        let query = match order {
            PackageOrder::CreatedDesc => query.order_by_desc(package::Column::CreatedAt),
            PackageOrder::UpdatedDesc => query.order_by_desc(package::Column::UpdatedAt),
            PackageOrder::CreatedAsc => query.order_by_asc(package::Column::CreatedAt),
            PackageOrder::UpdatedAsc => query.order_by_asc(package::Column::UpdatedAt),
            PackageOrder::NameAsc => query.order_by_asc(package::Column::Name),
            PackageOrder::NameDesc => query.order_by_desc(package::Column::Name),
        };
        // Ties break the same way as the main key runs, so reversing reverses the list.
        let query = match order {
            PackageOrder::CreatedAsc | PackageOrder::UpdatedAsc | PackageOrder::NameAsc => {
                query.order_by_asc(package::Column::Id)
            }
            _ => query.order_by_desc(package::Column::Id),
        };
        if filter.state == State::Deleted {
            return self.deleted_packages(actor, query, offset, limit).await;
        }
        let total = query.clone().count(&self.db).await?;
        let rows = query.offset(offset).limit(limit).all(&self.db).await?;
        let owners = self.owners_of(&rows).await?;
        rows.into_iter()
            .map(|pkg| {
                let owner = owners
                    .get(&pkg.owner_id)
                    .ok_or_else(|| DomainError::internal("package without owner"))?;
                package_info(pkg, owner.login.clone(), None)
            })
            .collect::<DomainResult<Vec<_>>>()
            .map(|out| (out, total))
    }

    /// The owners of these packages, by id.
    pub(crate) async fn owners_of(
        &self,
        rows: &[package::Model],
    ) -> DomainResult<HashMap<i64, account::Model>> {
        Ok(account::Entity::find()
            .filter(account::Column::Id.is_in(rows.iter().map(|p| p.owner_id)))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect())
    }

    /// Deleted packages are listed to those who may delete (and so restore) them: the SQL
    /// condition says "may read", so the rest is decided here for the whole (bounded) set,
    /// and the count and pages are of what remains.
    async fn deleted_packages(
        &self,
        actor: &Actor,
        query: sea_orm::Select<package::Entity>,
        offset: u64,
        limit: u64,
    ) -> DomainResult<(Vec<PackageInfo>, u64)> {
        const DELETED_MAX: u64 = 10_000;
        let rows = query.limit(DELETED_MAX).all(&self.db).await?;
        let owners = self.owners_of(&rows).await?;
        let pairs: Vec<(&package::Model, &account::Model)> = rows
            .iter()
            .filter_map(|p| Some((p, owners.get(&p.owner_id)?)))
            .collect();
        let access = self.access_to_many(actor, &pairs).await?;
        let mut allowed = Vec::new();
        for (pkg, owner) in pairs {
            let Some(a) = access.get(&pkg.id) else {
                continue;
            };
            let facts = crate::auth::policy::PackageFacts {
                owner_login: &owner.login,
                name: &pkg.name,
                visibility: parse_stored(&pkg.visibility)?,
                role: a.role,
                org_member: a.org_member,
            };
            if crate::auth::policy::authorize(actor, Action::Delete, &facts).is_ok() {
                allowed.push(package_info(pkg.clone(), owner.login.clone(), None)?);
            }
        }
        let total = allowed.len() as u64;
        let page = allowed
            .into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect();
        Ok((page, total))
    }

    /// Versions of a package the actor may read, newest first. Deleted versions need admin.
    pub async fn list_versions(
        &self,
        actor: &Actor,
        package_id: i64,
        state: State,
        offset: u64,
        limit: u64,
    ) -> DomainResult<(Vec<VersionInfo>, u64)> {
        self.list_versions_ordered(
            actor,
            package_id,
            state,
            VersionOrder::NewestFirst,
            offset,
            limit,
        )
        .await
    }

    /// A page of a package's versions in `order` (creation time, then id), and how many
    /// there are.
    pub async fn list_versions_ordered(
        &self,
        actor: &Actor,
        package_id: i64,
        state: State,
        order: VersionOrder,
        offset: u64,
        limit: u64,
    ) -> DomainResult<(Vec<VersionInfo>, u64)> {
        let action = match state {
            State::Deleted => Action::Delete,
            State::Active => Action::Read,
        };
        self.gated_package_by_id(
            actor,
            package_id,
            action,
            Some(Action::Delete),
            What::Package,
        )
        .await?;
        let query = package_version::Entity::find()
            .filter(package_version::Column::PackageId.eq(package_id));
        let query = match state {
            State::Active => query.filter(package_version::Column::DeletedAt.is_null()),
            State::Deleted => query.filter(package_version::Column::DeletedAt.is_not_null()),
        };
        let total = query.clone().count(&self.db).await?;
        let direction = match order {
            VersionOrder::NewestFirst => sea_orm::Order::Desc,
            VersionOrder::OldestFirst => sea_orm::Order::Asc,
        };
        let rows = query
            .order_by(package_version::Column::CreatedAt, direction.clone())
            .order_by(package_version::Column::Id, direction)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?;
        Ok((rows.into_iter().map(version_info).collect(), total))
    }

    /// A live version by its name.
    pub async fn find_version(
        &self,
        actor: &Actor,
        r: &PackageRef,
        version: &VersionName,
    ) -> DomainResult<(PackageInfo, VersionInfo)> {
        let pkg = self.find_package(actor, r).await?;
        let v = live_version(&self.db, pkg.id, version.as_str())
            .await?
            .ok_or_else(|| {
                DomainError::not_found(
                    What::Version,
                    format!("version {version} of {}/{}", r.owner, r.name),
                )
            })?;
        Ok((pkg, version_info(v)))
    }

    /// A version by id (live, or deleted for admins).
    pub async fn version_by_id(&self, actor: &Actor, id: i64) -> DomainResult<VersionInfo> {
        let v = package_version::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| policy::unknown(actor, What::Version, "package version"))?;
        // Deleted things are for their admins only; others learn nothing.
        let action = if v.deleted_at.is_some() {
            Action::Delete
        } else {
            Action::Read
        };
        let deleted = v.deleted_at.is_some();
        match self
            .gated_package_by_id(
                actor,
                v.package_id,
                action,
                Some(Action::Delete),
                What::Version,
            )
            .await
        {
            Ok(_) => Ok(version_info(v)),
            Err(DomainError::Forbidden(_)) if deleted => {
                Err(policy::unknown(actor, What::Version, "package version"))
            }
            Err(e) => Err(e),
        }
    }

    // Batch reads for DataLoaders. Their ids come from objects the caller was already
    // allowed to read (a package, a version), so they don't check again.

    pub async fn latest_versions_of(
        &self,
        package_ids: &[i64],
    ) -> DomainResult<HashMap<i64, VersionInfo>> {
        let latest_ids: Vec<Option<i64>> = package_version::Entity::find()
            .select_only()
            .column_as(package_version::Column::Id.max(), "id")
            .filter(package_version::Column::PackageId.is_in(package_ids.iter().copied()))
            .filter(package_version::Column::DeletedAt.is_null())
            .group_by(package_version::Column::PackageId)
            .into_tuple()
            .all(&self.db)
            .await?;
        let rows = package_version::Entity::find()
            .filter(package_version::Column::Id.is_in(latest_ids.into_iter().flatten()))
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|v| (v.package_id, version_info(v)))
            .collect())
    }

    pub async fn packages_by_ids(&self, ids: &[i64]) -> DomainResult<HashMap<i64, PackageInfo>> {
        let rows = package::Entity::find()
            .filter(package::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?;
        let owners = self.owners_of(&rows).await?;
        rows.into_iter()
            .map(|p| {
                let login = owners
                    .get(&p.owner_id)
                    .map(|o| o.login.clone())
                    .unwrap_or_default();
                Ok((p.id, package_info(p, login, None)?))
            })
            .collect()
    }

    pub async fn versions_by_ids(&self, ids: &[i64]) -> DomainResult<HashMap<i64, VersionInfo>> {
        Ok(package_version::Entity::find()
            .filter(package_version::Column::Id.is_in(ids.iter().copied()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|v| (v.id, version_info(v)))
            .collect())
    }

    pub async fn files_of_versions(
        &self,
        version_ids: &[i64],
    ) -> DomainResult<HashMap<i64, Vec<FileInfo>>> {
        let files = package_file::Entity::find()
            .filter(package_file::Column::VersionId.is_in(version_ids.iter().copied()))
            .order_by_asc(package_file::Column::Id)
            .all(&self.db)
            .await?;
        let blobs: HashMap<String, blob::Model> = blob::Entity::find()
            .filter(blob::Column::Digest.is_in(files.iter().map(|f| f.blob_digest.clone())))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|b| (b.digest.clone(), b))
            .collect();
        let mut out: HashMap<i64, Vec<FileInfo>> = HashMap::new();
        for f in files {
            let b = blobs.get(&f.blob_digest);
            out.entry(f.version_id).or_default().push(file_info(f, b));
        }
        Ok(out)
    }

    pub async fn tags_of_packages(
        &self,
        package_ids: &[i64],
    ) -> DomainResult<HashMap<i64, Vec<TagInfo>>> {
        self.tags_where(
            package_tag::Column::PackageId.is_in(package_ids.iter().copied()),
            |t| t.package_id,
        )
        .await
    }

    pub async fn tags_of_versions(
        &self,
        version_ids: &[i64],
    ) -> DomainResult<HashMap<i64, Vec<TagInfo>>> {
        self.tags_where(
            package_tag::Column::VersionId.is_in(version_ids.iter().copied()),
            |t| t.version_id,
        )
        .await
    }

    async fn tags_where(
        &self,
        cond: sea_orm::sea_query::SimpleExpr,
        key: fn(&TagInfo) -> i64,
    ) -> DomainResult<HashMap<i64, Vec<TagInfo>>> {
        let tags = package_tag::Entity::find()
            .filter(cond)
            .order_by_asc(package_tag::Column::Name)
            .all(&self.db)
            .await?;
        let versions = self
            .versions_by_ids(&tags.iter().map(|t| t.version_id).collect::<Vec<_>>())
            .await?;
        let mut out: HashMap<i64, Vec<TagInfo>> = HashMap::new();
        for t in tags {
            let Some(v) = versions.get(&t.version_id) else {
                continue;
            };
            let info = TagInfo {
                id: t.id,
                package_id: t.package_id,
                name: t.name,
                version_id: t.version_id,
                version: v.version.clone(),
                updated_at: t.updated_at,
            };
            out.entry(key(&info)).or_default().push(info);
        }
        Ok(out)
    }

    /// Grants on a package, for its admins; others see none.
    pub async fn package_grants(
        &self,
        actor: &Actor,
        package_id: i64,
    ) -> DomainResult<Vec<GrantInfo>> {
        let (pkg, owner) = self.package_model_by_id(package_id).await?;
        if self
            .authorize_package(actor, Action::Admin, &pkg, &owner)
            .await
            .is_err()
        {
            return Ok(Vec::new());
        }
        package_grant::Entity::find()
            .filter(package_grant::Column::PackageId.eq(package_id))
            .order_by_asc(package_grant::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(grant_info)
            .collect()
    }

    /// Settings and access need the admin role on a live package.
    async fn admin_package(
        &self,
        actor: &Actor,
        package_id: i64,
    ) -> DomainResult<(package::Model, account::Model)> {
        let (pkg, owner, _) = self
            .gated_package_by_id(actor, package_id, Action::Admin, None, What::Package)
            .await?;
        Ok((pkg, owner))
    }

    async fn save_package(
        &self,
        actor: &Actor,
        pkg: package::ActiveModel,
        owner: account::Model,
        action: &str,
        data: serde_json::Value,
    ) -> DomainResult<PackageInfo> {
        let mut pkg = pkg;
        pkg.updated_at = Set(now());
        let txn = self.db.begin().await?;
        let pkg = pkg.update(&txn).await?;
        audit::record(&txn, actor, action, "package", Some(pkg.id), data).await?;
        self.emit_event(
            &txn,
            actor,
            crate::domain::events::EventKind::Updated,
            pkg.id,
            None,
        )
        .await?;
        txn.commit().await?;
        self.events_committed().await;
        self.package_changed(pkg.id).await;
        package_info(pkg, owner.login, Some(Role::Admin))
    }

    /// Changes visibility. A public package stays public (it protects its consumers), and
    /// Maven packages take their repository's visibility.
    pub async fn set_package_visibility(
        &self,
        actor: &Actor,
        package_id: i64,
        visibility: Visibility,
    ) -> DomainResult<PackageInfo> {
        let (pkg, owner) = self.admin_package(actor, package_id).await?;
        let current: Visibility = parse_stored(&pkg.visibility)?;
        if current == Visibility::Public && visibility != Visibility::Public {
            return Err(DomainError::invalid(
                "a public package can't be made private or internal again",
            ));
        }
        if visibility == Visibility::Internal && owner.kind != AccountKind::Organization.as_str() {
            return Err(DomainError::invalid(
                "internal visibility is for organization packages",
            ));
        }
        let rules = rules(parse_stored(&pkg.format)?);
        if rules.repository_scoped {
            return Err(DomainError::invalid(format!(
                "{} packages take the visibility of their repository",
                rules.label
            )));
        }
        let mut active = pkg.into_active_model();
        active.visibility = Set(visibility.as_str().into());
        self.save_package(
            actor,
            active,
            owner,
            "package.visibility",
            serde_json::json!({"visibility": visibility.as_str()}),
        )
        .await
    }

    /// Links a package to a repository of the same owner; linking never changes visibility.
    pub async fn link_package_repository(
        &self,
        actor: &Actor,
        package_id: i64,
        repository_id: i64,
    ) -> DomainResult<PackageInfo> {
        let (pkg, owner) = self.admin_package(actor, package_id).await?;
        let repo = repository::Entity::find_by_id(repository_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| DomainError::not_found(What::Repository, "repository"))?;
        if repo.owner_id != pkg.owner_id {
            return Err(DomainError::invalid(
                "a package can only be linked to a repository of the same owner",
            ));
        }
        let rules = rules(parse_stored(&pkg.format)?);
        if rules.repository_scoped && pkg.repository_id.is_some_and(|id| id != repo.id) {
            return Err(DomainError::invalid(format!(
                "{} packages always belong to the repository they were deployed to",
                rules.label
            )));
        }
        let mut active = pkg.into_active_model();
        active.repository_id = Set(Some(repo.id));
        self.save_package(
            actor,
            active,
            owner,
            "package.link",
            serde_json::json!({"repository_id": repo.id}),
        )
        .await
    }

    pub async fn unlink_package_repository(
        &self,
        actor: &Actor,
        package_id: i64,
    ) -> DomainResult<PackageInfo> {
        let (pkg, owner) = self.admin_package(actor, package_id).await?;
        let rules = rules(parse_stored(&pkg.format)?);
        if rules.repository_scoped {
            return Err(DomainError::invalid(format!(
                "{} packages always belong to their repository",
                rules.label
            )));
        }
        let mut active = pkg.into_active_model();
        active.repository_id = Set(None);
        self.save_package(
            actor,
            active,
            owner,
            "package.unlink",
            serde_json::json!({}),
        )
        .await
    }

    pub async fn set_package_inherit_access(
        &self,
        actor: &Actor,
        package_id: i64,
        inherit: bool,
    ) -> DomainResult<PackageInfo> {
        let (pkg, owner) = self.admin_package(actor, package_id).await?;
        let mut active = pkg.into_active_model();
        active.inherit_access = Set(inherit);
        self.save_package(
            actor,
            active,
            owner,
            "package.inherit_access",
            serde_json::json!({"inherit_access": inherit}),
        )
        .await
    }

    /// Grants (or changes) a role. User-owned packages take users and repositories;
    /// organization packages take the organization's members, teams and repositories.
    pub async fn grant_package_access(
        &self,
        actor: &Actor,
        package_id: i64,
        target: &GrantTarget,
        role: Role,
    ) -> DomainResult<GrantInfo> {
        let (pkg, owner) = self.admin_package(actor, package_id).await?;
        let is_org = owner.kind == AccountKind::Organization.as_str();
        let (user_id, team_id, repository_id) = match target {
            GrantTarget::User(login) => {
                let user = self.account_model(login).await?;
                if user.kind != AccountKind::User.as_str() {
                    return Err(DomainError::invalid(format!("{login} is not a user")));
                }
                if is_org && self.org_role(owner.id, user.id).await?.is_none() {
                    return Err(DomainError::invalid(format!(
                        "{login} is not a member of {}",
                        owner.login
                    )));
                }
                (Some(user.id), None, None)
            }
            GrantTarget::Team(slug) => {
                if !is_org {
                    return Err(DomainError::invalid(
                        "teams can be granted access only to organization packages",
                    ));
                }
                (None, Some(self.team_model(owner.id, slug).await?.id), None)
            }
            GrantTarget::Repository(id) => {
                let repo = repository::Entity::find_by_id(*id)
                    .one(&self.db)
                    .await?
                    .ok_or_else(|| DomainError::not_found(What::Repository, "repository"))?;
                if repo.owner_id != owner.id {
                    return Err(DomainError::invalid(
                        "only repositories of the package's owner can be granted access",
                    ));
                }
                (None, None, Some(repo.id))
            }
        };
        let txn = self.db.begin().await?;
        delete_grant(&txn, pkg.id, user_id, team_id, repository_id).await?;
        let grant = package_grant::ActiveModel {
            package_id: Set(pkg.id),
            user_id: Set(user_id),
            team_id: Set(team_id),
            repository_id: Set(repository_id),
            role: Set(role.as_str().into()),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        audit::record(&txn, actor, "package.grant", "package", Some(pkg.id), serde_json::json!({"user_id": user_id, "team_id": team_id, "repository_id": repository_id, "role": role.as_str()})).await?;
        txn.commit().await?;
        self.package_changed(pkg.id).await;
        grant_info(grant)
    }

    pub async fn revoke_package_access(
        &self,
        actor: &Actor,
        package_id: i64,
        target: &GrantTarget,
    ) -> DomainResult<PackageInfo> {
        let (pkg, owner) = self.admin_package(actor, package_id).await?;
        let (user_id, team_id, repository_id) = match target {
            GrantTarget::User(login) => (Some(self.account_model(login).await?.id), None, None),
            GrantTarget::Team(slug) => {
                (None, Some(self.team_model(owner.id, slug).await?.id), None)
            }
            GrantTarget::Repository(id) => (None, None, Some(*id)),
        };
        let txn = self.db.begin().await?;
        let removed = delete_grant(&txn, pkg.id, user_id, team_id, repository_id).await?;
        if removed == 0 {
            return Err(DomainError::not_found(What::Grant, "grant"));
        }
        audit::record(&txn, actor, "package.revoke", "package", Some(pkg.id), serde_json::json!({"user_id": user_id, "team_id": team_id, "repository_id": repository_id})).await?;
        txn.commit().await?;
        self.package_changed(pkg.id).await;
        package_info(pkg, owner.login, Some(Role::Admin))
    }

    /// Points a tag at a live version (npm dist-tags, OCI tags). Needs write.
    pub async fn set_tag(
        &self,
        actor: &Actor,
        r: &PackageRef,
        tag: &str,
        version: &VersionName,
    ) -> DomainResult<TagInfo> {
        let (pkg, owner) = self.live_package(actor, r).await?;
        self.authorize_package(actor, Action::Write, &pkg, &owner)
            .await?;
        let v = live_version(&self.db, pkg.id, version.as_str())
            .await?
            .ok_or_else(|| DomainError::not_found(What::Version, format!("version {version}")))?;
        let txn = self.db.begin().await?;
        let tag = upsert_tag(&txn, pkg.id, tag, v.id).await?;
        touch_package(&txn, pkg.id).await?;
        audit::record(
            &txn,
            actor,
            "package.tag.set",
            "package",
            Some(pkg.id),
            serde_json::json!({"tag": tag.name, "version": v.version}),
        )
        .await?;
        self.emit_event(
            &txn,
            actor,
            crate::domain::events::EventKind::Updated,
            pkg.id,
            Some(v.id),
        )
        .await?;
        txn.commit().await?;
        self.events_committed().await;
        self.package_changed(pkg.id).await;
        Ok(TagInfo {
            id: tag.id,
            package_id: pkg.id,
            name: tag.name,
            version_id: v.id,
            version: v.version,
            updated_at: tag.updated_at,
        })
    }

    /// Removes a tag; the version stays.
    pub async fn delete_tag(&self, actor: &Actor, r: &PackageRef, tag: &str) -> DomainResult<()> {
        let (pkg, owner) = self.live_package(actor, r).await?;
        self.authorize_package(actor, Action::Write, &pkg, &owner)
            .await?;
        let txn = self.db.begin().await?;
        let removed = package_tag::Entity::delete_many()
            .filter(package_tag::Column::PackageId.eq(pkg.id))
            .filter(package_tag::Column::Name.eq(tag))
            .exec(&txn)
            .await?;
        if removed.rows_affected == 0 {
            return Err(DomainError::not_found(What::Tag, format!("tag {tag}")));
        }
        touch_package(&txn, pkg.id).await?;
        audit::record(
            &txn,
            actor,
            "package.tag.delete",
            "package",
            Some(pkg.id),
            serde_json::json!({"tag": tag}),
        )
        .await?;
        self.emit_event(
            &txn,
            actor,
            crate::domain::events::EventKind::Updated,
            pkg.id,
            None,
        )
        .await?;
        txn.commit().await?;
        self.events_committed().await;
        self.package_changed(pkg.id).await;
        Ok(())
    }

    /// Downloads of a package's versions, checked against the delete threshold.
    pub(crate) async fn check_delete_threshold(
        &self,
        pkg: &package::Model,
        version_id: Option<i64>,
    ) -> DomainResult<()> {
        let threshold = self.config.delete_download_threshold;
        if threshold == 0 || pkg.visibility != Visibility::Public.as_str() {
            return Ok(());
        }
        let ids: Vec<i64> = match version_id {
            Some(v) => vec![v],
            None => package_version::Entity::find()
                .filter(package_version::Column::PackageId.eq(pkg.id))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|v| v.id)
                .collect(),
        };
        let totals = self.version_download_totals(&ids).await?;
        if totals.values().any(|n| *n > threshold) {
            return Err(DomainError::forbidden(format!(
                "a public package or version with more than {threshold} downloads can't be deleted; contact the site administrators"
            )));
        }
        Ok(())
    }

    /// Soft-deletes a package; restorable for the configured number of days.
    pub async fn delete_package(
        &self,
        actor: &Actor,
        package_id: i64,
    ) -> DomainResult<PackageInfo> {
        let (pkg, owner, _) = self
            .gated_package_by_id(actor, package_id, Action::Delete, None, What::Package)
            .await?;
        self.check_delete_threshold(&pkg, None).await?;
        let txn = self.db.begin().await?;
        let mut active = pkg.into_active_model();
        active.deleted_at = Set(Some(now()));
        let pkg = active.update(&txn).await?;
        audit::record(
            &txn,
            actor,
            "package.delete",
            "package",
            Some(pkg.id),
            serde_json::json!({"name": pkg.name}),
        )
        .await?;
        self.emit_event(
            &txn,
            actor,
            crate::domain::events::EventKind::Deleted,
            pkg.id,
            None,
        )
        .await?;
        txn.commit().await?;
        self.events_committed().await;
        self.package_changed(pkg.id).await;
        package_info(pkg, owner.login, Some(Role::Admin))
    }

    /// A live version by id with its package, for `action`: a missing, unreadable or
    /// deleted version answers alike ([`policy::unknown`]).
    pub(crate) async fn gated_live_version(
        &self,
        actor: &Actor,
        version_id: i64,
        action: Action,
    ) -> DomainResult<(package_version::Model, package::Model)> {
        let v = package_version::Entity::find_by_id(version_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| policy::unknown(actor, What::Version, "package version"))?;
        let (pkg, _, _) = self
            .gated_package_by_id(actor, v.package_id, action, None, What::Version)
            .await?;
        if v.deleted_at.is_some() {
            return Err(DomainError::not_found(What::Version, "package version"));
        }
        Ok((v, pkg))
    }

    /// Soft-deletes a version; `last` says what deleting the last live one means.
    pub async fn delete_version(
        &self,
        actor: &Actor,
        version_id: i64,
        last: LastVersion,
    ) -> DomainResult<VersionInfo> {
        let (v, pkg) = self
            .gated_live_version(actor, version_id, Action::Delete)
            .await?;
        self.check_delete_threshold(&pkg, Some(v.id)).await?;
        let live = package_version::Entity::find()
            .filter(package_version::Column::PackageId.eq(pkg.id))
            .filter(package_version::Column::DeletedAt.is_null())
            .count(&self.db)
            .await?;
        if live <= 1 && last == LastVersion::Refuse {
            return Err(DomainError::invalid(
                "You cannot delete the last version of a package. You must delete the package instead.",
            ));
        }
        let txn = self.db.begin().await?;
        // Tags must not point at a deleted version.
        package_tag::Entity::delete_many()
            .filter(package_tag::Column::VersionId.eq(v.id))
            .exec(&txn)
            .await?;
        let mut active = v.into_active_model();
        active.deleted_at = Set(Some(now()));
        let v = active.update(&txn).await?;
        if live <= 1 && last == LastVersion::DeletesPackage {
            let mut p = pkg.clone().into_active_model();
            p.deleted_at = Set(Some(now()));
            p.update(&txn).await?;
        } else {
            ensure_latest_tag(&txn, &pkg).await?;
            touch_package(&txn, pkg.id).await?;
        }
        audit::record(
            &txn,
            actor,
            "package_version.delete",
            "package_version",
            Some(v.id),
            serde_json::json!({"version": v.version}),
        )
        .await?;
        self.emit_event(
            &txn,
            actor,
            crate::domain::events::EventKind::Deleted,
            v.package_id,
            Some(v.id),
        )
        .await?;
        txn.commit().await?;
        self.events_committed().await;
        self.package_changed(v.package_id).await;
        Ok(version_info(v))
    }

    /// A native client's delete of a version by name (generic `DELETE`, npm unpublish): the
    /// gate runs before the version is looked up, so callers without rights learn nothing.
    pub async fn delete_version_named(
        &self,
        actor: &Actor,
        r: &PackageRef,
        version: &VersionName,
        last: LastVersion,
    ) -> DomainResult<VersionInfo> {
        let (pkg, owner) = self.live_package(actor, r).await?;
        self.authorize_package(actor, Action::Delete, &pkg, &owner)
            .await?;
        let v = live_version(&self.db, pkg.id, version.as_str())
            .await?
            .ok_or_else(|| DomainError::not_found(What::Version, format!("version {version}")))?;
        self.delete_version(actor, v.id, last).await
    }

    fn restorable(&self, deleted_at: Option<chrono::DateTime<chrono::Utc>>) -> DomainResult<()> {
        match deleted_at {
            None => Err(DomainError::invalid("it is not deleted")),
            Some(at) if now() - at > Duration::days(self.config.restore_days) => Err(
                DomainError::not_found(What::Version, "deleted more than the restore period ago"),
            ),
            Some(_) => Ok(()),
        }
    }

    /// Restores the most recently deleted package with this name (GitHub's REST restores by
    /// name).
    pub async fn restore_package_named(
        &self,
        actor: &Actor,
        r: &PackageRef,
    ) -> DomainResult<PackageInfo> {
        // A missing owner or package and one the caller may not restore answer alike.
        let unknown = || {
            policy::unknown(
                actor,
                What::Package,
                format!("deleted package {}/{}", r.owner, r.name),
            )
        };
        let deleted = self.deleted_package_model(r).await?.ok_or_else(unknown)?;
        self.restore_package(actor, deleted.0.id)
            .await
            .map_err(|e| match e {
                DomainError::NotFound { .. } => unknown(),
                other => other,
            })
    }

    /// How many live versions each package has.
    pub async fn version_counts(&self, package_ids: &[i64]) -> DomainResult<HashMap<i64, i64>> {
        let rows: Vec<(i64, i64)> = package_version::Entity::find()
            .select_only()
            .column(package_version::Column::PackageId)
            .column_as(Expr::col(Asterisk).count(), "n")
            .filter(package_version::Column::PackageId.is_in(package_ids.iter().copied()))
            .filter(package_version::Column::DeletedAt.is_null())
            .group_by(package_version::Column::PackageId)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// Restores a deleted package, unless its name was taken again meanwhile.
    pub async fn restore_package(
        &self,
        actor: &Actor,
        package_id: i64,
    ) -> DomainResult<PackageInfo> {
        let (pkg, owner, _) = self
            .gated_package_by_id(
                actor,
                package_id,
                Action::Delete,
                Some(Action::Delete),
                What::Package,
            )
            .await?;
        self.restorable(pkg.deleted_at)?;
        let taken = package::Entity::find()
            .filter(package::Column::OwnerId.eq(pkg.owner_id))
            .filter(package::Column::Format.eq(pkg.format.clone()))
            .filter(package::Column::NameKey.eq(pkg.name_key.clone()))
            .filter(package::Column::DeletedAt.is_null())
            .count(&self.db)
            .await?;
        if taken > 0 {
            return Err(DomainError::exists(
                What::Package,
                format!(
                    "a package named {} was published since; it can't be restored",
                    pkg.name
                ),
            ));
        }
        let txn = self.db.begin().await?;
        let mut active = pkg.into_active_model();
        active.deleted_at = Set(None);
        active.updated_at = Set(now());
        let pkg = active.update(&txn).await?;
        // A package deleted through its last version comes back with that version.
        let live = package_version::Entity::find()
            .filter(package_version::Column::PackageId.eq(pkg.id))
            .filter(package_version::Column::DeletedAt.is_null())
            .count(&txn)
            .await?;
        if live == 0
            && let Some(last) = package_version::Entity::find()
                .filter(package_version::Column::PackageId.eq(pkg.id))
                .order_by_desc(package_version::Column::DeletedAt)
                .one(&txn)
                .await?
        {
            let mut v = last.into_active_model();
            v.deleted_at = Set(None);
            v.update(&txn).await?;
        }
        ensure_latest_tag(&txn, &pkg).await?;
        audit::record(
            &txn,
            actor,
            "package.restore",
            "package",
            Some(pkg.id),
            serde_json::json!({"name": pkg.name}),
        )
        .await?;
        self.emit_event(
            &txn,
            actor,
            crate::domain::events::EventKind::Restored,
            pkg.id,
            None,
        )
        .await?;
        txn.commit().await?;
        self.events_committed().await;
        self.package_changed(pkg.id).await;
        package_info(pkg, owner.login, Some(Role::Admin))
    }

    /// Whether a version of that name was published under `r` and is gone: unpublished
    /// from this package or an earlier one of the same name. npm never lets such a name be
    /// reused (lockfiles pin its integrity). A live version is not "unpublished".
    pub async fn version_unpublished(
        &self,
        r: &PackageRef,
        version: &VersionName,
    ) -> DomainResult<bool> {
        let Ok(owner) = self.account_model(&r.owner).await else {
            return Ok(false);
        };
        let packages: HashMap<i64, bool> = packages_named(owner.id, r)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|p| (p.id, p.deleted_at.is_none()))
            .collect();
        let published = package_version::Entity::find()
            .filter(package_version::Column::PackageId.is_in(packages.keys().copied()))
            .filter(package_version::Column::Version.eq(version.as_str()))
            .all(&self.db)
            .await?;
        let live = published
            .iter()
            .any(|v| v.deleted_at.is_none() && packages.get(&v.package_id) == Some(&true));
        Ok(!published.is_empty() && !live)
    }

    /// Restores a deleted version of a live package, unless the version was published again.
    pub async fn restore_version(
        &self,
        actor: &Actor,
        version_id: i64,
    ) -> DomainResult<VersionInfo> {
        let v = package_version::Entity::find_by_id(version_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| policy::unknown(actor, What::Version, "package version"))?;
        let (pkg, _, _) = self
            .gated_package_by_id(
                actor,
                v.package_id,
                Action::Delete,
                Some(Action::Delete),
                What::Version,
            )
            .await?;
        if pkg.deleted_at.is_some() {
            return Err(DomainError::invalid("restore the package first"));
        }
        self.restorable(v.deleted_at)?;
        let taken = package_version::Entity::find()
            .filter(package_version::Column::PackageId.eq(pkg.id))
            .filter(package_version::Column::Version.eq(v.version.clone()))
            .filter(package_version::Column::DeletedAt.is_null())
            .count(&self.db)
            .await?;
        if taken > 0 {
            return Err(DomainError::exists(
                What::Version,
                format!(
                    "version {} was published again; it can't be restored",
                    v.version
                ),
            ));
        }
        let txn = self.db.begin().await?;
        let mut active = v.into_active_model();
        active.deleted_at = Set(None);
        let v = active.update(&txn).await?;
        ensure_latest_tag(&txn, &pkg).await?;
        touch_package(&txn, pkg.id).await?;
        audit::record(
            &txn,
            actor,
            "package_version.restore",
            "package_version",
            Some(v.id),
            serde_json::json!({"version": v.version}),
        )
        .await?;
        self.emit_event(
            &txn,
            actor,
            crate::domain::events::EventKind::Restored,
            v.package_id,
            Some(v.id),
        )
        .await?;
        txn.commit().await?;
        self.events_committed().await;
        self.package_changed(v.package_id).await;
        Ok(version_info(v))
    }
}

async fn delete_grant<C: sea_orm::ConnectionTrait>(
    db: &C,
    package_id: i64,
    user_id: Option<i64>,
    team_id: Option<i64>,
    repository_id: Option<i64>,
) -> DomainResult<u64> {
    let who = match (user_id, team_id, repository_id) {
        (Some(u), _, _) => package_grant::Column::UserId.eq(u),
        (_, Some(t), _) => package_grant::Column::TeamId.eq(t),
        (_, _, r) => package_grant::Column::RepositoryId.eq(r),
    };
    Ok(package_grant::Entity::delete_many()
        .filter(package_grant::Column::PackageId.eq(package_id))
        .filter(who)
        .exec(db)
        .await?
        .rows_affected)
}

/// Every package (live or deleted) of an owner that a ref names, by the format's name key.
fn packages_named(owner_id: i64, r: &PackageRef) -> sea_orm::Select<package::Entity> {
    package::Entity::find()
        .filter(package::Column::OwnerId.eq(owner_id))
        .filter(package::Column::Format.eq(r.package_type.as_str()))
        .filter(
            package::Column::NameKey.eq(rules(r.package_type).name_key(r.name.as_str()).as_ref()),
        )
}

pub(crate) async fn upsert_tag<C: sea_orm::ConnectionTrait>(
    db: &C,
    package_id: i64,
    tag: &str,
    version_id: i64,
) -> DomainResult<package_tag::Model> {
    let existing = package_tag::Entity::find()
        .filter(package_tag::Column::PackageId.eq(package_id))
        .filter(package_tag::Column::Name.eq(tag))
        .one(db)
        .await?;
    Ok(match existing {
        Some(t) => {
            let mut active = t.into_active_model();
            active.version_id = Set(version_id);
            active.updated_at = Set(now());
            active.update(db).await?
        }
        None => {
            package_tag::ActiveModel {
                package_id: Set(package_id),
                name: Set(tag.to_string()),
                version_id: Set(version_id),
                updated_at: Set(now()),
                ..Default::default()
            }
            .insert(db)
            .await?
        }
    })
}

/// A format whose `LatestRule` is a tag (npm's `latest`) keeps it while the package has
/// live versions: when it is missing, it is pointed at `rules::highest_release`.
pub(crate) async fn ensure_latest_tag<C: sea_orm::ConnectionTrait>(
    db: &C,
    pkg: &package::Model,
) -> DomainResult<()> {
    let LatestRule::Tag(tag) = rules(parse_stored(&pkg.format)?).latest else {
        return Ok(());
    };
    let has_tag = package_tag::Entity::find()
        .filter(package_tag::Column::PackageId.eq(pkg.id))
        .filter(package_tag::Column::Name.eq(tag))
        .one(db)
        .await?
        .is_some();
    if has_tag {
        return Ok(());
    }
    let live = package_version::Entity::find()
        .filter(package_version::Column::PackageId.eq(pkg.id))
        .filter(package_version::Column::DeletedAt.is_null())
        .all(db)
        .await?;
    if let Some(version_id) = highest_release(live.iter().map(|v| (v.version.as_str(), v.id))) {
        upsert_tag(db, pkg.id, tag, version_id).await?;
    }
    Ok(())
}

/// Marks a package as changed (its `updatedAt`, and npm's document revision) when its
/// tags move.
pub(crate) async fn touch_package<C: sea_orm::ConnectionTrait>(
    db: &C,
    package_id: i64,
) -> DomainResult<()> {
    package::Entity::update_many()
        .col_expr(package::Column::UpdatedAt, Expr::value(now()))
        .filter(package::Column::Id.eq(package_id))
        .exec(db)
        .await?;
    Ok(())
}

pub(crate) async fn live_version<C: sea_orm::ConnectionTrait>(
    db: &C,
    package_id: i64,
    version: &str,
) -> DomainResult<Option<package_version::Model>> {
    Ok(package_version::Entity::find()
        .filter(package_version::Column::PackageId.eq(package_id))
        .filter(package_version::Column::Version.eq(version))
        .filter(package_version::Column::DeletedAt.is_null())
        .one(db)
        .await?)
}
