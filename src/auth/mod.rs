//! Who is asking. Doors extract a [`Credential`] from the request and ask the domain to turn
//! it into an [`Actor`]; [`policy`] is the single place that decides what an actor may do.
//! This module calls only `domain` value types and `error`; doors and domain call it.

mod actor;
mod extract;
pub mod jwt;
pub mod policy;
mod token;

pub use actor::{Actor, Scope, Scopes, TokenGrant};
pub use extract::{Credential, CurrentActor, credential_from_headers};
pub use token::{NewToken, TOKEN_PREFIX, generate_token, hash_token};
