//! `npm publish`: the package document is split from its tarball as it streams in, the
//! tarball staged, checked against the document and its own package.json, then published.

use axum::{Json, body::Body, extract::State, http::StatusCode, response::IntoResponse};
use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::{
    auth::Actor,
    domain::{
        FileName, PackageType, VersionName, Visibility,
        metadata::{NpmMetadata, VersionMetadata},
        npm::check_dist_tag,
        packages::PackageRef,
        publish::{NewFile, PublishRequest},
    },
    error::{DomainError, DomainResult},
    formats::kit::path::Valid,
    state::AppState,
    storage::{DigestSet, Expectations, StagedBlob},
};

use super::{
    DOCUMENT_MAX, NpmActor, NpmError, NpmResult,
    document::{DocumentSplitter, PublishDocument, UpdateDocument},
    paths::{Npm, NpmPackage, full_name},
    tarball,
    tarball::TarballContents,
    update::update_versions,
};

/// npm registry API: publish (`PUT /{package}` with the package document).
pub(super) async fn publish(
    State(state): State<AppState>,
    actor: NpmActor,
    Valid(NpmPackage(r), _): Npm<NpmPackage>,
    body: Body,
) -> NpmResult {
    put_document(&state, actor.into_inner(), &r, None, body).await
}

/// A PUT of the package document: a publish when it carries a tarball, otherwise an update
/// of existing versions (deprecations; versions left out are unpublished, as npm's
/// `unpublish pkg@version` does).
pub(super) async fn put_document(
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

/// A publish document with its tarball staged: checked step by step (each refusal before
/// anything is stored), then one domain publish.
async fn publish_version(
    state: &AppState,
    actor: &Actor,
    r: &PackageRef,
    mut doc: PublishDocument,
    staged: StagedBlob,
) -> NpmResult {
    let (version_text, manifest) = only_version(&mut doc)?;
    let version = VersionName::parse(&version_text)?;
    check_attachment(r, &version, &doc, &staged)?;
    check_declared_digests(&manifest, &staged)?;
    let contents = inspect_staged(state, &staged).await?;
    check_tarball_manifest(r, &version_text, &contents)?;
    let manifest = registry_manifest(manifest, &contents);
    let readme = doc
        .readme
        .take()
        .filter(|r| !r.is_empty() && r != "ERROR: No README data found!")
        .or(contents.readme);
    let tags = publish_tags(&doc, &version_text)?;
    let prerelease = semver::Version::parse(&version_text).is_ok_and(|v| !v.pre.is_empty());
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
                }],
                tags,
                visibility: requested_visibility(doc.access.as_deref()),
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"ok": true, "id": full_name(r)})),
    )
        .into_response())
}

/// The one version a publish carries, with its manifest; its name must be semver.
fn only_version(doc: &mut PublishDocument) -> DomainResult<(String, Value)> {
    let mut versions = std::mem::take(&mut doc.versions).into_iter();
    let (version_text, manifest) = match (versions.next(), versions.next()) {
        (Some(v), None) => v,
        _ => {
            return Err(DomainError::invalid(
                "a publish carries exactly one version",
            ));
        }
    };
    semver::Version::parse(&version_text)
        .map_err(|e| DomainError::invalid(format!("invalid version {version_text:?}: {e}")))?;
    Ok((version_text, manifest))
}

/// The attachment is the version's tarball, as long as the document says.
fn check_attachment(
    r: &PackageRef,
    version: &VersionName,
    doc: &PublishDocument,
    staged: &StagedBlob,
) -> DomainResult<()> {
    let (attachment_name, attachment) = doc
        .attachments
        .iter()
        .next()
        .ok_or_else(|| DomainError::invalid("no tarball attached"))?;
    if *attachment_name != format!("{}-{version}.tgz", full_name(r))
        && *attachment_name != format!("{}-{version}.tgz", r.name)
    {
        return Err(DomainError::invalid(format!(
            "unexpected attachment name {attachment_name:?}"
        )));
    }
    if let Some(length) = attachment.get("length").and_then(Value::as_u64)
        && length != staged.size
    {
        return Err(DomainError::invalid(format!(
            "the tarball is {} bytes, the document says {length}",
            staged.size
        )));
    }
    Ok(())
}

/// The digests the manifest's `dist` declares must be the tarball's.
fn check_declared_digests(manifest: &Value, staged: &StagedBlob) -> DomainResult<()> {
    let dist = manifest.get("dist").cloned().unwrap_or(Value::Null);
    if let Some(shasum) = dist.get("shasum").and_then(Value::as_str)
        && Some(shasum) != staged.digests.sha1.as_deref()
    {
        return Err(DomainError::DigestMismatch {
            expected: format!("sha1:{shasum}"),
            actual: format!("sha1:{}", staged.digests.sha1.clone().unwrap_or_default()),
        });
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
            });
        }
    }
    Ok(())
}

/// Reads the staged tarball's package.json, README and sizes (on a blocking thread: the
/// gzip and tar readers are synchronous).
/// A read that fails while the stored bytes are not (yet) the staged ones raced another
/// publish promoting the same content on a store without atomic copies: it is read again.
async fn inspect_staged(state: &AppState, staged: &StagedBlob) -> DomainResult<TarballContents> {
    const ATTEMPTS: u64 = 5;
    let mut attempt = 1;
    loop {
        match inspect_staged_once(state, staged).await {
            Err(e) if attempt < ATTEMPTS => {
                if state.domain.staged_reads_back_whole(staged).await {
                    return Err(e);
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 * attempt)).await;
                attempt += 1;
            }
            done => return done,
        }
    }
}

async fn inspect_staged_once(
    state: &AppState,
    staged: &StagedBlob,
) -> DomainResult<TarballContents> {
    let read = state.domain.open_staged(staged).await?;
    let reader = tokio_util::io::StreamReader::new(read.stream);
    tokio::task::spawn_blocking(move || tarball::inspect(tokio_util::io::SyncIoBridge::new(reader)))
        .await
        .map_err(DomainError::internal)?
}

/// The package.json inside the tarball must name the package and version published.
fn check_tarball_manifest(
    r: &PackageRef,
    version_text: &str,
    contents: &TarballContents,
) -> DomainResult<()> {
    let field = |key: &str| {
        contents
            .manifest
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let (inner_name, inner_version) = (field("name"), field("version"));
    // npm publishes `semver.clean()`'d versions (`v1.0.0+build` → `1.0.0`); the tarball
    // keeps what package.json says.
    let cleaned = |v: &str| {
        let v = v.trim().trim_start_matches(['v', '=']);
        v.split('+').next().unwrap_or(v).to_string()
    };
    if inner_name != full_name(r) || cleaned(inner_version) != cleaned(version_text) {
        return Err(DomainError::invalid(format!(
            "the tarball's package.json is {inner_name}@{inner_version}, the document publishes {}@{version_text}",
            full_name(r)
        )));
    }
    Ok(())
}

/// The manifest as the registry keeps it: the client's private fields dropped, what we
/// measured ourselves added (the packument adds the tarball's URL and digests).
fn registry_manifest(mut manifest: Value, contents: &TarballContents) -> Value {
    if let Value::Object(map) = &mut manifest {
        for private in ["dist", "readme", "_attachments", "_id", "_rev"] {
            map.remove(private);
        }
        // Registry-computed: npm installs a shipped shrinkwrap's tree.
        map.insert(
            "_hasShrinkwrap".into(),
            Value::Bool(contents.has_shrinkwrap),
        );
        if let Some(u) = &contents.unpacked {
            map.insert(
                "dist".into(),
                json!({"fileCount": u.files, "unpackedSize": u.bytes}),
            );
        }
    }
    manifest
}

/// The dist-tags the document points at this version (`latest` when none), each checked.
fn publish_tags(doc: &PublishDocument, version_text: &str) -> DomainResult<Vec<String>> {
    let tags: Vec<String> = doc
        .dist_tags
        .iter()
        .filter(|(_, v)| v.as_str() == Some(version_text))
        .map(|(k, _)| k.clone())
        .collect();
    for tag in &tags {
        check_dist_tag(tag)?;
    }
    if tags.is_empty() {
        return Ok(vec!["latest".to_string()]);
    }
    Ok(tags)
}

/// `--access` decides a new package's visibility; without it the owner's default does.
fn requested_visibility(access: Option<&str>) -> Option<Visibility> {
    match access {
        Some("public") => Some(Visibility::Public),
        Some("restricted") => Some(Visibility::Private),
        _ => None,
    }
}

/// `sha512-<base64>` from a hex SHA-512.
pub(super) fn integrity_of(sha512_hex: Option<&str>) -> Option<String> {
    let bytes = hex::decode(sha512_hex?).ok()?;
    Some(format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme_pad() -> PackageRef {
        super::super::paths::package_ref("@acme/pad").expect("valid")
    }

    fn document(value: Value) -> PublishDocument {
        serde_json::from_value(value).expect("a publish document")
    }

    fn staged(size: u64, sha1: &str) -> StagedBlob {
        StagedBlob {
            size,
            digests: crate::storage::Digests {
                sha256: "00".into(),
                md5: None,
                sha1: Some(sha1.into()),
                sha512: None,
            },
        }
    }

    #[test]
    fn a_publish_carries_one_semver_version() {
        let mut one = document(json!({"name": "@acme/pad", "versions": {"1.0.0": {"a": 1}}}));
        let (version, manifest) = only_version(&mut one).expect("one version");
        assert_eq!((version.as_str(), manifest), ("1.0.0", json!({"a": 1})));
        let mut two = document(json!({"name": "x", "versions": {"1.0.0": {}, "2.0.0": {}}}));
        assert!(only_version(&mut two).is_err());
        let mut none = document(json!({"name": "x"}));
        assert!(only_version(&mut none).is_err());
        let mut loose = document(json!({"name": "x", "versions": {"1.0": {}}}));
        assert!(only_version(&mut loose).is_err());
    }

    #[test]
    fn the_attachment_is_the_versions_tarball() {
        let r = acme_pad();
        let v = VersionName::parse("1.0.0").expect("valid");
        let named = |name: &str, length: u64| {
            document(json!({"name": "@acme/pad", "_attachments": {name: {"length": length}}}))
        };
        for name in ["@acme/pad-1.0.0.tgz", "pad-1.0.0.tgz"] {
            assert!(check_attachment(&r, &v, &named(name, 10), &staged(10, "ab")).is_ok());
        }
        assert!(check_attachment(&r, &v, &named("pad-2.0.0.tgz", 10), &staged(10, "ab")).is_err());
        assert!(check_attachment(&r, &v, &named("pad-1.0.0.tgz", 11), &staged(10, "ab")).is_err());
        assert!(
            check_attachment(&r, &v, &document(json!({"name": "x"})), &staged(1, "ab")).is_err()
        );
    }

    #[test]
    fn declared_digests_must_be_the_tarballs() {
        let blob = staged(3, "ab");
        assert!(check_declared_digests(&json!({}), &blob).is_ok());
        assert!(check_declared_digests(&json!({"dist": {"shasum": "ab"}}), &blob).is_ok());
        assert!(matches!(
            check_declared_digests(&json!({"dist": {"shasum": "cd"}}), &blob),
            Err(DomainError::DigestMismatch { .. })
        ));
        // Only sha512 integrities are compared; a sha1 one alone says nothing we check.
        assert!(check_declared_digests(&json!({"dist": {"integrity": "sha1-xyz"}}), &blob).is_ok());
        assert!(
            check_declared_digests(&json!({"dist": {"integrity": "sha512-xyz"}}), &blob).is_err()
        );
    }

    fn contents(manifest: Value) -> TarballContents {
        TarballContents {
            manifest,
            readme: None,
            unpacked: Some(super::super::tarball::Unpacked { files: 2, bytes: 9 }),
            has_shrinkwrap: false,
        }
    }

    #[test]
    fn the_tarballs_package_json_names_what_is_published() {
        let r = acme_pad();
        let inner = contents(json!({"name": "@acme/pad", "version": "v1.0.0+build"}));
        assert!(check_tarball_manifest(&r, "1.0.0", &inner).is_ok());
        assert!(check_tarball_manifest(&r, "1.0.1", &inner).is_err());
        let other = contents(json!({"name": "@acme/other", "version": "1.0.0"}));
        assert!(check_tarball_manifest(&r, "1.0.0", &other).is_err());
    }

    #[test]
    fn the_registry_keeps_its_own_measurements() {
        let manifest =
            json!({"name": "@acme/pad", "_id": "x", "readme": "r", "dist": {"shasum": "ab"}});
        let kept = registry_manifest(manifest, &contents(json!({})));
        assert_eq!(
            kept,
            json!({"name": "@acme/pad", "_hasShrinkwrap": false, "dist": {"fileCount": 2, "unpackedSize": 9}})
        );
    }

    #[test]
    fn tags_and_access() {
        let doc = document(json!({"name": "x", "dist-tags": {"beta": "1.0.0", "latest": "0.9.0"}}));
        assert_eq!(publish_tags(&doc, "1.0.0").expect("valid"), ["beta"]);
        assert_eq!(publish_tags(&doc, "2.0.0").expect("valid"), ["latest"]);
        let ranged = document(json!({"name": "x", "dist-tags": {"^1.0.0": "1.0.0"}}));
        assert!(publish_tags(&ranged, "1.0.0").is_err());
        assert_eq!(
            requested_visibility(Some("public")),
            Some(Visibility::Public)
        );
        assert_eq!(
            requested_visibility(Some("restricted")),
            Some(Visibility::Private)
        );
        assert_eq!(requested_visibility(None), None);
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
