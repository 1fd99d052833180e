//! Generic packages: any file under owner/package/version, for scripts and CI artifacts
//! (as GitLab's and Gitea's generic registries do).
//!
//! `PUT|GET|HEAD|DELETE /generic/{owner}/{package}/{version}/{file}`,
//! `DELETE /generic/{owner}/{package}/{version}`.
use axum::{
    Json, Router,
    body::Body,
    extract::{DefaultBodyLimit, Path, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{delete, put},
};
use serde_json::json;

use crate::{
    auth::CurrentActor,
    domain::{
        FileName, OwnerName, PackageName, PackageType, VersionName,
        metadata::{GenericMetadata, VersionMetadata},
        packages::PackageRef,
        publish::{NewFile, PublishRequest},
    },
    error::DomainError,
    formats::http::{
        content_length, file_response, head_response, range_header, range_not_satisfiable,
    },
    state::AppState,
    storage::{DigestSet, Expectations},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/generic/{owner}/{package}/{version}/{file}",
            put(upload_file)
                .get(download_file)
                .head(head_file)
                .delete(delete_file),
        )
        .route(
            "/generic/{owner}/{package}/{version}",
            delete(delete_version),
        )
        .layer(DefaultBodyLimit::disable())
}

/// Errors as JSON `{"message", "code"}`, with the Basic challenge on 401.
pub struct GenericError(DomainError);

impl From<DomainError> for GenericError {
    fn from(e: DomainError) -> Self {
        Self(e)
    }
}

impl IntoResponse for GenericError {
    fn into_response(self) -> Response {
        if let DomainError::RangeNotSatisfiable { size } = self.0 {
            return range_not_satisfiable(size);
        }
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = Json(json!({"message": self.0.to_string(), "code": self.0.code()}));
        if status == StatusCode::UNAUTHORIZED {
            return (
                status,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"packyard\"")],
                body,
            )
                .into_response();
        }
        (status, body).into_response()
    }
}

type Actor = CurrentActor<GenericError>;

struct FilePath {
    package: PackageRef,
    version: VersionName,
    file: FileName,
}

fn parse_path(
    owner: &str,
    package: &str,
    version: &str,
    file: Option<&str>,
) -> Result<FilePath, GenericError> {
    let version = VersionName::parse(version)?;
    let ok_version = version
        .as_str()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b));
    if !ok_version {
        return Err(DomainError::invalid(format!(
            "invalid version {version:?}: use letters, digits, '.', '_', '-' or '+'"
        ))
        .into());
    }
    Ok(FilePath {
        package: PackageRef {
            owner: OwnerName::parse(owner)?,
            package_type: PackageType::Generic,
            name: PackageName::parse_simple(package)?,
        },
        version,
        file: FileName::parse(file.unwrap_or("_"))?,
    })
}

/// Streams the body into the blob store, then publishes it as a file of the version.
async fn upload_file(
    State(state): State<AppState>,
    actor: Actor,
    Path((owner, package, version, file)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, GenericError> {
    let path = parse_path(&owner, &package, &version, Some(&file))?;
    let actor = actor.into_inner();
    let expect = Expectations {
        size: content_length(&headers),
        max_size: Some(state.domain.max_file_bytes(PackageType::Generic)),
        sha256: headers
            .get("x-checksum-sha256")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        ..Default::default()
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let domain = &state.domain;
    // Refused before a byte is stored.
    domain.authorize_publish(&actor, &path.package).await?;
    let staged = domain
        .stage_blob(
            body.into_data_stream(),
            DigestSet {
                md5: true,
                sha1: true,
                sha512: false,
            },
            &expect,
        )
        .await?;
    let published = domain
        .publish(
            &actor,
            PublishRequest {
                package: path.package,
                version: path.version,
                metadata: VersionMetadata::Generic(GenericMetadata {}),
                readme: None,
                prerelease: false,
                files: vec![NewFile {
                    name: path.file,
                    blob: staged,
                    content_type,
                    lead: true,
                }],
                tags: Vec::new(),
                visibility: None,
            },
        )
        .await?;
    let file = published
        .files
        .first()
        .ok_or_else(|| DomainError::internal("published without a file"))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "package": published.package.name,
            "version": published.version.version,
            "file": file.name,
            "size": file.size,
            "sha256": file.sha256,
            "md5": file.md5,
            "sha1": file.sha1,
        })),
    )
        .into_response())
}

async fn download_file(
    State(state): State<AppState>,
    actor: Actor,
    Path((owner, package, version, file)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, GenericError> {
    let path = parse_path(&owner, &package, &version, Some(&file))?;
    let download = state
        .domain
        .open_file(
            &actor.into_inner(),
            &path.package,
            &path.version,
            &path.file,
            range_header(&headers),
        )
        .await?;
    Ok(file_response(download, false))
}

async fn head_file(
    State(state): State<AppState>,
    actor: Actor,
    Path((owner, package, version, file)): Path<(String, String, String, String)>,
) -> Result<Response, GenericError> {
    let path = parse_path(&owner, &package, &version, Some(&file))?;
    let (_, _, info) = state
        .domain
        .stat_file(
            &actor.into_inner(),
            &path.package,
            &path.version,
            &path.file,
        )
        .await?;
    Ok(head_response(&info))
}

async fn delete_file(
    State(state): State<AppState>,
    actor: Actor,
    Path((owner, package, version, file)): Path<(String, String, String, String)>,
) -> Result<Response, GenericError> {
    let path = parse_path(&owner, &package, &version, Some(&file))?;
    state
        .domain
        .delete_file(
            &actor.into_inner(),
            &path.package,
            &path.version,
            &path.file,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_version(
    State(state): State<AppState>,
    actor: Actor,
    Path((owner, package, version)): Path<(String, String, String)>,
) -> Result<Response, GenericError> {
    let path = parse_path(&owner, &package, &version, None)?;
    state
        .domain
        .delete_version_named(
            &actor.into_inner(),
            &path.package,
            &path.version,
            crate::domain::packages::LastVersion::DeletesPackage,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
