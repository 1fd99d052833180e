//! An owner's Usage page (storage, the month's transfer against the quotas, the daily
//! series, reclaimed bytes) and Retention page (the owner's policies, a form to add one,
//! delete buttons, a dry-run preview). Both are for the owner's admins: the GraphQL fields
//! they read are `null` for anyone else, and the pages then answer 404.
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    state::AppState,
    web::{
        TYPES, chart, day_of, errors::WebError, form::Form, gql, human_size, layout,
        session::Viewer, type_from_segment, type_segment,
    },
};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Usage {
    storage_bytes: i64,
    month_transfer_bytes: i64,
    reclaimed_bytes: i64,
    pending_reclamation_bytes: i64,
    daily: Vec<Day>,
    quota: Quota,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Day {
    day: chrono::NaiveDate,
    transfer_bytes: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Quota {
    storage_bytes: Option<i64>,
    transfer_bytes: Option<i64>,
    own: bool,
}

#[derive(Deserialize)]
struct UsageOwner {
    login: String,
    usage: Option<Usage>,
}

const USAGE_FIELDS: &str = "login usage { storageBytes monthTransferBytes reclaimedBytes \
    pendingReclamationBytes daily { day transferBytes } quota { storageBytes transferBytes own } }";

/// The nav between an owner's settings pages.
fn owner_nav(login: &str, current: &str) -> Markup {
    html! {
        nav.tabs aria-label="Owner settings" {
            @for (label, href) in [
                ("Packages", format!("/-/owner/{login}")),
                ("Usage", format!("/-/owner/{login}/usage")),
                ("Retention", format!("/-/owner/{login}/retention")),
            ] {
                @if label == current {
                    a href=(href) aria-current="page" { strong { (label) } }
                } @else {
                    a href=(href) { (label) }
                }
                " "
            }
        }
    }
}

fn against(used: i64, quota: Option<i64>) -> Markup {
    html! {
        (human_size(used))
        @match quota {
            Some(q) => {
                " of " (human_size(q))
                @if q > 0 { " (" (used.saturating_mul(100) / q) "%)" }
                @if used > q { " " span.badge.warn { "over quota" } }
            }
            None => { " " span.muted { "(no quota)" } }
        }
    }
}

pub async fn usage_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(login): Path<String>,
) -> Result<Response, WebError> {
    let owner: UsageOwner = gql::owner(&state, &viewer.actor, &login, USAGE_FIELDS).await?;
    let usage = owner.usage.ok_or_else(WebError::not_found)?;
    let today = chrono::Utc::now().date_naive();
    let series: Vec<(chrono::NaiveDate, i64)> = usage
        .daily
        .iter()
        .map(|d| (d.day, d.transfer_bytes))
        .collect();
    Ok(layout::page(
        &viewer,
        &format!("Usage · {}", owner.login),
        html! {
            h1 { "Usage: " (owner.login) }
            (owner_nav(&owner.login, "Usage"))
            p.muted { "Private and internal packages are metered; public ones are free." }
            table {
                tbody {
                    tr { th { "Storage" } td #storage { (against(usage.storage_bytes, usage.quota.storage_bytes)) } }
                    tr { th { "Transfer this month" } td #transfer { (against(usage.month_transfer_bytes, usage.quota.transfer_bytes)) } }
                    tr { th { "Reclaimed by garbage collection" } td #reclaimed { (human_size(usage.reclaimed_bytes)) } }
                    tr { th { "Pending reclamation (deleted, restorable)" } td #pending { (human_size(usage.pending_reclamation_bytes)) } }
                }
            }
            p.muted { @if usage.quota.own { "Quotas set for this owner." } @else { "The server's default quotas." } }
            h2 { "Data transfer, last 30 days" }
            (chart::series_chart(&series, today, 30, "bytes sent"))
            @if series.is_empty() { p.muted { "No transfer in the last 30 days." } }
            @else {
                table {
                    thead { tr { th { "Day" } th { "Bytes sent" } } }
                    tbody { @for (day, bytes) in &series { tr { td { (day) } td { (bytes) } } } }
                }
            }
        },
    )
    .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Policy {
    id: String,
    package_name: Option<String>,
    package_type: Option<String>,
    name_pattern: Option<String>,
    keep_newest: Option<i64>,
    older_than_days: Option<i64>,
    version_pattern: Option<String>,
    only_prerelease: bool,
    min_downloads_protect: Option<i64>,
    enabled: bool,
    last_run_at: Option<String>,
    versions_deleted: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyOwner {
    login: String,
    retention_policies: Option<Vec<Policy>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    package_name: String,
    package_type: String,
    version: String,
    created_at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DryRunData {
    retention_dry_run: Vec<Candidate>,
}

#[derive(Deserialize)]
pub struct RetentionQuery {
    preview: Option<String>,
}

const POLICY_FIELDS: &str = "login retentionPolicies { id packageName packageType namePattern \
    keepNewest olderThanDays versionPattern onlyPrerelease minDownloadsProtect enabled \
    lastRunAt versionsDeleted }";

fn describe(p: &Policy) -> Markup {
    html! {
        @if let Some(k) = p.keep_newest { "keep the " (k) " newest" }
        @if p.keep_newest.is_some() && p.older_than_days.is_some() { "; " }
        @if let Some(d) = p.older_than_days { "delete those older than " (d) " days" }
        @if let Some(v) = &p.version_pattern { "; versions matching " code { (v) } }
        @if p.only_prerelease { "; prereleases only" }
        @if let Some(n) = p.min_downloads_protect { "; versions with more than " (n) " downloads kept" }
    }
}

pub async fn retention_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(login): Path<String>,
    Query(query): Query<RetentionQuery>,
) -> Result<Response, WebError> {
    let owner: PolicyOwner = gql::owner(&state, &viewer.actor, &login, POLICY_FIELDS).await?;
    let policies = owner.retention_policies.ok_or_else(WebError::not_found)?;
    let preview = match query.preview.as_deref() {
        Some(id) if policies.iter().any(|p| p.id == id) => {
            let dry: DryRunData = gql::run(
                &state,
                &viewer.actor,
                "query($id: ID!) { retentionDryRun(policyId: $id) { packageName packageType version createdAt } }",
                json!({ "id": id }),
            )
            .await?;
            Some((id.to_string(), dry.retention_dry_run))
        }
        _ => None,
    };
    let action = format!("/-/owner/{}/retention", owner.login);
    Ok(layout::page(
        &viewer,
        &format!("Retention · {}", owner.login),
        html! {
            h1 { "Retention: " (owner.login) }
            (owner_nav(&owner.login, "Retention"))
            p.muted { "Policies delete old versions on a schedule, softly: a deleted version can be restored during the restore period; garbage collection then reclaims its storage. Tagged versions, and versions downloaded more than a policy's threshold, are never deleted and don't count among those kept." }
            h2 { "Policies" }
            @if policies.is_empty() { p.muted #no-policies { "No retention policies." } }
            @else {
                table #policies {
                    thead { tr { th { "Applies to" } th { "Rule" } th { "Deleted so far" } th { "Last run" } th { span.sr-only { "Actions" } } } }
                    tbody {
                        @for p in &policies {
                            tr {
                                td {
                                    @match (&p.package_name, &p.package_type) {
                                        (Some(name), Some(t)) => { (name) " " span.badge { (type_segment(t)) } }
                                        _ => {
                                            "every package"
                                            @if let Some(t) = &p.package_type { " of type " (type_segment(t)) }
                                            @if let Some(n) = &p.name_pattern { " named " code { (n) } }
                                        }
                                    }
                                    @if !p.enabled { " " span.badge { "disabled" } }
                                }
                                td { (describe(p)) }
                                td { (p.versions_deleted) }
                                td { (p.last_run_at.as_deref().map(day_of).unwrap_or("never")) }
                                td {
                                    a href=(format!("{action}?preview={}", urlencoding(&p.id))) { "Preview" }
                                    " "
                                    form.inline method="post" action=(action) {
                                        (layout::csrf_field(&viewer))
                                        input type="hidden" name="action" value="retention.delete";
                                        input type="hidden" name="policy_id" value=(p.id);
                                        button type="submit" aria-label="Delete this policy" { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some((_, doomed)) = &preview {
                h2 { "Dry run: what this policy would delete now" }
                @if doomed.is_empty() { p.muted #dry-run { "Nothing." } }
                @else {
                    table #dry-run {
                        thead { tr { th { "Package" } th { "Version" } th { "Created" } } }
                        tbody {
                            @for d in doomed {
                                tr { td { (d.package_name) " " span.badge { (type_segment(&d.package_type)) } } td { (d.version) } td { (day_of(&d.created_at)) } }
                            }
                        }
                    }
                }
            }
            h2 { "Add a policy" }
            form.stack method="post" action=(action) {
                (layout::csrf_field(&viewer))
                input type="hidden" name="action" value="retention.set";
                label for="r-type" { "Package type" }
                select #r-type name="package_type" {
                    option value="" { "any" }
                    @for (segment, _) in TYPES { option value=(segment) { (segment) } }
                }
                label for="r-package" { "Package name (one package; leave empty for every package)" }
                input #r-package type="text" name="package_name";
                label for="r-names" { "Or package names matching (glob, e.g. lib-*)" }
                input #r-names type="text" name="name_pattern";
                label for="r-keep" { "Keep the newest" }
                input #r-keep type="number" min="0" name="keep_newest";
                label for="r-age" { "Delete versions older than (days)" }
                input #r-age type="number" min="0" name="older_than_days";
                label for="r-pattern" { "Only versions matching (glob, e.g. *-SNAPSHOT or sha256:*)" }
                input #r-pattern type="text" name="version_pattern";
                label { input type="checkbox" name="only_prerelease" value="true"; " Prereleases only" }
                label for="r-downloads" { "Never delete versions downloaded more than" }
                input #r-downloads type="number" min="0" name="min_downloads_protect";
                p { button.primary type="submit" { "Add policy" } }
            }
        },
    )
    .into_response())
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn number(form: &Form, name: &str) -> Result<Option<i64>, WebError> {
    form.optional(name)
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| WebError::bad_request(format!("{name} is a number, 0 or more")))
        })
        .transpose()
}

pub async fn retention_action(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(login): Path<String>,
    form: Form,
) -> Result<Response, WebError> {
    viewer.check_csrf(form.get("csrf"))?;
    match form.required("action")? {
        "retention.set" => {
            let package_type = match form.optional("package_type") {
                Some(segment) => Some(
                    type_from_segment(segment)
                        .ok_or_else(|| WebError::bad_request("unknown package type"))?,
                ),
                None => None,
            };
            let _: Value = gql::run(
                &state,
                &viewer.actor,
                "mutation($p: RetentionPolicyInput!) { setRetentionPolicy(policy: $p) { id } }",
                json!({ "p": {
                    "owner": login,
                    "packageType": package_type,
                    "packageName": form.optional("package_name"),
                    "namePattern": form.optional("name_pattern"),
                    "keepNewest": number(&form, "keep_newest")?,
                    "olderThanDays": number(&form, "older_than_days")?,
                    "versionPattern": form.optional("version_pattern"),
                    "onlyPrerelease": form.get("only_prerelease") == Some("true"),
                    "minDownloadsProtect": number(&form, "min_downloads_protect")?,
                }}),
            )
            .await?;
        }
        "retention.delete" => {
            let _: Value = gql::run(
                &state,
                &viewer.actor,
                "mutation($id: ID!) { deleteRetentionPolicy(id: $id) }",
                json!({ "id": form.required("policy_id")? }),
            )
            .await?;
        }
        other => return Err(WebError::bad_request(format!("unknown action {other}"))),
    }
    Ok(Redirect::to(&format!("/-/owner/{login}/retention")).into_response())
}
