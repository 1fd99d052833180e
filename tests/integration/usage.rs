//! Usage metering: storage (a blob once per owner, public packages free) and transfer (bytes
//! of private files sent, Range included), read from GraphQL, `packyard admin usage` and
//! `/metrics`, exact across a kill -9 after a flush and across two replicas.
use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::support::{Backend, TestApp, bin};

const USAGE: &str = "query($login: String!) { user(login: $login) { usage { storageBytes \
                     monthTransferBytes daily { day transferBytes } quota { storageBytes \
                     transferBytes own } } } }";

pub(crate) async fn usage(app: &TestApp, token: Option<&str>, login: &str) -> Value {
    app.gql_ok(token, USAGE, json!({"login": login})).await["user"]["usage"].clone()
}

/// Deterministic bytes of a length (a different `seed` gives different content).
pub(crate) fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32 * 31 + u32::from(seed) * 7) as u8)
        .collect()
}

async fn download(app: &TestApp, token: &str, path: &str, range: Option<&str>) -> usize {
    let mut req = app
        .http
        .get(format!("{}{path}", app.url))
        .bearer_auth(token);
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let resp = req.send().await.expect("GET");
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
    resp.bytes().await.expect("body").len()
}

async fn make_public(app: &TestApp, token: &str, owner: &str, name: &str) {
    let id = app
        .gql_ok(
            Some(token),
            "query($o: String!, $n: String!) { package(owner: $o, packageType: GENERIC, name: $n) { id } }",
            json!({"o": owner, "n": name}),
        )
        .await["package"]["id"]
        .clone();
    app.gql_ok(
        Some(token),
        "mutation($id: ID!) { setPackageVisibility(input: {packageId: $id, visibility: PUBLIC}) { package { visibility } } }",
        json!({"id": id}),
    )
    .await;
}

/// The same bytes published through the generic door twice and the Maven door once count
/// once; a public package counts nothing; a full download and a Range count the bytes sent,
/// a public download nothing; GraphQL, the admin command and `/metrics` agree.
#[tokio::test]
async fn usage_counts_shared_blobs_once_and_transfer_by_bytes_sent() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("meter");
    app.admin(&["create-repository", "meter/libs"], None);
    let shared = bytes(1000, 1);
    for path in ["meter/tool/1.0.0/a.bin", "meter/tool/1.1.0/a.bin"] {
        let r = app.put_generic(Some(&token), path, shared.clone()).await;
        assert_eq!(r.status(), 201, "{path}");
    }
    let jar = app
        .http
        .put(format!(
            "{}/maven/meter/libs/com/example/lib/1.0.0/lib-1.0.0.jar",
            app.url
        ))
        .basic_auth("meter", Some(&token))
        .body(shared.clone())
        .send()
        .await
        .expect("PUT jar");
    assert!(jar.status().is_success(), "maven: {}", jar.status());
    let other = app
        .put_generic(Some(&token), "meter/tool/1.1.0/b.bin", bytes(300, 2))
        .await;
    assert_eq!(other.status(), 201);
    let public = app
        .put_generic(Some(&token), "meter/open/1.0.0/c.bin", bytes(500, 3))
        .await;
    assert_eq!(public.status(), 201);
    assert_eq!(
        usage(&app, Some(&token), "meter").await["storageBytes"],
        1800
    );
    make_public(&app, &token, "meter", "open").await;
    let u = usage(&app, Some(&token), "meter").await;
    assert_eq!(u["storageBytes"], 1300, "{u}");
    assert_eq!(u["monthTransferBytes"], 0);
    assert_eq!(
        u["quota"],
        json!({"storageBytes": null, "transferBytes": null, "own": false})
    );

    assert_eq!(
        download(&app, &token, "/generic/meter/tool/1.0.0/a.bin", None).await,
        1000
    );
    assert_eq!(
        download(
            &app,
            &token,
            "/generic/meter/tool/1.0.0/a.bin",
            Some("bytes=100-199")
        )
        .await,
        100
    );
    assert_eq!(
        download(&app, &token, "/generic/meter/open/1.0.0/c.bin", None).await,
        500
    );
    let anonymous = app.get(None, "/generic/meter/open/1.0.0/c.bin").await;
    assert_eq!(anonymous.status(), 200);
    let u = usage(&app, Some(&token), "meter").await;
    assert_eq!(u["monthTransferBytes"], 1100, "{u}");
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(u["daily"], json!([{"day": today, "transferBytes": 1100}]));

    // Others don't see it.
    assert_eq!(usage(&app, None, "meter").await, Value::Null);
    let stranger = app.user_with_token("stranger");
    assert_eq!(usage(&app, Some(&stranger), "meter").await, Value::Null);

    let text = app.admin(&["usage", "meter"], None);
    assert!(text.contains("storage_bytes 1300\n"), "{text}");
    assert!(text.contains("month_transfer_bytes 1100\n"), "{text}");
    assert!(text.contains(&format!("day {today} 1100\n")), "{text}");
    let metrics = app
        .get(None, "/metrics")
        .await
        .text()
        .await
        .expect("metrics");
    assert!(
        metrics.contains("packyard_usage_storage_bytes{owner=\"meter\"} 1300\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("packyard_usage_transfer_month_bytes{owner=\"meter\"} 1100\n"),
        "{metrics}"
    );

    // Deleting the generic versions leaves the jar's copy of the shared blob counted.
    for v in ["1.0.0", "1.1.0"] {
        let r = app
            .delete(Some(&token), &format!("/generic/meter/tool/{v}/a.bin"))
            .await;
        assert!(r.status().is_success(), "{}", r.status());
    }
    assert_eq!(
        usage(&app, Some(&token), "meter").await["storageBytes"],
        1300
    );
}

/// Transfer flushed before a kill -9 is all there after the restart (what was counted
/// after the last flush is the documented window).
#[tokio::test]
async fn usage_transfer_survives_a_kill_after_a_flush() {
    let mut app = TestApp::spawn().await;
    let token = app.user_with_token("crash");
    let r = app
        .put_generic(Some(&token), "crash/tool/1.0.0/a.bin", bytes(4096, 4))
        .await;
    assert_eq!(r.status(), 201);
    for _ in 0..3 {
        download(&app, &token, "/generic/crash/tool/1.0.0/a.bin", None).await;
    }
    // The flush job runs every 5 s; nothing reads usage (which would flush) before the kill.
    tokio::time::sleep(Duration::from_secs(7)).await;
    app.restart().await;
    let u = usage(&app, Some(&token), "crash").await;
    assert_eq!(u["monthTransferBytes"], 3 * 4096, "{u}");
}

/// A second server process on the same database (and blob directory).
struct Replica {
    child: Child,
    url: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn replica(app: &TestApp) -> Replica {
    let log_path = app.data_dir.path().join("replica.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let mut child = Command::new(bin())
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PACKYARD_LISTEN", "127.0.0.1:0")
        .env("PACKYARD_DATA_DIR", app.data_dir.path())
        .env("PACKYARD_DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start replica");
    let started = Instant::now();
    let port: u16 = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(port) = text
            .lines()
            .filter(|l| l.contains("packyard serving"))
            .find_map(|l| {
                l.split_whitespace()
                    .find_map(|w| w.strip_prefix("listen="))
                    .and_then(|a| a.rsplit(':').next())
                    .and_then(|p| p.parse().ok())
            })
        {
            break port;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("replica exited ({status}): {text}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "replica: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    Replica {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// Two replicas on one PostgreSQL database, each serving downloads: their counts add up
/// exactly (additive upserts per owner and day).
#[tokio::test]
async fn usage_is_exact_across_two_replicas() {
    if Backend::from_env() == Backend::Sqlite {
        eprintln!(
            "usage_is_exact_across_two_replicas: needs PostgreSQL (replicas share one database server); skipped on SQLite"
        );
        return;
    }
    let app = TestApp::spawn().await;
    let token = app.user_with_token("twin");
    let r = app
        .put_generic(Some(&token), "twin/tool/1.0.0/a.bin", bytes(1000, 5))
        .await;
    assert_eq!(r.status(), 201);
    let second = replica(&app).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let base = if i % 2 == 0 {
            app.url.clone()
        } else {
            second.url.clone()
        };
        let (http, token) = (app.http.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let resp = http
                .get(format!("{base}/generic/twin/tool/1.0.0/a.bin"))
                .header("range", "bytes=0-499")
                .bearer_auth(&token)
                .send()
                .await
                .expect("GET");
            assert_eq!(resp.status(), 206);
            resp.bytes().await.expect("body").len()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), 500);
    }
    // Reading on a replica flushes its own counts: read on the second, then the first.
    let on_second = reqwest::Client::new()
        .post(format!("{}/graphql", second.url))
        .bearer_auth(&token)
        .json(&json!({"query": USAGE, "variables": {"login": "twin"}}))
        .send()
        .await
        .expect("graphql")
        .json::<Value>()
        .await
        .expect("json");
    assert!(on_second["errors"].is_null(), "{on_second}");
    let u = usage(&app, Some(&token), "twin").await;
    assert_eq!(u["monthTransferBytes"], 20 * 500, "{u}");
}
