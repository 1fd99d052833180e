//! Manifest endpoints (`/v2/<name>/manifests/<reference>`), tags, referrers and the
//! catalog.
//!
//! Spec: distribution-spec v1.1, "Pulling manifests", "Pushing manifests", "Content
//! discovery".

use axum::{
    Json,
    body::Body,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::IntoResponse,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    domain::registry::{BlobDigest, ManifestRef},
    error::DomainError,
    state::AppState,
};

use super::errors::*;
use super::manifest::{CONFIG_MAX, MANIFEST_MAX, config_labels, parse_manifest, referrers_index};
use super::names::{parse_digest, parse_reference};
// `header` is both the door's header-pair helper and `http::header` (two namespaces).
use super::{Ctx, OciResult, auth::caller, header, with_api_version};

#[derive(Deserialize)]
pub(super) struct Paging {
    n: Option<String>,
    last: Option<String>,
}

/// A page size `n`: a number of results, or distribution's 400 in the spec's error shape.
pub(super) fn page_size(n: Option<&str>) -> Result<Option<u64>, OciError> {
    n.map(|n| {
        n.parse::<u64>().map_err(|_| {
            OciError::new(
                PAGINATION_NUMBER_INVALID,
                format!("n must be a number of results (0 or more), not {n:?}"),
            )
        })
    })
    .transpose()
}

/// `GET /v2/_catalog`: the images the caller may read, paginated.
pub(super) async fn catalog(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<Paging>,
) -> OciResult {
    let who = caller(&state, &headers, Some("registry:catalog:*")).await?;
    let n = page_size(p.n.as_deref())?.unwrap_or(100).min(1000);
    let (names, more) = state
        .domain
        .catalog(&who.actor, n, p.last.as_deref())
        .await?;
    let mut response = Json(json!({"repositories": names})).into_response();
    if more && let Some(last) = names.last() {
        let link = format!("</v2/_catalog?n={n}&last={last}>; rel=\"next\"");
        if let Ok(v) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(with_api_version(response))
}

impl Ctx<'_> {
    pub(super) async fn get_manifest(&self, reference: &str, count: bool) -> OciResult {
        // Nothing can be stored under a reference that is neither a tag nor a digest, so a
        // pull of one is of a manifest that isn't there: 404 MANIFEST_UNKNOWN, as the
        // spec's conformance suite expects. (A push by such a reference stays 400.)
        let reference = parse_reference(reference).map_err(|e| {
            OciError::new(MANIFEST_UNKNOWN, format!("no such manifest: {}", e.detail))
        })?;
        let manifest = self
            .state
            .domain
            .get_manifest(self.actor(), self.image, &reference, count)
            .await
            .map_err(|e| OciError::from_domain(e, MANIFEST_UNKNOWN, MANIFEST_INVALID))?;
        let headers = [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_str(&manifest.media_type)
                    .unwrap_or(HeaderValue::from_static("application/json")),
            ),
            (
                header::CONTENT_LENGTH,
                HeaderValue::from(manifest.bytes.len()),
            ),
            (
                header::ETAG,
                HeaderValue::from_str(&format!("\"{}\"", manifest.digest))
                    .unwrap_or(HeaderValue::from_static("")),
            ),
        ];
        // Asked for by a sha512 digest: answered with that digest (clients compare).
        let digest = match &reference {
            ManifestRef::Digest(d @ BlobDigest::Sha512(_)) => d.to_string(),
            _ => manifest.digest.clone(),
        };
        let digest_header = header("docker-content-digest", &digest);
        let body = if count {
            Body::from(manifest.bytes)
        } else {
            Body::empty()
        };
        Ok((StatusCode::OK, headers, [digest_header], body).into_response())
    }

    pub(super) async fn put_manifest(
        &self,
        reference: &str,
        tags: Vec<String>,
        body: Body,
    ) -> OciResult {
        let reference = parse_reference(reference)?;
        // `?tag=` (distribution-spec 1.1.1) names tags, never digests.
        for t in &tags {
            if !matches!(parse_reference(t)?, ManifestRef::Tag(_)) {
                return Err(OciError::new(
                    MANIFEST_INVALID,
                    format!("tag parameter {t:?} is not a tag"),
                ));
            }
        }
        let applied = tags.clone();
        let bytes = axum::body::to_bytes(body, MANIFEST_MAX)
            .await
            .map_err(|_| OciError {
                status: 413,
                ..OciError::new(
                    SIZE_INVALID,
                    format!("manifests are limited to {MANIFEST_MAX} bytes"),
                )
            })?;
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let parsed = parse_manifest(&bytes, content_type)?;
        let domain = &self.state.domain;
        // An image's config labels describe the package (annotations take precedence).
        let labels = match parsed.config() {
            Some(config) => domain
                .read_config_blob(self.actor(), self.image, config, CONFIG_MAX)
                .await?
                .map(|c| config_labels(&c))
                .unwrap_or_default(),
            None => Default::default(),
        };
        let pushed = domain
            .push_manifest(
                self.actor(),
                self.image,
                &reference,
                parsed.into_image_manifest(bytes, &labels),
                tags,
            )
            .await
            .map_err(|e| OciError::from_domain(e, MANIFEST_BLOB_UNKNOWN, MANIFEST_INVALID))?;
        let (digest, subject) = (pushed.digest, pushed.subject);
        // Pushed by a sha512 digest: answered with that digest.
        let digest = match &reference {
            ManifestRef::Digest(d @ BlobDigest::Sha512(_)) => d.to_string(),
            _ => digest,
        };
        let mut response = (
            StatusCode::CREATED,
            [
                header("location", &format!("/v2/{}/manifests/{digest}", self.name)),
                header("docker-content-digest", &digest),
            ],
        )
            .into_response();
        // Each tag a `?tag=` parameter applied is answered in an `OCI-Tag` header.
        for t in &applied {
            if let Ok(v) = HeaderValue::from_str(t) {
                response.headers_mut().append("oci-tag", v);
            }
        }
        if let Some(subject) = subject {
            response.headers_mut().insert(
                "oci-subject",
                HeaderValue::from_str(&subject).unwrap_or(HeaderValue::from_static("")),
            );
        }
        Ok(response)
    }

    pub(super) async fn delete_manifest(&self, reference: &str) -> OciResult {
        let reference = parse_reference(reference)?;
        self.state
            .domain
            .delete_manifest(self.actor(), self.image, &reference)
            .await
            .map_err(|e| OciError::from_domain(e, MANIFEST_UNKNOWN, MANIFEST_INVALID))?;
        Ok(StatusCode::ACCEPTED.into_response())
    }

    pub(super) async fn tags(&self, n: Option<String>, last: Option<String>) -> OciResult {
        let n = page_size(n.as_deref())?;
        let (tags, more) = self
            .state
            .domain
            .list_image_tags(self.actor(), self.image, n, last.as_deref())
            .await?;
        let mut response = Json(json!({"name": self.name, "tags": tags})).into_response();
        if more && let (Some(n), Some(last)) = (n, tags.last()) {
            let link = format!(
                "</v2/{}/tags/list?n={n}&last={last}>; rel=\"next\"",
                self.name
            );
            if let Ok(v) = HeaderValue::from_str(&link) {
                response.headers_mut().insert(header::LINK, v);
            }
        }
        Ok(response)
    }

    pub(super) async fn referrers(&self, d: &str, artifact_type: Option<String>) -> OciResult {
        let d = parse_digest(d)?;
        let referrers = self
            .state
            .domain
            .referrers(self.actor(), self.image, &d, artifact_type.as_deref())
            .await?;
        let mut response = (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(super::manifest::OCI_INDEX),
            )],
            serde_json::to_vec(&referrers_index(&referrers)).map_err(DomainError::internal)?,
        )
            .into_response();
        if artifact_type.is_some() {
            response.headers_mut().insert(
                "oci-filters-applied",
                HeaderValue::from_static("artifactType"),
            );
        }
        Ok(response)
    }
}
