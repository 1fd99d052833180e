//! Background work beside the server: flushing download counts, garbage collection and
//! following other replicas' cache notices, each in its own task (a long collection doesn't
//! hold counts back). Safe on several replicas: each replica flushes only the counts it
//! buffered, a collection runs on one replica at a time (`domain::gc`'s claim), and every
//! step is idempotent.
use std::{sync::Arc, time::Duration};

use tokio::{task::JoinHandle, time::MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::domain::Domain;

const FLUSH_EVERY: Duration = Duration::from_secs(5);
const GC_EVERY: Duration = Duration::from_secs(3600);
/// The first collection waits a while: a restart isn't a reason to collect.
const GC_FIRST_AFTER: Duration = Duration::from_secs(600);

/// The running jobs; `stop` lets the step in progress finish.
pub struct Jobs {
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Jobs {
    pub async fn stop(self) {
        self.cancel.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

pub fn spawn(domain: Arc<Domain>) -> Jobs {
    let cancel = CancellationToken::new();
    let flush = {
        let (domain, cancel) = (domain.clone(), cancel.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(FLUSH_EVERY);
            every.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    _ = every.tick() => {
                        if let Err(e) = domain.flush_downloads().await {
                            tracing::warn!(error = %e, "flushing download counts");
                        }
                        if let Err(e) = domain.flush_usage().await {
                            tracing::warn!(error = %e, "flushing transfer usage");
                        }
                    }
                }
            }
        })
    };
    // Other replicas' changes reach this replica's read cache (see `domain::cache`).
    let cache_notices = {
        let (domain, cancel) = (domain.clone(), cancel.clone());
        tokio::spawn(async move { domain.follow_cache_notices(cancel).await })
    };
    let gc = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now() + GC_FIRST_AFTER;
            let mut every = tokio::time::interval_at(start, GC_EVERY);
            every.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    _ = every.tick() => {
                        // A collection may be stopped midway: each step stands alone, and
                        // what is left is found again next time.
                        tokio::select! {
                            () = cancel.cancelled() => break,
                            r = domain.collect_garbage(chrono::Duration::hours(24)) => match r {
                                Ok(report) if report.skipped => {}
                                Ok(report) => tracing::info!(?report, "garbage collected"),
                                Err(e) => tracing::warn!(error = %e, "garbage collection"),
                            },
                        }
                    }
                }
            }
        })
    };
    Jobs {
        cancel,
        tasks: vec![flush, gc, cache_notices],
    }
}
