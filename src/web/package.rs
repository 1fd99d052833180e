//! The package page: name, type, visibility, owner, repository, description, licence,
//! README, the install command with a copy button, tags, versions (paginated; prerelease,
//! yanked and deprecated marked), the shown version's files with sizes and digests, the
//! downloads chart; for containers the image's child manifests (platforms), layers and
//! referrers.
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
};
use chrono::{Duration, NaiveDate, Utc};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    state::AppState,
    web::{
        chart, day_of,
        errors::WebError,
        explore::{Login, PageInfo, visibility_badge},
        gql, human_size, install, layout, markdown, package_url,
        session::Viewer,
        settings_url, type_from_segment,
    },
};

pub const VERSIONS_PER_PAGE: usize = 30;

#[derive(Deserialize)]
pub struct PageQuery {
    version: Option<String>,
    after: Option<String>,
    days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    name: String,
    package_type: String,
    visibility: String,
    viewer_permission: Option<String>,
    owner: Login,
    repository: Option<RepoName>,
    tags: Vec<Tag>,
    statistics: Statistics,
    selected: Option<Shown>,
    latest_version: Option<Shown>,
    versions: Versions,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RepoName {
    name_with_owner: String,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Statistics {
    downloads_total_count: i64,
    #[serde(default)]
    downloads_daily: Vec<Daily>,
}

#[derive(Deserialize)]
struct Daily {
    day: NaiveDate,
    count: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Shown {
    version: String,
    summary: Option<String>,
    readme: Option<String>,
    license: Option<String>,
    homepage: Option<String>,
    authors: Vec<String>,
    created_at: String,
    pre_release: bool,
    yanked: bool,
    metadata: Value,
    tags: Vec<TagName>,
    files: Nodes<File>,
    container: Option<Container>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    media_type: String,
    subject: Option<String>,
    platforms: Vec<ImagePlatform>,
    referrers: Vec<Referrer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImagePlatform {
    digest: String,
    os: String,
    architecture: String,
    variant: Option<String>,
    os_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Referrer {
    digest: String,
    artifact_type: Option<String>,
}

#[derive(Deserialize)]
struct TagName {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    name: String,
    size: i64,
    sha256: String,
    url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Versions {
    total_count: i64,
    page_info: PageInfo,
    nodes: Vec<VersionRow>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionRow {
    version: String,
    created_at: String,
    pre_release: bool,
    yanked: bool,
    metadata: Value,
    files: Nodes<Size>,
    statistics: Statistics,
}

/// A connection's page.
#[derive(Deserialize)]
struct Nodes<T> {
    nodes: Vec<T>,
}

#[derive(Deserialize)]
struct Size {
    size: i64,
}

#[derive(Deserialize)]
struct Data {
    package: Option<Package>,
}

const DOCUMENT: &str = "query($owner: String!, $type: PackageType!, $name: String!, $version: String!, \
    $hasVersion: Boolean!, $after: String, $since: NaiveDate, $first: Int!) { \
  package(owner: $owner, packageType: $type, name: $name) { \
    name packageType visibility viewerPermission \
    owner { ... on User { login } ... on Organization { login } } \
    repository { nameWithOwner } tags { name version } \
    statistics { downloadsTotalCount downloadsDaily(since: $since) { day count } } \
    selected: version(version: $version) @include(if: $hasVersion) { ...Shown } \
    latestVersion @skip(if: $hasVersion) { ...Shown } \
    versions(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } \
      nodes { version createdAt preRelease yanked metadata files(first: 100) { nodes { size } } statistics { downloadsTotalCount } } } } } \
  fragment Shown on PackageVersion { version summary readme license homepage authors createdAt \
    preRelease yanked metadata tags { name } files(first: 100) { nodes { name size sha256 url } } \
    container { mediaType subject platforms { digest os architecture variant osVersion } \
      referrers { digest artifactType } } }";

/// The npm `deprecated` message of a version, if any.
fn deprecation(metadata: &Value) -> Option<&str> {
    metadata
        .pointer("/manifest/deprecated")
        .or_else(|| metadata.get("deprecated"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

pub async fn package_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((owner, segment, name)): Path<(String, String, String)>,
    Query(query): Query<PageQuery>,
) -> Result<Response, WebError> {
    let package_type = type_from_segment(&segment).ok_or_else(WebError::not_found)?;
    let days = query
        .days
        .filter(|d| [30, 90, 365].contains(d))
        .unwrap_or(30);
    let today = Utc::now().date_naive();
    let since = today - Duration::days(days - 1);
    let data: Data = gql::run(
        &state,
        &viewer.actor,
        DOCUMENT,
        json!({
            "owner": owner, "type": package_type, "name": name,
            "version": query.version.clone().unwrap_or_default(),
            "hasVersion": query.version.is_some(), "after": query.after,
            "since": since.to_string(), "first": VERSIONS_PER_PAGE,
        }),
    )
    .await?;
    let package = data.package.ok_or_else(WebError::not_found)?;
    let shown = package
        .selected
        .as_ref()
        .or(package.latest_version.as_ref());
    if query.version.is_some() && shown.is_none() {
        return Err(WebError::not_found());
    }
    let url = package_url(&package.owner.login, &package.package_type, &package.name);
    let first_file = shown
        .and_then(|v| v.files.nodes.first())
        .map(|f| f.name.as_str());
    let is_container = package.package_type == "CONTAINER";
    // An image is pulled by its tag when it has one, else by digest.
    let reference = shown.map(|v| match v.tags.first() {
        Some(t) if is_container => t.name.as_str(),
        _ => v.version.as_str(),
    });
    let snippets = install::snippets(
        &state.config.public_url,
        &package.package_type,
        &package.owner.login,
        &package.name,
        reference,
        first_file,
    );
    let next = package
        .versions
        .page_info
        .end_cursor
        .as_ref()
        .filter(|_| package.versions.page_info.has_next_page)
        .map(|c| format!("{url}?after={}", urlencode(c)));
    let title = format!("{}/{}", package.owner.login, package.name);
    let body = html! {
        p.muted { a href=(format!("/-/owner/{}", package.owner.login)) { (package.owner.login) } " / " (package.package_type.to_lowercase()) }
        h1 { (package.name) " " (visibility_badge(&package.visibility)) }
        @if package.viewer_permission.as_deref() == Some("ADMIN") {
            p { a href=(settings_url(&package.owner.login, &package.package_type, &package.name)) { "Package settings" } }
        }
        div.layout {
            div {
                @if let Some(v) = shown {
                    @if let Some(s) = &v.summary { p.lead { (s) } }
                    h2 { "Install " (short(reference.unwrap_or(&v.version))) }
                    @for (i, s) in snippets.iter().enumerate() {
                        h3 { (s.label) }
                        div.install {
                            pre #(format!("install-{i}")) tabindex="0" { code { (s.text) } }
                            button type="button" data-copy=(format!("install-{i}")) hidden aria-label=(format!("Copy {}", s.label)) { "Copy" }
                        }
                    }
                    @if let Some(c) = &v.container { (container_details(&url, v, c)) }
                    h2 #readme { "README" }
                    @match v.readme.as_deref().filter(|r| !r.trim().is_empty()) {
                        Some(readme) => div.readme { (PreEscaped(markdown::render_readme(readme))) },
                        None => p.muted { "This version has no README." },
                    }
                    @if !is_container {
                    h2 { "Files of " (v.version) }
                    table.files {
                        thead { tr { th { "File" } th { "Size" } th { "SHA-256" } } }
                        tbody {
                            @for f in &v.files.nodes {
                                tr {
                                    td { @match &f.url { Some(u) => a href=(u) { (f.name) }, None => (f.name) } }
                                    td { (human_size(f.size)) }
                                    td.mono.digest { (f.sha256) }
                                }
                            }
                        }
                    }
                    }
                } @else {
                    p.muted { "This package has no versions." }
                }
                h2 #versions { "Versions" }
                p.muted { (package.versions.total_count) @if package.versions.total_count == 1 { " version" } @else { " versions" } }
                table.versions {
                    thead { tr { th { "Version" } th { "Published" } th { "Size" } th { "Downloads" } } }
                    tbody {
                        @for r in &package.versions.nodes {
                            tr {
                                td {
                                    a href=(format!("{url}?version={}", urlencode(&r.version))) { (short(&r.version)) }
                                    @if r.pre_release { " " span.badge.warn { "prerelease" } }
                                    @if r.yanked { " " span.badge.private { "yanked" } }
                                    @if let Some(d) = deprecation(&r.metadata) { " " span.badge.warn title=(d) { "deprecated" } }
                                }
                                td { (day_of(&r.created_at)) }
                                td { (human_size(r.files.nodes.iter().map(|f| f.size).sum())) }
                                td { (r.statistics.downloads_total_count) }
                            }
                        }
                    }
                }
                nav.pager aria-label="Version pages" {
                    @if query.after.is_some() { a href=(url) { "Newest versions" } }
                    @if let Some(n) = &next { a href=(n) rel="next" { "Older versions" } }
                }
            }
            aside {
                section {
                    h2 { "About" }
                    @if let Some(v) = shown {
                        p { "Version " strong.digest { (short(&v.version)) } " · " (day_of(&v.created_at)) }
                        @if v.pre_release { p { span.badge.warn { "prerelease" } } }
                        @if v.yanked { p { span.badge.private { "yanked" } } }
                        @if let Some(d) = deprecation(&v.metadata) { p.notice.warn { "Deprecated: " (d) } }
                        @if let Some(l) = &v.license { p { "License: " (l) } }
                        @if let Some(h) = v.homepage.as_deref().filter(|h| h.starts_with("https://") || h.starts_with("http://")) {
                            p { a href=(h) rel="noopener noreferrer nofollow" { "Homepage" } }
                        }
                        @if !v.authors.is_empty() { p { "Authors: " (v.authors.join(", ")) } }
                        @if !v.tags.is_empty() { p { "Tags: " @for t in &v.tags { span.badge { (t.name) } " " } } }
                    }
                    @if let Some(r) = &package.repository { p { "Repository: " strong { (r.name_with_owner) } } }
                }
                section {
                    h2 { "Downloads" }
                    p { (package.statistics.downloads_total_count) " in all" }
                    (chart::downloads_chart(
                        &package.statistics.downloads_daily.iter().map(|d| (d.day, d.count)).collect::<Vec<_>>(),
                        today, days))
                    p {
                        @for d in [30, 90, 365] {
                            @if d == days { strong { (d) " days" } } @else { a href=(format!("{url}?days={d}")) { (d) " days" } }
                            " "
                        }
                    }
                }
                section {
                    h2 { "Tags" }
                    @if package.tags.is_empty() { p.muted { "No tags." } }
                    ul.plain {
                        @for t in &package.tags {
                            li { span.badge { (t.name) } " → " a href=(format!("{url}?version={}", urlencode(&t.version))) { (short(&t.version)) } }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&viewer, &title, body).into_response())
}

fn container_details(url: &str, v: &Shown, c: &Container) -> Markup {
    let media_type = c.media_type.as_str();
    let is_index = media_type.contains("index") || media_type.contains("manifest.list");
    let references: Vec<&str> = v
        .metadata
        .get("references")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // Children the index names no platform for (or stored before platforms were kept)
    // are listed by digest alone.
    let platform_of = |digest: &str| c.platforms.iter().find(|p| p.digest == digest);
    html! {
        h2 { "Image" }
        p { "Media type: " code { (media_type) } }
        @if let Some(s) = &c.subject {
            p { "Refers to " a href=(format!("{url}?version={}", urlencode(s))) { (short(s)) } }
        }
        @if is_index {
            h3 { "Platforms (child manifests)" }
            table.platforms {
                thead { tr { th { "Platform" } th { "Manifest" } } }
                tbody {
                    @for r in &references {
                        tr {
                            td {
                                @match platform_of(r) {
                                    Some(p) => {
                                        (platform_label(p))
                                        @if let Some(os_version) = &p.os_version { " " span.muted { (os_version) } }
                                    },
                                    None => span.muted { "unknown" },
                                }
                            }
                            td { a.mono href=(format!("{url}?version={}", urlencode(r))) { (short(r)) } }
                        }
                    }
                }
            }
        } @else {
            h3 { "Manifest, config and layers" }
            table {
                thead { tr { th { "Blob (SHA-256)" } th { "Size" } } }
                tbody { @for f in &v.files.nodes { tr { td.mono.digest { (f.name) } td { (human_size(f.size)) } } } }
            }
        }
        h3 { "Referrers (signatures, SBOMs)" }
        @if c.referrers.is_empty() { p.muted { "None." } }
        ul.plain {
            @for r in &c.referrers {
                li {
                    a.mono href=(format!("{url}?version={}", urlencode(&r.digest))) { (short(&r.digest)) }
                    " " span.muted { (r.artifact_type.as_deref().unwrap_or("manifest")) }
                }
            }
        }
    }
}

/// `linux/arm64/v8`, as `docker --platform` writes it.
fn platform_label(p: &ImagePlatform) -> String {
    match &p.variant {
        Some(variant) => format!("{}/{}/{variant}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

/// `sha256:0123456789ab…` for display.
fn short(version: &str) -> String {
    match version.strip_prefix("sha256:") {
        Some(hex) if hex.len() > 12 => format!("sha256:{}…", &hex[..12]),
        _ => version.to_string(),
    }
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
