//! The OCI distribution API (`/v2/...`) and the Docker token flow (`/v2/token`), so
//! `docker`, `podman`, `skopeo` and `buildah` push and pull unchanged.
//!
//! Spec: opencontainers/distribution-spec v1.1 (`spec.md`); token flow: the Docker
//! registry token authentication spec.

mod errors;

use axum::{
    Json, Router,
    body::Body,
    extract::{DefaultBodyLimit, Query, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    auth::{
        Actor, Credential, credential_from_headers,
        jwt::{Claims, looks_like_jwt},
    },
    domain::{
        download::ByteRange,
        oci::{CHUNK_MIN, ImageName, MANIFEST_MAX, OciDigest, Reference},
    },
    error::DomainError,
    formats::kit::http::{content_length, range_header},
    state::AppState,
};

use errors::*;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/", get(base))
        .route("/v2", get(base))
        // The token endpoint is answered before any authentication: its body is small.
        .route(
            "/v2/token",
            get(token_get)
                .post(token_post)
                .layer(DefaultBodyLimit::max(TOKEN_FORM_MAX)),
        )
        .route("/v2/_catalog", get(catalog))
        .route("/v2/{*path}", axum::routing::any(dispatch))
        .layer(DefaultBodyLimit::disable())
}

type OciResult = Result<Response, OciError>;

/// The largest form `POST /v2/token` reads.
const TOKEN_FORM_MAX: usize = 64 * 1024;

/// The caller of a `/v2` request: who, and (with a bearer token) what it was granted.
struct Caller {
    actor: Actor,
    claims: Option<Claims>,
}

impl Caller {
    /// Whether the bearer token (if any) grants `action` on `name`.
    fn allows(&self, name: &str, action: &str) -> bool {
        self.claims.as_ref().is_none_or(|c| c.allows(name, action))
    }
}

fn service(state: &AppState) -> String {
    let url = &state.config.public_url;
    match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    }
}

fn challenge(state: &AppState, scope: Option<&str>) -> String {
    let mut c = format!(
        "Bearer realm=\"{}/v2/token\",service=\"{}\"",
        state.config.base_url(),
        service(state)
    );
    if let Some(scope) = scope {
        c.push_str(&format!(",scope=\"{scope}\""));
    }
    c
}

fn unauthorized(state: &AppState, scope: Option<&str>, detail: &str) -> OciError {
    let mut e = OciError::new(UNAUTHORIZED, detail);
    e.challenge = Some(challenge(state, scope));
    e
}

/// Authenticates a `/v2` request: a bearer token we issued, or Basic/Bearer with an access
/// token. No credentials at all: 401 with the challenge that starts the token flow.
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    scope: Option<&str>,
) -> Result<Caller, OciError> {
    let credential =
        credential_from_headers(headers).map_err(|e| unauthorized(state, scope, &e.to_string()))?;
    match credential {
        None => Err(unauthorized(state, scope, "authentication required")),
        Some(Credential::Secret {
            secret,
            username: None,
        }) if looks_like_jwt(&secret) => {
            let keys = state.domain.jwt_keys().await?;
            let claims = keys
                .verify(&secret, &service(state))
                .map_err(|e| unauthorized(state, scope, &format!("invalid token: {e}")))?;
            let actor = state
                .domain
                .actor_for_bearer(&claims)
                .await
                .map_err(|e| refused(state, scope, e))?;
            Ok(Caller {
                actor,
                claims: Some(claims),
            })
        }
        Some(credential) => {
            let actor = state
                .domain
                .authenticate(&credential)
                .await
                .map_err(|e| refused(state, scope, e))?;
            Ok(Caller {
                actor,
                claims: None,
            })
        }
    }
}

/// Bad credentials get the challenge; anything else (the database away) is an error of
/// ours, not the client's credentials.
fn refused(state: &AppState, scope: Option<&str>, e: DomainError) -> OciError {
    match e {
        DomainError::Unauthenticated(m) => unauthorized(state, scope, &m),
        other => OciError::from(other),
    }
}

fn with_api_version(mut response: Response) -> Response {
    response.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    response
}

/// `GET /v2/`: 200 for an authenticated caller, else the challenge.
async fn base(State(state): State<AppState>, headers: HeaderMap) -> OciResult {
    caller(&state, &headers, None).await?;
    Ok(with_api_version(Json(json!({})).into_response()))
}

#[derive(Deserialize, Default)]
struct TokenForm {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    scope: Option<String>,
}

/// `GET /v2/token?service=...&scope=repository:NAME:pull,push`: Basic credentials (user +
/// access token) or none; the JWT grants what policy allows.
async fn token_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> OciResult {
    let scopes: Vec<String> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.to_string())
            .collect();
    let actor = match credential_from_headers(&headers)
        .map_err(|e| unauthorized(&state, None, &e.to_string()))?
    {
        None => Actor::Anonymous,
        Some(credential) => state
            .domain
            .authenticate(&credential)
            .await
            .map_err(|e| unauthorized(&state, None, &e.to_string()))?,
    };
    issue(&state, &actor, &scopes).await
}

/// The OAuth2 form of the token endpoint (`grant_type=password`).
async fn token_post(
    State(state): State<AppState>,
    axum::extract::Form(form): axum::extract::Form<TokenForm>,
) -> OciResult {
    if form.grant_type.as_deref() != Some("password") {
        return Err(OciError::new(
            UNSUPPORTED,
            "only grant_type=password is supported",
        ));
    }
    let secret = form.password.unwrap_or_default();
    let credential = Credential::Secret {
        secret,
        username: form.username,
    };
    let actor = state
        .domain
        .authenticate(&credential)
        .await
        .map_err(|e| unauthorized(&state, None, &e.to_string()))?;
    let scopes: Vec<String> = form.scope.into_iter().collect();
    issue(&state, &actor, &scopes).await
}

async fn issue(state: &AppState, actor: &Actor, scopes: &[String]) -> OciResult {
    let (token, issued_at) = state
        .domain
        .issue_registry_token(actor, &service(state), scopes)
        .await
        .map_err(|e| match e {
            // The request itself is refused (too many scopes), not a repository name.
            DomainError::InvalidInput(m) => OciError {
                status: 400,
                ..OciError::new(UNSUPPORTED, m)
            },
            other => OciError::from(other),
        })?;
    let issued = chrono::DateTime::from_timestamp(issued_at, 0).unwrap_or_default();
    Ok(Json(json!({
        "token": token,
        "access_token": token,
        "expires_in": crate::auth::jwt::TOKEN_LIFETIME_SECS,
        "issued_at": issued.to_rfc3339(),
    }))
    .into_response())
}

#[derive(Deserialize)]
struct Paging {
    n: Option<String>,
    last: Option<String>,
}

/// A page size `n`: a number of results, or distribution's 400 in the spec's error shape.
fn page_size(n: Option<&str>) -> Result<Option<u64>, OciError> {
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
async fn catalog(
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

/// What a `/v2/<name>/...` path asks for.
enum Target {
    Manifest(String),
    Blob(String),
    Upload(Option<String>),
    Tags,
    Referrers(String),
}

fn parse_target(path: &str) -> Option<(String, Target)> {
    if let Some(name) = path.strip_suffix("/tags/list") {
        return Some((name.to_string(), Target::Tags));
    }
    let split = |marker: &str| {
        path.rfind(marker)
            .map(|at| (&path[..at], &path[at + marker.len()..]))
    };
    if let Some((name, rest)) = split("/manifests/")
        && !rest.contains('/')
    {
        return Some((name.to_string(), Target::Manifest(rest.to_string())));
    }
    if let Some((name, rest)) = split("/blobs/uploads/")
        && !rest.contains('/')
    {
        return Some((
            name.to_string(),
            Target::Upload(Some(rest.to_string()).filter(|s| !s.is_empty())),
        ));
    }
    if let Some(name) = path.strip_suffix("/blobs/uploads") {
        return Some((name.to_string(), Target::Upload(None)));
    }
    if let Some((name, rest)) = split("/blobs/")
        && !rest.contains('/')
    {
        return Some((name.to_string(), Target::Blob(rest.to_string())));
    }
    if let Some((name, rest)) = split("/referrers/")
        && !rest.contains('/')
    {
        return Some((name.to_string(), Target::Referrers(rest.to_string())));
    }
    None
}

/// Every `/v2/<name>/...` request: names nest (`owner/a/b`), so routing is by suffix.
async fn dispatch(State(state): State<AppState>, request: Request) -> OciResult {
    let path = request.uri().path().trim_start_matches("/v2/").to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let method = request.method().clone();
    let headers = request.headers().clone();
    let body = request.into_body();
    let (name, target) = parse_target(&path)
        .ok_or_else(|| OciError::new(NAME_UNKNOWN, format!("no such endpoint /v2/{path}")))?;
    let action = match (&method, &target) {
        (&Method::GET | &Method::HEAD, _) => "pull",
        // Untagging needs write, as moving a tag does; a digest (`alg:hex`) deletes.
        (&Method::DELETE, Target::Manifest(r)) if !r.contains(':') => "push",
        (&Method::DELETE, Target::Manifest(_) | Target::Blob(_)) => "delete",
        _ => "push",
    };
    let scope = format!(
        "repository:{name}:{}",
        if action == "push" {
            "pull,push"
        } else {
            action
        }
    );
    let who = caller(&state, &headers, Some(&scope)).await?;
    let image = ImageName::parse(&name).map_err(|e| OciError::new(NAME_INVALID, e.to_string()))?;
    if !who.allows(&name, action) {
        // A signed-in caller whose token wasn't granted pull may not read the image: "not
        // found", as on every door (a missing image answers the same). Anonymous callers
        // get the challenge, so a client can log in.
        if action == "pull" && !who.actor.is_anonymous() {
            return Err(OciError::new(
                NAME_UNKNOWN,
                format!("package {image} not found"),
            ));
        }
        // A signed-in caller policy refuses: "denied", so clients don't loop re-fetching a
        // token that can't grant more. (A token merely issued for less than policy allows
        // gets the challenge below, naming the scope to ask for.)
        if !who.actor.is_anonymous() && !state.domain.may(&who.actor, &image, action).await? {
            return Err(OciError::new(
                DENIED,
                format!("you may not {action} {image}"),
            ));
        }
        return Err(unauthorized(
            &state,
            Some(&scope),
            &format!("the token does not grant {action} on {name}"),
        ));
    }
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let param = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let ctx = Ctx {
        state: &state,
        who: &who,
        image: &image,
        name: &name,
        headers: &headers,
    };
    let response = match (method, target) {
        (Method::GET, Target::Manifest(r)) => ctx.get_manifest(&r, true).await,
        (Method::HEAD, Target::Manifest(r)) => ctx.get_manifest(&r, false).await,
        (Method::PUT, Target::Manifest(r)) => {
            ctx.put_manifest(
                &r,
                params
                    .iter()
                    .filter(|(k, _)| k == "tag")
                    .map(|(_, v)| v.clone())
                    .collect(),
                body,
            )
            .await
        }
        (Method::DELETE, Target::Manifest(r)) => ctx.delete_manifest(&r).await,
        (Method::GET, Target::Blob(d)) => ctx.get_blob(&d, false).await,
        (Method::HEAD, Target::Blob(d)) => ctx.get_blob(&d, true).await,
        (Method::DELETE, Target::Blob(d)) => ctx.delete_blob(&d).await,
        (Method::POST, Target::Upload(None)) => {
            ctx.start_upload(param("digest"), param("mount"), param("from"), body)
                .await
        }
        (Method::PATCH, Target::Upload(Some(id))) => ctx.patch_upload(&id, body).await,
        (Method::PUT, Target::Upload(Some(id))) => ctx.put_upload(&id, param("digest"), body).await,
        (Method::GET, Target::Upload(Some(id))) => ctx.upload_status(&id).await,
        (Method::DELETE, Target::Upload(Some(id))) => ctx.cancel_upload(&id).await,
        (Method::GET, Target::Tags) => ctx.tags(param("n"), param("last")).await,
        (Method::GET, Target::Referrers(d)) => ctx.referrers(&d, param("artifactType")).await,
        _ => Err(OciError::new(UNSUPPORTED, "method not allowed here")),
    }?;
    Ok(with_api_version(response))
}

struct Ctx<'a> {
    state: &'a AppState,
    who: &'a Caller,
    image: &'a ImageName,
    name: &'a str,
    headers: &'a HeaderMap,
}

fn digest(s: &str) -> Result<OciDigest, OciError> {
    s.parse()
        .map_err(|e: DomainError| OciError::new(DIGEST_INVALID, e.to_string()))
}

fn header(name: &'static str, value: &str) -> (axum::http::HeaderName, HeaderValue) {
    (
        axum::http::HeaderName::from_static(name),
        HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
    )
}

impl Ctx<'_> {
    fn actor(&self) -> &Actor {
        &self.who.actor
    }

    async fn get_manifest(&self, reference: &str, count: bool) -> OciResult {
        let reference = Reference::parse(reference)
            .map_err(|e| OciError::new(MANIFEST_INVALID, e.to_string()))?;
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
            Reference::Digest(d @ OciDigest::Sha512(_)) => d.to_string(),
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

    async fn put_manifest(&self, reference: &str, tags: Vec<String>, body: Body) -> OciResult {
        let reference = Reference::parse(reference)
            .map_err(|e| OciError::new(MANIFEST_INVALID, e.to_string()))?;
        for t in &tags {
            Reference::parse(t).map_err(|e| OciError::new(MANIFEST_INVALID, e.to_string()))?;
        }
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
        let (digest, subject) = self
            .state
            .domain
            .put_manifest(
                self.actor(),
                self.image,
                &reference,
                content_type,
                bytes,
                tags,
            )
            .await
            .map_err(|e| OciError::from_domain(e, MANIFEST_BLOB_UNKNOWN, MANIFEST_INVALID))?;
        // Pushed by a sha512 digest: answered with that digest.
        let digest = match &reference {
            Reference::Digest(d @ OciDigest::Sha512(_)) => d.to_string(),
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
        if let Some(subject) = subject {
            response.headers_mut().insert(
                "oci-subject",
                HeaderValue::from_str(&subject).unwrap_or(HeaderValue::from_static("")),
            );
        }
        Ok(response)
    }

    async fn delete_manifest(&self, reference: &str) -> OciResult {
        let reference = Reference::parse(reference)
            .map_err(|e| OciError::new(MANIFEST_INVALID, e.to_string()))?;
        self.state
            .domain
            .delete_manifest(self.actor(), self.image, &reference)
            .await
            .map_err(|e| OciError::from_domain(e, MANIFEST_UNKNOWN, MANIFEST_INVALID))?;
        Ok(StatusCode::ACCEPTED.into_response())
    }

    async fn get_blob(&self, d: &str, head: bool) -> OciResult {
        let d = digest(d)?;
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
            Body::from_stream(read.stream),
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

    async fn delete_blob(&self, d: &str) -> OciResult {
        let d = digest(d)?;
        self.state
            .domain
            .delete_image_blob(self.actor(), self.image, &d)
            .await
            .map_err(|e| OciError::from_domain(e, BLOB_UNKNOWN, DIGEST_INVALID))?;
        Ok(StatusCode::ACCEPTED.into_response())
    }

    fn blob_created(&self, digest: &str) -> Response {
        (
            StatusCode::CREATED,
            [
                header("location", &format!("/v2/{}/blobs/{digest}", self.name)),
                header("docker-content-digest", digest),
            ],
        )
            .into_response()
    }

    fn upload_accepted(&self, status: StatusCode, id: &str, size: u64) -> Response {
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

    async fn start_upload(
        &self,
        d: Option<String>,
        mount: Option<String>,
        from: Option<String>,
        body: Body,
    ) -> OciResult {
        let domain = &self.state.domain;
        let upload_err = |e| OciError::from_domain(e, BLOB_UPLOAD_UNKNOWN, BLOB_UPLOAD_INVALID);
        if let (Some(m), Some(from)) = (&mount, &from) {
            let d = digest(m)?;
            // A source the caller can't read (by its role, or by what its bearer token was
            // granted), or without the blob: a plain upload instead.
            if let Ok(from_image) = ImageName::parse(from)
                && self.who.allows(from_image.to_string().as_str(), "pull")
                && let Some(info) = domain
                    .mount_blob(self.actor(), self.image, &from_image, &d)
                    .await
                    .map_err(upload_err)?
            {
                return Ok(self.blob_created(&info.digest));
            }
        }
        if let Some(d) = d {
            let d = digest(&d)?;
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

    async fn patch_upload(&self, id: &str, body: Body) -> OciResult {
        let start = match self
            .headers
            .get(header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
        {
            Some(range) => {
                let range = range
                    .trim()
                    .trim_start_matches("bytes ")
                    .trim_start_matches("bytes=");
                let start = range
                    .split('-')
                    .next()
                    .and_then(|s| s.trim().parse::<u64>().ok());
                Some(start.ok_or_else(|| OciError {
                    status: 416,
                    ..OciError::new(BLOB_UPLOAD_INVALID, "malformed Content-Range")
                })?)
            }
            None => None,
        };
        let size = self
            .state
            .domain
            .upload_chunk(self.actor(), self.image, id, start, body.into_data_stream())
            .await
            .map_err(|e| OciError::from_domain(e, BLOB_UPLOAD_UNKNOWN, BLOB_UPLOAD_INVALID))?;
        Ok(self.upload_accepted(StatusCode::ACCEPTED, id, size))
    }

    async fn put_upload(&self, id: &str, d: Option<String>, body: Body) -> OciResult {
        let d = digest(&d.ok_or_else(|| {
            OciError::new(DIGEST_INVALID, "the digest query parameter is required")
        })?)?;
        let has_body = content_length(self.headers).is_none_or(|n| n > 0);
        let last = has_body.then(|| body.into_data_stream());
        let info = self
            .state
            .domain
            .finish_upload(self.actor(), self.image, id, &d, last)
            .await
            .map_err(|e| OciError::from_domain(e, BLOB_UPLOAD_UNKNOWN, BLOB_UPLOAD_INVALID))?;
        Ok(self.blob_created(&info.digest))
    }

    async fn upload_status(&self, id: &str) -> OciResult {
        let size = self
            .state
            .domain
            .upload_status(self.actor(), self.image, id)
            .await
            .map_err(|e| OciError::from_domain(e, BLOB_UPLOAD_UNKNOWN, BLOB_UPLOAD_INVALID))?;
        Ok(self.upload_accepted(StatusCode::NO_CONTENT, id, size))
    }

    async fn cancel_upload(&self, id: &str) -> OciResult {
        self.state
            .domain
            .cancel_upload(self.actor(), self.image, id)
            .await
            .map_err(|e| OciError::from_domain(e, BLOB_UPLOAD_UNKNOWN, BLOB_UPLOAD_INVALID))?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }

    async fn tags(&self, n: Option<String>, last: Option<String>) -> OciResult {
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

    async fn referrers(&self, d: &str, artifact_type: Option<String>) -> OciResult {
        let d = digest(d)?;
        let manifests = self
            .state
            .domain
            .referrers(self.actor(), self.image, &d, artifact_type.as_deref())
            .await?;
        let mut response = (
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.oci.image.index.v1+json"))],
            serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}))
                .map_err(DomainError::internal)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = |p: &str| parse_target(p).map(|(n, t)| (n, std::mem::discriminant(&t)));
        assert_eq!(
            t("acme/a/b/manifests/latest").map(|x| x.0),
            Some("acme/a/b".into())
        );
        assert!(matches!(
            parse_target("acme/app/blobs/uploads/"),
            Some((_, Target::Upload(None)))
        ));
        assert!(matches!(
            parse_target("acme/app/blobs/uploads/123"),
            Some((_, Target::Upload(Some(_))))
        ));
        assert!(
            matches!(parse_target("acme/blobs/blobs/sha256:x"), Some((n, Target::Blob(_))) if n == "acme/blobs")
        );
        assert!(matches!(
            parse_target("acme/app/tags/list"),
            Some((_, Target::Tags))
        ));
        assert!(matches!(
            parse_target("acme/app/referrers/sha256:x"),
            Some((_, Target::Referrers(_)))
        ));
        assert!(parse_target("acme/app/unknown").is_none());
    }
}
