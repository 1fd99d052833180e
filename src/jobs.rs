//! Background work beside the server: flushing download counts and garbage collection.
//! Safe on several replicas: each step is idempotent.
use std::{sync::Arc, time::Duration};

use tokio::task::JoinHandle;

use crate::domain::Domain;

const FLUSH_EVERY: Duration = Duration::from_secs(5);
const GC_EVERY: Duration = Duration::from_secs(3600);

pub fn spawn(domain: Arc<Domain>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        let mut gc = tokio::time::interval(GC_EVERY);
        loop {
            tokio::select! {
                _ = flush.tick() => {
                    if let Err(e) = domain.flush_downloads().await {
                        tracing::warn!(error = %e, "flushing download counts");
                    }
                }
                _ = gc.tick() => {
                    match domain.collect_garbage(chrono::Duration::hours(24)).await {
                        Ok(report) => tracing::info!(?report, "garbage collected"),
                        Err(e) => tracing::warn!(error = %e, "garbage collection"),
                    }
                }
            }
        }
    })
}
