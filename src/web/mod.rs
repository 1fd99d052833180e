//! The web UI, served at `/` on the same port: server-rendered HTML (maud), a small
//! stylesheet and a script for progressive enhancement, all compiled into the binary.
//! It is a door like the others: pages and forms run the GraphQL schema in-process as
//! the viewer (`gql::run`), so every UI action is a GraphQL mutation (`ACTIONS`) and every
//! permission is decided where it is for every other client. Only sign-in (it sets a
//! cookie) calls the domain directly: `Domain::sign_in` and `web_session`.
//! Its own URLs live under `/-/` so no owner's name can shadow another door's route.
//! Nothing calls into this module but the router.

mod account;
mod assets;
mod audit;
mod chart;
mod errors;
mod explore;
mod form;
mod gql;
mod graphiql;
mod install;
mod layout;
mod markdown;
mod owner;
mod package;
mod session;
mod settings;
mod signin;
mod usage;
mod webhooks;

use axum::{
    Router, middleware,
    routing::{get, post},
};

pub use graphiql::graphiql_page;

use crate::state::AppState;

/// Every action a UI form can take, with the GraphQL mutation it runs. A test checks each
/// against the schema, so the UI can't grow an action the API lacks.
pub const ACTIONS: &[(&str, &str)] = &[
    ("package.set_visibility", "setPackageVisibility"),
    ("package.link_repository", "linkPackageRepository"),
    ("package.unlink_repository", "unlinkPackageRepository"),
    ("package.set_inherit_access", "setPackageInheritAccess"),
    ("package.grant", "grantPackageAccess"),
    ("package.revoke_grant", "revokePackageAccess"),
    ("package.delete", "deletePackage"),
    ("package.restore", "restorePackage"),
    ("version.delete", "deletePackageVersion"),
    ("version.restore", "restorePackageVersion"),
    ("version.yank", "yankPackageVersion"),
    ("version.unyank", "unyankPackageVersion"),
    (
        "organization.update_settings",
        "updateOrganizationPackageSettings",
    ),
    ("token.create", "createAccessToken"),
    ("token.revoke", "revokeAccessToken"),
    ("session.revoke", "revokeSession"),
    ("session.sign_out", "revokeSession"),
    ("retention.set", "setRetentionPolicy"),
    ("retention.delete", "deleteRetentionPolicy"),
    ("webhook.create", "createWebhook"),
    ("webhook.update", "updateWebhook"),
    ("webhook.delete", "deleteWebhook"),
    ("webhook.redeliver", "redeliverWebhookDelivery"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(explore::explore))
        .route("/-/signin", get(signin::signin_page).post(signin::sign_in))
        .route("/-/signout", post(signin::sign_out))
        .route(
            "/-/account",
            get(account::account_page).post(account::account_action),
        )
        .route("/-/assets/{file}", get(assets::serve_asset))
        .route(
            "/-/owner/{owner}",
            get(owner::owner_page).post(owner::owner_action),
        )
        .route("/-/owner/{owner}/usage", get(usage::usage_page))
        .route(
            "/-/owner/{owner}/retention",
            get(usage::retention_page).post(usage::retention_action),
        )
        .route(
            "/-/owner/{owner}/webhooks",
            get(webhooks::webhooks_page).post(webhooks::webhooks_action),
        )
        .route(
            "/-/owner/{owner}/webhooks/{id}",
            get(webhooks::webhook_page),
        )
        .route(
            "/-/owner/{owner}/webhooks/{id}/deliveries/{delivery}",
            get(webhooks::delivery_page),
        )
        .route(
            "/-/owner/{owner}/audit",
            get(audit::organization_audit_page),
        )
        .route("/-/admin/audit", get(audit::site_audit_page))
        .route(
            "/-/package/{owner}/{package_type}/{*name}",
            get(package::package_page),
        )
        .route(
            "/-/settings/{owner}/{package_type}/{*name}",
            get(settings::settings_page).post(settings::settings_action),
        )
        .route("/-/{*rest}", get(not_found).post(not_found))
        .layer(middleware::from_fn(layout::security_headers))
}

/// Unknown UI URLs (under `/-/`) get an HTML 404 too.
async fn not_found() -> errors::WebError {
    errors::WebError::not_found()
}

/// The URL segment of a package type (`npm`) and its GraphQL enum value (`NPM`).
const TYPES: &[(&str, &str)] = &[
    ("generic", "GENERIC"),
    ("container", "CONTAINER"),
    ("npm", "NPM"),
    ("maven", "MAVEN"),
    ("rubygems", "RUBYGEMS"),
    ("nuget", "NUGET"),
];

fn type_from_segment(segment: &str) -> Option<&'static str> {
    TYPES.iter().find(|(s, _)| *s == segment).map(|(_, e)| *e)
}

fn type_segment(graphql: &str) -> &'static str {
    TYPES
        .iter()
        .find(|(_, e)| *e == graphql)
        .map_or("generic", |(s, _)| *s)
}

fn package_url(owner: &str, package_type: &str, name: &str) -> String {
    format!("/-/package/{owner}/{}/{name}", type_segment(package_type))
}

fn settings_url(owner: &str, package_type: &str, name: &str) -> String {
    format!("/-/settings/{owner}/{}/{name}", type_segment(package_type))
}

/// Bytes for people.
fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `2026-12-01T12:00:00Z` → `2026-12-01`.
fn day_of(timestamp: &str) -> &str {
    timestamp.get(..10).unwrap_or(timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ui_action_is_a_graphql_mutation() {
        let sdl = crate::graphql::schema_sdl();
        let mutations = sdl
            .split("type MutationRoot {")
            .nth(1)
            .and_then(|rest| rest.split("\n}").next())
            .expect("MutationRoot in the schema");
        for (action, mutation) in ACTIONS {
            assert!(
                mutations.contains(&format!("\t{mutation}(")),
                "UI action {action} names {mutation}, which the schema lacks"
            );
        }
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
    }
}
