//! What every handler shares.
use std::sync::Arc;

use crate::{config::Config, domain::Domain, graphql::PackyardSchema};

#[derive(Clone)]
pub struct AppState {
    pub domain: Arc<Domain>,
    pub config: Arc<Config>,
    pub schema: PackyardSchema,
}
