//! Validated path parameters: a route's raw segments become the domain's newtypes (their
//! constructors are the only way in) before any I/O, or the door's own 400/404.
use std::{collections::HashMap, marker::PhantomData};

use axum::{
    extract::{FromRequestParts, Path},
    http::request::Parts,
    response::IntoResponse,
};

use crate::error::DomainError;

/// A door's URL grammar: the validated values of one route's path parameters.
pub trait PathGrammar: Sized + Send {
    fn from_params(params: &PathParams) -> Result<Self, DomainError>;
}

/// The raw (percent-decoded) parameters of the matched route, by name.
pub struct PathParams(HashMap<String, String>);

impl PathParams {
    pub fn new(params: HashMap<String, String>) -> Self {
        Self(params)
    }

    /// A parameter every route of the grammar has.
    pub fn get(&self, key: &str) -> Result<&str, DomainError> {
        self.opt(key)
            .ok_or_else(|| DomainError::internal(format_args!("route without {{{key}}}")))
    }

    /// A parameter only some of the grammar's routes have (npm's `{a}` vs `{a}/{b}`).
    pub fn opt(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// `T` validated from the path, or the door's error `E` (`DoorError<D>`, `NpmError`):
/// `Valid<NpmPackage, NpmError>` in a handler's arguments replaces `Path<..>` and the
/// handler's own parsing.
pub struct Valid<T, E>(pub T, pub PhantomData<fn() -> E>);

impl<T, E, S> FromRequestParts<S> for Valid<T, E>
where
    T: PathGrammar,
    E: From<DomainError> + IntoResponse,
    S: Send + Sync,
{
    type Rejection = E;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            // Only a segment that isn't UTF-8 once decoded gets here.
            .map_err(|e| DomainError::invalid(e.body_text()))?;
        Ok(Self(T::from_params(&PathParams::new(params))?, PhantomData))
    }
}
