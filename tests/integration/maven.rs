//! The Maven/Gradle repository door with the real clients: mvn 3.8 (plugins from Debian's
//! `/usr/share/maven-repo` as the `central` mirror) and Gradle 4.4's legacy `maven`
//! plugin, plus protocol tests of what Gradle 6+'s `maven-publish` and hostile clients send.
use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::json;

use crate::support::{TestApp, peak_rss_kib};

fn fixtures() -> PathBuf {
    TestApp::repo_root().join("tests/fixtures/maven")
}

/// Copies a fixture project into a fresh directory (builds write `target/`).
fn project(name: &str, into: &Path) -> PathBuf {
    let to = into.join(name);
    copy_dir(&fixtures().join(name), &to);
    to
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// One mvn user: a settings.xml with Debian's repository as the `central` mirror and a
/// `<server>` for Packyard, and a local repository of its own (so every resolve really
/// asks the server).
struct Mvn {
    dir: tempfile::TempDir,
    settings: PathBuf,
}

impl Mvn {
    fn new(user: &str, token: Option<&str>, plugin_group: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = match token {
            Some(t) => format!(
                "<servers><server><id>packyard</id><username>{user}</username>\
                 <password>{t}</password></server></servers>"
            ),
            None => String::new(),
        };
        let groups = plugin_group
            .map(|g| format!("<pluginGroups><pluginGroup>{g}</pluginGroup></pluginGroups>"))
            .unwrap_or_default();
        let settings = dir.path().join("settings.xml");
        std::fs::write(
            &settings,
            format!(
                "<settings>{groups}<mirrors><mirror><id>debian</id><mirrorOf>central</mirrorOf>\
                 <url>file:///usr/share/maven-repo</url></mirror></mirrors>{server}</settings>"
            ),
        )
        .expect("settings.xml");
        Self { dir, settings }
    }

    fn local_repo(&self) -> PathBuf {
        self.dir.path().join("m2")
    }

    fn run(&self, cwd: &Path, args: &[&str]) -> Output {
        Command::new("mvn")
            .current_dir(cwd)
            .env("HOME", self.dir.path())
            .env("MAVEN_OPTS", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1")
            .args(["-B", "-ntp", "-s"])
            .arg(&self.settings)
            .arg(format!(
                "-Dmaven.repo.local={}",
                self.local_repo().display()
            ))
            .args(args)
            .output()
            .expect("run mvn")
    }

    fn ok(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.run(cwd, args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "mvn {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    fn fails(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.run(cwd, args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!out.status.success(), "mvn {args:?} succeeded:\n{stdout}");
        stdout
    }
}

fn create_repository(app: &TestApp, repository: &str, public: bool) {
    let mut args = vec!["create-repository", repository];
    if public {
        args.push("--public");
    }
    app.admin(&args, None);
}

async fn get_text(app: &TestApp, token: Option<&str>, path: &str) -> (u16, String) {
    let response = app.get(token, path).await;
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// A PUT with Basic `user:token` credentials, as mvn and Gradle send them.
async fn put(app: &TestApp, token: Option<&str>, path: &str, body: Vec<u8>) -> reqwest::Response {
    let mut request = app.http.put(format!("{}{path}", app.url)).body(body);
    if let Some(t) = token {
        request = request.basic_auth("deployer", Some(t));
    }
    request.send().await.expect("PUT")
}

fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::Digest;
    sha1::Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The status line of a raw HTTP/1.1 request: mvn prints only it, reason phrase included.
fn status_line(app: &TestApp, method: &str, path: &str, token: &str, body: &str) -> String {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("u:{token}"));
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", app.port)).expect("connect");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    answer.lines().next().unwrap_or_default().to_string()
}

const APP: &str = "com/example/app";

/// mvn deploys a release (jar, sources, javadoc) and a SNAPSHOT twice; a redeploy of the
/// release is refused; deploy-file adds a classified file; dependency:get and a consumer
/// build (release and latest SNAPSHOT) resolve; GraphQL shows it all; deleting a version
/// takes it out of the metadata and restoring brings it back.
#[tokio::test]
async fn mvn_deploys_and_resolves_releases_and_snapshots() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("alice");
    create_repository(&app, "alice/libs", false);
    let url = format!("{}/maven/alice/libs", app.url);
    let url_arg = format!("-Dpackyard.url={url}");
    let mvn = Mvn::new("alice", Some(&token), None);
    let work = tempfile::tempdir().expect("work dir");
    let lib = project("app", work.path());

    // A release: jar, POM, sources and javadoc, each with checksums we serve back.
    mvn.ok(&lib, &["-q", &url_arg, "deploy"]);
    for file in [
        "app-1.0.0.jar",
        "app-1.0.0.pom",
        "app-1.0.0-sources.jar",
        "app-1.0.0-javadoc.jar",
    ] {
        let path = format!("/maven/alice/libs/{APP}/1.0.0/{file}");
        let body = app.get(Some(&token), &path).await;
        assert_eq!(body.status(), 200, "{file}");
        let bytes = body.bytes().await.expect("bytes");
        let (status, sha1) = get_text(&app, Some(&token), &format!("{path}.sha1")).await;
        assert_eq!((status, sha1), (200, sha1_hex(&bytes)), "{file}.sha1");
    }
    let jar_path = format!("/maven/alice/libs/{APP}/1.0.0/app-1.0.0.jar");
    let jar = app
        .get(Some(&token), &jar_path)
        .await
        .bytes()
        .await
        .expect("jar");

    // Releases are immutable: the same deploy again is refused, the jar unchanged.
    let refused = mvn.fails(&lib, &["-q", &url_arg, "deploy"]);
    assert!(refused.contains("409"), "{refused}");
    assert!(refused.contains("immutable"), "{refused}");
    let again = app
        .get(Some(&token), &jar_path)
        .await
        .bytes()
        .await
        .expect("jar");
    assert_eq!(again, jar);

    // A SNAPSHOT twice: two timestamped builds, build number 2, both builds served.
    mvn.ok(
        &lib,
        &["-q", &url_arg, "-Drevision=1.1.0-SNAPSHOT", "deploy"],
    );
    mvn.ok(
        &lib,
        &["-q", &url_arg, "-Drevision=1.1.0-SNAPSHOT", "deploy"],
    );
    let (status, snapshot) = get_text(
        &app,
        Some(&token),
        &format!("/maven/alice/libs/{APP}/1.1.0-SNAPSHOT/maven-metadata.xml"),
    )
    .await;
    assert_eq!(status, 200, "{snapshot}");
    assert!(
        snapshot.contains("<buildNumber>2</buildNumber>"),
        "{snapshot}"
    );
    let data = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "alice", packageType: MAVEN, name: "com.example:app") {
                 version(version: "1.1.0-SNAPSHOT") { files { nodes { name } } } } }"#,
            json!({}),
        )
        .await;
    let names: Vec<String> = data["package"]["version"]["files"]["nodes"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["name"].as_str().expect("name").to_string())
        .collect();
    let builds: Vec<&String> = names
        .iter()
        .filter(|n| n.ends_with(".jar") && !n.contains("sources") && !n.contains("javadoc"))
        .collect();
    assert_eq!(builds.len(), 2, "{names:?}");
    for build in &builds {
        let path = format!("/maven/alice/libs/{APP}/1.1.0-SNAPSHOT/{build}");
        assert_eq!(app.get(Some(&token), &path).await.status(), 200, "{build}");
    }
    assert!(
        builds.iter().any(|b| b.ends_with("-1.jar"))
            && builds.iter().any(|b| b.ends_with("-2.jar"))
    );

    // deploy:deploy-file with a classifier joins the release (a new file, not a redeploy).
    let dist = work.path().join("dist.zip");
    std::fs::write(&dist, b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0").expect("zip");
    mvn.ok(
        work.path(),
        &[
            "-q",
            "org.apache.maven.plugins:maven-deploy-plugin:3.0.0:deploy-file",
            &format!("-Dfile={}", dist.display()),
            "-DgroupId=com.example",
            "-DartifactId=app",
            "-Dversion=1.0.0",
            "-Dpackaging=zip",
            "-Dclassifier=linux",
            "-DgeneratePom=false",
            "-DrepositoryId=packyard",
            &format!("-Durl={url}"),
        ],
    );

    // dependency:get of the classified file, by a user with its own local repository.
    let getter = Mvn::new("alice", Some(&token), None);
    getter.ok(
        work.path(),
        &[
            "-q",
            "org.apache.maven.plugins:maven-dependency-plugin:3.5.0:get",
            &format!("-DremoteRepositories=packyard::default::{url}"),
            "-Dartifact=com.example:app:1.0.0:zip:linux",
            "-Dtransitive=false",
        ],
    );
    assert!(
        getter
            .local_repo()
            .join("com/example/app/1.0.0/app-1.0.0-linux.zip")
            .exists()
    );

    // A consumer compiles against the release, then against the latest SNAPSHOT.
    let consumer = project("consumer", work.path());
    let user = Mvn::new("alice", Some(&token), None);
    user.ok(
        &consumer,
        &["-q", &url_arg, "-Dapp.version=1.0.0", "compile"],
    );
    user.ok(
        &consumer,
        &["-q", &url_arg, "-Dapp.version=1.1.0-SNAPSHOT", "compile"],
    );
    let resolved: Vec<String> =
        std::fs::read_dir(user.local_repo().join("com/example/app/1.1.0-SNAPSHOT"))
            .expect("snapshot resolved")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
    assert!(
        resolved.iter().any(|n| n.ends_with("-2.jar")),
        "the newest build is resolved: {resolved:?}"
    );

    // GraphQL: versions, files, description, license, downloads (the consumer's jars).
    let data = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "alice", packageType: MAVEN, name: "com.example:app") {
                 packageType repository { name } statistics { downloadsTotalCount }
                 versions { totalCount }
                 version(version: "1.0.0") { id summary license homepage authors
                   statistics { downloadsTotalCount } files { nodes { name url } } } } }"#,
            json!({}),
        )
        .await;
    let pkg = &data["package"];
    assert_eq!(pkg["packageType"], "MAVEN");
    assert_eq!(pkg["repository"]["name"], "libs");
    assert_eq!(pkg["versions"]["totalCount"], 2);
    let release = &pkg["version"];
    assert_eq!(
        release["summary"],
        "A greeting library deployed to Packyard"
    );
    assert_eq!(release["license"], "Apache-2.0");
    assert_eq!(release["homepage"], "https://example.com/app");
    assert_eq!(
        release["authors"],
        json!(["Ada Lovelace <ada@example.com>"])
    );
    // The jar counts (consumer compile, our reads above); the POM, sources and checksums don't.
    let release_downloads = release["statistics"]["downloadsTotalCount"]
        .as_i64()
        .expect("count");
    // Our three GETs of the jar and the consumer's one.
    assert_eq!(release_downloads, 4, "{release}");
    let files = release["files"]["nodes"].as_array().expect("files");
    assert!(files.iter().any(|f| f["name"] == "app-1.0.0-linux.zip"));
    assert!(
        files
            .iter()
            .any(|f| f["url"] == format!("{url}/{APP}/1.0.0/app-1.0.0.jar"))
    );

    // Delete the SNAPSHOT: it leaves the metadata; restoring brings it back.
    let snapshot_id = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "alice", packageType: MAVEN, name: "com.example:app") {
                 version(version: "1.1.0-SNAPSHOT") { id } } }"#,
            json!({}),
        )
        .await["package"]["version"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let metadata_path = format!("/maven/alice/libs/{APP}/maven-metadata.xml");
    app.gql_ok(
        Some(&token),
        r#"mutation($v: ID!) { deletePackageVersion(input: {packageVersionId: $v}) { packageVersion { id } } }"#,
        json!({"v": snapshot_id}),
    )
    .await;
    let (_, after_delete) = get_text(&app, Some(&token), &metadata_path).await;
    assert!(!after_delete.contains("1.1.0-SNAPSHOT"), "{after_delete}");
    assert!(
        after_delete.contains("<latest>1.0.0</latest>"),
        "{after_delete}"
    );
    let gone = app
        .get(
            Some(&token),
            &format!("/maven/alice/libs/{APP}/1.1.0-SNAPSHOT/{}", builds[0]),
        )
        .await;
    assert_eq!(gone.status(), 404);
    app.gql_ok(
        Some(&token),
        r#"mutation($v: ID!) { restorePackageVersion(input: {packageVersionId: $v}) { packageVersion { id } } }"#,
        json!({"v": snapshot_id}),
    )
    .await;
    let (_, restored) = get_text(&app, Some(&token), &metadata_path).await;
    assert!(
        restored.contains("<latest>1.1.0-SNAPSHOT</latest>"),
        "{restored}"
    );
    assert!(restored.contains("<release>1.0.0</release>"), "{restored}");
}

/// A `maven-plugin` deployed with mvn gets group-level metadata with its prefix (Maven 3.8
/// never uploads it), and a build elsewhere runs it as `hello:greet`.
#[tokio::test]
async fn a_deployed_maven_plugin_runs_by_its_prefix() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("pat");
    create_repository(&app, "pat/tools", false);
    let url_arg = format!("-Dpackyard.url={}/maven/pat/tools", app.url);
    let work = tempfile::tempdir().expect("work dir");
    let plugin = project("hello-plugin", work.path());
    Mvn::new("pat", Some(&token), None).ok(&plugin, &["-q", &url_arg, "deploy"]);

    let (status, group) = get_text(
        &app,
        Some(&token),
        "/maven/pat/tools/com/example/plugins/maven-metadata.xml",
    )
    .await;
    assert_eq!(status, 200, "{group}");
    assert!(group.contains("<prefix>hello</prefix>"), "{group}");
    assert!(
        group.contains("<artifactId>hello-maven-plugin</artifactId>"),
        "{group}"
    );

    let user_dir = project("plugin-user", work.path());
    let user = Mvn::new("pat", Some(&token), Some("com.example.plugins"));
    let out = user.ok(&user_dir, &[&url_arg, "hello:greet"]);
    assert!(
        out.contains("Hello from the Packyard-hosted plugin"),
        "{out}"
    );
}

/// Gradle 4.4 uploads with the legacy `maven` plugin (`uploadArchives`), and a Gradle
/// build resolves that library and an mvn-deployed one from Packyard, with a read-only
/// token.
#[tokio::test]
async fn gradle_uploads_archives_and_resolves_them() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("gail");
    let reader = app.token("gail", "read:packages");
    create_repository(&app, "gail/libs", false);
    let url = format!("{}/maven/gail/libs", app.url);
    let work = tempfile::tempdir().expect("work dir");
    Mvn::new("gail", Some(&token), None).ok(
        &project("app", work.path()),
        &["-q", &format!("-Dpackyard.url={url}"), "deploy"],
    );
    let gradle = |dir: &Path, token: &str, args: &[&str]| {
        let home = work.path().join(format!("gradle-home-{}", args.join("-")));
        let out = Command::new("gradle")
            .current_dir(dir)
            .env("GRADLE_USER_HOME", &home)
            .env("HOME", work.path())
            .args(["--no-daemon", "-q", "--console=plain"])
            .arg(format!("-PpackyardUrl={url}"))
            .arg(format!("-PpackyardToken={token}"))
            .args(args)
            .output()
            .expect("run gradle");
        assert!(
            out.status.success(),
            "gradle {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let lib = project("gradle-lib", work.path());
    gradle(&lib, &token, &["--offline", "uploadArchives"]);
    let (status, pom) = get_text(
        &app,
        Some(&token),
        "/maven/gail/libs/com/example/gradle-lib/2.0.0/gradle-lib-2.0.0.pom",
    )
    .await;
    assert_eq!(status, 200);
    assert!(pom.contains("A library published by Gradle"), "{pom}");
    let consumer = project("gradle-consumer", work.path());
    gradle(&consumer, &reader, &["compileJava"]);
    assert!(
        consumer
            .join("build/classes/java/main/com/example/gradleconsumer/Use.class")
            .exists()
    );
    let data = app
        .gql_ok(
            Some(&token),
            r#"{ package(owner: "gail", packageType: MAVEN, name: "com.example:gradle-lib") {
                 version(version: "2.0.0") { summary license } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["package"]["version"]["summary"],
        "A library published by Gradle"
    );
    assert_eq!(data["package"]["version"]["license"], "MIT");
}

/// Who may read and deploy: private and missing answer alike (401 with the Basic
/// challenge for anonymous callers, 404 for strangers), a read-only token resolves but
/// can't deploy, repository collaborators deploy with write and not with read, a public
/// repository's packages resolve anonymously, a deploy to a missing repository names it
/// and says how to create it in the reason phrase.
#[tokio::test]
async fn maven_reads_and_deploys_follow_the_repository() {
    let app = TestApp::spawn().await;
    let owner = app.user_with_token("olga");
    let stranger = app.user_with_token("sam");
    let writer = app.user_with_token("wes");
    let reader_user = app.user_with_token("rae");
    let read_only = app.token("olga", "read:packages");
    create_repository(&app, "olga/private", false);
    create_repository(&app, "olga/open", true);
    let jar = format!("/maven/olga/private/{APP}/1.0/app-1.0.jar");
    assert_eq!(
        put(&app, Some(&owner), &jar, b"jar bytes".to_vec())
            .await
            .status(),
        201
    );

    // Anonymous: private and missing alike, with the challenge mvn needs.
    for path in [
        jar.clone(),
        format!("/maven/olga/private/{APP}/maven-metadata.xml"),
        format!("/maven/olga/private/{APP}/9.9/app-9.9.jar"),
        "/maven/olga/nope/com/example/x/maven-metadata.xml".into(),
    ] {
        let r = app.get(None, &path).await;
        assert_eq!(r.status(), 401, "{path}");
        assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"Packyard\"");
    }
    assert_eq!(app.get(Some(&stranger), &jar).await.status(), 404);
    assert_eq!(put(&app, None, &jar, b"x".to_vec()).await.status(), 401);

    // Read-only token: resolves, can't deploy.
    assert_eq!(app.get(Some(&read_only), &jar).await.status(), 200);
    let other = format!("/maven/olga/private/{APP}/1.1/app-1.1.jar");
    assert_eq!(
        put(&app, Some(&read_only), &other, b"x".to_vec())
            .await
            .status(),
        403
    );

    // Collaborators: write deploys (a new package too), read resolves only.
    let repo_id = app
        .gql_ok(
            Some(&owner),
            r#"{ repository(owner: "olga", name: "private") { id } }"#,
            json!({}),
        )
        .await["repository"]["id"]
        .as_str()
        .map(str::to_string);
    let repo_id = match repo_id {
        Some(id) => id,
        None => panic!("no repository id"),
    };
    for (login, role) in [("wes", "WRITE"), ("rae", "READ")] {
        app.gql_ok(
            Some(&owner),
            r#"mutation($r: ID!, $l: String!, $role: RepositoryRole!) { setRepositoryCollaborator(input: {repositoryId: $r, login: $l, role: $role}) { repository { id } } }"#,
            json!({"r": repo_id, "l": login, "role": role}),
        )
        .await;
    }
    assert_eq!(
        put(&app, Some(&writer), &other, b"by wes".to_vec())
            .await
            .status(),
        201
    );
    let new_package = "/maven/olga/private/com/example/lib/1.0/lib-1.0.jar";
    assert_eq!(
        put(&app, Some(&writer), new_package, b"lib".to_vec())
            .await
            .status(),
        201
    );
    let refused = put(
        &app,
        Some(&reader_user),
        "/maven/olga/private/com/example/app/1.2/app-1.2.jar",
        b"x".to_vec(),
    )
    .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(app.get(Some(&reader_user), &jar).await.status(), 200);
    // A package lives in one repository: not served, nor deployed, through another.
    assert_eq!(
        app.get(
            Some(&owner),
            &format!("/maven/olga/open/{APP}/1.0/app-1.0.jar")
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        put(
            &app,
            Some(&owner),
            &format!("/maven/olga/open/{APP}/3.0/app-3.0.jar"),
            b"x".to_vec()
        )
        .await
        .status(),
        409
    );

    // Nor can it be linked to another repository afterwards.
    let ids = app
        .gql_ok(
            Some(&owner),
            r#"{ package(owner: "olga", packageType: MAVEN, name: "com.example:app") { id }
                 repository(owner: "olga", name: "open") { id } }"#,
            json!({}),
        )
        .await;
    let moved = app
        .graphql(
            Some(&owner),
            r#"mutation($p: ID!, $r: ID!) { linkPackageRepository(input: {packageId: $p, repositoryId: $r}) { package { id } } }"#,
            json!({"p": ids["package"]["id"], "r": ids["repository"]["id"]}),
        )
        .await;
    assert!(
        moved["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("always belong")),
        "{moved}"
    );

    // A public repository's packages resolve anonymously.
    let open_jar = "/maven/olga/open/org/open/tool/1.0/tool-1.0.jar";
    assert_eq!(
        put(&app, Some(&owner), open_jar, b"open".to_vec())
            .await
            .status(),
        201
    );
    let anonymous = app.get(None, open_jar).await;
    assert_eq!(anonymous.status(), 200);
    assert_eq!(anonymous.bytes().await.expect("bytes").as_ref(), b"open");
    let (status, metadata) = get_text(
        &app,
        None,
        "/maven/olga/open/org/open/tool/maven-metadata.xml",
    )
    .await;
    assert_eq!(status, 200);
    assert!(metadata.contains("<version>1.0</version>"));
    let visibility = app
        .gql_ok(None, r#"{ package(owner: "olga", packageType: MAVEN, name: "org.open:tool") { visibility } }"#, json!({}))
        .await;
    assert_eq!(visibility["package"]["visibility"], "PUBLIC");

    // A deploy to a repository that doesn't exist (or that the caller can't see) says so,
    // in the body and the reason phrase mvn prints.
    for (token, repository) in [(&owner, "olga/nope"), (&stranger, "olga/private")] {
        let line = status_line(
            &app,
            "PUT",
            &format!("/maven/{repository}/com/example/x/1/x-1.jar"),
            token,
            "x",
        );
        assert!(line.starts_with("HTTP/1.1 404 "), "{line}");
        assert!(
            line.contains(&format!("Repository {repository} does not exist")),
            "{line}"
        );
        assert!(
            line.contains(&format!("packyard admin create-repository {repository}")),
            "{line}"
        );
    }
}

/// Checksums: served from stored digests for files and generated metadata; an uploaded
/// checksum that doesn't match is refused with nothing changed; one uploaded before its
/// file is kept and the file must match it. Gradle 6+'s `.module` files and their four
/// checksums are stored and served. A client's own maven-metadata.xml is accepted but
/// never served; a hostile one, a hostile POM or path is refused with nothing stored.
#[tokio::test]
async fn maven_checksums_metadata_and_hostile_input() {
    let app = TestApp::spawn().await;
    let token = app.user_with_token("cora");
    create_repository(&app, "cora/libs", false);
    let base = "/maven/cora/libs/org/demo/lib";
    let jar = format!("{base}/1.0/lib-1.0.jar");
    assert_eq!(
        put(&app, Some(&token), &jar, b"the jar".to_vec())
            .await
            .status(),
        201
    );

    // A matching checksum is accepted, a wrong one refused, the file untouched.
    let good = sha1_hex(b"the jar");
    assert_eq!(
        put(
            &app,
            Some(&token),
            &format!("{jar}.sha1"),
            good.clone().into_bytes()
        )
        .await
        .status(),
        201
    );
    let wrong = put(
        &app,
        Some(&token),
        &format!("{jar}.sha1"),
        sha1_hex(b"other").into_bytes(),
    )
    .await;
    assert_eq!(wrong.status(), 400);
    assert!(
        wrong
            .text()
            .await
            .expect("body")
            .contains("checksum mismatch")
    );
    assert_eq!(
        get_text(&app, Some(&token), &format!("{jar}.sha1")).await,
        (200, good)
    );
    assert_eq!(
        get_text(&app, Some(&token), &format!("{jar}.sha256")).await,
        (200, sha256_hex(b"the jar"))
    );

    // A checksum before its file: kept; a file that doesn't match it is refused.
    let early = format!("{base}/1.1/lib-1.1.jar");
    let expected = sha1_hex(b"promised bytes");
    assert_eq!(
        put(
            &app,
            Some(&token),
            &format!("{early}.sha1"),
            expected.clone().into_bytes()
        )
        .await
        .status(),
        201
    );
    let mismatch = put(&app, Some(&token), &early, b"other bytes".to_vec()).await;
    assert_eq!(mismatch.status(), 400);
    assert_eq!(
        app.get(Some(&token), &early).await.status(),
        404,
        "nothing stored"
    );
    let (_, listing) = get_text(&app, Some(&token), &format!("{base}/maven-metadata.xml")).await;
    assert!(
        !listing.contains("<version>1.1</version>"),
        "a kept checksum isn't a version: {listing}"
    );
    assert_eq!(
        put(&app, Some(&token), &early, b"promised bytes".to_vec())
            .await
            .status(),
        201
    );
    assert_eq!(
        get_text(&app, Some(&token), &format!("{early}.sha1")).await,
        (200, expected)
    );

    // Gradle 6+'s maven-publish: the module file and its four checksums.
    let module = format!("{base}/1.0/lib-1.0.module");
    let module_json = br#"{"formatVersion":"1.1","component":{"group":"org.demo","module":"lib","version":"1.0"}}"#;
    assert_eq!(
        put(&app, Some(&token), &module, module_json.to_vec())
            .await
            .status(),
        201
    );
    for (suffix, hex) in [
        ("md5", {
            use md5::Digest;
            md5::Md5::digest(module_json)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        }),
        ("sha1", sha1_hex(module_json)),
        ("sha256", sha256_hex(module_json)),
        ("sha512", {
            use sha2::Digest;
            sha2::Sha512::digest(module_json)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        }),
    ] {
        let r = put(
            &app,
            Some(&token),
            &format!("{module}.{suffix}"),
            hex.clone().into_bytes(),
        )
        .await;
        assert_eq!(r.status(), 201, "{suffix}");
        assert_eq!(
            get_text(&app, Some(&token), &format!("{module}.{suffix}")).await,
            (200, hex)
        );
    }
    let served = app.get(Some(&token), &module).await;
    assert_eq!(served.headers()["content-type"], "application/json");
    assert!(served.headers().contains_key("last-modified"));
    assert_eq!(served.bytes().await.expect("bytes").as_ref(), module_json);

    // Range reads.
    let partial = app
        .http
        .get(format!("{}{jar}", app.url))
        .basic_auth("u", Some(&token))
        .header("range", "bytes=4-6")
        .send()
        .await
        .expect("range");
    assert_eq!(partial.status(), 206);
    assert_eq!(partial.bytes().await.expect("bytes").as_ref(), b"jar");

    // Metadata: a client's sane upload is accepted and ignored; its checksums too; ours
    // is served, with checksums of what is served.
    let metadata = format!("{base}/maven-metadata.xml");
    let theirs = "<metadata><groupId>org.demo</groupId><artifactId>lib</artifactId><versioning><versions><version>7.7</version></versions></versioning></metadata>";
    assert_eq!(
        put(&app, Some(&token), &metadata, theirs.into())
            .await
            .status(),
        201
    );
    assert_eq!(
        put(
            &app,
            Some(&token),
            &format!("{metadata}.sha1"),
            sha1_hex(theirs.as_bytes()).into_bytes()
        )
        .await
        .status(),
        201
    );
    let (_, ours) = get_text(&app, Some(&token), &metadata).await;
    assert!(
        !ours.contains("7.7") && ours.contains("<version>1.0</version>"),
        "{ours}"
    );
    assert_eq!(
        get_text(&app, Some(&token), &format!("{metadata}.sha1")).await,
        (200, sha1_hex(ours.as_bytes()))
    );
    for hostile in [
        "<!DOCTYPE metadata [<!ENTITY a \"b\">]><metadata>&a;</metadata>",
        "<metadata><groupId>org.evil</groupId></metadata>",
        "<metadata>",
    ] {
        assert_eq!(
            put(&app, Some(&token), &metadata, hostile.into())
                .await
                .status(),
            400,
            "{hostile}"
        );
    }

    // A hostile POM: refused, nothing stored.
    let pom = format!("{base}/2.0/lib-2.0.pom");
    let bomb = "<?xml version=\"1.0\"?><!DOCTYPE project [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]><project><name>&b;</name></project>";
    assert_eq!(
        put(&app, Some(&token), &pom, bomb.into()).await.status(),
        400
    );
    let mislabeled = "<project><groupId>org.demo</groupId><artifactId>other</artifactId><version>2.0</version></project>";
    assert_eq!(
        put(&app, Some(&token), &pom, mislabeled.into())
            .await
            .status(),
        400
    );
    assert_eq!(app.get(Some(&token), &pom).await.status(), 404);

    // Hostile paths, before any I/O.
    for path in [
        "/maven/cora/libs/org/../lib/1.0/lib-1.0.jar",
        "/maven/cora/libs/org/demo/lib/1.0/%2e%2e",
        "/maven/cora/libs/org/de.mo/lib/1.0/lib-1.0.jar",
        "/maven/cora/libs/org/demo/lib/1%20/lib.jar",
        "/maven/cora/li%2Fbs/org/demo/lib/1.0/lib-1.0.jar",
    ] {
        let status = put(&app, Some(&token), path, b"x".to_vec()).await.status();
        assert!(status == 400 || status == 404, "{path}: {status}");
        assert_ne!(status, 201);
    }
}

/// A 100 MiB artifact streams up and down through mvn's protocol with flat server memory.
#[tokio::test]
async fn a_100_mib_artifact_streams_with_flat_memory() {
    const CHUNK: usize = 1 << 20;
    const CHUNKS: usize = 100;
    let app = TestApp::spawn().await;
    let token = app.user_with_token("bea");
    create_repository(&app, "bea/big", false);
    let path = format!("{}/maven/bea/big/org/big/blob/1.0/blob-1.0.jar", app.url);
    let body = futures::stream::iter(
        (0..CHUNKS).map(|i| Ok::<_, std::io::Error>(vec![(i % 251) as u8; CHUNK])),
    );
    let up = app
        .http
        .put(&path)
        .basic_auth("u", Some(&token))
        .header("content-length", (CHUNK * CHUNKS).to_string())
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .expect("upload");
    assert_eq!(up.status(), 201);
    let mut down = app
        .http
        .get(&path)
        .basic_auth("u", Some(&token))
        .send()
        .await
        .expect("download");
    assert_eq!(down.status(), 200);
    let mut total = 0;
    let mut hasher = <sha1::Sha1 as sha1::Digest>::new();
    while let Some(chunk) = down.chunk().await.expect("chunk") {
        sha1::Digest::update(&mut hasher, &chunk);
        total += chunk.len();
    }
    assert_eq!(total, CHUNK * CHUNKS);
    let got: String = sha1::Digest::finalize(hasher)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let (status, served) = get_text(
        &app,
        Some(&token),
        "/maven/bea/big/org/big/blob/1.0/blob-1.0.jar.sha1",
    )
    .await;
    assert_eq!((status, served), (200, got));
    let peak_mib = peak_rss_kib(app.pid()) / 1024;
    eprintln!("100 MiB up and down: server peak RSS {peak_mib} MiB");
    assert!(peak_mib < 100, "server peak RSS {peak_mib} MiB");
}
