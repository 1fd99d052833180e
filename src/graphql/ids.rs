//! Global node IDs (`base64("Type:id")`) and the `node` query.
use async_graphql::{Context, ID, Interface, Object};
use base64::Engine;

use crate::{
    error::DomainError,
    graphql::{
        GqlResult,
        accounts::{OrganizationObject, RepositoryObject, TeamObject, UserObject},
        ctx, gql_error,
        packages::{PackageObject, PackageVersionObject},
        tokens::AccessTokenObject,
    },
};

/// An object with a global ID.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
#[expect(
    clippy::large_enum_variant,
    reason = "one node per `node(id:)` lookup, returned at once"
)]
pub enum Node {
    User(UserObject),
    Organization(OrganizationObject),
    Team(TeamObject),
    Repository(RepositoryObject),
    Package(PackageObject),
    PackageVersion(PackageVersionObject),
    AccessToken(AccessTokenObject),
}

pub fn encode(kind: &str, id: i64) -> ID {
    ID(base64::engine::general_purpose::STANDARD.encode(format!("{kind}:{id}")))
}

/// Decodes a node ID of the expected kind.
pub fn decode(id: &ID, kind: &str) -> async_graphql::Result<i64> {
    let (k, n) = split(id).ok_or_else(|| bad(id))?;
    if k != kind {
        return Err(gql_error(DomainError::invalid(format!(
            "expected a {kind} ID, got a {k} ID"
        ))));
    }
    Ok(n)
}

fn split(id: &ID) -> Option<(String, i64)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(id.as_str())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (kind, n) = text.split_once(':')?;
    Some((kind.to_string(), n.parse().ok()?))
}

fn bad(id: &ID) -> async_graphql::Error {
    gql_error(DomainError::invalid(format!(
        "malformed ID {:?}",
        id.as_str()
    )))
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetches any object by its global ID.
    async fn node(&self, ctx_: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        let c = ctx(ctx_)?;
        let (kind, n) = split(&id).ok_or_else(|| bad(&id))?;
        let found = match kind.as_str() {
            "User" | "Organization" => {
                let account = c.domain.account_by_id(n).await.gql()?;
                Some(crate::graphql::accounts::account_node(account))
            }
            "Team" => match c.domain.teams_by_ids(&[n]).await.gql()?.pop() {
                Some(t)
                    if c.domain
                        .can_see_members(c.actor, t.organization_id)
                        .await
                        .gql()? =>
                {
                    Some(Node::Team(TeamObject(t)))
                }
                _ => None,
            },
            "Repository" => {
                let repo = c.domain.repository_by_id(n).await.gql()?;
                if c.domain.can_see_repository(c.actor, &repo).await.gql()? {
                    Some(Node::Repository(RepositoryObject(repo)))
                } else {
                    None
                }
            }
            "Package" => Some(Node::Package(PackageObject(
                c.domain.package_by_id(c.actor, n).await.gql()?,
            ))),
            "PackageVersion" => Some(Node::PackageVersion(PackageVersionObject(
                c.domain.version_by_id(c.actor, n).await.gql()?,
            ))),
            "AccessToken" => c
                .domain
                .list_access_tokens(c.actor)
                .await
                .gql()?
                .into_iter()
                .find(|t| t.id == n)
                .map(|t| Node::AccessToken(AccessTokenObject(t))),
            _ => return Err(bad(&id)),
        };
        Ok(found)
    }
}
