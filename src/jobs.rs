//! Background work beside the server: flushing download counts, garbage collection,
//! retention policies and following other replicas' cache notices, each in its own task (a long collection doesn't
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

/// A job's task: its SQL isn't counted as requests' (`domain::background`).
fn spawn_job<F>(job: F) -> JoinHandle<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(crate::domain::background(job))
}

pub fn spawn(domain: Arc<Domain>) -> Jobs {
    let cancel = CancellationToken::new();
    let flush = {
        let (domain, cancel) = (domain.clone(), cancel.clone());
        spawn_job(async move {
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
        spawn_job(async move { domain.follow_cache_notices(cancel).await })
    };
    let webhooks = spawn_webhook_worker(domain.clone(), cancel.clone());
    let retention = domain
        .config()
        .retention_interval
        .map(|every| spawn_retention(domain.clone(), cancel.clone(), every));
    let gc = {
        let cancel = cancel.clone();
        spawn_job(async move {
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
        tasks: [flush, gc, cache_notices, webhooks]
            .into_iter()
            .chain(retention)
            .collect(),
    }
}

/// Retention policies, applied once an interval across replicas (the run claims the
/// interval's slot; see `domain::retention`). The first turn comes an interval after start.
fn spawn_retention(
    domain: Arc<Domain>,
    cancel: CancellationToken,
    every: Duration,
) -> JoinHandle<()> {
    spawn_job(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                _ = ticks.tick() => {
                    // Each deletion is its own transaction: stopping midway leaves nothing
                    // half-done, and the next turn finds the rest.
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        r = domain.apply_retention_scheduled(every) => match r {
                            Ok(Some(report)) if !report.deleted.is_empty() => tracing::info!(
                                deleted = report.deleted.len(),
                                policies = report.policies_applied,
                                "retention policies applied"
                            ),
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "applying retention policies"),
                        },
                    }
                }
            }
        }
    })
}

/// Webhook deliveries: a pass when events are announced (`notify`, from any replica), and
/// when the earliest pending delivery comes due (retries); with nothing pending, a pass every
/// 30 s anyway (a lost notice). Old deliveries are pruned hourly.
fn spawn_webhook_worker(domain: Arc<Domain>, cancel: CancellationToken) -> JoinHandle<()> {
    const IDLE: Duration = Duration::from_secs(30);
    const MIN_WAIT: Duration = Duration::from_secs(1);
    spawn_job(async move {
        let mut notices = domain.notices();
        let mut prune = tokio::time::interval(Duration::from_secs(3600));
        prune.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut wake = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                // Deliveries this replica wrote go out at once; other replicas deliver
                // theirs, and what they leave is found when due.
                _ = notices.recv() => if !domain.take_webhook_work() { continue },
                () = tokio::time::sleep_until(wake) => {}
                _ = prune.tick() => {
                    if let Err(e) = domain.prune_webhook_deliveries().await {
                        tracing::warn!(error = %e, "pruning webhook deliveries");
                    }
                }
            }
            // A full batch means more may be due.
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    r = domain.deliver_due_webhooks() => match r {
                        Ok(n) if n > 0 => continue,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "delivering webhooks");
                            break;
                        }
                    },
                }
            }
            let until_due = match domain.next_webhook_due().await {
                Ok(Some(due)) => (due - chrono::Utc::now()).to_std().unwrap_or_default(),
                Ok(None) => IDLE,
                Err(e) => {
                    tracing::warn!(error = %e, "next webhook delivery");
                    IDLE
                }
            };
            wake = tokio::time::Instant::now() + until_due.clamp(MIN_WAIT, IDLE);
        }
    })
}
