//! Packyard: a self-hosted package registry. `build_app` assembles the one router every
//! door hangs off, so the binary and the tests run the same server.

pub mod auth;
pub mod config;
pub mod domain;
pub mod error;
pub mod formats;
pub mod graphql;
pub mod jobs;
pub mod ops;
pub mod rest;
pub mod server;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod web;

use std::sync::Arc;

use axum::{Router, middleware, routing::get};
use tower_http::cors::CorsLayer;

use crate::{config::Config, domain::Domain, state::AppState};

/// Opens the domain (database, migrations, blob store) and builds the router.
pub async fn build_app(config: Config) -> Result<(Router, AppState), String> {
    let config = Arc::new(config);
    let domain = Arc::new(Domain::open(config.clone()).await?);
    let schema = graphql::build_schema(domain.clone());
    let state = AppState {
        domain,
        config,
        schema,
    };
    Ok((router(state.clone()), state))
}

fn router(state: AppState) -> Router {
    let body_limit = state.config.limits.request_body_bytes;
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .merge(graphql::routes())
        .merge(formats::routes())
        .merge(rest::routes())
        .merge(web::routes())
        .layer(CorsLayer::permissive().allow_private_network(false))
        // Every body is capped unless its route streams uploads (and bounds them itself).
        .layer(middleware::from_fn(move |request, next| {
            server::body_limit::cap_request_body(body_limit, request, next)
        }))
        .layer(middleware::from_fn(close_after_refused_upload))
        .layer(middleware::from_fn(telemetry::request_span))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_context,
        ))
        .with_state(state)
}

/// Runs the request inside its `domain::audit::RequestContext` (the client's address, for
/// the audit trail), taken from the connection and, behind a trusted proxy, its header.
async fn request_context(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let source_ip = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| {
            server::forwarded::client_ip(
                info.0.ip(),
                request.headers(),
                &state.config.trusted_proxies,
            )
        });
    let context = domain::audit::RequestContext { source_ip };
    domain::audit::within_request(context, next.run(request)).await
}

/// A request refused before its body was read (too large, not allowed) leaves the rest of
/// the body on the connection: the server drops the connection after the answer, and says
/// so, so a client doesn't send its next request down a connection about to close.
async fn close_after_refused_upload(
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let has_body = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .is_some_and(|v| v != "0")
        || request
            .headers()
            .contains_key(axum::http::header::TRANSFER_ENCODING);
    let mut response = next.run(request).await;
    if has_body && (response.status().is_client_error() || response.status().is_server_error()) {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// Serves until ctrl-c / SIGTERM, running background jobs beside the server.
pub async fn serve(mut config: Config) -> Result<(), String> {
    let listen = config.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("listen on {listen}: {e}"))?;
    // Port 0 asks for any free port: the URLs handed out use the one we got.
    let listen = listener
        .local_addr()
        .map_err(|e| format!("listen on {listen}: {e}"))?;
    if !config.public_url_given
        && config.listen.port() == 0
        && let Ok(url) = url::Url::parse(&format!("http://{listen}"))
    {
        config.public_url = url;
    }
    let (app, state) = build_app(config).await?;
    let jobs = jobs::spawn(state.domain.clone());
    tracing::info!(%listen, public_url = %state.config.public_url, "packyard serving");
    server::serve(
        listener,
        app,
        state.config.connections.clone(),
        shutdown_signal(),
    )
    .await;
    // Let a flush in progress finish (aborting it would lose the counts it took), then
    // write what was counted since.
    jobs.stop().await;
    if let Err(e) = state.domain.flush_downloads().await {
        tracing::warn!(error = %e, "flushing download counts at shutdown");
    }
    if let Err(e) = state.domain.flush_usage().await {
        tracing::warn!(error = %e, "flushing transfer usage at shutdown");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// The parsers a client's bytes reach, for the fuzz targets in `fuzz/` (a crate outside
/// the workspace): raw bytes in, nothing out. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::formats::{
        maven::fuzzing as maven, npm::fuzzing as npm, nuget::fuzzing as nuget, oci::fuzzing as oci,
        rubygems::fuzzing as rubygems,
    };
}
