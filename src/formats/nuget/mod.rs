//! The NuGet v3 feed (`/nuget/{owner}/index.json`), as GitHub Packages serves one per owner.
//!
//! Client setup: a package source `http://HOST/nuget/OWNER/index.json` in nuget.config, with
//! `Username` + `ClearTextPassword` (a token) for private packages; `nuget push -ApiKey
//! TOKEN` (sent as `X-NuGet-ApiKey`). Protocol: the NuGet server API v3
//! (<https://learn.microsoft.com/nuget/api/overview>): service index, PackagePublish (push,
//! delete), SymbolPackagePublish, PackageBaseAddress (flat container), RegistrationsBaseUrl
//! (every hive is one: all versions, SemVer 2.0.0 included, gzip when asked), search and
//! autocomplete, the README template.
//!
//! Ids are case-insensitive (looked up by their lower-case key, shown as first pushed);
//! versions are stored normalized (`nuget/version.rs`).

mod errors;
#[doc(hidden)]
pub mod fuzzing;
mod nupkg;
mod nuspec;
mod paths;
mod pdb;
mod publish;
mod reads;
mod registrations;
mod symbols;
mod version;

use axum::{
    Router,
    extract::DefaultBodyLimit,
    middleware,
    response::Response,
    routing::{delete, get, put},
};

use crate::{auth::CurrentActor, server::body_limit::streamed_upload, state::AppState};

pub use errors::NugetError;
pub use paths::check_id;

pub const PACKAGE_TYPE: crate::domain::PackageType = crate::domain::PackageType::Nuget;

pub fn routes() -> Router<AppState> {
    // Pushes stream past the server's body cap, bounded by the NuGet file limit instead.
    let pushes = Router::new()
        .route("/nuget/{owner}/api/v2/package", put(publish::push_package))
        .route("/nuget/{owner}/api/v2/package/", put(publish::push_package))
        .route(
            "/nuget/{owner}/api/v2/symbolpackage",
            put(publish::push_symbols),
        )
        .route(
            "/nuget/{owner}/api/v2/symbolpackage/",
            put(publish::push_symbols),
        )
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn(streamed_upload));
    Router::new()
        .merge(pushes)
        .route("/nuget/{owner}/index.json", get(reads::service_index))
        .route(
            "/nuget/{owner}/api/v2/package/{id}/{version}",
            delete(publish::delete_version),
        )
        .route(
            "/nuget/{owner}/v3/flatcontainer/{id}/index.json",
            get(reads::flat_versions),
        )
        .route(
            "/nuget/{owner}/v3/flatcontainer/{id}/{version}/{file}",
            get(reads::flat_file),
        )
        .route(
            "/nuget/{owner}/v3/registration/{id}/index.json",
            get(reads::registration_index),
        )
        .route(
            "/nuget/{owner}/v3/registration/{id}/page/{lower}/{upper}",
            get(reads::registration_page),
        )
        .route(
            "/nuget/{owner}/v3/registration/{id}/{version}",
            get(reads::registration_leaf),
        )
        .route("/nuget/{owner}/v3/query", get(reads::search))
        .route("/nuget/{owner}/v3/autocomplete", get(reads::autocomplete))
        .route("/nuget/{owner}/symbols/{*key}", get(symbols::symbol_file))
}

type NugetActor = CurrentActor<NugetError>;

type NugetResult = Result<Response, NugetError>;
