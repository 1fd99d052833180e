//! Typed configuration: defaults < `packyard.toml` < `PACKYARD_*` environment, validated at boot.
use std::{net::SocketAddr, path::PathBuf, time::Duration};

use serde::Deserialize;
use url::Url;

/// The server's validated settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// Base of every absolute URL handed out (no trailing slash).
    pub public_url: Url,
    /// Whether the public URL was configured (else it follows the listening address, and
    /// with port 0 the port the server gets).
    pub public_url_given: bool,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Connections each replica's PostgreSQL pool may hold (SQLite: always 8). N replicas
    /// need N times this (plus one `LISTEN` connection each) within the server's
    /// `max_connections`.
    pub database_max_connections: u32,
    pub storage_url: String,
    /// Secret for OCI bearer tokens; generated and kept in the data dir when unset.
    pub jwt_secret: Option<String>,
    pub limits: Limits,
    /// Connection-level protections of the HTTP server.
    pub connections: ConnectionLimits,
    /// Protections of password checks (argon2 is slow and memory-hungry by design).
    pub logins: LoginLimits,
    /// Downloads above which a public package or version can't be deleted (0: no rule).
    pub delete_download_threshold: i64,
    /// Days a deleted package or version stays restorable.
    pub restore_days: i64,
    /// Whether local blobs are fsync'd before an upload is acknowledged (durable against
    /// power loss; costs write throughput).
    pub fsync: bool,
    /// Quotas of owners without their own (`None`: unlimited); see `domain::usage`.
    pub default_quota: crate::domain::usage::Quota,
    /// Outgoing webhook deliveries.
    pub webhooks: WebhookSettings,
    /// How often the scheduled job applies retention policies (`None`: never; 0 in the
    /// setting). One replica applies them per interval (`domain::retention`).
    pub retention_interval: Option<Duration>,
    /// How long a GraphQL DataLoader waits for more keys before it queries
    /// (`graphql::loaders`): longer batches more surely on a starved machine, and adds
    /// that wait to every page that uses a loader.
    pub graphql_batch_window: Duration,
    /// Proxies whose `X-Forwarded-For` names the client (audit source IP); none by default,
    /// so a client can't choose the address it is recorded with.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

#[derive(Clone, Debug)]
pub struct Limits {
    pub generic_file_bytes: u64,
    /// The largest npm tarball a publish may carry.
    pub npm_tarball_bytes: u64,
    /// The largest container blob (layer, config) an upload may store.
    pub container_blob_bytes: u64,
    /// The largest gemspec (`metadata.gz` decompressed) a gem push may carry.
    pub gem_metadata_bytes: u64,
    pub description_chars: usize,
    pub license_chars: usize,
    /// The largest body of a request that isn't a streamed upload (GraphQL, REST, token
    /// and login requests): beyond it the answer is 413.
    pub request_body_bytes: u64,
}

/// How long and how many connections the server keeps.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// From the first byte of a request to the end of its headers.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight (keep-alive) is closed after this long.
    pub idle_timeout: Duration,
    /// Connections held at once; past it the server stops accepting until one ends.
    pub max_connections: usize,
    /// Connections held at once from one client address (an IPv6 /64 counts as one).
    pub max_connections_per_client: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            max_connections_per_client: 128,
        }
    }
}

/// Bounds on password checking.
#[derive(Clone, Debug)]
pub struct LoginLimits {
    /// Password hashes computed at once (each takes ~19 MiB and a core for a while).
    pub hash_concurrency: usize,
    /// Failed logins an account may take per window before attempts are refused (429).
    pub failures_per_account: u32,
    /// Failed logins a client address may make per window before attempts are refused.
    pub failures_per_client: u32,
    /// The window those budgets refill over (evenly: one attempt every window / budget).
    pub failure_window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            hash_concurrency: 2,
            failures_per_account: 10,
            failures_per_client: 30,
            failure_window: Duration::from_secs(15 * 60),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            generic_file_bytes: 10 * 1024 * 1024 * 1024,
            npm_tarball_bytes: 256 * 1024 * 1024,
            container_blob_bytes: 10 * 1024 * 1024 * 1024,
            gem_metadata_bytes: 2 * 1024 * 1024,
            description_chars: 512,
            license_chars: 256,
            request_body_bytes: 1024 * 1024,
        }
    }
}

/// The same settings as they appear in the TOML file; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
    storage_url: Option<String>,
    jwt_secret: Option<String>,
    delete_download_threshold: Option<i64>,
    restore_days: Option<i64>,
    fsync: Option<bool>,
    generic_file_bytes: Option<u64>,
    npm_tarball_bytes: Option<u64>,
    container_blob_bytes: Option<u64>,
    gem_metadata_bytes: Option<u64>,
    request_body_bytes: Option<u64>,
    header_read_timeout_secs: Option<u64>,
    idle_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_client: Option<usize>,
    password_hash_concurrency: Option<usize>,
    login_failures_per_account: Option<u32>,
    login_failures_per_client: Option<u32>,
    login_failure_window_secs: Option<u64>,
    default_storage_quota_bytes: Option<u64>,
    default_transfer_quota_bytes: Option<u64>,
    webhook_backoff_seconds: Option<u64>,
    webhook_retry_limit: Option<u32>,
    webhook_timeout_seconds: Option<u64>,
    webhook_delivery_retention_days: Option<u64>,
    webhook_allowed_networks: Option<String>,
    retention_interval_seconds: Option<u64>,
    graphql_batch_window_ms: Option<u64>,
    trusted_proxies: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {setting}: {message}")]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

fn bad(setting: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        setting: setting.to_string(),
        message: message.to_string(),
    }
}

impl Config {
    /// Loads the configuration from an optional TOML file and the process environment.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(file, &env)
    }

    /// Like [`Config::load`] with an explicit environment, so tests need not mutate the process.
    pub fn load_from(
        file: Option<&std::path::Path>,
        env: &[(String, String)],
    ) -> Result<Self, ConfigError> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| bad("--config", format!("{}: {e}", path.display())))?;
                toml::from_str::<FileConfig>(&text)
                    .map_err(|e| bad("--config", format!("{}: {e}", path.display())))?
            }
            None => FileConfig::default(),
        };
        let get = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        macro_rules! from_env {
            ($field:ident, $key:literal) => {
                if let Some(v) = get($key) {
                    cfg.$field = Some(v.parse().map_err(|e| bad($key, e))?);
                }
            };
        }
        from_env!(listen, "PACKYARD_LISTEN");
        from_env!(public_url, "PACKYARD_PUBLIC_URL");
        from_env!(data_dir, "PACKYARD_DATA_DIR");
        from_env!(database_url, "PACKYARD_DATABASE_URL");
        from_env!(
            database_max_connections,
            "PACKYARD_DATABASE_MAX_CONNECTIONS"
        );
        from_env!(storage_url, "PACKYARD_STORAGE_URL");
        from_env!(jwt_secret, "PACKYARD_JWT_SECRET");
        from_env!(
            delete_download_threshold,
            "PACKYARD_DELETE_DOWNLOAD_THRESHOLD"
        );
        from_env!(restore_days, "PACKYARD_RESTORE_DAYS");
        from_env!(
            retention_interval_seconds,
            "PACKYARD_RETENTION_INTERVAL_SECONDS"
        );
        from_env!(graphql_batch_window_ms, "PACKYARD_GRAPHQL_BATCH_WINDOW_MS");
        from_env!(fsync, "PACKYARD_FSYNC");
        from_env!(generic_file_bytes, "PACKYARD_GENERIC_FILE_BYTES");
        from_env!(npm_tarball_bytes, "PACKYARD_NPM_TARBALL_BYTES");
        from_env!(container_blob_bytes, "PACKYARD_CONTAINER_BLOB_BYTES");
        from_env!(gem_metadata_bytes, "PACKYARD_GEM_METADATA_BYTES");
        from_env!(request_body_bytes, "PACKYARD_REQUEST_BODY_BYTES");
        from_env!(
            header_read_timeout_secs,
            "PACKYARD_HEADER_READ_TIMEOUT_SECS"
        );
        from_env!(idle_timeout_secs, "PACKYARD_IDLE_TIMEOUT_SECS");
        from_env!(max_connections, "PACKYARD_MAX_CONNECTIONS");
        from_env!(
            max_connections_per_client,
            "PACKYARD_MAX_CONNECTIONS_PER_CLIENT"
        );
        from_env!(
            password_hash_concurrency,
            "PACKYARD_PASSWORD_HASH_CONCURRENCY"
        );
        from_env!(
            login_failures_per_account,
            "PACKYARD_LOGIN_FAILURES_PER_ACCOUNT"
        );
        from_env!(
            login_failures_per_client,
            "PACKYARD_LOGIN_FAILURES_PER_CLIENT"
        );
        from_env!(
            login_failure_window_secs,
            "PACKYARD_LOGIN_FAILURE_WINDOW_SECS"
        );
        from_env!(webhook_backoff_seconds, "PACKYARD_WEBHOOK_BACKOFF_SECONDS");
        from_env!(webhook_retry_limit, "PACKYARD_WEBHOOK_RETRY_LIMIT");
        from_env!(webhook_timeout_seconds, "PACKYARD_WEBHOOK_TIMEOUT_SECONDS");
        from_env!(
            webhook_delivery_retention_days,
            "PACKYARD_WEBHOOK_DELIVERY_RETENTION_DAYS"
        );
        from_env!(
            webhook_allowed_networks,
            "PACKYARD_WEBHOOK_ALLOWED_NETWORKS"
        );
        from_env!(trusted_proxies, "PACKYARD_TRUSTED_PROXIES");

        from_env!(
            default_storage_quota_bytes,
            "PACKYARD_DEFAULT_STORAGE_QUOTA_BYTES"
        );
        from_env!(
            default_transfer_quota_bytes,
            "PACKYARD_DEFAULT_TRANSFER_QUOTA_BYTES"
        );

        let connections = connection_limits(&cfg)?;
        let logins = login_limits(&cfg)?;
        let webhooks = webhook_settings(&cfg)?;
        let trusted_proxies = networks("PACKYARD_TRUSTED_PROXIES", cfg.trusted_proxies.as_deref())?;
        let listen_text = cfg.listen.unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_text
            .parse()
            .map_err(|e| bad("PACKYARD_LISTEN", format!("{listen_text:?}: {e}")))?;
        // Every absolute URL handed out (tarball links, the registry's token realm) is built
        // from it: a wildcard address is no address a client can reach.
        if cfg.public_url.is_none() && listen.ip().is_unspecified() {
            return Err(bad(
                "PACKYARD_PUBLIC_URL",
                format!(
                    "must be set when listening on {listen}: clients need the address they \
                     reach this server at (e.g. https://packages.example.com)"
                ),
            ));
        }
        let public_url_given = cfg.public_url.is_some();
        let public_text = cfg.public_url.unwrap_or_else(|| format!("http://{listen}"));
        let public_url = Url::parse(public_text.trim_end_matches('/'))
            .map_err(|e| bad("PACKYARD_PUBLIC_URL", format!("{public_text:?}: {e}")))?;
        if !matches!(public_url.scheme(), "http" | "https") || public_url.host().is_none() {
            return Err(bad(
                "PACKYARD_PUBLIC_URL",
                format!("{public_text:?} is not an http(s) URL"),
            ));
        }
        let data_dir = cfg.data_dir.unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = match cfg.database_url {
            Some(url) => url,
            None => {
                // The path percent-encoded (sqlx decodes it): `?`, `#` or `%` in it stay put.
                let file = absolute(&data_dir.join("packyard.db"));
                let encoded = Url::from_file_path(&file).map_err(|()| {
                    bad(
                        "PACKYARD_DATA_DIR",
                        format!("{}: not a usable path", file.display()),
                    )
                })?;
                format!("sqlite://{}?mode=rwc", encoded.path())
            }
        };
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(bad(
                "PACKYARD_DATABASE_URL",
                format!("{database_url:?}: expected sqlite://... or postgres://..."),
            ));
        }
        let storage_url = match cfg.storage_url {
            Some(url) => url,
            None => {
                let dir = absolute(&data_dir.join("blobs"));
                // Percent-encoded: a `#` or `?` in the path must not end it.
                Url::from_directory_path(&dir)
                    .map_err(|()| {
                        bad(
                            "PACKYARD_DATA_DIR",
                            format!("{}: not a usable path", dir.display()),
                        )
                    })?
                    .to_string()
            }
        };
        // Bearer tokens are HMAC-signed with it: a short (or empty, from an unset template
        // variable) secret would let anyone forge them.
        let jwt_secret = match cfg.jwt_secret {
            Some(secret) if secret.len() < 32 => {
                return Err(bad(
                    "PACKYARD_JWT_SECRET",
                    "must be at least 32 bytes (or unset: one is generated and kept)",
                ));
            }
            other => other,
        };
        let restore_days = cfg.restore_days.unwrap_or(30);
        if restore_days < 0 {
            return Err(bad("PACKYARD_RESTORE_DAYS", "must not be negative"));
        }
        let delete_download_threshold = cfg.delete_download_threshold.unwrap_or(5000);
        if delete_download_threshold < 0 {
            return Err(bad(
                "PACKYARD_DELETE_DOWNLOAD_THRESHOLD",
                "must not be negative",
            ));
        }
        let mut limits = Limits::default();
        if let Some(n) = cfg.generic_file_bytes {
            limits.generic_file_bytes = n;
        }
        if let Some(n) = cfg.npm_tarball_bytes {
            limits.npm_tarball_bytes = n;
        }
        if let Some(n) = cfg.container_blob_bytes {
            limits.container_blob_bytes = n;
        }
        if let Some(n) = cfg.gem_metadata_bytes {
            limits.gem_metadata_bytes = n;
        }
        if let Some(n) = cfg.request_body_bytes {
            limits.request_body_bytes = n;
        }
        // On S3 a blob reaches its content address by CopyObject, which stops at 5 GiB.
        if storage_url.starts_with("s3:") {
            const S3_COPY_MAX: u64 = 5 * 1024 * 1024 * 1024;
            for (setting, asked, limit) in [
                (
                    "PACKYARD_GENERIC_FILE_BYTES",
                    cfg.generic_file_bytes,
                    &mut limits.generic_file_bytes,
                ),
                (
                    "PACKYARD_CONTAINER_BLOB_BYTES",
                    cfg.container_blob_bytes,
                    &mut limits.container_blob_bytes,
                ),
            ] {
                if asked.is_some_and(|n| n > S3_COPY_MAX) {
                    return Err(bad(setting, "at most 5 GiB on S3 (its CopyObject limit)"));
                }
                *limit = (*limit).min(S3_COPY_MAX);
            }
        }
        Ok(Self {
            listen,
            public_url,
            public_url_given,
            data_dir,
            database_url,
            database_max_connections: positive(
                "PACKYARD_DATABASE_MAX_CONNECTIONS",
                cfg.database_max_connections,
            )?
            .unwrap_or(32),
            storage_url,
            jwt_secret,
            limits,
            connections,
            logins,
            delete_download_threshold,
            restore_days,
            fsync: cfg.fsync.unwrap_or(true),
            default_quota: crate::domain::usage::Quota::from_config(
                cfg.default_storage_quota_bytes,
                cfg.default_transfer_quota_bytes,
            ),
            webhooks,
            retention_interval: match cfg.retention_interval_seconds.unwrap_or(3600) {
                0 => None,
                n => Some(Duration::from_secs(n)),
            },
            graphql_batch_window: Duration::from_millis(cfg.graphql_batch_window_ms.unwrap_or(1)),
            trusted_proxies,
        })
    }

    /// The public base URL as a string without a trailing slash.
    pub fn base_url(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_string()
    }
}

/// Zero would mean "close at once" or "never allow": a setting that can't be meant.
fn positive<T: PartialEq + Default>(
    setting: &str,
    value: Option<T>,
) -> Result<Option<T>, ConfigError> {
    match value {
        Some(v) if v == T::default() => Err(bad(setting, "must be greater than 0")),
        other => Ok(other),
    }
}

fn connection_limits(cfg: &FileConfig) -> Result<ConnectionLimits, ConfigError> {
    let mut limits = ConnectionLimits::default();
    if let Some(s) = positive(
        "PACKYARD_HEADER_READ_TIMEOUT_SECS",
        cfg.header_read_timeout_secs,
    )? {
        limits.header_read_timeout = Duration::from_secs(s);
    }
    if let Some(s) = positive("PACKYARD_IDLE_TIMEOUT_SECS", cfg.idle_timeout_secs)? {
        limits.idle_timeout = Duration::from_secs(s);
    }
    if let Some(n) = positive("PACKYARD_MAX_CONNECTIONS", cfg.max_connections)? {
        limits.max_connections = n;
    }
    if let Some(n) = positive(
        "PACKYARD_MAX_CONNECTIONS_PER_CLIENT",
        cfg.max_connections_per_client,
    )? {
        limits.max_connections_per_client = n;
    }
    Ok(limits)
}

/// Outgoing webhook deliveries: retries, timeouts, retention and the targets allowed
/// beyond the public internet.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// The first retry's delay; each next one doubles, up to an hour.
    pub backoff: Duration,
    /// Attempts before a delivery is given up.
    pub retry_limit: u32,
    /// One attempt's whole request (connect, send, response head and excerpt).
    pub timeout: Duration,
    /// Finished deliveries older than this are pruned.
    pub retention_days: u64,
    /// Networks a payload URL may reach although they are loopback, private or link-local.
    pub allowed_networks: Vec<ipnet::IpNet>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            backoff: Duration::from_secs(10),
            retry_limit: 8,
            timeout: Duration::from_secs(10),
            retention_days: 30,
            allowed_networks: Vec::new(),
        }
    }
}

fn webhook_settings(cfg: &FileConfig) -> Result<WebhookSettings, ConfigError> {
    let mut w = WebhookSettings::default();
    if let Some(s) = positive(
        "PACKYARD_WEBHOOK_BACKOFF_SECONDS",
        cfg.webhook_backoff_seconds,
    )? {
        w.backoff = Duration::from_secs(s);
    }
    if let Some(n) = positive("PACKYARD_WEBHOOK_RETRY_LIMIT", cfg.webhook_retry_limit)? {
        w.retry_limit = n;
    }
    if let Some(s) = positive(
        "PACKYARD_WEBHOOK_TIMEOUT_SECONDS",
        cfg.webhook_timeout_seconds,
    )? {
        w.timeout = Duration::from_secs(s);
    }
    if let Some(d) = positive(
        "PACKYARD_WEBHOOK_DELIVERY_RETENTION_DAYS",
        cfg.webhook_delivery_retention_days,
    )? {
        w.retention_days = d;
    }
    if let Some(list) = &cfg.webhook_allowed_networks {
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = item
                .parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|e| {
                    bad(
                        "PACKYARD_WEBHOOK_ALLOWED_NETWORKS",
                        format!("{item:?}: {e}"),
                    )
                })?;
            w.allowed_networks.push(net);
        }
    }
    Ok(w)
}

/// A comma-separated list of CIDRs (a bare address is a /32 or /128).
fn networks(setting: &str, list: Option<&str>) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|e| bad(setting, format!("{item:?}: {e}")))
        })
        .collect()
}

fn login_limits(cfg: &FileConfig) -> Result<LoginLimits, ConfigError> {
    let mut limits = LoginLimits::default();
    if let Some(n) = positive(
        "PACKYARD_PASSWORD_HASH_CONCURRENCY",
        cfg.password_hash_concurrency,
    )? {
        limits.hash_concurrency = n;
    }
    if let Some(n) = positive(
        "PACKYARD_LOGIN_FAILURES_PER_ACCOUNT",
        cfg.login_failures_per_account,
    )? {
        limits.failures_per_account = n;
    }
    if let Some(n) = positive(
        "PACKYARD_LOGIN_FAILURES_PER_CLIENT",
        cfg.login_failures_per_client,
    )? {
        limits.failures_per_client = n;
    }
    if let Some(s) = positive(
        "PACKYARD_LOGIN_FAILURE_WINDOW_SECS",
        cfg.login_failure_window_secs,
    )? {
        limits.failure_window = Duration::from_secs(s);
    }
    Ok(limits)
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_nothing() {
        let cfg = Config::load_from(None, &[]).expect("defaults are valid");
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(cfg.base_url(), "http://127.0.0.1:8080");
        assert!(cfg.database_url.starts_with("sqlite://"));
        assert!(cfg.database_url.ends_with("data/packyard.db?mode=rwc"));
        assert!(cfg.storage_url.starts_with("file:///"));
        assert_eq!(cfg.restore_days, 30);
    }

    #[test]
    fn env_wins_over_file_and_file_over_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("packyard.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nrestore_days = 7\n").expect("write");
        let cfg = Config::load_from(Some(&path), &env(&[("PACKYARD_LISTEN", "127.0.0.1:9001")]))
            .expect("valid");
        assert_eq!(cfg.listen.port(), 9001);
        assert_eq!(cfg.restore_days, 7);
        assert_eq!(cfg.base_url(), "http://127.0.0.1:9001");
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let err =
            Config::load_from(None, &env(&[("PACKYARD_LISTEN", "nonsense")])).expect_err("invalid");
        assert_eq!(err.setting, "PACKYARD_LISTEN");
        let err = Config::load_from(None, &env(&[("PACKYARD_DATABASE_URL", "mysql://x")]))
            .expect_err("invalid");
        assert_eq!(err.setting, "PACKYARD_DATABASE_URL");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("packyard.toml");
        std::fs::write(&path, "lisen = 1\n").expect("write");
        let err = Config::load_from(Some(&path), &[]).expect_err("unknown key");
        assert!(err.message.contains("lisen"), "{}", err.message);
        // Listening on every interface needs the public URL clients use.
        let err = Config::load_from(None, &env(&[("PACKYARD_LISTEN", "0.0.0.0:8080")]))
            .expect_err("wildcard without a public URL");
        assert_eq!(err.setting, "PACKYARD_PUBLIC_URL");
        Config::load_from(
            None,
            &env(&[
                ("PACKYARD_LISTEN", "0.0.0.0:8080"),
                ("PACKYARD_PUBLIC_URL", "https://packages.example.com"),
            ]),
        )
        .expect("with a public URL");
        // An empty or short bearer-token secret would make tokens forgeable.
        for secret in ["", "short"] {
            let err = Config::load_from(None, &env(&[("PACKYARD_JWT_SECRET", secret)]))
                .expect_err("short secret");
            assert_eq!(err.setting, "PACKYARD_JWT_SECRET");
        }
        // S3 can't hold a blob over 5 GiB: the limits say so.
        let s3 = "s3://bucket?endpoint=http://127.0.0.1:9000";
        let c = Config::load_from(None, &env(&[("PACKYARD_STORAGE_URL", s3)])).expect("s3");
        assert_eq!(c.limits.generic_file_bytes, 5 * 1024 * 1024 * 1024);
        let err = Config::load_from(
            None,
            &env(&[
                ("PACKYARD_STORAGE_URL", s3),
                ("PACKYARD_CONTAINER_BLOB_BYTES", "6000000000"),
            ]),
        )
        .expect_err("too big for S3");
        assert_eq!(err.setting, "PACKYARD_CONTAINER_BLOB_BYTES");
    }

    #[test]
    fn trusted_proxies_are_none_by_default_and_cidrs_or_addresses() {
        assert!(
            Config::load_from(None, &[])
                .expect("defaults")
                .trusted_proxies
                .is_empty()
        );
        let cfg = Config::load_from(
            None,
            &env(&[("PACKYARD_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7,::1")]),
        )
        .expect("valid");
        let nets: Vec<String> = cfg.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.0.2.7/32", "::1/128"]);
        let err = Config::load_from(None, &env(&[("PACKYARD_TRUSTED_PROXIES", "10.0.0.0/33")]))
            .expect_err("a bad CIDR");
        assert_eq!(err.setting, "PACKYARD_TRUSTED_PROXIES");
    }

    #[test]
    fn connection_and_login_limits_refuse_zero() {
        for setting in [
            "PACKYARD_HEADER_READ_TIMEOUT_SECS",
            "PACKYARD_IDLE_TIMEOUT_SECS",
            "PACKYARD_MAX_CONNECTIONS",
            "PACKYARD_MAX_CONNECTIONS_PER_CLIENT",
            "PACKYARD_PASSWORD_HASH_CONCURRENCY",
            "PACKYARD_LOGIN_FAILURES_PER_ACCOUNT",
            "PACKYARD_LOGIN_FAILURES_PER_CLIENT",
            "PACKYARD_LOGIN_FAILURE_WINDOW_SECS",
        ] {
            let err = Config::load_from(None, &env(&[(setting, "0")])).expect_err(setting);
            assert_eq!(err.setting, setting);
        }
        let cfg = Config::load_from(
            None,
            &env(&[
                ("PACKYARD_IDLE_TIMEOUT_SECS", "5"),
                ("PACKYARD_REQUEST_BODY_BYTES", "4096"),
            ]),
        )
        .expect("valid");
        assert_eq!(cfg.connections.idle_timeout, Duration::from_secs(5));
        assert_eq!(cfg.limits.request_body_bytes, 4096);
    }

    #[test]
    fn a_data_dir_with_url_characters_stays_whole() {
        let c = Config::load_from(None, &env(&[("PACKYARD_DATA_DIR", "/srv/reg#2?x")]))
            .expect("config");
        let url = url::Url::parse(&c.storage_url).expect("url");
        assert_eq!(
            url.to_file_path().expect("path"),
            std::path::PathBuf::from("/srv/reg#2?x/blobs/")
        );
        // sqlx reads the database path up to the `?` of its options, percent-decoded.
        let options: sea_orm::sqlx::sqlite::SqliteConnectOptions =
            c.database_url.parse().expect("sqlite options");
        assert_eq!(
            options.get_filename(),
            std::path::Path::new("/srv/reg#2?x/packyard.db")
        );
    }
}
