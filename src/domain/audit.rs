//! The audit trail: who did what to which thing, from where and with which token, written in
//! the same transaction as the change; and its listings (an organization's for its owners,
//! the whole site's for site admins).
//!
//! Where a change came from is the request's business, not each domain method's: the
//! router wraps every request in a [`RequestContext`] (a task-local, like
//! `domain::background`), and [`record`] reads it. Work outside a request (background jobs,
//! the CLI) records no source address.
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use entity::{
    access_token, account, audit_event, package, package_file, package_version, repository, team,
    web_session, webhook,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::{
    auth::Actor,
    domain::{Domain, OwnerName, now},
    error::{DomainError, DomainResult},
};

/// What the HTTP stack knows about the request a change is made in.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    /// The client's address: the peer's, or the one a trusted proxy forwarded for.
    pub source_ip: Option<IpAddr>,
}

tokio::task_local! {
    static REQUEST: RequestContext;
}

/// Runs a request's handling with its context (the router's outermost layer calls this).
pub fn within_request<F: std::future::Future>(
    context: RequestContext,
    handling: F,
) -> impl std::future::Future<Output = F::Output> {
    REQUEST.scope(context, handling)
}

fn request_source_ip() -> Option<String> {
    REQUEST
        .try_with(|c| c.source_ip.map(|ip| ip.to_string()))
        .ok()
        .flatten()
}

pub(crate) async fn record<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    action: &str,
    target_type: &str,
    target_id: Option<i64>,
    data: serde_json::Value,
) -> DomainResult<()> {
    let mut data = data;
    if let (serde_json::Value::Object(map), Actor::Repository { repository_id, .. }) =
        (&mut data, actor)
    {
        map.insert("repository_token".into(), (*repository_id).into());
    }
    let (owner_id, target_name) = match target_id {
        Some(id) => owner_and_name(db, target_type, id).await?,
        None => (None, None),
    };
    audit_event::ActiveModel {
        actor_id: Set(actor.user_id()),
        action: Set(action.into()),
        target_type: Set(target_type.into()),
        target_id: Set(target_id),
        data: Set(data),
        created_at: Set(now()),
        source_ip: Set(request_source_ip()),
        token_id: Set(actor.token().map(|t| t.token_id)),
        owner_id: Set(owner_id),
        target_name: Set(target_name),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The owner (user or organization) a target belongs to, and its name, read in the
/// change's transaction: one or two lookups by primary key.
async fn owner_and_name<C: ConnectionTrait>(
    db: &C,
    target_type: &str,
    id: i64,
) -> DomainResult<(Option<i64>, Option<String>)> {
    async fn package_of<C: ConnectionTrait>(
        db: &C,
        package_id: i64,
    ) -> DomainResult<Option<package::Model>> {
        Ok(package::Entity::find_by_id(package_id).one(db).await?)
    }
    async fn version_of<C: ConnectionTrait>(
        db: &C,
        version_id: i64,
    ) -> DomainResult<Option<(package_version::Model, Option<package::Model>)>> {
        let Some(v) = package_version::Entity::find_by_id(version_id)
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let pkg = package_of(db, v.package_id).await?;
        Ok(Some((v, pkg)))
    }
    Ok(match target_type {
        "account" => account::Entity::find_by_id(id)
            .one(db)
            .await?
            .map_or((None, None), |a| (Some(a.id), Some(a.login))),
        "package" => package_of(db, id)
            .await?
            .map_or((None, None), |p| (Some(p.owner_id), Some(p.name))),
        "package_version" => version_of(db, id)
            .await?
            .map_or((None, None), |(v, p)| match p {
                Some(p) => (Some(p.owner_id), Some(format!("{}@{}", p.name, v.version))),
                None => (None, Some(v.version)),
            }),
        "package_file" => {
            let Some(f) = package_file::Entity::find_by_id(id).one(db).await? else {
                return Ok((None, None));
            };
            let owner = version_of(db, f.version_id)
                .await?
                .and_then(|(_, p)| p.map(|p| p.owner_id));
            (owner, Some(f.name))
        }
        "repository" => repository::Entity::find_by_id(id)
            .one(db)
            .await?
            .map_or((None, None), |r| (Some(r.owner_id), Some(r.name))),
        "team" => team::Entity::find_by_id(id)
            .one(db)
            .await?
            .map_or((None, None), |t| (Some(t.organization_id), Some(t.slug))),
        "webhook" => webhook::Entity::find_by_id(id)
            .one(db)
            .await?
            .map_or((None, None), |h| (Some(h.owner_id), Some(h.url))),
        "access_token" => {
            let Some(t) = access_token::Entity::find_by_id(id).one(db).await? else {
                return Ok((None, None));
            };
            // A repository's token belongs to the repository's owner.
            let owner = match (t.user_id, t.repository_id) {
                (Some(user), _) => Some(user),
                (None, Some(repo)) => repository::Entity::find_by_id(repo)
                    .one(db)
                    .await?
                    .map(|r| r.owner_id),
                (None, None) => None,
            };
            (owner, Some(t.name))
        }
        "web_session" => web_session::Entity::find_by_id(id)
            .one(db)
            .await?
            .map_or((None, None), |s| (Some(s.user_id), None)),
        _ => (None, None),
    })
}

/// Whose entries a listing reads.
#[derive(Clone, Debug)]
pub enum AuditScope {
    /// The entries about an organization and everything it owns (its owners, site admins).
    Organization(OwnerName),
    /// Every entry (site admins).
    Site,
}

/// Narrows a listing; every field optional.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// An exact action (`package.delete`).
    pub action: Option<String>,
    /// The login of the user who acted.
    pub actor: Option<OwnerName>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// One entry as listed.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    pub id: i64,
    pub action: String,
    /// The acting user's login; `None` for a repository token or an unattended change.
    pub actor_login: Option<String>,
    pub target_type: String,
    pub target_id: Option<i64>,
    pub target_name: Option<String>,
    pub data: serde_json::Value,
    pub source_ip: Option<String>,
    pub token_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl Domain {
    /// A page of the audit log, newest first, and how many entries match.
    pub async fn audit_log(
        &self,
        actor: &Actor,
        scope: &AuditScope,
        filter: &AuditFilter,
        offset: u64,
        limit: u64,
    ) -> DomainResult<(Vec<AuditEntry>, u64)> {
        let mut q = audit_event::Entity::find();
        match scope {
            AuditScope::Organization(login) => {
                let org = self.org_model(login).await?;
                self.require_org_owner(actor, &org).await?;
                q = q.filter(audit_event::Column::OwnerId.eq(org.id));
            }
            AuditScope::Site => {
                if actor.is_anonymous() {
                    return Err(DomainError::Unauthenticated(
                        "authentication required".into(),
                    ));
                }
                if !actor.site_admin() {
                    return Err(DomainError::forbidden(
                        "the site's audit log is for site admins",
                    ));
                }
            }
        }
        if let Some(action) = &filter.action {
            q = q.filter(audit_event::Column::Action.eq(action.as_str()));
        }
        if let Some(login) = &filter.actor {
            match account::Entity::find()
                .filter(account::Column::Login.eq(login.as_str()))
                .one(&self.db)
                .await?
            {
                Some(a) => q = q.filter(audit_event::Column::ActorId.eq(a.id)),
                // Nobody by that name acted.
                None => return Ok((Vec::new(), 0)),
            }
        }
        if let Some(since) = filter.since {
            q = q.filter(audit_event::Column::CreatedAt.gte(since));
        }
        if let Some(until) = filter.until {
            q = q.filter(audit_event::Column::CreatedAt.lt(until));
        }
        let total = q.clone().count(&self.db).await?;
        if limit == 0 {
            return Ok((Vec::new(), total));
        }
        let rows = q
            .order_by_desc(audit_event::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(&self.db)
            .await?;
        let mut actor_ids: Vec<i64> = rows.iter().filter_map(|r| r.actor_id).collect();
        actor_ids.sort_unstable();
        actor_ids.dedup();
        let logins: std::collections::HashMap<i64, String> = if actor_ids.is_empty() {
            Default::default()
        } else {
            account::Entity::find()
                .filter(account::Column::Id.is_in(actor_ids))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|a| (a.id, a.login))
                .collect()
        };
        let entries = rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                action: r.action,
                actor_login: r.actor_id.and_then(|id| logins.get(&id).cloned()),
                target_type: r.target_type,
                target_id: r.target_id,
                target_name: r.target_name,
                data: r.data,
                source_ip: r.source_ip,
                token_id: r.token_id,
                created_at: r.created_at,
            })
            .collect();
        Ok((entries, total))
    }
}
