//! `Cluster`: N real `packyard serve` processes (replicas) on one PostgreSQL database and one
//! S3 bucket (the suite's s3s-fs), behind a round-robin TCP proxy that stands in for the load
//! balancer. Every replica shares `PACKYARD_PUBLIC_URL` (the proxy: bearer tokens are bound
//! to the public host, and absolute URLs handed out point there) and `PACKYARD_JWT_SECRET`.
//! Tests talk to one replica on purpose through `replica(i).url`, or to any through
//! `public_url`.
//!
//! On SQLite there is one process per database: `Cluster::start` returns `None` and prints
//! why (scripts/test.sh runs the suite again on PostgreSQL, where these tests run).
#![allow(dead_code)]

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::support::{Backend, bin};

pub struct Replica {
    pub url: String,
    pub port: u16,
    data_dir: tempfile::TempDir,
    child: Option<Child>,
    pub log_path: PathBuf,
}

impl Replica {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

pub struct Cluster {
    pub replicas: Vec<Replica>,
    /// The shared public URL (the proxy).
    pub public_url: String,
    pub database_url: String,
    env: Vec<(String, String)>,
    proxy: Proxy,
    admin_url: String,
    db_name: String,
    pub http: reqwest::Client,
    /// Where blobs live when no S3 endpoint is configured (a directory every replica shares).
    _shared_blobs: Option<tempfile::TempDir>,
}

/// The backends every connection is spread over, in turn; a replica being restarted is
/// taken out of the turn.
#[derive(Clone)]
struct Proxy {
    addr: SocketAddr,
    backends: Arc<Mutex<Vec<Option<SocketAddr>>>>,
    _thread: Arc<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// A TCP proxy on its own thread and runtime (tests block their own runtime running
    /// clients such as `npm`).
    fn start() -> Self {
        let backends: Arc<Mutex<Vec<Option<SocketAddr>>>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = backends.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("proxy bind");
                tx.send(listener.local_addr().expect("proxy addr"))
                    .expect("proxy addr sent");
                let mut turn = 0usize;
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    let live: Vec<SocketAddr> = shared
                        .lock()
                        .expect("backends")
                        .iter()
                        .flatten()
                        .copied()
                        .collect();
                    if live.is_empty() {
                        continue;
                    }
                    let target = live[turn % live.len()];
                    turn = turn.wrapping_add(1);
                    tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                }
            });
        });
        let addr = rx.recv().expect("proxy started");
        Self {
            addr,
            backends,
            _thread: Arc::new(thread),
        }
    }

    fn set(&self, i: usize, port: Option<u16>) {
        let mut b = self.backends.lock().expect("backends");
        if b.len() <= i {
            b.resize(i + 1, None);
        }
        b[i] = port.map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
    }
}

/// The port a replica got, from its log past byte `from`.
async fn listening_port(log_path: &Path, from: u64, child: &mut Child) -> u16 {
    let started = Instant::now();
    loop {
        let log = std::fs::read(log_path).unwrap_or_default();
        let log = String::from_utf8_lossy(log.get(from as usize..).unwrap_or_default());
        if let Some(port) = log
            .lines()
            .filter(|l| l.contains("packyard serving"))
            .find_map(|l| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix("listen="))
                    .and_then(|a| a.rsplit(':').next())
                    .and_then(|p| p.parse().ok())
            })
        {
            return port;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("replica exited ({status}); log:\n{log}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "replica did not start; log:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn run_sql(admin_url: &str, sql: &str) {
    let (admin_url, sql) = (admin_url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            use sea_orm::ConnectionTrait;
            let db = sea_orm::Database::connect(&admin_url)
                .await
                .expect("connect to PostgreSQL");
            db.execute_unprepared(&sql).await.expect("admin SQL");
            db.close().await.ok();
        });
    })
    .join()
    .expect("admin SQL thread");
}

impl Cluster {
    /// `n` replicas on a fresh PostgreSQL database, or `None` (printed) on SQLite.
    pub async fn start(test: &str, n: usize) -> Option<Self> {
        Self::start_with(test, n, &[]).await
    }

    pub async fn start_with(test: &str, n: usize, extra: &[(&str, &str)]) -> Option<Self> {
        let Backend::Postgres { admin_url } = Backend::from_env() else {
            eprintln!(
                "{test}: skipped on SQLite (replicas need PostgreSQL; scripts/test.sh runs it there)"
            );
            return None;
        };
        let db_name = format!("packyard_cluster_{}", uuid::Uuid::new_v4().simple());
        run_sql(&admin_url, &format!("CREATE DATABASE {db_name}"));
        let mut url = url::Url::parse(&admin_url).expect("database URL");
        url.set_path(&format!("/{db_name}"));
        let database_url = url.to_string();

        let proxy = Proxy::start();
        let public_url = format!("http://{}", proxy.addr);
        let mut env: Vec<(String, String)> = vec![
            ("PACKYARD_DATABASE_URL".into(), database_url.clone()),
            ("PACKYARD_PUBLIC_URL".into(), public_url.clone()),
            (
                "PACKYARD_JWT_SECRET".into(),
                format!("cluster-secret-{}", uuid::Uuid::new_v4().simple()),
            ),
            // Every client arrives through the proxy's one address.
            ("PACKYARD_MAX_CONNECTIONS_PER_CLIENT".into(), "1000".into()),
        ];
        let shared_blobs = match std::env::var("PACKYARD_TEST_S3_ENDPOINT") {
            Ok(endpoint) => {
                let bucket = std::env::var("PACKYARD_TEST_S3_BUCKET")
                    .unwrap_or_else(|_| "packyard-test".into());
                env.push((
                    "PACKYARD_STORAGE_URL".into(),
                    format!("s3://{bucket}?endpoint={endpoint}&region=us-east-1&allow_http=true"),
                ));
                for k in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
                    env.push((k.into(), std::env::var(k).expect(k)));
                }
                None
            }
            Err(_) => {
                assert!(
                    std::env::var("CI").is_err(),
                    "CI must run the replica tests on S3: use scripts/test.sh"
                );
                eprintln!("{test}: no PACKYARD_TEST_S3_ENDPOINT; replicas share a directory");
                let dir = tempfile::tempdir().expect("blob dir");
                env.push((
                    "PACKYARD_STORAGE_URL".into(),
                    format!("file://{}", dir.path().display()),
                ));
                Some(dir)
            }
        };
        for (k, v) in extra {
            env.push((k.to_string(), v.to_string()));
        }
        let mut cluster = Self {
            replicas: Vec::new(),
            public_url,
            database_url,
            env,
            proxy,
            admin_url,
            db_name,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("http client"),
            _shared_blobs: shared_blobs,
        };
        // The first one migrates the database; the others then start at once.
        for i in 0..n {
            let data_dir = tempfile::tempdir().expect("replica data dir");
            let log_path = data_dir.path().join("server.log");
            cluster.replicas.push(Replica {
                url: String::new(),
                port: 0,
                data_dir,
                child: None,
                log_path,
            });
            cluster.start_replica(i).await;
        }
        Some(cluster)
    }

    async fn start_replica(&mut self, i: usize) {
        let r = &mut self.replicas[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&r.log_path)
            .expect("log file");
        let from = std::fs::metadata(&r.log_path).map_or(0, |m| m.len());
        let mut child = Command::new(bin())
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PACKYARD_LISTEN", "127.0.0.1:0")
            .env("PACKYARD_DATA_DIR", r.data_dir.path())
            .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn")
            .env("PACKYARD_DATABASE_MAX_CONNECTIONS", "10")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start replica");
        r.port = listening_port(&r.log_path, from, &mut child).await;
        r.url = format!("http://127.0.0.1:{}", r.port);
        r.child = Some(child);
        let started = Instant::now();
        loop {
            if let Ok(resp) = self.http.get(format!("{}/readyz", r.url)).send().await
                && resp.status().is_success()
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "replica {i} not ready; log:\n{}",
                r.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.proxy.set(i, Some(r.port));
    }

    pub fn replica(&self, i: usize) -> &Replica {
        &self.replicas[i]
    }

    /// Kills replica `i` with SIGKILL (no shutdown at all) and takes it out of the proxy.
    pub fn kill(&mut self, i: usize) {
        self.proxy.set(i, None);
        if let Some(mut child) = self.replicas[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops replica `i` gracefully (SIGTERM: requests in flight finish) and takes it out of
    /// the proxy first, as a load balancer drains a node.
    pub fn stop(&mut self, i: usize) {
        self.proxy.set(i, None);
        if let Some(mut child) = self.replicas[i].child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts replica `i` again (a new port; back in the proxy's turn once ready).
    pub async fn restart(&mut self, i: usize) {
        self.stop(i);
        self.start_replica(i).await;
    }

    pub async fn start_again(&mut self, i: usize) {
        self.start_replica(i).await;
    }

    /// Runs the `packyard` command against the cluster's database and blob store.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(bin())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PACKYARD_DATA_DIR", self.replicas[0].data_dir.path())
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .output()
            .expect("run packyard");
        assert!(
            out.status.success(),
            "packyard {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// A user with a token holding every scope.
    pub fn user_with_token(&self, login: &str) -> String {
        self.cli(&[
            "admin",
            "create-user",
            login,
            "--email",
            &format!("{login}@example.test"),
        ]);
        self.cli(&[
            "admin",
            "create-token",
            login,
            "--name",
            "test",
            "--scopes",
            "read:packages,write:packages,delete:packages,admin:org,user",
        ])
        .trim()
        .to_string()
    }

    pub async fn db(&self) -> sea_orm::DatabaseConnection {
        sea_orm::Database::connect(&self.database_url)
            .await
            .expect("connect to cluster database")
    }

    /// A counter from replica `i`'s `/metrics`.
    pub async fn metric(&self, i: usize, name: &str) -> u64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.replicas[i].url))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("metric {name} present"))
    }

    pub fn logs(&self) -> String {
        self.replicas
            .iter()
            .enumerate()
            .map(|(i, r)| format!("--- replica {i}\n{}", r.log()))
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.replicas.len() {
            self.kill(i);
        }
        run_sql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db_name),
        );
    }
}

/// Polls `check` until it holds or `deadline` passes; returns how long it took (or panics
/// with `what`).
pub async fn within<F, Fut>(deadline: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < deadline,
            "{what}: not seen within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
