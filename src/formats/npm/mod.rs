//! The npm registry (`/npm/...`), as GitHub Packages serves it: scoped packages only,
//! `@OWNER/NAME` owned by the Packyard user or organization OWNER.
//!
//! Client setup: `@OWNER:registry=http://HOST/npm/` and `//HOST/npm/:_authToken=TOKEN`.
//! Protocol: the npm registry API (packuments, publish document, dist-tags, `-rev` flows).

mod document;
mod packument;
mod tarball;

use std::collections::HashMap;

use axum::{
    Json, Router,
    body::Body,
    extract::{DefaultBodyLimit, Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::{delete, get, put},
};
use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    auth::{Actor, CurrentActor, credential_from_headers},
    domain::{
        FileName, OwnerName, PackageName, PackageType, VersionName, Visibility,
        metadata::{NpmMetadata, VersionMetadata},
        npm::{NpmDocumentUpdate, NpmUpdateOutcome, check_dist_tag},
        packages::{PackageFilter, PackageOrder, PackageRef},
        publish::{NewFile, PublishRequest},
    },
    error::{DomainError, What},
    formats::http::{file_response, range_not_satisfiable},
    server::{ClientAddr, body_limit::streamed_upload},
    state::AppState,
    storage::{DigestSet, Expectations},
};

use document::{DocumentSplitter, PublishDocument, UpdateDocument};

/// Largest publish document without its tarball (manifest, README).
const DOCUMENT_MAX: usize = 16 * 1024 * 1024;

/// Largest body read whole: a login, the version a dist-tag is set to.
const SMALL_BODY_MAX: usize = 64 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/npm/-/ping", get(ping))
        .route("/npm/-/whoami", get(whoami))
        .route("/npm/-/v1/search", get(search))
        .route("/npm/-/user/{user}", put(login))
        .route("/npm/-/user/token/{token}", delete(logout))
        .route("/npm/-/npm/v1/tokens", get(list_tokens))
        .route("/npm/-/npm/v1/tokens/token/{key}", delete(revoke_token))
        .route("/npm/-/package/{a}/dist-tags", get(list_dist_tags_encoded))
        .route(
            "/npm/-/package/{a}/dist-tags/{tag}",
            put(set_dist_tag_encoded).delete(delete_dist_tag_encoded),
        )
        .route("/npm/-/package/{a}/{b}/dist-tags", get(list_dist_tags))
        .route(
            "/npm/-/package/{a}/{b}/dist-tags/{tag}",
            put(set_dist_tag).delete(delete_dist_tag),
        )
        // Publish documents carry tarballs: they stream past the server's body cap and
        // are bounded by `DOCUMENT_MAX` and the tarball limit instead.
        .route(
            "/npm/{a}",
            get(packument_encoded)
                .put(publish_encoded)
                .layer(middleware::from_fn(streamed_upload)),
        )
        .route(
            "/npm/{a}/{b}",
            get(packument)
                .put(publish)
                .layer(middleware::from_fn(streamed_upload)),
        )
        .route(
            "/npm/{a}/-rev/{rev}",
            put(update_encoded)
                .delete(unpublish_package_encoded)
                .layer(middleware::from_fn(streamed_upload)),
        )
        .route(
            "/npm/{a}/{b}/-rev/{rev}",
            put(update)
                .delete(unpublish_package)
                .layer(middleware::from_fn(streamed_upload)),
        )
        .route("/npm/{a}/-/{file}", get(tarball_encoded))
        .route("/npm/{a}/{b}/-/{file}", get(tarball))
        .route(
            "/npm/{a}/-/{file}/-rev/{rev}",
            delete(delete_tarball_encoded),
        )
        .route("/npm/{a}/{b}/-/{file}/-rev/{rev}", delete(delete_tarball))
        // npm deletes a tarball by the path of its URL under the registry URL, which repeats
        // our `/npm` prefix: `/npm/npm/@scope/name/-/name-1.0.0.tgz/-rev/REV`.
        .route(
            "/npm/{a}/{b}/{c}/-/{file}/-rev/{rev}",
            delete(delete_tarball_prefixed),
        )
        // The bodies read whole (login, a dist-tag's version) are small; publish documents
        // stream past this limit (a raw `Body` isn't limited) under their own bounds.
        .layer(DefaultBodyLimit::max(SMALL_BODY_MAX))
}

/// npm's error shape: `{"error": "..."}`; 401 carries a challenge.
#[derive(Debug)]
pub enum NpmError {
    Domain(DomainError),
    /// An update written against a document revision that is no longer current (CouchDB's
    /// 409 "Document update conflict", which npm reports as E409).
    StaleRevision {
        sent: String,
        current: String,
    },
    /// An update that names no revision: CouchDB answers 409 for a write to an existing
    /// document without its `_rev`.
    MissingRevision,
}

impl From<DomainError> for NpmError {
    fn from(e: DomainError) -> Self {
        Self::Domain(e)
    }
}

impl IntoResponse for NpmError {
    fn into_response(self) -> Response {
        let error = match self {
            Self::Domain(e) => e,
            Self::StaleRevision { sent, current } => {
                let message = format!(
                    "Document update conflict: revision {sent} is not the current {current}; \
                     fetch the package again and retry"
                );
                return (StatusCode::CONFLICT, Json(json!({"error": message}))).into_response();
            }
            Self::MissingRevision => {
                let message = "Document update conflict: an update must carry the document's \
                               current _rev; fetch the package and retry";
                return (StatusCode::CONFLICT, Json(json!({"error": message}))).into_response();
            }
        };
        let status =
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let message = match &error {
            DomainError::AlreadyExists { message: m, .. } => {
                format!("cannot publish over the previously published versions: {m}")
            }
            other => other.to_string(),
        };
        let body = Json(json!({"error": message}));
        if let DomainError::RangeNotSatisfiable { size } = error {
            let (parts, _) = range_not_satisfiable(size).into_parts();
            return (parts, body).into_response();
        }
        if let Some(secs) = error.retry_after_secs() {
            return (status, [(header::RETRY_AFTER, secs.to_string())], body).into_response();
        }
        if status == StatusCode::UNAUTHORIZED {
            return (
                status,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"packyard\"")],
                body,
            )
                .into_response();
        }
        (status, body).into_response()
    }
}

type NpmActor = CurrentActor<NpmError>;
type NpmResult = Result<Response, NpmError>;

/// `@owner/name` → the package it names. npm names are lower-case, URL-safe, ≤ 214 chars.
fn package_ref(full: &str) -> Result<PackageRef, NpmError> {
    let invalid = || {
        DomainError::invalid(format!(
            "invalid package name {full:?}: Packyard serves scoped packages, @OWNER/NAME"
        ))
    };
    let rest = full.strip_prefix('@').ok_or_else(invalid)?;
    let (scope, name) = rest.split_once('/').ok_or_else(invalid)?;
    let valid_name = !name.is_empty()
        && full.len() <= 214
        && !name.starts_with('.')
        && !name.starts_with('_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b));
    if !valid_name || scope.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(invalid().into());
    }
    Ok(PackageRef {
        owner: OwnerName::parse(scope)?,
        package_type: PackageType::Npm,
        name: PackageName::parse(name)?,
    })
}

fn joined(a: &str, b: &str) -> String {
    format!("{a}/{b}")
}

fn full_name(r: &PackageRef) -> String {
    format!("@{}/{}", r.owner, r.name)
}

/// `name-1.2.3.tgz` → `1.2.3`.
fn version_from_file(r: &PackageRef, file: &str) -> Result<VersionName, NpmError> {
    let version = file
        .strip_prefix(&format!("{}-", r.name))
        .and_then(|v| v.strip_suffix(".tgz"))
        .ok_or_else(|| DomainError::not_found(What::File, format!("tarball {file}")))?;
    Ok(VersionName::parse(version)?)
}

async fn ping() -> Json<Value> {
    Json(json!({}))
}

async fn whoami(State(state): State<AppState>, actor: NpmActor) -> NpmResult {
    match actor.into_inner() {
        Actor::User { login, .. } => Ok(Json(json!({"username": login})).into_response()),
        Actor::Repository { repository_id, .. } => {
            let repo = state.domain.repository_by_id(repository_id).await?;
            Ok(
                Json(json!({"username": format!("{}/{}", repo.owner_login, repo.name)}))
                    .into_response(),
            )
        }
        Actor::Anonymous => Err(DomainError::Unauthenticated("not logged in".into()).into()),
    }
}

/// The key `npm token list` shows (and `npm token revoke` takes a prefix of) for a token:
/// stable, unique, and not the token's hash.
fn token_key(id: i64) -> String {
    crate::storage::hex_sha256(format!("packyard-access-token:{id}").as_bytes())
}

/// `npm token list`: the caller's active tokens, as npm's token API lists them.
async fn list_tokens(State(state): State<AppState>, actor: NpmActor) -> NpmResult {
    let actor = actor.into_inner();
    let now = chrono::Utc::now();
    let objects: Vec<Value> = state
        .domain
        .list_access_tokens(&actor)
        .await?
        .into_iter()
        .filter(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|at| at > now))
        .map(|t| {
            json!({
                "key": token_key(t.id),
                "token": t.display_prefix,
                "name": t.name,
                "created": t.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "updated": t.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "expires": t.expires_at.map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                "readonly": !t.scopes.iter().any(|s| s == "write:packages"),
                "cidr_whitelist": null,
            })
        })
        .collect();
    Ok(
        Json(json!({"total": objects.len(), "objects": objects, "urls": {"next": null}}))
            .into_response(),
    )
}

/// `npm token revoke`: revokes one of the caller's tokens by its key.
async fn revoke_token(
    State(state): State<AppState>,
    actor: NpmActor,
    Path(key): Path<String>,
) -> NpmResult {
    let actor = actor.into_inner();
    let listed = state
        .domain
        .list_access_tokens(&actor)
        .await?
        .into_iter()
        .find(|t| t.revoked_at.is_none() && token_key(t.id) == key)
        .map(|t| t.id);
    // `npm token revoke <token value>` sends the secret itself.
    let token_id = match listed {
        Some(id) => id,
        None => {
            let named = state
                .domain
                .authenticate(&crate::auth::Credential::Secret {
                    secret: key,
                    username: None,
                })
                .await
                .ok()
                .filter(|a| a.user_id().is_some() && a.user_id() == actor.user_id());
            named
                .and_then(|a| a.token().map(|t| t.token_id))
                .ok_or_else(|| DomainError::not_found(What::Token, "token"))?
        }
    };
    state.domain.revoke_access_token(&actor, token_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct LoginBody {
    name: String,
    password: String,
}

/// `npm login` (legacy): a username and password exchanged for a new token.
async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Path(user): Path<String>,
    Json(body): Json<LoginBody>,
) -> NpmResult {
    let name = user
        .strip_prefix("org.couchdb.user:")
        .ok_or_else(|| DomainError::not_found(What::Endpoint, "user endpoint"))?;
    if !name.eq_ignore_ascii_case(&body.name) {
        return Err(DomainError::invalid("the user name in the path and the body differ").into());
    }
    let login = OwnerName::parse(&body.name)?;
    let (_, secret) = state
        .domain
        .login_with_password(&login, &body.password, "npm login", client)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"ok": true, "id": format!("org.couchdb.user:{login}"), "token": secret})),
    )
        .into_response())
}

/// `npm logout`: revokes the token presented.
async fn logout(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> NpmResult {
    let presented = match credential_from_headers(&headers)? {
        Some(crate::auth::Credential::Secret { secret, .. }) => secret,
        None => return Err(DomainError::Unauthenticated("authentication required".into()).into()),
    };
    if presented != token {
        return Err(
            DomainError::forbidden("a client may only revoke the token it presents").into(),
        );
    }
    state
        .domain
        .authenticate(&crate::auth::Credential::Secret {
            secret: presented.clone(),
            username: None,
        })
        .await?;
    state.domain.revoke_presented_token(&presented).await?;
    Ok(Json(json!({"ok": true})).into_response())
}

#[derive(Deserialize)]
struct SearchQuery {
    text: Option<String>,
    size: Option<u64>,
    from: Option<u64>,
}

/// `npm search`: packages whose name contains the text, among those the caller may read.
async fn search(
    State(state): State<AppState>,
    actor: NpmActor,
    Query(q): Query<SearchQuery>,
) -> NpmResult {
    let actor = actor.into_inner();
    let text = q.text.unwrap_or_default();
    // `npm search @scope/x` and `scope:x` forms: match on the part after the scope.
    let query = text.rsplit('/').next().unwrap_or_default().to_string();
    let filter = PackageFilter {
        package_type: Some(PackageType::Npm),
        query: Some(query),
        ..Default::default()
    };
    let size = q.size.unwrap_or(20).clamp(1, 250);
    let (packages, total) = state
        .domain
        .list_packages(
            &actor,
            &filter,
            PackageOrder::NameAsc,
            q.from.unwrap_or(0),
            size,
        )
        .await?;
    let ids: Vec<i64> = packages.iter().map(|p| p.id).collect();
    let latest = state.domain.latest_versions_of(&ids).await?;
    let base = state.config.base_url();
    let objects: Vec<Value> = packages
        .iter()
        .map(|p| {
            let v = latest.get(&p.id);
            json!({
                "package": {
                    "name": format!("@{}/{}", p.owner_login, p.name),
                    "scope": p.owner_login,
                    "version": v.map(|v| v.version.clone()),
                    "description": v.and_then(|v| v.summary.clone()),
                    "date": p.updated_at,
                    "links": {"npm": format!("{base}/npm/@{}/{}", p.owner_login, p.name)},
                    "publisher": {"username": p.owner_login},
                    "maintainers": [{"username": p.owner_login}],
                },
                "score": {"final": 1.0, "detail": {"quality": 1.0, "popularity": 1.0, "maintenance": 1.0}},
                "searchScore": 1.0,
            })
        })
        .collect();
    Ok(
        Json(json!({"objects": objects, "total": total, "time": chrono::Utc::now()}))
            .into_response(),
    )
}

async fn packument_encoded(
    State(state): State<AppState>,
    actor: NpmActor,
    Path(a): Path<String>,
    headers: HeaderMap,
) -> NpmResult {
    serve_packument(&state, actor.into_inner(), &package_ref(&a)?, &headers).await
}

async fn packument(
    State(state): State<AppState>,
    actor: NpmActor,
    Path((a, b)): Path<(String, String)>,
    headers: HeaderMap,
) -> NpmResult {
    serve_packument(
        &state,
        actor.into_inner(),
        &package_ref(&joined(&a, &b))?,
        &headers,
    )
    .await
}

/// The packument: full, or abbreviated for `Accept: application/vnd.npm.install-v1+json`;
/// `ETag` / `If-None-Match` give 304s.
async fn serve_packument(
    state: &AppState,
    actor: Actor,
    r: &PackageRef,
    headers: &HeaderMap,
) -> NpmResult {
    let abbreviated = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/vnd.npm.install-v1+json"));
    let kind = if abbreviated {
        "npm-abbreviated"
    } else {
        "npm-full"
    };
    let document = state
        .domain
        .package_document(&actor, r, kind, |_| async {
            let doc = packument::build(state, &actor, r, abbreviated).await?;
            serde_json::to_vec(&doc)
                .map(Bytes::from)
                .map_err(DomainError::internal)
        })
        .await?;
    let (body, etag) = (document.body, document.etag);
    let content_type = if abbreviated {
        "application/vnd.npm.install-v1+json"
    } else {
        "application/json"
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::ETAG, etag),
        ],
        body,
    )
        .into_response())
}

async fn tarball_encoded(
    State(state): State<AppState>,
    actor: NpmActor,
    method: axum::http::Method,
    Path((a, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> NpmResult {
    serve_tarball(
        &state,
        actor.into_inner(),
        &package_ref(&a)?,
        &file,
        &headers,
        method == axum::http::Method::HEAD,
    )
    .await
}

async fn tarball(
    State(state): State<AppState>,
    actor: NpmActor,
    method: axum::http::Method,
    Path((a, b, file)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> NpmResult {
    serve_tarball(
        &state,
        actor.into_inner(),
        &package_ref(&joined(&a, &b))?,
        &file,
        &headers,
        method == axum::http::Method::HEAD,
    )
    .await
}

async fn serve_tarball(
    state: &AppState,
    actor: Actor,
    r: &PackageRef,
    file: &str,
    headers: &HeaderMap,
    head: bool,
) -> NpmResult {
    let version = version_from_file(r, file)?;
    let name = FileName::parse(file)?;
    if head {
        // A probe (mirrors, proxies) is not a download.
        let (_, _, info) = state.domain.stat_file(&actor, r, &version, &name).await?;
        return Ok(crate::formats::http::head_response(&info));
    }
    let range = crate::formats::http::range_header(headers);
    let download = state
        .domain
        .open_file(&actor, r, &version, &name, range)
        .await?;
    Ok(file_response(download, false))
}

async fn publish_encoded(
    State(state): State<AppState>,
    actor: NpmActor,
    Path(a): Path<String>,
    body: Body,
) -> NpmResult {
    put_document(&state, actor.into_inner(), &package_ref(&a)?, None, body).await
}

async fn publish(
    State(state): State<AppState>,
    actor: NpmActor,
    Path((a, b)): Path<(String, String)>,
    body: Body,
) -> NpmResult {
    put_document(
        &state,
        actor.into_inner(),
        &package_ref(&joined(&a, &b))?,
        None,
        body,
    )
    .await
}

async fn update_encoded(
    State(state): State<AppState>,
    actor: NpmActor,
    Path((a, rev)): Path<(String, String)>,
    body: Body,
) -> NpmResult {
    put_document(
        &state,
        actor.into_inner(),
        &package_ref(&a)?,
        Some(rev),
        body,
    )
    .await
}

async fn update(
    State(state): State<AppState>,
    actor: NpmActor,
    Path((a, b, rev)): Path<(String, String, String)>,
    body: Body,
) -> NpmResult {
    put_document(
        &state,
        actor.into_inner(),
        &package_ref(&joined(&a, &b))?,
        Some(rev),
        body,
    )
    .await
}

/// A PUT of the package document: a publish when it carries a tarball, otherwise an update
/// of existing versions (deprecations; versions left out are unpublished, as npm's
/// `unpublish pkg@version` does).
async fn put_document(
    state: &AppState,
    actor: Actor,
    r: &PackageRef,
    url_rev: Option<String>,
    body: Body,
) -> NpmResult {
    if actor.is_anonymous() {
        return Err(DomainError::Unauthenticated(
            "log in to publish: npm login or an _authToken".into(),
        )
        .into());
    }
    // Refused before a byte of the tarball is received. (An update document needs write
    // too, and is checked again where it is applied.)
    state.domain.authorize_publish(&actor, r).await?;
    let tarball_max = state.domain.max_file_bytes(PackageType::Npm);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let want = DigestSet {
        md5: false,
        sha1: true,
        sha512: true,
    };
    let expect = Expectations {
        max_size: Some(tarball_max),
        ..Default::default()
    };
    // Staging starts with the first tarball byte: a document without one (an update)
    // stores nothing.
    let stage = async move {
        let mut rx = rx;
        match rx.recv().await {
            None => Ok(None),
            Some(first) => {
                let body = futures::stream::once(async { first }).chain(tokio_stream_from(rx));
                state.domain.stage_blob(body, want, &expect).await.map(Some)
            }
        }
    };
    let split = async move {
        let mut splitter = DocumentSplitter::new(DOCUMENT_MAX, tarball_max);
        let mut stream = body.into_data_stream();
        let mut decoded = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = tx
                        .send(Err(std::io::Error::other("request body interrupted")))
                        .await;
                    return Err(DomainError::invalid(format!(
                        "request body interrupted: {e}"
                    )));
                }
            };
            if let Err(e) = splitter.feed(&chunk, &mut decoded) {
                let _ = tx
                    .send(Err(std::io::Error::other("bad publish document")))
                    .await;
                return Err(e);
            }
            if !decoded.is_empty() {
                let out = Bytes::from(std::mem::take(&mut decoded));
                if tx.send(Ok(out)).await.is_err() {
                    return Err(DomainError::internal("staging stopped"));
                }
            }
        }
        drop(tx);
        splitter.finish()
    };
    let (staged, split) = tokio::join!(stage, split);
    let (meta, has_tarball) = split?;
    if !has_tarball {
        let doc: UpdateDocument = serde_json::from_slice(&meta)
            .map_err(|e| DomainError::invalid(format!("invalid package document: {e}")))?;
        check_document_name(&doc.name, r)?;
        return update_versions(state, &actor, r, url_rev, doc).await;
    }
    let doc: PublishDocument = serde_json::from_slice(&meta)
        .map_err(|e| DomainError::invalid(format!("invalid publish document: {e}")))?;
    check_document_name(&doc.name, r)?;
    let staged = staged?.ok_or_else(|| DomainError::invalid("the attached tarball is empty"))?;
    publish_version(state, &actor, r, doc, staged).await
}

fn check_document_name(name: &str, r: &PackageRef) -> Result<(), NpmError> {
    if name != full_name(r) {
        return Err(DomainError::invalid(format!(
            "the document names {name:?}, the URL {:?}",
            full_name(r)
        ))
        .into());
    }
    Ok(())
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn publish_version(
    state: &AppState,
    actor: &Actor,
    r: &PackageRef,
    doc: PublishDocument,
    staged: crate::storage::StagedBlob,
) -> NpmResult {
    let mut versions = doc.versions.into_iter();
    let (version_text, mut manifest) = match (versions.next(), versions.next()) {
        (Some(v), None) => v,
        _ => return Err(DomainError::invalid("a publish carries exactly one version").into()),
    };
    semver::Version::parse(&version_text)
        .map_err(|e| DomainError::invalid(format!("invalid version {version_text:?}: {e}")))?;
    let version = VersionName::parse(&version_text)?;
    let (attachment_name, attachment) = doc
        .attachments
        .into_iter()
        .next()
        .ok_or_else(|| DomainError::invalid("no tarball attached"))?;
    if attachment_name != format!("{}-{version}.tgz", full_name(r))
        && attachment_name != format!("{}-{version}.tgz", r.name)
    {
        return Err(DomainError::invalid(format!(
            "unexpected attachment name {attachment_name:?}"
        ))
        .into());
    }
    if let Some(length) = attachment.get("length").and_then(Value::as_u64)
        && length != staged.size
    {
        return Err(DomainError::invalid(format!(
            "the tarball is {} bytes, the document says {length}",
            staged.size
        ))
        .into());
    }
    // The declared digests must be the tarball's.
    let dist = manifest.get("dist").cloned().unwrap_or(Value::Null);
    if let Some(shasum) = dist.get("shasum").and_then(Value::as_str)
        && Some(shasum) != staged.digests.sha1.as_deref()
    {
        return Err(DomainError::DigestMismatch {
            expected: format!("sha1:{shasum}"),
            actual: format!("sha1:{}", staged.digests.sha1.clone().unwrap_or_default()),
        }
        .into());
    }
    if let Some(integrity) = dist.get("integrity").and_then(Value::as_str) {
        let declared: Vec<&str> = integrity
            .split_whitespace()
            .filter(|i| i.starts_with("sha512-"))
            .collect();
        let ours = integrity_of(staged.digests.sha512.as_deref()).unwrap_or_default();
        if !declared.is_empty() && !declared.contains(&ours.as_str()) {
            return Err(DomainError::DigestMismatch {
                expected: integrity.to_string(),
                actual: ours,
            }
            .into());
        }
    }
    // The manifest inside the tarball must agree with the document.
    let read = state.domain.open_staged(&staged).await?;
    let reader = tokio_util::io::StreamReader::new(read.stream);
    let contents = tokio::task::spawn_blocking(move || {
        tarball::inspect(tokio_util::io::SyncIoBridge::new(reader))
    })
    .await
    .map_err(DomainError::internal)??;
    let inner_name = contents
        .manifest
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let inner_version = contents
        .manifest
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // npm publishes `semver.clean()`'d versions (`v1.0.0+build` → `1.0.0`); the tarball
    // keeps what package.json says.
    let cleaned = |v: &str| {
        let v = v.trim().trim_start_matches(['v', '=']);
        v.split('+').next().unwrap_or(v).to_string()
    };
    if inner_name != full_name(r) || cleaned(inner_version) != cleaned(&version_text) {
        return Err(DomainError::invalid(format!(
            "the tarball's package.json is {inner_name}@{inner_version}, the document publishes {}@{version_text}",
            full_name(r)
        ))
        .into());
    }
    if let Value::Object(map) = &mut manifest {
        for private in ["dist", "readme", "_attachments", "_id", "_rev"] {
            map.remove(private);
        }
        // Registry-computed: npm installs a shipped shrinkwrap's tree.
        map.insert(
            "_hasShrinkwrap".into(),
            Value::Bool(contents.has_shrinkwrap),
        );
        // What we measured ourselves; the packument adds the tarball's URL and digests.
        if let Some(u) = contents.unpacked {
            map.insert(
                "dist".into(),
                json!({"fileCount": u.files, "unpackedSize": u.bytes}),
            );
        }
    }
    let readme = doc
        .readme
        .filter(|r| !r.is_empty() && r != "ERROR: No README data found!")
        .or(contents.readme);
    let tags: Vec<String> = doc
        .dist_tags
        .iter()
        .filter(|(_, v)| v.as_str() == Some(version_text.as_str()))
        .map(|(k, _)| k.clone())
        .collect();
    for tag in &tags {
        check_tag(tag)?;
    }
    let tags = if tags.is_empty() {
        vec!["latest".to_string()]
    } else {
        tags
    };
    let prerelease = semver::Version::parse(&version_text)
        .map(|v| !v.pre.is_empty())
        .unwrap_or(false);
    // `--access` decides a new package's visibility; without it the owner's default does.
    let visibility = match doc.access.as_deref() {
        Some("public") => Some(Visibility::Public),
        Some("restricted") => Some(Visibility::Private),
        _ => None,
    };
    // An unpublished version's name is never reused: lockfiles pin its integrity. (A live
    // one is refused by the publish itself, as existing.)
    if state.domain.version_unpublished(r, &version).await? {
        return Err(DomainError::exists(
            What::Version,
            format!(
                "{}@{version} was published before (and unpublished); versions can't be reused",
                full_name(r)
            ),
        )
        .into());
    }
    let file = FileName::parse(&format!("{}-{version}.tgz", r.name))?;
    state
        .domain
        .publish(
            actor,
            PublishRequest {
                package: r.clone(),
                version,
                metadata: VersionMetadata::Npm(NpmMetadata { manifest }),
                readme,
                prerelease,
                files: vec![NewFile {
                    name: file,
                    blob: staged,
                    content_type: "application/octet-stream".into(),
                    lead: true,
                }],
                tags,
                visibility,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"ok": true, "id": full_name(r)})),
    )
        .into_response())
}

/// `sha512-<base64>` from a hex SHA-512.
fn integrity_of(sha512_hex: Option<&str>) -> Option<String> {
    let bytes = hex::decode(sha512_hex?).ok()?;
    Some(format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// A document without a tarball: deprecations, versions it leaves out unpublished (npm's
/// `unpublish pkg@version`), dist-tags it moved. It must name the revision it was written
/// against (the document's `_rev`, else the URL's `-rev`): if the package changed since, a
/// version published meanwhile would be "left out" and unpublished.
async fn update_versions(
    state: &AppState,
    actor: &Actor,
    r: &PackageRef,
    url_rev: Option<String>,
    doc: UpdateDocument,
) -> NpmResult {
    if !doc.attachments.is_empty() {
        return Err(DomainError::invalid(
            "the document's _attachments carry no tarball data the registry could read",
        )
        .into());
    }
    let revision = doc.rev.or(url_rev).ok_or(NpmError::MissingRevision)?;
    let update = NpmDocumentUpdate {
        revision,
        versions: doc
            .versions
            .into_iter()
            .map(|(version, v)| (version, v.deprecated))
            .collect(),
        dist_tags: doc
            .dist_tags
            .into_iter()
            .filter_map(|(tag, version)| Some((tag, version.as_str()?.to_string())))
            .collect(),
    };
    match state.domain.update_npm_document(actor, r, &update).await? {
        NpmUpdateOutcome::Applied => Ok(Json(json!({"ok": true})).into_response()),
        NpmUpdateOutcome::StaleRevision { current } => Err(NpmError::StaleRevision {
            sent: update.revision,
            current,
        }),
    }
}

async fn unpublish_package_encoded(
    State(state): State<AppState>,
    actor: NpmActor,
    Path((a, _rev)): Path<(String, String)>,
) -> NpmResult {
    unpublish_all(&state, actor.into_inner(), &package_ref(&a)?).await
}

async fn unpublish_package(
    State(state): State<AppState>,
    actor: NpmActor,
    Path((a, b, _rev)): Path<(String, String, String)>,
) -> NpmResult {
    unpublish_all(&state, actor.into_inner(), &package_ref(&joined(&a, &b))?).await
}

/// `npm unpublish --force` of a whole package: deleted (restorable through GraphQL).
async fn unpublish_all(state: &AppState, actor: Actor, r: &PackageRef) -> NpmResult {
    let pkg = state.domain.find_package(&actor, r).await?;
    state.domain.delete_package(&actor, pkg.id).await?;
    Ok(Json(json!({"ok": true})).into_response())
}

async fn delete_tarball_encoded(
    State(state): State<AppState>,
    actor: NpmActor,
    Path((a, file, _rev)): Path<(String, String, String)>,
) -> NpmResult {
    remove_tarball(&state, actor.into_inner(), &package_ref(&a)?, &file).await
}

async fn delete_tarball(
    State(state): State<AppState>,
    actor: NpmActor,
    Path((a, b, file, _rev)): Path<(String, String, String, String)>,
) -> NpmResult {
    remove_tarball(
        &state,
        actor.into_inner(),
        &package_ref(&joined(&a, &b))?,
        &file,
    )
    .await
}

async fn delete_tarball_prefixed(
    State(state): State<AppState>,
    actor: NpmActor,
    Path((prefix, b, c, file, _rev)): Path<(String, String, String, String, String)>,
) -> NpmResult {
    if prefix != "npm" {
        return Err(DomainError::not_found(What::File, "tarball").into());
    }
    remove_tarball(
        &state,
        actor.into_inner(),
        &package_ref(&joined(&b, &c))?,
        &file,
    )
    .await
}

/// The tarball step of `npm unpublish pkg@version`: its version went with the previous
/// document update; deleting a still-live version's tarball deletes the version.
async fn remove_tarball(state: &AppState, actor: Actor, r: &PackageRef, file: &str) -> NpmResult {
    let version = version_from_file(r, file)?;
    match state
        .domain
        .delete_version_named(
            &actor,
            r,
            &version,
            crate::domain::packages::LastVersion::DeletesPackage,
        )
        .await
    {
        Ok(_) => Ok(Json(json!({"ok": true})).into_response()),
        // Already gone with the document update that preceded this request.
        Err(DomainError::NotFound { .. }) if !actor.is_anonymous() => {
            state.domain.find_package(&actor, r).await?;
            Ok(Json(json!({"ok": true})).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn list_dist_tags_encoded(
    State(state): State<AppState>,
    actor: NpmActor,
    Path(a): Path<String>,
) -> NpmResult {
    dist_tags(&state, actor.into_inner(), &package_ref(&a)?).await
}

async fn list_dist_tags(
    State(state): State<AppState>,
    actor: NpmActor,
    Path((a, b)): Path<(String, String)>,
) -> NpmResult {
    dist_tags(&state, actor.into_inner(), &package_ref(&joined(&a, &b))?).await
}

async fn dist_tags(state: &AppState, actor: Actor, r: &PackageRef) -> NpmResult {
    let pkg = state.domain.find_package(&actor, r).await?;
    let tags = state.domain.tags_of_packages(&[pkg.id]).await?;
    let map: HashMap<String, String> = tags
        .get(&pkg.id)
        .into_iter()
        .flatten()
        .map(|t| (t.name.clone(), t.version.clone()))
        .collect();
    Ok(Json(map).into_response())
}

async fn set_dist_tag_encoded(
    State(state): State<AppState>,
    actor: NpmActor,
    Path((a, tag)): Path<(String, String)>,
    body: Bytes,
) -> NpmResult {
    set_tag(&state, actor.into_inner(), &package_ref(&a)?, &tag, &body).await
}

async fn set_dist_tag(
    State(state): State<AppState>,
    actor: NpmActor,
    Path((a, b, tag)): Path<(String, String, String)>,
    body: Bytes,
) -> NpmResult {
    set_tag(
        &state,
        actor.into_inner(),
        &package_ref(&joined(&a, &b))?,
        &tag,
        &body,
    )
    .await
}

fn check_tag(tag: &str) -> Result<(), NpmError> {
    Ok(check_dist_tag(tag)?)
}

async fn set_tag(
    state: &AppState,
    actor: Actor,
    r: &PackageRef,
    tag: &str,
    body: &[u8],
) -> NpmResult {
    check_tag(tag)?;
    let version: String = serde_json::from_slice(body)
        .map_err(|_| DomainError::invalid("the body must be a JSON string: the version"))?;
    let version = VersionName::parse(&version)?;
    state.domain.set_tag(&actor, r, tag, &version).await?;
    Ok((StatusCode::CREATED, Json(json!({"ok": true}))).into_response())
}

async fn delete_dist_tag_encoded(
    State(state): State<AppState>,
    actor: NpmActor,
    Path((a, tag)): Path<(String, String)>,
) -> NpmResult {
    remove_tag(&state, actor.into_inner(), &package_ref(&a)?, &tag).await
}

async fn delete_dist_tag(
    State(state): State<AppState>,
    actor: NpmActor,
    Path((a, b, tag)): Path<(String, String, String)>,
) -> NpmResult {
    remove_tag(
        &state,
        actor.into_inner(),
        &package_ref(&joined(&a, &b))?,
        &tag,
    )
    .await
}

async fn remove_tag(state: &AppState, actor: Actor, r: &PackageRef, tag: &str) -> NpmResult {
    if tag == "latest" {
        return Err(DomainError::invalid("the latest dist-tag can't be removed").into());
    }
    state.domain.delete_tag(&actor, r, tag).await?;
    Ok(Json(json!({"ok": true})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let r = package_ref("@acme/left-pad").expect("valid");
        assert_eq!((r.owner.as_str(), r.name.as_str()), ("acme", "left-pad"));
        for bad in [
            "left-pad",
            "@acme",
            "@acme/",
            "@Acme/x",
            "@acme/X",
            "@acme/../x",
            "@acme/a/b",
            "@acme/.x",
            "@acme/_x",
            "@a b/x",
        ] {
            assert!(package_ref(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(
            version_from_file(&r, "left-pad-1.2.3.tgz")
                .expect("valid")
                .as_str(),
            "1.2.3"
        );
        assert!(version_from_file(&r, "other-1.2.3.tgz").is_err());
    }

    #[test]
    fn tags_that_look_like_ranges_are_refused() {
        assert!(check_tag("beta").is_ok());
        assert!(check_tag("next-2").is_ok());
        for bad in ["1.2", "^1.0.0", ">=2", "1.x", "", "a b"] {
            assert!(check_tag(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn integrity_strings() {
        let hex = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
        assert_eq!(
            integrity_of(Some(hex)).expect("valid"),
            "sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw=="
        );
    }
}
