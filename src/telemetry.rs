//! Logging: one span per request (method, path, status, latency, actor).
use std::time::Instant;

use axum::{extract::Request, middleware::Next, response::Response};
use tracing::{Instrument, Span, field};

use crate::auth::Actor;

/// Lets the auth extractor record the actor on the request's span.
#[derive(Clone)]
pub struct ActorSlot(Span);

impl ActorSlot {
    pub fn set(&self, actor: &Actor) {
        self.0.record("actor", field::display(actor.describe()));
    }
}

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Wraps each request in a span and logs one line when it ends.
pub async fn request_span(mut request: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        actor = field::Empty,
        status = field::Empty,
        latency_ms = field::Empty,
    );
    request.extensions_mut().insert(ActorSlot(span.clone()));
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    span.record("status", response.status().as_u16());
    span.record("latency_ms", started.elapsed().as_millis() as u64);
    span.in_scope(|| {
        if response.status().is_server_error() {
            tracing::error!("request failed");
        } else {
            tracing::debug!("request done");
        }
    });
    response
}
