//! `packageEvents` over the websocket of `/graphql`, with the real graphql-ws client
//! (tests/clients/graphql-ws-subscribe.mjs): events arrive, only to who may read them, a
//! bad token is refused with 4403, and on PostgreSQL a publish on one replica reaches a
//! subscriber on another.
use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
    sync::mpsc,
};

use crate::{cluster::Cluster, support::TestApp};

/// How long an event may take to arrive here (a loaded CI machine; typically milliseconds).
const ARRIVAL: Duration = Duration::from_secs(15);

fn graphql_ws_dir() -> PathBuf {
    let dir = TestApp::repo_root().join(".tools/graphql-ws");
    assert!(
        dir.join("node_modules/graphql-ws").exists() && dir.join("node_modules/ws").exists(),
        "graphql-ws is missing: run scripts/install-deps.sh"
    );
    dir
}

/// One graphql-ws client process and the JSON lines it printed so far.
struct Subscriber {
    name: &'static str,
    _child: Child,
    lines: mpsc::UnboundedReceiver<Value>,
    seen: Vec<Value>,
}

impl Subscriber {
    /// `auth`: `init` (the connection_init payload) or `header` (the upgrade request's).
    fn start(
        name: &'static str,
        ws_url: &str,
        owner: &str,
        token: Option<&str>,
        auth: &str,
    ) -> Self {
        Self::start_with_query(name, ws_url, owner, token, auth, None)
    }

    /// As `start`, with another subscription document than the script's own.
    fn start_with_query(
        name: &'static str,
        ws_url: &str,
        owner: &str,
        token: Option<&str>,
        auth: &str,
        query: Option<&str>,
    ) -> Self {
        let mut cmd = Command::new("node");
        cmd.arg(TestApp::repo_root().join("tests/clients/graphql-ws-subscribe.mjs"))
            .env("GRAPHQL_WS_DIR", graphql_ws_dir())
            .env("URL", ws_url)
            .env("OWNER", owner)
            .env("AUTH", auth)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(t) = token {
            cmd.env("TOKEN", t);
        }
        if let Some(q) = query {
            cmd.env("QUERY", q);
        }
        let mut child = cmd.spawn().expect("start node");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let value = serde_json::from_str(&line).unwrap_or(json!({ "raw": line }));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Self {
            name,
            _child: child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until one matches, or panics after `within` with what was seen.
    async fn wait_for(&mut self, within: Duration, what: &str, want: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + within;
        loop {
            if self.seen.iter().any(&want) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.lines.recv()).await {
                Ok(Some(line)) => self.seen.push(line),
                Ok(None) | Err(_) => panic!(
                    "{}: no {what} within {within:?}; saw {:#?}",
                    self.name, self.seen
                ),
            }
        }
    }

    /// Takes whatever arrives within `within` without waiting for anything in particular.
    async fn drain(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        while let Ok(Some(line)) = tokio::time::timeout_at(deadline.into(), self.lines.recv()).await
        {
            self.seen.push(line);
        }
    }

    fn events(&self) -> Vec<&Value> {
        self.seen.iter().filter_map(|l| l.get("event")).collect()
    }

    fn saw(&self, package: &str, version: &str) -> bool {
        self.events()
            .iter()
            .any(|e| e["package"]["name"] == package && e["version"] == version)
    }
}

fn ws_url(http_url: &str, path: &str) -> String {
    format!("{}{path}", http_url.replacen("http://", "ws://", 1))
}

async fn package_id(app: &TestApp, token: &str, owner: &str, name: &str) -> String {
    let data = app
        .gql_ok(
            Some(token),
            "query($o: String!, $n: String!) { package(owner: $o, packageType: GENERIC, name: $n) { id } }",
            json!({"o": owner, "n": name}),
        )
        .await;
    data["package"]["id"]
        .as_str()
        .expect("package id")
        .to_string()
}

async fn publish_public(app: &TestApp, token: &str, owner: &str, name: &str) -> String {
    let r = app
        .put_generic(Some(token), &format!("{owner}/{name}/0/f.txt"), "0")
        .await;
    assert_eq!(r.status(), 201);
    let id = package_id(app, token, owner, name).await;
    app.gql_ok(
        Some(token),
        "mutation($p: ID!) { setPackageVisibility(input: {packageId: $p, visibility: PUBLIC}) { package { id } } }",
        json!({"p": id}),
    )
    .await;
    id
}

/// Publishes versions of the public `beacon` until every subscriber has received one: the
/// subscriptions are then live (a subscription starts at the newest event when the
/// server runs its resolver, which the client can't observe).
async fn until_live(app: &TestApp, token: &str, owner: &str, subs: &mut [&mut Subscriber]) {
    for n in 1..=30 {
        let version = format!("warm-{n}");
        let r = app
            .put_generic(Some(token), &format!("{owner}/beacon/{version}/f.txt"), "w")
            .await;
        assert_eq!(r.status(), 201);
        let mut all = true;
        for s in subs.iter_mut() {
            s.drain(Duration::from_millis(300)).await;
            all &= s.events().iter().any(|e| e["package"]["name"] == "beacon");
        }
        if all {
            return;
        }
    }
    let seen: Vec<_> = subs.iter().map(|s| (s.name, &s.seen)).collect();
    panic!("subscriptions never went live: {seen:#?}");
}

#[tokio::test]
async fn subscribers_receive_only_the_package_events_they_may_read() {
    let app = TestApp::spawn().await;
    let hank = app.user_with_token("hank");
    let otto = app.user_with_token("otto");
    app.create_org("acme", "hank");
    publish_public(&app, &hank, "acme", "beacon").await;
    let gone = publish_public(&app, &hank, "acme", "gone").await;

    let graphql = ws_url(&app.url, "/graphql");
    let api_graphql = ws_url(&app.url, "/api/graphql");
    let mut owner = Subscriber::start("owner", &graphql, "acme", Some(&hank), "init");
    let mut owner_by_header = Subscriber::start(
        "owner (header)",
        &api_graphql,
        "acme",
        Some(&hank),
        "header",
    );
    let mut outsider = Subscriber::start("outsider", &graphql, "acme", Some(&otto), "init");
    let mut anonymous = Subscriber::start("anonymous", &graphql, "acme", None, "init");
    for s in [
        &mut owner,
        &mut owner_by_header,
        &mut outsider,
        &mut anonymous,
    ] {
        s.wait_for(ARRIVAL, "connection ack", |l| l["connected"] == true)
            .await;
    }
    until_live(
        &app,
        &hank,
        "acme",
        &mut [
            &mut owner,
            &mut owner_by_header,
            &mut outsider,
            &mut anonymous,
        ],
    )
    .await;

    // A private package's publish, then a public fence: events arrive in order, so whoever
    // has the fence would have had the private one before it.
    let r = app
        .put_generic(Some(&hank), "acme/secret/1.0.0/secret.txt", "s3cret")
        .await;
    assert_eq!(r.status(), 201);
    app.gql_ok(
        Some(&hank),
        "mutation($p: ID!) { deletePackage(input: {packageId: $p}) { package { id } } }",
        json!({"p": gone}),
    )
    .await;
    let r = app
        .put_generic(Some(&hank), "acme/beacon/fence/f.txt", "f")
        .await;
    assert_eq!(r.status(), 201);
    for s in [
        &mut owner,
        &mut owner_by_header,
        &mut outsider,
        &mut anonymous,
    ] {
        s.wait_for(ARRIVAL, "the fence event", |l| {
            l["event"]["package"]["name"] == "beacon" && l["event"]["version"] == "fence"
        })
        .await;
    }

    for reader in [&owner, &owner_by_header] {
        let published = reader
            .events()
            .into_iter()
            .find(|e| e["package"]["name"] == "secret")
            .unwrap_or_else(|| panic!("{} got no event of the private package", reader.name))
            .clone();
        assert_eq!(published["action"], "PUBLISHED", "{published:#}");
        assert_eq!(published["version"], "1.0.0");
        assert_eq!(published["actorLogin"], "hank");
        assert_eq!(published["package"]["packageType"], "GENERIC");
        assert_eq!(published["package"]["visibility"], "PRIVATE");
        assert_eq!(published["package"]["owner"]["login"], "acme");
        assert_eq!(published["packageVersion"]["version"], "1.0.0");
        assert_eq!(
            published["packageVersion"]["files"]["nodes"][0]["name"],
            "secret.txt"
        );
        let occurred: chrono::DateTime<chrono::Utc> = published["occurredAt"]
            .as_str()
            .expect("occurredAt")
            .parse()
            .expect("an RFC 3339 time");
        assert!((chrono::Utc::now() - occurred).num_seconds() < 120);
        assert!(published["id"].as_str().is_some_and(|id| !id.is_empty()));
        // The package's admin also hears of its deletion.
        assert!(
            reader
                .events()
                .iter()
                .any(|e| e["package"]["name"] == "gone" && e["action"] == "DELETED"),
            "{}: no deleted event: {:#?}",
            reader.name,
            reader.seen
        );
    }
    for stranger in [&outsider, &anonymous] {
        assert!(stranger.saw("beacon", "fence"), "{} is live", stranger.name);
        let leaked: Vec<_> = stranger
            .events()
            .into_iter()
            .filter(|e| e["package"]["name"] == "secret" || e["package"]["name"] == "gone")
            .collect();
        assert!(
            leaked.is_empty(),
            "{} received events it may not read: {leaked:#?}",
            stranger.name
        );
    }
}

#[tokio::test]
async fn bad_tokens_close_with_4403_and_greedy_subscriptions_are_refused() {
    let app = TestApp::spawn().await;
    app.create_user("hank");
    let graphql = ws_url(&app.url, "/graphql");
    // A socket that never sends connection_init is closed after the server's 10 s.
    let silent = Command::new("node")
        .arg("--input-type=module")
        .arg("-e")
        .arg(
            "const { createRequire } = await import('node:module');
             const require = createRequire(process.env.GRAPHQL_WS_DIR + '/node_modules/x.js');
             const { default: WebSocket } = await import(require.resolve('ws'));
             const started = Date.now();
             const ws = new WebSocket(process.env.URL, 'graphql-transport-ws');
             ws.on('close', () => { console.log(JSON.stringify({ closedAfterMs: Date.now() - started })); process.exit(0); });
             ws.on('error', (e) => { console.log(JSON.stringify({ error: String(e) })); });
             setTimeout(() => { console.log(JSON.stringify({ stillOpen: true })); process.exit(0); }, 30000);",
        )
        .env("GRAPHQL_WS_DIR", graphql_ws_dir())
        .env("URL", &graphql)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node");
    for (name, token, auth) in [
        (
            "unknown token",
            "pky_0000000000000000000000000000000000",
            "init",
        ),
        ("not a token", "hunter2", "init"),
        (
            "unknown token in the header",
            "pky_1111111111111111111111111111",
            "header",
        ),
    ] {
        let mut s = Subscriber::start("refused", &graphql, "hank", Some(token), auth);
        s.wait_for(ARRIVAL, "a close", |l| l.get("closed").is_some())
            .await;
        let closed = s.seen.iter().find_map(|l| l.get("closed")).expect("closed");
        assert_eq!(closed["code"], 4403, "{name}: {:#?}", s.seen);
        assert!(
            s.events().is_empty() && !s.seen.iter().any(|l| l["connected"] == true),
            "{name}: {:#?}",
            s.seen
        );
    }
    // GitHub's node limit holds for subscriptions too: 100 packages × 100 versions × 100
    // files under each event is refused before anything runs.
    let token = app.token("hank", "read:packages");
    let mut greedy = Subscriber::start_with_query(
        "greedy",
        &graphql,
        "hank",
        Some(&token),
        "init",
        Some(
            r#"subscription { packageEvents(owner: "hank") { package { owner { ... on User {
                 packages(first: 100) { nodes { versions(first: 100) { nodes {
                   files(first: 100) { nodes { name } } } } } } } } } } }"#,
        ),
    );
    greedy
        .wait_for(ARRIVAL, "a refusal", |l| l.get("error").is_some())
        .await;
    let refusal = greedy
        .seen
        .iter()
        .find_map(|l| l.get("error"))
        .expect("error");
    assert_eq!(
        refusal[0]["extensions"]["code"], "MAX_NODE_LIMIT_EXCEEDED",
        "{refusal:#}"
    );
    let out = silent.wait_with_output().await.expect("silent socket");
    let line: Value = serde_json::from_slice(&out.stdout).expect("a JSON line");
    let after = line["closedAfterMs"]
        .as_u64()
        .unwrap_or_else(|| panic!("{line}"));
    assert!((9_000..25_000).contains(&after), "closed after {after} ms");
    // A plain GET still serves GraphiQL.
    let r = app.get(None, "/graphql").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("body").contains("graphiql"));
}

#[tokio::test]
async fn a_subscription_outlives_the_idle_timeout() {
    let app = TestApp::spawn_with(&[("PACKYARD_IDLE_TIMEOUT_SECS", "1")]).await;
    let hank = app.user_with_token("hank");
    // Connections that outlive the server's idle clock must not be reused: a new one each.
    let fresh = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client")
    };
    let put = |path: String| {
        let (url, hank) = (app.url.clone(), hank.clone());
        async move {
            fresh()
                .put(format!("{url}/generic/hank/{path}"))
                .bearer_auth(hank)
                .body("x")
                .send()
                .await
                .expect("PUT")
                .status()
        }
    };
    assert_eq!(put("tool/0/f".into()).await, 201);
    let mut s = Subscriber::start(
        "owner",
        &ws_url(&app.url, "/graphql"),
        "hank",
        Some(&hank),
        "init",
    );
    s.wait_for(ARRIVAL, "connection ack", |l| l["connected"] == true)
        .await;
    let mut n = 0;
    while !s.events().iter().any(|e| e["package"]["name"] == "tool") {
        n += 1;
        assert!(n < 30, "never live: {:#?}", s.seen);
        assert_eq!(put(format!("tool/warm-{n}/f")).await, 201);
        s.drain(Duration::from_millis(300)).await;
    }
    // Past the 1 s idle timeout and the 10 s connection_init timeout: neither applies to
    // a live subscription.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(put("tool/after-idle/f".into()).await, 201);
    s.wait_for(ARRIVAL, "the event after idling", |l| {
        l["event"]["version"] == "after-idle"
    })
    .await;
}

#[tokio::test]
async fn a_subscriber_on_one_replica_sees_a_publish_on_another() {
    let Some(c) = Cluster::start("subscriptions_across_replicas", 2).await else {
        return;
    };
    let token = c.user_with_token("hank");
    let mut s = Subscriber::start(
        "replica 0",
        &ws_url(&c.replica(0).url, "/graphql"),
        "hank",
        Some(&token),
        "init",
    );
    s.wait_for(ARRIVAL, "connection ack", |l| l["connected"] == true)
        .await;
    let on_replica_1 = |version: String| {
        let (http, url, token) = (c.http.clone(), c.replica(1).url.clone(), token.clone());
        async move {
            http.put(format!("{url}/generic/hank/remote/{version}/f.bin"))
                .bearer_auth(token)
                .body(version.clone())
                .send()
                .await
                .expect("PUT")
                .status()
        }
    };
    // Every publish goes to replica 1; the first that lands after the subscription started
    // on replica 0 must arrive there, and then so must the next one, quickly.
    let mut n = 0;
    while s.events().is_empty() {
        n += 1;
        assert!(n < 30, "never live: {:#?}\n{}", s.seen, c.logs());
        assert_eq!(on_replica_1(format!("warm-{n}")).await, 201);
        s.drain(Duration::from_millis(300)).await;
    }
    let sent = Instant::now();
    assert_eq!(on_replica_1("1.0.0".into()).await, 201);
    s.wait_for(ARRIVAL, "the publish on replica 1", |l| {
        l["event"]["package"]["name"] == "remote" && l["event"]["version"] == "1.0.0"
    })
    .await;
    // Typically milliseconds (the NOTIFY wakes it); the 5 s fallback poll is the ceiling
    // without one. Printed, not asserted: a loaded machine can take seconds either way.
    eprintln!(
        "a publish on replica 1 reached a subscriber on replica 0 in {:?}",
        sent.elapsed()
    );
    let event = s
        .events()
        .into_iter()
        .find(|e| e["version"] == "1.0.0")
        .expect("event")
        .clone();
    assert_eq!(event["action"], "PUBLISHED");
    assert_eq!(event["actorLogin"], "hank");
}

#[tokio::test]
async fn revoking_the_token_ends_the_subscription_before_the_next_event() {
    let app = TestApp::spawn().await;
    let hank = app.user_with_token("hank");
    let made = app
        .gql_ok(
            Some(&hank),
            r#"mutation { createAccessToken(input: {name: "watch", scopes: ["read:packages"]}) { token accessToken { id } } }"#,
            json!({}),
        )
        .await;
    let watch = made["createAccessToken"]["token"].as_str().expect("token");
    let watch_id = made["createAccessToken"]["accessToken"]["id"].clone();
    let mut s = Subscriber::start(
        "watcher",
        &ws_url(&app.url, "/graphql"),
        "hank",
        Some(watch),
        "init",
    );
    s.wait_for(ARRIVAL, "connection ack", |l| l["connected"] == true)
        .await;
    let mut n = 0;
    while s.events().is_empty() {
        n += 1;
        assert!(n < 30, "never live: {:#?}", s.seen);
        let r = app
            .put_generic(Some(&hank), &format!("hank/tool/warm-{n}/f"), "w")
            .await;
        assert_eq!(r.status(), 201);
        s.drain(Duration::from_millis(300)).await;
    }
    app.gql_ok(
        Some(&hank),
        r#"mutation($id: ID!) { revokeAccessToken(input: {accessTokenId: $id}) { accessToken { revokedAt } } }"#,
        json!({"id": watch_id}),
    )
    .await;
    let r = app
        .put_generic(Some(&hank), "hank/tool/after-revoke/f", "x")
        .await;
    assert_eq!(r.status(), 201);
    s.wait_for(ARRIVAL, "the end of the subscription", |l| {
        l["complete"] == true
    })
    .await;
    assert!(!s.saw("tool", "after-revoke"), "{:#?}", s.seen);
}
