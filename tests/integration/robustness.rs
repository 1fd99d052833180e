//! Hostile ranges, private files on disk, and a blob store that runs out of space.
use std::{os::unix::fs::PermissionsExt, path::Path, process::Command};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::{Backend, TestApp, files_under};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A monolithic OCI blob upload with Basic credentials.
async fn push_blob(
    app: &TestApp,
    user: &str,
    token: &str,
    image: &str,
    data: &[u8],
) -> reqwest::Response {
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
        .expect("blob upload")
}

#[tokio::test]
async fn a_range_ending_at_the_largest_integer_serves_the_whole_file() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("rhea");
    assert_eq!(
        app.put_generic(Some(&token), "rhea/tool/1.0.0/f.bin", "0123456789")
            .await
            .status(),
        201
    );
    let whole = "bytes=0-18446744073709551615";
    let got = app
        .http
        .get(format!("{}/generic/rhea/tool/1.0.0/f.bin", app.url))
        .bearer_auth(&token)
        .header("Range", whole)
        .send()
        .await
        .expect("range");
    assert_eq!(got.status(), 206);
    assert_eq!(got.headers()["content-range"], "bytes 0-9/10");
    assert_eq!(got.text().await.expect("body"), "0123456789");

    let layer = b"layer bytes for a range";
    assert_eq!(
        push_blob(&app, "rhea", &token, "img", layer).await.status(),
        201
    );
    let digest = format!("sha256:{}", sha256_hex(layer));
    let got = app
        .http
        .get(format!("{}/v2/rhea/img/blobs/{digest}", app.url))
        .basic_auth("rhea", Some(&token))
        .header("Range", whole)
        .send()
        .await
        .expect("blob range");
    assert_eq!(got.status(), 206);
    assert_eq!(got.bytes().await.expect("body").as_ref(), layer);
}

#[tokio::test]
async fn the_data_dir_database_and_signing_key_are_private() {
    let outer = tempfile::tempdir().expect("tempdir");
    let data = outer.path().join("fresh-data");
    let data_text = data.display().to_string();
    let mut app = TestApp::spawn_with(&[("PACKYARD_DATA_DIR", &data_text)]).await;
    let token = app.user_with_token("sara");
    // The registry's bearer-token signing key is made on first use.
    let issued = app
        .http
        .get(format!(
            "{}/v2/token?scope=repository:sara/img:pull",
            app.url
        ))
        .basic_auth("sara", Some(&token))
        .send()
        .await
        .expect("token");
    assert_eq!(issued.status(), 200);
    let key = data.join("blobs/config/oci-jwt-secret");
    assert_eq!(mode(&data), 0o700, "data dir");
    assert_eq!(mode(&key), 0o600, "signing key");
    let db = app.data_dir.path().join("packyard.db");
    if Backend::from_env() == Backend::Sqlite {
        assert_eq!(mode(&db), 0o600, "database");
    }

    // An install made by an older build (world-readable) is tightened at start.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    if Backend::from_env() == Backend::Sqlite {
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    app.restart().await;
    let issued = app
        .http
        .get(format!(
            "{}/v2/token?scope=repository:sara/img:pull",
            app.url
        ))
        .basic_auth("sara", Some(&token))
        .send()
        .await
        .expect("token");
    assert_eq!(issued.status(), 200);
    assert_eq!(mode(&data), 0o700, "data dir after restart");
    assert_eq!(mode(&key), 0o600, "signing key after restart");
    if Backend::from_env() == Backend::Sqlite {
        assert_eq!(mode(&db), 0o600, "database after restart");
    }
}

/// A small tmpfs, unmounted (lazily, the server may still hold it) when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(bytes: u64) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}")])
            .arg("tmpfs")
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs (it needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir }
    }

    fn free(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(self.dir.path())
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
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test]
async fn a_full_blob_store_answers_insufficient_storage_and_recovers() {
    let disk = SmallDisk::mount(4 * 1024 * 1024);
    let blobs = disk.dir.path().join("blobs");
    let storage_url = format!("file://{}", blobs.display());
    let app = TestApp::spawn_with(&[("PACKYARD_STORAGE_URL", &storage_url)]).await;
    let token = app.user_with_token("fay");
    let stored = |dir: &Path| -> Vec<_> {
        files_under(dir)
            .into_iter()
            .filter(|f| !f.starts_with(dir.join("config")))
            .collect()
    };

    // Leave less room than the upload needs.
    let filler = disk.dir.path().join("filler");
    let room = 64 * 1024;
    let fill = disk.free().saturating_sub(room);
    std::fs::write(&filler, vec![7u8; fill as usize]).expect("filler");
    let big = vec![1u8; 512 * 1024];

    let refused = app
        .put_generic(Some(&token), "fay/tool/1.0.0/big.bin", big.clone())
        .await;
    assert_eq!(refused.status(), 507);
    let body: Value = refused.json().await.expect("json body");
    assert!(body.to_string().contains("insufficient storage"), "{body}");
    let refused = push_blob(&app, "fay", &token, "img", &big).await;
    assert_eq!(refused.status(), 507);
    let body: Value = refused.json().await.expect("json body");
    assert_eq!(body["errors"][0]["code"], "UNKNOWN", "{body}");

    // Nothing half-written: no blob, no upload left, no file row.
    assert_eq!(stored(&blobs), Vec::<std::path::PathBuf>::new());
    assert_eq!(
        app.get(Some(&token), "/generic/fay/tool/1.0.0/big.bin")
            .await
            .status(),
        404
    );

    // Readiness tells: a store that takes no writes isn't ready.
    let more = disk.free();
    std::fs::write(disk.dir.path().join("filler2"), vec![7u8; more as usize]).ok();
    let ready = app.get(None, "/readyz").await;
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.expect("json");
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("insufficient storage")),
        "{body}"
    );

    // Space returns: ready again, and the same upload succeeds.
    std::fs::remove_file(&filler).expect("rm filler");
    std::fs::remove_file(disk.dir.path().join("filler2")).ok();
    assert_eq!(app.get(None, "/readyz").await.status(), 200);
    assert_eq!(
        app.put_generic(Some(&token), "fay/tool/1.0.0/big.bin", big.clone())
            .await
            .status(),
        201
    );
    assert_eq!(
        push_blob(&app, "fay", &token, "img", &big).await.status(),
        201
    );
    let got = app
        .get(Some(&token), "/generic/fay/tool/1.0.0/big.bin")
        .await;
    assert_eq!(got.bytes().await.expect("body").len(), big.len());
    drop(app);
}
