//! Faults and concurrency on one server: the database or the blob store cut mid-traffic,
//! a crash in the middle of uploads, races of publishes, garbage collection and owners.
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    fault_proxy::FaultProxy,
    support::{Backend, TestApp, bin, files_under, gem},
};

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest as _;
    hex::encode(sha1::Sha1::digest(data))
}

/// An npm tarball for `name@version` whose package.json carries `note` (so each racer's
/// bytes differ).
fn npm_tarball(name: &str, version: &str, note: &str) -> Vec<u8> {
    let manifest = json!({"name": name, "version": version, "description": note}).to_string();
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(manifest.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "package/package.json", manifest.as_bytes())
        .expect("append");
    builder.into_inner().expect("tar").finish().expect("gzip")
}

/// npm's publish document for `@scope/name@version` with `tgz` attached.
fn npm_publish_document(name: &str, version: &str, tgz: &[u8]) -> String {
    let short = name.rsplit('/').next().expect("name");
    json!({
        "name": name,
        "versions": {version: {"name": name, "version": version}},
        "dist-tags": {"latest": version},
        "_attachments": {format!("{short}-{version}.tgz"): {
            "content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(tgz),
            "length": tgz.len(),
        }},
    })
    .to_string()
}

async fn npm_publish(app: &TestApp, token: &str, name: &str, tgz: &[u8]) -> reqwest::Response {
    app.http
        .put(format!("{}/npm/{}", app.url, name.replace('/', "%2f")))
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .body(npm_publish_document(name, "1.0.0", tgz))
        .send()
        .await
        .expect("npm publish")
}

fn nuspec(id: &str, version: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><package><metadata><id>{id}</id><version>{version}</version>
        <authors>Cora</authors><description>about {id}</description></metadata></package>"#
    )
}

fn nupkg(id: &str, version: &str, payload: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file(format!("{id}.nuspec"), options)
        .expect("start");
    w.write_all(nuspec(id, version).as_bytes()).expect("write");
    w.start_file("lib/payload.txt", options).expect("start");
    w.write_all(payload).expect("write");
    w.finish().expect("finish").into_inner()
}

/// Pushes a .nupkg as NuGet does (multipart/form-data, `X-NuGet-ApiKey`).
async fn nuget_push(app: &TestApp, owner: &str, token: &str, pkg: Vec<u8>) -> reqwest::Response {
    nuget_try_push(app, owner, token, pkg)
        .await
        .expect("nuget push")
}

/// `nuget_push` that may fail to connect (the server killed).
async fn nuget_try_push(
    app: &TestApp,
    owner: &str,
    token: &str,
    pkg: Vec<u8>,
) -> reqwest::Result<reqwest::Response> {
    let boundary = "packyard-faults-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"package\"; filename=\"package.nupkg\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&pkg);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    app.http
        .put(format!("{}/nuget/{owner}/api/v2/package", app.url))
        .header("X-NuGet-ApiKey", token)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
}

/// A monolithic OCI blob upload (`POST ...?digest=`).
async fn oci_push_blob(app: &TestApp, user: &str, token: &str, image: &str, data: &[u8]) -> u16 {
    let digest = format!("sha256:{}", sha256_hex(data));
    app.http
        .post(format!(
            "{}/v2/{user}/{image}/blobs/uploads/?digest={digest}",
            app.url
        ))
        .basic_auth(user, Some(token))
        .header("content-type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

/// A chunked OCI blob upload: POST, one PATCH, the final PUT with the digest.
async fn oci_push_blob_chunked(
    app: &TestApp,
    user: &str,
    token: &str,
    image: &str,
    data: &[u8],
) -> u16 {
    let started = app
        .http
        .post(format!("{}/v2/{user}/{image}/blobs/uploads/", app.url))
        .basic_auth(user, Some(token))
        .send()
        .await;
    let Ok(started) = started else { return 0 };
    if started.status() != 202 {
        return started.status().as_u16();
    }
    let location = started.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let absolute = |l: &str| {
        if l.starts_with("http") {
            l.to_string()
        } else {
            format!("{}{l}", app.url)
        }
    };
    let Ok(patched) = app
        .http
        .patch(absolute(&location))
        .basic_auth(user, Some(token))
        .header("content-type", "application/octet-stream")
        .header("content-range", format!("0-{}", data.len() - 1))
        .body(data.to_vec())
        .send()
        .await
    else {
        return 0;
    };
    if patched.status() != 202 {
        return patched.status().as_u16();
    }
    let location = patched.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let sep = if location.contains('?') { '&' } else { '?' };
    let digest = format!("sha256:{}", sha256_hex(data));
    app.http
        .put(format!("{}{sep}digest={digest}", absolute(&location)))
        .basic_auth(user, Some(token))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

/// Runs `packyard gc` with a grace period in seconds; returns blobs removed.
fn gc(app: &TestApp, grace_secs: u64) -> u64 {
    let out = app.cli(&["gc", "--grace-secs", &grace_secs.to_string()], None);
    out.split("removed ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("gc output: {out}"))
}

fn s3_settings() -> Option<(String, String, String, String)> {
    let Ok(endpoint) = std::env::var("PACKYARD_TEST_S3_ENDPOINT") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the S3 tests: use scripts/test.sh"
        );
        return None;
    };
    let bucket =
        std::env::var("PACKYARD_TEST_S3_BUCKET").unwrap_or_else(|_| "packyard-test".into());
    let key = std::env::var("AWS_ACCESS_KEY_ID").expect("AWS_ACCESS_KEY_ID");
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").expect("AWS_SECRET_ACCESS_KEY");
    Some((endpoint, bucket, key, secret))
}

/// One request per door, each the way its client sends it.
fn door_requests(
    app: &TestApp,
    user: &str,
    token: &str,
) -> Vec<(&'static str, reqwest::RequestBuilder)> {
    let url = &app.url;
    vec![
        (
            "generic",
            app.http
                .get(format!("{url}/generic/{user}/tool/1.0.0/f.bin"))
                .bearer_auth(token),
        ),
        (
            "npm",
            app.http
                .get(format!("{url}/npm/@{user}%2flib"))
                .bearer_auth(token),
        ),
        (
            "oci",
            app.http
                .get(format!(
                    "{url}/v2/{user}/img/blobs/sha256:{}",
                    "0".repeat(64)
                ))
                .basic_auth(user, Some(token)),
        ),
        (
            "nuget",
            app.http
                .get(format!(
                    "{url}/nuget/{user}/v3/flatcontainer/cora.lib/index.json"
                ))
                .basic_auth(user, Some(token)),
        ),
        (
            "maven",
            app.http
                .get(format!(
                    "{url}/maven/{user}/libs/com/example/app/1.0/app-1.0.jar"
                ))
                .basic_auth(user, Some(token)),
        ),
        (
            "rubygems",
            app.http
                .get(format!("{url}/rubygems/{user}/info/gem"))
                .basic_auth(user, Some(token)),
        ),
    ]
}

/// Every door answers 503 within `within`, with `Retry-After` and a body in its clients'
/// shape; GraphQL answers its error with code UNAVAILABLE; `/readyz` is not ready.
async fn assert_unavailable_everywhere(app: &TestApp, user: &str, token: &str, within: Duration) {
    for (door, request) in door_requests(app, user, token) {
        let started = Instant::now();
        let resp = request.send().await.expect("request");
        let elapsed = started.elapsed();
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap_or_default().to_string());
        let body = resp.text().await.unwrap_or_default();
        eprintln!("{door}: {status} in {elapsed:?}: {body}");
        if status != 503 {
            let log = app.log();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            panic!("{door}: {status} {body}; server log (last lines, newest first):\n{tail:#?}");
        }
        assert!(elapsed < within, "{door} took {elapsed:?}");
        assert_eq!(retry_after.as_deref(), Some("5"), "{door}");
        match door {
            "oci" => {
                let v: Value = serde_json::from_str(&body).expect("OCI error JSON");
                assert!(v["errors"][0]["code"].is_string(), "{body}");
            }
            "npm" => {
                let v: Value = serde_json::from_str(&body).expect("npm error JSON");
                assert!(
                    v["error"]
                        .as_str()
                        .is_some_and(|e| e.contains("unavailable"))
                );
            }
            "generic" => {
                let v: Value = serde_json::from_str(&body).expect("generic error JSON");
                assert_eq!(v["code"], "UNAVAILABLE", "{body}");
            }
            _ => assert!(body.contains("unavailable"), "{door}: {body}"),
        }
    }
    let started = Instant::now();
    let gql = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(token)
        .json(&json!({"query": "{ viewer { login } }"}))
        .send()
        .await
        .expect("graphql");
    let body: Value = gql.json().await.expect("graphql json");
    assert!(
        started.elapsed() < within,
        "graphql took {:?}",
        started.elapsed()
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAVAILABLE",
        "{body}"
    );
    let ready = app.get(None, "/readyz").await;
    assert_eq!(ready.status(), 503);
}

/// Polls `/readyz` until it answers 200 (the server recovers without a restart).
async fn wait_ready_again(app: &TestApp, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if app.get(None, "/readyz").await.status() == 200 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "not ready {within:?} after the fault ended; log:\n{}",
            app.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_database_cut_answers_503_in_every_door_and_recovers() {
    if Backend::from_env() == Backend::Sqlite {
        eprintln!(
            "faults_database_cut: skipped on SQLite (an embedded database has no connection to \
             cut); the PostgreSQL run covers it"
        );
        return;
    }
    let mut app = TestApp::spawn().await;
    let token = app.user_with_token("dora");
    let mut url = url::Url::parse(&app.database_url).expect("database URL");
    let upstream = format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().unwrap_or(5432)
    );
    let proxy = FaultProxy::start(&upstream).await;
    url.set_port(Some(proxy.port())).expect("port");
    app.set_env("PACKYARD_DATABASE_URL", url.as_str());
    app.restart().await;
    assert_eq!(
        app.put_generic(Some(&token), "dora/tool/1.0.0/f.bin", "tool bytes")
            .await
            .status(),
        201
    );
    let tgz = npm_tarball("@dora/lib", "1.0.0", "lib");
    assert_eq!(
        npm_publish(&app, &token, "@dora/lib", &tgz).await.status(),
        201
    );

    proxy.cut();
    assert_unavailable_everywhere(&app, "dora", &token, Duration::from_secs(8)).await;
    // A publish while cut: refused whole.
    let refused = app
        .put_generic(Some(&token), "dora/tool/2.0.0/f.bin", "during the cut")
        .await;
    assert_eq!(refused.status(), 503);

    proxy.restore();
    let took = wait_ready_again(&app, Duration::from_secs(30)).await;
    eprintln!("faults_database_cut: ready again {took:?} after PostgreSQL came back");
    let got = app
        .get(Some(&token), "/generic/dora/tool/1.0.0/f.bin")
        .await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.text().await.expect("body"), "tool bytes");
    assert_eq!(
        app.get(Some(&token), "/generic/dora/tool/2.0.0/f.bin")
            .await
            .status(),
        404,
        "the publish refused during the cut left nothing"
    );
    assert_eq!(
        app.put_generic(Some(&token), "dora/tool/2.0.0/f.bin", "after")
            .await
            .status(),
        201
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_blob_store_cut_answers_503_and_recovers() {
    let Some((endpoint, bucket, key, secret)) = s3_settings() else {
        eprintln!("faults_blob_store_cut: skipped (no S3 endpoint: run scripts/test.sh)");
        return;
    };
    let upstream = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let proxy = FaultProxy::start(&upstream).await;
    let storage = format!(
        "s3://{bucket}?endpoint=http://127.0.0.1:{}&region=us-east-1&allow_http=true",
        proxy.port()
    );
    let app = TestApp::spawn_with(&[
        ("PACKYARD_STORAGE_URL", &storage),
        ("AWS_ACCESS_KEY_ID", &key),
        ("AWS_SECRET_ACCESS_KEY", &secret),
    ])
    .await;
    let token = app.user_with_token("stella");
    let payload = format!("stella's bytes {}", uuid::Uuid::new_v4());
    assert_eq!(
        app.put_generic(Some(&token), "stella/tool/1.0.0/f.bin", payload.clone())
            .await
            .status(),
        201
    );
    let tgz = npm_tarball("@stella/lib", "1.0.0", &uuid::Uuid::new_v4().to_string());
    assert_eq!(
        npm_publish(&app, &token, "@stella/lib", &tgz)
            .await
            .status(),
        201
    );
    let layer = format!("layer {}", uuid::Uuid::new_v4()).into_bytes();
    assert_eq!(
        oci_push_blob(&app, "stella", &token, "img", &layer).await,
        201
    );

    proxy.cut();
    let within = Duration::from_secs(8);
    let tarball = "/npm/@stella%2flib/-/lib-1.0.0.tgz";
    let blob = format!("/v2/stella/img/blobs/sha256:{}", sha256_hex(&layer));
    for (door, path) in [
        ("generic", "/generic/stella/tool/1.0.0/f.bin"),
        ("npm", tarball),
        ("oci", blob.as_str()),
    ] {
        let started = Instant::now();
        let resp = if door == "oci" {
            app.http
                .get(format!("{}{path}", app.url))
                .basic_auth("stella", Some(&token))
                .send()
                .await
                .expect("get")
        } else {
            app.get(Some(&token), path).await
        };
        let status = resp.status().as_u16();
        let retry_after = resp.headers().get("retry-after").cloned();
        let body = resp.text().await.unwrap_or_default();
        eprintln!(
            "{door} download: {status} in {:?}: {body}",
            started.elapsed()
        );
        // The server's own words on the blob store, should the answer be wrong (once, in a
        // full run on PostgreSQL, a generic download answered 500 here).
        let logged = || {
            app.log()
                .lines()
                .filter(|l| l.contains("blob store") || l.contains("ERROR"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(status, 503, "{door}: {body}; server log:\n{}", logged());
        assert!(
            started.elapsed() < within,
            "{door}: {:?}",
            started.elapsed()
        );
        assert_eq!(retry_after.expect("Retry-After"), "5");
    }
    let started = Instant::now();
    let upload = app
        .put_generic(Some(&token), "stella/tool/2.0.0/f.bin", "during the cut")
        .await;
    assert_eq!(upload.status(), 503);
    assert!(started.elapsed() < within);
    assert_eq!(app.get(None, "/readyz").await.status(), 503);

    proxy.restore();
    let took = wait_ready_again(&app, Duration::from_secs(30)).await;
    eprintln!("faults_blob_store_cut: ready again {took:?} after the store came back");
    let got = app
        .get(Some(&token), "/generic/stella/tool/1.0.0/f.bin")
        .await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.text().await.expect("body"), payload);
    assert_eq!(
        app.get(Some(&token), "/generic/stella/tool/2.0.0/f.bin")
            .await
            .status(),
        404
    );
    assert_eq!(
        app.put_generic(Some(&token), "stella/tool/2.0.0/f.bin", "after")
            .await
            .status(),
        201
    );
}

/// 32 publishes of one version at once on each door: one wins, the others get the door's
/// conflict answer, and what is stored is the winner's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_32_concurrent_publishes_of_one_version_have_one_winner_on_every_door() {
    const RACERS: usize = 32;
    let app = TestApp::spawn().await;
    let token = app.user_with_token("cora");
    app.admin(&["create-repository", "cora/libs"], None);

    // Generic.
    let results = futures::future::join_all((0..RACERS).map(|i| {
        let app = &app;
        let token = &token;
        async move {
            let body = format!("generic racer {i}");
            let status = app
                .put_generic(Some(token), "cora/race/1.0.0/f.bin", body.clone())
                .await
                .status()
                .as_u16();
            (status, body)
        }
    }))
    .await;
    let winner = one_winner("generic", &results, 201, &[409]);
    let got = app
        .get(Some(&token), "/generic/cora/race/1.0.0/f.bin")
        .await;
    assert_eq!(got.text().await.expect("body"), winner);

    // npm.
    let results = futures::future::join_all((0..RACERS).map(|i| {
        let app = &app;
        let token = &token;
        async move {
            let tgz = npm_tarball("@cora/race", "1.0.0", &format!("racer {i}"));
            let resp = npm_publish(app, token, "@cora/race", &tgz).await;
            let status = resp.status().as_u16();
            if status != 201 {
                let body: Value = resp.json().await.expect("npm error JSON");
                assert!(
                    body["error"]
                        .as_str()
                        .is_some_and(|e| e.contains("cannot publish over")),
                    "{body}"
                );
            }
            (status, tgz)
        }
    }))
    .await;
    let winner = one_winner("npm", &results, 201, &[403, 409]);
    let doc: Value = app
        .get(Some(&token), "/npm/@cora%2frace")
        .await
        .json()
        .await
        .expect("packument");
    assert_eq!(
        doc["versions"]["1.0.0"]["dist"]["shasum"],
        sha1_hex(&winner)
    );
    let tarball = app
        .get(Some(&token), "/npm/@cora%2frace/-/race-1.0.0.tgz")
        .await;
    assert_eq!(
        tarball.bytes().await.expect("tgz").as_ref(),
        winner.as_slice()
    );

    // Maven (a release file is immutable).
    let jar = "/maven/cora/libs/com/example/race/1.0/race-1.0.jar";
    let results = futures::future::join_all((0..RACERS).map(|i| {
        let app = &app;
        let token = &token;
        async move {
            let body = format!("jar of racer {i}");
            let status = app
                .http
                .put(format!("{}{jar}", app.url))
                .basic_auth("cora", Some(token))
                .body(body.clone())
                .send()
                .await
                .expect("maven put")
                .status()
                .as_u16();
            (status, body)
        }
    }))
    .await;
    let winner = one_winner("maven", &results, 201, &[409]);
    let got = app
        .http
        .get(format!("{}{jar}", app.url))
        .basic_auth("cora", Some(&token))
        .send()
        .await
        .expect("maven get");
    assert_eq!(got.text().await.expect("body"), winner);

    // NuGet.
    let results = futures::future::join_all((0..RACERS).map(|i| {
        let app = &app;
        let token = &token;
        async move {
            let pkg = nupkg("Cora.Race", "1.0.0", format!("racer {i}").as_bytes());
            let status = nuget_push(app, "cora", token, pkg.clone())
                .await
                .status()
                .as_u16();
            (status, pkg)
        }
    }))
    .await;
    let winner = one_winner("nuget", &results, 201, &[409]);
    let got = app
        .http
        .get(format!(
            "{}/nuget/cora/v3/flatcontainer/cora.race/1.0.0/cora.race.1.0.0.nupkg",
            app.url
        ))
        .basic_auth("cora", Some(&token))
        .send()
        .await
        .expect("nuget download");
    assert_eq!(got.status(), 200);
    assert_eq!(
        got.bytes().await.expect("nupkg").as_ref(),
        winner.as_slice()
    );
}

/// Exactly one racer got `won`, every other one of `lost`; returns the winner's payload.
fn one_winner<T: Clone>(door: &str, results: &[(u16, T)], won: u16, lost: &[u16]) -> T {
    let statuses: Vec<u16> = results.iter().map(|(s, _)| *s).collect();
    let winners: Vec<&T> = results
        .iter()
        .filter(|(s, _)| *s == won)
        .map(|(_, t)| t)
        .collect();
    assert_eq!(winners.len(), 1, "{door}: {statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == won || lost.contains(s)),
        "{door}: {statuses:?}"
    );
    winners[0].clone()
}

/// `packyard gc` run again and again from another thread until stopped.
struct GcLoop {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<u32>,
}

impl GcLoop {
    fn start(app: &TestApp, grace_secs: u64) -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let app_dir = app.data_dir.path().to_path_buf();
            let database_url = app.database_url.clone();
            std::thread::spawn(move || {
                let mut runs = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let out = std::process::Command::new(bin())
                        .args(["gc", "--grace-secs", &grace_secs.to_string()])
                        .env("PACKYARD_DATA_DIR", &app_dir)
                        .env("PACKYARD_DATABASE_URL", &database_url)
                        .env("RUST_LOG", "warn")
                        .output()
                        .expect("gc");
                    assert!(out.status.success(), "gc: {out:?}");
                    runs += 1;
                }
                runs
            })
        };
        Self { stop, thread }
    }

    /// Stops the loop; how many collections ran.
    fn stop(self) -> u32 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("collector")
    }
}

/// Garbage collection in a loop (a short grace) while publishes deduplicate onto orphaned
/// blobs (bytes a refused publish stored): every publish keeps its bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_gc_in_a_loop_never_takes_the_bytes_a_publish_deduplicates_onto() {
    const ROUNDS: usize = 6;
    const PER_ROUND: usize = 8;
    const GRACE_SECS: u64 = 2;
    let app = TestApp::spawn().await;
    let token = app.user_with_token("gwen");
    assert_eq!(
        app.put_generic(Some(&token), "gwen/seed/1/f.bin", "seed")
            .await
            .status(),
        201
    );
    let payload = |round: usize, i: usize| format!("round {round} file {i} ").repeat(2048);
    for round in 0..ROUNDS {
        // Orphans: the bytes of publishes refused after their upload was stored.
        for i in 0..PER_ROUND {
            assert_eq!(
                app.put_generic(Some(&token), "gwen/seed/1/f.bin", payload(round, i))
                    .await
                    .status(),
                409
            );
        }
        tokio::time::sleep(Duration::from_secs(GRACE_SECS + 1)).await;
        let collector = GcLoop::start(&app, GRACE_SECS);
        let statuses = futures::future::join_all((0..PER_ROUND).map(|i| {
            let app = &app;
            let token = &token;
            async move {
                app.put_generic(
                    Some(token),
                    &format!("gwen/pkg/{round}.{i}/f.bin"),
                    payload(round, i),
                )
                .await
                .status()
                .as_u16()
            }
        }))
        .await;
        let runs = collector.stop();
        assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
        for i in 0..PER_ROUND {
            let got = app
                .get(
                    Some(&token),
                    &format!("/generic/gwen/pkg/{round}.{i}/f.bin"),
                )
                .await;
            assert_eq!(got.status(), 200, "round {round} file {i}");
            assert_eq!(got.text().await.expect("body"), payload(round, i));
        }
        eprintln!("round {round}: {runs} collections ran beside the publishes");
    }
    // Nothing referenced is collectable, and the orphans all went.
    gc(&app, 0);
    for round in 0..ROUNDS {
        for i in 0..PER_ROUND {
            let got = app
                .get(
                    Some(&token),
                    &format!("/generic/gwen/pkg/{round}.{i}/f.bin"),
                )
                .await;
            assert_eq!(got.status(), 200);
        }
    }
}

/// The same race through the container registry's uploads: blobs unlinked from their image
/// are orphans; GC runs in a loop while monolithic and one-chunk uploads land on the same
/// bytes; every upload's blob is whole afterwards, and a collection with no grace keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_gc_in_a_loop_never_takes_the_bytes_an_oci_upload_lands_on() {
    const ROUNDS: usize = 3;
    const PER_ROUND: usize = 8;
    const GRACE_SECS: u64 = 2;
    let app = TestApp::spawn().await;
    let token = app.user_with_token("gale");
    let layer = |round: usize, i: usize| format!("oci round {round} layer {i} ").repeat(2048);
    let blob_url = |image: &str, data: &str| {
        format!(
            "{}/v2/gale/{image}/blobs/sha256:{}",
            app.url,
            sha256_hex(data.as_bytes())
        )
    };
    for round in 0..ROUNDS {
        // Orphans: pushed to a scratch image, then unlinked from it.
        for i in 0..PER_ROUND {
            let data = layer(round, i);
            assert_eq!(
                oci_push_blob(&app, "gale", &token, "scratch", data.as_bytes()).await,
                201
            );
            let unlinked = app
                .http
                .delete(blob_url("scratch", &data))
                .basic_auth("gale", Some(&token))
                .send()
                .await
                .expect("delete blob");
            assert_eq!(unlinked.status(), 202);
        }
        tokio::time::sleep(Duration::from_secs(GRACE_SECS + 1)).await;
        let collector = GcLoop::start(&app, GRACE_SECS);
        let statuses = futures::future::join_all((0..PER_ROUND).map(|i| {
            let (app, token, data) = (&app, &token, layer(round, i));
            async move {
                if i % 2 == 0 {
                    oci_push_blob(app, "gale", token, "img", data.as_bytes()).await
                } else {
                    oci_push_blob_chunked(app, "gale", token, "img", data.as_bytes()).await
                }
            }
        }))
        .await;
        let runs = collector.stop();
        assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
        for i in 0..PER_ROUND {
            let data = layer(round, i);
            let got = app
                .http
                .get(blob_url("img", &data))
                .basic_auth("gale", Some(&token))
                .send()
                .await
                .expect("get blob");
            assert_eq!(got.status(), 200, "round {round} layer {i}");
            assert_eq!(got.text().await.expect("body"), data);
        }
        eprintln!("round {round}: {runs} collections ran beside the uploads");
    }
}

/// Two owners demoting each other at once, 20 times: the organization always keeps an owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_owners_demoting_each_other_at_once_always_leave_an_owner() {
    let app = TestApp::spawn().await;
    let ann = app.user_with_token("ann");
    let bob = app.user_with_token("bob");
    app.create_org("duo", "ann");
    let set_role = |token: String, login: &'static str, role: &'static str| {
        let app = &app;
        async move {
            let body = app
                .graphql(
                    Some(&token),
                    "mutation($login: String!, $role: OrganizationRole!) {
                       addOrganizationMember(input: {organizationLogin: \"duo\", login: $login, role: $role}) {
                         member { role } } }",
                    json!({"login": login, "role": role}),
                )
                .await;
            body.get("errors").is_none()
        }
    };
    let owners = || async {
        let data = app
            .gql_ok(
                Some(&ann),
                "{ organization(login: \"duo\") { members { user { login } role } } }",
                json!({}),
            )
            .await;
        data["organization"]["members"]
            .as_array()
            .expect("members")
            .iter()
            .filter(|m| m["role"] == "OWNER")
            .map(|m| m["user"]["login"].as_str().expect("login").to_string())
            .collect::<Vec<_>>()
    };
    assert!(set_role(ann.clone(), "bob", "OWNER").await);
    for round in 0..20 {
        let (a, b) = tokio::join!(
            set_role(ann.clone(), "bob", "MEMBER"),
            set_role(bob.clone(), "ann", "MEMBER")
        );
        let left = owners().await;
        assert_eq!(
            left.len(),
            1,
            "round {round}: owners {left:?} (ann won: {a}, bob won: {b})"
        );
        assert!(
            a ^ b,
            "round {round}: exactly one demotion applies ({a}, {b})"
        );
        // The remaining owner makes the other an owner again.
        let (owner_token, other) = if left[0] == "ann" {
            (ann.clone(), "bob")
        } else {
            (bob.clone(), "ann")
        };
        assert!(set_role(owner_token, other, "OWNER").await);
    }
}

/// npm update documents sent at once against the same revision: one applies, the others
/// are refused as stale (409), and the packument is the applied one's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_npm_updates_against_one_revision_apply_exactly_once() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("nia");
    for (i, version) in ["1.0.0", "1.1.0", "1.2.0"].iter().enumerate() {
        let tgz = npm_tarball("@nia/doc", version, &format!("v{i}"));
        let resp = app
            .http
            .put(format!("{}/npm/@nia%2fdoc", app.url))
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(npm_publish_document("@nia/doc", version, &tgz))
            .send()
            .await
            .expect("publish");
        assert_eq!(resp.status(), 201);
    }
    let current: Value = app
        .get(Some(&token), "/npm/@nia%2fdoc")
        .await
        .json()
        .await
        .expect("packument");
    let rev = current["_rev"].as_str().expect("_rev").to_string();
    // Each racer deprecates a different version and points `next` at it.
    let targets = ["1.0.0", "1.1.0", "1.2.0"];
    let results = futures::future::join_all((0..12).map(|i| {
        let app = &app;
        let token = &token;
        let mut doc = current.clone();
        let target = targets[i % targets.len()];
        doc["versions"][target]["deprecated"] = json!(format!("racer {i}"));
        doc["dist-tags"]["next"] = json!(target);
        let rev = rev.clone();
        async move {
            let resp = app
                .http
                .put(format!("{}/npm/@nia%2fdoc/-rev/{rev}", app.url))
                .bearer_auth(token)
                .header("Content-Type", "application/json")
                .body(doc.to_string())
                .send()
                .await
                .expect("update");
            (resp.status().as_u16(), (i, target))
        }
    }))
    .await;
    let (i, target) = one_winner("npm update", &results, 200, &[409]);
    let after: Value = app
        .get(Some(&token), "/npm/@nia%2fdoc")
        .await
        .json()
        .await
        .expect("packument");
    assert_eq!(after["dist-tags"]["next"], target);
    let deprecated: Vec<(&str, &Value)> = after["versions"]
        .as_object()
        .expect("versions")
        .iter()
        .filter(|(_, v)| v.get("deprecated").is_some())
        .map(|(k, v)| (k.as_str(), &v["deprecated"]))
        .collect();
    assert_eq!(deprecated, [(target, &json!(format!("racer {i}")))]);
}

/// SIGKILL in the middle of 100 concurrent uploads through each door: after a restart no
/// partial artifact is visible, every acknowledged upload is whole, and GC reclaims every
/// orphan blob and staging file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_sigkill_during_100_concurrent_uploads_leaves_only_whole_artifacts() {
    const UPLOADS: usize = 100;
    // All 700 come from one address: past its share (128 by default) they'd be refused,
    // not killed in flight.
    let mut app = TestApp::spawn_with(&[("PACKYARD_MAX_CONNECTIONS_PER_CLIENT", "1000")]).await;
    let token = app.user_with_token("kim");
    app.admin(&["create-repository", "kim/libs"], None);
    let payload = |door: &str, i: usize| {
        let mut data = format!("{door} upload {i} ").into_bytes();
        data.resize(256 * 1024 + i * 1024, b'0' + (i % 10) as u8);
        data
    };
    let doors = [
        "generic",
        "npm",
        "maven",
        "nuget",
        "rubygems",
        "oci",
        "oci-chunked",
    ];
    let pid = app.pid();
    // Killed once every door has acknowledged an upload (so each door's acknowledged
    // ones are checked whole), with most of the others still in flight. (Counting all
    // doors together, the kill came before the doors behind generic and npm had any.)
    let acked_so_far: std::sync::Arc<Vec<std::sync::atomic::AtomicUsize>> =
        std::sync::Arc::new(doors.iter().map(|_| Default::default()).collect());
    let killer = {
        let acked_so_far = acked_so_far.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            while acked_so_far
                .iter()
                .any(|n| n.load(std::sync::atomic::Ordering::Relaxed) == 0)
                && started.elapsed() < Duration::from_secs(120)
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            // The server process this test started, by its pid.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        })
    };
    let acknowledged = futures::future::join_all(doors.iter().enumerate().flat_map(|(d, door)| {
        let app = &app;
        let token = &token;
        let acked_so_far = &acked_so_far[d];
        (0..UPLOADS).map(move |i| async move {
            // Each door's uploads start over 3 s, so the kill finds every door with some
            // acknowledged and some in flight, the slow ones (OCI) as the fast ones.
            tokio::time::sleep(Duration::from_millis(30 * i as u64)).await;
            let data = payload(door, i);
            // An upload the kill left hanging counts as unacknowledged.
            let upload = async {
                match *door {
                    "generic" => app
                        .http
                        .put(format!("{}/generic/kim/g{i}/1.0.0/f.bin", app.url))
                        .bearer_auth(token)
                        .body(data.clone())
                        .send()
                        .await
                        .map_or(0, |r| r.status().as_u16()),
                    "npm" => {
                        let tgz = npm_tarball(&format!("@kim/n{i}"), "1.0.0", &"x".repeat(i));
                        app.http
                            .put(format!("{}/npm/@kim%2fn{i}", app.url))
                            .bearer_auth(token)
                            .header("Content-Type", "application/json")
                            .body(npm_publish_document(&format!("@kim/n{i}"), "1.0.0", &tgz))
                            .send()
                            .await
                            .map_or(0, |r| r.status().as_u16())
                    }
                    "maven" => app
                        .http
                        .put(format!(
                            "{}/maven/kim/libs/com/example/m{i}/1.0/m{i}-1.0.jar",
                            app.url
                        ))
                        .basic_auth("kim", Some(token))
                        .body(data.clone())
                        .send()
                        .await
                        .map_or(0, |r| r.status().as_u16()),
                    "nuget" => {
                        let pkg = nupkg(&format!("Kim.N{i}"), "1.0.0", &data);
                        match tokio::time::timeout(
                            Duration::from_secs(30),
                            nuget_try_push(app, "kim", token, pkg),
                        )
                        .await
                        {
                            Ok(Ok(r)) => r.status().as_u16(),
                            _ => 0,
                        }
                    }
                    "rubygems" => app
                        .http
                        .post(format!("{}/rubygems/kim/api/v1/gems", app.url))
                        .header("authorization", token.as_str())
                        .body(gem(&format!("r{i}"), "1.0.0", "kill", &data))
                        .send()
                        .await
                        .map_or(0, |r| r.status().as_u16()),
                    "oci" => oci_push_blob(app, "kim", token, &format!("o{i}"), &data).await,
                    _ => oci_push_blob_chunked(app, "kim", token, &format!("c{i}"), &data).await,
                }
            };
            let status = tokio::time::timeout(Duration::from_secs(60), upload)
                .await
                .unwrap_or(0);
            if (200..300).contains(&status) {
                acked_so_far.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            (door.to_string(), i, status)
        })
    }))
    .await;
    killer.await.expect("killer");
    let acked: Vec<&(String, usize, u16)> = acknowledged
        .iter()
        .filter(|(_, _, s)| (200..300).contains(s))
        .collect();
    eprintln!(
        "faults_sigkill: {} of {} uploads acknowledged before the kill",
        acked.len(),
        acknowledged.len()
    );
    for door in doors {
        let acked = acked.iter().filter(|(d, _, _)| d == door).count();
        eprintln!("faults_sigkill: {door}: {acked} acknowledged");
        assert!(
            acked > 0,
            "no {door} upload was acknowledged before the kill"
        );
    }
    assert!(
        !acked.is_empty() && acked.len() < acknowledged.len(),
        "the kill came in the middle of the uploads"
    );
    app.restart().await;

    // Every acknowledged upload is whole; nothing unacknowledged is half-visible.
    for (door, i, status) in &acknowledged {
        let i = *i;
        let data = payload(door, i);
        // Where the door serves the upload, and the bytes it must serve there.
        let (path, want) = match door.as_str() {
            "generic" => (format!("/generic/kim/g{i}/1.0.0/f.bin"), data),
            "npm" => (
                format!("/npm/@kim%2fn{i}/-/n{i}-1.0.0.tgz"),
                npm_tarball(&format!("@kim/n{i}"), "1.0.0", &"x".repeat(i)),
            ),
            "maven" => (
                format!("/maven/kim/libs/com/example/m{i}/1.0/m{i}-1.0.jar"),
                data,
            ),
            "nuget" => (
                format!("/nuget/kim/v3/flatcontainer/kim.n{i}/1.0.0/kim.n{i}.1.0.0.nupkg"),
                nupkg(&format!("Kim.N{i}"), "1.0.0", &data),
            ),
            "rubygems" => (
                format!("/rubygems/kim/gems/r{i}-1.0.0.gem"),
                gem(&format!("r{i}"), "1.0.0", "kill", &data),
            ),
            "oci" => (
                format!("/v2/kim/o{i}/blobs/sha256:{}", sha256_hex(&data)),
                data,
            ),
            _ => (
                format!("/v2/kim/c{i}/blobs/sha256:{}", sha256_hex(&data)),
                data,
            ),
        };
        // Each door as its clients authenticate: a bearer token, or Basic user:token.
        let request = app.http.get(format!("{}{path}", app.url));
        let request = if matches!(door.as_str(), "generic" | "npm") {
            request.bearer_auth(&token)
        } else {
            request.basic_auth("kim", Some(&token))
        };
        let got = request.send().await.expect("download");
        let served = got.status().as_u16();
        if (200..300).contains(status) {
            assert_eq!(served, 200, "{door} {i}: acknowledged, not served");
        }
        if served != 200 {
            assert_eq!(served, 404, "{door} {i}");
            if door == "npm" {
                // No version listed without its tarball.
                let doc = app.get(Some(&token), &format!("/npm/@kim%2fn{i}")).await;
                assert_eq!(doc.status(), 404, "npm {i}: packument without its tarball");
            }
            continue;
        }
        assert_eq!(
            sha256_hex(&got.bytes().await.expect("body")),
            sha256_hex(&want),
            "{door} {i}: served, not whole"
        );
        if door == "npm" {
            let doc: Value = app
                .get(Some(&token), &format!("/npm/@kim%2fn{i}"))
                .await
                .json()
                .await
                .expect("packument");
            assert_eq!(doc["versions"]["1.0.0"]["dist"]["shasum"], sha1_hex(&want));
        }
    }
    // Nothing half-published in GraphQL: every listed generic version has its file.
    let data = app
        .gql_ok(
            Some(&token),
            "{ viewer { packages(first: 100) { nodes { name versions(first: 5) { nodes { version files { nodes { name size } } } } } } } }",
            json!({}),
        )
        .await;
    for pkg in data["viewer"]["packages"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for v in pkg["versions"]["nodes"].as_array().into_iter().flatten() {
            assert!(
                !v["files"]["nodes"].as_array().expect("files").is_empty(),
                "{} {} listed without files",
                pkg["name"],
                v["version"]
            );
        }
    }

    // GC with no grace reclaims every orphan blob and staging file (OCI upload sessions
    // keep theirs for the session TTL).
    gc(&app, 0);
    let root = app.data_dir.path();
    let db = app.db().await;
    let sessions: std::collections::HashSet<String> = {
        use sea_orm::{ConnectionTrait, Statement};
        db.query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM upload_session".to_string(),
        ))
        .await
        .expect("sessions")
        .into_iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("id"))
        .collect()
    };
    let uploads = root.join("blobs/uploads");
    let staging = files_under(&uploads);
    eprintln!(
        "faults_sigkill: {} staging files of {} open OCI upload sessions after gc",
        staging.len(),
        sessions.len()
    );
    for file in &staging {
        let session = file
            .strip_prefix(&uploads)
            .expect("under uploads")
            .iter()
            .next()
            .expect("session dir")
            .to_string_lossy()
            .to_string();
        assert!(
            sessions.contains(&session),
            "staging {} survived gc without an upload session",
            file.display()
        );
    }
    assert_eq!(
        files_under(&root.join("tmp")),
        Vec::<std::path::PathBuf>::new()
    );
    let referenced: std::collections::HashSet<String> = {
        use sea_orm::{ConnectionTrait, Statement};
        db.query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT blob_digest FROM package_file UNION SELECT digest FROM image_blob".to_string(),
        ))
        .await
        .expect("referenced")
        .into_iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("digest"))
        .collect()
    };
    for blob in files_under(&root.join("blobs/blobs/sha256")) {
        let name = blob
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        assert!(
            referenced.contains(&format!("sha256:{name}")),
            "orphan blob {name} survived gc"
        );
    }
}

/// Bytes that don't compress (a SHA-256 chain), `len` long.
fn incompressible(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut next = Sha256::digest(b"seed").to_vec();
    while out.len() < len {
        out.extend_from_slice(&next);
        next = Sha256::digest(&next).to_vec();
    }
    out.truncate(len);
    out
}

/// A small tmpfs for the blob store, unmounted (lazily) when dropped.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(bytes: u64) -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        if !out.status.success() {
            eprintln!(
                "faults full disk: skipped, mounting a tmpfs needs root: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        Some(Self(dir))
    }

    fn free(&self) -> u64 {
        let out = std::process::Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(self.0.path())
            .output()
            .expect("df");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .expect("df avail")
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

/// The doors robustness.rs doesn't cover (npm, Maven, NuGet, RubyGems, OCI) on a full blob
/// store: 507 in each client's shape, nothing stored or visible, and the same uploads
/// succeed once space returns.
#[tokio::test]
async fn faults_a_full_disk_answers_507_on_every_door_and_recovers() {
    let Some(disk) = SmallDisk::mount(4 * 1024 * 1024) else {
        return;
    };
    let blobs = disk.0.path().join("blobs");
    let storage_url = format!("file://{}", blobs.display());
    let app = TestApp::spawn_with(&[("PACKYARD_STORAGE_URL", &storage_url)]).await;
    let token = app.user_with_token("fern");
    app.admin(&["create-repository", "fern/libs"], None);
    let filler = disk.0.path().join("filler");
    let fill = disk.free().saturating_sub(64 * 1024);
    std::fs::write(&filler, vec![7u8; fill as usize]).expect("filler");

    let note = hex::encode(incompressible(400 * 1024));
    let tgz = npm_tarball("@fern/big", "1.0.0", &note);
    let jar = incompressible(512 * 1024);
    let pkg = nupkg("Fern.Big", "1.0.0", &incompressible(512 * 1024));
    let big_gem = gem("big", "1.0.0", "big", &incompressible(512 * 1024));
    let push_gem = || async {
        app.http
            .post(format!("{}/rubygems/fern/api/v1/gems", app.url))
            .header("authorization", token.as_str())
            .body(big_gem.clone())
            .send()
            .await
            .expect("gem push")
    };
    let jar_path = "/maven/fern/libs/com/example/big/1.0/big-1.0.jar";
    let put_jar = || async {
        app.http
            .put(format!("{}{jar_path}", app.url))
            .basic_auth("fern", Some(&token))
            .body(jar.clone())
            .send()
            .await
            .expect("maven put")
    };

    let npm = npm_publish(&app, &token, "@fern/big", &tgz).await;
    assert_eq!(npm.status(), 507);
    let body: Value = npm.json().await.expect("npm error JSON");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("insufficient storage")),
        "{body}"
    );
    let maven = put_jar().await;
    assert_eq!(maven.status(), 507);
    assert!(
        maven
            .text()
            .await
            .expect("body")
            .contains("insufficient storage")
    );
    let nuget = nuget_push(&app, "fern", &token, pkg.clone()).await;
    assert_eq!(nuget.status(), 507);
    assert!(
        nuget
            .text()
            .await
            .expect("body")
            .contains("insufficient storage")
    );
    let layer = incompressible(512 * 1024);
    assert_eq!(
        oci_push_blob(&app, "fern", &token, "big", &layer).await,
        507
    );
    let rubygems = push_gem().await;
    assert_eq!(rubygems.status(), 507);
    assert!(
        rubygems
            .text()
            .await
            .expect("body")
            .contains("insufficient storage")
    );

    // Nothing half-written: no blob, no staging, no package.
    let stored: Vec<_> = files_under(&blobs)
        .into_iter()
        .filter(|f| !f.starts_with(blobs.join("config")))
        .collect();
    assert!(stored.is_empty(), "{stored:?}");
    assert_eq!(
        app.get(Some(&token), "/npm/@fern%2fbig").await.status(),
        404
    );
    let listed = app
        .gql_ok(
            Some(&token),
            "{ viewer { packages(first: 10) { nodes { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["viewer"]["packages"]["nodes"], json!([]));

    std::fs::remove_file(&filler).expect("free space");
    assert_eq!(
        npm_publish(&app, &token, "@fern/big", &tgz).await.status(),
        201
    );
    assert_eq!(put_jar().await.status(), 201);
    assert_eq!(nuget_push(&app, "fern", &token, pkg).await.status(), 201);
    assert_eq!(
        oci_push_blob(&app, "fern", &token, "big", &layer).await,
        201
    );
    assert_eq!(push_gem().await.status(), 200);
    let got = app
        .http
        .get(format!("{}/rubygems/fern/gems/big-1.0.0.gem", app.url))
        .basic_auth("fern", Some(&token))
        .send()
        .await
        .expect("gem get");
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.expect("gem").as_ref(), big_gem.as_slice());
}
