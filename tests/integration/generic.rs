//! The generic door end to end: upload, download (ranges, counting), duplicates, names,
//! deletion, and flat memory under a 1 GiB upload.
use futures::StreamExt;
use serde_json::json;

use crate::support::{TestApp, peak_rss_kib};

#[tokio::test]
async fn lifecycle() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("alice");

    let put = app
        .put_generic(
            Some(&token),
            "alice/tool/1.0.0/tool.tar.gz",
            "hello packyard",
        )
        .await;
    assert_eq!(put.status(), 201);
    let body: serde_json::Value = put.json().await.expect("json");
    assert_eq!(
        body["sha256"],
        "f3687eb93ae05e15dfdf5476db3a24914b13c002d62c397a8d796e1bfcc5a6cd"
    );
    assert_eq!(body["size"], 14);

    // The same file again is a conflict; another file joins the version.
    let again = app
        .put_generic(Some(&token), "alice/tool/1.0.0/tool.tar.gz", "other bytes")
        .await;
    assert_eq!(again.status(), 409);
    let second = app
        .put_generic(Some(&token), "alice/tool/1.0.0/checksums.txt", "abc")
        .await;
    assert_eq!(second.status(), 201);

    // Private by default: the owner reads, anonymous gets "not found".
    let got = app
        .get(Some(&token), "/generic/alice/tool/1.0.0/tool.tar.gz")
        .await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-length"], "14");
    // Uploaded bytes are downloaded, never rendered as a page of the registry.
    assert_eq!(got.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        got.headers()["content-disposition"],
        "attachment; filename=\"tool.tar.gz\""
    );
    assert!(
        got.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .starts_with("sandbox")
    );
    assert_eq!(got.text().await.expect("body"), "hello packyard");
    // Private: anonymous callers get the challenge (as for a missing package).
    assert_eq!(
        app.get(None, "/generic/alice/tool/1.0.0/tool.tar.gz")
            .await
            .status(),
        401
    );

    // Ranges.
    let ranged = app
        .http
        .get(format!("{}/generic/alice/tool/1.0.0/tool.tar.gz", app.url))
        .bearer_auth(&token)
        .header("Range", "bytes=6-")
        .send()
        .await
        .expect("range");
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.headers()["content-range"], "bytes 6-13/14");
    assert_eq!(ranged.text().await.expect("body"), "packyard");
    let unsatisfiable = app
        .http
        .get(format!("{}/generic/alice/tool/1.0.0/tool.tar.gz", app.url))
        .bearer_auth(&token)
        .header("Range", "bytes=100-")
        .send()
        .await
        .expect("range");
    assert_eq!(unsatisfiable.status(), 416);
    assert_eq!(unsatisfiable.headers()["content-range"], "bytes */14");

    // HEAD.
    let head = app
        .http
        .head(format!("{}/generic/alice/tool/1.0.0/tool.tar.gz", app.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], "14");

    // One full GET counts; the range from the middle, the 416 and HEAD do not.
    let data = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "alice", packageType: GENERIC, name: "tool") {
                   statistics { downloadsTotalCount }
                   version(version: "1.0.0") { files { nodes { name size sha256 md5 sha1 } } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["package"]["statistics"]["downloadsTotalCount"], 1);
    let files = data["package"]["version"]["files"]["nodes"]
        .as_array()
        .expect("files");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["name"], "tool.tar.gz");
    assert_eq!(files[0]["md5"], "783656138e3cf2017c24eb3a66768cd0");
    assert_eq!(
        files[0]["sha256"],
        "f3687eb93ae05e15dfdf5476db3a24914b13c002d62c397a8d796e1bfcc5a6cd"
    );
    assert_eq!(files[0]["size"], 14);

    // Delete one file, then the version: the last version takes the package with it.
    assert_eq!(
        app.delete(Some(&token), "/generic/alice/tool/1.0.0/checksums.txt")
            .await
            .status(),
        204
    );
    assert_eq!(
        app.get(Some(&token), "/generic/alice/tool/1.0.0/checksums.txt")
            .await
            .status(),
        404
    );
    assert_eq!(
        app.delete(Some(&token), "/generic/alice/tool/1.0.0")
            .await
            .status(),
        204
    );
    assert_eq!(
        app.get(Some(&token), "/generic/alice/tool/1.0.0/tool.tar.gz")
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn digests_are_exact() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("bob");
    let put = app.put_generic(Some(&token), "bob/d/1/f", "abc").await;
    let body: serde_json::Value = put.json().await.expect("json");
    assert_eq!(
        body["sha256"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(body["md5"], "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(body["sha1"], "a9993e364706816aba3e25717850c26c9cd0d89d");

    // A declared checksum that doesn't match is refused and leaves nothing behind.
    let bad = app
        .http
        .put(format!("{}/generic/bob/d/2/f", app.url))
        .bearer_auth(&token)
        .header("X-Checksum-Sha256", "00".repeat(32))
        .body("abc")
        .send()
        .await
        .expect("put");
    assert_eq!(bad.status(), 400);
    assert_eq!(
        app.get(Some(&token), "/generic/bob/d/2/f").await.status(),
        404
    );
}

#[tokio::test]
async fn bad_names_are_refused_before_any_io() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("carol");
    for path in [
        "carol/..%2F..%2Fetc/1/f",
        "carol/pkg/1/a%2Fb",
        "carol/pkg/1%2F2/f",
        "carol/.hidden/1/f",
        "Bad_Owner!/pkg/1/f",
        "carol/pkg/1/%00",
        // Names that look like another: a trailing space, a bidi override, a zero-width
        // space.
        "carol/pkg/1/f.txt%20",
        "carol/pkg/1/evil%E2%80%AEtxt.exe",
        "carol/pkg/1/f%E2%80%8B.txt",
    ] {
        let resp = app.put_generic(Some(&token), path, "x").await;
        assert_eq!(resp.status(), 400, "{path}");
        let body: serde_json::Value = resp.json().await.expect("json");
        assert_eq!(body["code"], "BAD_USER_INPUT", "{path}");
    }
    // Unknown owner: not found. Someone else's namespace: forbidden.
    assert_eq!(
        app.put_generic(Some(&token), "nobody/pkg/1/f", "x")
            .await
            .status(),
        404
    );
    app.create_user("dave");
    assert_eq!(
        app.put_generic(Some(&token), "dave/pkg/1/f", "x")
            .await
            .status(),
        403
    );
    // No credentials: 401 with a Basic challenge.
    let anon = app.put_generic(None, "carol/pkg/1/f", "x").await;
    assert_eq!(anon.status(), 401);
    assert!(
        anon.headers()["www-authenticate"]
            .to_str()
            .expect("ascii")
            .starts_with("Basic")
    );
}

#[tokio::test]
async fn size_limit_is_enforced_while_streaming() {
    let app = TestApp::spawn_with(&[("PACKYARD_GENERIC_FILE_BYTES", "1024")]).await;
    let token = app.user_with_token("erin");
    assert_eq!(
        app.put_generic(Some(&token), "erin/p/1/small", vec![0u8; 1024])
            .await
            .status(),
        201
    );
    // Streamed without a length: refused when the limit is crossed.
    let chunks = futures::stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(vec![1u8; 512])));
    let resp = app
        .put_generic(
            Some(&token),
            "erin/p/1/big",
            reqwest::Body::wrap_stream(chunks),
        )
        .await;
    assert_eq!(resp.status(), 413);
    assert_eq!(
        app.get(Some(&token), "/generic/erin/p/1/big")
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn concurrent_publishes_of_one_file_store_one() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("frank");
    let mut handles = Vec::new();
    for i in 0..6 {
        let (http, url, token) = (app.http.clone(), app.url.clone(), token.clone());
        handles.push(tokio::spawn(async move {
            http.put(format!("{url}/generic/frank/race/1/file"))
                .bearer_auth(token)
                .body(format!("content {i}"))
                .send()
                .await
                .expect("put")
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for h in handles {
        statuses.push(h.await.expect("join"));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
}

/// A 1 GiB upload and download stream through the server with flat memory.
#[tokio::test]
async fn one_gibibyte_streams_with_flat_memory() {
    const CHUNK: usize = 1024 * 1024;
    const CHUNKS: usize = 1024;
    let app = TestApp::spawn().await;
    let token = app.user_with_token("gina");
    let body = futures::stream::iter(
        (0..CHUNKS).map(|i| Ok::<_, std::io::Error>(vec![(i % 251) as u8; CHUNK])),
    );
    let resp = app
        .http
        .put(format!("{}/generic/gina/big/1/blob.bin", app.url))
        .bearer_auth(&token)
        .header("Content-Length", (CHUNK * CHUNKS).to_string())
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 201);
    let resp = app.get(Some(&token), "/generic/gina/big/1/blob.bin").await;
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        total += chunk.expect("chunk").len();
    }
    assert_eq!(total, CHUNK * CHUNKS);
    let peak_mib = peak_rss_kib(app.pid()) / 1024;
    eprintln!("1 GiB up and down: server peak RSS {peak_mib} MiB");
    assert!(peak_mib < 100, "server peak RSS {peak_mib} MiB");
}

/// The same server on an S3-compatible blob store (the one scripts/test.sh starts).
#[tokio::test]
async fn runs_on_s3() {
    let Ok(endpoint) = std::env::var("PACKYARD_TEST_S3_ENDPOINT") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the S3 tests: use scripts/test.sh"
        );
        return;
    };
    let bucket =
        std::env::var("PACKYARD_TEST_S3_BUCKET").unwrap_or_else(|_| "packyard-test".into());
    let storage = format!("s3://{bucket}?endpoint={endpoint}&region=us-east-1&allow_http=true");
    let key = std::env::var("AWS_ACCESS_KEY_ID").expect("AWS_ACCESS_KEY_ID");
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").expect("AWS_SECRET_ACCESS_KEY");
    let app = TestApp::spawn_with(&[
        ("PACKYARD_STORAGE_URL", &storage),
        ("AWS_ACCESS_KEY_ID", &key),
        ("AWS_SECRET_ACCESS_KEY", &secret),
    ])
    .await;
    let token = app.user_with_token("sam");
    let payload = vec![7u8; 3 * 1024 * 1024];
    assert_eq!(
        app.put_generic(Some(&token), "sam/s3pkg/1/blob", payload.clone())
            .await
            .status(),
        201
    );
    let got = app.get(Some(&token), "/generic/sam/s3pkg/1/blob").await;
    assert_eq!(got.status(), 200);
    assert_eq!(
        got.bytes().await.expect("body").as_ref(),
        payload.as_slice()
    );
    let ranged = app
        .http
        .get(format!("{}/generic/sam/s3pkg/1/blob", app.url))
        .bearer_auth(&token)
        .header("Range", "bytes=0-9")
        .send()
        .await
        .expect("range");
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.bytes().await.expect("body").len(), 10);
}

/// Garbage collection: purged deletions, blobs staged for refused publishes, and nothing a
/// live file needs.
#[tokio::test]
async fn gc_removes_what_nothing_references() {
    let app = TestApp::spawn_with(&[("PACKYARD_RESTORE_DAYS", "0")]).await;
    let token = app.user_with_token("gus");
    assert_eq!(
        app.put_generic(Some(&token), "gus/keep/1/f", "kept bytes")
            .await
            .status(),
        201
    );
    // Refused after its upload was staged: its blob has no row.
    assert_eq!(
        app.put_generic(Some(&token), "gus/keep/1/f", "refused bytes")
            .await
            .status(),
        409
    );
    assert_eq!(
        app.put_generic(Some(&token), "gus/gone/1/f", "deleted bytes")
            .await
            .status(),
        201
    );
    assert_eq!(
        app.delete(Some(&token), "/generic/gus/gone/1")
            .await
            .status(),
        204
    );
    let blob_files = || {
        let mut n = 0;
        let mut dirs = vec![app.data_dir.path().join("blobs").join("blobs")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    dirs.push(e.path());
                } else {
                    n += 1;
                }
            }
        }
        n
    };
    assert_eq!(blob_files(), 3);
    let out = app.cli(&["gc", "--grace-hours", "0"], None);
    assert!(
        out.contains("purged 1 packages and 1 versions; removed 2 blobs"),
        "{out}"
    );
    assert_eq!(blob_files(), 1);
    let kept = app.get(Some(&token), "/generic/gus/keep/1/f").await;
    assert_eq!(kept.text().await.expect("body"), "kept bytes");
}
