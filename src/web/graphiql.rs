//! GraphiQL at `GET /graphql`, from assets compiled into the binary: it works air-gapped
//! (the stock page loads React and GraphiQL from a CDN and shows only "Loading..."
//! offline). The GraphQL door serves this page; its assets are the UI's.
use axum::{
    http::{HeaderValue, header},
    response::{Html, IntoResponse, Response},
};
use maud::{DOCTYPE, html};

use crate::web::assets;

/// Scripts only from the binary; GraphiQL's editor sets inline styles, so styles may be
/// inline here (never scripts).
const GRAPHIQL_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

pub fn graphiql_page() -> Response {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Packyard GraphQL" }
                link rel="stylesheet" href=(assets::url("graphiql.min.css"));
                link rel="stylesheet" href=(assets::url("style.css"));
            }
            body.graphiql-page {
                div #graphiql { "Loading GraphiQL… (it needs JavaScript)" }
                script src=(assets::url("react.production.min.js")) {}
                script src=(assets::url("react-dom.production.min.js")) {}
                script src=(assets::url("graphiql.min.js")) {}
                script src=(assets::url("graphiql-init.js")) {}
            }
        }
    };
    let mut response = Html(page.into_string()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(GRAPHIQL_CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    response
}
