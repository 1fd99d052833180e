//! The RubyGems registry (`/rubygems/{owner}/...`), as GitHub Packages serves it: every gem
//! of the Packyard user or organization OWNER under one source URL.
//!
//! Client setup: `gem push --host http://HOST/rubygems/OWNER` with the token in
//! `~/.gem/credentials` or `GEM_HOST_API_KEY`; `source "http://USER:TOKEN@HOST/rubygems/OWNER"`
//! in a Gemfile, or `bundle config set http://HOST/rubygems/OWNER USER:TOKEN`.
//! Protocol: the compact index (https://github.com/rubygems/compact_index: `/versions`,
//! `/info/NAME`, `/names`), the Marshal 4.8 full index (`specs.4.8.gz`, `quick/Marshal.4.8`),
//! and the rubygems.org API bundler and gem use (`/api/v1/gems`, `/api/v1/dependencies`,
//! `/api/v1/gems/yank`, `/api/v1/api_key`).

mod archive;
mod compact_index;
mod errors;
mod full_index;
#[doc(hidden)]
pub mod fuzzing;
mod gemspec;
mod marshal;
mod paths;
mod push;
mod reads;
mod version;

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use base64::Engine;
use md5::Digest;

use crate::{auth::CurrentActor, server::body_limit::streamed_upload, state::AppState};

pub use errors::RubygemsError;

type GemActor = CurrentActor<RubygemsError>;
type GemResult = Result<Response, RubygemsError>;

pub fn routes() -> Router<AppState> {
    Router::new()
        // `gem` probes the source root (HEAD) to choose the compact index.
        .route("/rubygems/{owner}", get(reads::root))
        .route("/rubygems/{owner}/", get(reads::root))
        .route("/rubygems/{owner}/versions", get(reads::versions))
        .route("/rubygems/{owner}/names", get(reads::names))
        .route("/rubygems/{owner}/info/{name}", get(reads::info))
        .route("/rubygems/{owner}/gems/{file}", get(reads::gem_file))
        .route(
            "/rubygems/{owner}/quick/Marshal.4.8/{file}",
            get(reads::quick_spec),
        )
        .route("/rubygems/{owner}/specs.4.8.gz", get(reads::specs))
        .route(
            "/rubygems/{owner}/latest_specs.4.8.gz",
            get(reads::latest_specs),
        )
        .route(
            "/rubygems/{owner}/prerelease_specs.4.8.gz",
            get(reads::prerelease_specs),
        )
        .route(
            "/rubygems/{owner}/api/v1/dependencies",
            get(reads::dependencies),
        )
        .route("/rubygems/{owner}/api/v1/gems/{name}", get(reads::gem_json))
        .route(
            "/rubygems/{owner}/api/v1/versions/{name}",
            get(reads::versions_json),
        )
        .route("/rubygems/{owner}/api/v1/api_key", get(push::api_key))
        .route("/rubygems/{owner}/api/v1/gems/yank", delete(push::yank))
        // A push carries the whole .gem: it streams past the server's body cap, bounded
        // by the format's file limit.
        .route(
            "/rubygems/{owner}/api/v1/gems",
            post(push::push).layer(middleware::from_fn(streamed_upload)),
        )
}

/// An index file (`/versions`, `/info/NAME`, `/names`) as rubygems.org serves it: `ETag`
/// the quoted MD5 of the whole file (also on 206: bundler checks the file it pieces
/// together against it), `Range` for the tail, `If-None-Match` → 304, and the SHA-256 in
/// `Digest` and `Repr-Digest`.
fn index_file(headers: &HeaderMap, body: Vec<u8>) -> Response {
    let etag = format!("\"{}\"", hex::encode(md5::Md5::digest(&body)));
    let sha = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&body));
    let mut common = HeaderMap::new();
    let value = |s: String| HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static(""));
    common.insert(header::ETAG, value(etag.clone()));
    common.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    common.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    common.insert("digest", value(format!("sha-256={sha}")));
    common.insert("repr-digest", value(format!("sha-256=:{sha}:")));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        });
    if matches {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let size = body.len() as u64;
    match crate::formats::kit::http::range_header(headers) {
        Some(range) => match range.resolve(size) {
            Some(r) => {
                common.insert(
                    header::CONTENT_RANGE,
                    value(format!(
                        "bytes {}-{}/{size}",
                        r.start,
                        r.end.saturating_sub(1)
                    )),
                );
                let part = body[r.start as usize..r.end as usize].to_vec();
                (StatusCode::PARTIAL_CONTENT, common, Body::from(part)).into_response()
            }
            None => {
                let mut resp = crate::formats::kit::http::range_not_satisfiable(size);
                resp.headers_mut().extend(common);
                resp
            }
        },
        None => (StatusCode::OK, common, Body::from(body)).into_response(),
    }
}

/// A plain-text answer.
fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}
