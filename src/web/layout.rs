//! The page shell (header, navigation, footer) and the security headers every UI answer
//! carries.
use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue, header},
    middleware::Next,
    response::Response,
};
use maud::{DOCTYPE, Markup, html};

use crate::web::{assets, session::Viewer};

/// No inline script, no third-party origin; inline SVG needs no exception. Images in
/// READMEs may come from https origins (the sanitizer allows nothing else).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; \
     font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        // Pages differ per viewer: never stored by shared caches.
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
    }
    response
}

/// A full page for a viewer.
pub fn page(viewer: &Viewer, title: &str, content: Markup) -> Markup {
    shell(title, Some(viewer), content)
}

/// A page without viewer-specific navigation (error pages).
pub fn bare(title: &str, content: Markup) -> Markup {
    shell(title, None, content)
}

fn shell(title: &str, viewer: Option<&Viewer>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Packyard" }
                link rel="stylesheet" href=(assets::url("style.css"));
                script src=(assets::url("app.js")) defer {}
            }
            body {
                header.site {
                    a.brand href="/" { "Packyard" }
                    form.search method="get" action="/" role="search" {
                        label.sr-only for="site-search" { "Search packages" }
                        input #site-search type="search" name="q" placeholder="Search packages";
                    }
                    nav aria-label="Site" {
                        a href="/" { "Explore" }
                        a href="/graphql" { "GraphQL" }
                        @if let Some(v) = viewer {
                            @if let Some(login) = v.login() {
                                a href=(format!("/-/owner/{login}")) { (login) }
                                a href="/-/account" { "Account" }
                                a href=(format!("/-/owner/{login}/usage")) { "Usage" }
                                @if v.signed_in.as_ref().is_some_and(|s| s.site_admin) {
                                    a href="/-/admin/audit" { "Audit log" }
                                }
                                form.inline method="post" action="/-/signout" {
                                    input type="hidden" name="csrf" value=(v.csrf());
                                    button.link type="submit" { "Sign out" }
                                }
                            } @else {
                                a href="/-/signin" { "Sign in" }
                            }
                        }
                    }
                }
                main { (content) }
                footer { "Packyard · self-hosted package registry" }
            }
        }
    }
}

/// The hidden CSRF field every form of a signed-in viewer carries.
pub fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.csrf()); }
}
