//! What every door shares: the error renderer (`errors`), HTTP pieces (`http`: ranges,
//! file responses), validated path extractors (`path`) and entity references for the XML
//! readers (`xml`). Doors call the kit; the kit calls
//! domain types only, never a domain method; neither the domain nor the kit calls a door.
//! A new door writes one `impl Door` and its path grammars, and renders everything else
//! through here.

pub mod errors;
pub mod http;
pub mod path;
pub mod xml;
