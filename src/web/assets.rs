//! The UI's static assets, compiled into the binary: nothing loads from the internet.
//! Each is served under a name with its content hash (`style.3f2a….css`) and cached for a
//! year; a new build changes the name.
use std::sync::LazyLock;

use sha2::{Digest, Sha256};

use axum::{
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

pub struct Asset {
    /// The logical name pages link by.
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// `stem.<hash>.ext`, the URL's last segment.
    pub hashed: String,
}

const SOURCES: &[(&str, &str, &[u8])] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/web/style.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/web/app.js"),
    ),
    // GraphiQL, offline: see assets/vendor/README.md.
    (
        "graphiql-init.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/web/graphiql-init.js"),
    ),
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/vendor/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/react/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/react-dom/react-dom.production.min.js"),
    ),
];

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(name, content_type, body)| {
            let hash = &hex::encode(Sha256::digest(body))[..16];
            // `graphiql.min.js` → `graphiql.min.<hash>.js`
            let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
            Asset {
                name,
                content_type,
                body,
                hashed: format!("{stem}.{hash}.{ext}"),
            }
        })
        .collect()
});

/// The URL of an asset by its logical name.
pub fn url(name: &str) -> String {
    ASSETS
        .iter()
        .find(|a| a.name == name)
        .map(|a| format!("/-/assets/{}", a.hashed))
        .unwrap_or_default()
}

pub async fn serve_asset(Path(file): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.hashed == file) else {
        return crate::web::errors::WebError::not_found().into_response();
    };
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        asset.body,
    )
        .into_response()
}
