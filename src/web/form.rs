//! A posted form (`application/x-www-form-urlencoded`), bounded by the router's body cap.
//! Fields may repeat (checkboxes).
use axum::{
    extract::{FromRequest, Request},
    http::header,
};

use crate::web::errors::WebError;

pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field that must be there and not blank.
    pub fn required(&self, name: &str) -> Result<&str, WebError> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| WebError::bad_request(format!("the form lacks {name}")))
    }

    /// A field that may be absent or blank.
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &S) -> Result<Self, WebError> {
        let form_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !form_type {
            return Err(WebError::bad_request("expected a form"));
        }
        let body = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| WebError::bad_request("the form could not be read"))?;
        Ok(Self(
            url::form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}
