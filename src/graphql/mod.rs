//! The GraphQL API (`/graphql`, `/api/graphql`). Resolvers are doors like any other: they
//! decode input, take the actor from the request, call one domain method and return our
//! own view types. One `MergedObject` part per domain area.
use std::sync::Arc;

use async_graphql::{EmptySubscription, MergedObject, Schema};
use axum::Router;

use crate::{domain::Domain, state::AppState};

mod routes;

#[derive(MergedObject, Default)]
pub struct QueryRoot();

#[derive(MergedObject, Default)]
pub struct MutationRoot();

pub type PackyardSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

pub fn build_schema(domain: Arc<Domain>) -> PackyardSchema {
    Schema::build(QueryRoot::default(), MutationRoot::default(), EmptySubscription).data(domain).finish()
}

pub fn routes() -> Router<AppState> {
    routes::routes()
}

/// The SDL of the schema, as `packyard export-schema` prints it and `schema.graphql` holds.
pub fn schema_sdl() -> String {
    Schema::build(QueryRoot::default(), MutationRoot::default(), EmptySubscription).finish().sdl()
}
