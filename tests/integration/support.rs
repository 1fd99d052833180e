//! `TestApp`: a real server process plus helpers to bootstrap users, orgs and tokens.
#![allow(dead_code)]

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

/// Which database the suite runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres { admin_url: String },
}

impl Backend {
    /// From `PACKYARD_TEST_BACKEND` (`sqlite` default, or `postgres`, which needs
    /// `PACKYARD_TEST_DATABASE_URL`). A configured backend is never skipped silently.
    pub fn from_env() -> Self {
        match std::env::var("PACKYARD_TEST_BACKEND").as_deref() {
            Ok("postgres") => {
                let admin_url = std::env::var("PACKYARD_TEST_DATABASE_URL")
                    .expect("PACKYARD_TEST_BACKEND=postgres needs PACKYARD_TEST_DATABASE_URL");
                Self::Postgres { admin_url }
            }
            Ok("sqlite") | Err(_) => Self::Sqlite,
            Ok(other) => panic!("unknown PACKYARD_TEST_BACKEND {other:?}"),
        }
    }
}

pub struct TestApp {
    pub url: String,
    pub port: u16,
    pub data_dir: tempfile::TempDir,
    pub database_url: String,
    child: Child,
    pg_drop: Option<(String, String)>,
    pub http: reqwest::Client,
    pub log_path: PathBuf,
    /// The extra settings the server was started with; CLI runs get them too.
    env: Vec<(String, String)>,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_packyard")
}

/// The port a server started with `PACKYARD_LISTEN=127.0.0.1:0` got, from what its log
/// says past byte `from`.
async fn listening_port(log_path: &Path, from: u64, child: &mut Child) -> u16 {
    let started = Instant::now();
    loop {
        let log = std::fs::read(log_path).unwrap_or_default();
        let log = String::from_utf8_lossy(log.get(from as usize..).unwrap_or_default());
        if let Some(line) = log.lines().find(|l| l.contains("packyard serving"))
            && let Some(port) = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("listen="))
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| p.parse().ok())
        {
            return port;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("packyard serve exited ({status}); log:\n{log}");
        }
        if started.elapsed() > Duration::from_secs(60) {
            panic!("packyard serve did not start; log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn run_sql_blocking(admin_url: &str, sql: &str) {
    let admin_url = admin_url.to_string();
    let sql = sql.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            use sea_orm::ConnectionTrait;
            let db = sea_orm::Database::connect(&admin_url)
                .await
                .expect("connect to PostgreSQL admin database");
            db.execute_unprepared(&sql).await.expect("admin SQL");
            db.close().await.ok();
        });
    })
    .join()
    .expect("admin SQL thread");
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts the server with extra environment settings.
    pub async fn spawn_with(env: &[(&str, &str)]) -> Self {
        let data_dir = tempfile::tempdir().expect("temp data dir");
        let (database_url, pg_drop) = match Backend::from_env() {
            Backend::Sqlite => (
                format!(
                    "sqlite://{}?mode=rwc",
                    data_dir.path().join("packyard.db").display()
                ),
                None,
            ),
            Backend::Postgres { admin_url } => {
                let name = format!("packyard_test_{}", uuid::Uuid::new_v4().simple());
                run_sql_blocking(&admin_url, &format!("CREATE DATABASE {name}"));
                let mut url =
                    url::Url::parse(&admin_url).expect("PACKYARD_TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                (url.to_string(), Some((admin_url, name)))
            }
        };
        let log_path = data_dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut cmd = Command::new(bin());
        // Port 0: the server takes a free port itself and logs it. (Picking a free port
        // here and passing it on raced with other tests doing the same.)
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PACKYARD_LISTEN", "127.0.0.1:0")
            .env("PACKYARD_DATA_DIR", data_dir.path())
            .env("PACKYARD_DATABASE_URL", &database_url)
            .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn")
            // Tests run four at a time, some with three replicas, against one PostgreSQL
            // (max_connections 100): small pools keep them under it.
            .env("PACKYARD_DATABASE_MAX_CONNECTIONS", "10")
            .stdout(Stdio::null())
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start packyard serve");
        let port = listening_port(&log_path, 0, &mut child).await;
        let url = format!("http://127.0.0.1:{port}");
        let app = Self {
            url,
            port,
            data_dir,
            database_url,
            child,
            pg_drop,
            // Idle connections are dropped well before the server's idle timeout (60 s): a
            // pooled connection reused just as the server closes it fails the request.
            http: reqwest::Client::builder()
                .pool_idle_timeout(Duration::from_secs(20))
                .build()
                .expect("http client"),
            log_path,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        app.wait_ready().await;
        app
    }

    async fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            if let Ok(r) = self.http.get(format!("{}/readyz", self.url)).send().await
                && r.status().is_success()
            {
                return;
            }
            if started.elapsed() > Duration::from_secs(30) {
                panic!("server did not become ready; log:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the server and starts it again on the same database and data dir.
    pub async fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log_path)
            .expect("log file");
        let mut cmd = Command::new(bin());
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PACKYARD_LISTEN", "127.0.0.1:0")
            .env("PACKYARD_DATA_DIR", self.data_dir.path())
            .env("PACKYARD_DATABASE_URL", &self.database_url)
            .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(log);
        let logged = std::fs::metadata(&self.log_path).map_or(0, |m| m.len());
        self.child = cmd.spawn().expect("restart packyard serve");
        // A port of its own again (its old one may have been taken meanwhile).
        self.port = listening_port(&self.log_path, logged, &mut self.child).await;
        self.url = format!("http://127.0.0.1:{}", self.port);
        self.wait_ready().await;
    }

    /// Changes (or adds) a setting for the next `restart` and for CLI runs.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_string(), value.to_string()));
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM (a graceful shutdown) without waiting for the server to exit.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Whether the server has exited within `within` (after [`Self::terminate`]).
    pub async fn exited_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Runs `packyard admin ...` against this server's database and returns stdout.
    pub fn admin(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut full = vec!["admin"];
        full.extend_from_slice(args);
        self.cli(&full, stdin)
    }

    /// Runs the `packyard` command against this server's database and data dir.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut child = Command::new(bin())
            .args(args)
            .env("PACKYARD_DATA_DIR", self.data_dir.path())
            .env("PACKYARD_DATABASE_URL", &self.database_url)
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run packyard admin");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("packyard admin output");
        assert!(
            out.status.success(),
            "packyard admin {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    pub fn create_user(&self, login: &str) {
        self.admin(
            &[
                "create-user",
                login,
                "--email",
                &format!("{login}@example.test"),
            ],
            None,
        );
    }

    pub fn create_user_with_password(&self, login: &str, password: &str) {
        self.admin(&["create-user", login], Some(password));
    }

    pub fn create_admin(&self, login: &str) {
        self.admin(&["create-user", login, "--admin"], None);
    }

    pub fn create_org(&self, login: &str, owner: &str) {
        self.admin(&["create-org", login, "--owner", owner], None);
    }

    /// A token with the given scopes (comma-separated).
    pub fn token(&self, user: &str, scopes: &str) -> String {
        self.admin(
            &["create-token", user, "--name", "test", "--scopes", scopes],
            None,
        )
        .trim()
        .to_string()
    }

    /// A user with a token holding every scope.
    pub fn user_with_token(&self, login: &str) -> String {
        self.create_user(login);
        self.token(
            login,
            "read:packages,write:packages,delete:packages,admin:org,user",
        )
    }

    /// Connects to the server's database (for tests that must reach past the API, e.g. to
    /// backdate a token's expiry).
    pub async fn db(&self) -> sea_orm::DatabaseConnection {
        sea_orm::Database::connect(&self.database_url)
            .await
            .expect("connect to test database")
    }

    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.url))
            .json(&json!({"query": query, "variables": variables}));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("graphql request");
        assert!(
            resp.status().is_success(),
            "graphql HTTP status {}",
            resp.status()
        );
        resp.json().await.expect("graphql json")
    }

    /// A GraphQL call that must succeed; returns `data`.
    pub async fn gql_ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = self.graphql(token, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    pub async fn sql_statements(&self) -> u64 {
        self.metric("packyard_sql_statements_total").await
    }

    /// A counter from `/metrics`.
    pub async fn metric(&self, name: &str) -> u64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.url))
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

    pub async fn put_generic(
        &self,
        token: Option<&str>,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .put(format!("{}/generic/{path}", self.url))
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("PUT")
    }

    pub async fn get(&self, token: Option<&str>, path: &str) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("GET")
    }

    pub async fn delete(&self, token: Option<&str>, path: &str) -> reqwest::Response {
        let mut req = self.http.delete(format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("DELETE")
    }

    /// The repository root (for locating tools installed by scripts/install-deps.sh).
    pub fn repo_root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some((admin_url, name)) = self.pg_drop.take() {
            run_sql_blocking(
                &admin_url,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
    }
}

/// The peak resident memory of a process, in KiB (Linux `VmHWM`).
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// File descriptors a process holds open (its sockets among them).
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("proc fd")
        .count()
}

/// Every file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// A `.gem` as `gem build` makes it: metadata.gz, data.tar.gz and their checksums, with
/// `payload` (when not empty) as the file `lib/{name}.bin`.
pub fn gem(name: &str, version: &str, summary: &str, payload: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let gz = |data: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).expect("gzip");
        e.finish().expect("gzip")
    };
    let tar_of = |entries: &[(&str, &[u8])]| {
        let mut b = tar::Builder::new(Vec::new());
        for (path, bytes) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o444);
            h.set_cksum();
            b.append_data(&mut h, path, *bytes).expect("tar");
        }
        b.into_inner().expect("tar")
    };
    let code_path = format!("lib/{name}.rb");
    let payload_path = format!("lib/{name}.bin");
    let mut files = format!("- {code_path}\n");
    if !payload.is_empty() {
        files.push_str(&format!("- {payload_path}\n"));
    }
    let spec = format!(
        "--- !ruby/object:Gem::Specification\nname: {name}\nversion: !ruby/object:Gem::Version\n  version: {version}\nplatform: ruby\nauthors:\n- Rita\nsummary: {summary}\nrequire_paths:\n- lib\nfiles:\n{files}"
    );
    let metadata = gz(spec.as_bytes());
    let code = format!("module Race; end # {summary}\n");
    let mut entries: Vec<(&str, &[u8])> = vec![(&code_path, code.as_bytes())];
    if !payload.is_empty() {
        entries.push((&payload_path, payload));
    }
    let data = gz(&tar_of(&entries));
    let hex256 = |b: &[u8]| hex::encode(sha2::Sha256::digest(b));
    let sums = format!(
        "---\nSHA256:\n  metadata.gz: {}\n  data.tar.gz: {}\n",
        hex256(&metadata),
        hex256(&data)
    );
    tar_of(&[
        ("metadata.gz", &metadata),
        ("data.tar.gz", &data),
        ("checksums.yaml.gz", &gz(sums.as_bytes())),
    ])
}
