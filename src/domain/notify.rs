//! Notices between replicas: "package 42 changed", "event 1017 was written". On PostgreSQL a
//! notice is a `NOTIFY` on a channel every replica `LISTEN`s to (its own included); on SQLite
//! there is one process, and a notice goes straight to its subscribers.
//!
//! Send a notice only after the change it announces has committed: a subscriber that reads
//! the database on receipt must see the change. Notices are hints, not a log: PostgreSQL
//! drops those sent while a listener is reconnecting, and a slow subscriber can fall behind
//! the buffer. Either way subscribers receive [`Notice::Gap`] and must catch up from the
//! database (clear a cache, re-read events after the last one seen).
use std::{sync::Arc, time::Duration};

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use tokio::sync::broadcast;

use crate::error::DomainResult;

/// Notices buffered per subscriber before it lags (and gets a `Gap`).
const BUFFER: usize = 4096;
/// PostgreSQL refuses payloads of 8000 bytes or more.
pub const MAX_PAYLOAD: usize = 7999;

/// What a notice is about; each is one PostgreSQL channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::IntoStaticStr)]
pub enum Channel {
    /// A package's cached reads are stale; the payload is its id.
    #[strum(serialize = "packyard_cache")]
    Cache,
    /// Package events or webhook deliveries were written; no payload (readers re-read
    /// after the last id they saw).
    #[strum(serialize = "packyard_events")]
    Events,
}

impl Channel {
    pub fn name(self) -> &'static str {
        self.into()
    }

    fn from_name(name: &str) -> Option<Self> {
        use strum::IntoEnumIterator;
        Self::iter().find(|c| c.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Message {
        channel: Channel,
        payload: String,
    },
    /// Notices may have been lost: catch up from the database.
    Gap,
}

#[derive(Clone)]
pub struct Notifier {
    tx: Arc<broadcast::Sender<Notice>>,
    /// Whether notices go through PostgreSQL (else straight to local subscribers).
    postgres: bool,
}

impl Default for Notifier {
    fn default() -> Self {
        Self::local()
    }
}

impl Notifier {
    /// One process: notices go straight to its subscribers.
    pub fn local() -> Self {
        let (tx, _) = broadcast::channel(BUFFER);
        Self {
            tx: Arc::new(tx),
            postgres: false,
        }
    }

    /// Every replica on this PostgreSQL database: a task listens on every channel (on a
    /// connection of its own, outside the pool) and hands what arrives to local subscribers.
    /// It reconnects on its own and ends when the notifier is dropped.
    pub async fn postgres(database_url: &str) -> Result<Self, String> {
        use sea_orm::sqlx::postgres::PgListener;
        use strum::IntoEnumIterator;
        let mut listener = PgListener::connect(database_url)
            .await
            .map_err(|e| format!("LISTEN connection: {e}"))?;
        let channels: Vec<&str> = Channel::iter().map(Channel::name).collect();
        listener
            .listen_all(channels.iter().copied())
            .await
            .map_err(|e| format!("LISTEN: {e}"))?;
        let (tx, _) = broadcast::channel(BUFFER);
        let tx = Arc::new(tx);
        let weak = Arc::downgrade(&tx);
        tokio::spawn(async move {
            loop {
                // Wake up now and then to notice the notifier is gone.
                let next = tokio::time::timeout(Duration::from_secs(5), listener.try_recv()).await;
                let Some(tx) = weak.upgrade() else { break };
                match next {
                    Err(_elapsed) => {}
                    Ok(Ok(Some(n))) => {
                        if let Some(channel) = Channel::from_name(n.channel()) {
                            let _ = tx.send(Notice::Message {
                                channel,
                                payload: n.payload().to_string(),
                            });
                        }
                    }
                    // The connection was lost; the next try_recv reconnects (and listens
                    // again). What was sent meanwhile is gone.
                    Ok(Ok(None)) => {
                        let _ = tx.send(Notice::Gap);
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "LISTEN connection; retrying");
                        let _ = tx.send(Notice::Gap);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
        Ok(Self { tx, postgres: true })
    }

    /// Announces a committed change to every replica (this one included).
    pub async fn send(
        &self,
        db: &DatabaseConnection,
        channel: Channel,
        payload: &str,
    ) -> DomainResult<()> {
        debug_assert!(payload.len() <= MAX_PAYLOAD, "notice payload too long");
        if self.postgres {
            db.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [channel.name().into(), payload.into()],
            ))
            .await?;
        } else {
            let _ = self.tx.send(Notice::Message {
                channel,
                payload: payload.to_string(),
            });
        }
        Ok(())
    }

    /// The notices sent from now on. A receiver that falls behind gets
    /// `RecvError::Lagged`: treat it as [`Notice::Gap`].
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_found_by_their_postgres_names() {
        use strum::IntoEnumIterator;
        for c in Channel::iter() {
            assert_eq!(Channel::from_name(c.name()), Some(c));
            assert!(c.name().starts_with("packyard_"));
        }
        assert_eq!(Channel::from_name("other"), None);
    }

    #[tokio::test]
    async fn a_local_notice_reaches_every_subscriber() {
        let n = Notifier::local();
        let db = sea_orm::Database::connect("sqlite::memory:")
            .await
            .expect("sqlite");
        let (mut a, mut b) = (n.subscribe(), n.subscribe());
        n.send(&db, Channel::Cache, "42").await.expect("send");
        let want = Notice::Message {
            channel: Channel::Cache,
            payload: "42".into(),
        };
        assert_eq!(a.recv().await.expect("a"), want);
        assert_eq!(b.recv().await.expect("b"), want);
    }
}
