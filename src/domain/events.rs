//! Package events: one row per committed change to a package (`published`, `updated`,
//! `deleted`, `restored`), written in the change's own transaction by [`Domain::emit_event`],
//! with the webhook outbox rows for every matching hook (see `webhooks`). A change that rolls
//! back leaves neither; a committed one leaves both, whatever happens to the process next.
//!
//! The row keeps the payload as of the change, in GitHub's `package` webhook shape, so a
//! delivery retried tomorrow says what happened, not what the package looks like then.
use entity::{account, package, package_event, package_tag, package_version, repository};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::{Value, json};

use crate::{
    auth::Actor,
    domain::{
        Domain, PackageType,
        notify::Channel,
        now,
        types::{AccountKind, parse_stored},
    },
    error::{DomainError, DomainResult},
};

/// What happened to a package.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::Display, strum::EnumString, strum::IntoStaticStr,
)]
#[strum(serialize_all = "lowercase")]
pub enum EventKind {
    /// A new version.
    Published,
    /// Tags moved, files added, metadata, deprecation, yank or settings changed.
    Updated,
    /// The package or one of its versions was deleted.
    Deleted,
    /// The package or one of its versions was restored.
    Restored,
}

impl EventKind {
    pub const ALL: [EventKind; 4] = [
        EventKind::Published,
        EventKind::Updated,
        EventKind::Deleted,
        EventKind::Restored,
    ];

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// An event as readers see it.
#[derive(Debug, Clone)]
pub struct EventInfo {
    pub id: i64,
    pub kind: EventKind,
    pub package_id: i64,
    pub version_id: Option<i64>,
    pub owner_id: i64,
    pub package_type: PackageType,
    /// GitHub's `package` webhook payload as of the change.
    pub payload: Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Domain {
    /// Writes the event of a change to `package_id` (and the outbox rows of the hooks that
    /// want it) on `db`, the change's transaction. Call [`Domain::events_committed`] after
    /// the commit.
    pub(crate) async fn emit_event<C: ConnectionTrait>(
        &self,
        db: &C,
        actor: &Actor,
        kind: EventKind,
        package_id: i64,
        version_id: Option<i64>,
    ) -> DomainResult<i64> {
        let pkg = package::Entity::find_by_id(package_id)
            .one(db)
            .await?
            .ok_or_else(|| DomainError::internal("event of a missing package"))?;
        let payload = self
            .event_payload(db, actor, kind, &pkg, version_id)
            .await?;
        let event = package_event::ActiveModel {
            kind: Set(kind.as_str().into()),
            package_id: Set(pkg.id),
            version_id: Set(version_id),
            owner_id: Set(pkg.owner_id),
            actor_id: Set(actor.user_id()),
            payload: Set(payload.clone()),
            created_at: Set(now()),
            ..Default::default()
        }
        .insert(db)
        .await?;
        if crate::domain::webhooks::enqueue_event(db, &pkg, kind, event.id, &payload).await? > 0 {
            self.webhook_work
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(event.id)
    }

    /// Announces committed events to every replica (subscriptions, the webhook worker).
    /// A lost notice costs latency only: both also read the tables on their own.
    pub(crate) async fn events_committed(&self) {
        if let Err(e) = self.notify.send(&self.db, Channel::Events, "").await {
            tracing::warn!(error = %e, "announcing events");
        }
    }

    /// Events after `after_id` (oldest first), at most `limit`, optionally of one owner.
    pub async fn events_after(
        &self,
        after_id: i64,
        owner_id: Option<i64>,
        limit: u64,
    ) -> DomainResult<Vec<EventInfo>> {
        let mut q = package_event::Entity::find()
            .filter(package_event::Column::Id.gt(after_id))
            .order_by_asc(package_event::Column::Id)
            .limit(limit);
        if let Some(owner) = owner_id {
            q = q.filter(package_event::Column::OwnerId.eq(owner));
        }
        let rows = q.all(&self.db).await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.package_id).collect();
        let formats: std::collections::HashMap<i64, String> = package::Entity::find()
            .filter(package::Column::Id.is_in(ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|p| (p.id, p.format))
            .collect();
        rows.into_iter()
            .map(|r| {
                Ok(EventInfo {
                    id: r.id,
                    kind: parse_kind(&r.kind)?,
                    package_type: parse_stored(
                        formats.get(&r.package_id).map_or("generic", |f| f.as_str()),
                    )?,
                    package_id: r.package_id,
                    version_id: r.version_id,
                    owner_id: r.owner_id,
                    payload: r.payload,
                    created_at: r.created_at,
                })
            })
            .collect()
    }

    /// The newest event's id (0 without any): where a new subscription starts.
    pub async fn last_event_id(&self) -> DomainResult<i64> {
        Ok(package_event::Entity::find()
            .order_by_desc(package_event::Column::Id)
            .one(&self.db)
            .await?
            .map_or(0, |e| e.id))
    }

    /// GitHub's `package` webhook payload for a change.
    async fn event_payload<C: ConnectionTrait>(
        &self,
        db: &C,
        actor: &Actor,
        kind: EventKind,
        pkg: &package::Model,
        version_id: Option<i64>,
    ) -> DomainResult<Value> {
        let base = self.config.base_url();
        let owner = account::Entity::find_by_id(pkg.owner_id)
            .one(db)
            .await?
            .ok_or_else(|| DomainError::internal("package without owner"))?;
        let package_type: PackageType = parse_stored(&pkg.format)?;
        let segment = package_type.as_str();
        let html_url = format!(
            "{base}/-/package/{}/{segment}/{}",
            owner.login,
            url_path(&pkg.name)
        );
        let version = match version_id {
            Some(id) => package_version::Entity::find_by_id(id).one(db).await?,
            None => None,
        };
        let version = match version {
            Some(v) => Some(v),
            // A package-wide change describes the newest live version.
            None => {
                package_version::Entity::find()
                    .filter(package_version::Column::PackageId.eq(pkg.id))
                    .filter(package_version::Column::DeletedAt.is_null())
                    .order_by_desc(package_version::Column::Id)
                    .one(db)
                    .await?
            }
        };
        let package_version = match &version {
            Some(v) => {
                let tags: Vec<String> = package_tag::Entity::find()
                    .filter(package_tag::Column::VersionId.eq(v.id))
                    .order_by_asc(package_tag::Column::Name)
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|t| t.name)
                    .collect();
                let container_metadata = (package_type == PackageType::Container).then(|| {
                    json!({"tag": {"name": tags.first().cloned().unwrap_or_default(), "digest": v.version}})
                });
                json!({
                    "id": v.id,
                    "version": v.version,
                    "name": v.version,
                    "summary": v.summary.clone().unwrap_or_default(),
                    "body": v.readme.clone().unwrap_or_default(),
                    "description": v.summary.clone().unwrap_or_default(),
                    "html_url": format!("{html_url}?version={}", url_path(&v.version)),
                    "created_at": v.created_at,
                    "updated_at": v.updated_at,
                    "metadata": v.metadata,
                    "container_metadata": container_metadata,
                    "tags": tags,
                    "prerelease": v.prerelease,
                    "yanked": v.yanked,
                    "deleted": v.deleted_at.is_some(),
                    "installation_command": "",
                    "package_url": format!("{}{}", registry_url(&base, package_type, &owner.login), pkg.name),
                })
            }
            None => Value::Null,
        };
        let owner_json = account_json(&base, &owner);
        let repository = match pkg.repository_id {
            Some(id) => repository::Entity::find_by_id(id).one(db).await?.map(|r| {
                json!({
                    "id": r.id,
                    "name": r.name,
                    "full_name": format!("{}/{}", owner.login, r.name),
                    "private": r.visibility != "public",
                    "visibility": r.visibility,
                    "description": r.description,
                    "owner": owner_json,
                    "html_url": format!("{base}/-/owner/{}", owner.login),
                })
            }),
            None => None,
        };
        let organization = (owner.kind == AccountKind::Organization.as_str()).then(|| {
            json!({"login": owner.login, "id": owner.id, "url": format!("{base}/-/owner/{}", owner.login)})
        });
        let sender = match actor {
            Actor::User { id, .. } => account::Entity::find_by_id(*id)
                .one(db)
                .await?
                .map(|a| account_json(&base, &a)),
            Actor::Repository { repository_id, .. } => Some(json!({
                "login": "packyard-actions[bot]",
                "id": 0,
                "type": "Bot",
                "repository_id": repository_id,
                "site_admin": false,
            })),
            Actor::Anonymous => None,
        };
        Ok(json!({
            "action": kind.as_str(),
            "package": {
                "id": pkg.id,
                "name": pkg.name,
                "namespace": owner.login,
                "description": version.as_ref().and_then(|v| v.summary.clone()),
                "ecosystem": ecosystem(package_type),
                "package_type": segment,
                "html_url": html_url,
                "visibility": pkg.visibility,
                "created_at": pkg.created_at,
                "updated_at": pkg.updated_at,
                "owner": owner_json,
                "package_version": package_version,
                "registry": {
                    "about_url": format!("{base}/"),
                    "name": "Packyard",
                    "type": segment,
                    "url": registry_url(&base, package_type, &owner.login),
                    "vendor": "Packyard",
                },
            },
            "repository": repository,
            "organization": organization,
            "sender": sender,
        }))
    }
}

fn parse_kind(s: &str) -> DomainResult<EventKind> {
    s.parse()
        .map_err(|_| DomainError::internal(format!("stored event kind {s:?}")))
}

fn account_json(base: &str, a: &account::Model) -> Value {
    let organization = a.kind == AccountKind::Organization.as_str();
    json!({
        "login": a.login,
        "id": a.id,
        "type": if organization { "Organization" } else { "User" },
        "html_url": format!("{base}/-/owner/{}", a.login),
        "site_admin": a.site_admin,
    })
}

/// GitHub's `ecosystem` names (`CONTAINER` for images, as its package events say).
fn ecosystem(t: PackageType) -> &'static str {
    match t {
        PackageType::Generic => "generic",
        PackageType::Container => "CONTAINER",
        PackageType::Npm => "npm",
        PackageType::Maven => "maven",
        PackageType::Rubygems => "rubygems",
        PackageType::Nuget => "nuget",
    }
}

/// Where the door of a package type serves an owner's packages.
fn registry_url(base: &str, t: PackageType, owner: &str) -> String {
    match t {
        PackageType::Generic => format!("{base}/generic/{owner}/"),
        PackageType::Container => format!("{base}/v2/{owner}/"),
        PackageType::Npm => format!("{base}/npm/@{owner}/"),
        PackageType::Maven => format!("{base}/maven/{owner}/"),
        PackageType::Rubygems => format!("{base}/rubygems/{owner}/"),
        PackageType::Nuget => format!("{base}/nuget/{owner}/v3/index.json#"),
    }
}

/// A name or version as URL path segments (`/` kept: image names have them).
fn url_path(s: &str) -> String {
    s.split('/')
        .map(|seg| url::form_urlencoded::byte_serialize(seg.as_bytes()).collect::<String>())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_kinds_round_trip_in_lower_case() {
        for k in EventKind::ALL {
            assert_eq!(parse_kind(k.as_str()).expect("kind"), k);
            assert_eq!(k.as_str(), k.as_str().to_lowercase());
        }
        assert!(parse_kind("exploded").is_err());
    }

    #[test]
    fn url_paths_keep_slashes_and_escape_the_rest() {
        assert_eq!(url_path("team/app"), "team/app");
        assert_eq!(url_path("a b+c"), "a+b%2Bc");
    }
}
