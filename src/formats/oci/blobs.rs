//! Blob endpoints: `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>` and the upload
//! protocol (`POST`, `PATCH`, `PUT`, `GET`, `DELETE` on `/v2/<name>/blobs/uploads/`).
//!
//! Spec: distribution-spec v1.1, "Pulling blobs", "Pushing blobs", "Deleting blobs".

use axum::{
    body::Body,
    http::{HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

use crate::{
    domain::{download::ByteRange, registry::ImageAction},
    error::DomainError,
    formats::kit::http::{content_length, range_header},
};

use super::errors::*;
use super::names::{parse_digest, parse_image};
// `header` is both the door's header-pair helper and `http::header` (two namespaces).
use super::{Ctx, OciResult, header};

/// Chunks smaller than this (but the last) would be refused; advertised as
/// `OCI-Chunk-Min-Length`. Any size is taken.
pub(super) const CHUNK_MIN: u64 = 0;

impl Ctx<'_> {
    pub(super) async fn get_blob(&self, d: &str, head: bool) -> OciResult {
        let d = parse_digest(d)?;
        let not_found = |e| OciError::from_domain(e, BLOB_UNKNOWN, DIGEST_INVALID);
        if head {
            let info = self
                .state
                .domain
                .stat_image_blob(self.actor(), self.image, &d)
                .await
                .map_err(not_found)?;
            return Ok((
                StatusCode::OK,
                [
                    (header::CONTENT_LENGTH, HeaderValue::from(info.size)),
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/octet-stream"),
                    ),
                ],
                [header("docker-content-digest", &info.digest)],
            )
                .into_response());
        }
        let range: Option<ByteRange> = range_header(self.headers);
        let opened = self
            .state
            .domain
            .open_image_blob(self.actor(), self.image, &d, range)
            .await;
        let (info, read) = match opened {
            Ok(found) => found,
            // A range outside the blob: RFC 9110's 416 with `Content-Range: bytes */size`,
            // not an upload error.
            Err(DomainError::RangeNotSatisfiable { size }) => {
                return Ok(crate::formats::kit::http::range_not_satisfiable(size));
            }
            Err(e) => return Err(not_found(e)),
        };
        let partial = read.partial;
        let mut response = (
            if partial {
                StatusCode::PARTIAL_CONTENT
            } else {
                StatusCode::OK
            },
            [
                (
                    header::CONTENT_LENGTH,
                    HeaderValue::from(read.range.end - read.range.start),
                ),
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                ),
                (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
            ],
            [header("docker-content-digest", &info.digest)],
            Body::from_stream(read.stream.zero_copy()),
        )
            .into_response();
        if partial {
            let value = format!(
                "bytes {}-{}/{}",
                read.range.start,
                read.range.end - 1,
                read.size
            );
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("")),
            );
        }
        Ok(response)
    }

    pub(super) async fn delete_blob(&self, d: &str) -> OciResult {
        let d = parse_digest(d)?;
        self.state
            .domain
            .delete_image_blob(self.actor(), self.image, &d)
            .await
            .map_err(|e| OciError::from_domain(e, BLOB_UNKNOWN, DIGEST_INVALID))?;
        Ok(StatusCode::ACCEPTED.into_response())
    }

    pub(super) fn blob_created(&self, digest: &str) -> Response {
        (
            StatusCode::CREATED,
            [
                header("location", &format!("/v2/{}/blobs/{digest}", self.name)),
                header("docker-content-digest", digest),
            ],
        )
            .into_response()
    }

    pub(super) fn upload_accepted(&self, status: StatusCode, id: &str, size: u64) -> Response {
        let range = if size == 0 {
            "0-0".to_string()
        } else {
            format!("0-{}", size - 1)
        };
        (
            status,
            [
                header("location", &format!("/v2/{}/blobs/uploads/{id}", self.name)),
                header("docker-upload-uuid", id),
                header("range", &range),
                header("oci-chunk-min-length", &CHUNK_MIN.to_string()),
            ],
        )
            .into_response()
    }

    pub(super) async fn start_upload(
        &self,
        d: Option<String>,
        mount: Option<String>,
        from: Option<String>,
        body: Body,
    ) -> OciResult {
        let domain = &self.state.domain;
        let upload_err = |e| OciError::from_domain(e, BLOB_UPLOAD_UNKNOWN, BLOB_UPLOAD_INVALID);
        if let (Some(m), Some(from)) = (&mount, &from) {
            let d = parse_digest(m)?;
            // A source the caller can't read (by its role, or by what its bearer token was
            // granted), or without the blob: a plain upload instead.
            if let Ok(from_image) = parse_image(from)
                && self.who.allows(from, ImageAction::Pull)
                && let Some(info) = domain
                    .mount_blob(self.actor(), self.image, &from_image, &d)
                    .await
                    .map_err(upload_err)?
            {
                return Ok(self.blob_created(&info.digest));
            }
        }
        if let Some(d) = d {
            let d = parse_digest(&d)?;
            let info = domain
                .push_blob(
                    self.actor(),
                    self.image,
                    &d,
                    body.into_data_stream(),
                    content_length(self.headers),
                )
                .await
                .map_err(upload_err)?;
            return Ok(self.blob_created(&info.digest));
        }
        let id = domain
            .start_upload(self.actor(), self.image)
            .await
            .map_err(upload_err)?;
        Ok(self.upload_accepted(StatusCode::ACCEPTED, &id, 0))
    }

    pub(super) async fn patch_upload(&self, id: &str, body: Body) -> OciResult {
        let start = self.content_range_start()?;
        let size = self
            .state
            .domain
            .upload_chunk(self.actor(), self.image, id, start, body.into_data_stream())
            .await
            .map_err(|e| OciError::from_domain(e, BLOB_UPLOAD_UNKNOWN, BLOB_UPLOAD_INVALID))?;
        Ok(self.upload_accepted(StatusCode::ACCEPTED, id, size))
    }

    /// Where a chunk says it starts (`Content-Range: a-b`, also spelled `bytes a-b`), if
    /// it says; a `Content-Range` that names no start is refused with 416.
    fn content_range_start(&self) -> Result<Option<u64>, OciError> {
        let Some(range) = self.headers.get(header::CONTENT_RANGE) else {
            return Ok(None);
        };
        let start = range.to_str().ok().and_then(|range| {
            range
                .trim()
                .trim_start_matches("bytes ")
                .trim_start_matches("bytes=")
                .split('-')
                .next()
                .and_then(|s| s.trim().parse::<u64>().ok())
        });
        start.map(Some).ok_or_else(|| OciError {
            status: 416,
            ..OciError::new(BLOB_UPLOAD_INVALID, "malformed Content-Range")
        })
    }

    /// The closing `PUT` of an upload, with an optional last chunk. A last chunk whose
    /// `Content-Range` doesn't start where the upload stands is refused with 416 before
    /// anything is appended (the session stays, so the client can resume).
    pub(super) async fn put_upload(&self, id: &str, d: Option<String>, body: Body) -> OciResult {
        let d = parse_digest(&d.ok_or_else(|| {
            OciError::new(DIGEST_INVALID, "the digest query parameter is required")
        })?)?;
        let start = self.content_range_start()?;
        let has_body = content_length(self.headers).is_none_or(|n| n > 0);
        let last = has_body.then(|| body.into_data_stream());
        let info = self
            .state
            .domain
            .finish_upload(self.actor(), self.image, id, &d, start, last)
            .await
            .map_err(|e| OciError::from_domain(e, BLOB_UPLOAD_UNKNOWN, BLOB_UPLOAD_INVALID))?;
        Ok(self.blob_created(&info.digest))
    }

    pub(super) async fn upload_status(&self, id: &str) -> OciResult {
        let size = self
            .state
            .domain
            .upload_status(self.actor(), self.image, id)
            .await
            .map_err(|e| OciError::from_domain(e, BLOB_UPLOAD_UNKNOWN, BLOB_UPLOAD_INVALID))?;
        Ok(self.upload_accepted(StatusCode::NO_CONTENT, id, size))
    }

    pub(super) async fn cancel_upload(&self, id: &str) -> OciResult {
        self.state
            .domain
            .cancel_upload(self.actor(), self.image, id)
            .await
            .map_err(|e| OciError::from_domain(e, BLOB_UPLOAD_UNKNOWN, BLOB_UPLOAD_INVALID))?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}
