//! Package settings (admins): visibility (public is permanent), the linked repository,
//! inherited access, grants, deleting and restoring versions, deleting the package (type
//! its name to confirm). Each form is one GraphQL mutation (`ACTIONS`).
use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    state::AppState,
    web::{
        day_of, errors::WebError, explore::visibility_badge, form::Form, gql, layout, package_url,
        session::Viewer, settings_url, type_from_segment,
    },
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    id: String,
    name: String,
    package_type: String,
    visibility: String,
    inherit_access: bool,
    viewer_permission: Option<String>,
    owner: OwnerRepos,
    repository: Option<Repo>,
    grants: Vec<Grant>,
    versions: VersionList,
    deleted: VersionList,
}

#[derive(Deserialize)]
struct OwnerRepos {
    login: String,
    #[serde(default)]
    repositories: Vec<Repo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Repo {
    id: String,
    name_with_owner: String,
}

#[derive(Deserialize)]
struct Grant {
    role: String,
    user: Option<super::explore::Login>,
    team: Option<Slug>,
    repository: Option<Repo>,
}

#[derive(Deserialize)]
struct Slug {
    slug: String,
}

#[derive(Deserialize)]
struct VersionList {
    nodes: Vec<VersionRow>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionRow {
    id: String,
    version: String,
    created_at: String,
    yanked: bool,
    deleted_at: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    package: Option<Package>,
}

const DOCUMENT: &str = "query($owner: String!, $type: PackageType!, $name: String!) { \
  package(owner: $owner, packageType: $type, name: $name) { \
    id name packageType visibility inheritAccess viewerPermission \
    owner { ... on User { login repositories { id nameWithOwner } } ... on Organization { login repositories { id nameWithOwner } } } \
    repository { id nameWithOwner } \
    grants { role user { login } team { slug } repository { id nameWithOwner } } \
    versions(first: 100) { nodes { id version createdAt yanked deletedAt } } \
    deleted: versions(state: DELETED, first: 100) { nodes { id version createdAt yanked deletedAt } } } }";

async fn load(
    state: &AppState,
    viewer: &Viewer,
    owner: &str,
    segment: &str,
    name: &str,
) -> Result<Package, WebError> {
    let package_type = type_from_segment(segment).ok_or_else(WebError::not_found)?;
    let data: Data = gql::run(
        state,
        &viewer.actor,
        DOCUMENT,
        json!({ "owner": owner, "type": package_type, "name": name }),
    )
    .await?;
    let package = data.package.ok_or_else(WebError::not_found)?;
    // A reader who isn't an admin learns no more than the package page shows.
    if package.viewer_permission.as_deref() != Some("ADMIN") {
        return Err(WebError::not_found());
    }
    Ok(package)
}

pub async fn settings_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((owner, segment, name)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let p = load(&state, &viewer, &owner, &segment, &name).await?;
    let action = settings_url(&p.owner.login, &p.package_type, &p.name);
    let hidden = |a: &str| {
        html! { (layout::csrf_field(&viewer)) input type="hidden" name="action" value=(a); }
    };
    let body = html! {
        p.muted { a href=(package_url(&p.owner.login, &p.package_type, &p.name)) { "← " (p.owner.login) "/" (p.name) } }
        h1 { "Settings: " (p.name) " " (visibility_badge(&p.visibility)) }
        h2 { "Visibility" }
        @if p.visibility == "PUBLIC" {
            p.notice { "This package is public. Public packages can't be made private again." }
        } @else {
            p.notice.warn { "Making a package public is permanent: it can't be made private or internal again." }
            form.stack method="post" action=(action) {
                (hidden("package.set_visibility"))
                label for="visibility" { "Visibility" }
                select #visibility name="visibility" {
                    @for v in ["PRIVATE", "INTERNAL", "PUBLIC"] {
                        option value=(v) selected[p.visibility == v] { (v.to_lowercase()) }
                    }
                }
                p { button.primary type="submit" { "Change visibility" } }
            }
        }
        h2 { "Repository" }
        @if let Some(r) = &p.repository {
            p { "Linked to " strong { (r.name_with_owner) } }
            form method="post" action=(action) {
                (hidden("package.unlink_repository"))
                button type="submit" { "Unlink repository" }
            }
            form method="post" action=(action) {
                (hidden("package.set_inherit_access"))
                input type="hidden" name="inherit_access" value=(if p.inherit_access { "false" } else { "true" });
                p { "Access is " @if p.inherit_access { "inherited from the repository." } @else { "not inherited." } " "
                    button type="submit" { @if p.inherit_access { "Stop inheriting access" } @else { "Inherit access" } } }
            }
        } @else if p.owner.repositories.is_empty() {
            p.muted { "Not linked. " (p.owner.login) " has no repositories." }
        } @else {
            form.stack method="post" action=(action) {
                (hidden("package.link_repository"))
                label for="repository" { "Link to repository" }
                select #repository name="repository_id" {
                    @for r in &p.owner.repositories { option value=(r.id) { (r.name_with_owner) } }
                }
                p { button type="submit" { "Link repository" } }
            }
        }
        h2 { "Manage access" }
        table.grants {
            thead { tr { th { "Who" } th { "Role" } th { span.sr-only { "Actions" } } } }
            tbody {
                @if p.grants.is_empty() { tr { td colspan="3" { span.muted { "No one was granted access." } } } }
                @for g in &p.grants {
                    @let (kind, who, label) = match (&g.user, &g.team, &g.repository) {
                        (Some(u), _, _) => ("user", u.login.clone(), format!("user {}", u.login)),
                        (_, Some(t), _) => ("team", t.slug.clone(), format!("team {}", t.slug)),
                        (_, _, Some(r)) => ("repository", r.id.clone(), format!("repository {}", r.name_with_owner)),
                        _ => ("", String::new(), String::new()),
                    };
                    tr {
                        td { (label) }
                        td {
                            form.inline method="post" action=(action) {
                                (hidden("package.grant"))
                                input type="hidden" name="kind" value=(kind);
                                input type="hidden" name="who" value=(who);
                                label.sr-only for=(format!("role-{kind}-{who}")) { "Role of " (label) }
                                select id=(format!("role-{kind}-{who}")) name="role" {
                                    @for r in ["READ", "WRITE", "ADMIN"] { option value=(r) selected[g.role == r] { (r.to_lowercase()) } }
                                }
                                " " button type="submit" { "Change" }
                            }
                        }
                        td {
                            form.inline method="post" action=(action) {
                                (hidden("package.revoke_grant"))
                                input type="hidden" name="kind" value=(kind);
                                input type="hidden" name="who" value=(who);
                                button.danger type="submit" aria-label=(format!("Remove {label}")) { "Remove" }
                            }
                        }
                    }
                }
            }
        }
        form.stack method="post" action=(action) {
            (hidden("package.grant"))
            label for="grant-kind" { "Grant access to a" }
            select #grant-kind name="kind" {
                option value="user" { "user" }
                option value="team" { "team (of the organization)" }
                option value="repository" { "repository (owner/name)" }
            }
            label for="grant-who" { "Login, team slug or repository" }
            input #grant-who type="text" name="who" required;
            label for="grant-role" { "Role" }
            select #grant-role name="role" { option value="READ" { "read" } option value="WRITE" { "write" } option value="ADMIN" { "admin" } }
            p { button.primary type="submit" { "Grant access" } }
        }
        h2 { "Versions" }
        table.versions {
            thead { tr { th { "Version" } th { "Published" } th { span.sr-only { "Actions" } } } }
            tbody {
                @for v in &p.versions.nodes {
                    tr {
                        td { (v.version) @if v.yanked { " " span.badge.private { "yanked" } } }
                        td { (day_of(&v.created_at)) }
                        td {
                            form.inline method="post" action=(action) {
                                (hidden(if v.yanked { "version.unyank" } else { "version.yank" }))
                                input type="hidden" name="version_id" value=(v.id);
                                button type="submit" aria-label=(format!("{} {}", if v.yanked { "Unyank" } else { "Yank" }, v.version)) { @if v.yanked { "Unyank" } @else { "Yank" } }
                            }
                            " "
                            form.inline method="post" action=(action) {
                                (hidden("version.delete"))
                                input type="hidden" name="version_id" value=(v.id);
                                button.danger type="submit" aria-label=(format!("Delete version {}", v.version)) { "Delete" }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Deleted versions" }
        @if p.deleted.nodes.is_empty() { p.muted { "None." } }
        @else {
            table.deleted-versions {
                thead { tr { th { "Version" } th { "Deleted" } th { span.sr-only { "Actions" } } } }
                tbody {
                    @for v in &p.deleted.nodes {
                        tr {
                            td { (v.version) }
                            td { (v.deleted_at.as_deref().map(day_of).unwrap_or_default()) }
                            td {
                                form.inline method="post" action=(action) {
                                    (hidden("version.restore"))
                                    input type="hidden" name="version_id" value=(v.id);
                                    button type="submit" aria-label=(format!("Restore version {}", v.version)) { "Restore" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Danger zone" }
        form.stack method="post" action=(action) {
            (hidden("package.delete"))
            p { "Deleting the package deletes every version. It can be restored for a while from the owner's page." }
            label for="confirm" { "Type " code { (p.name) } " to confirm" }
            input #confirm type="text" name="confirm" data-confirm=(p.name) autocomplete="off" required;
            p { button.danger type="submit" { "Delete this package" } }
        }
    };
    Ok(layout::page(&viewer, &format!("Settings · {}", p.name), body).into_response())
}

pub async fn settings_action(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((owner, segment, name)): Path<(String, String, String)>,
    form: Form,
) -> Result<Response, WebError> {
    viewer.check_csrf(form.get("csrf"))?;
    let p = load(&state, &viewer, &owner, &segment, &name).await?;
    let back = settings_url(&p.owner.login, &p.package_type, &p.name);
    let id = p.id.as_str();
    let (document, variables) = match form.required("action")? {
        "package.set_visibility" => (
            "mutation($id: ID!, $v: PackageVisibility!) { setPackageVisibility(input: {packageId: $id, visibility: $v}) { package { id } } }",
            json!({ "id": id, "v": form.required("visibility")? }),
        ),
        "package.link_repository" => (
            "mutation($id: ID!, $r: ID!) { linkPackageRepository(input: {packageId: $id, repositoryId: $r}) { package { id } } }",
            json!({ "id": id, "r": form.required("repository_id")? }),
        ),
        "package.unlink_repository" => (
            "mutation($id: ID!) { unlinkPackageRepository(input: {packageId: $id}) { package { id } } }",
            json!({ "id": id }),
        ),
        "package.set_inherit_access" => (
            "mutation($id: ID!, $on: Boolean!) { setPackageInheritAccess(input: {packageId: $id, inheritAccess: $on}) { package { id } } }",
            json!({ "id": id, "on": form.get("inherit_access") == Some("true") }),
        ),
        "package.grant" => {
            let mut input = grantee(&state, &viewer, &form).await?;
            input["packageId"] = json!(id);
            input["role"] = json!(form.required("role")?);
            (
                "mutation($input: GrantPackageAccessInput!) { grantPackageAccess(input: $input) { package { id } } }",
                json!({ "input": input }),
            )
        }
        "package.revoke_grant" => {
            let mut input = grantee(&state, &viewer, &form).await?;
            input["packageId"] = json!(id);
            (
                "mutation($input: RevokePackageAccessInput!) { revokePackageAccess(input: $input) { package { id } } }",
                json!({ "input": input }),
            )
        }
        "version.delete" => (
            "mutation($id: ID!) { deletePackageVersion(input: {packageVersionId: $id}) { packageVersion { id } } }",
            json!({ "id": form.required("version_id")? }),
        ),
        "version.restore" => (
            "mutation($id: ID!) { restorePackageVersion(input: {packageVersionId: $id}) { packageVersion { id } } }",
            json!({ "id": form.required("version_id")? }),
        ),
        "version.yank" => (
            "mutation($id: ID!) { yankPackageVersion(input: {packageVersionId: $id}) { packageVersion { id } } }",
            json!({ "id": form.required("version_id")? }),
        ),
        "version.unyank" => (
            "mutation($id: ID!) { unyankPackageVersion(input: {packageVersionId: $id}) { packageVersion { id } } }",
            json!({ "id": form.required("version_id")? }),
        ),
        "package.delete" => {
            if form.get("confirm").map(str::trim) != Some(p.name.as_str()) {
                return Err(WebError::bad_request(format!(
                    "Type the package's name ({}) to confirm deleting it.",
                    p.name
                )));
            }
            let _: Value = gql::run(
                &state,
                &viewer.actor,
                "mutation($id: ID!) { deletePackage(input: {packageId: $id}) { package { id } } }",
                json!({ "id": id }),
            )
            .await?;
            return Ok(Redirect::to(&format!("/-/owner/{}", p.owner.login)).into_response());
        }
        other => return Err(WebError::bad_request(format!("unknown action {other}"))),
    };
    let _: Value = gql::run(&state, &viewer.actor, document, variables).await?;
    Ok(Redirect::to(&back).into_response())
}

/// The grantee fields of a grant form: a user's login, a team's slug, or a repository
/// (its ID, or `owner/name` typed by hand).
async fn grantee(state: &AppState, viewer: &Viewer, form: &Form) -> Result<Value, WebError> {
    let who = form.required("who")?;
    Ok(match form.required("kind")? {
        "user" => json!({ "login": who }),
        "team" => json!({ "teamSlug": who }),
        "repository" => match who.split_once('/') {
            Some((owner, name)) => {
                #[derive(Deserialize)]
                struct Found {
                    repository: Option<IdOnly>,
                }
                #[derive(Deserialize)]
                struct IdOnly {
                    id: String,
                }
                let found: Found = gql::run(
                    state,
                    &viewer.actor,
                    "query($o: String!, $n: String!) { repository(owner: $o, name: $n) { id } }",
                    json!({ "o": owner, "n": name }),
                )
                .await?;
                let repo = found
                    .repository
                    .ok_or_else(|| WebError::bad_request(format!("no repository {who}")))?;
                json!({ "repositoryId": repo.id })
            }
            None => json!({ "repositoryId": who }),
        },
        other => {
            return Err(WebError::bad_request(format!(
                "unknown grantee kind {other}"
            )));
        }
    })
}
