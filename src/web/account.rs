//! The account page: access tokens (create with scopes, expiry and owner/package limits;
//! the secret shown once; listed with last use; revoke) and web sessions (revoke).
use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    state::AppState,
    web::{
        day_of, errors::WebError, form::Form, gql, layout, session::Viewer, signin::session_node_id,
    },
};

const SCOPES: &[&str] = &[
    "read:packages",
    "write:packages",
    "delete:packages",
    "admin:org",
    "user",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    viewer: ViewerTokens,
    viewer_sessions: Vec<Session>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ViewerTokens {
    login: String,
    access_tokens: Vec<Token>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Token {
    id: String,
    name: String,
    prefix: String,
    scopes: Vec<String>,
    owner_login: Option<String>,
    package_patterns: Option<Vec<String>>,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    revoked_at: Option<String>,
    created_at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    id: String,
    user_agent: Option<String>,
    created_at: String,
    last_seen_at: String,
}

fn sign_in_first() -> Response {
    Redirect::to("/-/signin?next=/-/account").into_response()
}

pub async fn account_page(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, WebError> {
    if viewer.signed_in.is_none() {
        return Ok(sign_in_first());
    }
    render(&state, &viewer, None).await
}

async fn render(
    state: &AppState,
    viewer: &Viewer,
    new_secret: Option<(&str, &str)>,
) -> Result<Response, WebError> {
    let data: Data = gql::run(
        state,
        &viewer.actor,
        "{ viewer { login accessTokens { id name prefix scopes ownerLogin packagePatterns expiresAt lastUsedAt revokedAt createdAt } } \
           viewerSessions { id userAgent createdAt lastSeenAt } }",
        json!({}),
    )
    .await?;
    let current = viewer
        .signed_in
        .as_ref()
        .map(|s| session_node_id(s.session.id))
        .unwrap_or_default();
    let body = html! {
        h1 { "Account: " (data.viewer.login) }
        @if let Some((name, secret)) = new_secret {
            div.notice.ok role="status" {
                p { "Token " strong { (name) } " created. Copy it now: it is shown this once, never again." }
                div.install {
                    pre #new-token tabindex="0" { code { (secret) } }
                    button type="button" data-copy="new-token" hidden aria-label="Copy the new token" { "Copy" }
                }
            }
        }
        h2 { "Access tokens" }
        (token_table(viewer, &data.viewer.access_tokens))
        h3 { "New token" }
        form.stack method="post" action="/-/account" {
            (layout::csrf_field(viewer))
            input type="hidden" name="action" value="token.create";
            label for="token-name" { "Name" }
            input #token-name type="text" name="name" required;
            fieldset {
                legend { "Scopes" }
                @for s in SCOPES {
                    label { input type="checkbox" name="scopes" value=(s) checked[*s == "read:packages"]; " " code { (s) } }
                }
            }
            label for="token-expiry" { "Expires in (days, empty for never)" }
            input #token-expiry type="number" name="expires_in_days" min="1" max="3650" value="30";
            label for="token-owner" { "Only this owner's packages (optional)" }
            input #token-owner type="text" name="owner_login";
            label for="token-patterns" { "Only packages matching these names (comma-separated globs, optional)" }
            input #token-patterns type="text" name="package_patterns";
            p { button.primary type="submit" { "Create token" } }
        }
        h2 { "Sessions" }
        table.sessions {
            thead { tr { th { "Browser" } th { "Signed in" } th { "Last seen" } th { span.sr-only { "Actions" } } } }
            tbody {
                @for s in &data.viewer_sessions {
                    tr {
                        td { (s.user_agent.as_deref().unwrap_or("unknown")) @if s.id == current { " " span.badge.public { "this browser" } } }
                        td { (day_of(&s.created_at)) }
                        td { (day_of(&s.last_seen_at)) }
                        td {
                            form.inline method="post" action="/-/account" {
                                (layout::csrf_field(viewer))
                                input type="hidden" name="action" value="session.revoke";
                                input type="hidden" name="session_id" value=(s.id);
                                button.danger type="submit" { "Revoke" }
                            }
                        }
                    }
                }
            }
        }
    };
    let mut response = layout::page(viewer, "Account", body).into_response();
    if new_secret.is_some() {
        // The page with a secret on it must not be kept anywhere.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

fn token_table(viewer: &Viewer, tokens: &[Token]) -> Markup {
    html! {
        table.tokens {
            thead { tr { th { "Name" } th { "Scopes" } th { "Limits" } th { "Created" } th { "Last used" } th { "Expires" } th { span.sr-only { "Actions" } } } }
            tbody {
                @if tokens.is_empty() { tr { td colspan="7" { span.muted { "No tokens." } } } }
                @for t in tokens {
                    tr {
                        td { (t.name) br; code { (t.prefix) "…" } }
                        td { (t.scopes.join(", ")) }
                        td {
                            @if let Some(o) = &t.owner_login { "owner " (o) br; }
                            @if let Some(p) = &t.package_patterns { "packages " (p.join(", ")) }
                        }
                        td { (day_of(&t.created_at)) }
                        td { (t.last_used_at.as_deref().map(day_of).unwrap_or("never")) }
                        td { (t.expires_at.as_deref().map(day_of).unwrap_or("never")) }
                        td {
                            @if t.revoked_at.is_some() {
                                span.badge.private { "revoked" }
                            } @else {
                                form.inline method="post" action="/-/account" {
                                    (layout::csrf_field(viewer))
                                    input type="hidden" name="action" value="token.revoke";
                                    input type="hidden" name="token_id" value=(t.id);
                                    button.danger type="submit" aria-label=(format!("Revoke token {}", t.name)) { "Revoke" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn account_action(
    State(state): State<AppState>,
    viewer: Viewer,
    form: Form,
) -> Result<Response, WebError> {
    viewer.check_csrf(form.get("csrf"))?;
    match form.required("action")? {
        "token.create" => {
            #[derive(Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct Created {
                create_access_token: Secret,
            }
            #[derive(Deserialize)]
            struct Secret {
                token: String,
            }
            let expires = match form.optional("expires_in_days") {
                Some(d) => Some(
                    d.parse::<i64>()
                        .map_err(|_| WebError::bad_request("expiry must be a number of days"))?,
                ),
                None => None,
            };
            let patterns: Option<Vec<&str>> = form.optional("package_patterns").map(|p| {
                p.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect()
            });
            let name = form.required("name")?;
            let created: Created = gql::run(
                &state,
                &viewer.actor,
                "mutation($input: CreateAccessTokenInput!) { createAccessToken(input: $input) { token } }",
                json!({ "input": {
                    "name": name, "scopes": form.all("scopes"), "expiresInDays": expires,
                    "ownerLogin": form.optional("owner_login"), "packagePatterns": patterns,
                }}),
            )
            .await?;
            render(
                &state,
                &viewer,
                Some((name, &created.create_access_token.token)),
            )
            .await
        }
        "token.revoke" => {
            let _: Value = gql::run(
                &state,
                &viewer.actor,
                "mutation($id: ID!) { revokeAccessToken(input: {accessTokenId: $id}) { accessToken { id } } }",
                json!({ "id": form.required("token_id")? }),
            )
            .await?;
            Ok(Redirect::to("/-/account").into_response())
        }
        "session.revoke" => {
            let _: Value = gql::run(
                &state,
                &viewer.actor,
                "mutation($id: ID!) { revokeSession(input: {sessionId: $id}) { sessionId } }",
                json!({ "id": form.required("session_id")? }),
            )
            .await?;
            Ok(Redirect::to("/-/account").into_response())
        }
        other => Err(WebError::bad_request(format!("unknown action {other}"))),
    }
}
