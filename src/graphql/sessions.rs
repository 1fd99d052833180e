//! Web UI sessions: the viewer's list and revocation (the UI's "revoke" and "sign out" are
//! this mutation). Signing in is not here: it sets a cookie, which only the UI can.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::{
    domain::sessions::SessionInfo,
    graphql::{GqlResult, ctx, ids},
};

pub struct SessionObject(pub SessionInfo);

/// A signed-in browser of the web UI.
#[Object(name = "Session")]
impl SessionObject {
    async fn id(&self) -> ID {
        ids::encode("Session", self.0.id)
    }
    /// The browser's `User-Agent` at sign-in.
    async fn user_agent(&self) -> Option<&str> {
        self.0.user_agent.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn last_seen_at(&self) -> DateTime<Utc> {
        self.0.last_seen_at
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
}

#[derive(Default)]
pub struct SessionQuery;

#[Object]
impl SessionQuery {
    /// The viewer's live web UI sessions, newest first.
    async fn viewer_sessions(&self, c: &Context<'_>) -> async_graphql::Result<Vec<SessionObject>> {
        let c = ctx(c)?;
        let sessions = c.domain.list_sessions(c.actor).await.gql()?;
        Ok(sessions.into_iter().map(SessionObject).collect())
    }
}

#[derive(InputObject)]
pub struct RevokeSessionInput {
    pub session_id: ID,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct RevokeSessionPayload {
    pub client_mutation_id: Option<String>,
    pub session_id: ID,
}

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Ends one of the viewer's web UI sessions at once (sign-out ends the current one).
    async fn revoke_session(
        &self,
        c: &Context<'_>,
        input: RevokeSessionInput,
    ) -> async_graphql::Result<RevokeSessionPayload> {
        let c = ctx(c)?;
        let id = ids::decode(&input.session_id, "Session")?;
        c.domain.revoke_session(c.actor, id).await.gql()?;
        Ok(RevokeSessionPayload {
            client_mutation_id: input.client_mutation_id,
            session_id: input.session_id,
        })
    }
}
