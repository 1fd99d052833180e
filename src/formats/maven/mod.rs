//! The Maven/Gradle repository (`/maven/{owner}/{repository}/...`, the Maven 2 layout), as
//! GitHub Packages serves it: a package is `groupId:artifactId`, lives in the repository
//! its URL names (which must exist), and takes that repository's access and visibility.
//!
//! Client setup (mvn): `<distributionManagement><repository><id>packyard</id>
//! <url>http://HOST/maven/OWNER/REPOSITORY</url>` and a settings.xml `<server>` with that id,
//! username and an access token; consumers list the same URL as a `<repository>`.
//! Gradle: `maven { url "http://HOST/maven/OWNER/REPOSITORY"; credentials { ... } }`.
//! Protocol: the Maven 2 repository layout (maven.apache.org/repository/layout.html) and
//! `maven-metadata.xml` (maven.apache.org/ref/current/maven-repository-metadata/).
//!
//! Served: every file of a version (streamed, `Range`), checksums of every file and every
//! metadata document from stored digests, `maven-metadata.xml` generated at artifact,
//! SNAPSHOT-version and group (plugin) level. Client uploads of metadata are checked and
//! dropped; uploaded checksums are verified (or kept until their file arrives).

mod errors;
#[doc(hidden)]
pub mod fuzzing;
mod metadata_xml;
mod paths;
mod plugin;
mod pom;

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{DefaultBodyLimit, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use md5::Digest;

use crate::{
    auth::{Actor, CurrentActor},
    domain::{
        Domain, FileName, PackageName, PackageType, VersionName,
        download::ChecksumKind,
        maven::{RepositoryRef, is_main_artifact},
        metadata::{MavenMetadata, VersionMetadata},
        packages::PackageRef,
        publish::{NewFile, PublishRequest},
    },
    error::{DomainError, DomainResult, What},
    formats::kit::{
        http::{content_length, file_response, head_response, range_header},
        path::Valid,
    },
    state::AppState,
    storage::{DigestSet, Expectations, StagedBlob},
};

pub use errors::MavenError;
use paths::{Coordinates, MavenPath, Target};

pub const PACKAGE_TYPE: PackageType = PackageType::Maven;

/// The largest checksum file read (a hex digest, maybe followed by a file name).
const CHECKSUM_BODY_MAX: usize = 4096;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/maven/{owner}/{repository}/{*path}",
            get(read).head(read).put(deploy),
        )
        .layer(DefaultBodyLimit::disable())
}

type MavenActor = CurrentActor<MavenError>;
type MavenResult = Result<Response, MavenError>;

/// GET and HEAD of anything in the layout. A HEAD counts no download.
async fn read(
    State(state): State<AppState>,
    method: Method,
    actor: MavenActor,
    Valid(path, _): Valid<MavenPath, MavenError>,
    headers: HeaderMap,
) -> MavenResult {
    let actor = actor.into_inner();
    let head = method == Method::HEAD;
    let d = &state.domain;
    let repo = &path.repository;
    match path.target {
        Target::File {
            coords,
            version,
            file,
            checksum: None,
        } => {
            let r = coords.package(repo)?;
            if head {
                let (_, _, info) = d
                    .stat_repository_file(&actor, repo, &r, &version, &file)
                    .await?;
                let modified = info.updated_at;
                return Ok(last_modified(head_response(&info), modified));
            }
            let download = d
                .open_repository_file(&actor, repo, &r, &version, &file, range_header(&headers))
                .await?;
            let modified = download.file.updated_at;
            Ok(last_modified(file_response(download, false), modified))
        }
        Target::File {
            coords,
            version,
            file,
            checksum: Some(kind),
        } => {
            let r = coords.package(repo)?;
            match d
                .repository_file_checksum(&actor, repo, &r, &version, &file, kind)
                .await
            {
                Ok(hex) => Ok(text(Bytes::from(hex), "text/plain", head, &headers)),
                // A checksum kept ahead of its file is served as it was uploaded.
                Err(
                    e @ DomainError::NotFound {
                        what: What::File | What::Version,
                        ..
                    },
                ) => {
                    let kept = FileName::parse(&format!("{file}.{kind}"))?;
                    match d
                        .open_repository_file(&actor, repo, &r, &version, &kept, None)
                        .await
                    {
                        Ok(download) => Ok(file_response(download, head)),
                        Err(_) => Err(e.into()),
                    }
                }
                Err(e) => Err(e.into()),
            }
        }
        Target::Metadata {
            artifact,
            group,
            checksum,
        } => {
            let artifact_doc = match &artifact {
                Some(coords) => {
                    let r = coords.package(repo)?;
                    Some(
                        d.repository_package_document(&actor, repo, &r, "maven-metadata", |i| {
                            metadata_xml::render_artifact(i, coords)
                        })
                        .await,
                    )
                }
                None => None,
            };
            let body = match artifact_doc {
                Some(Ok(doc)) => doc.body,
                // No artifact of that name: the path may be a group's (plugin prefixes).
                other => match d.repository_plugins(&actor, repo, &group).await {
                    Ok(mut plugins) => {
                        for p in &mut plugins {
                            p.prefix
                                .get_or_insert_with(|| plugin::default_prefix(&p.artifact_id));
                        }
                        metadata_xml::render_group(&plugins)
                    }
                    Err(e) => {
                        return Err(match other {
                            Some(Err(artifact_error)) => artifact_error,
                            _ => e,
                        }
                        .into());
                    }
                },
            };
            Ok(metadata_response(body, checksum, head, &headers))
        }
        Target::SnapshotMetadata {
            coords,
            version,
            checksum,
        } => {
            let r = coords.package(repo)?;
            let index = d.repository_package_index(&actor, repo, &r).await?;
            let body = metadata_xml::render_snapshot(&index, &coords, version.as_str())?;
            Ok(metadata_response(body, checksum, head, &headers))
        }
    }
}

/// PUT of anything in the layout: artifacts are stored, checksums verified (or kept until
/// their file arrives), a client's metadata checked and dropped.
async fn deploy(
    State(state): State<AppState>,
    actor: MavenActor,
    Valid(path, _): Valid<MavenPath, MavenError>,
    headers: HeaderMap,
    body: Body,
) -> MavenResult {
    let actor = actor.into_inner();
    let d = &state.domain;
    let repo = &path.repository;
    let result = match path.target {
        Target::File {
            coords,
            version,
            file,
            checksum: None,
        } => deploy_file(d, &actor, repo, &coords, version, file, &headers, body).await,
        Target::File {
            coords,
            version,
            file,
            checksum: Some(kind),
        } => deploy_checksum(d, &actor, repo, &coords, version, file, kind, body).await,
        Target::Metadata {
            artifact,
            group,
            checksum,
        } => {
            let r = match &artifact {
                Some(coords) => coords.package(repo)?,
                // A group's own metadata: the deploy right is checked on the group.
                None => PackageRef {
                    owner: repo.owner.clone(),
                    package_type: PACKAGE_TYPE,
                    name: PackageName::parse(&format!("{group}:maven-metadata"))?,
                },
            };
            deploy_metadata(d, &actor, repo, &r, artifact.as_ref(), checksum, body).await
        }
        Target::SnapshotMetadata {
            coords, checksum, ..
        } => {
            let r = coords.package(repo)?;
            deploy_metadata(d, &actor, repo, &r, Some(&coords), checksum, body).await
        }
    };
    result.map_err(MavenError::deploying(repo))
}

#[expect(
    clippy::too_many_arguments,
    reason = "one deploy's validated path parts, headers and body"
)]
async fn deploy_file(
    d: &Domain,
    actor: &Actor,
    repo: &RepositoryRef,
    coords: &Coordinates,
    version: VersionName,
    file: FileName,
    headers: &HeaderMap,
    body: Body,
) -> DomainResult<Response> {
    let r = coords.package(repo)?;
    // Refused before a byte is stored.
    d.authorize_deploy(actor, repo, &r).await?;
    let is_pom = file.as_str().ends_with(".pom");
    let max = d.max_file_bytes(PACKAGE_TYPE);
    let mut expect = Expectations {
        size: content_length(headers),
        max_size: Some(if is_pom { max.min(pom::POM_MAX) } else { max }),
        ..Default::default()
    };
    // Checksums uploaded before the file: the file must match them.
    for (kind, text) in d.kept_checksums(&r, &version, &file).await? {
        let hex = checksum_hex(text.as_bytes(), kind)?;
        match kind {
            ChecksumKind::Md5 => expect.md5 = Some(hex),
            ChecksumKind::Sha1 => expect.sha1 = Some(hex),
            ChecksumKind::Sha256 => expect.sha256 = Some(hex),
            ChecksumKind::Sha512 => expect.sha512 = Some(hex),
        }
    }
    let staged = d
        .stage_blob(
            body.into_data_stream(),
            DigestSet {
                md5: true,
                sha1: true,
                sha512: true,
            },
            &expect,
        )
        .await?;
    let mut metadata = MavenMetadata::default();
    let mut update_metadata = false;
    let mut readme = None;
    if is_pom {
        let pom = pom::parse(&read_staged(d, &staged, pom::POM_MAX).await?)?;
        check_pom_coordinates(&pom, coords, &version)?;
        readme = pom.metadata.description.clone();
        metadata = pom.metadata;
        update_metadata = true;
    } else if is_main_artifact(version.as_str(), file.as_str())
        && file.as_str().ends_with(".jar")
        && coords.artifact.contains("plugin")
        && staged.size <= plugin::PLUGIN_JAR_MAX
        && let Some(prefix) =
            plugin::goal_prefix(&read_staged(d, &staged, plugin::PLUGIN_JAR_MAX).await?)
    {
        metadata.plugin_prefix = Some(prefix);
        update_metadata = true;
    }
    let content_type = content_type(file.as_str()).to_string();
    d.deploy(
        actor,
        repo,
        PublishRequest {
            package: r,
            prerelease: version.as_str().ends_with("-SNAPSHOT"),
            version,
            metadata: VersionMetadata::Maven(metadata),
            readme,
            files: vec![NewFile {
                name: file,
                blob: staged,
                content_type,
            }],
            tags: Vec::new(),
            visibility: None,
        },
        update_metadata,
    )
    .await?;
    Ok(StatusCode::CREATED.into_response())
}

/// The POM must describe the artifact its path names (a SNAPSHOT's timestamped POM names
/// its `-SNAPSHOT` version). A value left to a property (`${revision}`) or to the parent
/// is not resolved, so it isn't compared.
fn check_pom_coordinates(
    pom: &pom::Pom,
    coords: &Coordinates,
    version: &VersionName,
) -> DomainResult<()> {
    let differs = |said: &Option<String>, want: &str| {
        said.as_deref()
            .is_some_and(|s| !s.contains("${") && s != want)
    };
    if differs(&pom.group_id, &coords.group)
        || differs(&pom.artifact_id, &coords.artifact)
        || differs(&pom.version, version.as_str())
    {
        return Err(DomainError::invalid(format!(
            "the POM describes {}:{}:{}, but it was deployed as {}:{}:{version}",
            pom.group_id.as_deref().unwrap_or("?"),
            pom.artifact_id.as_deref().unwrap_or("?"),
            pom.version.as_deref().unwrap_or("?"),
            coords.group,
            coords.artifact,
        )));
    }
    Ok(())
}

#[expect(
    clippy::too_many_arguments,
    reason = "one deploy's validated path parts and body"
)]
async fn deploy_checksum(
    d: &Domain,
    actor: &Actor,
    repo: &RepositoryRef,
    coords: &Coordinates,
    version: VersionName,
    file: FileName,
    kind: ChecksumKind,
    body: Body,
) -> DomainResult<Response> {
    let r = coords.package(repo)?;
    d.authorize_deploy(actor, repo, &r).await?;
    let hex = checksum_hex(&read_body(body, CHECKSUM_BODY_MAX).await?, kind)?;
    match d
        .repository_file_checksum(actor, repo, &r, &version, &file, kind)
        .await
    {
        Ok(stored) if stored.eq_ignore_ascii_case(&hex) => Ok(StatusCode::CREATED.into_response()),
        Ok(stored) => Err(DomainError::DigestMismatch {
            expected: format!("{kind} {stored} of {file}"),
            actual: hex,
        }),
        // Before its file: kept, and the file's upload is checked against it.
        Err(DomainError::NotFound { .. }) => {
            let staged = d
                .stage_bytes(
                    Bytes::from(hex),
                    DigestSet {
                        md5: false,
                        sha1: false,
                        sha512: false,
                    },
                    &Expectations::default(),
                )
                .await?;
            d.deploy(
                actor,
                repo,
                PublishRequest {
                    package: r,
                    prerelease: version.as_str().ends_with("-SNAPSHOT"),
                    version,
                    metadata: VersionMetadata::Maven(MavenMetadata::default()),
                    readme: None,
                    files: vec![NewFile {
                        name: FileName::parse(&format!("{file}.{kind}"))?,
                        blob: staged,
                        content_type: "text/plain".into(),
                    }],
                    tags: Vec::new(),
                    visibility: None,
                },
                false,
            )
            .await?;
            Ok(StatusCode::CREATED.into_response())
        }
        Err(e) => Err(e),
    }
}

/// A client's `maven-metadata.xml` (or its checksum): accepted once the caller may deploy
/// there and it is sane, never stored (the served metadata is generated).
async fn deploy_metadata(
    d: &Domain,
    actor: &Actor,
    repo: &RepositoryRef,
    r: &PackageRef,
    coords: Option<&Coordinates>,
    checksum: Option<ChecksumKind>,
    body: Body,
) -> DomainResult<Response> {
    d.authorize_deploy(actor, repo, r).await?;
    match checksum {
        Some(kind) => {
            checksum_hex(&read_body(body, CHECKSUM_BODY_MAX).await?, kind)?;
        }
        None => {
            let xml = read_body(body, metadata_xml::UPLOADED_MAX as usize).await?;
            metadata_xml::check_uploaded(&xml, coords)?;
        }
    }
    Ok(StatusCode::CREATED.into_response())
}

/// A small body read whole, bounded.
async fn read_body(body: Body, max: usize) -> DomainResult<Bytes> {
    axum::body::to_bytes(body, max)
        .await
        .map_err(|_| DomainError::PayloadTooLarge(format!("a body over {max} bytes")))
}

/// A staged file read back whole (POMs and plugin jars only, both bounded).
async fn read_staged(d: &Domain, staged: &StagedBlob, max: u64) -> DomainResult<Vec<u8>> {
    if staged.size > max {
        return Err(DomainError::PayloadTooLarge(format!(
            "larger than {max} bytes"
        )));
    }
    let read = d.open_staged(staged).await?;
    let chunks: Vec<Bytes> = read.stream.try_collect().await?;
    Ok(chunks.concat())
}

/// The hex digest a checksum file holds: its first word (some tools append the file
/// name), of the kind's length.
fn checksum_hex(body: &[u8], kind: ChecksumKind) -> DomainResult<String> {
    let text = std::str::from_utf8(body)
        .map_err(|_| DomainError::invalid(format!("a {kind} checksum must be text")))?;
    let hex = text
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let len = match kind {
        ChecksumKind::Md5 => 32,
        ChecksumKind::Sha1 => 40,
        ChecksumKind::Sha256 => 64,
        ChecksumKind::Sha512 => 128,
    };
    if hex.len() != len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DomainError::invalid(format!(
            "invalid {kind} checksum: expected {len} hex digits"
        )));
    }
    Ok(hex)
}

/// The hex digest of a generated document.
fn digest_hex(body: &[u8], kind: ChecksumKind) -> String {
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    match kind {
        ChecksumKind::Md5 => hex(&md5::Md5::digest(body)),
        ChecksumKind::Sha1 => hex(&sha1::Sha1::digest(body)),
        ChecksumKind::Sha256 => hex(&sha2::Sha256::digest(body)),
        ChecksumKind::Sha512 => hex(&sha2::Sha512::digest(body)),
    }
}

/// A generated metadata document, or its checksum.
fn metadata_response(
    body: Bytes,
    checksum: Option<ChecksumKind>,
    head: bool,
    headers: &HeaderMap,
) -> Response {
    match checksum {
        Some(kind) => text(
            Bytes::from(digest_hex(&body, kind)),
            "text/plain",
            head,
            headers,
        ),
        None => text(body, "text/xml", head, headers),
    }
}

/// A small generated answer with its ETag (304 when the client has it).
fn text(body: Bytes, content_type: &'static str, head: bool, headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", &digest_hex(&body, ChecksumKind::Sha256)[..32]);
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response();
    }
    let length = body.len();
    let mut response = if head {
        Body::empty().into_response()
    } else {
        body.into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(header::ETAG, etag_value);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `Last-Modified` on a file answer.
fn last_modified(mut response: Response, at: DateTime<Utc>) -> Response {
    if let Ok(v) = HeaderValue::from_str(&at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()) {
        response.headers_mut().insert(header::LAST_MODIFIED, v);
    }
    response
}

/// The content type a deployed file is served with, by its extension.
fn content_type(file: &str) -> &'static str {
    let ext = file.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "jar" | "war" | "ear" | "aar" | "rar" => "application/java-archive",
        "pom" | "xml" => "text/xml",
        "module" | "json" => "application/json",
        "asc" => "application/pgp-signature",
        "md5" | "sha1" | "sha256" | "sha512" | "txt" => "text/plain",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_files_hold_one_hex_word() {
        let sha1 = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3";
        assert_eq!(
            checksum_hex(
                format!("{sha1}  app-1.0.jar\n").as_bytes(),
                ChecksumKind::Sha1
            )
            .expect("valid"),
            sha1
        );
        assert_eq!(
            checksum_hex(sha1.to_uppercase().as_bytes(), ChecksumKind::Sha1).expect("valid"),
            sha1
        );
        assert!(checksum_hex(sha1.as_bytes(), ChecksumKind::Md5).is_err());
        assert!(checksum_hex(b"zz", ChecksumKind::Md5).is_err());
        assert!(checksum_hex(&[0xff, 0xfe], ChecksumKind::Md5).is_err());
        assert_eq!(digest_hex(b"test", ChecksumKind::Sha1), sha1);
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("app-1.0.jar"), "application/java-archive");
        assert_eq!(content_type("app-1.0.pom"), "text/xml");
        assert_eq!(content_type("app-1.0.module"), "application/json");
        assert_eq!(content_type("app-1.0.jar.asc"), "application/pgp-signature");
        assert_eq!(content_type("app-1.0.bin"), "application/octet-stream");
    }
}
