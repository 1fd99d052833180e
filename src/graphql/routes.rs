//! HTTP endpoints of the GraphQL API: POST for operations, GET for GraphiQL.
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
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
            let response = (StatusCode::UNAUTHORIZED, GraphQLResponse::from(body)).into_response();
            return with_content_type(&headers, response);
        }
    };
    let loaders = Loaders::new(state.domain.clone(), actor.clone());
    let request = request.into_inner().data(actor).data(loaders);
    let response = GraphQLResponse::from(state.schema.execute(request).await).into_response();
    with_content_type(&headers, response)
}

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// GraphQL over HTTP, "Accept": `application/graphql-response+json` only when the request
/// asks for it; otherwise `application/json`, which every client (octokit included, and
/// GitHub's own API) parses.
fn with_content_type(request: &HeaderMap, mut response: Response) -> Response {
    let asked = request
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| {
            media
                .split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(GRAPHQL_RESPONSE_JSON))
        });
    let content_type = if asked {
        HeaderValue::from_static(GRAPHQL_RESPONSE_JSON)
    } else {
        HeaderValue::from_static("application/json")
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    response
}
