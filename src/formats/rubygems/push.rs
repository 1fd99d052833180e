//! `gem push`, `gem yank` and `gem signin`.
use axum::{
    Form,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use md5::Digest;
use serde::Deserialize;

use crate::{
    auth::{Actor, Credential, credential_from_headers},
    domain::{
        FileName, OwnerName, PackageType, VersionName,
        metadata::{RubygemsMetadata, VersionMetadata},
        packages::PackageRef,
        publish::{NewFile, PublishRequest},
    },
    error::{DomainError, DomainResult, What},
    server::ClientAddr,
    state::AppState,
    storage::{DigestSet, Expectations, StagedBlob},
};

use super::{
    GemActor, GemResult, RubygemsError, archive, compact_index, gemspec,
    paths::{GemOwner, Gems, gem_ref},
    text,
    version::{gem_file_name, is_prerelease},
};
use crate::formats::kit::path::Valid;

/// rubygems.org API: `POST /api/v1/gems` with the `.gem` as the body. The gem's name is
/// inside it: a caller who may push no gem here is refused first; then the upload is
/// staged (streamed, hashed, bounded) and read back before anything is recorded; a later
/// refusal leaves only a staged blob no row references (GC's).
pub(super) async fn push(
    State(state): State<AppState>,
    actor: GemActor,
    Valid(GemOwner(owner), _): Gems<GemOwner>,
    body: Body,
) -> GemResult {
    let actor = actor.into_inner();
    state
        .domain
        .authorize_gem_push_start(&actor, &owner)
        .await?;
    let expect = Expectations {
        max_size: Some(state.domain.max_file_bytes(PackageType::Rubygems)),
        ..Default::default()
    };
    let want = DigestSet {
        md5: true,
        sha1: true,
        sha512: true,
    };
    let staged = state
        .domain
        .stage_blob(body.into_data_stream(), want, &expect)
        .await?;
    let spec = inspect_staged(&state, &staged).await?;
    let r = gem_ref(&owner, &spec.name)?;
    let version = VersionName::parse(&spec.version)?;
    let file = gem_file_name(&spec.name, &spec.version, &spec.platform);
    let mut facts = spec.facts;
    facts.file = file.clone();
    // A version gathers its platforms: a new one adds its facts to the version's.
    let existing = match state.domain.find_version(&actor, &r, &version).await {
        Ok((_, v)) => Some(v),
        Err(DomainError::NotFound { .. } | DomainError::Unauthenticated(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let mut metadata = match existing.as_ref().map(|v| &v.metadata) {
        Some(VersionMetadata::Rubygems(m)) => m.clone(),
        _ => RubygemsMetadata::default(),
    };
    if metadata.platforms.contains_key(&spec.platform) {
        return Err(DomainError::exists(What::File, format!("{file} already exists")).into());
    }
    metadata.platforms.insert(spec.platform.clone(), facts);
    metadata.yanked_platforms.retain(|p| p != &spec.platform);
    let readme = metadata
        .primary()
        .and_then(|f| f.description.clone().or_else(|| f.summary.clone()));
    let published = state
        .domain
        .publish(
            &actor,
            PublishRequest {
                package: r.clone(),
                version: version.clone(),
                metadata: VersionMetadata::Rubygems(metadata.clone()),
                readme,
                prerelease: is_prerelease(&spec.version),
                files: vec![NewFile {
                    name: FileName::parse(&file)?,
                    blob: staged,
                    content_type: "application/octet-stream".into(),
                }],
                tags: Vec::new(),
                visibility: None,
            },
        )
        .await?;
    if !published.created_version {
        // Another platform's push may have written the version's metadata since it was
        // read above: merge this platform into what is there now.
        let (_, current) = state.domain.find_version(&actor, &r, &version).await?;
        let mut merged = match current.metadata {
            VersionMetadata::Rubygems(m) => m,
            _ => RubygemsMetadata::default(),
        };
        if let Some(facts) = metadata.platforms.remove(&spec.platform) {
            merged.platforms.insert(spec.platform.clone(), facts);
        }
        merged.yanked_platforms.retain(|p| p != &spec.platform);
        state
            .domain
            .update_version_metadata(&actor, &r, &version, VersionMetadata::Rubygems(merged))
            .await?;
    }
    let entry = compact_index::number_and_platform(&spec.version, &spec.platform);
    append_log(&state, &actor, &r, std::slice::from_ref(&entry)).await?;
    Ok(text(
        StatusCode::OK,
        format!("Successfully registered gem: {} ({entry})", spec.name),
    ))
}

/// Reads the staged `.gem` (on a blocking thread: the tar and gzip readers are
/// synchronous).
async fn inspect_staged(state: &AppState, staged: &StagedBlob) -> DomainResult<gemspec::GemSpec> {
    let read = state.domain.open_staged(staged).await?;
    let reader = tokio_util::io::StreamReader::new(read.stream);
    let metadata_max = state.config.limits.gem_metadata_bytes;
    tokio::task::spawn_blocking(move || {
        archive::inspect(tokio_util::io::SyncIoBridge::new(reader), metadata_max)
    })
    .await
    .map_err(DomainError::internal)?
}

/// Appends `/versions` lines for the gem, with the digest of its info file as it is now.
async fn append_log(
    state: &AppState,
    actor: &Actor,
    r: &PackageRef,
    entries: &[String],
) -> DomainResult<()> {
    let index = state.domain.package_index(actor, r).await?;
    let digest = hex::encode(md5::Md5::digest(compact_index::info(&index)));
    state
        .domain
        .append_gem_log(actor, r, entries, &digest)
        .await
}

#[derive(Deserialize)]
pub(super) struct YankForm {
    gem_name: String,
    version: String,
    platform: Option<String>,
}

/// rubygems.org API: `DELETE /api/v1/gems/yank` (`gem yank NAME -v V [--platform P]`).
/// Without a platform, or for a version's last listed platform, the version is yanked
/// (restorable through GraphQL's `unyankPackageVersion`); one platform of several is
/// yanked in the version's metadata. Either way it leaves every index and its `.gem` no
/// longer downloads.
pub(super) async fn yank(
    State(state): State<AppState>,
    actor: GemActor,
    Valid(GemOwner(owner), _): Gems<GemOwner>,
    Form(form): Form<YankForm>,
) -> GemResult {
    let actor = actor.into_inner();
    let r = gem_ref(&owner, &form.gem_name)?;
    let version = VersionName::parse(&form.version)?;
    let (_, v) = state.domain.find_version(&actor, &r, &version).await?;
    let VersionMetadata::Rubygems(mut metadata) = v.metadata.clone() else {
        return Err(DomainError::internal("a gem version without gem metadata").into());
    };
    let already = || {
        DomainError::not_found(
            What::Version,
            format!("The version {} has already been yanked.", form.version),
        )
    };
    if v.yanked {
        return Err(already().into());
    }
    let listed: Vec<String> = metadata
        .listed_platforms()
        .map(|(p, _)| p.clone())
        .collect();
    let platform = form.platform.filter(|p| !p.is_empty());
    let yanked: Vec<String> = match &platform {
        Some(p) if !listed.contains(p) => {
            return Err(match metadata.platforms.contains_key(p) {
                true => already(),
                false => DomainError::not_found(
                    What::File,
                    format!("{} {} has no platform {p}", form.gem_name, form.version),
                ),
            }
            .into());
        }
        Some(p) if listed.len() > 1 => {
            metadata.yanked_platforms.push(p.clone());
            state
                .domain
                .update_version_metadata(&actor, &r, &version, VersionMetadata::Rubygems(metadata))
                .await?;
            vec![p.clone()]
        }
        _ => {
            state
                .domain
                .set_version_yanked_by_id(&actor, v.id, true)
                .await?;
            listed
        }
    };
    let entries: Vec<String> = yanked
        .iter()
        .map(|p| format!("-{}", compact_index::number_and_platform(&form.version, p)))
        .collect();
    append_log(&state, &actor, &r, &entries).await?;
    Ok(text(
        StatusCode::OK,
        format!(
            "Successfully deleted gem: {} ({})",
            form.gem_name, form.version
        ),
    ))
}

/// rubygems.org API: `GET /api/v1/api_key` with Basic `user:password` (`gem signin`): a new
/// token, as plain text. (Passwords are checked and throttled by the domain.)
pub(super) async fn api_key(
    State(state): State<AppState>,
    Valid(GemOwner(_), _): Gems<GemOwner>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
) -> GemResult {
    let Some(Credential::Secret {
        secret,
        username: Some(user),
    }) = credential_from_headers(&headers).map_err(RubygemsError::from)?
    else {
        return Err(
            DomainError::Unauthenticated("sign in with your username and password".into()).into(),
        );
    };
    let login = OwnerName::parse(&user)
        .map_err(|_| DomainError::Unauthenticated("incorrect username or password".into()))?;
    let (_, token) = state
        .domain
        .login_with_password(&login, &secret, "gem signin", client)
        .await?;
    Ok(text(StatusCode::OK, token))
}
