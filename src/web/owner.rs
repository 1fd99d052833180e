//! An owner's page (user or organization): packages with type and visibility filters,
//! repositories; for organizations members, teams and package settings; for those who may
//! restore them, deleted packages.
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use maud::html;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    state::AppState,
    web::{
        TYPES, day_of,
        errors::WebError,
        explore::{PACKAGE_ROW, PackagePage, package_list, visibility_badge},
        form::Form,
        gql, layout, package_url,
        session::Viewer,
        type_from_segment, type_segment,
    },
};

#[derive(Deserialize)]
pub struct Filters {
    #[serde(rename = "type")]
    package_type: Option<String>,
    visibility: Option<String>,
    after: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Owner {
    login: String,
    name: Option<String>,
    packages: PackagePage,
    repositories: Vec<Repo>,
    default_package_visibility: Option<String>,
    default_inherit_access: Option<bool>,
    members_can_create_packages: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Repo {
    name_with_owner: String,
    visibility: String,
    description: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    user: Option<Owner>,
    organization: Option<Owner>,
    deleted: Option<Deleted>,
}

#[derive(Deserialize)]
struct Deleted {
    nodes: Vec<DeletedPackage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeletedPackage {
    id: String,
    name: String,
    package_type: String,
    deleted_at: Option<String>,
}

#[derive(Deserialize)]
struct People {
    organization: Option<OrgPeople>,
}

#[derive(Deserialize)]
struct OrgPeople {
    members: Vec<Member>,
    teams: Vec<Team>,
}

#[derive(Deserialize)]
struct Member {
    user: super::explore::Login,
    role: String,
}

#[derive(Deserialize)]
struct Team {
    slug: String,
    name: String,
    members: Vec<super::explore::Login>,
}

const OWNER_FIELDS: &str = "login name repositories { nameWithOwner visibility description } \
    packages(packageType: $type, visibility: $visibility, first: 20, after: $after, orderBy: {field: UPDATED_AT}) { \
      totalCount pageInfo { hasNextPage endCursor } nodes { ...PackageRow } }";

pub async fn owner_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(login): Path<String>,
    Query(filters): Query<Filters>,
) -> Result<Response, WebError> {
    let package_type = filters.package_type.as_deref().and_then(type_from_segment);
    let visibility = filters
        .visibility
        .as_deref()
        .filter(|v| ["public", "internal", "private"].contains(v))
        .map(str::to_uppercase);
    let document = format!(
        "query($login: String!, $type: PackageType, $visibility: PackageVisibility, $after: String, $signedIn: Boolean!) {{ \
           user(login: $login) {{ {OWNER_FIELDS} }} \
           organization(login: $login) {{ {OWNER_FIELDS} defaultPackageVisibility defaultInheritAccess membersCanCreatePackages }} \
           deleted: packages(owner: $login, state: DELETED, first: 50) @include(if: $signedIn) {{ \
             nodes {{ id name packageType deletedAt }} }} }} {PACKAGE_ROW}"
    );
    let data: Data = gql::run(
        &state,
        &viewer.actor,
        &document,
        json!({ "login": login, "type": package_type, "visibility": visibility,
                "after": filters.after, "signedIn": viewer.signed_in.is_some() }),
    )
    .await?;
    let is_org = data.organization.is_some();
    let Some(owner) = data.user.or(data.organization) else {
        return Err(WebError::not_found());
    };
    // Members and teams are for the organization's members: others see the page without.
    let people = if is_org && viewer.signed_in.is_some() {
        gql::run::<People>(
            &state,
            &viewer.actor,
            "query($login: String!) { organization(login: $login) { \
               members { user { login } role } teams { slug name members { login } } } }",
            json!({ "login": login }),
        )
        .await
        .ok()
        .and_then(|p| p.organization)
    } else {
        None
    };
    let is_org_owner = viewer.signed_in.as_ref().is_some_and(|s| {
        s.site_admin
            || people.as_ref().is_some_and(|p| {
                p.members
                    .iter()
                    .any(|m| m.user.login == s.login && m.role == "OWNER")
            })
    });
    let page_info = &owner.packages.page_info;
    let next = page_info
        .end_cursor
        .as_ref()
        .filter(|_| page_info.has_next_page)
        .map(|cursor| {
            let mut url = url::form_urlencoded::Serializer::new(String::new());
            if let Some(t) = filters.package_type.as_deref() {
                url.append_pair("type", t);
            }
            if let Some(v) = filters.visibility.as_deref() {
                url.append_pair("visibility", v);
            }
            url.append_pair("after", cursor);
            format!("/-/owner/{}?{}", owner.login, url.finish())
        });
    let deleted = data.deleted.map(|d| d.nodes).unwrap_or_default();
    Ok(layout::page(
        &viewer,
        &owner.login,
        html! {
            h1 { (owner.login) @if let Some(n) = &owner.name { " " span.muted { (n) } } }
            p.muted { @if is_org { "Organization" } @else { "User" } }
            @if is_org_owner || viewer.login() == Some(owner.login.as_str()) {
                nav.tabs aria-label="Owner settings" {
                    a href=(format!("/-/owner/{}/usage", owner.login)) { "Usage" } " "
                    a href=(format!("/-/owner/{}/retention", owner.login)) { "Retention" } " "
                    a href=(format!("/-/owner/{}/webhooks", owner.login)) { "Webhooks" }
                    @if is_org { " " a href=(format!("/-/owner/{}/audit", owner.login)) { "Audit log" } }
                }
            }
            h2 { "Packages" }
            form method="get" action=(format!("/-/owner/{}", owner.login)) {
                label for="f-type" { "Type " }
                select #f-type name="type" {
                    option value="" { "any" }
                    @for (segment, _) in TYPES {
                        option value=(segment) selected[filters.package_type.as_deref() == Some(*segment)] { (segment) }
                    }
                }
                " "
                label for="f-visibility" { "Visibility " }
                select #f-visibility name="visibility" {
                    option value="" { "any" }
                    @for v in ["public", "internal", "private"] {
                        option value=(v) selected[filters.visibility.as_deref() == Some(v)] { (v) }
                    }
                }
                " "
                button type="submit" { "Filter" }
            }
            p.muted { (owner.packages.total_count) @if owner.packages.total_count == 1 { " package" } @else { " packages" } }
            (package_list(&owner.packages.nodes, "No packages."))
            @if let Some(next) = next { nav.pager aria-label="Pages" { a href=(next) rel="next" { "Next page" } } }
            h2 { "Repositories" }
            @if owner.repositories.is_empty() { p.muted { "No repositories." } }
            ul.plain {
                @for r in &owner.repositories {
                    li { strong { (r.name_with_owner) } " " (visibility_badge(&r.visibility))
                        @if let Some(d) = &r.description { br; (d) } }
                }
            }
            @if let Some(people) = &people {
                h2 { "Members" }
                table {
                    thead { tr { th { "Member" } th { "Role" } } }
                    tbody { @for m in &people.members { tr { td { a href=(format!("/-/owner/{}", m.user.login)) { (m.user.login) } } td { (m.role.to_lowercase()) } } } }
                }
                h2 { "Teams" }
                @if people.teams.is_empty() { p.muted { "No teams." } }
                ul.plain {
                    @for t in &people.teams {
                        li { strong { (t.name) } " " span.muted { "@" (owner.login) "/" (t.slug) } br;
                            (t.members.iter().map(|m| m.login.as_str()).collect::<Vec<_>>().join(", ")) }
                    }
                }
            }
            @if is_org && is_org_owner {
                h2 { "Package settings" }
                form.stack method="post" action=(format!("/-/owner/{}", owner.login)) {
                    (layout::csrf_field(&viewer))
                    input type="hidden" name="action" value="organization.update_settings";
                    label for="default-visibility" { "Default visibility of new packages" }
                    select #default-visibility name="default_visibility" {
                        @for v in ["PUBLIC", "INTERNAL", "PRIVATE"] {
                            option value=(v) selected[owner.default_package_visibility.as_deref() == Some(v)] { (v.to_lowercase()) }
                        }
                    }
                    label { input type="checkbox" name="default_inherit_access" value="true" checked[owner.default_inherit_access == Some(true)];
                        " New packages linked to a repository inherit its access" }
                    label { input type="checkbox" name="members_can_create_packages" value="true" checked[owner.members_can_create_packages == Some(true)];
                        " Members (not only owners) may create packages" }
                    p { button.primary type="submit" { "Save settings" } }
                }
            }
            @if !deleted.is_empty() {
                h2 { "Deleted packages" }
                table {
                    thead { tr { th { "Package" } th { "Deleted" } th { span.sr-only { "Actions" } } } }
                    tbody {
                        @for p in &deleted {
                            tr {
                                td { (p.name) " " span.badge { (type_segment(&p.package_type)) } }
                                td { (p.deleted_at.as_deref().map(day_of).unwrap_or_default()) }
                                td {
                                    form.inline method="post" action=(format!("/-/owner/{}", owner.login)) {
                                        (layout::csrf_field(&viewer))
                                        input type="hidden" name="action" value="package.restore";
                                        input type="hidden" name="package_id" value=(p.id);
                                        button type="submit" aria-label=(format!("Restore {}", p.name)) { "Restore" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
    .into_response())
}

pub async fn owner_action(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(login): Path<String>,
    form: Form,
) -> Result<Response, WebError> {
    viewer.check_csrf(form.get("csrf"))?;
    match form.required("action")? {
        "organization.update_settings" => {
            let _: Value = gql::run(
                &state,
                &viewer.actor,
                "mutation($input: UpdateOrganizationPackageSettingsInput!) { \
                   updateOrganizationPackageSettings(input: $input) { organization { login } } }",
                json!({ "input": {
                    "organizationLogin": login,
                    "defaultPackageVisibility": form.required("default_visibility")?,
                    "defaultInheritAccess": form.get("default_inherit_access") == Some("true"),
                    "membersCanCreatePackages": form.get("members_can_create_packages") == Some("true"),
                }}),
            )
            .await?;
            Ok(Redirect::to(&format!("/-/owner/{login}")).into_response())
        }
        "package.restore" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Restored {
                restore_package: RestoredPackage,
            }
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct RestoredPackage {
                package: Restored2,
            }
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Restored2 {
                name: String,
                package_type: String,
            }
            let done: Restored = gql::run(
                &state,
                &viewer.actor,
                "mutation($id: ID!) { restorePackage(input: {packageId: $id}) { package { name packageType } } }",
                json!({ "id": form.required("package_id")? }),
            )
            .await?;
            let p = done.restore_package.package;
            Ok(Redirect::to(&package_url(&login, &p.package_type, &p.name)).into_response())
        }
        other => Err(WebError::bad_request(format!("unknown action {other}"))),
    }
}
