//! HTTP endpoints of the GraphQL API: POST for operations, GET for GraphiQL, and a GET
//! that asks to upgrade for subscriptions over a websocket (`graphql-transport-ws`, and
//! the older `graphql-ws` protocol of subscriptions-transport-ws).
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_graphql::{Data, http::ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::{
    Router,
    extract::{
        FromRequestParts, Request, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, WebSocket},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use futures::{SinkExt, StreamExt};

use crate::{
    auth::{Actor, Credential, credential_from_headers},
    error::DomainError,
    graphql::{Loaders, gql_error, subscriptions::SubscriberCredential},
    server::ShuttingDown,
    state::AppState,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/graphql", get(graphiql_or_subscribe).post(execute))
        .route("/api/graphql", get(graphiql_or_subscribe).post(execute))
}

/// GraphiQL from the binary's own assets (the web UI's), so it works offline; a websocket
/// upgrade request gets the subscription endpoint instead.
async fn graphiql_or_subscribe(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let upgrade_asked = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrade_asked {
        return crate::web::graphiql_page();
    }
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
        Ok(protocol) => protocol,
        Err(status) => {
            return (
                status,
                "a GraphQL websocket needs Sec-WebSocket-Protocol: graphql-transport-ws",
            )
                .into_response();
        }
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let header_credential = credential_from_headers(&parts.headers);
    let shutting_down = parts.extensions.get::<ShuttingDown>().cloned();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            subscribe(socket, state, protocol, header_credential, shutting_down)
        })
}

/// graphql-transport-ws's close code for a refused `connection_init`.
const FORBIDDEN: u16 = 4403;
/// The websocket close code for a server going away (RFC 6455): clients reconnect.
const GOING_AWAY: u16 = 1001;
/// How long a socket may stay open without a `connection_init` (graphql-transport-ws
/// lets the server choose): an idle socket that never says who it is holds nothing.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one websocket. The subscriber is who the `connection_init` payload's
/// `Authorization` names (the key in any case), else the upgrade request's
/// `Authorization` header, else anonymous. A credential that doesn't authenticate closes
/// the socket with 4403 Forbidden. When the server shuts down, the socket closes with
/// 1001 Going Away (the server's shutdown waits for it).
async fn subscribe(
    socket: WebSocket,
    state: AppState,
    protocol: GraphQLProtocol,
    header_credential: Result<Option<Credential>, DomainError>,
    shutting_down: Option<ShuttingDown>,
) {
    let refused = Arc::new(AtomicBool::new(false));
    let initialised = Arc::new(AtomicBool::new(false));
    let domain = state.domain.clone();
    let on_init = {
        let refused = refused.clone();
        let initialised = initialised.clone();
        move |payload: serde_json::Value| async move {
            let credential = init_credential(&payload).unwrap_or(header_credential);
            let authenticated = match credential {
                Ok(None) => Ok((Actor::Anonymous, None)),
                Ok(Some(credential)) => domain
                    .authenticate(&credential)
                    .await
                    .map(|actor| (actor, Some(credential))),
                Err(e) => Err(e),
            };
            match authenticated {
                Ok((actor, credential)) => {
                    let mut data = Data::default();
                    data.insert(Loaders::new(domain, actor.clone()));
                    data.insert(actor);
                    data.insert(SubscriberCredential(credential));
                    initialised.store(true, Ordering::Relaxed);
                    Ok(data)
                }
                Err(e) => {
                    refused.store(true, Ordering::Relaxed);
                    Err(async_graphql::Error::new(e.to_string()))
                }
            }
        }
    };
    let (mut sink, stream) = socket.split();
    // The input ends (and with it the socket) if no connection_init succeeded in time, or
    // when the server shuts down.
    let stopping = Arc::new(AtomicBool::new(false));
    let stream = stream
        .take_until(async move {
            tokio::time::sleep(INIT_TIMEOUT).await;
            if initialised.load(Ordering::Relaxed) {
                std::future::pending::<()>().await;
            }
        })
        .take_until({
            let stopping = stopping.clone();
            async move {
                match shutting_down {
                    Some(shutting_down) => shutting_down.wait().await,
                    None => std::future::pending().await,
                }
                stopping.store(true, Ordering::Relaxed);
            }
        });
    // async-graphql closes a refused connection with 1002; the protocol says 4403.
    let refusing_sink = (&mut sink).with(move |message: Message| {
        let message = match message {
            Message::Close(Some(frame))
                if frame.code == 1002 && refused.load(Ordering::Relaxed) =>
            {
                Message::Close(Some(CloseFrame {
                    code: FORBIDDEN,
                    reason: "Forbidden".into(),
                }))
            }
            other => other,
        };
        futures::future::ready(Ok::<_, axum::Error>(message))
    });
    GraphQLWebSocket::new_with_pair(refusing_sink, stream, state.schema.clone(), protocol)
        .on_connection_init(on_init)
        .serve()
        .await;
    if stopping.load(Ordering::Relaxed) {
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: GOING_AWAY,
                reason: "server shutting down".into(),
            })))
            .await;
    }
}

/// The credential of a `connection_init` payload: `None` when it names none (so the
/// upgrade request's header counts), `Some(Err)` when its `Authorization` is malformed.
fn init_credential(payload: &serde_json::Value) -> Option<Result<Option<Credential>, DomainError>> {
    let value = payload
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))?
        .1;
    let Some(value) = value.as_str() else {
        return Some(Err(DomainError::Unauthenticated(
            "Authorization must be a string".into(),
        )));
    };
    let mut headers = HeaderMap::new();
    match HeaderValue::from_str(value) {
        Ok(v) => headers.insert(header::AUTHORIZATION, v),
        Err(_) => {
            return Some(Err(DomainError::Unauthenticated(
                "malformed Authorization".into(),
            )));
        }
    };
    Some(credential_from_headers(&headers))
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
