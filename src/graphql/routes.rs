//! HTTP endpoints of the GraphQL API: POST for operations, GET for GraphiQL.
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{
    auth::{Actor, credential_from_headers},
    graphql::{Loaders, gql_error},
    state::AppState,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/graphql", get(graphiql).post(execute))
        .route("/api/graphql", get(graphiql).post(execute))
}

/// GraphiQL from the binary's own assets (the web UI's), so it works offline.
async fn graphiql() -> Response {
    crate::web::graphiql_page()
}

/// Runs one operation as the request's actor, with fresh DataLoaders.
async fn execute(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let actor = match credential_from_headers(&headers) {
        Ok(None) => Ok(Actor::Anonymous),
        Ok(Some(credential)) => state.domain.authenticate(&credential).await,
        Err(e) => Err(e),
    };
    let actor = match actor {
        Ok(actor) => actor,
        Err(err) => {
            let body = async_graphql::Response::from_errors(vec![
                gql_error(err).into_server_error(Default::default()),
            ]);
            return (StatusCode::UNAUTHORIZED, GraphQLResponse::from(body)).into_response();
        }
    };
    let loaders = Loaders::new(state.domain.clone(), actor.clone());
    let request = request.into_inner().data(actor).data(loaders);
    GraphQLResponse::from(state.schema.execute(request).await).into_response()
}
