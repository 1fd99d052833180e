//! The UI's one way into the domain: the GraphQL schema, executed in-process as the
//! viewer. Every page is one query and every form one mutation, so the UI can do nothing
//! the API can't, and permissions, visibility and "not found for outsiders" are decided
//! where they are for every other client.
use async_graphql::{Request, Variables};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};

use crate::{auth::Actor, graphql::Loaders, state::AppState, web::errors::WebError};

/// Runs one operation as `actor` and decodes its `data`. The first error (with its
/// `extensions.code`) becomes the page's error.
pub async fn run<T: DeserializeOwned>(
    state: &AppState,
    actor: &Actor,
    document: &str,
    variables: Value,
) -> Result<T, WebError> {
    let loaders = Loaders::new(state.domain.clone(), actor.clone());
    let request = Request::new(document)
        .variables(Variables::from_json(variables))
        .data(actor.clone())
        .data(loaders);
    let response = state.schema.execute(request).await;
    if let Some(err) = response.errors.first() {
        let code = err
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .and_then(|v| match v {
                async_graphql::Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        return Err(WebError::from_code(&code, &err.message));
    }
    let data = response
        .data
        .into_json()
        .map_err(|e| WebError::internal(format!("graphql data: {e}")))?;
    serde_json::from_value(data).map_err(|e| WebError::internal(format!("graphql shape: {e}")))
}

/// `fields` of the account `login` names, a user or an organization (both have them), as
/// `run` would return them; 404 when there is no such account.
pub async fn owner<T: DeserializeOwned>(
    state: &AppState,
    actor: &Actor,
    login: &str,
    fields: &str,
) -> Result<T, WebError> {
    #[derive(Deserialize)]
    #[serde(bound = "T: DeserializeOwned")]
    struct Either<T> {
        user: Option<T>,
        organization: Option<T>,
    }
    let document = format!(
        "query($login: String!) {{ user(login: $login) {{ {fields} }} \
         organization(login: $login) {{ {fields} }} }}"
    );
    let data: Either<T> = run(state, actor, &document, json!({ "login": login })).await?;
    data.user
        .or(data.organization)
        .ok_or_else(WebError::not_found)
}
