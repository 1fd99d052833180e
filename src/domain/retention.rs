//! Retention policies: which versions of an owner's packages are deleted on a schedule.
//!
//! A policy belongs to one package, or to an owner with an optional package type and
//! package-name glob. It keeps the N newest versions, deletes versions older than D days, or
//! both (older than D days *and* not among the N newest), and only versions whose name
//! matches its glob (`*-SNAPSHOT`, `sha256:*` for untagged container manifests) or that
//! are prereleases when asked. As `actions/delete-package-versions` does, versions that
//! carry a tag or whose downloads exceed the policy's threshold are never deleted and don't
//! count among the N kept; neither do versions outside the pattern, nor container
//! manifests a live image index names (they go with their index). A package's last
//! version is never deleted (GitHub refuses that too).
//!
//! [`select`] is the rule, pure and table-tested. Applying deletes softly, one version per
//! transaction, the way a person's delete does (restorable for the restore period, a
//! `deleted` event and its webhooks, an audit entry `package_version.delete` with
//! `{"retention_policy": id}`); the update re-checks that the version is still live and
//! untagged, so two runs never delete (or record) a version twice. Garbage collection then
//! purges the versions once the restore period is over ([`Domain::purge_expired`]) and
//! counts the bytes that freed per owner (a blob once per owner, as storage is metered).
//!
//! The scheduled job claims each run once across replicas: a run inserts its slot
//! (seconds since the epoch / interval) into `retention_run`, whose unique index lets one
//! replica in per slot. Site admins' runs (`packyard admin apply-retention`, GraphQL
//! `applyRetentionPolicies`) run at once.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use entity::{
    account, package, package_tag, package_version, reclaimed_storage, retention_policy,
    retention_run,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Set, Statement, TransactionTrait,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use crate::{
    auth::{Actor, Scope, policy::Action},
    domain::{
        Domain, audit,
        events::EventKind,
        metadata::VersionMetadata,
        names::OwnerName,
        now,
        packages::{PackageRef, ensure_latest_tag, touch_package},
        types::{AccountKind, OrgRole, PackageType, Visibility, parse_stored},
        views::AccountInfo,
    },
    error::{DomainError, DomainResult, What},
};

/// The longest glob a policy may hold.
const MAX_PATTERN_CHARS: usize = 200;

/// The rule of a policy: what it keeps and what it may delete.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    /// Keep this many of the newest deletable versions.
    pub keep_newest: Option<u32>,
    /// Delete only versions created more than this many days ago.
    pub older_than_days: Option<u32>,
    /// Only versions whose name matches this glob (`*` any run, `?` one character).
    pub version_pattern: Option<String>,
    /// Only prereleases.
    pub only_prerelease: bool,
    /// Versions downloaded more than this many times are never deleted.
    pub min_downloads_protect: Option<i64>,
}

/// One live version as the rule sees it.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub id: i64,
    pub version: String,
    pub created_at: DateTime<Utc>,
    /// Carries a tag, or a live image index names it (a platform manifest of a
    /// multi-platform image).
    pub tagged: bool,
    pub prerelease: bool,
    pub downloads: i64,
}

/// `*` matches any run of characters, `?` one character; everything else literally.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // The classic two-pointer match with backtracking to the last `*`.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The versions a rule deletes now, oldest first. Tagged versions, versions downloaded
/// more than the threshold and versions outside the pattern are never deleted and don't
/// count among the N kept; of the rest, newest first, the first N are kept and the others
/// deleted when older than the age (or at once without one). A package keeps at least one
/// version.
pub fn select(rule: &Rule, versions: &[Candidate], at: DateTime<Utc>) -> Vec<i64> {
    let mut deletable: Vec<&Candidate> = versions
        .iter()
        .filter(|v| !v.tagged)
        .filter(|v| rule.min_downloads_protect.is_none_or(|n| v.downloads <= n))
        .filter(|v| !rule.only_prerelease || v.prerelease)
        .filter(|v| {
            rule.version_pattern
                .as_deref()
                .is_none_or(|p| glob_matches(p, &v.version))
        })
        .collect();
    // Newest first; the id breaks ties between versions published in the same instant.
    deletable.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let keep = rule.keep_newest.map_or(0, |n| n as usize);
    let cutoff = rule
        .older_than_days
        .map(|d| at - Duration::days(i64::from(d)));
    let mut doomed: Vec<&Candidate> = deletable
        .into_iter()
        .skip(keep)
        .filter(|v| cutoff.is_none_or(|c| v.created_at < c))
        .collect();
    doomed.reverse();
    // As GitHub refuses to delete a package's last version, a rule never empties a
    // package: the newest of what it would delete then stays.
    if !doomed.is_empty() && doomed.len() == versions.len() {
        doomed.pop();
    }
    doomed.into_iter().map(|v| v.id).collect()
}

/// Where a policy applies.
#[derive(Clone, Debug)]
pub enum PolicyTarget {
    /// Every package of the owner, narrowed by type and name glob.
    Owner {
        owner: OwnerName,
        package_type: Option<PackageType>,
        name_pattern: Option<String>,
    },
    Package(PackageRef),
}

/// A policy as a door sets it.
#[derive(Clone, Debug)]
pub struct PolicySpec {
    pub target: PolicyTarget,
    pub rule: Rule,
    pub enabled: bool,
}

/// A stored policy.
#[derive(Clone, Debug)]
pub struct PolicyInfo {
    pub id: i64,
    pub owner_id: i64,
    pub owner_login: String,
    pub package_id: Option<i64>,
    /// The package's name, for a per-package policy.
    pub package_name: Option<String>,
    pub package_type: Option<PackageType>,
    pub name_pattern: Option<String>,
    pub rule: Rule,
    pub enabled: bool,
    pub last_run_at: Option<DateTime<Utc>>,
    /// Versions it deleted so far.
    pub versions_deleted: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A version a policy deletes (or deleted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoomedVersion {
    /// `None` for an inline dry run.
    pub policy_id: Option<i64>,
    pub package_id: i64,
    pub owner_login: String,
    pub package_type: PackageType,
    pub package_name: String,
    pub version_id: i64,
    pub version: String,
    pub created_at: DateTime<Utc>,
}

/// What applying the policies did.
#[derive(Clone, Debug, Default)]
pub struct RetentionReport {
    pub policies_applied: u64,
    pub deleted: Vec<DoomedVersion>,
}

/// Which policy a dry run shows.
#[derive(Clone, Debug)]
pub enum DryRun {
    Stored(i64),
    Inline(PolicySpec),
}

fn rule_of(m: &retention_policy::Model) -> Rule {
    Rule {
        keep_newest: m.keep_newest.and_then(|n| u32::try_from(n).ok()),
        older_than_days: m.older_than_days.and_then(|n| u32::try_from(n).ok()),
        version_pattern: m.version_pattern.clone(),
        only_prerelease: m.only_prerelease,
        min_downloads_protect: m.min_downloads_protect,
    }
}

/// Refuses a rule that can't be meant: one that neither keeps some versions nor waits
/// for an age would delete every matching version at once (ask for `keepNewest: 0` to
/// mean it).
fn validate(spec: &PolicySpec) -> DomainResult<()> {
    let rule = &spec.rule;
    if rule.keep_newest.is_none() && rule.older_than_days.is_none() {
        return Err(DomainError::invalid(
            "a retention policy needs keepNewest, olderThanDays or both (keepNewest: 0 deletes every matching version)",
        ));
    }
    if rule.keep_newest.is_some_and(|n| n > 100_000) {
        return Err(DomainError::invalid("keepNewest is at most 100000"));
    }
    if rule.older_than_days.is_some_and(|n| n > 36_500) {
        return Err(DomainError::invalid("olderThanDays is at most 36500"));
    }
    if rule.min_downloads_protect.is_some_and(|n| n < 0) {
        return Err(DomainError::invalid("minDownloadsProtect is 0 or more"));
    }
    let name_pattern = match &spec.target {
        PolicyTarget::Owner { name_pattern, .. } => name_pattern.as_deref(),
        PolicyTarget::Package(_) => None,
    };
    for (what, p) in [
        ("versionPattern", rule.version_pattern.as_deref()),
        ("namePattern", name_pattern),
    ] {
        if let Some(p) = p
            && (p.is_empty()
                || p.chars().count() > MAX_PATTERN_CHARS
                || p.chars().any(char::is_control))
        {
            return Err(DomainError::invalid(format!(
                "{what} is a glob of 1 to {MAX_PATTERN_CHARS} printable characters"
            )));
        }
    }
    Ok(())
}

/// Bytes of the files of versions gone for good (or about to be) per owner, a blob once per
/// owner and only when no other version of the owner keeps it. `gone` is a SQL condition
/// on `v` and `p` (a version and its package); `kept` its opposite on `v2` and `p2`.
fn freed_bytes_sql(gone: &str, kept: &str, owner: Option<i64>) -> String {
    let only = owner
        .map(|id| format!(" AND p.owner_id = {id}"))
        .unwrap_or_default();
    format!(
        "SELECT u.owner_id AS owner_id, CAST(COALESCE(SUM(u.size), 0) AS BIGINT) AS bytes FROM \
         (SELECT DISTINCT p.owner_id AS owner_id, f.blob_digest AS digest, f.size AS size \
          FROM package_file f \
          JOIN package_version v ON v.id = f.version_id \
          JOIN package p ON p.id = v.package_id \
          WHERE ({gone}){only} AND NOT EXISTS (\
            SELECT 1 FROM package_file f2 \
            JOIN package_version v2 ON v2.id = f2.version_id \
            JOIN package p2 ON p2.id = v2.package_id \
            WHERE p2.owner_id = p.owner_id AND f2.blob_digest = f.blob_digest AND ({kept}))) u \
         GROUP BY u.owner_id"
    )
}

/// The placeholder of the one bound value of a statement, which may appear many times.
fn first_parameter(backend: sea_orm::DatabaseBackend) -> &'static str {
    match backend {
        sea_orm::DatabaseBackend::Postgres => "$1",
        _ => "?1",
    }
}

async fn owner_bytes<C: ConnectionTrait>(
    db: &C,
    sql: String,
    values: Vec<sea_orm::Value>,
) -> DomainResult<Vec<(i64, i64)>> {
    let backend = db.get_database_backend();
    db.query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<i64>("", "owner_id")?,
                r.try_get::<i64>("", "bytes")?,
            ))
        })
        .collect()
}

impl Domain {
    /// Whether the actor administers an owner's packages as a whole: the user itself, the
    /// organization's owners, site admins; with a token, one that may delete packages and
    /// isn't narrowed to some packages.
    async fn may_admin_owner(&self, actor: &Actor, owner: &account::Model) -> DomainResult<bool> {
        if let Some(t) = actor.token()
            && (!t.scopes.contains(Scope::DeletePackages)
                || t.package_patterns.is_some()
                || t.owner_login
                    .as_deref()
                    .is_some_and(|o| !o.eq_ignore_ascii_case(&owner.login)))
        {
            return Ok(false);
        }
        if actor.site_admin() {
            return Ok(true);
        }
        let Some(uid) = actor.user_id() else {
            return Ok(false);
        };
        Ok(match parse_stored::<AccountKind>(&owner.kind)? {
            AccountKind::User => uid == owner.id,
            AccountKind::Organization => {
                self.org_role(owner.id, uid).await? == Some(OrgRole::Owner)
            }
        })
    }

    /// Whether the actor may see and change a policy.
    async fn may_manage(&self, actor: &Actor, m: &retention_policy::Model) -> DomainResult<bool> {
        let Some(owner) = account::Entity::find_by_id(m.owner_id)
            .one(&self.db)
            .await?
        else {
            return Ok(false);
        };
        if self.may_admin_owner(actor, &owner).await? {
            return Ok(true);
        }
        let Some(package_id) = m.package_id else {
            return Ok(false);
        };
        let Some(pkg) = package::Entity::find_by_id(package_id)
            .one(&self.db)
            .await?
        else {
            return Ok(false);
        };
        Ok(pkg.deleted_at.is_none()
            && self
                .authorize_package(actor, Action::Delete, &pkg, &owner)
                .await
                .is_ok())
    }

    async fn policy_infos(
        &self,
        rows: Vec<retention_policy::Model>,
    ) -> DomainResult<Vec<PolicyInfo>> {
        let owner_ids: Vec<i64> = rows.iter().map(|r| r.owner_id).collect();
        let logins: HashMap<i64, String> = account::Entity::find()
            .filter(account::Column::Id.is_in(owner_ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|a| (a.id, a.login))
            .collect();
        let package_ids: Vec<i64> = rows.iter().filter_map(|r| r.package_id).collect();
        let names: HashMap<i64, package::Model> = package::Entity::find()
            .filter(package::Column::Id.is_in(package_ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        rows.into_iter()
            .map(|m| {
                let pkg = m.package_id.and_then(|id| names.get(&id));
                let package_type = match (pkg, &m.package_type) {
                    (Some(p), _) => Some(parse_stored(&p.format)?),
                    (None, Some(t)) => Some(parse_stored(t)?),
                    (None, None) => None,
                };
                Ok(PolicyInfo {
                    id: m.id,
                    owner_id: m.owner_id,
                    owner_login: logins.get(&m.owner_id).cloned().unwrap_or_default(),
                    package_id: m.package_id,
                    package_name: pkg.map(|p| p.name.clone()),
                    package_type,
                    name_pattern: m.name_pattern.clone(),
                    rule: rule_of(&m),
                    enabled: m.enabled,
                    last_run_at: m.last_run_at,
                    versions_deleted: m.versions_deleted,
                    created_at: m.created_at,
                    updated_at: m.updated_at,
                })
            })
            .collect()
    }

    /// An owner's policies (owner-wide and per-package), for those who administer the
    /// owner; `None` for anyone else.
    pub async fn retention_policies_of_owner(
        &self,
        actor: &Actor,
        owner: &AccountInfo,
    ) -> DomainResult<Option<Vec<PolicyInfo>>> {
        let Some(model) = account::Entity::find_by_id(owner.id).one(&self.db).await? else {
            return Ok(None);
        };
        if !self.may_admin_owner(actor, &model).await? {
            return Ok(None);
        }
        let rows = retention_policy::Entity::find()
            .filter(retention_policy::Column::OwnerId.eq(owner.id))
            .order_by_asc(retention_policy::Column::Id)
            .all(&self.db)
            .await?;
        self.policy_infos(rows).await.map(Some)
    }

    /// The policies that apply to a package (its own and the owner-wide ones that match
    /// it), for those who may delete its versions; `None` for anyone else.
    pub async fn retention_policies_of_package(
        &self,
        actor: &Actor,
        package_id: i64,
    ) -> DomainResult<Option<Vec<PolicyInfo>>> {
        let Ok((pkg, owner)) = self.package_model_by_id(package_id).await else {
            return Ok(None);
        };
        if pkg.deleted_at.is_some()
            || self
                .authorize_package(actor, Action::Delete, &pkg, &owner)
                .await
                .is_err()
        {
            return Ok(None);
        }
        let rows = retention_policy::Entity::find()
            .filter(retention_policy::Column::OwnerId.eq(pkg.owner_id))
            .order_by_asc(retention_policy::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .filter(|m| applies_to(m, &pkg))
            .collect();
        self.policy_infos(rows).await.map(Some)
    }

    /// The owner (and package) a spec targets, after checking the actor may manage
    /// policies there. A target the actor may not know of is "not found".
    async fn resolve_target(
        &self,
        actor: &Actor,
        target: &PolicyTarget,
    ) -> DomainResult<(account::Model, Option<package::Model>)> {
        match target {
            PolicyTarget::Owner { owner, .. } => {
                let unknown = || DomainError::not_found(What::Owner, format!("owner {owner}"));
                let model = match self.account_model(owner).await {
                    Ok(m) => m,
                    Err(DomainError::NotFound { .. }) => return Err(unknown()),
                    Err(e) => return Err(e),
                };
                if !self.may_admin_owner(actor, &model).await? {
                    return Err(unknown());
                }
                Ok((model, None))
            }
            PolicyTarget::Package(r) => {
                let (pkg, owner) = self.live_package(actor, r).await?;
                self.authorize_package(actor, Action::Delete, &pkg, &owner)
                    .await?;
                Ok((owner, Some(pkg)))
            }
        }
    }

    /// Creates a policy (`id` `None`) or replaces one's settings.
    pub async fn set_retention_policy(
        &self,
        actor: &Actor,
        id: Option<i64>,
        spec: PolicySpec,
    ) -> DomainResult<PolicyInfo> {
        validate(&spec)?;
        let (owner, pkg) = self.resolve_target(actor, &spec.target).await?;
        let (package_type, name_pattern) = match &spec.target {
            PolicyTarget::Owner {
                package_type,
                name_pattern,
                ..
            } => (
                package_type.map(|t| t.as_str().to_string()),
                name_pattern.clone(),
            ),
            PolicyTarget::Package(_) => (None, None),
        };
        let existing = match id {
            Some(id) => Some(self.managed_policy(actor, id).await?),
            None => None,
        };
        let rule = &spec.rule;
        let at = now();
        let txn = self.db.begin().await?;
        let mut active = match existing {
            Some(m) => m.into_active_model(),
            None => retention_policy::ActiveModel {
                created_at: Set(at),
                versions_deleted: Set(0),
                last_run_at: Set(None),
                ..Default::default()
            },
        };
        active.owner_id = Set(owner.id);
        active.package_id = Set(pkg.as_ref().map(|p| p.id));
        active.package_type = Set(package_type);
        active.name_pattern = Set(name_pattern);
        active.keep_newest = Set(rule.keep_newest.map(|n| n as i32));
        active.older_than_days = Set(rule.older_than_days.map(|n| n as i32));
        active.version_pattern = Set(rule.version_pattern.clone());
        active.only_prerelease = Set(rule.only_prerelease);
        active.min_downloads_protect = Set(rule.min_downloads_protect);
        active.enabled = Set(spec.enabled);
        active.updated_at = Set(at);
        let saved = if id.is_some() {
            active.update(&txn).await?
        } else {
            active.insert(&txn).await?
        };
        audit::record(
            &txn,
            actor,
            if id.is_some() {
                "retention_policy.update"
            } else {
                "retention_policy.create"
            },
            "retention_policy",
            Some(saved.id),
            serde_json::json!({
                "owner": owner.login,
                "package_id": saved.package_id,
                "keep_newest": saved.keep_newest,
                "older_than_days": saved.older_than_days,
                "version_pattern": saved.version_pattern,
                "only_prerelease": saved.only_prerelease,
                "min_downloads_protect": saved.min_downloads_protect,
                "enabled": saved.enabled,
            }),
        )
        .await?;
        txn.commit().await?;
        let mut infos = self.policy_infos(vec![saved]).await?;
        infos
            .pop()
            .ok_or_else(|| DomainError::internal("saved policy vanished"))
    }

    /// A policy the actor may manage; any other id is "not found".
    async fn managed_policy(
        &self,
        actor: &Actor,
        id: i64,
    ) -> DomainResult<retention_policy::Model> {
        let unknown = || DomainError::not_found(What::RetentionPolicy, "retention policy");
        let m = retention_policy::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(unknown)?;
        if !self.may_manage(actor, &m).await? {
            return Err(unknown());
        }
        Ok(m)
    }

    /// A policy by id, for those who may manage it.
    pub async fn retention_policy(&self, actor: &Actor, id: i64) -> DomainResult<PolicyInfo> {
        let m = self.managed_policy(actor, id).await?;
        let mut infos = self.policy_infos(vec![m]).await?;
        infos
            .pop()
            .ok_or_else(|| DomainError::not_found(What::RetentionPolicy, "retention policy"))
    }

    pub async fn delete_retention_policy(&self, actor: &Actor, id: i64) -> DomainResult<()> {
        let m = self.managed_policy(actor, id).await?;
        let txn = self.db.begin().await?;
        retention_policy::Entity::delete_by_id(m.id)
            .exec(&txn)
            .await?;
        audit::record(
            &txn,
            actor,
            "retention_policy.delete",
            "retention_policy",
            Some(m.id),
            serde_json::json!({"package_id": m.package_id}),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The versions a policy (stored, or given inline) would delete now.
    pub async fn retention_dry_run(
        &self,
        actor: &Actor,
        which: DryRun,
    ) -> DomainResult<Vec<DoomedVersion>> {
        let model = match which {
            DryRun::Stored(id) => self.managed_policy(actor, id).await?,
            DryRun::Inline(spec) => {
                validate(&spec)?;
                let (owner, pkg) = self.resolve_target(actor, &spec.target).await?;
                let (package_type, name_pattern) = match spec.target {
                    PolicyTarget::Owner {
                        package_type,
                        name_pattern,
                        ..
                    } => (package_type.map(|t| t.as_str().to_string()), name_pattern),
                    PolicyTarget::Package(_) => (None, None),
                };
                retention_policy::Model {
                    id: 0,
                    owner_id: owner.id,
                    package_id: pkg.map(|p| p.id),
                    package_type,
                    name_pattern,
                    keep_newest: spec.rule.keep_newest.map(|n| n as i32),
                    older_than_days: spec.rule.older_than_days.map(|n| n as i32),
                    version_pattern: spec.rule.version_pattern,
                    only_prerelease: spec.rule.only_prerelease,
                    min_downloads_protect: spec.rule.min_downloads_protect,
                    enabled: spec.enabled,
                    last_run_at: None,
                    versions_deleted: 0,
                    created_at: now(),
                    updated_at: now(),
                }
            }
        };
        let mut doomed = self.doomed_by(&model).await?;
        if model.id == 0 {
            for d in &mut doomed {
                d.policy_id = None;
            }
        }
        Ok(doomed)
    }

    /// What a policy deletes now: the rule over each package it applies to.
    async fn doomed_by(&self, m: &retention_policy::Model) -> DomainResult<Vec<DoomedVersion>> {
        let Some(owner) = account::Entity::find_by_id(m.owner_id)
            .one(&self.db)
            .await?
        else {
            return Ok(Vec::new());
        };
        let mut query = package::Entity::find()
            .filter(package::Column::OwnerId.eq(m.owner_id))
            .filter(package::Column::DeletedAt.is_null());
        if let Some(id) = m.package_id {
            query = query.filter(package::Column::Id.eq(id));
        }
        if let Some(t) = &m.package_type {
            query = query.filter(package::Column::Format.eq(t.as_str()));
        }
        let packages: Vec<package::Model> = query
            .order_by_asc(package::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .filter(|p| applies_to(m, p))
            .collect();
        if packages.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = packages.iter().map(|p| p.id).collect();
        let versions = package_version::Entity::find()
            .filter(package_version::Column::PackageId.is_in(ids.iter().copied()))
            .filter(package_version::Column::DeletedAt.is_null())
            .all(&self.db)
            .await?;
        let tagged: HashSet<i64> = package_tag::Entity::find()
            .select_only()
            .column(package_tag::Column::VersionId)
            .filter(package_tag::Column::PackageId.is_in(ids.iter().copied()))
            .into_tuple::<i64>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        // A multi-platform image's manifests go with their index: while a live index
        // names a manifest, it is kept as a tagged one is (an image's own references are
        // blob digests, which name no version).
        let referenced: HashSet<(i64, String)> = versions
            .iter()
            .filter_map(|v| match VersionMetadata::from_stored(v.metadata.clone()) {
                VersionMetadata::Container(c) => Some((v.package_id, c.references)),
                _ => None,
            })
            .flat_map(|(package_id, refs)| refs.into_iter().map(move |r| (package_id, r)))
            .collect();
        let version_ids: Vec<i64> = versions.iter().map(|v| v.id).collect();
        let downloads = self.version_download_totals(&version_ids).await?;
        let rule = rule_of(m);
        let at = now();
        let mut out = Vec::new();
        for pkg in &packages {
            let mut rule = rule.clone();
            // The site's own rule: a public version past the delete threshold stays.
            let site = self.config.delete_download_threshold;
            if site > 0 && pkg.visibility == Visibility::Public.as_str() {
                rule.min_downloads_protect = Some(
                    rule.min_downloads_protect
                        .map_or(site, |n| std::cmp::min(n, site)),
                );
            }
            let candidates: Vec<Candidate> = versions
                .iter()
                .filter(|v| v.package_id == pkg.id)
                .map(|v| Candidate {
                    id: v.id,
                    version: v.version.clone(),
                    created_at: v.created_at,
                    tagged: tagged.contains(&v.id)
                        || referenced.contains(&(v.package_id, v.version.clone())),
                    prerelease: v.prerelease,
                    downloads: downloads.get(&v.id).copied().unwrap_or(0),
                })
                .collect();
            let by_id: HashMap<i64, &Candidate> = candidates.iter().map(|c| (c.id, c)).collect();
            for id in select(&rule, &candidates, at) {
                let Some(c) = by_id.get(&id) else { continue };
                out.push(DoomedVersion {
                    policy_id: Some(m.id),
                    package_id: pkg.id,
                    owner_login: owner.login.clone(),
                    package_type: parse_stored(&pkg.format)?,
                    package_name: pkg.name.clone(),
                    version_id: c.id,
                    version: c.version.clone(),
                    created_at: c.created_at,
                });
            }
        }
        Ok(out)
    }

    /// Soft-deletes one version for a policy, if it is still live and untagged (checked by
    /// the update itself, so a concurrent run or a tag set since keeps it). Returns whether
    /// this call deleted it.
    async fn retire_version(
        &self,
        actor: &Actor,
        policy_id: i64,
        doomed: &DoomedVersion,
    ) -> DomainResult<bool> {
        let Some(pkg) = package::Entity::find_by_id(doomed.package_id)
            .one(&self.db)
            .await?
            .filter(|p| p.deleted_at.is_none())
        else {
            return Ok(false);
        };
        let tags = package_tag::Entity::find()
            .select_only()
            .column(package_tag::Column::VersionId)
            .filter(package_tag::Column::VersionId.eq(doomed.version_id))
            .into_query();
        let txn = self.db.begin().await?;
        let updated = package_version::Entity::update_many()
            .col_expr(package_version::Column::DeletedAt, Expr::value(Some(now())))
            .filter(package_version::Column::Id.eq(doomed.version_id))
            .filter(package_version::Column::DeletedAt.is_null())
            .filter(package_version::Column::Id.not_in_subquery(tags))
            .exec(&txn)
            .await?
            .rows_affected;
        if updated != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        ensure_latest_tag(&txn, &pkg).await?;
        touch_package(&txn, pkg.id).await?;
        audit::record(
            &txn,
            actor,
            "package_version.delete",
            "package_version",
            Some(doomed.version_id),
            serde_json::json!({"version": doomed.version, "retention_policy": policy_id}),
        )
        .await?;
        self.emit_event(
            &txn,
            actor,
            EventKind::Deleted,
            pkg.id,
            Some(doomed.version_id),
        )
        .await?;
        txn.commit().await?;
        self.events_committed().await;
        self.package_changed(pkg.id).await;
        Ok(true)
    }

    /// Applies every enabled policy (of one owner, or all), in the order they were made.
    async fn apply_policies(
        &self,
        actor: &Actor,
        owner_id: Option<i64>,
    ) -> DomainResult<RetentionReport> {
        let mut query = retention_policy::Entity::find()
            .filter(retention_policy::Column::Enabled.eq(true))
            .order_by_asc(retention_policy::Column::Id);
        if let Some(id) = owner_id {
            query = query.filter(retention_policy::Column::OwnerId.eq(id));
        }
        let mut report = RetentionReport::default();
        for policy in query.all(&self.db).await? {
            let mut deleted = 0i64;
            for doomed in self.doomed_by(&policy).await? {
                if self.retire_version(actor, policy.id, &doomed).await? {
                    deleted += 1;
                    report.deleted.push(doomed);
                }
            }
            retention_policy::Entity::update_many()
                .col_expr(
                    retention_policy::Column::LastRunAt,
                    Expr::value(Some(now())),
                )
                .col_expr(
                    retention_policy::Column::VersionsDeleted,
                    Expr::col(retention_policy::Column::VersionsDeleted).add(deleted),
                )
                .filter(retention_policy::Column::Id.eq(policy.id))
                .exec(&self.db)
                .await?;
            report.policies_applied += 1;
        }
        Ok(report)
    }

    async fn record_run(&self, slot: Option<i64>) -> DomainResult<Option<i64>> {
        let row = retention_run::ActiveModel {
            slot: Set(slot),
            started_at: Set(now()),
            finished_at: Set(None),
            versions_deleted: Set(0),
            ..Default::default()
        };
        let inserted = retention_run::Entity::insert(row)
            .on_conflict(
                OnConflict::column(retention_run::Column::Slot)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        if inserted != 1 {
            return Ok(None);
        }
        let mut query = retention_run::Entity::find().order_by_desc(retention_run::Column::Id);
        query = match slot {
            Some(s) => query.filter(retention_run::Column::Slot.eq(s)),
            None => query.filter(retention_run::Column::Slot.is_null()),
        };
        Ok(query.one(&self.db).await?.map(|r| r.id))
    }

    async fn finish_run(&self, run_id: Option<i64>, report: &RetentionReport) -> DomainResult<()> {
        if let Some(id) = run_id {
            retention_run::Entity::update_many()
                .col_expr(retention_run::Column::FinishedAt, Expr::value(Some(now())))
                .col_expr(
                    retention_run::Column::VersionsDeleted,
                    Expr::value(report.deleted.len() as i64),
                )
                .filter(retention_run::Column::Id.eq(id))
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }

    /// Applies the policies at once (site admins): every owner's, or one owner's.
    pub async fn apply_retention(
        &self,
        actor: &Actor,
        owner: Option<&OwnerName>,
    ) -> DomainResult<RetentionReport> {
        if !actor.site_admin() {
            return Err(DomainError::forbidden(
                "only site admins apply retention policies at once",
            ));
        }
        self.apply_retention_as(actor, owner).await
    }

    /// `packyard admin apply-retention`: the operator, who holds the database, acts as the
    /// system (audit entries without an actor, as the scheduled job's).
    pub async fn apply_retention_by_operator(
        &self,
        owner: Option<&OwnerName>,
    ) -> DomainResult<RetentionReport> {
        self.apply_retention_as(&Actor::Anonymous, owner).await
    }

    async fn apply_retention_as(
        &self,
        actor: &Actor,
        owner: Option<&OwnerName>,
    ) -> DomainResult<RetentionReport> {
        let owner_id = match owner {
            Some(login) => Some(
                self.account_model(login)
                    .await
                    .map_err(|e| match e {
                        DomainError::NotFound { .. } => {
                            DomainError::not_found(What::Owner, format!("owner {login}"))
                        }
                        other => other,
                    })?
                    .id,
            ),
            None => None,
        };
        let run = self.record_run(None).await?;
        let report = self.apply_policies(actor, owner_id).await?;
        self.finish_run(run, &report).await?;
        Ok(report)
    }

    /// The scheduled job's turn: applies every policy unless another replica already took
    /// this interval's slot (`None` then).
    pub async fn apply_retention_scheduled(
        &self,
        interval: std::time::Duration,
    ) -> DomainResult<Option<RetentionReport>> {
        let secs = i64::try_from(std::cmp::max(interval.as_secs(), 1)).unwrap_or(i64::MAX);
        let slot = now().timestamp() / secs;
        let Some(run) = self.record_run(Some(slot)).await? else {
            tracing::debug!(
                slot,
                "retention run skipped: another replica took this slot"
            );
            return Ok(None);
        };
        let report = self.apply_policies(&Actor::Anonymous, None).await?;
        self.finish_run(Some(run), &report).await?;
        Ok(Some(report))
    }

    /// Garbage collection's purge of deletions older than `cutoff`, in one transaction with
    /// the count of the bytes it frees per owner (`reclaimed_storage`). Returns the versions
    /// and packages purged.
    pub(crate) async fn purge_expired(&self, cutoff: DateTime<Utc>) -> DomainResult<(u64, u64)> {
        // The cutoff is bound (once, used four times): compared as the database stores it.
        let at = first_parameter(self.db.get_database_backend());
        let gone = format!("v.deleted_at < {at} OR p.deleted_at < {at}");
        let kept = format!(
            "(v2.deleted_at IS NULL OR v2.deleted_at >= {at}) AND (p2.deleted_at IS NULL OR p2.deleted_at >= {at})"
        );
        let backend = self.db.get_database_backend();
        let updated_at = match backend {
            sea_orm::DatabaseBackend::Postgres => "$2",
            _ => "?2",
        };
        // One statement that counts and adds: a transaction whose first statement only
        // read would, on SQLite (WAL), fail to upgrade to a writer once another writer
        // committed since its snapshot (SQLITE_BUSY_SNAPSHOT, which no timeout waits out).
        let add = format!(
            "INSERT INTO reclaimed_storage (owner_id, bytes, updated_at) \
             SELECT freed.owner_id, freed.bytes, {updated_at} FROM ({}) freed WHERE freed.bytes > 0 \
             ON CONFLICT (owner_id) DO UPDATE SET bytes = reclaimed_storage.bytes + excluded.bytes, \
             updated_at = excluded.updated_at",
            freed_bytes_sql(&gone, &kept, None)
        );
        let txn = self.db.begin().await?;
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            add,
            [cutoff.into(), now().into()],
        ))
        .await?;
        let versions = package_version::Entity::delete_many()
            .filter(package_version::Column::DeletedAt.lt(cutoff))
            .exec(&txn)
            .await?
            .rows_affected;
        let packages = package::Entity::delete_many()
            .filter(package::Column::DeletedAt.lt(cutoff))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok((versions, packages))
    }

    /// An owner's reclaimed bytes (purged so far) and bytes pending reclamation (files of
    /// deleted versions that no live version of the owner keeps, purged once the restore
    /// period is over). Every visibility counts: it is what the store frees.
    pub(crate) async fn reclamation_of<C: ConnectionTrait>(
        &self,
        db: &C,
        owner_id: i64,
    ) -> DomainResult<(i64, i64)> {
        let reclaimed = reclaimed_storage::Entity::find_by_id(owner_id)
            .one(db)
            .await?
            .map_or(0, |r| r.bytes);
        let pending = owner_bytes(db, pending_sql(Some(owner_id)), Vec::new())
            .await?
            .first()
            .map_or(0, |(_, b)| *b);
        Ok((reclaimed, pending))
    }

    /// `/metrics` lines: reclaimed and pending bytes per owner that has any.
    pub(crate) async fn reclamation_metrics(&self) -> DomainResult<String> {
        let reclaimed: Vec<(i64, i64)> = reclaimed_storage::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| (r.owner_id, r.bytes))
            .collect();
        let pending = owner_bytes(&self.db, pending_sql(None), Vec::new()).await?;
        let mut ids: Vec<i64> = reclaimed
            .iter()
            .chain(&pending)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let logins: HashMap<i64, String> = self
            .accounts_by_ids(&ids)
            .await?
            .into_iter()
            .map(|a| (a.id, a.login))
            .collect();
        let mut out = String::new();
        for (name, help, rows) in [
            (
                "packyard_retention_reclaimed_bytes",
                "Bytes of an owner's deleted versions purged by garbage collection (a blob once per owner).",
                &reclaimed,
            ),
            (
                "packyard_retention_pending_bytes",
                "Bytes of an owner's deleted versions awaiting purge after the restore period (a blob once per owner).",
                &pending,
            ),
        ] {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
            for (id, bytes) in rows {
                if let Some(login) = logins.get(id) {
                    out.push_str(&format!("{name}{{owner=\"{login}\"}} {bytes}\n"));
                }
            }
        }
        Ok(out)
    }
}

fn pending_sql(owner: Option<i64>) -> String {
    freed_bytes_sql(
        "v.deleted_at IS NOT NULL OR p.deleted_at IS NOT NULL",
        "v2.deleted_at IS NULL AND p2.deleted_at IS NULL",
        owner,
    )
}

/// Whether an owner-wide policy's type and name glob (or a per-package policy's package)
/// cover a package.
fn applies_to(m: &retention_policy::Model, pkg: &package::Model) -> bool {
    match m.package_id {
        Some(id) => id == pkg.id,
        None => {
            m.package_type.as_deref().is_none_or(|t| t == pkg.format)
                && m.name_pattern
                    .as_deref()
                    .is_none_or(|p| glob_matches(p, &pkg.name))
        }
    }
}

/// The admin command's text of a report.
pub fn render_report(r: &RetentionReport) -> String {
    let mut out = format!(
        "policies_applied {}\nversions_deleted {}\n",
        r.policies_applied,
        r.deleted.len()
    );
    for d in &r.deleted {
        out.push_str(&format!(
            "deleted {}/{}/{} {} policy={}\n",
            d.owner_login,
            d.package_type.as_str(),
            d.package_name,
            d.version,
            d.policy_id.unwrap_or_default()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days_ago: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .expect("a time")
            .with_timezone(&Utc)
            - Duration::days(days_ago)
    }

    /// Versions `1.0.0`.. named by index, the first the oldest, one day apart.
    fn versions(names: &[&str]) -> Vec<Candidate> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| Candidate {
                id: i as i64 + 1,
                version: n.to_string(),
                created_at: at((names.len() - i) as i64 * 10),
                tagged: false,
                prerelease: n.contains('-'),
                downloads: 0,
            })
            .collect()
    }

    fn names(vs: &[Candidate], ids: &[i64]) -> Vec<String> {
        ids.iter()
            .map(|id| {
                vs.iter()
                    .find(|v| v.id == *id)
                    .expect("known")
                    .version
                    .clone()
            })
            .collect()
    }

    #[test]
    fn globs_match_runs_and_single_characters() {
        for (pattern, text, expected) in [
            ("*-SNAPSHOT", "1.0-SNAPSHOT", true),
            ("*-SNAPSHOT", "1.0", false),
            ("sha256:*", "sha256:abc", true),
            ("sha256:*", "v1", false),
            ("1.?.0", "1.2.0", true),
            ("1.?.0", "1.22.0", false),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("exact", "exact", true),
            ("ex*ct*", "exact", true),
        ] {
            assert_eq!(glob_matches(pattern, text), expected, "{pattern} vs {text}");
        }
    }

    #[test]
    fn the_rule_table() {
        struct Case {
            name: &'static str,
            rule: Rule,
            tagged: &'static [&'static str],
            downloads: &'static [(&'static str, i64)],
            expected: &'static [&'static str],
        }
        let all = ["1.0.0", "1.1.0", "2.0.0-rc.1", "2.0.0", "2.1.0"];
        let cases = [
            Case {
                name: "keep the two newest",
                rule: Rule {
                    keep_newest: Some(2),
                    ..Default::default()
                },
                tagged: &[],
                downloads: &[],
                expected: &["1.0.0", "1.1.0", "2.0.0-rc.1"],
            },
            Case {
                name: "tagged versions are kept and don't count among the kept",
                rule: Rule {
                    keep_newest: Some(2),
                    ..Default::default()
                },
                tagged: &["2.1.0"],
                downloads: &[],
                expected: &["1.0.0", "1.1.0"],
            },
            Case {
                name: "downloads above the threshold protect and don't count",
                rule: Rule {
                    keep_newest: Some(1),
                    min_downloads_protect: Some(10),
                    ..Default::default()
                },
                tagged: &[],
                downloads: &[("1.0.0", 11), ("2.1.0", 50), ("1.1.0", 10)],
                expected: &["1.1.0", "2.0.0-rc.1"],
            },
            Case {
                name: "older than 25 days (the newest is 10 days old, then 20, 30...)",
                rule: Rule {
                    older_than_days: Some(25),
                    ..Default::default()
                },
                tagged: &[],
                downloads: &[],
                expected: &["1.0.0", "1.1.0", "2.0.0-rc.1"],
            },
            Case {
                name: "age and count together: beyond the newest 4 and older than 25 days",
                rule: Rule {
                    keep_newest: Some(4),
                    older_than_days: Some(25),
                    ..Default::default()
                },
                tagged: &[],
                downloads: &[],
                expected: &["1.0.0"],
            },
            Case {
                name: "only prereleases, none kept",
                rule: Rule {
                    keep_newest: Some(0),
                    only_prerelease: true,
                    ..Default::default()
                },
                tagged: &[],
                downloads: &[],
                expected: &["2.0.0-rc.1"],
            },
            Case {
                name: "a pattern narrows, and other versions don't count among the kept",
                rule: Rule {
                    keep_newest: Some(1),
                    version_pattern: Some("1.*".into()),
                    ..Default::default()
                },
                tagged: &[],
                downloads: &[],
                expected: &["1.0.0"],
            },
            Case {
                name: "keeping more than there are deletes nothing",
                rule: Rule {
                    keep_newest: Some(10),
                    ..Default::default()
                },
                tagged: &[],
                downloads: &[],
                expected: &[],
            },
        ];
        for case in cases {
            let mut vs = versions(&all);
            for v in &mut vs {
                v.tagged = case.tagged.contains(&v.version.as_str());
                v.downloads = case
                    .downloads
                    .iter()
                    .find(|(n, _)| *n == v.version)
                    .map_or(0, |(_, d)| *d);
            }
            let got = names(&vs, &select(&case.rule, &vs, at(0)));
            assert_eq!(got, case.expected, "{}", case.name);
        }
    }

    #[test]
    fn a_package_keeps_its_last_version() {
        let vs = versions(&["1.0.0", "1.1.0", "1.2.0"]);
        let rule = Rule {
            keep_newest: Some(0),
            ..Default::default()
        };
        assert_eq!(names(&vs, &select(&rule, &vs, at(0))), ["1.0.0", "1.1.0"]);
        let one = versions(&["1.0.0"]);
        assert!(select(&rule, &one, at(0)).is_empty());
    }

    #[test]
    fn untagged_container_manifests_by_digest_pattern() {
        let mut vs = versions(&["sha256:aa", "sha256:bb", "sha256:cc"]);
        vs[2].tagged = true;
        let rule = Rule {
            keep_newest: Some(0),
            version_pattern: Some("sha256:*".into()),
            ..Default::default()
        };
        assert_eq!(
            names(&vs, &select(&rule, &vs, at(0))),
            ["sha256:aa", "sha256:bb"]
        );
    }

    #[test]
    fn a_rule_that_keeps_nothing_and_waits_for_nothing_is_refused() {
        let spec = |rule: Rule| PolicySpec {
            target: PolicyTarget::Owner {
                owner: OwnerName::parse("acme").expect("a name"),
                package_type: None,
                name_pattern: None,
            },
            rule,
            enabled: true,
        };
        assert!(validate(&spec(Rule::default())).is_err());
        assert!(
            validate(&spec(Rule {
                keep_newest: Some(0),
                ..Default::default()
            }))
            .is_ok()
        );
        assert!(
            validate(&spec(Rule {
                keep_newest: Some(1),
                version_pattern: Some(String::new()),
                ..Default::default()
            }))
            .is_err()
        );
    }
}
