//! The audit log: `Organization.auditLog` for the organization's owners and the site-wide
//! `Query.auditLog` for site admins, newest first, filtered by action, actor and time.
use async_graphql::{Context, ID, Json, Object};
use chrono::{DateTime, Utc};

use crate::{
    domain::{
        OwnerName,
        audit::{AuditEntry, AuditFilter, AuditScope},
    },
    graphql::{
        GqlResult,
        connection::{CountedConnection, paginate},
        ctx, ids,
    },
};

pub struct AuditEntryObject(pub AuditEntry);

/// One recorded change.
#[Object(name = "AuditEntry")]
impl AuditEntryObject {
    pub async fn id(&self) -> ID {
        ids::encode("AuditEntry", self.0.id)
    }
    /// What was done (`package.delete`, `organization.member.set`, `webhook.create`...).
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// The login of the user who acted; `null` for a repository token or the server itself.
    async fn actor(&self) -> Option<&str> {
        self.0.actor_login.as_deref()
    }
    /// The kind of thing changed (`package`, `package_version`, `account`, `team`,
    /// `repository`, `webhook`, `access_token`, `web_session`...).
    async fn target_type(&self) -> &str {
        &self.0.target_type
    }
    /// The changed thing's database id.
    async fn target_id(&self) -> Option<i64> {
        self.0.target_id
    }
    /// Its name when it was changed (package, login, repository, webhook URL, token name).
    async fn target_name(&self) -> Option<&str> {
        self.0.target_name.as_deref()
    }
    /// The change's details.
    async fn data(&self) -> Json<serde_json::Value> {
        Json(self.0.data.clone())
    }
    /// The client's address (behind a proxy in `PACKYARD_TRUSTED_PROXIES`, the one it
    /// forwarded for); `null` for changes made outside a request.
    async fn source_ip(&self) -> Option<&str> {
        self.0.source_ip.as_deref()
    }
    /// The `AccessToken.id` of the token that authenticated the change (`null` for a web
    /// session or the CLI).
    async fn token_id(&self) -> Option<ID> {
        self.0.token_id.map(|id| ids::encode("AccessToken", id))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// The filter arguments both `auditLog` fields take.
pub(crate) struct AuditArgs {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A page of a scope's log (the organization's field and the root field call this).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn audit_log_of(
    c: &Context<'_>,
    scope: AuditScope,
    args: AuditArgs,
    after: Option<String>,
    before: Option<String>,
    first: Option<i32>,
    last: Option<i32>,
) -> async_graphql::Result<CountedConnection<AuditEntryObject>> {
    let c = ctx(c)?;
    let filter = AuditFilter {
        action: args.action.filter(|a| !a.is_empty()),
        actor: args
            .actor
            .filter(|a| !a.is_empty())
            .map(|a| OwnerName::parse(&a))
            .transpose()
            .gql()?,
        since: args.since,
        until: args.until,
    };
    let (scope, filter) = (&scope, &filter);
    paginate(after, before, first, last, |offset, limit| async move {
        let (entries, total) = c
            .domain
            .audit_log(c.actor, scope, filter, offset, limit)
            .await?;
        Ok((entries.into_iter().map(AuditEntryObject).collect(), total))
    })
    .await
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Every recorded change on the site, newest first (site admins).
    #[allow(clippy::too_many_arguments)]
    async fn audit_log(
        &self,
        c: &Context<'_>,
        #[graphql(desc = "Only this action (`package.delete`).")] action: Option<String>,
        #[graphql(desc = "Only changes by the user with this login.")] actor: Option<String>,
        #[graphql(desc = "Only changes at or after this time.")] since: Option<DateTime<Utc>>,
        #[graphql(desc = "Only changes before this time.")] until: Option<DateTime<Utc>>,
        after: Option<String>,
        before: Option<String>,
        #[graphql(validator(maximum = 100))] first: Option<i32>,
        #[graphql(validator(maximum = 100))] last: Option<i32>,
    ) -> async_graphql::Result<CountedConnection<AuditEntryObject>> {
        let args = AuditArgs {
            action,
            actor,
            since,
            until,
        };
        audit_log_of(c, AuditScope::Site, args, after, before, first, last).await
    }
}

/// `Organization.auditLog`: the organization's part of the log.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn organization_audit_log(
    c: &Context<'_>,
    login: &str,
    args: AuditArgs,
    after: Option<String>,
    before: Option<String>,
    first: Option<i32>,
    last: Option<i32>,
) -> async_graphql::Result<CountedConnection<AuditEntryObject>> {
    let scope = AuditScope::Organization(OwnerName::parse(login).gql()?);
    audit_log_of(c, scope, args, after, before, first, last).await
}
