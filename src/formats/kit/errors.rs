//! One renderer of a `DomainError` for every door: the status, the door's 401 challenge,
//! `Retry-After` and the 416's `Content-Range` are set here once, so a door only says how
//! its clients expect the body to look.
use std::{fmt, marker::PhantomData};

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{error::DomainError, formats::kit::http::unsatisfied_content_range};

/// How a door's clients expect errors: the challenge on a 401 and the body's shape.
pub trait Door: 'static {
    /// `WWW-Authenticate` on every 401 (clients only send credentials after a challenge),
    /// or `None` where the door's model sends none (GitHub's REST).
    const CHALLENGE: Option<&'static str>;

    /// The body for an error; the status and headers are the kit's.
    fn body(err: &DomainError) -> Response;

    /// The status, when the door's clients need another than `DomainError::status`.
    fn status(err: &DomainError) -> StatusCode {
        default_status(err)
    }
}

/// The status most doors answer for an error kind.
pub fn default_status(err: &DomainError) -> StatusCode {
    StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A domain error on its way out of door `D`. `CurrentActor<DoorError<D>>` answers bad
/// credentials in the door's shape too.
pub struct DoorError<D: Door>(pub DomainError, PhantomData<fn() -> D>);

impl<D: Door> DoorError<D> {
    pub fn new(err: DomainError) -> Self {
        Self(err, PhantomData)
    }
}

impl<D: Door> From<DomainError> for DoorError<D> {
    fn from(err: DomainError) -> Self {
        Self::new(err)
    }
}

impl<D: Door> fmt::Debug for DoorError<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DoorError").field(&self.0).finish()
    }
}

impl<D: Door> IntoResponse for DoorError<D> {
    fn into_response(self) -> Response {
        let err = self.0;
        // Internal details were logged where the error was made; the body never has them
        // (`Internal` displays as "internal error", and `D::body` renders that text).
        let mut response = D::body(&err);
        let status = D::status(&err);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        if let DomainError::RangeNotSatisfiable { size } = err {
            // RFC 9110: a 416 says how big the representation is.
            headers.insert(header::CONTENT_RANGE, unsatisfied_content_range(size));
        }
        if let Some(secs) = err.retry_after_secs() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED
            && let Some(challenge) = D::CHALLENGE
        {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// `{key: message}` as JSON, the body most JSON doors send (`{"error": ..}`, `{"message": ..}`).
pub fn json_message(key: &'static str, message: String) -> Response {
    Json(json!({ key: message })).into_response()
}

/// The message as `text/plain`, for doors whose clients print the body as it is.
pub fn plain_text(message: String) -> Response {
    message.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{DomainError, What};

    struct Dummy;

    impl Door for Dummy {
        const CHALLENGE: Option<&'static str> = Some("Basic realm=\"test\"");

        fn body(err: &DomainError) -> Response {
            json_message("error", err.to_string())
        }
    }

    struct Silent;

    impl Door for Silent {
        const CHALLENGE: Option<&'static str> = None;

        fn body(err: &DomainError) -> Response {
            plain_text(err.to_string())
        }

        fn status(err: &DomainError) -> StatusCode {
            match err {
                DomainError::NotFound { .. } => StatusCode::GONE,
                other => default_status(other),
            }
        }
    }

    async fn body_text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn a_401_carries_the_door_challenge() {
        let response =
            DoorError::<Dummy>::from(DomainError::Unauthenticated("log in".into())).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"test\""
        );
        assert_eq!(body_text(response).await, r#"{"error":"log in"}"#);

        let silent = DoorError::<Silent>::from(DomainError::Unauthenticated("log in".into()))
            .into_response();
        assert_eq!(silent.status(), StatusCode::UNAUTHORIZED);
        assert!(silent.headers().get(header::WWW_AUTHENTICATE).is_none());
    }

    #[tokio::test]
    async fn a_416_carries_content_range() {
        let response = DoorError::<Silent>::from(DomainError::RangeNotSatisfiable { size: 14 })
            .into_response();
        assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(response.headers()[header::CONTENT_RANGE], "bytes */14");
        assert!(body_text(response).await.contains("size 14"));
    }

    #[tokio::test]
    async fn a_500_says_only_internal_error() {
        let response =
            DoorError::<Dummy>::from(DomainError::internal("database: secret table t_users"))
                .into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body_text(response).await, r#"{"error":"internal error"}"#);
    }

    #[tokio::test]
    async fn a_throttle_says_when_to_retry_and_the_door_may_pick_the_status() {
        let response = DoorError::<Dummy>::from(DomainError::TooManyRequests {
            message: "slow down".into(),
            retry_after_secs: 7,
        })
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");

        let gone = DoorError::<Silent>::from(DomainError::not_found(What::Package, "package a/b"))
            .into_response();
        assert_eq!(gone.status(), StatusCode::GONE);
        assert_eq!(body_text(gone).await, "package a/b not found");
    }
}
