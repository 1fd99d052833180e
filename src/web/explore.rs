//! Home / explore: the viewer's packages, and a search across every package the viewer
//! may read, by name, type and owner; paginated.
use axum::{
    extract::{Query, State},
    response::IntoResponse,
};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use crate::{
    state::AppState,
    web::{
        TYPES, day_of, errors::WebError, gql, layout, package_url, session::Viewer,
        type_from_segment,
    },
};

pub const PACKAGE_ROW: &str = "fragment PackageRow on Package { name packageType visibility updatedAt \
     owner { ... on User { login } ... on Organization { login } } latestVersion { version summary } }";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageRow {
    pub name: String,
    pub package_type: String,
    pub visibility: String,
    pub updated_at: String,
    pub owner: Login,
    pub latest_version: Option<VersionSummary>,
}

#[derive(Deserialize)]
pub struct Login {
    pub login: String,
}

#[derive(Deserialize)]
pub struct VersionSummary {
    pub version: String,
    pub summary: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackagePage {
    pub total_count: i64,
    pub page_info: PageInfo,
    pub nodes: Vec<PackageRow>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

#[derive(Deserialize)]
pub struct Search {
    q: Option<String>,
    #[serde(rename = "type")]
    package_type: Option<String>,
    owner: Option<String>,
    after: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    packages: PackagePage,
    viewer: Option<ViewerPackages>,
}

#[derive(Deserialize)]
struct ViewerPackages {
    packages: PackagePage,
    organizations: Vec<Login>,
}

pub async fn explore(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(search): Query<Search>,
) -> Result<impl IntoResponse, WebError> {
    let q = search.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let owner = search
        .owner
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let package_type = search.package_type.as_deref().and_then(type_from_segment);
    let document = format!(
        "query($q: String, $owner: String, $type: PackageType, $after: String, $signedIn: Boolean!) {{ \
           packages(query: $q, owner: $owner, packageType: $type, first: 20, after: $after, orderBy: {{field: UPDATED_AT}}) {{ \
             totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ ...PackageRow }} }} \
           viewer @include(if: $signedIn) {{ organizations {{ login }} packages(first: 10, orderBy: {{field: UPDATED_AT}}) {{ \
             totalCount pageInfo {{ hasNextPage endCursor }} nodes {{ ...PackageRow }} }} }} }} {PACKAGE_ROW}"
    );
    let data: Data = gql::run(
        &state,
        &viewer.actor,
        &document,
        json!({
            "q": q, "owner": owner, "type": package_type, "after": search.after,
            "signedIn": viewer.signed_in.is_some(),
        }),
    )
    .await?;
    let searching = q.is_some() || owner.is_some() || package_type.is_some();
    let next = data
        .packages
        .page_info
        .end_cursor
        .as_ref()
        .filter(|_| data.packages.page_info.has_next_page)
        .map(|cursor| {
            let mut url = url::form_urlencoded::Serializer::new(String::new());
            if let Some(q) = q {
                url.append_pair("q", q);
            }
            if let Some(o) = owner {
                url.append_pair("owner", o);
            }
            if let Some(t) = search.package_type.as_deref() {
                url.append_pair("type", t);
            }
            url.append_pair("after", cursor);
            format!("/?{}", url.finish())
        });
    Ok(layout::page(
        &viewer,
        "Explore",
        html! {
            @if let (Some(login), Some(mine)) = (viewer.login(), &data.viewer) {
                h1 { "Welcome, " (login) }
                h2 { "Your packages" }
                (package_list(&mine.packages.nodes, "You have no packages yet."))
                p { a href=(format!("/-/owner/{login}")) { "All your packages and repositories" } }
                h2 { "Your organizations" }
                @if mine.organizations.is_empty() { p.muted { "You belong to no organization." } }
                ul.plain { @for o in &mine.organizations { li { a href=(format!("/-/owner/{}", o.login)) { (o.login) } } } }
            } @else {
                h1 { "Explore packages" }
            }
            h2 #search { @if searching { "Search results" } @else { "All packages you can see" } }
            form.search-form method="get" action="/" {
                label for="q" { "Name " }
                input #q type="search" name="q" value=(q.unwrap_or_default());
                " "
                label for="type" { "Type " }
                select #type name="type" {
                    option value="" { "any" }
                    @for (segment, _) in TYPES {
                        option value=(segment) selected[search.package_type.as_deref() == Some(*segment)] { (segment) }
                    }
                }
                " "
                label for="owner" { "Owner " }
                input #owner type="text" name="owner" value=(owner.unwrap_or_default());
                " "
                button type="submit" { "Search" }
            }
            p.muted { (data.packages.total_count) @if data.packages.total_count == 1 { " package" } @else { " packages" } }
            (package_list(&data.packages.nodes, "No packages match."))
            nav.pager aria-label="Pages" {
                @if search.after.is_some() { a href="/" { "First page" } }
                @if let Some(next) = next { a href=(next) rel="next" { "Next page" } }
            }
        },
    ))
}

pub fn package_list(rows: &[PackageRow], empty: &str) -> Markup {
    html! {
        @if rows.is_empty() {
            p.muted { (empty) }
        } @else {
            ul.plain.packages {
                @for p in rows {
                    li {
                        a href=(package_url(&p.owner.login, &p.package_type, &p.name)) {
                            strong { (p.owner.login) "/" (p.name) }
                        }
                        " "
                        span.badge { (p.package_type.to_lowercase()) }
                        " "
                        (visibility_badge(&p.visibility))
                        @if let Some(v) = &p.latest_version {
                            " " span.muted { (v.version) }
                            @if let Some(s) = &v.summary { br; span { (s) } }
                        }
                        br;
                        span.muted { "updated " (day_of(&p.updated_at)) }
                    }
                }
            }
        }
    }
}

pub fn visibility_badge(visibility: &str) -> Markup {
    let class = match visibility {
        "PUBLIC" => "badge public",
        "PRIVATE" => "badge private",
        _ => "badge",
    };
    html! { span class=(class) { (visibility.to_lowercase()) } }
}
