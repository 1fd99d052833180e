//! An owner's webhooks (its admins): the list and a form to create one; a hook's page to
//! edit or delete it, with its recent deliveries; a delivery's request and response, with
//! a Redeliver button. Every form is one GraphQL mutation (`ACTIONS`); whoever may not
//! manage the owner's hooks gets the 404 page.
use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    state::AppState,
    web::{errors::WebError, form::Form, gql, layout, session::Viewer},
};

/// The actions a hook may be limited to, as GraphQL spells them.
const EVENTS: &[&str] = &["PUBLISHED", "UPDATED", "DELETED", "RESTORED"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Hook {
    id: String,
    url: String,
    has_secret: bool,
    content_type: String,
    events: Vec<String>,
    active: bool,
    insecure_ssl: bool,
    owner_login: String,
    repository_id: Option<String>,
}

#[derive(Deserialize)]
struct HookList {
    nodes: Vec<Hook>,
}

#[derive(Deserialize)]
struct OwnerHooks {
    login: String,
    webhooks: HookList,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    name: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delivery {
    id: String,
    guid: String,
    event: String,
    action: Option<String>,
    status: String,
    status_code: Option<i32>,
    duration_ms: Option<i64>,
    attempts: i32,
    redelivery: bool,
    request_headers: Vec<Header>,
    request_body: String,
    response_excerpt: Option<String>,
    error: Option<String>,
    created_at: String,
}

#[derive(Deserialize)]
struct DeliveryList {
    nodes: Vec<Delivery>,
}

#[derive(Deserialize)]
struct HookWithDeliveries {
    #[serde(flatten)]
    hook: Hook,
    deliveries: DeliveryList,
}

#[derive(Deserialize)]
struct HookData {
    webhook: HookWithDeliveries,
}

const HOOK_FIELDS: &str =
    "id url hasSecret contentType events active insecureSsl ownerLogin repositoryId";

fn hooks_url(owner: &str) -> String {
    format!("/-/owner/{owner}/webhooks")
}

fn hook_url(owner: &str, id: &str) -> String {
    format!("/-/owner/{owner}/webhooks/{id}")
}

/// Not allowed reads as not there: the hooks of an owner are its admins' business.
fn hidden(err: WebError) -> WebError {
    if err.status.is_client_error() {
        WebError::not_found()
    } else {
        err
    }
}

async fn load_hooks(
    state: &AppState,
    viewer: &Viewer,
    owner: &str,
) -> Result<OwnerHooks, WebError> {
    if viewer.signed_in.is_none() {
        return Err(WebError::not_found());
    }
    let fields = format!("login webhooks(first: 100) {{ nodes {{ {HOOK_FIELDS} }} }}");
    // Each of `user` and `organization` answers for its kind only; the other one's
    // `webhooks` isn't asked for a login that isn't its kind.
    gql::owner(state, &viewer.actor, owner, &fields)
        .await
        .map_err(hidden)
}

async fn load_hook(
    state: &AppState,
    viewer: &Viewer,
    owner: &str,
    id: &str,
) -> Result<HookWithDeliveries, WebError> {
    if viewer.signed_in.is_none() {
        return Err(WebError::not_found());
    }
    let document = format!(
        "query($id: ID!) {{ webhook(id: $id) {{ {HOOK_FIELDS} deliveries(first: 50) {{ nodes {{ \
           id guid event action status statusCode durationMs attempts redelivery \
           requestHeaders {{ name value }} requestBody responseExcerpt error createdAt }} }} }} }}"
    );
    let data: HookData = gql::run(state, &viewer.actor, &document, json!({ "id": id }))
        .await
        .map_err(hidden)?;
    // A hook is reached through its owner's URL only.
    if !data.webhook.hook.owner_login.eq_ignore_ascii_case(owner) {
        return Err(WebError::not_found());
    }
    Ok(data.webhook)
}

/// The fields of the create and edit forms (`hook`: the current values when editing).
fn hook_fields(hook: Option<&Hook>) -> Markup {
    let events: &[String] = hook.map_or(&[], |h| h.events.as_slice());
    html! {
        label for="hook-url" { "Payload URL" }
        input #hook-url type="url" name="url" size="60" required value=[hook.map(|h| h.url.as_str())] placeholder="https://ci.example.com/packyard";
        label for="hook-secret" {
            "Secret" @if hook.is_some_and(|h| h.has_secret) { " " span.muted { "(set; leave blank to keep it)" } }
        }
        input #hook-secret type="password" name="secret" autocomplete="new-password";
        @if hook.is_some_and(|h| h.has_secret) {
            label { input type="checkbox" name="remove_secret" value="true"; " Remove the secret (deliveries go unsigned)" }
        }
        label for="hook-content-type" { "Content type" }
        select #hook-content-type name="content_type" {
            option value="JSON" selected[hook.is_none_or(|h| h.content_type == "JSON")] { "application/json" }
            option value="FORM" selected[hook.is_some_and(|h| h.content_type == "FORM")] { "application/x-www-form-urlencoded" }
        }
        fieldset {
            legend { "Events (none checked: all of them)" }
            @for e in EVENTS {
                label { input type="checkbox" name="events" value=(e) checked[events.iter().any(|x| x == e)]; " " (e.to_lowercase()) }
            }
        }
        label { input type="checkbox" name="active" value="true" checked[hook.is_none_or(|h| h.active)]; " Active" }
        label { input type="checkbox" name="insecure_ssl" value="true" checked[hook.is_some_and(|h| h.insecure_ssl)]; " Skip TLS certificate verification" }
    }
}

fn action_fields(viewer: &Viewer, action: &str) -> Markup {
    html! { (layout::csrf_field(viewer)) input type="hidden" name="action" value=(action); }
}

pub async fn webhooks_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(owner): Path<String>,
) -> Result<Response, WebError> {
    let o = load_hooks(&state, &viewer, &owner).await?;
    let body = html! {
        p.muted { a href=(format!("/-/owner/{}", o.login)) { "← " (o.login) } }
        h1 { "Webhooks: " (o.login) }
        p { "Each hook receives a signed " code { "package" } " event (GitHub's shape) when a package of " (o.login) " is published, updated, deleted or restored." }
        table.webhooks {
            thead { tr { th { "Payload URL" } th { "Events" } th { "State" } } }
            tbody {
                @if o.webhooks.nodes.is_empty() { tr { td colspan="3" { span.muted { "No webhooks yet." } } } }
                @for h in &o.webhooks.nodes {
                    tr {
                        td { a href=(hook_url(&o.login, &h.id)) { (h.url) }
                            @if h.repository_id.is_some() { " " span.badge { "repository" } } }
                        td { @if h.events.is_empty() { "all" } @else { (h.events.iter().map(|e| e.to_lowercase()).collect::<Vec<_>>().join(", ")) } }
                        td { @if h.active { span.badge.public { "active" } } @else { span.badge { "inactive" } } }
                    }
                }
            }
        }
        h2 { "Add a webhook" }
        form.stack method="post" action=(hooks_url(&o.login)) {
            (action_fields(&viewer, "webhook.create"))
            (hook_fields(None))
            p { button.primary type="submit" { "Add webhook" } }
        }
    };
    Ok(layout::page(&viewer, &format!("Webhooks · {}", o.login), body).into_response())
}

pub async fn webhook_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((owner, id)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let h = load_hook(&state, &viewer, &owner, &id).await?;
    let hook = &h.hook;
    let post_to = hooks_url(&hook.owner_login);
    let body = html! {
        p.muted { a href=(post_to) { "← Webhooks of " (hook.owner_login) } }
        h1 { "Webhook " span.digest { (hook.url) } }
        form.stack method="post" action=(post_to) {
            (action_fields(&viewer, "webhook.update"))
            input type="hidden" name="webhook_id" value=(hook.id);
            (hook_fields(Some(hook)))
            p { button.primary type="submit" { "Save webhook" } }
        }
        h2 { "Recent deliveries" }
        table.deliveries {
            thead { tr { th { "Delivery" } th { "Event" } th { "Status" } th { "Code" } th { "Duration" } th { "Attempts" } th { "Created" } } }
            tbody {
                @if h.deliveries.nodes.is_empty() { tr { td colspan="7" { span.muted { "No deliveries yet." } } } }
                @for d in &h.deliveries.nodes {
                    tr {
                        td { a href=(format!("{}/deliveries/{}", hook_url(&hook.owner_login, &hook.id), d.id)) { code { (d.guid.get(..8).unwrap_or(&d.guid)) } }
                            @if d.redelivery { " " span.badge { "redelivery" } } }
                        td { (d.event) @if let Some(a) = &d.action { " · " (a) } }
                        td { (status_badge(&d.status)) }
                        td { (d.status_code.map(|c| c.to_string()).unwrap_or_else(|| "—".into())) }
                        td { (d.duration_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "—".into())) }
                        td { (d.attempts) }
                        td { (d.created_at.get(..19).unwrap_or(&d.created_at).replace('T', " ")) }
                    }
                }
            }
        }
        h2 { "Danger zone" }
        form.stack method="post" action=(post_to) {
            (action_fields(&viewer, "webhook.delete"))
            input type="hidden" name="webhook_id" value=(hook.id);
            p { "Deleting the webhook stops its deliveries and removes their history." }
            p { button.danger type="submit" { "Delete this webhook" } }
        }
    };
    Ok(layout::page(&viewer, "Webhook", body).into_response())
}

fn status_badge(status: &str) -> Markup {
    html! {
        @match status {
            "DELIVERED" => span.badge.public { "delivered" },
            "FAILED" => span.badge.private { "failed" },
            _ => span.badge.warn { "pending" },
        }
    }
}

pub async fn delivery_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((owner, id, delivery)): Path<(String, String, String)>,
) -> Result<Response, WebError> {
    let h = load_hook(&state, &viewer, &owner, &id).await?;
    let d = h
        .deliveries
        .nodes
        .iter()
        .find(|d| d.id == delivery)
        .ok_or_else(WebError::not_found)?;
    let hook = &h.hook;
    let body = html! {
        p.muted { a href=(hook_url(&hook.owner_login, &hook.id)) { "← Webhook " (hook.url) } }
        h1 { "Delivery " code { (d.guid) } }
        p { (status_badge(&d.status)) " " (d.event) @if let Some(a) = &d.action { " · " (a) }
            " · " (d.attempts) @if d.attempts == 1 { " attempt" } @else { " attempts" }
            @if let Some(ms) = d.duration_ms { " · " (ms) " ms" } }
        @if let Some(e) = &d.error { p.notice.warn { (e) } }
        form.inline method="post" action=(hooks_url(&hook.owner_login)) {
            (action_fields(&viewer, "webhook.redeliver"))
            input type="hidden" name="webhook_id" value=(hook.id);
            input type="hidden" name="delivery_id" value=(d.id);
            button type="submit" { "Redeliver" }
        }
        h2 { "Request" }
        table.headers {
            thead { tr { th { "Header" } th { "Value" } } }
            tbody { @for hd in &d.request_headers { tr { td { code { (hd.name) } } td.digest { (hd.value) } } } }
        }
        pre.request-body { (pretty(&d.request_body)) }
        h2 { "Response" }
        p { "Status: " (d.status_code.map(|c| c.to_string()).unwrap_or_else(|| "none".into())) }
        @match &d.response_excerpt {
            Some(r) if !r.is_empty() => pre.response-body { (r) },
            _ => p.muted { "No response body." },
        }
    };
    Ok(layout::page(&viewer, "Webhook delivery", body).into_response())
}

/// A JSON body indented for reading; anything else as sent.
fn pretty(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| body.to_string())
}

pub async fn webhooks_action(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(owner): Path<String>,
    form: Form,
) -> Result<Response, WebError> {
    viewer.check_csrf(form.get("csrf"))?;
    let events: Vec<&str> = form
        .all("events")
        .into_iter()
        .filter(|e| EVENTS.contains(e))
        .collect();
    let checked = |name: &str| form.get(name) == Some("true");
    match form.required("action")? {
        "webhook.create" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Created {
                create_webhook: CreatedHook,
            }
            #[derive(Deserialize)]
            struct CreatedHook {
                webhook: IdOnly,
            }
            let created: Created = gql::run(
                &state,
                &viewer.actor,
                "mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }",
                json!({ "input": {
                    "owner": owner,
                    "url": form.required("url")?,
                    "secret": form.optional("secret"),
                    "contentType": form.optional("content_type").unwrap_or("JSON"),
                    "events": events,
                    "active": checked("active"),
                    "insecureSsl": checked("insecure_ssl"),
                }}),
            )
            .await
            .map_err(hidden_unless_input)?;
            Ok(Redirect::to(&hook_url(&owner, &created.create_webhook.webhook.id)).into_response())
        }
        "webhook.update" => {
            let id = form.required("webhook_id")?;
            load_hook(&state, &viewer, &owner, id).await?;
            let secret = if checked("remove_secret") {
                Some("")
            } else {
                form.optional("secret")
            };
            let _: Value = gql::run(
                &state,
                &viewer.actor,
                "mutation($input: UpdateWebhookInput!) { updateWebhook(input: $input) { webhook { id } } }",
                json!({ "input": {
                    "webhookId": id,
                    "url": form.required("url")?,
                    "secret": secret,
                    "contentType": form.optional("content_type").unwrap_or("JSON"),
                    "events": events,
                    "active": checked("active"),
                    "insecureSsl": checked("insecure_ssl"),
                }}),
            )
            .await?;
            Ok(Redirect::to(&hook_url(&owner, id)).into_response())
        }
        "webhook.delete" => {
            let id = form.required("webhook_id")?;
            load_hook(&state, &viewer, &owner, id).await?;
            let _: Value = gql::run(
                &state,
                &viewer.actor,
                "mutation($id: ID!) { deleteWebhook(input: {webhookId: $id}) { success } }",
                json!({ "id": id }),
            )
            .await?;
            Ok(Redirect::to(&hooks_url(&owner)).into_response())
        }
        "webhook.redeliver" => {
            let id = form.required("webhook_id")?;
            load_hook(&state, &viewer, &owner, id).await?;
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Redelivered {
                redeliver_webhook_delivery: RedeliveredDelivery,
            }
            #[derive(Deserialize)]
            struct RedeliveredDelivery {
                delivery: IdOnly,
            }
            let done: Redelivered = gql::run(
                &state,
                &viewer.actor,
                "mutation($id: ID!) { redeliverWebhookDelivery(input: {deliveryId: $id}) { delivery { id } } }",
                json!({ "id": form.required("delivery_id")? }),
            )
            .await?;
            Ok(Redirect::to(&format!(
                "{}/deliveries/{}",
                hook_url(&owner, id),
                done.redeliver_webhook_delivery.delivery.id
            ))
            .into_response())
        }
        other => Err(WebError::bad_request(format!("unknown action {other}"))),
    }
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

/// A refused create reads as not found (outsiders learn nothing), but a bad URL is the
/// admin's to fix and says why.
fn hidden_unless_input(err: WebError) -> WebError {
    if err.status == axum::http::StatusCode::BAD_REQUEST {
        err
    } else {
        hidden(err)
    }
}
