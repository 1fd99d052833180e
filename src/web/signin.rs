//! Sign in (login + password → a session cookie) and sign out (revokes the session).
use axum::{
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use crate::{
    domain::{OwnerName, sessions::SESSION_DAYS},
    error::DomainError,
    server::ClientAddr,
    state::AppState,
    web::{
        errors::WebError,
        form::Form,
        gql, layout,
        session::{
            SESSION_COOKIE, SIGNIN_CSRF_COOKIE, Viewer, constant_time_eq, cookie, new_signin_csrf,
            set_cookie,
        },
    },
};

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Only a path on this site (`/…`, not `//host`) is followed after sign-in.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.into(),
        _ => "/".into(),
    }
}

pub async fn signin_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(next): Query<Next>,
) -> Response {
    render_form(&state, &viewer, next.next.as_deref(), None, StatusCode::OK)
}

fn render_form(
    state: &AppState,
    viewer: &Viewer,
    next: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let token = new_signin_csrf();
    let body = layout::page(
        viewer,
        "Sign in",
        html! {
            h1 { "Sign in to Packyard" }
            @if let Some(e) = error { p.notice.error-message role="alert" { (e) } }
            form.stack method="post" action="/-/signin" {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="next" value=(safe_next(next));
                label for="login" { "Username" }
                input #login type="text" name="login" autocomplete="username" required;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                p { button.primary type="submit" { "Sign in" } }
            }
            p.muted { "Accounts are made by an administrator: " code { "packyard admin create-user LOGIN" } "." }
        },
    );
    let mut response = (status, body).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, SIGNIN_CSRF_COOKIE, &token, 3600),
    );
    response
}

pub async fn sign_in(
    State(state): State<AppState>,
    viewer: Viewer,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    form: Form,
) -> Result<Response, WebError> {
    // Double submit: the form's token must equal the cookie set with the form.
    let expected = cookie(&headers, SIGNIN_CSRF_COOKIE);
    match (expected, form.get("csrf")) {
        (Some(e), Some(p)) if constant_time_eq(e.as_bytes(), p.as_bytes()) => {}
        _ => return Err(WebError::csrf()),
    }
    let next = form.get("next");
    let login = match OwnerName::parse(form.get("login").unwrap_or_default().trim()) {
        Ok(login) => login,
        Err(_) => {
            return Ok(render_form(
                &state,
                &viewer,
                next,
                Some("Incorrect username or password."),
                StatusCode::UNAUTHORIZED,
            ));
        }
    };
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let password = form.get("password").unwrap_or_default();
    match state
        .domain
        .sign_in(&login, password, client, user_agent)
        .await
    {
        Ok(new) => {
            let mut response = Redirect::to(&safe_next(next)).into_response();
            let h = response.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(&state, SESSION_COOKIE, &new.secret, SESSION_DAYS * 86_400),
            );
            h.append(
                header::SET_COOKIE,
                set_cookie(&state, SIGNIN_CSRF_COOKIE, "", 0),
            );
            Ok(response)
        }
        Err(DomainError::Unauthenticated(_)) => Ok(render_form(
            &state,
            &viewer,
            next,
            Some("Incorrect username or password."),
            StatusCode::UNAUTHORIZED,
        )),
        Err(e @ DomainError::TooManyRequests { .. }) => {
            let retry = e.retry_after_secs().unwrap_or(60);
            let mut response = render_form(
                &state,
                &viewer,
                next,
                Some(&format!(
                    "Too many failed sign-ins. Try again in {retry} seconds."
                )),
                StatusCode::TOO_MANY_REQUESTS,
            );
            if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}

/// Sign-out is `revokeSession` of the viewer's own session, then the cookie goes.
pub async fn sign_out(
    State(state): State<AppState>,
    viewer: Viewer,
    form: Form,
) -> Result<Response, WebError> {
    viewer.check_csrf(form.get("csrf"))?;
    if let Some(signed_in) = &viewer.signed_in {
        let id = session_node_id(signed_in.session.id);
        let _: serde_json::Value = gql::run(
            &state,
            &viewer.actor,
            "mutation($id: ID!) { revokeSession(input: {sessionId: $id}) { sessionId } }",
            json!({ "id": id }),
        )
        .await?;
    }
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, "", 0),
    );
    Ok(response)
}

/// The GraphQL node ID of a session (`base64("Session:<id>")`).
pub fn session_node_id(id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("Session:{id}"))
}
