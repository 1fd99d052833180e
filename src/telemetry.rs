//! Logging: one span per request (method, path, status, latency, actor), and one line at
//! `info` when it ends (`RUST_LOG=warn` turns them off).
use std::{borrow::Cow, time::Instant};

use axum::{extract::Request, middleware::Next, response::Response};
use tracing::{Instrument, Span, field};

use crate::auth::{Actor, TOKEN_PREFIX};

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
        path = %loggable_path(request.uri().path()),
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
            tracing::info!("request done");
        }
    });
    response
}

/// A request path as it may be logged: secrets some clients put in paths are redacted
/// (npm logout's `/-/user/token/TOKEN`, `npm token revoke TOKEN`'s `/tokens/token/TOKEN`),
/// and so is any segment that is a Packyard token, whichever route it reached.
pub fn loggable_path(path: &str) -> Cow<'_, str> {
    let segments: Vec<&str> = path.split('/').collect();
    let secret = |i: usize| {
        let segment = segments[i];
        let after = |a: &str, b: &str| i >= 2 && segments[i - 2] == a && segments[i - 1] == b;
        segment.starts_with(TOKEN_PREFIX)
            || (!segment.is_empty() && (after("user", "token") || after("tokens", "token")))
    };
    if !(0..segments.len()).any(secret) {
        return Cow::Borrowed(path);
    }
    let redacted: Vec<&str> = (0..segments.len())
        .map(|i| if secret(i) { "[redacted]" } else { segments[i] })
        .collect();
    Cow::Owned(redacted.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_paths_are_redacted() {
        assert_eq!(
            loggable_path("/npm/-/user/token/pky_secret"),
            "/npm/-/user/token/[redacted]"
        );
        assert_eq!(
            loggable_path("/npm/-/user/token/not-ours"),
            "/npm/-/user/token/[redacted]"
        );
        assert_eq!(
            loggable_path("/npm/-/npm/v1/tokens/token/abc123"),
            "/npm/-/npm/v1/tokens/token/[redacted]"
        );
        assert_eq!(
            loggable_path("/generic/o/p/1.0/pky_leaked.txt"),
            "/generic/o/p/1.0/[redacted]"
        );
        assert_eq!(loggable_path("/npm/@o%2fp"), "/npm/@o%2fp");
        assert_eq!(loggable_path("/npm/-/user/token/"), "/npm/-/user/token/");
    }
}
