//! The GraphQL API (`/graphql`, `/api/graphql`). Resolvers are doors like any other: they
//! decode input, take the actor from the request, call one domain method and return our
//! own view types (never database models). One `MergedObject` part per domain area;
//! DataLoaders are created per request.
use std::sync::Arc;

use async_graphql::{ErrorExtensions, MergedObject, Schema};
use axum::Router;

use crate::{auth::Actor, domain::Domain, error::DomainError, state::AppState};

mod accounts;
mod admission;
mod audit;
mod connection;
mod ids;
mod loaders;
mod packages;
mod retention;
mod routes;
mod sessions;
mod subscriptions;
mod tokens;
mod types;
mod usage;
mod webhooks;

pub use loaders::Loaders;

#[derive(MergedObject, Default)]
pub struct QueryRoot(
    accounts::AccountQuery,
    packages::PackageQuery,
    ids::NodeQuery,
    sessions::SessionQuery,
    webhooks::WebhookQuery,
    retention::RetentionQuery,
    audit::AuditQuery,
);

#[derive(MergedObject, Default)]
pub struct MutationRoot(
    accounts::AccountMutation,
    packages::PackageMutation,
    tokens::TokenMutation,
    sessions::SessionMutation,
    usage::UsageMutation,
    webhooks::WebhookMutation,
    retention::RetentionMutation,
);

pub type PackyardSchema = Schema<QueryRoot, MutationRoot, subscriptions::SubscriptionRoot>;

/// A depth limit and GitHub's node limit (`admission`) keep one request from asking for
/// the whole database.
const MAX_DEPTH: usize = 16;

fn builder()
-> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, subscriptions::SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        subscriptions::SubscriptionRoot,
    )
    .limit_depth(MAX_DEPTH)
    .extension(admission::GitHubAdmission)
}

pub fn build_schema(domain: Arc<Domain>) -> PackyardSchema {
    builder().data(domain).finish()
}

/// The SDL of the schema, as `packyard export-schema` prints it and `schema.graphql` holds.
pub fn schema_sdl() -> String {
    builder().finish().sdl()
}

pub fn routes() -> Router<AppState> {
    routes::routes()
}

/// A domain error as a GraphQL error with `extensions.code`.
pub(crate) fn gql_error(err: DomainError) -> async_graphql::Error {
    let code = err.code();
    let message = match &err {
        DomainError::AlreadyExists { message: m, .. } => m.clone(),
        other => other.to_string(),
    };
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

/// `?` on domain results inside resolvers.
pub(crate) trait GqlResult<T> {
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResult<T> for Result<T, DomainError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(gql_error)
    }
}

/// What every resolver takes from the context.
pub(crate) struct Ctx<'a> {
    pub domain: &'a Arc<Domain>,
    pub actor: &'a Actor,
    pub loaders: &'a Loaders,
}

pub(crate) fn ctx<'a>(c: &async_graphql::Context<'a>) -> async_graphql::Result<Ctx<'a>> {
    Ok(Ctx {
        domain: c.data::<Arc<Domain>>()?,
        actor: c.data::<Actor>()?,
        loaders: c.data::<Loaders>()?,
    })
}
