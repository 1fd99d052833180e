//! RubyGems' owner-wide log: the lines of the compact index's `/versions` file, which only
//! ever grows at its end (bundler fetches its tail with `Range`). The door computes what a
//! line says (the gem's entry and the digest of its info file); the domain keeps the lines
//! in order and shows a reader only those of gems it may read.
use chrono::{DateTime, Utc};
use entity::{package, rubygems_log};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::{
    auth::{Actor, Scope, policy},
    domain::{Domain, names::OwnerName, now, packages::PackageRef, types::PackageType},
    error::{DomainError, DomainResult, What},
};

/// One appended line: a gem, an entry (`1.0.0`, `1.0.0-java`, `-1.0.0`) and the digest the
/// gem's info file had once it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GemLogLine {
    pub package_id: i64,
    pub name: String,
    pub entry: String,
    pub info_digest: String,
}

/// What one reader may see of an owner's gems.
#[derive(Clone, Debug)]
pub struct GemLog {
    /// Fixed for the owner (its creation), so the file's first bytes never change.
    pub since: DateTime<Utc>,
    /// Oldest first.
    pub lines: Vec<GemLogLine>,
    /// Live gems the reader may read (id, name), by name.
    pub gems: Vec<(i64, String)>,
}

impl GemLog {
    pub fn names(&self) -> Vec<String> {
        self.gems.iter().map(|(_, n)| n.clone()).collect()
    }
}

impl Domain {
    /// `gem push` names its gem only inside the `.gem`, so the full check (`publish`) waits
    /// for the upload. Before a byte is staged, this refuses a caller who may push to no
    /// gem of `owner` at all: anonymous, a token without `write:packages`, a token limited
    /// to another owner, an owner that doesn't exist.
    pub async fn authorize_gem_push_start(
        &self,
        actor: &Actor,
        owner: &OwnerName,
    ) -> DomainResult<()> {
        if actor.is_anonymous() {
            return Err(DomainError::Unauthenticated(
                "an API key is required to push: GEM_HOST_API_KEY or ~/.gem/credentials".into(),
            ));
        }
        let account = self.account_model(owner).await.map_err(|e| match e {
            DomainError::NotFound { .. } => {
                policy::unknown(actor, What::Owner, format!("owner {owner}"))
            }
            other => other,
        })?;
        if !actor.has_scope(Scope::WritePackages) {
            return Err(DomainError::forbidden(
                "the token lacks the write:packages scope",
            ));
        }
        if let Some(only) = actor.token().and_then(|t| t.owner_login.as_deref())
            && !only.eq_ignore_ascii_case(&account.login)
        {
            return Err(DomainError::forbidden(format!(
                "the token is limited to {only}"
            )));
        }
        Ok(())
    }

    /// Appends lines for a gem the actor may write to (after its push or yank).
    pub async fn append_gem_log(
        &self,
        actor: &Actor,
        r: &PackageRef,
        entries: &[String],
        info_digest: &str,
    ) -> DomainResult<()> {
        self.authorize_publish(actor, r).await?;
        let Some((pkg, owner)) = self.package_model(r).await? else {
            return Err(policy::unknown(actor, What::Package, "no such gem"));
        };
        for entry in entries {
            rubygems_log::ActiveModel {
                owner_id: Set(owner.id),
                package_id: Set(pkg.id),
                entry: Set(entry.clone()),
                info_digest: Set(info_digest.to_string()),
                created_at: Set(now()),
                ..Default::default()
            }
            .insert(&self.db)
            .await?;
        }
        Ok(())
    }

    /// Appends the lines that bring a gem's log up to date with its index after a change
    /// made elsewhere (GraphQL's unyank, a deleted or restored version), for a reader who
    /// found the log's last digest stale: what is appended is what any reader of the gem
    /// may see, so reading is enough.
    pub async fn reconcile_gem_log(
        &self,
        actor: &Actor,
        r: &PackageRef,
        entries: &[String],
        info_digest: &str,
    ) -> DomainResult<()> {
        let pkg = self.find_package(actor, r).await?;
        for entry in entries {
            rubygems_log::ActiveModel {
                owner_id: Set(pkg.owner_id),
                package_id: Set(pkg.id),
                entry: Set(entry.clone()),
                info_digest: Set(info_digest.to_string()),
                created_at: Set(now()),
                ..Default::default()
            }
            .insert(&self.db)
            .await?;
        }
        Ok(())
    }

    /// The owner's log as `actor` may see it: lines of live gems it may read, in order.
    pub async fn gem_log(&self, actor: &Actor, owner: &OwnerName) -> DomainResult<GemLog> {
        let account = self.account_model(owner).await.map_err(|e| match e {
            DomainError::NotFound { .. } => {
                policy::unknown(actor, What::Owner, format!("owner {owner}"))
            }
            other => other,
        })?;
        let gems: Vec<package::Model> = package::Entity::find()
            .filter(self.readable_condition(actor))
            .filter(package::Column::OwnerId.eq(account.id))
            .filter(package::Column::Format.eq(PackageType::Rubygems.as_str()))
            .filter(package::Column::DeletedAt.is_null())
            .order_by_asc(package::Column::Name)
            .all(&self.db)
            .await?;
        let names_by_id: std::collections::HashMap<i64, &str> =
            gems.iter().map(|p| (p.id, p.name.as_str())).collect();
        let rows = rubygems_log::Entity::find()
            .filter(rubygems_log::Column::OwnerId.eq(account.id))
            .filter(rubygems_log::Column::PackageId.is_in(names_by_id.keys().copied()))
            .order_by_asc(rubygems_log::Column::Id)
            .all(&self.db)
            .await?;
        let lines = rows
            .into_iter()
            .filter_map(|row| {
                Some(GemLogLine {
                    package_id: row.package_id,
                    name: names_by_id.get(&row.package_id)?.to_string(),
                    entry: row.entry,
                    info_digest: row.info_digest,
                })
            })
            .collect();
        Ok(GemLog {
            since: account.created_at,
            lines,
            gems: gems.iter().map(|p| (p.id, p.name.clone())).collect(),
        })
    }
}
