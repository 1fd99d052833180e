//! One cap on every request body, lifted only by routes that stream uploads.
//!
//! The cap is applied to the body itself, not to axum's extractors: an extractor that reads
//! the stream directly (async-graphql's does) is bounded too, and a new door is bounded
//! until it says otherwise. The cap is decided when the body is first read, that is after
//! routing, so a route's [`streamed_upload`] layer can lift it. Upload routes enforce their
//! own per-format limits while they stream.
use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use axum::{
    body::{Body, Bytes},
    extract::Request,
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http_body_util::Limited;
use hyper::body::{Frame, SizeHint};

/// Shared between the outer cap and a route's [`streamed_upload`] layer.
#[derive(Clone)]
struct BodyCap {
    lifted: Arc<AtomicBool>,
}

/// Outer layer: caps the request body at `limit` bytes (413 beyond it, whatever the door
/// would have said about a cut-off body).
pub async fn cap_request_body(limit: u64, mut request: Request, next: Next) -> Response {
    let declared_too_large = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > limit);
    let cap = BodyCap {
        lifted: Arc::new(AtomicBool::new(false)),
    };
    let tripped = Arc::new(AtomicBool::new(false));
    request.extensions_mut().insert(cap.clone());
    let request = request.map(|body| {
        Body::new(CappedBody::Unread {
            inner: body,
            limit,
            declared_too_large,
            cap,
            tripped: tripped.clone(),
        })
    });
    let response = next.run(request).await;
    if tripped.load(Ordering::Acquire) && response.status() != StatusCode::PAYLOAD_TOO_LARGE {
        return too_large(limit);
    }
    response
}

fn too_large(limit: u64) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("request body larger than {limit} bytes"),
    )
        .into_response()
}

/// Route layer for streamed uploads (blobs, files, publish documents): lifts the cap of
/// [`cap_request_body`] for this request. The route must bound what it reads itself.
pub async fn streamed_upload(request: Request, next: Next) -> Response {
    if let Some(cap) = request.extensions().get::<BodyCap>() {
        cap.lifted.store(true, Ordering::Release);
    }
    next.run(request).await
}

/// A request body whose limit is settled at its first read.
enum CappedBody {
    Unread {
        inner: Body,
        limit: u64,
        declared_too_large: bool,
        cap: BodyCap,
        tripped: Arc<AtomicBool>,
    },
    Uncapped(Body),
    Capped {
        inner: Limited<Body>,
        tripped: Arc<AtomicBool>,
    },
    /// A body declared larger than the cap: refused without reading a byte of it.
    Refused,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl hyper::body::Body for CappedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Self::Unread {
            inner,
            limit,
            declared_too_large,
            cap,
            tripped,
        } = this
        {
            let inner = std::mem::replace(inner, Body::empty());
            *this = if cap.lifted.load(Ordering::Acquire) {
                Self::Uncapped(inner)
            } else if *declared_too_large {
                tripped.store(true, Ordering::Release);
                Self::Refused
            } else {
                Self::Capped {
                    inner: Limited::new(inner, usize::try_from(*limit).unwrap_or(usize::MAX)),
                    tripped: tripped.clone(),
                }
            };
        }
        match this {
            Self::Uncapped(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Self::Capped { inner, tripped } => {
                let polled = Pin::new(inner).poll_frame(cx);
                if let Poll::Ready(Some(Err(e))) = &polled
                    && e.is::<http_body_util::LengthLimitError>()
                {
                    tripped.store(true, Ordering::Release);
                }
                polled
            }
            Self::Refused => Poll::Ready(Some(Err(Box::new(TooLarge)))),
            Self::Unread { .. } => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Unread { inner, .. } | Self::Uncapped(inner) => inner.is_end_stream(),
            Self::Capped { inner, .. } => inner.is_end_stream(),
            Self::Refused => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Unread { inner, .. } | Self::Uncapped(inner) => inner.size_hint(),
            Self::Capped { inner, .. } => inner.size_hint(),
            Self::Refused => SizeHint::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the request body is larger than the server accepts")]
struct TooLarge;

/// Reads a capped body whole (for tests of the cap).
#[cfg(test)]
async fn read_all(body: Body) -> Result<Bytes, BoxError> {
    use http_body_util::BodyExt;
    Ok(body.collect().await?.to_bytes())
}

#[cfg(test)]
mod tests {
    use axum::{Router, middleware, routing::post};
    use tower::ServiceExt;

    use super::*;

    fn app(limit: u64) -> Router {
        async fn echo_len(body: Body) -> String {
            match read_all(body).await {
                Ok(b) => b.len().to_string(),
                Err(_) => "cut".into(),
            }
        }
        Router::new()
            .route("/small", post(echo_len))
            .route(
                "/upload",
                post(echo_len).layer(middleware::from_fn(streamed_upload)),
            )
            .layer(middleware::from_fn(move |r, n| {
                cap_request_body(limit, r, n)
            }))
    }

    async fn post_to(path: &str, body: Body, length: Option<usize>) -> (StatusCode, String) {
        let mut request = Request::post(path);
        if let Some(n) = length {
            request = request.header(header::CONTENT_LENGTH, n);
        }
        let response = app(16)
            .oneshot(request.body(body).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let text = read_all(response.into_body()).await.expect("body");
        (status, String::from_utf8_lossy(&text).into_owned())
    }

    fn chunked(chunks: usize) -> Body {
        Body::from_stream(futures::stream::iter(
            (0..chunks).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(b"12345678"))),
        ))
    }

    #[tokio::test]
    async fn bodies_over_the_cap_are_refused_with_413() {
        assert_eq!(
            post_to("/small", Body::from("x".repeat(16)), Some(16)).await,
            (StatusCode::OK, "16".into())
        );
        // Declared too large: refused before a byte is read; streamed: cut at the cap.
        let (status, _) = post_to("/small", Body::from("x".repeat(17)), Some(17)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let (status, _) = post_to("/small", chunked(3), None).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn streamed_upload_routes_lift_the_cap() {
        assert_eq!(
            post_to("/upload", chunked(100), None).await,
            (StatusCode::OK, "800".into())
        );
        assert_eq!(
            post_to("/upload", Body::from("x".repeat(100)), Some(100)).await,
            (StatusCode::OK, "100".into())
        );
    }
}
