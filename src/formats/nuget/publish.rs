//! `nuget push` (the `PackagePublish/2.0.0` and `SymbolPackagePublish/4.9.0` resources) and
//! `nuget delete`. A push is `multipart/form-data`, sent chunked: the file part streams
//! into the blob store, the package's `.nuspec` and readme are read from the staged zip,
//! then one domain publish stores the version with its `.nupkg` and `.nuspec` (or, for a
//! symbol package, adds the `.snupkg` to its existing version and records its portable
//! PDBs' keys in the version's metadata for the symbol server, `symbols.rs`).
use std::{
    io::{BufReader, Write},
    path::PathBuf,
};

use axum::{
    extract::{Multipart, State, multipart::MultipartRejection},
    http::StatusCode,
    response::IntoResponse,
};
use bytes::Bytes;
use futures::TryStreamExt;

use crate::{
    auth::{Actor, Scope},
    domain::{
        FileName, PackageType, VersionName,
        metadata::{NugetMetadata, NugetSymbol, VersionMetadata},
        packages::{LastVersion, PackageRef},
        publish::{NewFile, PublishRequest},
    },
    error::{DomainError, DomainResult, What},
    formats::kit::path::Valid,
    state::AppState,
    storage::{DigestSet, Expectations, StagedBlob},
};

use super::{
    NugetActor, NugetResult, nupkg, nuspec,
    paths::{Nuget, NugetIdVersion, NugetOwner, package_file_name, package_ref},
    registrations::entries,
    symbols,
    version::NugetVersion,
};

/// What a push carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PushKind {
    Package,
    Symbols,
}

pub(super) async fn push_package(
    State(state): State<AppState>,
    actor: NugetActor,
    Valid(NugetOwner(owner), _): Nuget<NugetOwner>,
    multipart: Result<Multipart, MultipartRejection>,
) -> NugetResult {
    push(
        &state,
        actor.into_inner(),
        &owner,
        multipart,
        PushKind::Package,
    )
    .await
}

pub(super) async fn push_symbols(
    State(state): State<AppState>,
    actor: NugetActor,
    Valid(NugetOwner(owner), _): Nuget<NugetOwner>,
    multipart: Result<Multipart, MultipartRejection>,
) -> NugetResult {
    push(
        &state,
        actor.into_inner(),
        &owner,
        multipart,
        PushKind::Symbols,
    )
    .await
}

async fn push(
    state: &AppState,
    actor: Actor,
    owner: &crate::domain::OwnerName,
    multipart: Result<Multipart, MultipartRejection>,
    kind: PushKind,
) -> NugetResult {
    // Refused before a byte of the package is read: who may not push at all.
    if actor.is_anonymous() {
        return Err(DomainError::Unauthenticated(
            "sign in to push: -ApiKey TOKEN, or a Username and ClearTextPassword in nuget.config"
                .into(),
        )
        .into());
    }
    if !actor.has_scope(Scope::WritePackages) {
        return Err(DomainError::forbidden("the token lacks the write:packages scope").into());
    }
    let mut multipart = multipart.map_err(|e| {
        DomainError::invalid(format!(
            "a push is multipart/form-data with the package: {}",
            e.body_text()
        ))
    })?;
    let staged = stage_first_file(state, &mut multipart).await?;
    let (meta, readme, pdbs) = inspect(state, &staged, kind).await?;
    super::paths::check_id(&meta.id)?;
    let version = NugetVersion::parse(&meta.version)?;
    let r = package_ref(owner, &meta.id)?;
    let symbols_type = meta
        .package_types
        .iter()
        .any(|t| t.name.eq_ignore_ascii_case("SymbolsPackage"));
    match kind {
        PushKind::Package => nuspec::check_package_fields(&meta)?,
        PushKind::Symbols => {}
    }
    match kind {
        PushKind::Package if symbols_type => {
            return Err(DomainError::invalid(
                "this is a symbol package (.snupkg): push it to the symbol package resource",
            )
            .into());
        }
        PushKind::Symbols if !symbols_type => {
            return Err(DomainError::invalid(
                "a symbol package (.snupkg) has the SymbolsPackage package type",
            )
            .into());
        }
        _ => {}
    }
    // Names the same version as an existing one (NuGet compares release labels without
    // case): its stored name. Who may not read the package learns nothing here; the
    // publish below decides what they may do.
    let existing = existing_version(state, &actor, &r, &version).await?;
    let version_name = match (&existing, kind) {
        (Some(_), PushKind::Package) => {
            return Err(DomainError::exists(
                What::Version,
                format!("{} {} was pushed before", meta.id, version.normalized()),
            )
            .into());
        }
        (Some(name), PushKind::Symbols) => name.clone(),
        (None, PushKind::Package) => VersionName::parse(&version.normalized())?,
        (None, PushKind::Symbols) => {
            // Only someone who may read the package learns it lacks this version.
            state.domain.find_package(&actor, &r).await?;
            return Err(DomainError::not_found(
                What::Version,
                format!(
                    "{} {}: push the package before its symbols",
                    meta.id,
                    version.normalized()
                ),
            )
            .into());
        }
    };
    let mut files = Vec::with_capacity(2);
    let ext = if kind == PushKind::Symbols {
        "snupkg"
    } else {
        "nupkg"
    };
    files.push(NewFile {
        name: FileName::parse(&package_file_name(&meta.id, &version_name, ext))?,
        blob: staged,
        content_type: "application/octet-stream".into(),
    });
    if kind == PushKind::Package {
        // The `.nuspec` is served from the flat container as a file of its own.
        let text = nuspec_text(&meta);
        let blob = state
            .domain
            .stage_bytes(text, DigestSet::default(), &Expectations::default())
            .await?;
        files.push(NewFile {
            name: FileName::parse(&format!("{}.nuspec", meta.id.to_ascii_lowercase()))?,
            blob,
            content_type: "application/xml".into(),
        });
    }
    state
        .domain
        .publish(
            &actor,
            PublishRequest {
                package: r.clone(),
                version: version_name.clone(),
                prerelease: version.is_prerelease(),
                metadata: VersionMetadata::Nuget(meta),
                readme,
                files,
                tags: Vec::new(),
                visibility: None,
            },
        )
        .await?;
    if kind == PushKind::Symbols {
        symbols::record(state, &actor, &r, &version_name, pdbs).await?;
    }
    Ok(StatusCode::CREATED.into_response())
}

/// The stored name of the version equal to `version` (NuGet's equality), if there is one.
async fn existing_version(
    state: &AppState,
    actor: &Actor,
    r: &PackageRef,
    version: &NugetVersion,
) -> DomainResult<Option<VersionName>> {
    match state.domain.package_index(actor, r).await {
        Ok(index) => entries(&index)
            .iter()
            .find(|e| &e.version == version)
            .map(|e| VersionName::parse(&e.indexed.version.version))
            .transpose(),
        Err(DomainError::NotFound { .. } | DomainError::Unauthenticated(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Streams the first file part into the blob store, bounded by the NuGet file limit.
async fn stage_first_file(state: &AppState, multipart: &mut Multipart) -> DomainResult<StagedBlob> {
    let max = state.domain.max_file_bytes(PackageType::Nuget);
    let expect = Expectations {
        max_size: Some(max),
        ..Default::default()
    };
    let want = DigestSet {
        md5: false,
        sha1: false,
        sha512: true,
    };
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| DomainError::invalid(format!("bad multipart body: {}", e.body_text())))?
            .ok_or_else(|| DomainError::invalid("the push carries no package file"))?;
        if field.file_name().is_none() && field.name() != Some("package") {
            continue;
        }
        let stream = field.map_err(|e| std::io::Error::other(e.body_text()));
        return state.domain.stage_blob(stream, want, &expect).await;
    }
}

/// A private temporary file, removed when dropped.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Copies the staged package (streaming) to a temporary file and reads its `.nuspec` and
/// readme (and a symbol package's PDB ids) on a blocking thread, with the zip bounds of
/// `nupkg::LIMITS`.
async fn inspect(
    state: &AppState,
    staged: &StagedBlob,
    kind: PushKind,
) -> DomainResult<(NugetMetadata, Option<String>, Vec<NugetSymbol>)> {
    let dir = state.config.data_dir.join("tmp");
    tokio::fs::create_dir_all(&dir).await?;
    let temp = TempFile(dir.join(format!("nuget-{}.zip", uuid::Uuid::new_v4())));
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&temp.0).await?;
    let read = state.domain.open_staged(staged).await?;
    let mut reader = tokio_util::io::StreamReader::new(read.stream);
    tokio::io::copy(&mut reader, &mut file).await?;
    tokio::io::AsyncWriteExt::flush(&mut file).await?;
    drop(file);
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&temp.0)?;
        let mut zip = nupkg::open(BufReader::new(file), &nupkg::LIMITS)?;
        let text = nupkg::read_nuspec(&mut zip, &nupkg::LIMITS)?;
        let meta = nuspec::parse(&text)?;
        let readme = match &meta.readme_file {
            Some(path) => Some(
                nupkg::read_text_file(&mut zip, path, nupkg::LIMITS.max_readme)?.ok_or_else(
                    || DomainError::invalid(format!("the readme {path} is not in the package")),
                )?,
            ),
            None => None,
        };
        let symbols_type = meta
            .package_types
            .iter()
            .any(|t| t.name.eq_ignore_ascii_case("SymbolsPackage"));
        let pdbs = if kind == PushKind::Symbols && symbols_type {
            symbols::read_symbols(&mut zip)?
        } else {
            Vec::new()
        };
        drop(temp);
        Ok((meta, readme, pdbs))
    })
    .await
    .map_err(DomainError::internal)?
}

/// The `.nuspec` the flat container serves: rebuilt from what was read (the package's own
/// text may carry anything the parser skipped), so it is well-formed and bounded.
fn nuspec_text(m: &NugetMetadata) -> Bytes {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut x = Vec::new();
    let _ = write!(
        x,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<package xmlns=\"http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd\">\n  <metadata"
    );
    if let Some(v) = &m.min_client_version {
        let _ = write!(x, " minClientVersion=\"{}\"", esc(v));
    }
    let _ = writeln!(x, ">");
    let mut el = |name: &str, value: Option<&str>| {
        if let Some(v) = value {
            let _ = writeln!(x, "    <{name}>{}</{name}>", esc(v));
        }
    };
    el("id", Some(&m.id));
    el("version", Some(&m.version));
    el("title", m.title.as_deref());
    el("authors", Some(&m.authors.join(", ")));
    el("description", m.description.as_deref());
    el("summary", m.summary.as_deref());
    el("projectUrl", m.project_url.as_deref());
    el("licenseUrl", m.license_url.as_deref());
    el("icon", m.icon.as_deref());
    el("iconUrl", m.icon_url.as_deref());
    el("readme", m.readme_file.as_deref());
    el("releaseNotes", m.release_notes.as_deref());
    el("copyright", m.copyright.as_deref());
    el("language", m.language.as_deref());
    if !m.tags.is_empty() {
        el("tags", Some(&m.tags.join(" ")));
    }
    if let Some(l) = &m.license_expression {
        let _ = writeln!(x, "    <license type=\"expression\">{}</license>", esc(l));
    } else if let Some(l) = &m.license_file {
        let _ = writeln!(x, "    <license type=\"file\">{}</license>", esc(l));
    }
    if let Some(u) = &m.repository_url {
        let _ = writeln!(x, "    <repository url=\"{}\" />", esc(u));
    }
    if !m.dependency_groups.is_empty() {
        let _ = writeln!(x, "    <dependencies>");
        for g in &m.dependency_groups {
            match &g.target_framework {
                Some(tf) => {
                    let _ = writeln!(x, "      <group targetFramework=\"{}\">", esc(tf));
                }
                None => {
                    let _ = writeln!(x, "      <group>");
                }
            }
            for d in &g.dependencies {
                let _ = writeln!(
                    x,
                    "        <dependency id=\"{}\" version=\"{}\" />",
                    esc(&d.id),
                    esc(&d.range)
                );
            }
            let _ = writeln!(x, "      </group>");
        }
        let _ = writeln!(x, "    </dependencies>");
    }
    if !m.package_types.is_empty() {
        let _ = writeln!(x, "    <packageTypes>");
        for t in &m.package_types {
            let _ = writeln!(x, "      <packageType name=\"{}\" />", esc(&t.name));
        }
        let _ = writeln!(x, "    </packageTypes>");
    }
    let _ = write!(x, "  </metadata>\n</package>\n");
    Bytes::from(x)
}

/// `nuget delete ID VERSION`: the version is deleted (restorable through GraphQL); the
/// last one takes the package with it, as npm's unpublish does.
pub(super) async fn delete_version(
    State(state): State<AppState>,
    actor: NugetActor,
    Valid(NugetIdVersion { package, version }, _): Nuget<NugetIdVersion>,
) -> NugetResult {
    let actor = actor.into_inner();
    let name = existing_version(&state, &actor, &package, &version)
        .await?
        .ok_or_else(|| not_there(&actor, &package, &version))?;
    state
        .domain
        .delete_version_named(&actor, &package, &name, LastVersion::DeletesPackage)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A version that isn't there: for who may not read the package, the package isn't either.
fn not_there(actor: &Actor, r: &PackageRef, version: &NugetVersion) -> DomainError {
    if actor.is_anonymous() {
        return DomainError::Unauthenticated("sign in to delete packages".into());
    }
    DomainError::not_found(
        What::Version,
        format!("{} {} not found", r.name, version.normalized()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_nuspec_reads_back_the_same() {
        let xml = r#"<package><metadata minClientVersion="2.12"><id>A.B</id><version>1.0.0-rc.1</version>
            <authors>Ada &amp; Co</authors><description>d &lt;x&gt;</description>
            <license type="expression">MIT OR Apache-2.0</license>
            <repository url="https://h/acme/a" />
            <dependencies><group targetFramework="net6.0"><dependency id="C" version="[1.0, 2.0)"/></group></dependencies>
            <packageTypes><packageType name="Dependency"/></packageTypes>
            </metadata></package>"#;
        let m = nuspec::parse(xml).expect("valid");
        let again =
            nuspec::parse(std::str::from_utf8(&nuspec_text(&m)).expect("utf-8")).expect("valid");
        assert_eq!(again, m);
    }
}
