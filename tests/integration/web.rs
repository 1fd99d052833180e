//! The web UI: the browser story in real Chromium (tests/browser/web.mjs, playwright-core
//! and axe-core) over packages published by the real npm client and pushed by skopeo,
//! and the HTTP facts a browser reports loosely: the raw `Set-Cookie` attributes, CSRF
//! refusals, security headers, throttled sign-ins, revoked sessions, outsiders' 404s.
use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::TestApp;

const PASSWORD: &str = "correct horse battery";

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run client");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Publishes `@scope/name` at each version with the real npm CLI; every README carries a
/// script, an `onerror` image and a `javascript:` link.
fn npm_publish(
    app: &TestApp,
    work: &Path,
    scope: &str,
    name: &str,
    token: &str,
    versions: &[&str],
) {
    let registry = format!("{}/npm/", app.url);
    let host = registry.trim_start_matches("http:");
    let rc = work.join("npmrc");
    std::fs::write(
        &rc,
        format!(
            "@{scope}:registry={registry}\n{host}:_authToken={token}\nfund=false\naudit=false\nupdate-notifier=false\n"
        ),
    )
    .expect("npmrc");
    for version in versions {
        let pkg = work.join(format!("{name}-{version}"));
        std::fs::create_dir_all(&pkg).expect("pkg dir");
        std::fs::write(
            pkg.join("package.json"),
            json!({"name": format!("@{scope}/{name}"), "version": version, "license": "MIT",
                   "description": "A widget for the web UI test", "main": "index.js"})
            .to_string(),
        )
        .expect("package.json");
        std::fs::write(pkg.join("index.js"), "module.exports = 1;\n").expect("index.js");
        std::fs::write(
            pkg.join("README.md"),
            format!(
                "# {name} {version}\n\nA **widget**.\n\n<script>window.__pwned = 1; alert('script')</script>\n\n\
                 <img src=\"x\" onerror=\"window.__pwned = 2; alert('img')\">\n\n\
                 [click me](javascript:window.__pwned=3) <a href=\"javascript:alert(4)\">raw</a>\n"
            ),
        )
        .expect("README");
        let home = work.join("home");
        std::fs::create_dir_all(&home).expect("home");
        run(Command::new("npm")
            .args(["publish", "--quiet"])
            .current_dir(&pkg)
            .env("HOME", &home)
            .env("npm_config_userconfig", &rc)
            .env("npm_config_cache", work.join("npm-cache"))
            .env_remove("NPM_CONFIG_REGISTRY"));
    }
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// Pushes a one-layer image `owner/name:tag` with skopeo from an OCI layout on disk.
fn skopeo_push(app: &TestApp, work: &Path, user: &str, token: &str, image: &str, tag: &str) {
    let layout = work.join("layout");
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("layout");
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("oci-layout");
    let blob = |data: &[u8]| {
        let digest = sha256(data);
        std::fs::write(blobs.join(&digest[7..]), data).expect("blob");
        json!({"digest": digest, "size": data.len()})
    };
    let mut tar = tar::Builder::new(Vec::new());
    let content = b"hello from the web UI test\n";
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, "hello.txt", &content[..])
        .expect("tar");
    let tar = tar.into_inner().expect("tar");
    let diff_id = sha256(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).expect("gzip");
    let layer = gz.finish().expect("gzip");
    let config = json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]}});
    let mut config_desc = blob(config.to_string().as_bytes());
    config_desc["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let mut layer_desc = blob(&layer);
    layer_desc["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc, "layers": [layer_desc],
        "annotations": {"org.opencontainers.image.description": "an image for the web UI test"}});
    let mut desc = blob(manifest.to_string().as_bytes());
    desc["mediaType"] = json!("application/vnd.oci.image.manifest.v1+json");
    desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    std::fs::write(
        layout.join("index.json"),
        json!({"schemaVersion": 2, "manifests": [desc]}).to_string(),
    )
    .expect("index.json");
    let home = work.join("skopeo-home");
    std::fs::create_dir_all(&home).expect("home");
    run(Command::new("skopeo")
        .env("HOME", &home)
        .env("REGISTRY_AUTH_FILE", home.join("auth.json"))
        .env("XDG_RUNTIME_DIR", &home)
        .args([
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &format!("{user}:{token}"),
            &format!("oci:{}:{tag}", layout.display()),
            &format!("docker://127.0.0.1:{}/{image}:{tag}", app.port),
        ]));
}

fn browser_modules() -> PathBuf {
    let dir = TestApp::repo_root().join(".tools/browser/node_modules");
    assert!(
        dir.join("playwright-core").exists() && dir.join("axe-core").exists(),
        "playwright-core and axe-core are missing: run scripts/install-deps.sh"
    );
    dir
}

fn screenshot_dir() -> PathBuf {
    TestApp::repo_root().join("target/web-screenshots")
}

#[tokio::test]
async fn browser_story_signs_in_finds_npm_and_skopeo_packages_and_manages_them() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "chromium is missing: run scripts/install-deps.sh"
    );
    let modules = browser_modules();
    let app = TestApp::spawn().await;
    app.create_user_with_password("alice", PASSWORD);
    let token = app.token(
        "alice",
        "read:packages,write:packages,delete:packages,admin:org,user",
    );
    app.create_org("acme", "alice");
    app.gql_ok(
        Some(&token),
        "mutation { createTeam(input: {organizationLogin: \"acme\", slug: \"devs\", name: \"Developers\"}) { team { slug } } }",
        json!({}),
    )
    .await;
    let work = tempfile::tempdir().expect("tempdir");
    npm_publish(
        &app,
        work.path(),
        "acme",
        "widget",
        &token,
        &["1.0.0", "1.1.0"],
    );
    skopeo_push(&app, work.path(), "alice", &token, "acme/web", "1.0");

    let shots = screenshot_dir();
    let out = Command::new("node")
        .arg(TestApp::repo_root().join("tests/browser/web.mjs"))
        .env("PACKYARD_URL", &app.url)
        .env("WEB_LOGIN", "alice")
        .env("WEB_PASSWORD", PASSWORD)
        .env("WEB_ORG", "acme")
        .env("WEB_NPM", "widget")
        .env("WEB_IMAGE", "web")
        .env("WEB_TEAM", "devs")
        .env("SCREENSHOT_DIR", &shots)
        .env("BROWSER_MODULES", &modules)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("web story: ok"),
        "browser story failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        app.log()
    );
    eprintln!("web UI screenshots: {}", shots.display());
    for name in [
        "signin",
        "home",
        "package-npm",
        "package-container",
        "settings",
        "account-new-token",
        "organization",
        "webhooks",
        "audit",
    ] {
        assert!(
            shots.join(format!("{name}.png")).exists(),
            "screenshot {name}"
        );
    }

    // What the browser did is what the API sees.
    let data = app
        .gql_ok(
            Some(&token),
            "{ package(owner: \"acme\", packageType: NPM, name: \"widget\") { visibility \
               grants { role team { slug } } versions { totalCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["package"]["visibility"], "PUBLIC");
    let grants = data["package"]["grants"].as_array().expect("grants");
    assert!(
        grants
            .iter()
            .any(|g| g["team"]["slug"] == "devs" && g["role"] == "WRITE"),
        "the team's grant: {grants:?}"
    );
    assert_eq!(
        data["package"]["versions"]["totalCount"], 2,
        "1.0.0 restored"
    );
    // The token the browser created and revoked is refused.
    let browser_token = stdout
        .lines()
        .find_map(|l| {
            serde_json::from_str::<Value>(l).ok()?["token"]
                .as_str()
                .map(String::from)
        })
        .expect("the script printed the token");
    let r = app.get(Some(&browser_token), "/npm/@acme%2fwidget").await;
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a revoked token is refused"
    );
}

/// A client that keeps redirects and cookies to itself, as the assertions need them.
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .collect()
}

fn cookie_value(set_cookies: &[String], name: &str) -> Option<String> {
    set_cookies.iter().find_map(|c| {
        let first = c.split(';').next()?;
        let (k, v) = first.split_once('=')?;
        (k == name && !v.is_empty()).then(|| v.to_string())
    })
}

/// The value of the first `name="csrf"` field on a page.
fn csrf_of(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a csrf field");
    let rest = &html[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').expect("end of value")].to_string()
}

struct Browser {
    http: reqwest::Client,
    base: String,
    session: Option<String>,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        Self {
            http: raw_client(),
            base: app.url.clone(),
            session: None,
        }
    }

    fn cookie(&self) -> String {
        self.session
            .as_ref()
            .map(|s| format!("packyard_session={s}"))
            .unwrap_or_default()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie())
            .send()
            .await
            .expect("GET")
    }

    async fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        extra_cookie: Option<&str>,
    ) -> reqwest::Response {
        let mut cookie = self.cookie();
        if let Some(c) = extra_cookie {
            cookie = format!("{cookie}; {c}");
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.http
            .post(format!("{}{path}", self.base))
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST")
    }

    /// Signs in through the form; returns the raw answer.
    async fn sign_in(&mut self, login: &str, password: &str) -> reqwest::Response {
        let form = self.get("/-/signin").await;
        let csrf_cookie =
            cookie_value(&set_cookies(&form), "packyard_signin_csrf").expect("csrf cookie");
        let html = form.text().await.expect("html");
        let csrf = csrf_of(&html);
        assert_eq!(
            csrf, csrf_cookie,
            "double submit: the form carries the cookie's token"
        );
        let r = self
            .post(
                "/-/signin",
                &[
                    ("csrf", &csrf),
                    ("login", login),
                    ("password", password),
                    ("next", "/-/account"),
                ],
                Some(&format!("packyard_signin_csrf={csrf_cookie}")),
            )
            .await;
        if let Some(s) = cookie_value(&set_cookies(&r), "packyard_session") {
            self.session = Some(s);
        }
        r
    }
}

#[tokio::test]
async fn sessions_cookies_csrf_headers_throttling_and_privacy_over_http() {
    let app = TestApp::spawn().await;
    app.create_user_with_password("alice", PASSWORD);
    app.create_user_with_password("bob", PASSWORD);
    let token = app.token("alice", "read:packages,write:packages,delete:packages,user");
    let put = app
        .put_generic(
            Some(&token),
            "alice/secret-tool/1.0.0/tool.txt",
            b"hi".to_vec(),
        )
        .await;
    assert!(put.status().is_success(), "{}", put.status());

    // Security headers on every page, error pages included, and error pages have a body.
    let mut alice = Browser::new(&app);
    for path in [
        "/",
        "/-/signin",
        "/-/no-such-page",
        "/-/package/alice/generic/secret-tool",
    ] {
        let r = alice.get(path).await;
        let h = r.headers().clone();
        let csp = h
            .get(header::CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: CSP {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: CSP {csp}");
        assert_eq!(
            h.get(header::X_CONTENT_TYPE_OPTIONS).expect("nosniff"),
            "nosniff",
            "{path}"
        );
        assert!(h.get(header::REFERRER_POLICY).is_some(), "{path}");
        let status = r.status();
        let body = r.text().await.expect("body");
        assert!(
            body.starts_with("<!DOCTYPE html>"),
            "{path} ({status}) has an HTML body"
        );
    }
    // An anonymous visitor doesn't learn a private package exists.
    let anonymous = alice.get("/-/package/alice/generic/secret-tool").await;
    assert_eq!(anonymous.status(), StatusCode::NOT_FOUND);
    let missing = alice.get("/-/package/alice/generic/no-such-tool").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        anonymous.text().await.expect("body"),
        missing.text().await.expect("body"),
        "private and missing look alike"
    );

    // Sign-in without the form's CSRF token is refused before the password is checked.
    let r = alice
        .post(
            "/-/signin",
            &[("login", "alice"), ("password", PASSWORD)],
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        set_cookies(&r)
            .iter()
            .all(|c| !c.starts_with("packyard_session=pky"))
    );
    // A wrong password: 401, the form again, no session.
    let r = alice.sign_in("alice", "wrong password").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(alice.session.is_none());

    // The right one: a session cookie with exactly the attributes it must have.
    let r = alice.sign_in("alice", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers().get(header::LOCATION).expect("Location"),
        "/-/account"
    );
    let cookies = set_cookies(&r);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("packyard_session="))
        .expect("session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1209600"] {
        assert!(
            session.split("; ").any(|a| a == attribute),
            "{attribute} in {session}"
        );
    }
    assert!(
        !session.contains("Secure"),
        "plain http: no Secure ({session})"
    );
    let page = alice.get("/-/package/alice/generic/secret-tool").await;
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the owner sees the private package"
    );

    // A form without its CSRF token (or with another session's) changes nothing.
    let account = alice.get("/-/account").await.text().await.expect("body");
    let csrf = csrf_of(&account);
    let mut bob = Browser::new(&app);
    assert_eq!(
        bob.sign_in("bob", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let bob_csrf = csrf_of(&bob.get("/-/account").await.text().await.expect("body"));
    assert_ne!(csrf, bob_csrf, "CSRF tokens are per session");
    for form in [
        vec![
            ("action", "token.create"),
            ("name", "forged"),
            ("scopes", "read:packages"),
        ],
        vec![
            ("action", "token.create"),
            ("name", "forged"),
            ("scopes", "read:packages"),
            ("csrf", bob_csrf.as_str()),
        ],
    ] {
        let r = alice.post("/-/account", &form, None).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.text().await.expect("body").contains("CSRF"));
    }
    let settings = "/-/settings/alice/generic/secret-tool";
    let r = alice
        .post(
            settings,
            &[
                ("action", "package.set_visibility"),
                ("visibility", "PUBLIC"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let data = app
        .gql_ok(Some(&token), "{ viewer { accessTokens { name } } package(owner: \"alice\", packageType: GENERIC, name: \"secret-tool\") { visibility } }", json!({}))
        .await;
    assert!(
        !data.to_string().contains("forged"),
        "no token was created: {data}"
    );
    assert_eq!(data["package"]["visibility"], "PRIVATE");

    // An outsider, signed in, gets the same 404 for the private package and its settings,
    // and can't act on them even with a valid form of their own.
    for path in ["/-/package/alice/generic/secret-tool", settings] {
        assert_eq!(
            bob.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let r = bob
        .post(
            settings,
            &[
                ("csrf", &bob_csrf),
                ("action", "package.set_visibility"),
                ("visibility", "PUBLIC"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The account page lists the sessions; revoking one ends it at once (sign-out too).
    let listed = app
        .gql_ok(
            Some(&token),
            "{ viewerSessions { id userAgent } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["viewerSessions"].as_array().expect("sessions").len(),
        1,
        "alice's one session: {listed}"
    );
    let old = alice.session.clone();
    let r = alice.post("/-/signout", &[("csrf", &csrf)], None).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        set_cookies(&r)
            .iter()
            .any(|c| c.starts_with("packyard_session=;") && c.contains("Max-Age=0"))
    );
    alice.session = old;
    let after = alice.get("/-/package/alice/generic/secret-tool").await;
    assert_eq!(
        after.status(),
        StatusCode::NOT_FOUND,
        "the old cookie no longer signs in"
    );
    let r = alice.get("/-/account").await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "account wants a sign-in again"
    );

    // Failed sign-ins are throttled (by the domain's password guard): 429 + Retry-After.
    let mut mallory = Browser::new(&app);
    let mut throttled = None;
    for _ in 0..30 {
        let r = mallory.sign_in("bob", "guess").await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(r);
            break;
        }
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = throttled.expect("sign-ins were throttled");
    assert!(r.headers().get(header::RETRY_AFTER).is_some());
    // Even the right password waits out the throttle.
    let r = mallory.sign_in("bob", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn session_cookie_is_secure_when_the_public_url_is_https() {
    let app =
        TestApp::spawn_with(&[("PACKYARD_PUBLIC_URL", "https://packages.example.test")]).await;
    app.create_user_with_password("alice", PASSWORD);
    let mut alice = Browser::new(&app);
    let form = alice.get("/-/signin").await;
    assert!(set_cookies(&form).iter().all(|c| c.contains("; Secure")));
    let r = alice.sign_in("alice", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookies = set_cookies(&r);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("packyard_session="))
        .expect("session cookie");
    assert!(session.split("; ").any(|a| a == "Secure"), "{session}");
    // And the install commands name the public URL, not the listening address.
    let token = app.token("alice", "read:packages,write:packages");
    let put = app
        .put_generic(Some(&token), "alice/tool/1.0.0/tool.txt", b"x".to_vec())
        .await;
    assert!(put.status().is_success());
    let page = alice
        .get("/-/package/alice/generic/tool")
        .await
        .text()
        .await
        .expect("body");
    assert!(
        page.contains("https://packages.example.test/generic/alice/tool/1.0.0/tool.txt"),
        "{page}"
    );
}

#[tokio::test]
async fn package_page_is_paginated_and_costs_the_same_queries_whatever_the_version_count() {
    let app = TestApp::spawn().await;
    app.create_user_with_password("alice", PASSWORD);
    let token = app.token("alice", "read:packages,write:packages");
    let few = app
        .put_generic(Some(&token), "alice/few/1.0.0/f.txt", "x")
        .await;
    assert!(few.status().is_success());
    for i in 0..40 {
        let r = app
            .put_generic(
                Some(&token),
                &format!("alice/many/1.0.{i}/f.txt"),
                format!("v{i}"),
            )
            .await;
        assert!(r.status().is_success(), "{}", r.status());
    }
    let mut alice = Browser::new(&app);
    assert_eq!(
        alice.sign_in("alice", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    // A token is no UI credential: without the session cookie the private page is a 404.
    let r = alice
        .http
        .get(format!("{}/-/package/alice/generic/many", app.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let mut cost = Vec::new();
    for name in ["few", "many", "few", "many"] {
        let before = app.sql_statements().await;
        let r = alice.get(&format!("/-/package/alice/generic/{name}")).await;
        assert_eq!(r.status(), StatusCode::OK);
        let body = r.text().await.expect("body");
        cost.push(app.sql_statements().await - before);
        if name == "many" {
            assert!(
                body.contains("41 versions") || body.contains("40 versions"),
                "count shown"
            );
            let rows = body.matches("?version=1.0.").count();
            assert!(rows >= 30, "a page of versions: {rows}");
            assert!(
                !body.contains(">1.0.0<"),
                "the oldest version is on the next page"
            );
            assert!(body.contains("rel=\"next\""), "a link to older versions");
        }
    }
    // The 40-version page (30 rows shown) costs what the 1-version page costs: a few
    // statements of slack for background writes (a session's last-seen, count flushes),
    // far below one per row.
    for pair in cost.chunks(2) {
        assert!(
            pair[1] <= pair[0] + 4,
            "statements per page, few vs many: {cost:?}"
        );
    }

    // The next page holds the rest, oldest last.
    let first = alice
        .get("/-/package/alice/generic/many")
        .await
        .text()
        .await
        .expect("body");
    let at = first.find("rel=\"next\"").expect("next link");
    let href_start = first[..at].rfind("href=\"").expect("href") + "href=\"".len();
    let href = first[href_start..]
        .split('"')
        .next()
        .expect("href value")
        .replace("&amp;", "&");
    let second = alice.get(&href).await.text().await.expect("body");
    assert!(
        second.contains(">1.0.0<"),
        "the oldest version is on page two"
    );
    assert!(!second.contains("rel=\"next\""), "page two is the last");
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn webhook_and_audit_pages_manage_hooks_and_show_changes_to_owners_only() {
    let app = TestApp::spawn().await;
    app.create_user_with_password("alice", PASSWORD);
    app.create_user_with_password("bob", PASSWORD);
    app.admin(&["create-user", "site-admin", "--admin"], Some(PASSWORD));
    app.create_org("acme", "alice");
    let mut alice = Browser::new(&app);
    alice.sign_in("alice", PASSWORD).await;
    let mut bob = Browser::new(&app);
    bob.sign_in("bob", PASSWORD).await;
    let anonymous = Browser::new(&app);

    // The owner page links the owner's administration pages.
    let owner_page = alice.get("/-/owner/acme").await.text().await.expect("html");
    assert!(owner_page.contains(r#"href="/-/owner/acme/webhooks""#));
    assert!(owner_page.contains(r#"href="/-/owner/acme/audit""#));

    let page = alice.get("/-/owner/acme/webhooks").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("No webhooks yet."), "{html}");
    let csrf = csrf_of(&html);
    let create = [
        ("action", "webhook.create"),
        ("url", "http://127.0.0.1:9/hook"),
        ("secret", "s3cret"),
        ("content_type", "JSON"),
        ("events", "PUBLISHED"),
        ("events", "DELETED"),
        ("active", "true"),
    ];
    // Without the session's CSRF token the form is refused and nothing is created.
    let r = alice.post("/-/owner/acme/webhooks", &create, None).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let mut with_csrf = vec![("csrf", csrf.as_str())];
    with_csrf.extend(create);
    let r = alice.post("/-/owner/acme/webhooks", &with_csrf, None).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "{}",
        r.text().await.unwrap_or_default()
    );
    let hook_page = location(&r);
    assert!(
        hook_page.starts_with("/-/owner/acme/webhooks/"),
        "{hook_page}"
    );
    let hook_id = hook_page.rsplit('/').next().expect("id").to_string();
    let list = alice
        .get("/-/owner/acme/webhooks")
        .await
        .text()
        .await
        .expect("html");
    assert!(list.contains("http://127.0.0.1:9/hook"), "listed");
    assert!(list.contains("published, deleted"), "its events");

    // The hook's page: the ping is among its deliveries; its detail shows the request.
    let html = alice.get(&hook_page).await.text().await.expect("html");
    assert!(html.contains("ping"), "{html}");
    let delivery_link = html
        .split("href=\"")
        .find(|s| s.starts_with(&format!("{hook_page}/deliveries/")))
        .and_then(|s| s.split('"').next())
        .expect("a delivery link")
        .to_string();
    let detail = alice.get(&delivery_link).await;
    assert_eq!(detail.status(), StatusCode::OK);
    let detail = detail.text().await.expect("html");
    assert!(detail.contains("zen"), "the ping's body: {detail}");
    assert!(detail.contains("Redeliver"));
    let delivery_id = delivery_link.rsplit('/').next().expect("id");
    let r = alice
        .post(
            "/-/owner/acme/webhooks",
            &[
                ("csrf", &csrf),
                ("action", "webhook.redeliver"),
                ("webhook_id", &hook_id),
                ("delivery_id", delivery_id),
            ],
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let redelivered = alice.get(&location(&r)).await.text().await.expect("html");
    assert!(redelivered.contains("zen"), "the redelivery's page");
    let html = alice.get(&hook_page).await.text().await.expect("html");
    assert!(html.contains("redelivery"), "listed as a redelivery");

    // Edit: deactivate and drop the secret.
    let r = alice
        .post(
            "/-/owner/acme/webhooks",
            &[
                ("csrf", &csrf),
                ("action", "webhook.update"),
                ("webhook_id", &hook_id),
                ("url", "http://127.0.0.1:9/other"),
                ("content_type", "FORM"),
                ("remove_secret", "true"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let data = app
        .gql_ok(
            Some(&app.token("alice", "admin:org")),
            "{ organization(login: \"acme\") { webhooks { nodes { url active hasSecret contentType events } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["organization"]["webhooks"]["nodes"][0],
        json!({"url": "http://127.0.0.1:9/other", "active": false, "hasSecret": false,
               "contentType": "FORM", "events": []})
    );

    // Outsiders (signed in or not) get the 404 page for every one of these pages and forms.
    let bob_csrf = csrf_of(&bob.get("/-/account").await.text().await.expect("html"));
    for path in [
        "/-/owner/acme/webhooks".to_string(),
        hook_page.clone(),
        delivery_link.clone(),
        "/-/owner/acme/audit".to_string(),
        "/-/admin/audit".to_string(),
        // Bob's hook URL under his own name doesn't reach acme's hook either.
        format!("/-/owner/bob/webhooks/{hook_id}"),
    ] {
        for who in [&bob, &anonymous] {
            let r = who.get(&path).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }
    let r = bob
        .post(
            "/-/owner/acme/webhooks",
            &[
                ("csrf", &bob_csrf),
                ("action", "webhook.delete"),
                ("webhook_id", &hook_id),
            ],
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Bob's own hooks page is his.
    assert_eq!(
        bob.get("/-/owner/bob/webhooks").await.status(),
        StatusCode::OK
    );

    // The audit log page: the changes made through the forms, filterable.
    let audit = alice.get("/-/owner/acme/audit").await;
    assert_eq!(audit.status(), StatusCode::OK);
    let audit = audit.text().await.expect("html");
    for action in ["webhook.create", "webhook.redeliver", "webhook.update"] {
        assert!(audit.contains(action), "{action} on the audit page");
    }
    assert!(audit.contains("127.0.0.1"), "the source address");
    let filtered = alice
        .get("/-/owner/acme/audit?action=webhook.update")
        .await
        .text()
        .await
        .expect("html");
    assert!(filtered.contains("1 entry"), "{filtered}");
    assert!(!filtered.contains("<code>webhook.create</code>"));

    // Delete; the site admin's log has it.
    let r = alice
        .post(
            "/-/owner/acme/webhooks",
            &[
                ("csrf", &csrf),
                ("action", "webhook.delete"),
                ("webhook_id", &hook_id),
            ],
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let list = alice
        .get("/-/owner/acme/webhooks")
        .await
        .text()
        .await
        .expect("html");
    assert!(list.contains("No webhooks yet."));
    let mut admin = Browser::new(&app);
    admin.sign_in("site-admin", PASSWORD).await;
    let site = admin.get("/-/admin/audit?actor=alice").await;
    assert_eq!(site.status(), StatusCode::OK);
    let site = site.text().await.expect("html");
    assert!(site.contains("<code>webhook.delete</code>"), "{site}");
    assert!(
        admin
            .get("/")
            .await
            .text()
            .await
            .expect("html")
            .contains(r#"href="/-/admin/audit""#),
        "site admins find the site's log in the navigation"
    );
}
