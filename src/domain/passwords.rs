//! Password checks, the one place argon2 verifies. Each check costs ~19 MiB and a core for
//! a while by design, so checks are bounded three ways: a few at a time on a fixed pool of
//! hashing threads (the rest wait their turn), a failure budget per account and per client address that refills over a window
//! (an attempt over budget is refused before any hashing), and the same work whether or not
//! the account exists (a made-up hash is verified for unknown logins), so timing tells
//! nothing about which logins exist.
use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version,
    password_hash::{Output, SaltString},
};
use tokio::sync::{OnceCell, mpsc, oneshot};

use crate::{
    config::LoginLimits,
    error::{DomainError, DomainResult},
};

/// Throttle entries kept before the settled ones are forgotten.
const TRACKED_MAX: usize = 100_000;

pub(crate) struct PasswordGuard {
    hashing: HashingPool,
    throttle: Mutex<Throttle>,
    /// Verified in place of a real hash for logins without one.
    stand_in_hash: OnceCell<String>,
    verifications: AtomicU64,
    refused: AtomicU64,
}

/// Who a failure budget belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Party {
    Account(String),
    Client(IpAddr),
}

/// A token bucket per party: `budget` attempts, one back every `window / budget`.
struct Throttle {
    limits: LoginLimits,
    buckets: HashMap<Party, Bucket>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Attempts taken from the budgets before hashing; handed back if the password was right.
pub(crate) struct Attempt {
    parties: Vec<Party>,
}

impl Throttle {
    fn budget(&self, party: &Party) -> f64 {
        f64::from(match party {
            Party::Account(_) => self.limits.failures_per_account,
            Party::Client(_) => self.limits.failures_per_client,
        })
    }

    fn refill_per_sec(&self, party: &Party) -> f64 {
        self.budget(party) / self.limits.failure_window.as_secs_f64()
    }

    fn bucket(&mut self, party: &Party, now: Instant) -> Bucket {
        let budget = self.budget(party);
        let rate = self.refill_per_sec(party);
        let bucket = self.buckets.get(party).map_or(
            Bucket {
                tokens: budget,
                at: now,
            },
            |b| Bucket {
                tokens: (b.tokens + rate * now.duration_since(b.at).as_secs_f64()).min(budget),
                at: now,
            },
        );
        self.buckets.insert(party.clone(), bucket);
        bucket
    }

    /// Takes one attempt from every party's budget, or says how long until all have one.
    fn take(&mut self, parties: &[Party], now: Instant) -> Result<(), Duration> {
        self.forget_settled(now);
        let mut wait = Duration::ZERO;
        for party in parties {
            let bucket = self.bucket(party, now);
            if bucket.tokens < 1.0 {
                let secs = (1.0 - bucket.tokens) / self.refill_per_sec(party);
                wait = wait.max(Duration::from_secs_f64(secs));
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        for party in parties {
            if let Some(b) = self.buckets.get_mut(party) {
                b.tokens -= 1.0;
            }
        }
        Ok(())
    }

    /// A right password: the account's budget is whole again, the client gets its attempt back.
    fn give_back(&mut self, parties: &[Party], now: Instant) {
        for party in parties {
            let budget = self.budget(party);
            let bucket = self.bucket(party, now);
            let tokens = match party {
                Party::Account(_) => budget,
                Party::Client(_) => (bucket.tokens + 1.0).min(budget),
            };
            self.buckets
                .insert(party.clone(), Bucket { tokens, at: now });
        }
    }

    /// Bounds memory: entries whose budget has refilled carry no information; past that,
    /// the fullest go first, down to half the bound (so the scan runs once per many new
    /// parties, not on every attempt).
    fn forget_settled(&mut self, now: Instant) {
        if self.buckets.len() < TRACKED_MAX {
            return;
        }
        let parties: Vec<Party> = self.buckets.keys().cloned().collect();
        let mut remaining: Vec<(f64, Party)> = Vec::new();
        for party in parties {
            let bucket = self.bucket(&party, now);
            if bucket.tokens >= self.budget(&party) {
                self.buckets.remove(&party);
            } else {
                remaining.push((bucket.tokens / self.budget(&party), party));
            }
        }
        if remaining.len() > TRACKED_MAX / 2 {
            remaining.sort_by(|a, b| b.0.total_cmp(&a.0));
            let excess = remaining.len() - TRACKED_MAX / 2;
            for (_, party) in remaining.into_iter().take(excess) {
                self.buckets.remove(&party);
            }
        }
    }
}

impl PasswordGuard {
    pub(crate) fn new(limits: LoginLimits) -> Self {
        Self {
            hashing: HashingPool::start(limits.hash_concurrency),
            throttle: Mutex::new(Throttle {
                limits,
                buckets: HashMap::new(),
            }),
            stand_in_hash: OnceCell::new(),
            verifications: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Takes an attempt from the budgets of `login` and `client`, or refuses (429) when
    /// either is spent. Nothing is hashed for a refused attempt.
    pub(crate) fn begin(&self, login: &str, client: Option<IpAddr>) -> DomainResult<Attempt> {
        let mut parties = vec![Party::Account(login.to_ascii_lowercase())];
        parties.extend(client.map(Party::Client));
        let taken = self
            .throttle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(&parties, Instant::now());
        match taken {
            Ok(()) => Ok(Attempt { parties }),
            Err(wait) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(DomainError::TooManyRequests {
                    message: "too many failed logins; try again later".into(),
                    retry_after_secs: wait.as_secs().max(1),
                })
            }
        }
    }

    /// The attempt doesn't count: the password was right, or the check failed on our side.
    pub(crate) fn give_back(&self, attempt: Attempt) {
        self.throttle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .give_back(&attempt.parties, Instant::now());
    }

    /// Verifies `password` against `stored`, or against a stand-in hash when there is none
    /// (same cost; always false). Waits for a hashing thread first.
    pub(crate) async fn verify(
        &self,
        stored: Option<String>,
        password: &str,
    ) -> DomainResult<bool> {
        let real = stored.is_some();
        let hash = match stored {
            Some(hash) => hash,
            None => self.stand_in().await?,
        };
        let password = password.to_string();
        let matched = self
            .hashing
            .run(move |memory| verify_in(memory, &hash, password.as_bytes()))
            .await?;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        Ok(real && matched)
    }

    async fn stand_in(&self) -> DomainResult<String> {
        self.stand_in_hash
            .get_or_try_init(|| async {
                self.hashing
                    .run(|_| hash_with_default_cost(&rand::random::<[u8; 32]>()))
                    .await?
            })
            .await
            .cloned()
    }

    /// Password verifications run (argon2), for `/metrics`.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Login attempts refused by the throttle, for `/metrics`.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// Work for a hashing thread, given the thread's argon2 memory to reuse.
type HashJob = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// A fixed set of threads that run password hashes, one at a time each, each reusing one
/// argon2 memory buffer. Not tokio's blocking pool: there a hash may land on a fresh thread,
/// whose fresh allocator arena keeps the hash's ~19 MiB afterwards, so memory grew with the
/// number of threads rather than with the bound.
struct HashingPool {
    jobs: mpsc::Sender<HashJob>,
}

impl HashingPool {
    fn start(threads: usize) -> Self {
        // Waiting requests queue here (each holds a connection, which is bounded).
        let (jobs, queue) = mpsc::channel::<HashJob>(1024);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || {
                    let mut memory = Vec::new();
                    loop {
                        let job = queue
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .blocking_recv();
                        match job {
                            Some(job) => job(&mut memory),
                            // The domain is gone.
                            None => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "starting a password hashing thread");
            }
        }
        Self { jobs }
    }

    /// Runs `work` on a hashing thread once one is free. A request that goes away meanwhile
    /// doesn't stop work already started: the thread stays busy, so the bound holds.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> DomainResult<T> {
        let (done, result) = oneshot::channel();
        self.jobs
            .send(Box::new(move |memory: &mut Vec<Block>| {
                let _ = done.send(work(memory));
            }))
            .await
            .map_err(|_| DomainError::internal("password hashing threads stopped"))?;
        result
            .await
            .map_err(|_| DomainError::internal("password hashing thread failed"))
    }
}

/// Whether `password` matches the PHC string `stored`, hashing in `memory` (grown to the
/// stored parameters' size and kept for the next check). What `PasswordVerifier` does,
/// with memory we own; the comparison is constant-time (`Output`'s `==`).
fn verify_in(memory: &mut Vec<Block>, stored: &str, password: &[u8]) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) =
        (Params::try_from(&hash), Algorithm::try_from(hash.algorithm))
    else {
        return false;
    };
    let Ok(version) = hash.version.map(Version::try_from).transpose() else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    memory.resize(params.block_count(), Block::default());
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version.unwrap_or_default(), params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..])
        .is_ok()
        && Output::new(&out).is_ok_and(|computed| computed == expected)
}

/// An argon2 hash with the parameters new passwords get (so verifying it costs the same).
pub(crate) fn hash_with_default_cost(password: &[u8]) -> DomainResult<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| DomainError::internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password, &salt)
        .map(|h| h.to_string())
        .map_err(|e| DomainError::internal(format!("argon2: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LoginLimits {
        LoginLimits {
            hash_concurrency: 1,
            failures_per_account: 3,
            failures_per_client: 5,
            failure_window: Duration::from_secs(60),
        }
    }

    fn throttle() -> Throttle {
        Throttle {
            limits: limits(),
            buckets: HashMap::new(),
        }
    }

    #[test]
    fn verifying_in_reused_memory_matches_argon2() {
        let stored = hash_with_default_cost(b"correct-horse").expect("hash");
        let mut memory = Vec::new();
        assert!(verify_in(&mut memory, &stored, b"correct-horse"));
        assert!(!verify_in(&mut memory, &stored, b"wrong-horse"));
        assert!(verify_in(&mut memory, &stored, b"correct-horse"));
        assert!(!verify_in(&mut memory, "not a hash", b"correct-horse"));
    }

    #[test]
    fn an_account_refuses_attempts_past_its_budget_until_it_refills() {
        let mut t = throttle();
        let now = Instant::now();
        let alice = [Party::Account("alice".into())];
        for _ in 0..3 {
            t.take(&alice, now).expect("within budget");
        }
        let wait = t.take(&alice, now).expect_err("spent");
        assert_eq!(wait.as_secs(), 20, "one attempt back every 60 s / 3");
        t.take(&alice, now + Duration::from_secs(20))
            .expect("refilled one");
        // Another account is untouched.
        t.take(&[Party::Account("bob".into())], now).expect("bob");
    }

    #[test]
    fn a_client_is_throttled_across_accounts() {
        let mut t = throttle();
        let now = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        for i in 0..5 {
            t.take(
                &[Party::Account(format!("user{i}")), Party::Client(ip)],
                now,
            )
            .expect("within the client's budget");
        }
        t.take(&[Party::Account("user9".into()), Party::Client(ip)], now)
            .expect_err("client spent");
        // A refused attempt takes nothing from the account's budget.
        t.take(&[Party::Account("user9".into())], now)
            .expect("account untouched");
    }

    #[test]
    fn the_throttle_forgets_parties_past_its_bound() {
        let mut t = throttle();
        let now = Instant::now();
        for i in 0..TRACKED_MAX {
            t.take(&[Party::Account(format!("user{i}"))], now)
                .expect("within budget");
        }
        t.take(&[Party::Account("one-more".into())], now)
            .expect("within budget");
        assert!(
            t.buckets.len() <= TRACKED_MAX / 2 + 1,
            "{}",
            t.buckets.len()
        );
    }

    #[test]
    fn a_right_password_restores_the_accounts_budget() {
        let mut t = throttle();
        let now = Instant::now();
        let alice = [Party::Account("alice".into())];
        for _ in 0..3 {
            t.take(&alice, now).expect("within budget");
        }
        t.give_back(&alice, now);
        for _ in 0..3 {
            t.take(&alice, now).expect("whole again");
        }
    }
}
