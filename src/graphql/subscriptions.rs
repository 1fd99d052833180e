//! GraphQL subscriptions: `packageEvents`, the package events of one owner as they are
//! written, over the websocket of `/graphql` (routes.rs authenticates the connection).
//!
//! Fan-out goes through the database, not through memory: each subscription wakes on an
//! `Events` notice (PostgreSQL `NOTIFY` from any replica; in-process on SQLite), on a
//! `Gap` (notices may have been lost) or every few seconds, and then reads the event rows
//! after the last id it saw. A lost notice costs latency, never an event. Every event is
//! gated when it is sent, with the gate every resolver uses (`package_by_id`): a package
//! made private or deleted since the event was written no longer reaches those who may
//! not read it now.
use std::{collections::VecDeque, sync::Arc, time::Duration};

use async_graphql::{Context, ID, Object, Subscription};
use chrono::{DateTime, Utc};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::{
    auth::{Actor, Credential},
    domain::{
        self, Domain, OwnerName,
        events::EventInfo,
        notify::{Channel, Notice},
    },
    error::DomainError,
    graphql::{
        GqlResult, ctx, ids,
        packages::{PackageObject, PackageVersionObject},
        types::PackageType,
        webhooks::PackageEventAction,
    },
};

/// Reads the table even without a notice this often (belt and braces).
const POLL_FALLBACK: Duration = Duration::from_secs(5);
/// Events read from the table at once.
const BATCH: u64 = 100;
/// How long to wait before reading again when the database fails.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The credential a websocket connection was opened with: a subscription checks it again
/// before each batch of events, so a revoked or expired token stops receiving them.
#[derive(Clone)]
pub(crate) struct SubscriberCredential(pub Option<Credential>);

#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// The events of `owner`'s packages (optionally of one type) from the moment of
    /// subscribing on, those the subscriber may read when each is sent. No history is
    /// replayed.
    async fn package_events(
        &self,
        c: &Context<'_>,
        owner: String,
        package_type: Option<PackageType>,
    ) -> async_graphql::Result<impl Stream<Item = PackageEventObject> + use<>> {
        let cx = ctx(c)?;
        let credential = c
            .data_opt::<SubscriberCredential>()
            .and_then(|s| s.0.clone());
        let owner = cx
            .domain
            .find_account(&OwnerName::parse(&owner).gql()?)
            .await
            .gql()?;
        // Listen before reading where to start: an event committed in between is then
        // both after the start and announced.
        let notices = cx.domain.notices();
        let last_seen = cx.domain.last_event_id().await.gql()?;
        let follower = Follower {
            domain: cx.domain.clone(),
            actor: cx.actor.clone(),
            credential,
            owner_id: owner.id,
            package_type: package_type.map(Into::into),
            last_seen,
            notices,
            pending: VecDeque::new(),
            caught_up: true,
        };
        Ok(futures::stream::unfold(follower, |mut f| async move {
            f.next().await.map(|event| (event, f))
        }))
    }
}

/// One subscription's place in the event table.
struct Follower {
    domain: Arc<Domain>,
    actor: Actor,
    credential: Option<Credential>,
    owner_id: i64,
    package_type: Option<domain::PackageType>,
    /// The newest event read (sent or not).
    last_seen: i64,
    notices: tokio::sync::broadcast::Receiver<Notice>,
    /// Read, of the owner and type, not yet gated and sent.
    pending: VecDeque<EventInfo>,
    /// Whether the last read returned less than a batch (so waiting for a notice is right).
    caught_up: bool,
}

impl Follower {
    /// The next event the subscriber may read; `None` ends the subscription (its
    /// credential no longer authenticates).
    async fn next(&mut self) -> Option<PackageEventObject> {
        loop {
            while let Some(event) = self.pending.pop_front() {
                match self
                    .domain
                    .package_by_id(&self.actor, event.package_id)
                    .await
                {
                    Ok(package) => return Some(PackageEventObject { event, package }),
                    Err(
                        DomainError::NotFound { .. }
                        | DomainError::Forbidden(_)
                        | DomainError::Unauthenticated(_),
                    ) => {}
                    Err(e) => {
                        // Not the subscriber's fault: try the same event again.
                        tracing::warn!(error = %e, "gating a package event");
                        self.pending.push_front(event);
                        tokio::time::sleep(RETRY_AFTER).await;
                    }
                }
            }
            if self.caught_up {
                self.wait().await;
            }
            match self
                .domain
                .events_after(self.last_seen, Some(self.owner_id), BATCH)
                .await
            {
                Ok(events) => {
                    self.caught_up = (events.len() as u64) < BATCH;
                    if let Some(last) = events.last() {
                        self.last_seen = last.id;
                    }
                    let wanted = self.package_type;
                    self.pending.extend(
                        events
                            .into_iter()
                            .filter(|e| wanted.is_none_or(|t| t == e.package_type)),
                    );
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading package events");
                    self.caught_up = false;
                    tokio::time::sleep(RETRY_AFTER).await;
                    continue;
                }
            }
            if !self.pending.is_empty() && !self.reauthenticate().await {
                return None;
            }
        }
    }

    /// Until there may be new events: an `Events` notice, a gap, or the fallback poll.
    async fn wait(&mut self) {
        let fallback = tokio::time::sleep(POLL_FALLBACK);
        tokio::pin!(fallback);
        loop {
            tokio::select! {
                () = &mut fallback => return,
                notice = self.notices.recv() => match notice {
                    Ok(Notice::Message { channel: Channel::Events, .. })
                    | Ok(Notice::Gap)
                    | Err(RecvError::Lagged(_)) => return,
                    Ok(Notice::Message { .. }) => {}
                    // No more notices (shutting down): the fallback poll still runs.
                    Err(RecvError::Closed) => {
                        (&mut fallback).await;
                        return;
                    }
                },
            }
        }
    }

    /// Checks the connection's credential again; false when it no longer authenticates.
    /// A database failure keeps the current actor (the events are gated anyway).
    async fn reauthenticate(&mut self) -> bool {
        let Some(credential) = &self.credential else {
            return true;
        };
        match self.domain.authenticate(credential).await {
            Ok(actor) => {
                self.actor = actor;
                true
            }
            Err(DomainError::Unauthenticated(_) | DomainError::Forbidden(_)) => false,
            Err(e) => {
                tracing::warn!(error = %e, "re-authenticating a subscriber");
                true
            }
        }
    }
}

/// A change to a package, as `packageEvents` streams it.
pub struct PackageEventObject {
    event: EventInfo,
    /// The package as of sending (readable by the subscriber then).
    package: domain::views::PackageInfo,
}

#[Object(name = "PackageEvent")]
impl PackageEventObject {
    async fn id(&self) -> ID {
        ids::encode("PackageEvent", self.event.id)
    }
    async fn action(&self) -> PackageEventAction {
        self.event.kind.into()
    }
    /// The package as it is now (a deleted one reaches only its admins).
    async fn package(&self) -> PackageObject {
        PackageObject(self.package.clone())
    }
    /// The version the event is about, as it was named then; null for package-wide
    /// changes (visibility, a whole package deleted or restored).
    async fn version(&self) -> Option<&str> {
        self.event.version_id?;
        self.event.payload["package"]["package_version"]["version"].as_str()
    }
    /// The version the event is about, as it is now (null when it is gone or the event is
    /// package-wide).
    async fn package_version(
        &self,
        c: &Context<'_>,
    ) -> async_graphql::Result<Option<PackageVersionObject>> {
        let Some(id) = self.event.version_id else {
            return Ok(None);
        };
        let c = ctx(c)?;
        match c.domain.version_by_id(c.actor, id).await {
            Ok(v) => Ok(Some(PackageVersionObject(v))),
            Err(
                DomainError::NotFound { .. }
                | DomainError::Forbidden(_)
                | DomainError::Unauthenticated(_),
            ) => Ok(None),
            Err(e) => Err(crate::graphql::gql_error(e)),
        }
    }
    /// Who made the change: a user's login, or `packyard-actions[bot]` for a repository's
    /// CI token; null for anonymous changes.
    async fn actor_login(&self) -> Option<&str> {
        self.event.payload["sender"]["login"].as_str()
    }
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.event.created_at
    }
}
