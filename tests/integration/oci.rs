//! The container registry driven by skopeo, podman, buildah and docker, plus protocol tests
//! for what the clients don't reach.
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};

use crate::support::TestApp;

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

fn need(tool: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(found, "{tool} is missing: run scripts/install-deps.sh");
}

pub(crate) fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run client");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub(crate) fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run client");
    assert!(
        !out.status.success(),
        "{cmd:?} should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A tiny gzip'd tar layer holding one file.
fn layer(file: &str, content: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, file, content)
        .expect("append");
    builder.into_inner().expect("tar").finish().expect("gzip")
}

/// An OCI image layout on disk with one image per (tag, arch), and optionally an index.
pub(crate) struct Layout {
    dir: PathBuf,
    index: Vec<Value>,
}

impl Layout {
    pub(crate) fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir.join("blobs/sha256")).expect("layout dir");
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("oci-layout");
        Self {
            dir: dir.to_path_buf(),
            index: Vec::new(),
        }
    }

    fn blob(&self, data: &[u8]) -> Value {
        let digest = sha256(data);
        std::fs::write(self.dir.join("blobs/sha256").join(&digest[7..]), data).expect("blob");
        json!({"digest": digest, "size": data.len()})
    }

    /// Writes an image; returns its manifest descriptor.
    pub(crate) fn image(&self, arch: &str, content: &[u8], annotations: Value) -> Value {
        let layer = layer("hello.txt", content);
        let diff_id = {
            let mut tar = Vec::new();
            std::io::copy(
                &mut flate2::read::GzDecoder::new(layer.as_slice()),
                &mut tar,
            )
            .expect("gunzip");
            sha256(&tar)
        };
        let config = json!({
            "architecture": arch, "os": "linux",
            "config": {"Labels": {"org.opencontainers.image.licenses": "Apache-2.0"}},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        });
        let mut config_desc = self.blob(config.to_string().as_bytes());
        config_desc["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
        let mut layer_desc = self.blob(&layer);
        layer_desc["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config_desc,
            "layers": [layer_desc],
            "annotations": annotations,
        });
        let mut desc = self.blob(manifest.to_string().as_bytes());
        desc["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
        desc["platform"] = json!({"architecture": arch, "os": "linux"});
        desc
    }

    pub(crate) fn tag(&mut self, tag: &str, mut descriptor: Value) {
        descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        self.index.push(descriptor);
        let index = json!({"schemaVersion": 2, "manifests": self.index});
        std::fs::write(self.dir.join("index.json"), index.to_string()).expect("index.json");
    }

    /// An image index over several manifests.
    fn multi(&self, manifests: Vec<Value>) -> Value {
        let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
        let mut desc = self.blob(index.to_string().as_bytes());
        desc["mediaType"] = json!("application/vnd.oci.image.index.v1+json");
        desc
    }
}

pub(crate) fn skopeo(home: &Path) -> Command {
    need("skopeo");
    let mut cmd = Command::new("skopeo");
    cmd.env("HOME", home)
        .env("REGISTRY_AUTH_FILE", home.join("auth.json"))
        .env("XDG_RUNTIME_DIR", home);
    cmd
}

pub(crate) fn host(app: &TestApp) -> String {
    format!("127.0.0.1:{}", app.port)
}

#[tokio::test]
async fn skopeo_push_inspect_pull_delete_and_multi_platform() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("sky");
    let work = tempfile::tempdir().expect("tempdir");
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let mut layout = Layout::new(&work.path().join("layout"));
    let amd = layout.image(
        "amd64",
        b"hello amd64",
        json!({"org.opencontainers.image.description": "a test image"}),
    );
    let arm = layout.image("arm64", b"hello arm64", json!({}));
    layout.tag("v1", amd.clone());
    let index = layout.multi(vec![amd.clone(), arm.clone()]);
    layout.tag("multi", index.clone());
    let creds = format!("sky:{token}");
    let registry = host(&app);
    let src = |tag: &str| format!("oci:{}:{tag}", work.path().join("layout").display());

    // OCI and Docker v2s2 pushes.
    run(skopeo(&home).args([
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds,
        &src("v1"),
        &format!("docker://{registry}/sky/tools/hello:v1"),
    ]));
    run(skopeo(&home).args([
        "copy",
        "--format",
        "v2s2",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds,
        &src("v1"),
        &format!("docker://{registry}/sky/tools/hello:docker"),
    ]));
    let raw = run(skopeo(&home).args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("docker://{registry}/sky/tools/hello:docker"),
    ]));
    let raw: Value = serde_json::from_slice(&raw.stdout).expect("manifest json");
    assert_eq!(
        raw["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let inspect = run(skopeo(&home).args([
        "inspect",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("docker://{registry}/sky/tools/hello:v1"),
    ]));
    let inspect: Value = serde_json::from_slice(&inspect.stdout).expect("inspect json");
    assert_eq!(inspect["Digest"], amd["digest"]);
    assert_eq!(inspect["Architecture"], "amd64");
    let tags = run(skopeo(&home).args([
        "list-tags",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("docker://{registry}/sky/tools/hello"),
    ]));
    let tags: Value = serde_json::from_slice(&tags.stdout).expect("tags json");
    assert_eq!(tags["Tags"], json!(["docker", "v1"]));

    // Pull back into a layout: the same layer bytes.
    let pulled = work.path().join("pulled");
    run(skopeo(&home).args([
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        &creds,
        &format!("docker://{registry}/sky/tools/hello:v1"),
        &format!("oci:{}:v1", pulled.display()),
    ]));
    let layer_digest = {
        let manifest: Value = serde_json::from_slice(
            &std::fs::read(
                work.path()
                    .join("layout/blobs/sha256")
                    .join(&amd["digest"].as_str().expect("d")[7..]),
            )
            .expect("m"),
        )
        .expect("json");
        manifest["layers"][0]["digest"]
            .as_str()
            .expect("layer")
            .to_string()
    };
    assert!(
        pulled
            .join("blobs/sha256")
            .join(&layer_digest[7..])
            .exists(),
        "pulled layer present"
    );

    // A multi-platform index, pushed and pulled with every platform.
    run(skopeo(&home).args([
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--dest-creds",
        &creds,
        &src("multi"),
        &format!("docker://{registry}/sky/tools/hello:multi"),
    ]));
    let raw = run(skopeo(&home).args([
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("docker://{registry}/sky/tools/hello:multi"),
    ]));
    let raw: Value = serde_json::from_slice(&raw.stdout).expect("index json");
    assert_eq!(raw["manifests"].as_array().expect("manifests").len(), 2);
    let all = work.path().join("all");
    run(skopeo(&home).args([
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--src-creds",
        &creds,
        &format!("docker://{registry}/sky/tools/hello:multi"),
        &format!("oci:{}:multi", all.display()),
    ]));
    assert!(
        all.join("blobs/sha256")
            .join(&arm["digest"].as_str().expect("d")[7..])
            .exists()
    );

    // GraphQL: versions with tags and files, metadata from annotations and labels, downloads.
    let data = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "sky", packageType: CONTAINER, name: "tools/hello") { visibility statistics { downloadsTotalCount }
                 versions(first: 10) { totalCount nodes { version tags { name } files { nodes { name } } summary license } } } }"#,
            json!({}),
        )
        .await;
    let pkg = &data["package"];
    assert_eq!(pkg["visibility"], "PRIVATE");
    assert!(
        pkg["statistics"]["downloadsTotalCount"]
            .as_i64()
            .expect("n")
            >= 2
    );
    let versions = pkg["versions"]["nodes"].as_array().expect("versions");
    let v1 = versions
        .iter()
        .find(|v| v["version"] == amd["digest"])
        .expect("amd64 manifest is a version");
    assert!(
        v1["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .any(|t| t["name"] == "v1")
    );
    assert_eq!(v1["summary"], "a test image");
    assert_eq!(v1["license"], "Apache-2.0");
    assert_eq!(
        v1["files"]["nodes"].as_array().expect("files").len(),
        3,
        "manifest, config and layer"
    );

    // Delete by tag: untag only. Delete by digest: the version goes (skopeo delete).
    let untag = app
        .http
        .delete(format!("{}/v2/sky/tools/hello/manifests/docker", app.url))
        .basic_auth("sky", Some(&token))
        .send()
        .await
        .expect("delete");
    assert_eq!(untag.status(), 202);
    run(skopeo(&home).args([
        "delete",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("docker://{registry}/sky/tools/hello:v1"),
    ]));
    let gone = skopeo(&home)
        .args([
            "inspect",
            "--tls-verify=false",
            "--creds",
            &creds,
            &format!(
                "docker://{registry}/sky/tools/hello@{}",
                amd["digest"].as_str().expect("d")
            ),
        ])
        .output()
        .expect("run");
    assert!(!gone.status.success());
}

#[tokio::test]
async fn public_private_and_read_only_access() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("pat");
    let read_only = app.token("pat", "read:packages");
    let work = tempfile::tempdir().expect("tempdir");
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let mut layout = Layout::new(&work.path().join("layout"));
    let img = layout.image("amd64", b"access", json!({}));
    layout.tag("v1", img);
    let src = format!("oci:{}:v1", work.path().join("layout").display());
    let registry = host(&app);
    let creds = format!("pat:{token}");
    for name in ["open", "closed"] {
        run(skopeo(&home).args([
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds,
            &src,
            &format!("docker://{registry}/pat/{name}:v1"),
        ]));
    }
    let id = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "pat", packageType: CONTAINER, name: "open") { id } }"#,
            json!({}),
        )
        .await["package"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.gql_ok(Some(&token), r#"mutation($p: ID!) { setPackageVisibility(input: {packageId: $p, visibility: PUBLIC}) { package { id } } }"#, json!({"p": id})).await;

    // Anonymous: public pulls, private fails.
    run(skopeo(&home).args([
        "inspect",
        "--tls-verify=false",
        "--no-creds",
        &format!("docker://{registry}/pat/open:v1"),
    ]));
    let err = fails(skopeo(&home).args([
        "inspect",
        "--tls-verify=false",
        "--no-creds",
        &format!("docker://{registry}/pat/closed:v1"),
    ]));
    assert!(
        err.contains("unauthorized") || err.contains("401") || err.contains("not found"),
        "{err}"
    );
    // A read-only token pulls the private image but can't push.
    let ro = format!("pat:{read_only}");
    run(skopeo(&home).args([
        "inspect",
        "--tls-verify=false",
        "--creds",
        &ro,
        &format!("docker://{registry}/pat/closed:v1"),
    ]));
    let err = fails(skopeo(&home).args([
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &ro,
        &src,
        &format!("docker://{registry}/pat/closed:v2"),
    ]));
    assert!(
        err.to_lowercase().contains("denied") || err.contains("unauthorized"),
        "{err}"
    );
    // The token endpoint grants exactly what policy allows.
    let anon: Value = app.get(None, "/v2/token?service=x&scope=repository:pat/closed:pull&scope=repository:pat/open:pull,push").await.json().await.expect("json");
    let token_body = anon["token"].as_str().expect("token");
    let claims: Value = {
        use base64::Engine;
        let payload = token_body.split('.').nth(1).expect("payload");
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .expect("b64"),
        )
        .expect("json")
    };
    assert_eq!(
        claims["access"],
        json!([{"type": "repository", "name": "pat/open", "actions": ["pull"]}])
    );
    let bad = app
        .http
        .get(format!(
            "{}/v2/token?scope=repository:pat/open:pull",
            app.url
        ))
        .basic_auth("pat", Some("pky_wrong"))
        .send()
        .await
        .expect("get");
    assert_eq!(bad.status(), 401);

    // A bearer token speaks for the access token it was issued from, checked on every
    // request: revoking that token ends the bearer token at once, not when it expires.
    let made = app
        .gql_ok(Some(&token), r#"mutation { createAccessToken(input: {name: "ci", scopes: ["read:packages"], packagePatterns: ["closed"]}) { token accessToken { id } } }"#, json!({}))
        .await;
    let limited = made["createAccessToken"]["token"].as_str().expect("token");
    let limited_id = made["createAccessToken"]["accessToken"]["id"]
        .as_str()
        .expect("id");
    let bearer: Value = app
        .http
        .get(format!(
            "{}/v2/token?scope=repository:pat/closed:pull",
            app.url
        ))
        .basic_auth("pat", Some(limited))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let bearer = bearer["token"].as_str().expect("token").to_string();
    let manifest = |name: &'static str| {
        app.http
            .get(format!("{}/v2/pat/{name}/manifests/v1", app.url))
            .bearer_auth(&bearer)
            .header("Accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
    };
    assert_eq!(manifest("closed").await.expect("get").status(), 200);
    app.gql_ok(
        Some(&token),
        r#"mutation($id: ID!) { revokeAccessToken(input: {accessTokenId: $id}) { accessToken { revokedAt } } }"#,
        json!({"id": limited_id}),
    )
    .await;
    let after = manifest("closed").await.expect("get");
    assert_eq!(after.status(), 401);
    assert!(after.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn podman_and_buildah_build_push_pull() {
    need("podman");
    need("buildah");
    let app = TestApp::spawn().await;
    let token = app.user_with_token("pod");
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    std::fs::create_dir_all(dir.join("ctx/rootfs")).expect("ctx");
    std::fs::write(dir.join("ctx/rootfs/hello.txt"), "hello from buildah").expect("file");
    std::fs::write(dir.join("auth.json"), "{}").expect("auth file");
    std::fs::write(dir.join("ctx/Dockerfile"), "FROM scratch\nCOPY rootfs/ /\nLABEL org.opencontainers.image.description=\"built by buildah\"\n").expect("Dockerfile");
    let registry = host(&app);
    let store = |cmd: &mut Command| {
        cmd.args([
            "--root",
            &dir.join("root").display().to_string(),
            "--runroot",
            &dir.join("run").display().to_string(),
            "--storage-driver",
            "vfs",
        ])
        .env("HOME", dir)
        .env("XDG_RUNTIME_DIR", dir)
        .env("REGISTRY_AUTH_FILE", dir.join("auth.json"))
        .env("BUILDAH_ISOLATION", "chroot");
    };
    let buildah = |args: &[&str]| {
        let mut c = Command::new("buildah");
        store(&mut c);
        c.args(args);
        c
    };
    let podman = |args: &[&str]| {
        let mut c = Command::new("podman");
        store(&mut c);
        c.args(args);
        c
    };
    let image = format!("{registry}/pod/built:1");
    run(&mut buildah(&[
        "bud",
        "--isolation",
        "chroot",
        "-t",
        &image,
        &dir.join("ctx").display().to_string(),
    ]));
    run(&mut buildah(&[
        "push",
        "--tls-verify=false",
        "--creds",
        &format!("pod:{token}"),
        &image,
    ]));
    // podman: login, pull what buildah pushed, push it under another name, pull that.
    let mut login = podman(&[
        "login",
        "--tls-verify=false",
        "-u",
        "pod",
        "--password-stdin",
        &registry,
    ]);
    login
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().expect("podman login");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), token.as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("login output");
    assert!(
        out.status.success(),
        "podman login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    run(&mut podman(&["rmi", &image]));
    run(&mut podman(&["pull", "--tls-verify=false", &image]));
    let copy = format!("{registry}/pod/copy:2");
    run(&mut podman(&["tag", &image, &copy]));
    run(&mut podman(&["push", "--tls-verify=false", &copy]));
    run(&mut podman(&["rmi", &copy, &image]));
    run(&mut podman(&["pull", "--tls-verify=false", &copy]));
    let data = app.gql_ok(Some(&token), r#"{ package(owner: "pod", packageType: CONTAINER, name: "built") { latestVersion { summary } } }"#, json!({})).await;
    assert_eq!(
        data["package"]["latestVersion"]["summary"],
        "built by buildah"
    );
}

#[tokio::test]
async fn docker_login_build_push_pull() {
    need("dockerd");
    need("docker");
    let app = TestApp::spawn().await;
    let token = app.user_with_token("dock");
    let work = tempfile::tempdir().expect("tempdir");
    let d = work.path();
    let registry = host(&app);
    let sock = d.join("d.sock");
    let mut daemon = Command::new("dockerd")
        .args([
            "--data-root",
            &d.join("data").display().to_string(),
            "--exec-root",
            &d.join("exec").display().to_string(),
        ])
        .args([
            "-H",
            &format!("unix://{}", sock.display()),
            "--pidfile",
            &d.join("d.pid").display().to_string(),
        ])
        .args([
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
            "--insecure-registry",
            &registry,
        ])
        .stdout(std::fs::File::create(d.join("dockerd.log")).expect("log"))
        .stderr(std::fs::File::create(d.join("dockerd.err")).expect("log"))
        .spawn()
        .expect("start dockerd");
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(&mut daemon);
    let docker = |args: &[&str]| {
        let mut c = Command::new("docker");
        c.args(args)
            .env("DOCKER_HOST", format!("unix://{}", sock.display()))
            .env("DOCKER_CONFIG", d.join("cfg"))
            .env("DOCKER_BUILDKIT", "0")
            .env("HOME", d);
        c
    };
    // dockerd starts in about a second; a loaded CI machine gets a minute.
    let up = (0..300).any(|_| {
        let ok = docker(&["info"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        ok
    });
    assert!(
        up,
        "dockerd did not come up in 60 s:\n{}",
        std::fs::read_to_string(d.join("dockerd.err")).unwrap_or_default()
    );
    std::fs::create_dir_all(d.join("ctx")).expect("ctx");
    std::fs::write(d.join("ctx/hello.txt"), "hello from docker").expect("file");
    std::fs::write(d.join("ctx/Dockerfile"), "FROM scratch\nCOPY hello.txt /\n")
        .expect("Dockerfile");
    let mut login = docker(&["login", "-u", "dock", "--password-stdin", &registry]);
    login
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().expect("docker login");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), token.as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("login");
    assert!(
        out.status.success(),
        "docker login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let image = format!("{registry}/dock/app:1.0");
    run(&mut docker(&[
        "build",
        "-q",
        "-t",
        &image,
        &d.join("ctx").display().to_string(),
    ]));
    let pushed = run(&mut docker(&["push", &image]));
    let pushed = String::from_utf8_lossy(&pushed.stdout).to_string();
    let digest = pushed
        .split("digest: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("digest in push output")
        .to_string();
    run(&mut docker(&["rmi", &image]));
    run(&mut docker(&["pull", &image]));
    run(&mut docker(&[
        "pull",
        &format!("{registry}/dock/app@{digest}"),
    ]));
    let data = app.gql_ok(Some(&token), r#"{ package(owner: "dock", packageType: CONTAINER, name: "app") { versions { nodes { version tags { name } } } } }"#, json!({})).await;
    assert_eq!(data["package"]["versions"]["nodes"][0]["version"], digest);
}

/// A client for protocol tests: Basic credentials straight to `/v2`.
struct Registry<'a> {
    app: &'a TestApp,
    user: &'a str,
    token: &'a str,
}

impl Registry<'_> {
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> reqwest::Response {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.app.url)
        };
        let mut req = self
            .app
            .http
            .request(method, url)
            .basic_auth(self.user, Some(self.token))
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.expect("request")
    }

    async fn push_blob(&self, name: &str, data: &[u8]) -> String {
        let digest = sha256(data);
        let resp = self
            .send(
                Method::POST,
                &format!("/v2/{name}/blobs/uploads/?digest={digest}"),
                &[],
                data.to_vec(),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        digest
    }

    async fn push_manifest(
        &self,
        name: &str,
        reference: &str,
        manifest: &Value,
    ) -> reqwest::Response {
        let media = manifest["mediaType"]
            .as_str()
            .expect("mediaType")
            .to_string();
        self.send(
            Method::PUT,
            &format!("/v2/{name}/manifests/{reference}"),
            &[("content-type", &media)],
            manifest.to_string().into_bytes(),
        )
        .await
    }

    async fn image(&self, name: &str, tag: &str, content: &[u8]) -> String {
        let config = self
            .push_blob(
                name,
                format!(
                    r#"{{"architecture":"amd64","os":"linux","c":"{}"}}"#,
                    hex::encode(content)
                )
                .as_bytes(),
            )
            .await;
        let layer = self.push_blob(name, content).await;
        let manifest = json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 10},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": content.len()}],
        });
        let resp = self.push_manifest(name, tag, &manifest).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.headers()["docker-content-digest"]
            .to_str()
            .expect("digest")
            .to_string()
    }
}

fn error_code(body: &Value) -> &str {
    body["errors"][0]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no OCI error in {body}"))
}

#[tokio::test]
async fn uploads_chunks_ranges_and_restarts() {
    let mut app = TestApp::spawn().await;
    let token = app.user_with_token("una");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let digest = sha256(&data);
    let session_url = {
        let reg = Registry {
            app: &app,
            user: "una",
            token: &token,
        };
        let start = reg
            .send(Method::POST, "/v2/una/chunky/blobs/uploads/", &[], vec![])
            .await;
        assert_eq!(start.status(), StatusCode::ACCEPTED);
        assert!(start.headers().contains_key("oci-chunk-min-length"));
        let location = start.headers()["location"]
            .to_str()
            .expect("location")
            .to_string();
        let first = reg
            .send(
                Method::PATCH,
                &location,
                &[
                    ("content-range", "0-99999"),
                    ("content-type", "application/octet-stream"),
                ],
                data[..100_000].to_vec(),
            )
            .await;
        assert_eq!(first.status(), StatusCode::ACCEPTED);
        assert_eq!(first.headers()["range"], "0-99999");
        // Out of order: 416 with the current range.
        let skip = reg
            .send(
                Method::PATCH,
                &location,
                &[("content-range", "200000-299999")],
                data[200_000..].to_vec(),
            )
            .await;
        assert_eq!(skip.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(skip.headers()["range"], "0-99999");
        location
    };
    // The session survives a restart.
    app.restart().await;
    let reg = Registry {
        app: &app,
        user: "una",
        token: &token,
    };
    let status = reg.send(Method::GET, &session_url, &[], vec![]).await;
    assert_eq!(status.status(), StatusCode::NO_CONTENT);
    assert_eq!(status.headers()["range"], "0-99999");
    let second = reg
        .send(
            Method::PATCH,
            &session_url,
            &[("content-range", "100000-199999")],
            data[100_000..200_000].to_vec(),
        )
        .await;
    assert_eq!(second.status(), StatusCode::ACCEPTED);
    // A wrong digest is refused.
    let wrong = reg
        .send(
            Method::PUT,
            &format!("{session_url}?digest={}", sha256(b"nope")),
            &[],
            data[200_000..].to_vec(),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        error_code(&wrong.json().await.expect("json")),
        "DIGEST_INVALID"
    );
    // Start over: chunks then a final PUT carrying the last chunk.
    let start = reg
        .send(Method::POST, "/v2/una/chunky/blobs/uploads/", &[], vec![])
        .await;
    let location = start.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    reg.send(Method::PATCH, &location, &[], data[..150_000].to_vec())
        .await;
    let done = reg
        .send(
            Method::PUT,
            &format!("{location}?digest={digest}"),
            &[],
            data[150_000..].to_vec(),
        )
        .await;
    assert_eq!(done.status(), StatusCode::CREATED);
    assert_eq!(done.headers()["docker-content-digest"], digest.as_str());
    // Range reads of the blob.
    let head = reg
        .send(
            Method::HEAD,
            &format!("/v2/una/chunky/blobs/{digest}"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(head.headers()["content-length"], "300000");
    let part = reg
        .send(
            Method::GET,
            &format!("/v2/una/chunky/blobs/{digest}"),
            &[("range", "bytes=10-19")],
            vec![],
        )
        .await;
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.expect("body").as_ref(), &data[10..20]);
    // A cancelled upload is gone.
    let start = reg
        .send(Method::POST, "/v2/una/chunky/blobs/uploads/", &[], vec![])
        .await;
    let location = start.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    assert_eq!(
        reg.send(Method::DELETE, &location, &[], vec![])
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let gone = reg.send(Method::GET, &location, &[], vec![]).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        error_code(&gone.json().await.expect("json")),
        "BLOB_UPLOAD_UNKNOWN"
    );
    // sha512 digests.
    let sha512 = format!("sha512:{}", hex::encode(Sha512::digest(b"five twelve")));
    let resp = reg
        .send(
            Method::POST,
            &format!("/v2/una/chunky/blobs/uploads/?digest={sha512}"),
            &[],
            b"five twelve".to_vec(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let got = reg
        .send(
            Method::GET,
            &format!("/v2/una/chunky/blobs/{sha512}"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(got.bytes().await.expect("body").as_ref(), b"five twelve");
}

#[tokio::test]
async fn manifests_tags_referrers_mounts_and_errors() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("mo");
    let other = app.user_with_token("ned");
    let reg = Registry {
        app: &app,
        user: "mo",
        token: &token,
    };
    let digest = reg.image("mo/app", "v1", b"layer one").await;
    for t in ["a", "b", "c", "d"] {
        let resp = reg
            .send(
                Method::PUT,
                &format!("/v2/mo/app/manifests/{digest}?tag={t}"),
                &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                {
                    reg.send(
                        Method::GET,
                        &format!("/v2/mo/app/manifests/{digest}"),
                        &[],
                        vec![],
                    )
                    .await
                    .bytes()
                    .await
                    .expect("body")
                    .to_vec()
                },
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    // Exact bytes and content type back, by tag and by digest.
    let by_tag = reg
        .send(Method::GET, "/v2/mo/app/manifests/v1", &[], vec![])
        .await;
    assert_eq!(
        by_tag.headers()["content-type"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(by_tag.headers()["docker-content-digest"], digest.as_str());
    let bytes = by_tag.bytes().await.expect("body");
    assert_eq!(sha256(&bytes), digest);
    // Tags pagination with Link.
    let page = reg
        .send(Method::GET, "/v2/mo/app/tags/list?n=2", &[], vec![])
        .await;
    let link = page.headers()["link"].to_str().expect("link").to_string();
    assert_eq!(
        page.json::<Value>().await.expect("json")["tags"],
        json!(["a", "b"])
    );
    assert!(
        link.contains("last=b") && link.contains("rel=\"next\""),
        "{link}"
    );
    let rest = reg
        .send(Method::GET, "/v2/mo/app/tags/list?n=10&last=b", &[], vec![])
        .await;
    assert!(rest.headers().get("link").is_none());
    assert_eq!(
        rest.json::<Value>().await.expect("json")["tags"],
        json!(["c", "d", "v1"])
    );

    // A manifest referring to a blob that was never pushed.
    let missing = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(b"never"), "size": 5}, "layers": []});
    let resp = reg.push_manifest("mo/app", "broken", &missing).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        error_code(&resp.json().await.expect("json")),
        "MANIFEST_BLOB_UNKNOWN"
    );
    let resp = reg
        .send(
            Method::PUT,
            "/v2/mo/app/manifests/bad",
            &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(
        error_code(&resp.json().await.expect("json")),
        "MANIFEST_INVALID"
    );
    let resp = reg
        .send(Method::GET, "/v2/mo/app/manifests/nope", &[], vec![])
        .await;
    assert_eq!(
        error_code(&resp.json().await.expect("json")),
        "MANIFEST_UNKNOWN"
    );
    let resp = reg
        .send(Method::GET, "/v2/Mo/App/manifests/v1", &[], vec![])
        .await;
    assert_eq!(
        error_code(&resp.json().await.expect("json")),
        "NAME_INVALID"
    );

    // Referrers: an artifact whose subject is the image.
    let sig_config = reg.push_blob("mo/app", b"{}").await;
    let artifact = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sig_config, "size": 2}, "layers": [],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": bytes.len()},
        "annotations": {"org.example": "yes"}});
    let resp = reg
        .push_manifest(
            "mo/app",
            &sha256(artifact.to_string().as_bytes()),
            &artifact,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["oci-subject"], digest.as_str());
    let list: Value = reg
        .send(
            Method::GET,
            &format!("/v2/mo/app/referrers/{digest}"),
            &[],
            vec![],
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        list["manifests"][0]["artifactType"],
        "application/vnd.example.signature"
    );
    let filtered = reg
        .send(
            Method::GET,
            &format!("/v2/mo/app/referrers/{digest}?artifactType=application/other"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(filtered.headers()["oci-filters-applied"], "artifactType");
    assert_eq!(
        filtered.json::<Value>().await.expect("json")["manifests"],
        json!([])
    );

    // Mounts: from an image the caller can't read, a plain upload session instead.
    let ned = Registry {
        app: &app,
        user: "ned",
        token: &other,
    };
    let layer = sha256(b"layer one");
    let denied = ned
        .send(
            Method::POST,
            &format!("/v2/ned/copy/blobs/uploads/?mount={layer}&from=mo/app"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(denied.status(), StatusCode::ACCEPTED);
    let leak = ned
        .send(
            Method::HEAD,
            &format!("/v2/ned/copy/blobs/{layer}"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(leak.status(), StatusCode::NOT_FOUND);
    let mounted = reg
        .send(
            Method::POST,
            &format!("/v2/mo/copy/blobs/uploads/?mount={layer}&from=mo/app"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(mounted.status(), StatusCode::CREATED);
    // Another user can't read or write mo's private image.
    let resp = ned
        .send(Method::GET, "/v2/mo/app/manifests/v1", &[], vec![])
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = ned
        .send(Method::POST, "/v2/mo/app/blobs/uploads/", &[], vec![])
        .await;
    // Pushing answers as for a name ned may not create: it doesn't tell the image exists.
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(&resp.json().await.expect("json")), "DENIED");
    let resp = ned
        .send(Method::POST, "/v2/mo/new/blobs/uploads/", &[], vec![])
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(&resp.json().await.expect("json")), "DENIED");
    // Catalog shows what the caller can read.
    let catalog: Value = reg
        .send(Method::GET, "/v2/_catalog", &[], vec![])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(catalog["repositories"], json!(["mo/app"]));
    let catalog: Value = ned
        .send(Method::GET, "/v2/_catalog", &[], vec![])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(catalog["repositories"], json!([]));

    // Deleting the version through GraphQL removes it from /v2; restoring brings it back.
    let versions = app.gql_ok(Some(&token), r#"{ package(owner: "mo", packageType: CONTAINER, name: "app") { versions(first: 10) { nodes { id version } } } }"#, json!({})).await;
    let id = versions["package"]["versions"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|v| v["version"] == digest.as_str())
        .expect("version")["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.gql_ok(Some(&token), r#"mutation($id: ID!) { deletePackageVersion(input: {packageVersionId: $id}) { packageVersion { id } } }"#, json!({"id": id})).await;
    assert_eq!(
        reg.send(
            Method::GET,
            &format!("/v2/mo/app/manifests/{digest}"),
            &[],
            vec![]
        )
        .await
        .status(),
        StatusCode::NOT_FOUND
    );
    app.gql_ok(Some(&token), r#"mutation($id: ID!) { restorePackageVersion(input: {packageVersionId: $id}) { packageVersion { id } } }"#, json!({"id": id})).await;
    assert_eq!(
        reg.send(
            Method::GET,
            &format!("/v2/mo/app/manifests/{digest}"),
            &[],
            vec![]
        )
        .await
        .status(),
        StatusCode::OK
    );

    // No credentials at all: the challenge.
    let anon = app.get(None, "/v2/mo/app/tags/list").await;
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
    let challenge = anon.headers()["www-authenticate"]
        .to_str()
        .expect("challenge")
        .to_string();
    assert!(
        challenge.starts_with(&format!("Bearer realm=\"{}/v2/token\"", app.url)),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=\"repository:mo/app:pull\""),
        "{challenge}"
    );
}

/// Two chunks sent at once for the same offset of one upload: exactly one is appended, the
/// other gets 416 with where the upload stands, and the upload completes with the winner's
/// bytes intact.
#[tokio::test]
async fn racing_chunks_never_overwrite_each_other() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("rae");
    let reg = Registry {
        app: &app,
        user: "rae",
        token: &token,
    };
    let start = reg
        .send(Method::POST, "/v2/rae/race/blobs/uploads/", &[], vec![])
        .await;
    let location = start.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let url = if location.starts_with("http") {
        location.clone()
    } else {
        format!("{}{location}", app.url)
    };
    // Each body arrives in two halves 300 ms apart, so both requests are past the offset
    // check before either is stored.
    let chunk = |fill: u8| {
        let half = vec![fill; 50_000];
        let stream = futures::stream::iter([half.clone(), half])
            .enumerate()
            .then(|(i, b)| async move {
                if i == 1 {
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
                Ok::<_, std::io::Error>(b)
            });
        app.http
            .patch(&url)
            .basic_auth("rae", Some(&token))
            .header("content-range", "0-99999")
            .header("content-type", "application/octet-stream")
            .body(reqwest::Body::wrap_stream(stream))
            .send()
    };
    let (a, b) = tokio::join!(chunk(b'a'), chunk(b'b'));
    let (a, b) = (a.expect("a"), b.expect("b"));
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::ACCEPTED, StatusCode::RANGE_NOT_SATISFIABLE]
    );
    let (winner, loser) = if a.status() == StatusCode::ACCEPTED {
        (b'a', b)
    } else {
        (b'b', a)
    };
    assert_eq!(loser.headers()["range"], "0-99999");
    let status = reg.send(Method::GET, &location, &[], vec![]).await;
    assert_eq!(status.headers()["range"], "0-99999");
    let data = vec![winner; 100_000];
    let digest = sha256(&data);
    let done = reg
        .send(
            Method::PUT,
            &format!("{location}?digest={digest}"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(done.status(), StatusCode::CREATED);
    let got = reg
        .send(
            Method::GET,
            &format!("/v2/rae/race/blobs/{digest}"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(got.bytes().await.expect("body").as_ref(), &data[..]);
}

/// `/v2/_catalog` pages in `owner/name` order with `n`, `last` and `Link`, across owners,
/// listing only what the caller may read.
#[tokio::test]
async fn catalog_pages_in_owner_name_order() {
    let app = TestApp::spawn().await;
    let ab_token = app.user_with_token("ab");
    let zed_token = app.user_with_token("zed");
    let ab = Registry {
        app: &app,
        user: "ab",
        token: &ab_token,
    };
    let zed = Registry {
        app: &app,
        user: "zed",
        token: &zed_token,
    };
    ab.image("ab/zz", "v1", b"one").await;
    ab.image("ab/x/y", "v1", b"two").await;
    zed.image("zed/a", "v1", b"three").await;
    zed.image("zed/hidden", "v1", b"four").await;
    // An owner whose login extends another's: `ab-c/...` sorts before `ab/...` ('-' < '/').
    let abc_token = app.user_with_token("ab-c");
    let abc = Registry {
        app: &app,
        user: "ab-c",
        token: &abc_token,
    };
    abc.image("ab-c/a", "v1", b"five").await;
    let abc_id = app
        .gql_ok(
            Some(&abc_token),
            r#"{ package(owner: "ab-c", packageType: CONTAINER, name: "a") { id } }"#,
            json!({}),
        )
        .await["package"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.gql_ok(Some(&abc_token), r#"mutation($p: ID!) { setPackageVisibility(input: {packageId: $p, visibility: PUBLIC}) { package { id } } }"#, json!({"p": abc_id})).await;
    let id = app
        .gql_ok(
            Some(&zed_token),
            r#"{ package(owner: "zed", packageType: CONTAINER, name: "a") { id } }"#,
            json!({}),
        )
        .await["package"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.gql_ok(Some(&zed_token), r#"mutation($p: ID!) { setPackageVisibility(input: {packageId: $p, visibility: PUBLIC}) { package { id } } }"#, json!({"p": id})).await;

    let first = ab.send(Method::GET, "/v2/_catalog?n=2", &[], vec![]).await;
    let link = first.headers()["link"].to_str().expect("link").to_string();
    assert_eq!(link, "</v2/_catalog?n=2&last=ab/x/y>; rel=\"next\"");
    let body: Value = first.json().await.expect("json");
    assert_eq!(body["repositories"], json!(["ab-c/a", "ab/x/y"]));
    let next = ab
        .send(Method::GET, "/v2/_catalog?n=2&last=ab/x/y", &[], vec![])
        .await;
    assert!(next.headers().get("link").is_none());
    let body: Value = next.json().await.expect("json");
    assert_eq!(body["repositories"], json!(["ab/zz", "zed/a"]));
    let all: Value = zed
        .send(Method::GET, "/v2/_catalog", &[], vec![])
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        all["repositories"],
        json!(["ab-c/a", "zed/a", "zed/hidden"])
    );
}

/// A bearer token for `scopes`, from the token endpoint with Basic credentials.
pub(crate) async fn bearer(app: &TestApp, user: &str, token: &str, scopes: &[&str]) -> String {
    let query: Vec<String> = scopes.iter().map(|s| format!("scope={s}")).collect();
    let body: Value = app
        .http
        .get(format!("{}/v2/token?{}", app.url, query.join("&")))
        .basic_auth(user, Some(token))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    body["token"].as_str().expect("token").to_string()
}

/// What a review of the registry found, closed: parallel pushes to a new image, the last
/// manifest's delete, existence leaks, the token endpoint's body, mounts beyond a bearer
/// token's scope, blob ranges, untagging with push, and tag order.
#[tokio::test]
async fn registry_review_fixes() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("pia");
    let outsider_token = app.user_with_token("oz");
    let reg = Registry {
        app: &app,
        user: "pia",
        token: &token,
    };
    let outsider = Registry {
        app: &app,
        user: "oz",
        token: &outsider_token,
    };

    // Platform manifests of a new image pushed in parallel (buildx does): all land.
    let mut manifests = Vec::new();
    for i in 0..4u8 {
        let config = reg
            .push_blob(
                "pia/multi",
                format!(r#"{{"os":"linux","n":{i}}}"#).as_bytes(),
            )
            .await;
        let layer = reg.push_blob("pia/multi", &[i; 64]).await;
        manifests.push(json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 20},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": 64}],
        }));
    }
    let reg = &reg;
    let pushes = manifests.iter().map(|m| {
        let digest = sha256(m.to_string().as_bytes());
        async move { reg.push_manifest("pia/multi", &digest, m).await.status() }
    });
    let statuses = futures::future::join_all(pushes).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );

    // Deleting every manifest keeps the image (its settings and grants), and its blobs
    // can still be deleted.
    for m in &manifests {
        let digest = sha256(m.to_string().as_bytes());
        let resp = reg
            .send(
                Method::DELETE,
                &format!("/v2/pia/multi/manifests/{digest}"),
                &[],
                vec![],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::ACCEPTED);
    }
    let data = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "pia", packageType: CONTAINER, name: "multi") { versions { totalCount } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["package"]["versions"]["totalCount"], 0);
    let layer = sha256(&[0u8; 64]);
    let resp = reg
        .send(
            Method::DELETE,
            &format!("/v2/pia/multi/blobs/{layer}"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);

    // An outsider can't tell a private image from a free name, pushing or pulling.
    reg.image("pia/private", "v1", b"secret layer").await;
    let start = |name: &'static str| {
        outsider.send(
            Method::POST,
            Box::leak(format!("/v2/{name}/blobs/uploads/").into_boxed_str()),
            &[],
            vec![],
        )
    };
    let (taken, free) = (start("pia/private").await, start("pia/free").await);
    assert_eq!(taken.status(), free.status());
    let (taken, free): (Value, Value) = (
        taken.json().await.expect("json"),
        free.json().await.expect("json"),
    );
    assert_eq!(
        taken.to_string().replace("private", "NAME"),
        free.to_string().replace("free", "NAME")
    );
    let get = |name: &'static str| {
        outsider.send(
            Method::GET,
            Box::leak(format!("/v2/{name}/manifests/v1").into_boxed_str()),
            &[],
            vec![],
        )
    };
    let (taken, free) = (get("pia/private").await, get("pia/free").await);
    assert_eq!(taken.status(), StatusCode::NOT_FOUND);
    assert_eq!(free.status(), StatusCode::NOT_FOUND);
    let (taken, free): (Value, Value) = (
        taken.json().await.expect("json"),
        free.json().await.expect("json"),
    );
    assert_eq!(
        taken.to_string().replace("private", "NAME"),
        free.to_string().replace("free", "NAME")
    );

    // Through the token flow too: a signed-in outsider's bearer token has no pull on the
    // private image, and the registry says "not found", not "unauthorized".
    let outsider_bearer = bearer(
        &app,
        "oz",
        &outsider_token,
        &["repository:pia/private:pull"],
    )
    .await;
    let resp = app
        .http
        .get(format!("{}/v2/pia/private/manifests/v1", app.url))
        .bearer_auth(&outsider_bearer)
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        error_code(&resp.json().await.expect("json")),
        "NAME_UNKNOWN"
    );

    // Pushing where policy refuses: a signed-in caller is told "denied" (403), the same for
    // a private image and a free name, so clients stop instead of re-fetching tokens.
    for name in ["pia/private", "pia/free"] {
        let scoped = bearer(
            &app,
            "oz",
            &outsider_token,
            &[&format!("repository:{name}:pull,push")],
        )
        .await;
        let resp = app
            .http
            .post(format!("{}/v2/{name}/blobs/uploads/", app.url))
            .bearer_auth(&scoped)
            .send()
            .await
            .expect("post");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{name}");
        assert_eq!(error_code(&resp.json().await.expect("json")), "DENIED");
    }

    // The token endpoint reads a small form, before anyone is authenticated.
    let big = app
        .http
        .post(format!("{}/v2/token", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 1024 * 1024])
        .send()
        .await
        .expect("post");
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A bearer token scoped to one image can't mount from another it wasn't granted, even
    // though its user could read that one: the mount falls back to an upload.
    let private_layer = sha256(b"secret layer");
    let scoped = bearer(&app, "pia", &token, &["repository:pia/other:pull,push"]).await;
    let mount = app
        .http
        .post(format!(
            "{}/v2/pia/other/blobs/uploads/?mount={private_layer}&from=pia/private",
            app.url
        ))
        .bearer_auth(&scoped)
        .send()
        .await
        .expect("mount");
    assert_eq!(mount.status(), StatusCode::ACCEPTED);
    let granted = bearer(
        &app,
        "pia",
        &token,
        &[
            "repository:pia/other:pull,push",
            "repository:pia/private:pull",
        ],
    )
    .await;
    let mount = app
        .http
        .post(format!(
            "{}/v2/pia/other/blobs/uploads/?mount={private_layer}&from=pia/private",
            app.url
        ))
        .bearer_auth(&granted)
        .send()
        .await
        .expect("mount");
    assert_eq!(mount.status(), StatusCode::CREATED);

    // A range outside a blob: 416 with Content-Range, as HTTP says.
    let resp = reg
        .send(
            Method::GET,
            &format!("/v2/pia/private/blobs/{private_layer}"),
            &[("range", "bytes=1000-2000")],
            vec![],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(resp.headers()["content-range"], "bytes */12");

    // Tags list in byte order, paged, whatever the database's collation; untagging with a
    // push-scoped bearer token.
    let digest = reg.image("pia/tags", "b", b"tagged").await;
    let body = reg
        .send(
            Method::GET,
            &format!("/v2/pia/tags/manifests/{digest}"),
            &[],
            vec![],
        )
        .await
        .bytes()
        .await
        .expect("body")
        .to_vec();
    for t in ["B", "a", "_x", "a.1", "Z-9"] {
        let resp = reg
            .send(
                Method::PUT,
                &format!("/v2/pia/tags/manifests/{t}"),
                &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                body.clone(),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let page = move |q: &'static str| async move {
        let v: Value = reg
            .send(
                Method::GET,
                &format!("/v2/pia/tags/tags/list{q}"),
                &[],
                vec![],
            )
            .await
            .json()
            .await
            .expect("json");
        v["tags"].clone()
    };
    assert_eq!(page("").await, json!(["B", "Z-9", "_x", "a", "a.1", "b"]));
    assert_eq!(page("?n=2&last=Z-9").await, json!(["_x", "a"]));
    let pusher = bearer(&app, "pia", &token, &["repository:pia/tags:pull,push"]).await;
    let untag = app
        .http
        .delete(format!("{}/v2/pia/tags/manifests/a.1", app.url))
        .bearer_auth(&pusher)
        .send()
        .await
        .expect("delete");
    assert_eq!(untag.status(), StatusCode::ACCEPTED);
    assert_eq!(page("").await, json!(["B", "Z-9", "_x", "a", "b"]));

    // An image's home page and authors (annotations or labels) show in GraphQL.
    let config = reg.push_blob("pia/annotated", br#"{"os":"linux"}"#).await;
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 14},
        "layers": [],
        "annotations": {"org.opencontainers.image.url": "https://app.example.com",
                        "org.opencontainers.image.authors": "Pia <pia@example.com>"},
    });
    let resp = reg.push_manifest("pia/annotated", "v1", &manifest).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let data = app.gql_ok(Some(&token), r#"{ package(owner: "pia", packageType: CONTAINER, name: "annotated") { latestVersion { homepage authors } } }"#, json!({})).await;
    assert_eq!(
        data["package"]["latestVersion"],
        json!({"homepage": "https://app.example.com", "authors": ["Pia <pia@example.com>"]})
    );

    // By a sha512 digest: pushed and read back under that digest.
    let by512 = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 14},
        "layers": [], "annotations": {"n": "512"},
    });
    let bytes = by512.to_string().into_bytes();
    let d512 = format!("sha512:{}", hex::encode(Sha512::digest(&bytes)));
    let resp = reg
        .send(
            Method::PUT,
            &format!("/v2/pia/annotated/manifests/{d512}"),
            &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
            bytes,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["docker-content-digest"], d512.as_str());
    let got = reg
        .send(
            Method::HEAD,
            &format!("/v2/pia/annotated/manifests/{d512}"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(got.headers()["docker-content-digest"], d512.as_str());
}

/// Blobs are read by the image's policy, whether or not the image is live: a deleted
/// private image's layers are readable only by who may restore it, and its name can't be
/// taken by a member who couldn't (the owner's restore then works); blobs pushed to a new
/// image before its first manifest are not readable by other members.
#[tokio::test]
async fn deleted_and_unborn_private_images_keep_their_blobs_private() {
    let app = TestApp::spawn().await;
    let olga_token = app.user_with_token("olga");
    app.create_org("acme", "olga");
    let bob_token = app.user_with_token("bob");
    app.gql_ok(Some(&olga_token), r#"mutation { addOrganizationMember(input: {organizationLogin: "acme", login: "bob"}) { member { role } } }"#, json!({})).await;
    app.gql_ok(Some(&olga_token), r#"mutation { updateOrganizationPackageSettings(input: {organizationLogin: "acme", membersCanCreatePackages: true, defaultPackageVisibility: PRIVATE}) { organization { login } } }"#, json!({})).await;
    let olga = Registry {
        app: &app,
        user: "olga",
        token: &olga_token,
    };
    let bob = Registry {
        app: &app,
        user: "bob",
        token: &bob_token,
    };

    olga.image("acme/app", "v1", b"olga's secret layer").await;
    let layer = sha256(b"olga's secret layer");
    let blob = format!("/v2/acme/app/blobs/{layer}");
    assert_eq!(
        bob.send(Method::GET, &blob, &[], vec![]).await.status(),
        StatusCode::NOT_FOUND,
        "a member without a role can't read a live private image"
    );
    let id = app
        .gql_ok(
            Some(&olga_token),
            r#"{ package(owner: "acme", packageType: CONTAINER, name: "app") { id } }"#,
            json!({}),
        )
        .await["package"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.gql_ok(
        Some(&olga_token),
        r#"mutation($id: ID!) { deletePackage(input: {packageId: $id}) { package { id } } }"#,
        json!({"id": id}),
    )
    .await;

    // Deleted: the blobs stay readable to who may restore the image, and no one else.
    for method in [Method::GET, Method::HEAD] {
        let resp = bob.send(method.clone(), &blob, &[], vec![]).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{method} by bob");
    }
    assert_eq!(
        olga.send(Method::GET, &blob, &[], vec![]).await.status(),
        StatusCode::OK
    );
    // A bearer token doesn't grant bob pull on it either.
    let jwt = bearer(&app, "bob", &bob_token, &["repository:acme/app:pull,push"]).await;
    let resp = app
        .http
        .get(format!("{}{blob}", app.url))
        .bearer_auth(&jwt)
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Bob can't take the deleted name (else olga's restore fails)...
    let config_bytes = br#"{"os":"linux"}"#;
    let config = sha256(config_bytes);
    let resp = bob
        .send(
            Method::POST,
            &format!("/v2/acme/app/blobs/uploads/?digest={config}"),
            &[],
            config_bytes.to_vec(),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 14},
        "layers": [],
    });
    let resp = bob.push_manifest("acme/app", "v1", &manifest).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = bob
        .send(Method::POST, "/v2/acme/app/blobs/uploads/", &[], vec![])
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // ... nor on another door (the rule is the publish gate's)...
    assert_eq!(
        app.put_generic(Some(&olga_token), "acme/tool/1/f", "x")
            .await
            .status(),
        201
    );
    let tool = app
        .gql_ok(
            Some(&olga_token),
            r#"{ package(owner: "acme", packageType: GENERIC, name: "tool") { id } }"#,
            json!({}),
        )
        .await["package"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.gql_ok(
        Some(&olga_token),
        r#"mutation($id: ID!) { deletePackage(input: {packageId: $id}) { package { id } } }"#,
        json!({"id": tool}),
    )
    .await;
    assert_eq!(
        app.put_generic(Some(&bob_token), "acme/tool/2/f", "x")
            .await
            .status(),
        403
    );
    assert_eq!(
        app.put_generic(Some(&bob_token), "acme/app/1/f", "x")
            .await
            .status(),
        201,
        "another type's name is free"
    );
    // ... and olga's restore works.
    let restored = app.graphql(Some(&olga_token), r#"mutation($id: ID!) { restorePackage(input: {packageId: $id}) { package { deletedAt } } }"#, json!({"id": id})).await;
    assert!(restored.get("errors").is_none(), "{restored}");
    assert_eq!(
        olga.send(Method::GET, "/v2/acme/app/manifests/v1", &[], vec![])
            .await
            .status(),
        StatusCode::OK
    );

    // Blobs of an image before its first manifest: its pusher (here the org's owner)
    // reads them; a member who could create the image can't.
    let early = olga.push_blob("acme/fresh", b"not yet an image").await;
    let path = format!("/v2/acme/fresh/blobs/{early}");
    assert_eq!(
        olga.send(Method::HEAD, &path, &[], vec![]).await.status(),
        StatusCode::OK
    );
    for method in [Method::GET, Method::HEAD] {
        let resp = bob.send(method.clone(), &path, &[], vec![]).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{method} by bob");
    }
    let jwt = bearer(
        &app,
        "bob",
        &bob_token,
        &["repository:acme/fresh:pull,push"],
    )
    .await;
    let resp = app
        .http
        .get(format!("{}{path}", app.url))
        .bearer_auth(&jwt)
        .send()
        .await
        .expect("get");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // Nor mount it into an image of his own.
    let resp = bob
        .send(
            Method::POST,
            &format!("/v2/acme/bobs/blobs/uploads/?mount={early}&from=acme/fresh"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(
        resp.status(),
        StatusCode::ACCEPTED,
        "a plain upload instead of a mount"
    );
}

/// Malformed requests get the spec's 400s: a manifest whose layers aren't a list, a page
/// size that isn't a number, and a token request with too many scopes (not a name error).
#[tokio::test]
async fn malformed_manifests_page_sizes_and_scope_lists_are_refused() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("rex");
    let reg = Registry {
        app: &app,
        user: "rex",
        token: &token,
    };
    reg.image("rex/app", "v1", b"layer").await;
    let config = reg.push_blob("rex/app", br#"{"os":"linux"}"#).await;
    for layers in [
        json!("nope"),
        json!({"digest": "x"}),
        json!(["nope"]),
        json!(7),
    ] {
        let manifest = json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 14},
            "layers": layers,
        });
        let resp = reg.push_manifest("rex/app", "bad", &manifest).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "layers {layers}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(error_code(&body), "MANIFEST_INVALID", "{body}");
    }
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": "nope"});
    let resp = reg.push_manifest("rex/app", "bad", &index).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = reg
        .send(Method::GET, "/v2/rex/app/manifests/bad", &[], vec![])
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "nothing was stored");

    for path in [
        "/v2/rex/app/tags/list?n=-1",
        "/v2/rex/app/tags/list?n=x",
        "/v2/_catalog?n=-1",
    ] {
        let resp = reg.send(Method::GET, path, &[], vec![]).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{path}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(
            error_code(&body),
            "PAGINATION_NUMBER_INVALID",
            "{path}: {body}"
        );
    }

    let scopes: Vec<String> = (0..40)
        .map(|i| format!("scope=repository:rex/app{i}:pull"))
        .collect();
    let resp = app
        .http
        .get(format!("{}/v2/token?{}", app.url, scopes.join("&")))
        .basic_auth("rex", Some(&token))
        .send()
        .await
        .expect("token");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.expect("json");
    assert_ne!(error_code(&body), "NAME_INVALID", "{body}");
    let detail = body["errors"][0]["detail"].as_str().expect("detail");
    assert!(detail.contains("32") && detail.contains("40"), "{detail}");
}

/// The OCI door's answers for a private image and a missing one are the same, for an
/// anonymous token (the challenge) and for a signed-in outsider (not found), reads and
/// deletes alike; a public image still reads anonymously.
#[tokio::test]
async fn registry_answers_alike_for_private_and_missing_images() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("ana");
    let eve_token = app.user_with_token("eve");
    let ana = Registry {
        app: &app,
        user: "ana",
        token: &token,
    };
    let eve = Registry {
        app: &app,
        user: "eve",
        token: &eve_token,
    };
    let digest = ana.image("ana/secret", "v1", b"secret").await;
    ana.image("ana/open", "v1", b"open").await;
    let id = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "ana", packageType: CONTAINER, name: "open") { id } }"#,
            json!({}),
        )
        .await["package"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    app.gql_ok(Some(&token), r#"mutation($p: ID!) { setPackageVisibility(input: {packageId: $p, visibility: PUBLIC}) { package { id } } }"#, json!({"p": id})).await;
    let layer = sha256(b"secret");

    let answer = |resp: reqwest::Response, name: &'static str| async move {
        let status = resp.status();
        let body = resp.text().await.expect("body").replace(name, "NAME");
        (status, body)
    };
    let requests = [
        (Method::GET, "manifests/v1".to_string()),
        (Method::GET, format!("manifests/{digest}")),
        (Method::DELETE, format!("manifests/{digest}")),
        (Method::DELETE, "manifests/v1".to_string()),
        (Method::GET, format!("blobs/{layer}")),
        (Method::DELETE, format!("blobs/{layer}")),
        (Method::GET, "tags/list".to_string()),
    ];
    for (method, rest) in &requests {
        let mut seen = Vec::new();
        for name in ["ana/secret", "ana/nothing"] {
            let url = format!("{}/v2/{name}/{rest}", app.url);
            let scope = format!("repository:{name}:pull,push,delete");
            let anon: Value = app
                .http
                .get(format!("{}/v2/token?scope={scope}", app.url))
                .send()
                .await
                .expect("token")
                .json()
                .await
                .expect("json");
            let anon = anon["token"].as_str().expect("token").to_string();
            let as_anonymous = app
                .http
                .request(method.clone(), &url)
                .bearer_auth(&anon)
                .send()
                .await
                .expect("anon");
            assert_eq!(
                as_anonymous.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {name}/{rest}"
            );
            assert!(as_anonymous.headers().contains_key("www-authenticate"));
            let as_anonymous = answer(as_anonymous, name).await;
            let as_eve = eve
                .send(method.clone(), &format!("/v2/{name}/{rest}"), &[], vec![])
                .await;
            let as_eve = answer(as_eve, name).await;
            let jwt = bearer(&app, "eve", &eve_token, &[&scope]).await;
            let as_eve_bearer = app
                .http
                .request(method.clone(), &url)
                .bearer_auth(&jwt)
                .send()
                .await
                .expect("eve");
            let as_eve_bearer = answer(as_eve_bearer, name).await;
            seen.push((as_anonymous, as_eve, as_eve_bearer));
        }
        assert_eq!(seen[0], seen[1], "{method} {rest}: private vs missing");
        let (_, as_eve, _) = &seen[0];
        if *method == Method::GET {
            assert_eq!(as_eve.0, StatusCode::NOT_FOUND, "{method} {rest}");
        }
    }
    let anon: Value = app
        .http
        .get(format!(
            "{}/v2/token?scope=repository:ana/open:pull",
            app.url
        ))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let resp = app
        .http
        .get(format!("{}/v2/ana/open/manifests/v1", app.url))
        .bearer_auth(anon["token"].as_str().expect("token"))
        .send()
        .await
        .expect("get");
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "public images read anonymously"
    );
}

/// A session whose recorded chunks don't account for all its parts (one started before
/// part nonces were kept) can't be assembled: finishing it answers `BLOB_UPLOAD_UNKNOWN`,
/// so the client starts its push over, and cancelling it still removes it.
#[tokio::test]
async fn uploads_without_a_nonce_for_every_part_are_unknown() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

    let app = TestApp::spawn().await;
    let token = app.user_with_token("lea");
    let reg = Registry {
        app: &app,
        user: "lea",
        token: &token,
    };
    let data = b"legacy chunk".to_vec();
    let mut locations = Vec::new();
    for _ in 0..2 {
        let start = reg
            .send(Method::POST, "/v2/lea/old/blobs/uploads/", &[], vec![])
            .await;
        assert_eq!(start.status(), StatusCode::ACCEPTED);
        let location = start.headers()["location"]
            .to_str()
            .expect("location")
            .to_string();
        let chunk = reg.send(Method::PATCH, &location, &[], data.clone()).await;
        assert_eq!(chunk.status(), StatusCode::ACCEPTED);
        locations.push(location);
    }
    // Both sessions claim a part before the one their nonces record.
    entity::upload_session::Entity::update_many()
        .col_expr(entity::upload_session::Column::Parts, Expr::value(2))
        .filter(entity::upload_session::Column::Name.eq("old"))
        .exec(&app.db().await)
        .await
        .expect("make the sessions legacy");
    let finish = reg
        .send(
            Method::PUT,
            &format!("{}?digest={}", locations[0], sha256(&data)),
            &[],
            vec![],
        )
        .await;
    assert_eq!(finish.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        error_code(&finish.json().await.expect("json")),
        "BLOB_UPLOAD_UNKNOWN"
    );
    let cancel = reg.send(Method::DELETE, &locations[1], &[], vec![]).await;
    assert_eq!(cancel.status(), StatusCode::NO_CONTENT);
    let status = reg.send(Method::GET, &locations[1], &[], vec![]).await;
    assert_eq!(status.status(), StatusCode::NOT_FOUND);
}

/// Issue #14: a multi-arch index's platforms and an image's referrers, through GraphQL and
/// on the package page — the referrers from the registry's index, not the page of versions.
#[tokio::test]
async fn index_platforms_and_referrers_in_graphql_and_on_the_package_page() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("pia");
    let reg = Registry {
        app: &app,
        user: "pia",
        token: &token,
    };
    let amd64 = reg.image("pia/multi", "amd64", b"amd64 layer").await;
    let arm = reg.image("pia/multi", "arm", b"arm layer").await;
    let windows = reg.image("pia/multi", "windows", b"windows layer").await;
    let bare = reg.image("pia/multi", "bare", b"no platform").await;
    let child = |digest: &str, platform: Value| {
        let mut d = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": 300});
        if !platform.is_null() {
            d["platform"] = platform;
        }
        d
    };
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
        child(&amd64, json!({"os": "linux", "architecture": "amd64"})),
        child(&arm, json!({"os": "linux", "architecture": "arm", "variant": "v7"})),
        child(&windows, json!({"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.1"})),
        child(&bare, Value::Null),
    ]});
    let resp = reg.push_manifest("pia/multi", "latest", &index).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let index_digest = resp.headers()["docker-content-digest"]
        .to_str()
        .expect("digest")
        .to_string();

    // A signature of the index, pushed after 40 more versions so that it is not on the
    // package page's first page of versions.
    let sig_config = reg.push_blob("pia/multi", b"{}").await;
    let signature = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sig_config, "size": 2}, "layers": [],
        "subject": {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": index_digest, "size": index.to_string().len()}});
    let signature_digest = sha256(signature.to_string().as_bytes());
    let resp = reg
        .push_manifest("pia/multi", &signature_digest, &signature)
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    for i in 0..32 {
        reg.image(
            "pia/multi",
            &format!("filler-{i}"),
            format!("filler {i}").as_bytes(),
        )
        .await;
    }

    let query = r#"query($v: String!) { package(owner: "pia", packageType: CONTAINER, name: "multi") {
        id version(version: $v) { container { mediaType subject
          platforms { digest os architecture variant osVersion }
          referrers { digest mediaType artifactType size } } } } }"#;
    let data = app
        .gql_ok(Some(&token), query, json!({"v": index_digest}))
        .await;
    let container = &data["package"]["version"]["container"];
    assert_eq!(
        container["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(
        container["platforms"],
        json!([
            {"digest": amd64, "os": "linux", "architecture": "amd64", "variant": null, "osVersion": null},
            {"digest": arm, "os": "linux", "architecture": "arm", "variant": "v7", "osVersion": null},
            {"digest": windows, "os": "windows", "architecture": "amd64", "variant": null, "osVersion": "10.0.17763.1"},
        ])
    );
    assert_eq!(
        container["referrers"],
        json!([{"digest": signature_digest, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.example.signature", "size": signature.to_string().len()}])
    );
    // The signature itself: its subject, no platforms, no referrers.
    let sig = app
        .gql_ok(Some(&token), query, json!({"v": signature_digest}))
        .await;
    let sig = &sig["package"]["version"]["container"];
    assert_eq!(sig["subject"], index_digest.as_str());
    assert_eq!(sig["platforms"], json!([]));
    assert_eq!(sig["referrers"], json!([]));
    // A stranger sees no private image at all.
    let stranger = app.user_with_token("sten");
    let hidden = app
        .graphql(Some(&stranger), query, json!({"v": index_digest}))
        .await;
    assert!(hidden["data"]["package"].is_null(), "{hidden:#}");

    // The package page (public now, read anonymously) shows each child's platform and
    // the signature, though the signature is not among the versions listed.
    let id = data["package"]["id"].clone();
    app.gql_ok(
        Some(&token),
        r#"mutation($p: ID!) { setPackageVisibility(input: {packageId: $p, visibility: PUBLIC}) { package { id } } }"#,
        json!({"p": id}),
    )
    .await;
    let page = app
        .get(
            None,
            &format!(
                "/-/package/pia/container/multi?version={}",
                index_digest.replace(':', "%3A")
            ),
        )
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("body");
    let short = |d: &str| format!("{}…", &d[..19]);
    for (label, digest) in [
        ("linux/amd64", &amd64),
        ("linux/arm/v7", &arm),
        (
            "windows/amd64 <span class=\"muted\">10.0.17763.1</span>",
            &windows,
        ),
    ] {
        let row = format!("<td>{label}</td><td><a class=\"mono\"");
        assert!(html.contains(&row), "{label} in {html}");
        assert!(html.contains(&short(digest)), "{digest}");
    }
    assert!(
        html.contains("<span class=\"muted\">unknown</span>"),
        "the child without a platform"
    );
    let versions = html.split("id=\"versions\"").nth(1).expect("versions");
    assert!(
        !versions.contains(&short(&signature_digest)),
        "the signature is on an older page of versions"
    );
    let referrers = html
        .split("Referrers (signatures, SBOMs)")
        .nth(1)
        .expect("referrers section");
    assert!(referrers.contains(&short(&signature_digest)), "{referrers}");
    assert!(referrers.contains("application/vnd.example.signature"));
}

/// The distribution-spec conformance suite's expectations, each as it asks them (raw
/// HTTP against the real server); the suite itself is Go and isn't built here.
///
/// A pull of a reference that is neither a tag nor a digest is of a manifest that isn't
/// there: 404 `MANIFEST_UNKNOWN`, for GET and HEAD alike. A push by one stays 400.
#[tokio::test]
async fn oci_conformance_invalid_references_are_unknown_manifests_on_pull() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("cora");
    let reg = Registry {
        app: &app,
        user: "cora",
        token: &token,
    };
    reg.image("cora/app", "v1", b"conformance layer").await;
    for reference in [".INVALID_MANIFEST_NAME", "-dash", "sha256:nothex"] {
        let path = format!("/v2/cora/app/manifests/{reference}");
        let get = reg.send(Method::GET, &path, &[], vec![]).await;
        assert_eq!(get.status(), StatusCode::NOT_FOUND, "{reference}");
        assert_eq!(
            error_code(&get.json().await.expect("json")),
            "MANIFEST_UNKNOWN"
        );
        let head = reg.send(Method::HEAD, &path, &[], vec![]).await;
        assert_eq!(head.status(), StatusCode::NOT_FOUND, "{reference}");
    }
    let manifest = reg
        .send(Method::GET, "/v2/cora/app/manifests/v1", &[], vec![])
        .await
        .json::<Value>()
        .await
        .expect("json");
    let push = reg
        .push_manifest("cora/app", ".INVALID_MANIFEST_NAME", &manifest)
        .await;
    assert_eq!(push.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        error_code(&push.json().await.expect("json")),
        "MANIFEST_INVALID"
    );
}

/// The challenge for a cross-repository mount names the source's pull scope too, so the
/// token a client fetches from it mounts (201), as with distribution.
#[tokio::test]
async fn oci_conformance_mount_challenge_names_both_scopes() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("mina");
    let reg = Registry {
        app: &app,
        user: "mina",
        token: &token,
    };
    let layer = reg.push_blob("mina/source", b"a layer to mount").await;
    let url = format!(
        "{}/v2/mina/target/blobs/uploads/?mount={layer}&from=mina/source",
        app.url
    );
    let challenged = app.http.post(&url).send().await.expect("post");
    assert_eq!(challenged.status(), StatusCode::UNAUTHORIZED);
    let challenge = challenged.headers()["www-authenticate"]
        .to_str()
        .expect("challenge")
        .to_string();
    assert!(
        challenge
            .contains(r#"scope="repository:mina/target:pull,push repository:mina/source:pull""#),
        "{challenge}"
    );
    // As a client does: the challenge's scope, as one parameter, at its realm.
    let scope = challenge
        .split("scope=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("scope");
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("service", "ignored")
        .append_pair("scope", scope)
        .finish();
    let issued: Value = app
        .http
        .get(format!("{}/v2/token?{query}", app.url))
        .basic_auth("mina", Some(&token))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let bearer = issued["token"].as_str().expect("token");
    let mounted = app
        .http
        .post(&url)
        .bearer_auth(bearer)
        .send()
        .await
        .expect("mount");
    assert_eq!(mounted.status(), StatusCode::CREATED);
    assert_eq!(mounted.headers()["docker-content-digest"], layer.as_str());
}

/// A blob pushed before any manifest is deleted by its owner, with Basic credentials or
/// a bearer token granted delete, and is gone afterwards; others still can't see it.
#[tokio::test]
async fn oci_conformance_blob_delete_before_any_manifest() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("dora");
    let outsider = app.user_with_token("otto");
    let reg = Registry {
        app: &app,
        user: "dora",
        token: &token,
    };
    let first = reg.push_blob("dora/unborn", b"first blob").await;
    let second = reg.push_blob("dora/unborn", b"second blob").await;
    let path = |d: &str| format!("/v2/dora/unborn/blobs/{d}");
    // Someone else: as for a missing image, whether or not the blob is there.
    let theirs = Registry {
        app: &app,
        user: "otto",
        token: &outsider,
    };
    let refused = theirs
        .send(Method::DELETE, &path(&first), &[], vec![])
        .await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    // Basic.
    let head = reg.send(Method::HEAD, &path(&first), &[], vec![]).await;
    assert_eq!(head.status(), StatusCode::OK);
    let deleted = reg.send(Method::DELETE, &path(&first), &[], vec![]).await;
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    let gone = reg.send(Method::HEAD, &path(&first), &[], vec![]).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    // A bearer token: the token endpoint grants delete on the unborn image to its owner.
    let granted = bearer(
        &app,
        "dora",
        &token,
        &["repository:dora/unborn:pull,push,delete"],
    )
    .await;
    let deleted = app
        .http
        .delete(format!("{}{}", app.url, path(&second)))
        .bearer_auth(&granted)
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::ACCEPTED);
    let gone = reg.send(Method::GET, &path(&second), &[], vec![]).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        error_code(&gone.json().await.expect("json")),
        "BLOB_UNKNOWN"
    );
}

/// A closing `PUT` whose `Content-Range` doesn't start where the upload stands is refused
/// with 416 and appends nothing: the session resumes at the same offset and completes.
#[tokio::test]
async fn oci_conformance_final_put_with_wrong_content_range_is_416() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("uma");
    let reg = Registry {
        app: &app,
        user: "uma",
        token: &token,
    };
    let data: Vec<u8> = (0..2000u32).map(|i| (i % 253) as u8).collect();
    let digest = sha256(&data);
    let start = reg
        .send(Method::POST, "/v2/uma/chunks/blobs/uploads/", &[], vec![])
        .await;
    let location = start.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let first = reg
        .send(
            Method::PATCH,
            &location,
            &[("content-range", "0-999")],
            data[..1000].to_vec(),
        )
        .await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let closing_url = format!("{location}?digest={digest}");
    let close = |range: &'static str| {
        let (reg, url, last) = (&reg, &closing_url, data[1000..].to_vec());
        async move {
            reg.send(Method::PUT, url, &[("content-range", range)], last)
                .await
        }
    };
    let wrong = close("1500-2499").await;
    assert_eq!(wrong.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(wrong.headers()["range"], "0-999");
    let status = reg.send(Method::GET, &location, &[], vec![]).await;
    assert_eq!(status.status(), StatusCode::NO_CONTENT);
    assert_eq!(status.headers()["range"], "0-999", "nothing was appended");
    let right = close("1000-1999").await;
    assert_eq!(right.status(), StatusCode::CREATED);
    let blob = reg
        .send(
            Method::GET,
            &format!("/v2/uma/chunks/blobs/{digest}"),
            &[],
            vec![],
        )
        .await
        .bytes()
        .await
        .expect("blob");
    assert_eq!(blob.as_ref(), data.as_slice());
}

fn sha512(data: &[u8]) -> String {
    format!("sha512:{}", hex::encode(Sha512::digest(data)))
}

/// An image index may name its children by `sha512:` digests (pushed by those digests).
#[tokio::test]
async fn oci_conformance_index_children_by_sha512_digests() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("ida");
    let reg = Registry {
        app: &app,
        user: "ida",
        token: &token,
    };
    let mut children = Vec::new();
    for arch in ["amd64", "arm64"] {
        let config = reg
            .push_blob(
                "ida/multi",
                format!(r#"{{"architecture":"{arch}","os":"linux"}}"#).as_bytes(),
            )
            .await;
        let layer = reg.push_blob("ida/multi", arch.as_bytes()).await;
        let manifest = json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 10},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": arch.len()}],
        });
        let bytes = manifest.to_string().into_bytes();
        let digest = sha512(&bytes);
        let pushed = reg.push_manifest("ida/multi", &digest, &manifest).await;
        assert_eq!(pushed.status(), StatusCode::CREATED);
        assert_eq!(pushed.headers()["docker-content-digest"], digest.as_str());
        children.push(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest, "size": bytes.len(),
            "platform": {"architecture": arch, "os": "linux"},
        }));
    }
    let index = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": children,
    });
    let pushed = reg.push_manifest("ida/multi", "latest", &index).await;
    assert_eq!(
        pushed.status(),
        StatusCode::CREATED,
        "{:?}",
        pushed.text().await
    );
    let child = children_digest(&index, 1);
    let pulled = reg
        .send(
            Method::GET,
            &format!("/v2/ida/multi/manifests/{child}"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(pulled.status(), StatusCode::OK);
    // A child never pushed is still refused.
    let mut broken = index.clone();
    broken["manifests"][0]["digest"] = json!(sha512(b"never pushed"));
    let refused = reg.push_manifest("ida/multi", "broken", &broken).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        error_code(&refused.json().await.expect("json")),
        "MANIFEST_BLOB_UNKNOWN"
    );
}

fn children_digest(index: &Value, n: usize) -> String {
    index["manifests"][n]["digest"]
        .as_str()
        .expect("digest")
        .to_string()
}

/// `PUT .../manifests/DIGEST?tag=A&tag=B` (distribution-spec 1.1.1): both tags applied,
/// each answered in an `OCI-Tag` header; a digest as a tag parameter is refused.
#[tokio::test]
async fn oci_conformance_tag_parameters_apply_tags_and_answer_oci_tag() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("tia");
    let reg = Registry {
        app: &app,
        user: "tia",
        token: &token,
    };
    let digest = reg.image("tia/app", "first", b"tagged layer").await;
    let bytes = reg
        .send(
            Method::GET,
            &format!("/v2/tia/app/manifests/{digest}"),
            &[],
            vec![],
        )
        .await
        .bytes()
        .await
        .expect("manifest")
        .to_vec();
    let put = |query: String| {
        let (reg, url, body) = (
            &reg,
            format!("/v2/tia/app/manifests/{digest}?{query}"),
            bytes.clone(),
        );
        async move {
            reg.send(
                Method::PUT,
                &url,
                &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
                body,
            )
            .await
        }
    };
    let tagged = put("tag=alpha&tag=beta".into()).await;
    assert_eq!(tagged.status(), StatusCode::CREATED);
    let oci_tags: Vec<&str> = tagged
        .headers()
        .get_all("oci-tag")
        .iter()
        .map(|v| v.to_str().expect("tag"))
        .collect();
    assert_eq!(oci_tags, ["alpha", "beta"]);
    for t in ["alpha", "beta"] {
        let pulled = reg
            .send(
                Method::HEAD,
                &format!("/v2/tia/app/manifests/{t}"),
                &[],
                vec![],
            )
            .await;
        assert_eq!(pulled.status(), StatusCode::OK, "{t}");
        assert_eq!(pulled.headers()["docker-content-digest"], digest.as_str());
    }
    let refused = put(format!("tag={digest}")).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
}

/// An unsatisfiable range (`bytes=500-0`, the end before the start) is 416 with
/// `Content-Range: bytes */size`, not the whole blob.
#[tokio::test]
async fn oci_conformance_reversed_range_is_416() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("rita");
    let reg = Registry {
        app: &app,
        user: "rita",
        token: &token,
    };
    let data = vec![7u8; 1000];
    let digest = reg.push_blob("rita/blobs", &data).await;
    let path = format!("/v2/rita/blobs/blobs/{digest}");
    let reversed = reg
        .send(Method::GET, &path, &[("range", "bytes=500-0")], vec![])
        .await;
    assert_eq!(reversed.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(reversed.headers()["content-range"], "bytes */1000");
    let fine = reg
        .send(Method::GET, &path, &[("range", "bytes=500-999")], vec![])
        .await;
    assert_eq!(fine.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(fine.bytes().await.expect("body").len(), 500);
}
