//! Who is looking: the session cookie → the domain's session → the viewer. Cookies are
//! `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when the public URL is https. Forms
//! carry the session's CSRF token (`domain::sessions::csrf_token`); the sign-in form, posted
//! before there is a session, a random token also set in a short-lived cookie (double
//! submit).
use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, header, request::Parts},
};

use crate::{
    auth::{Actor, generate_token},
    domain::sessions::{SessionInfo, csrf_token},
    state::AppState,
    web::errors::WebError,
};

pub const SESSION_COOKIE: &str = "packyard_session";
pub const SIGNIN_CSRF_COOKIE: &str = "packyard_signin_csrf";

/// The visitor of a page: anonymous, or signed in with a session.
#[derive(Clone)]
pub struct Viewer {
    pub actor: Actor,
    pub signed_in: Option<SignedInViewer>,
}

#[derive(Clone)]
pub struct SignedInViewer {
    pub login: String,
    pub site_admin: bool,
    pub session: SessionInfo,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

impl Viewer {
    pub fn login(&self) -> Option<&str> {
        self.signed_in.as_ref().map(|s| s.login.as_str())
    }

    pub fn csrf(&self) -> &str {
        self.signed_in.as_ref().map_or("", |s| s.csrf.as_str())
    }

    /// A form's `csrf` field must be this session's token; anonymous visitors post no
    /// forms but the sign-in form (checked on its own).
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), WebError> {
        match (&self.signed_in, presented) {
            (Some(s), Some(p)) if constant_time_eq(s.csrf.as_bytes(), p.as_bytes()) => Ok(()),
            _ => Err(WebError::csrf()),
        }
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Ok(Self::anonymous());
        };
        match state.domain.web_session(&secret).await {
            Ok(signed_in) => {
                let (login, site_admin) = match &signed_in.actor {
                    Actor::User {
                        login, site_admin, ..
                    } => (login.clone(), *site_admin),
                    _ => return Ok(Self::anonymous()),
                };
                Ok(Self {
                    actor: signed_in.actor,
                    signed_in: Some(SignedInViewer {
                        login,
                        site_admin,
                        session: signed_in.session,
                        csrf: csrf_token(&secret),
                    }),
                })
            }
            // An expired or revoked session is a visitor who isn't signed in.
            Err(crate::error::DomainError::Unauthenticated(_)) => Ok(Self::anonymous()),
            Err(e) => Err(e.into()),
        }
    }
}

impl Viewer {
    fn anonymous() -> Self {
        Self {
            actor: Actor::Anonymous,
            signed_in: None,
        }
    }
}

/// One cookie's value from the `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value with the attributes every cookie of the UI has.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if state.config.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let value =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    // Names and values are ours: token alphabet only.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A fresh random token for the sign-in form's double submit.
pub fn new_signin_csrf() -> String {
    generate_token().hash
}
