//! Generic packages: any file under owner/package/version, for scripts and CI artifacts
//! (as GitLab's and Gitea's generic registries do).
//!
//! `PUT|GET|HEAD|DELETE /generic/{owner}/{package}/{version}/{file}`,
//! `DELETE /generic/{owner}/{package}/{version}`.
use axum::{
    Json, Router,
    body::Body,
    extract::{DefaultBodyLimit, State},
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
    formats::kit::{
        errors::{Door, DoorError},
        http::{content_length, file_response, head_response, range_header},
        path::{PathGrammar, PathParams, Valid},
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

/// Errors as JSON `{"message", "code"}`, with the Basic challenge on 401 (curl and CI
/// scripts send a token as a Basic password).
pub struct GenericDoor;

impl Door for GenericDoor {
    const CHALLENGE: Option<&'static str> = Some("Basic realm=\"packyard\"");

    fn body(err: &DomainError) -> Response {
        Json(json!({"message": err.to_string(), "code": err.code()})).into_response()
    }
}

pub type GenericError = DoorError<GenericDoor>;

type Actor = CurrentActor<GenericError>;

struct FilePath {
    package: PackageRef,
    version: VersionName,
    file: FileName,
}

impl PathGrammar for FilePath {
    /// `{owner}/{package}/{version}` and, but for a version's DELETE, `/{file}`.
    fn from_params(p: &PathParams) -> Result<Self, DomainError> {
        let version = VersionName::parse(p.get("version")?)?;
        // A version is a path segment of curl-made URLs: no characters that need escaping.
        let ok_version = version
            .as_str()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b));
        if !ok_version {
            return Err(DomainError::invalid(format!(
                "invalid version {version:?}: use letters, digits, '.', '_', '-' or '+'"
            )));
        }
        Ok(FilePath {
            package: PackageRef {
                owner: OwnerName::parse(p.get("owner")?)?,
                package_type: PackageType::Generic,
                name: PackageName::parse_simple(p.get("package")?)?,
            },
            version,
            file: FileName::parse(p.opt("file").unwrap_or("_"))?,
        })
    }
}

type ValidPath = Valid<FilePath, GenericError>;

/// Streams the body into the blob store, then publishes it as a file of the version.
async fn upload_file(
    State(state): State<AppState>,
    actor: Actor,
    Valid(path, _): ValidPath,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, GenericError> {
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
    domain
        .refuse_upload_over_quota(&path.package, expect.size)
        .await?;
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
    Valid(path, _): ValidPath,
    headers: HeaderMap,
) -> Result<Response, GenericError> {
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
    Valid(path, _): ValidPath,
) -> Result<Response, GenericError> {
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
    Valid(path, _): ValidPath,
) -> Result<Response, GenericError> {
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
    Valid(path, _): ValidPath,
) -> Result<Response, GenericError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> PathParams {
        PathParams::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn file_paths_are_validated_before_any_io() {
        let base = [
            ("owner", "alice"),
            ("package", "tool"),
            ("version", "1.0.0+b"),
        ];
        let file = FilePath::from_params(&params(&[base[0], base[1], base[2], ("file", "a.tgz")]))
            .expect("valid");
        assert_eq!(file.file.as_str(), "a.tgz");
        // A version's DELETE names no file.
        assert!(FilePath::from_params(&params(&base)).is_ok());
        for bad in [
            [
                ("owner", "alice"),
                ("package", "tool"),
                ("version", "1.0 0"),
            ],
            [("owner", "alice"), ("package", "tool"), ("version", "1/0")],
            [("owner", "-x"), ("package", "tool"), ("version", "1")],
            [("owner", "alice"), ("package", "a/b"), ("version", "1")],
        ] {
            assert!(FilePath::from_params(&params(&bad)).is_err(), "{bad:?}");
        }
    }
}
