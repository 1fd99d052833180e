//! Audit log pages: an organization's (its owners) and the site's (site admins), newest
//! first, filtered by action and actor, 30 entries a page. Whoever may not read a log gets
//! the 404 page.
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    state::AppState,
    web::{errors::WebError, gql, layout, session::Viewer},
};

const PAGE: i32 = 30;

#[derive(Deserialize)]
pub struct Filters {
    action: Option<String>,
    actor: Option<String>,
    after: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    action: String,
    actor: Option<String>,
    target_type: String,
    target_name: Option<String>,
    data: Value,
    source_ip: Option<String>,
    token_id: Option<String>,
    created_at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Log {
    total_count: u64,
    page_info: PageInfo,
    nodes: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrgData {
    organization: Option<OrgLog>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrgLog {
    login: String,
    audit_log: Option<Log>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SiteData {
    audit_log: Log,
}

const LOG_FIELDS: &str = "auditLog(action: $action, actor: $actor, first: $first, after: $after) { \
    totalCount pageInfo { hasNextPage endCursor } \
    nodes { action actor targetType targetName data sourceIp tokenId createdAt } }";

fn variables(filters: &Filters) -> Value {
    let blank = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    json!({ "action": blank(&filters.action), "actor": blank(&filters.actor),
            "first": PAGE, "after": filters.after })
}

/// Not allowed reads as not there.
fn hidden(err: WebError) -> WebError {
    if err.status.is_client_error() {
        WebError::not_found()
    } else {
        err
    }
}

pub async fn organization_audit_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(login): Path<String>,
    Query(filters): Query<Filters>,
) -> Result<Response, WebError> {
    if viewer.signed_in.is_none() {
        return Err(WebError::not_found());
    }
    let mut vars = variables(&filters);
    vars["login"] = json!(login);
    let data: OrgData = gql::run(
        &state,
        &viewer.actor,
        &format!(
            "query($login: String!, $action: String, $actor: String, $first: Int, $after: String) {{ \
               organization(login: $login) {{ login {LOG_FIELDS} }} }}"
        ),
        vars,
    )
    .await
    .map_err(hidden)?;
    let org = data.organization.ok_or_else(WebError::not_found)?;
    let log = org.audit_log.ok_or_else(WebError::not_found)?;
    let here = format!("/-/owner/{}/audit", org.login);
    let body = html! {
        p.muted { a href=(format!("/-/owner/{}", org.login)) { "← " (org.login) } }
        h1 { "Audit log: " (org.login) }
        (log_view(&here, &filters, &log))
    };
    Ok(layout::page(&viewer, &format!("Audit log · {}", org.login), body).into_response())
}

pub async fn site_audit_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(filters): Query<Filters>,
) -> Result<Response, WebError> {
    if !viewer.signed_in.as_ref().is_some_and(|s| s.site_admin) {
        return Err(WebError::not_found());
    }
    let data: SiteData = gql::run(
        &state,
        &viewer.actor,
        &format!(
            "query($action: String, $actor: String, $first: Int, $after: String) {{ {LOG_FIELDS} }}"
        ),
        variables(&filters),
    )
    .await
    .map_err(hidden)?;
    let body = html! {
        h1 { "Audit log: the whole site" }
        (log_view("/-/admin/audit", &filters, &data.audit_log))
    };
    Ok(layout::page(&viewer, "Audit log", body).into_response())
}

fn log_view(here: &str, filters: &Filters, log: &Log) -> Markup {
    let next = log
        .page_info
        .end_cursor
        .as_ref()
        .filter(|_| log.page_info.has_next_page)
        .map(|cursor| {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            if let Some(a) = filters.action.as_deref().filter(|s| !s.is_empty()) {
                q.append_pair("action", a);
            }
            if let Some(a) = filters.actor.as_deref().filter(|s| !s.is_empty()) {
                q.append_pair("actor", a);
            }
            q.append_pair("after", cursor);
            format!("{here}?{}", q.finish())
        });
    html! {
        form.filters method="get" action=(here) {
            label for="f-action" { "Action " }
            input #f-action type="text" name="action" value=[filters.action.as_deref()] placeholder="package.delete";
            " "
            label for="f-actor" { "Actor " }
            input #f-actor type="text" name="actor" value=[filters.actor.as_deref()] placeholder="login";
            " "
            button type="submit" { "Filter" }
            @if filters.action.is_some() || filters.actor.is_some() { " " a href=(here) { "Clear" } }
        }
        p.muted { (log.total_count) @if log.total_count == 1 { " entry" } @else { " entries" } }
        table.audit {
            thead { tr { th { "When" } th { "Actor" } th { "Action" } th { "Target" } th { "Details" } th { "Source" } } }
            tbody {
                @if log.nodes.is_empty() { tr { td colspan="6" { span.muted { "No entries." } } } }
                @for e in &log.nodes {
                    tr {
                        td { (e.created_at.get(..19).unwrap_or(&e.created_at).replace('T', " ")) }
                        td { (e.actor.as_deref().unwrap_or("—")) }
                        td { code { (e.action) } }
                        td { (e.target_type) @if let Some(n) = &e.target_name { " " strong.digest { (n) } } }
                        td.digest { (details(&e.data)) }
                        td { (e.source_ip.as_deref().unwrap_or("—"))
                            @if e.token_id.is_some() { br; span.muted { "with a token" } } }
                    }
                }
            }
        }
        @if let Some(next) = next {
            nav.pager aria-label="Pages" { a href=(here) { "Newest" } a href=(next) rel="next" { "Next page" } }
        }
    }
}

/// An entry's data as `key: value` pairs (nulls left out).
fn details(data: &Value) -> String {
    match data {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
