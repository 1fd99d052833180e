//! The HTTP stack under the router: accepting connections, bounding how many there are and
//! how long they may sit without a request, and capping request bodies. Everything here
//! applies to every door alike; doors only say which of their routes take streamed uploads
//! ([`body_limit::streamed_upload`]). Called by `lib.rs`; calls nothing of the domain.

pub mod body_limit;
mod connections;
pub mod forwarded;

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
};

pub use connections::{ShuttingDown, client_key, serve};

/// The client's address as throttles count it (an IPv6 /64 as one), when the request came
/// over a connection of ours (not in router tests).
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| client_key(addr.ip())),
        ))
    }
}
