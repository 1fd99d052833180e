//! Generic packages: no metadata beyond their files.
use serde::{Deserialize, Serialize};

use super::Description;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct GenericMetadata {}

impl GenericMetadata {
    pub fn describe(&self) -> Description {
        Description::default()
    }
}
