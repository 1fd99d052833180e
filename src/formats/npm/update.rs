//! Changes to a published package: document updates (deprecate, unpublish a version),
//! unpublishing, tarball deletion and dist-tags.

use axum::{Json, body::Body, extract::State, http::StatusCode, response::IntoResponse};
use bytes::Bytes;
use serde_json::json;

use crate::{
    auth::Actor,
    domain::{
        VersionName,
        npm::{NpmDocumentUpdate, NpmUpdateOutcome},
        packages::PackageRef,
    },
    error::DomainError,
    formats::kit::path::Valid,
    state::AppState,
};

use super::{
    NpmActor, NpmError, NpmResult,
    document::UpdateDocument,
    paths::{Npm, NpmDistTag, NpmPackage, NpmRevision, NpmTarball, check_tag},
    publish::put_document,
};

/// A document update against a revision (`PUT /{package}/-rev/{rev}`).
pub(super) async fn update(
    State(state): State<AppState>,
    actor: NpmActor,
    Valid(NpmRevision { package, rev }, _): Npm<NpmRevision>,
    body: Body,
) -> NpmResult {
    put_document(&state, actor.into_inner(), &package, Some(rev), body).await
}

/// A document without a tarball: deprecations, versions it leaves out unpublished (npm's
/// `unpublish pkg@version`), dist-tags it moved. It must name the revision it was written
/// against (the document's `_rev`, else the URL's `-rev`): if the package changed since, a
/// version published meanwhile would be "left out" and unpublished.
pub(super) async fn update_versions(
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

pub(super) async fn unpublish_package(
    State(state): State<AppState>,
    actor: NpmActor,
    Valid(NpmPackage(r), _): Npm<NpmPackage>,
) -> NpmResult {
    unpublish_all(&state, actor.into_inner(), &r).await
}

/// `npm unpublish --force` of a whole package: deleted (restorable through GraphQL).
async fn unpublish_all(state: &AppState, actor: Actor, r: &PackageRef) -> NpmResult {
    let pkg = state.domain.find_package(&actor, r).await?;
    state.domain.delete_package(&actor, pkg.id).await?;
    Ok(Json(json!({"ok": true})).into_response())
}

pub(super) async fn delete_tarball(
    State(state): State<AppState>,
    actor: NpmActor,
    Valid(path, _): Npm<NpmTarball>,
) -> NpmResult {
    remove_tarball(&state, actor.into_inner(), &path).await
}

/// The tarball step of `npm unpublish pkg@version`: its version went with the previous
/// document update; deleting a still-live version's tarball deletes the version.
async fn remove_tarball(state: &AppState, actor: Actor, path: &NpmTarball) -> NpmResult {
    let NpmTarball {
        package: r,
        version,
        ..
    } = path;
    match state
        .domain
        .delete_version_named(
            &actor,
            r,
            version,
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

/// `npm dist-tag add`: the body is the version, as a JSON string.
pub(super) async fn set_dist_tag(
    State(state): State<AppState>,
    actor: NpmActor,
    Valid(NpmDistTag { package, tag }, _): Npm<NpmDistTag>,
    body: Bytes,
) -> NpmResult {
    set_tag(&state, actor.into_inner(), &package, &tag, &body).await
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

/// `npm dist-tag rm`.
pub(super) async fn delete_dist_tag(
    State(state): State<AppState>,
    actor: NpmActor,
    Valid(NpmDistTag { package, tag }, _): Npm<NpmDistTag>,
) -> NpmResult {
    remove_tag(&state, actor.into_inner(), &package, &tag).await
}

async fn remove_tag(state: &AppState, actor: Actor, r: &PackageRef, tag: &str) -> NpmResult {
    if tag == "latest" {
        return Err(DomainError::invalid("the latest dist-tag can't be removed").into());
    }
    state.domain.delete_tag(&actor, r, tag).await?;
    Ok(Json(json!({"ok": true})).into_response())
}
