//! Retention policies: `setRetentionPolicy` / `deleteRetentionPolicy` (owner admins, or a
//! package's admins for its own), `retentionPolicies` on owners and packages, the
//! `retentionDryRun` preview, and the site admins' `applyRetentionPolicies`.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    domain::{
        OwnerName, PackageName,
        packages::PackageRef,
        retention::{DoomedVersion, DryRun, PolicyInfo, PolicySpec, PolicyTarget, Rule},
    },
    error::DomainError,
    graphql::{GqlResult, ctx, gql_error, ids, types::PackageType},
};

/// Which versions of an owner's packages are deleted on a schedule (softly: restorable for
/// the restore period). Versions that carry a tag, or were downloaded more than
/// `minDownloadsProtect` times, are never deleted and don't count among the kept.
pub struct RetentionPolicyObject(pub PolicyInfo);

#[Object(name = "RetentionPolicy")]
impl RetentionPolicyObject {
    async fn id(&self) -> ID {
        ids::encode("RetentionPolicy", self.0.id)
    }
    /// The owner's login.
    async fn owner(&self) -> &str {
        &self.0.owner_login
    }
    /// The package's name for a per-package policy; `null` for an owner-wide one.
    async fn package_name(&self) -> Option<&str> {
        self.0.package_name.as_deref()
    }
    /// The package's type (per-package), or the type an owner-wide policy is narrowed to.
    async fn package_type(&self) -> Option<PackageType> {
        self.0.package_type.map(Into::into)
    }
    /// An owner-wide policy's package-name glob (`*` any run, `?` one character).
    async fn name_pattern(&self) -> Option<&str> {
        self.0.name_pattern.as_deref()
    }
    /// How many of the newest deletable versions are kept.
    async fn keep_newest(&self) -> Option<u32> {
        self.0.rule.keep_newest
    }
    /// Only versions created more than this many days ago are deleted.
    async fn older_than_days(&self) -> Option<u32> {
        self.0.rule.older_than_days
    }
    /// Only versions whose name matches this glob (`*-SNAPSHOT`, `sha256:*`).
    async fn version_pattern(&self) -> Option<&str> {
        self.0.rule.version_pattern.as_deref()
    }
    /// Only prereleases.
    async fn only_prerelease(&self) -> bool {
        self.0.rule.only_prerelease
    }
    /// Versions downloaded more than this many times are never deleted.
    async fn min_downloads_protect(&self) -> Option<i64> {
        self.0.rule.min_downloads_protect
    }
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// When a run last applied it.
    async fn last_run_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_run_at
    }
    /// Versions it deleted so far.
    async fn versions_deleted(&self) -> i64 {
        self.0.versions_deleted
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A version a policy deletes now (a dry run) or deleted (a run).
#[derive(SimpleObject)]
pub struct RetentionCandidate {
    /// `null` for an inline policy's dry run.
    pub policy_id: Option<ID>,
    pub package_id: ID,
    pub owner: String,
    pub package_type: PackageType,
    pub package_name: String,
    pub version_id: ID,
    pub version: String,
    pub created_at: DateTime<Utc>,
}

impl From<DoomedVersion> for RetentionCandidate {
    fn from(d: DoomedVersion) -> Self {
        Self {
            policy_id: d.policy_id.map(|id| ids::encode("RetentionPolicy", id)),
            package_id: ids::encode("Package", d.package_id),
            owner: d.owner_login,
            package_type: d.package_type.into(),
            package_name: d.package_name,
            version_id: ids::encode("PackageVersion", d.version_id),
            version: d.version,
            created_at: d.created_at,
        }
    }
}

/// What applying the policies did.
#[derive(SimpleObject)]
pub struct RetentionRunReport {
    pub policies_applied: u64,
    /// The versions deleted (softly), oldest first per policy.
    pub deleted: Vec<RetentionCandidate>,
}

/// A policy's settings. With `packageName` (and `packageType`) it is that package's;
/// without, it is the owner's, narrowed by `packageType` and `namePattern`. It needs
/// `keepNewest`, `olderThanDays` or both (`keepNewest: 0` deletes every matching version).
#[derive(InputObject)]
pub struct RetentionPolicyInput {
    /// The owner's login.
    pub owner: String,
    pub package_type: Option<PackageType>,
    pub package_name: Option<String>,
    /// Owner-wide only: a glob over package names.
    pub name_pattern: Option<String>,
    pub keep_newest: Option<u32>,
    pub older_than_days: Option<u32>,
    pub version_pattern: Option<String>,
    #[graphql(default)]
    pub only_prerelease: bool,
    pub min_downloads_protect: Option<i64>,
    #[graphql(default = true)]
    pub enabled: bool,
}

impl RetentionPolicyInput {
    fn into_spec(self) -> async_graphql::Result<PolicySpec> {
        let owner = OwnerName::parse(&self.owner).gql()?;
        let target = match self.package_name {
            Some(name) => {
                let package_type = self.package_type.ok_or_else(|| {
                    gql_error(DomainError::invalid(
                        "a per-package policy needs packageType with packageName",
                    ))
                })?;
                if self.name_pattern.is_some() {
                    return Err(gql_error(DomainError::invalid(
                        "namePattern is for owner-wide policies (without packageName)",
                    )));
                }
                PolicyTarget::Package(PackageRef {
                    owner,
                    package_type: package_type.into(),
                    name: PackageName::parse(&name).gql()?,
                })
            }
            None => PolicyTarget::Owner {
                owner,
                package_type: self.package_type.map(Into::into),
                name_pattern: self.name_pattern,
            },
        };
        Ok(PolicySpec {
            target,
            rule: Rule {
                keep_newest: self.keep_newest,
                older_than_days: self.older_than_days,
                version_pattern: self.version_pattern,
                only_prerelease: self.only_prerelease,
                min_downloads_protect: self.min_downloads_protect,
            },
            enabled: self.enabled,
        })
    }
}

/// `retentionPolicies` of a user or organization: `null` for anyone but its admins.
pub(crate) async fn policies_of_owner(
    c: &Context<'_>,
    owner: &crate::domain::views::AccountInfo,
) -> async_graphql::Result<Option<Vec<RetentionPolicyObject>>> {
    let c = ctx(c)?;
    Ok(c.domain
        .retention_policies_of_owner(c.actor, owner)
        .await
        .gql()?
        .map(|ps| ps.into_iter().map(RetentionPolicyObject).collect()))
}

/// `retentionPolicies` of a package: `null` for anyone who may not delete its versions.
pub(crate) async fn policies_of_package(
    c: &Context<'_>,
    package_id: i64,
) -> async_graphql::Result<Option<Vec<RetentionPolicyObject>>> {
    let c = ctx(c)?;
    Ok(c.domain
        .retention_policies_of_package(c.actor, package_id)
        .await
        .gql()?
        .map(|ps| ps.into_iter().map(RetentionPolicyObject).collect()))
}

#[derive(Default)]
pub struct RetentionQuery;

#[Object]
impl RetentionQuery {
    /// The versions a policy would delete now: a stored one (`policyId`) or one given
    /// inline (`policy`), exactly one of them.
    async fn retention_dry_run(
        &self,
        c: &Context<'_>,
        policy_id: Option<ID>,
        policy: Option<RetentionPolicyInput>,
    ) -> async_graphql::Result<Vec<RetentionCandidate>> {
        let c = ctx(c)?;
        let which = match (policy_id, policy) {
            (Some(id), None) => DryRun::Stored(ids::decode(&id, "RetentionPolicy")?),
            (None, Some(p)) => DryRun::Inline(p.into_spec()?),
            _ => {
                return Err(gql_error(DomainError::invalid(
                    "give policyId or policy, not both",
                )));
            }
        };
        Ok(c.domain
            .retention_dry_run(c.actor, which)
            .await
            .gql()?
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

#[derive(Default)]
pub struct RetentionMutation;

#[Object]
impl RetentionMutation {
    /// Creates a retention policy, or (with `id`) replaces one's settings.
    async fn set_retention_policy(
        &self,
        c: &Context<'_>,
        id: Option<ID>,
        policy: RetentionPolicyInput,
    ) -> async_graphql::Result<RetentionPolicyObject> {
        let c = ctx(c)?;
        let id = id
            .map(|id| ids::decode(&id, "RetentionPolicy"))
            .transpose()?;
        c.domain
            .set_retention_policy(c.actor, id, policy.into_spec()?)
            .await
            .gql()
            .map(RetentionPolicyObject)
    }

    /// Deletes a retention policy (the versions it deleted stay deleted); returns its ID.
    async fn delete_retention_policy(&self, c: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let c = ctx(c)?;
        let n = ids::decode(&id, "RetentionPolicy")?;
        c.domain.delete_retention_policy(c.actor, n).await.gql()?;
        Ok(id)
    }

    /// Applies the enabled retention policies now (site admins): every owner's, or one
    /// owner's, and lists the versions deleted.
    async fn apply_retention_policies(
        &self,
        c: &Context<'_>,
        owner: Option<String>,
    ) -> async_graphql::Result<RetentionRunReport> {
        let c = ctx(c)?;
        let owner = owner.as_deref().map(OwnerName::parse).transpose().gql()?;
        let report = c
            .domain
            .apply_retention(c.actor, owner.as_ref())
            .await
            .gql()?;
        Ok(RetentionRunReport {
            policies_applied: report.policies_applied,
            deleted: report.deleted.into_iter().map(Into::into).collect(),
        })
    }
}
