//! Several replicas on one PostgreSQL database and one S3 bucket (`cluster::Cluster`): what
//! one replica writes, every other serves at once; work started on one finishes on another;
//! background work is done once; a replica's death loses nothing acknowledged.
//! These run in the suite's PostgreSQL pass (they skip, printing why, on SQLite).
use std::{
    collections::BTreeSet,
    process::Command,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest;

use crate::{
    cluster::{Cluster, within},
    support::gem,
};

/// How long a change may take to reach another replica here: the target is ~100 ms, the
/// rest is slack for a loaded CI machine (the measured figure is printed).
const PROPAGATION: Duration = Duration::from_millis(500);

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

async fn gql(c: &Cluster, url: &str, token: &str, query: &str, variables: Value) -> Value {
    let body: Value = c
        .http
        .post(format!("{url}/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("graphql")
        .json()
        .await
        .expect("graphql json");
    assert!(body.get("errors").is_none(), "graphql errors: {body:#}");
    body["data"].clone()
}

async fn package_id(c: &Cluster, token: &str, owner: &str, kind: &str, name: &str) -> String {
    let data = gql(
        c,
        &c.public_url,
        token,
        "query($o: String!, $n: String!, $t: PackageType!) { package(owner: $o, packageType: $t, name: $n) { id } }",
        json!({"o": owner, "n": name, "t": kind}),
    )
    .await;
    data["package"]["id"]
        .as_str()
        .expect("package id")
        .to_string()
}

async fn make_public(c: &Cluster, token: &str, id: &str) {
    gql(
        c,
        &c.public_url,
        token,
        "mutation($id: ID!) { setPackageVisibility(input: {packageId: $id, visibility: PUBLIC}) { package { id } } }",
        json!({"id": id}),
    )
    .await;
}

async fn status_of(c: &Cluster, url: String) -> u16 {
    c.http
        .get(url)
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

/// A `.tgz` holding `package/package.json` and `index.js` for `name@version`.
fn npm_tarball(name: &str, version: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let manifest = json!({"name": name, "version": version, "main": "index.js"}).to_string();
    let index = format!("module.exports = () => '{name}@{version}';\n");
    for (path, data) in [
        ("package/package.json", manifest.as_bytes()),
        ("package/index.js", index.as_bytes()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, data).expect("tar");
    }
    builder.into_inner().expect("tar").finish().expect("gzip")
}

fn npm_publish_document(name: &str, version: &str) -> Value {
    let short = name.rsplit('/').next().expect("name");
    let tgz = npm_tarball(name, version);
    json!({
        "name": name,
        "access": "public",
        "versions": {version: {"name": name, "version": version, "main": "index.js"}},
        "dist-tags": {"latest": version},
        "_attachments": {format!("{short}-{version}.tgz"): {
            "content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(&tgz),
            "length": tgz.len(),
        }},
    })
}

async fn npm_publish(c: &Cluster, url: &str, token: &str, name: &str, version: &str) -> u16 {
    c.http
        .put(format!("{url}/npm/{}", name.replace('/', "%2f")))
        .bearer_auth(token)
        .json(&npm_publish_document(name, version))
        .send()
        .await
        .expect("npm publish")
        .status()
        .as_u16()
}

async fn packument(c: &Cluster, url: &str, name: &str) -> Value {
    let resp = c
        .http
        .get(format!("{url}/npm/{}", name.replace('/', "%2f")))
        .send()
        .await
        .expect("packument");
    assert_eq!(resp.status(), 200, "packument of {name} from {url}");
    resp.json().await.expect("packument json")
}

/// The real `npm` CLI with its own userconfig and cache, against one replica.
fn npm_install(registry: &str, scope: &str, spec: &str) -> String {
    let dir = tempfile::tempdir().expect("npm dir");
    let rc = format!(
        "@{scope}:registry={registry}/npm/\nfund=false\naudit=false\nupdate-notifier=false\n"
    );
    std::fs::write(dir.path().join("npmrc"), rc).expect("npmrc");
    let project = dir.path().join("app");
    std::fs::create_dir_all(&project).expect("app");
    std::fs::write(
        project.join("package.json"),
        r#"{"name":"app","version":"1.0.0","private":true}"#,
    )
    .expect("package.json");
    let local = crate::support::TestApp::repo_root().join(".tools/node/node_modules/.bin/npm");
    let npm = if local.exists() { local } else { "npm".into() };
    let out = Command::new(npm)
        .args(["install", spec])
        .current_dir(&project)
        .env("HOME", dir.path())
        .env("npm_config_userconfig", dir.path().join("npmrc"))
        .env("npm_config_cache", dir.path().join("cache"))
        .env_remove("NPM_CONFIG_REGISTRY")
        .output()
        .expect("npm (run scripts/install-deps.sh)");
    assert!(
        out.status.success(),
        "npm install {spec}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let name = spec.rsplit_once('@').map_or(spec, |(n, _)| n);
    let name = if name.is_empty() { spec } else { name };
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(project.join("node_modules").join(name).join("package.json"))
            .expect("installed package.json"),
    )
    .expect("json");
    manifest["version"].as_str().expect("version").to_string()
}

/// An npm version published on replica A is what `npm install` on replica B gets right
/// after, although B had the package's packument cached; a dist-tag move on A is seen on B
/// within the propagation bound.
#[tokio::test]
async fn replicas_npm_publish_and_dist_tag_reach_the_other_replica_at_once() {
    let Some(c) = Cluster::start("replicas_npm", 2).await else {
        return;
    };
    let token = c.user_with_token("rhea");
    let (a, b) = (c.replica(0).url.clone(), c.replica(1).url.clone());
    let name = "@rhea/greet";
    assert_eq!(npm_publish(&c, &a, &token, name, "1.0.0").await, 201);
    // B serves it at once, and caches it (public package).
    assert_eq!(
        packument(&c, &b, name).await["dist-tags"]["latest"],
        "1.0.0"
    );
    assert_eq!(npm_install(&b, "rhea", name), "1.0.0");

    // A new version on A: B's cached packument must not hide it.
    assert_eq!(npm_publish(&c, &a, &token, name, "1.1.0").await, 201);
    let seen = within(PROPAGATION, "1.1.0 on B", || async {
        packument(&c, &b, name).await["dist-tags"]["latest"] == "1.1.0"
    })
    .await;
    eprintln!("replicas: npm publish on A seen on B after {seen:?}");
    assert_eq!(npm_install(&b, "rhea", name), "1.1.0");

    // A dist-tag move on A.
    assert_eq!(
        packument(&c, &b, name).await["dist-tags"]["latest"],
        "1.1.0"
    );
    let moved = c
        .http
        .put(format!("{a}/npm/-/package/@rhea%2fgreet/dist-tags/latest"))
        .bearer_auth(&token)
        .json(&json!("1.0.0"))
        .send()
        .await
        .expect("dist-tag");
    assert!(moved.status().is_success(), "dist-tag: {}", moved.status());
    let moved_at = within(PROPAGATION, "dist-tag move on B", || async {
        packument(&c, &b, name).await["dist-tags"]["latest"] == "1.0.0"
    })
    .await;
    eprintln!("replicas: dist-tag move on A seen on B after {moved_at:?}");
    assert_eq!(npm_install(&b, "rhea", name), "1.0.0");
}

/// A generic file published on A is served by B at once; deleting the public package on A
/// makes B answer 404 within the propagation bound, although B had it cached.
#[tokio::test]
async fn replicas_generic_publish_and_public_delete_reach_the_other_replica() {
    let Some(c) = Cluster::start("replicas_generic", 2).await else {
        return;
    };
    let token = c.user_with_token("gus");
    let (a, b) = (c.replica(0).url.clone(), c.replica(1).url.clone());
    let put = c
        .http
        .put(format!("{a}/generic/gus/tool/1.0.0/tool.bin"))
        .bearer_auth(&token)
        .body("first")
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), 201);
    let id = package_id(&c, &token, "gus", "GENERIC", "tool").await;
    make_public(&c, &token, &id).await;
    let file = |url: &str| format!("{url}/generic/gus/tool/1.0.0/tool.bin");
    // Anonymous reads on B (cached there: a public package).
    for _ in 0..3 {
        let got = c.http.get(file(&b)).send().await.expect("get");
        assert_eq!(got.status(), 200);
        assert_eq!(got.text().await.expect("body"), "first");
    }
    // A second version on A, read on B at once.
    let put = c
        .http
        .put(format!("{a}/generic/gus/tool/2.0.0/tool.bin"))
        .bearer_auth(&token)
        .body("second")
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), 201);
    let second = within(PROPAGATION, "2.0.0 on B", || async {
        status_of(&c, format!("{b}/generic/gus/tool/2.0.0/tool.bin")).await == 200
    })
    .await;
    eprintln!("replicas: generic publish on A served by B after {second:?}");

    let deleted = c
        .http
        .delete(format!("{a}/api/v3/users/gus/packages/generic/tool"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert!(
        deleted.status().is_success(),
        "delete: {}",
        deleted.status()
    );
    // Anonymous, as the cached reads were: 401 (sign in) or 404, no longer the file.
    let gone = within(PROPAGATION, "deletion on B", || async {
        status_of(&c, file(&b)).await != 200
    })
    .await;
    let with_token = c
        .http
        .get(file(&b))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(with_token.status(), 404);
    eprintln!("replicas: public package deleted on A gone on B after {gone:?}");
}

/// Basic-auth OCI requests against one replica.
async fn oci(
    c: &Cluster,
    url: &str,
    token: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> reqwest::Response {
    let target = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{url}{path}")
    };
    let mut req = c
        .http
        .request(method, target)
        .basic_auth("oscar", Some(token))
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("oci request")
}

async fn oci_image(
    c: &Cluster,
    url: &str,
    token: &str,
    repo: &str,
    tag: &str,
    content: &[u8],
) -> String {
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","c":"{}"}}"#,
        hex::encode(content)
    );
    let mut digests = Vec::new();
    for blob in [config.as_bytes(), content] {
        let digest = sha256(blob);
        let resp = oci(
            c,
            url,
            token,
            Method::POST,
            &format!("/v2/{repo}/blobs/uploads/?digest={digest}"),
            &[],
            blob.to_vec(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        digests.push((digest, blob.len()));
    }
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digests[0].0, "size": digests[0].1},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digests[1].0, "size": digests[1].1}],
    });
    let resp = oci(
        c,
        url,
        token,
        Method::PUT,
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
        manifest.to_string().into_bytes(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    resp.headers()["docker-content-digest"]
        .to_str()
        .expect("digest")
        .to_string()
}

/// An OCI chunked upload started on A gets its next chunk on B and is finished on C; a tag
/// moved on A is what B resolves right after.
#[tokio::test]
async fn replicas_oci_chunked_upload_moves_between_replicas_and_tags_follow() {
    let Some(c) = Cluster::start("replicas_oci", 3).await else {
        return;
    };
    let token = c.user_with_token("oscar");
    let urls: Vec<String> = c.replicas.iter().map(|r| r.url.clone()).collect();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (first, rest) = data.split_at(120_000);
    let (second, third) = rest.split_at(100_000);
    let started = oci(
        &c,
        &urls[0],
        &token,
        Method::POST,
        "/v2/oscar/app/blobs/uploads/",
        &[],
        vec![],
    )
    .await;
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let location = started.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    // The location is relative or names the public host: either way, path only.
    let path = location
        .strip_prefix(&c.public_url)
        .unwrap_or(&location)
        .to_string();
    let mut offset = 0usize;
    let mut next = path.clone();
    for (i, chunk) in [first, second].into_iter().enumerate() {
        let range = format!("{}-{}", offset, offset + chunk.len() - 1);
        let resp = oci(
            &c,
            &urls[i],
            &token,
            Method::PATCH,
            &next,
            &[
                ("content-type", "application/octet-stream"),
                ("content-range", &range),
            ],
            chunk.to_vec(),
        )
        .await;
        assert_eq!(
            resp.status(),
            StatusCode::ACCEPTED,
            "chunk {i} on replica {i}"
        );
        offset += chunk.len();
        let loc = resp.headers()["location"]
            .to_str()
            .expect("location")
            .to_string();
        next = loc.strip_prefix(&c.public_url).unwrap_or(&loc).to_string();
    }
    let digest = sha256(&data);
    let sep = if next.contains('?') { '&' } else { '?' };
    let range = format!("{}-{}", offset, offset + third.len() - 1);
    let done = oci(
        &c,
        &urls[2],
        &token,
        Method::PUT,
        &format!("{next}{sep}digest={digest}"),
        &[
            ("content-type", "application/octet-stream"),
            ("content-range", &range),
        ],
        third.to_vec(),
    )
    .await;
    assert_eq!(
        done.status(),
        StatusCode::CREATED,
        "{}",
        done.text().await.unwrap_or_default()
    );
    for url in &urls {
        let got = oci(
            &c,
            url,
            &token,
            Method::GET,
            &format!("/v2/oscar/app/blobs/{digest}"),
            &[],
            vec![],
        )
        .await;
        assert_eq!(got.status(), StatusCode::OK);
        assert_eq!(got.bytes().await.expect("blob").as_ref(), data.as_slice());
    }

    // A tag moved on A resolves to the new manifest on B at once.
    let old = oci_image(&c, &urls[0], &token, "oscar/web", "stable", b"one").await;
    let resolve = |url: String| {
        let token = token.clone();
        let c = &c;
        async move {
            let r = oci(
                c,
                &url,
                &token,
                Method::HEAD,
                "/v2/oscar/web/manifests/stable",
                &[("accept", "application/vnd.oci.image.manifest.v1+json")],
                vec![],
            )
            .await;
            r.headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        }
    };
    assert_eq!(resolve(urls[1].clone()).await, old);
    let new = oci_image(&c, &urls[0], &token, "oscar/web", "stable", b"two").await;
    assert_ne!(old, new);
    let seen = within(PROPAGATION, "tag move on B", || async {
        resolve(urls[1].clone()).await == new
    })
    .await;
    eprintln!("replicas: OCI tag move on A seen on B after {seen:?}");
}

/// Downloads spread over three replicas are all counted, once each, after the flush.
#[tokio::test]
async fn replicas_download_counts_are_exact_across_replicas() {
    let Some(c) = Cluster::start("replicas_downloads", 3).await else {
        return;
    };
    let token = c.user_with_token("dora");
    let put = c
        .http
        .put(format!("{}/generic/dora/counted/1/f.bin", c.replica(0).url))
        .bearer_auth(&token)
        .body("payload")
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), 201);
    let per_replica = [7u64, 11, 13];
    for (i, n) in per_replica.iter().enumerate() {
        for _ in 0..*n {
            let got = c
                .http
                .get(format!("{}/generic/dora/counted/1/f.bin", c.replica(i).url))
                .bearer_auth(&token)
                .send()
                .await
                .expect("get");
            assert_eq!(got.status(), 200);
            got.bytes().await.expect("body");
        }
    }
    let want: u64 = per_replica.iter().sum();
    // Each replica flushes its own counts every few seconds (and before reading statistics).
    let total = || async {
        let data = gql(
            &c,
            &c.replica(0).url,
            &token,
            r#"{ package(owner: "dora", packageType: GENERIC, name: "counted") { statistics { downloadsTotalCount } } }"#,
            json!({}),
        )
        .await;
        data["package"]["statistics"]["downloadsTotalCount"]
            .as_u64()
            .expect("count")
    };
    let took = within(
        Duration::from_secs(15),
        "every download counted",
        || async { total().await >= want },
    )
    .await;
    eprintln!("replicas: {want} downloads over 3 replicas counted after {took:?}");
    // Not more either, however long we wait past another flush.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(total().await, want);
}

/// Garbage collection runs on one replica at a time: while a collection holds the claim,
/// another (here `packyard gc`, as a replica's job would) skips its turn.
#[tokio::test]
async fn replicas_garbage_collection_is_claimed_by_one_at_a_time() {
    let Some(c) = Cluster::start("replicas_gc", 2).await else {
        return;
    };
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let db = c.db().await;
    let held = db.begin().await.expect("begin");
    let taken = held
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            format!(
                "SELECT pg_try_advisory_xact_lock({}) AS taken",
                0x7061_636b_5f67_6300_i64
            ),
        ))
        .await
        .expect("lock")
        .expect("row")
        .try_get::<bool>("", "taken")
        .expect("taken");
    assert!(taken, "the claim is free at first");
    // A grace far in the past of every blob: the shared bucket's blobs are never touched.
    let skipped = c.cli(&["gc", "--grace-hours", "100000"]);
    assert!(
        skipped.contains("another collection is running"),
        "{skipped}"
    );
    held.rollback().await.expect("release");
    let ran = c.cli(&["gc", "--grace-hours", "100000"]);
    assert!(ran.starts_with("purged"), "{ran}");
}

/// Sends every attempt at once: exactly one gets `win`, every other one of `lose` (the
/// door's conflict answer).
async fn one_winner(
    c: &Cluster,
    door: &str,
    attempts: Vec<reqwest::RequestBuilder>,
    win: u16,
    lose: &[u16],
) {
    let results = futures::future::join_all(attempts.into_iter().map(|r| async move {
        let resp = r.send().await.expect("publish");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }))
    .await;
    let wins = results.iter().filter(|(s, _)| *s == win).count();
    let others: Vec<&(u16, String)> = results.iter().filter(|(s, _)| *s != win).collect();
    assert_eq!(wins, 1, "{door}: {wins} winners: {results:?}");
    for (s, body) in &others {
        assert!(lose.contains(s), "{door}: a loser got {s}: {body}");
    }
    let _ = c;
}

/// 32 clients spread over three replicas publish the same version at once on each door:
/// exactly one wins, the others get the door's conflict answer.
#[tokio::test]
async fn replicas_32_concurrent_publishes_of_one_version_have_one_winner_on_every_door() {
    let Some(c) = Cluster::start("replicas_race", 3).await else {
        return;
    };
    let token = c.user_with_token("rita");
    let urls: Vec<String> = c.replicas.iter().map(|r| r.url.clone()).collect();
    let on = |i: usize| urls[i % urls.len()].clone();

    // generic: one file name, different bodies
    let attempts = (0..32)
        .map(|i| {
            c.http
                .put(format!("{}/generic/rita/race/1.0.0/file.bin", on(i)))
                .bearer_auth(&token)
                .body(format!("body {i}"))
        })
        .collect();
    one_winner(&c, "generic", attempts, 201, &[409]).await;

    // npm: the same version
    let attempts = (0..32)
        .map(|i| {
            c.http
                .put(format!("{}/npm/@rita%2frace", on(i)))
                .bearer_auth(&token)
                .json(&npm_publish_document("@rita/race", "1.0.0"))
        })
        .collect();
    one_winner(&c, "npm", attempts, 201, &[403, 409]).await;

    // maven: one release artifact, deployed 32 times
    c.cli(&["admin", "create-repository", "rita/libs"]);
    let attempts = (0..32)
        .map(|i| {
            c.http
                .put(format!(
                    "{}/maven/rita/libs/org/rita/race/1.0.0/race-1.0.0.jar",
                    on(i)
                ))
                .basic_auth("rita", Some(&token))
                .body(format!("jar {i}"))
        })
        .collect();
    one_winner(&c, "maven", attempts, 201, &[409]).await;

    // NuGet: one id and version, 32 packages (their descriptions differ)
    let attempts = (0..32)
        .map(|i| {
            let nuspec = format!(
                "<?xml version=\"1.0\"?><package><metadata><id>Rita.Race</id><version>1.0.0</version>\
                 <authors>Rita</authors><description>attempt {i}</description></metadata></package>"
            );
            nuget_push(&c, &on(i), &token, nupkg(&[("Rita.Race.nuspec", nuspec.as_bytes())]))
        })
        .collect();
    one_winner(&c, "nuget", attempts, 201, &[409]).await;

    // RubyGems: one name, version and platform, 32 gems (their summaries differ)
    let attempts = (0..32)
        .map(|i| {
            c.http
                .post(format!("{}/rubygems/rita/api/v1/gems", on(i)))
                .header("authorization", token.clone())
                .body(gem("race", "1.0.0", &format!("attempt {i}"), b""))
        })
        .collect();
    one_winner(&c, "rubygems", attempts, 200, &[409]).await;

    // OCI: one tag pushed at once from 8 clients with different images is last-writer-wins
    // by the spec (every push succeeds); the tag ends on one of them, served whole by all.
    let pushes = (0..8).map(|i| {
        let (c, token, url) = (&c, token.clone(), on(i));
        async move {
            oci_image(
                c,
                &url,
                &token,
                "rita/race",
                "v1",
                format!("img {i}").as_bytes(),
            )
            .await
        }
    });
    let digests: BTreeSet<String> = futures::future::join_all(pushes)
        .await
        .into_iter()
        .collect();
    assert_eq!(digests.len(), 8);
    let mut seen = BTreeSet::new();
    for url in &urls {
        let tag = oci(
            &c,
            url,
            &token,
            Method::GET,
            "/v2/rita/race/manifests/v1",
            &[("accept", "application/vnd.oci.image.manifest.v1+json")],
            vec![],
        )
        .await;
        assert_eq!(tag.status(), StatusCode::OK);
        seen.insert(
            tag.headers()["docker-content-digest"]
                .to_str()
                .expect("digest")
                .to_string(),
        );
    }
    assert_eq!(
        seen.len(),
        1,
        "every replica resolves the tag alike: {seen:?}"
    );
    assert!(digests.is_superset(&seen));
}

fn nupkg(files: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .expect("zip entry");
        w.write_all(data).expect("zip write");
    }
    w.finish().expect("zip").into_inner()
}

fn nuget_push(c: &Cluster, url: &str, token: &str, nupkg: Vec<u8>) -> reqwest::RequestBuilder {
    let boundary = "packyard-replicas-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"package\"; filename=\"package.nupkg\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&nupkg);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    c.http
        .put(format!("{url}/nuget/rita/api/v2/package"))
        .header("X-NuGet-ApiKey", token)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
}

/// A generic upload whose replica is killed (SIGKILL) midway leaves nothing visible on the
/// others, and the client's retry on another replica succeeds.
#[tokio::test]
async fn replicas_sigkill_mid_upload_leaves_nothing_and_the_retry_elsewhere_succeeds() {
    let Some(mut c) = Cluster::start("replicas_sigkill", 2).await else {
        return;
    };
    let token = c.user_with_token("kim");
    let (a, b) = (c.replica(0).url.clone(), c.replica(1).url.clone());
    let chunk = vec![42u8; 256 * 1024];
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let upload = {
        let http = c.http.clone();
        let token = token.clone();
        let a = a.clone();
        tokio::spawn(async move {
            http.put(format!("{a}/generic/kim/big/1.0.0/big.bin"))
                .bearer_auth(&token)
                .header("content-length", (64 * chunk_len()).to_string())
                .body(reqwest::Body::wrap_stream(tokio_stream(rx)))
                .send()
                .await
        })
    };
    for _ in 0..8 {
        tx.send(Ok(chunk.clone())).await.expect("chunk");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.kill(0);
    drop(tx);
    let result = upload.await.expect("task");
    assert!(
        result.map_or(true, |r| !r.status().is_success()),
        "a killed upload was acknowledged"
    );
    let nothing = c
        .http
        .get(format!("{b}/generic/kim/big/1.0.0/big.bin"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(nothing.status(), 404, "a killed upload is not visible");
    let retry = c
        .http
        .put(format!("{b}/generic/kim/big/1.0.0/big.bin"))
        .bearer_auth(&token)
        .body(vec![42u8; 64 * chunk_len()])
        .send()
        .await
        .expect("retry");
    assert_eq!(retry.status(), 201);
    let got = c
        .http
        .get(format!("{b}/generic/kim/big/1.0.0/big.bin"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(got.bytes().await.expect("body").len(), 64 * chunk_len());
}

fn chunk_len() -> usize {
    256 * 1024
}

fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Every replica restarted in turn while writers publish through the load balancer and
/// readers read: every acknowledged write is there afterwards, on every replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_rolling_restart_under_load_drops_no_acknowledged_write() {
    let Some(mut c) = Cluster::start("replicas_rolling", 3).await else {
        return;
    };
    let token = c.user_with_token("rolf");
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut writers = Vec::new();
    for w in 0..4 {
        let (http, token, public, acked, stop) = (
            c.http.clone(),
            token.clone(),
            c.public_url.clone(),
            acked.clone(),
            stop.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut failed = 0u32;
            for n in 0.. {
                if stop.is_cancelled() {
                    break;
                }
                let path = format!("rolf/steady/{w}.{n}/f.txt");
                let body = format!("writer {w} write {n}");
                match http
                    .put(format!("{public}/generic/{path}"))
                    .bearer_auth(&token)
                    .body(body.clone())
                    .send()
                    .await
                {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        acked.lock().expect("acked").push((path, body));
                    }
                    // A connection cut by a stopping replica, or a 503 while it drains:
                    // not acknowledged, so nothing is promised.
                    _ => failed += 1,
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            failed
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..c.replicas.len() {
        c.restart(i).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop.cancel();
    let mut failed = 0;
    for w in writers {
        failed += w.await.expect("writer");
    }
    let acked = acked.lock().expect("acked").clone();
    eprintln!(
        "replicas: rolling restart of 3 replicas: {} writes acknowledged, {failed} not",
        acked.len()
    );
    assert!(acked.len() > 20, "the load ran");
    for (path, body) in &acked {
        for r in &c.replicas {
            let got = c
                .http
                .get(format!("{}/generic/{path}", r.url))
                .bearer_auth(&token)
                .send()
                .await
                .expect("get");
            assert_eq!(got.status(), 200, "{path} lost");
            assert_eq!(&got.text().await.expect("body"), body);
        }
    }
}
