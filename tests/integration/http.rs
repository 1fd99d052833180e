//! The HTTP stack's protections, measured from outside: request body caps, password-login
//! throttles and hashing bounds, and connection timeouts and caps.
use std::{net::SocketAddr, time::Duration};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{Message as WsMessage, client::IntoClientRequest},
};

use crate::support::{TestApp, open_fds, peak_rss_kib};

const MIB: usize = 1024 * 1024;

/// A GraphQL request padded (with whitespace in the query) to about `size` bytes, in 1 MiB
/// chunks.
fn padded_graphql(size: usize) -> reqwest::Body {
    let head = b"{\"query\":\"{ __typename ".to_vec();
    let chunks = (0..size / MIB).map(move |i| {
        let mut chunk = vec![b' '; MIB];
        if i == 0 {
            chunk[..head.len()].copy_from_slice(&head);
        }
        Ok::<_, std::io::Error>(chunk)
    });
    let tail = futures::stream::once(async { Ok(b"}\"}".to_vec()) });
    reqwest::Body::wrap_stream(futures::stream::iter(chunks).chain(tail))
}

/// Item 1: a large anonymous POST to GraphQL is refused (413) without being buffered, with or
/// without a declared length.
#[tokio::test]
async fn graphql_refuses_large_bodies_without_buffering_them() {
    let app = TestApp::spawn().await;
    let before = peak_rss_kib(app.pid());
    let post = |size: usize, declared: bool| {
        let mut request = app
            .http
            .post(format!("{}/graphql", app.url))
            .header("content-type", "application/json")
            .body(padded_graphql(size));
        if declared {
            request = request.header("content-length", (size + 3).to_string());
        }
        request.send()
    };
    // The client gets the answer (not a reset connection) while it is still sending.
    for declared in [true, false] {
        let response = post(96 * MIB, declared).await.expect("POST /graphql");
        assert_eq!(response.status(), 413, "declared length: {declared}");
    }
    let grown_mib = (peak_rss_kib(app.pid()) - before) / 1024;
    assert!(grown_mib < 32, "server grew {grown_mib} MiB");
    // A normal query still works.
    app.gql_ok(None, "{ __typename }", json!({})).await;
}

/// The cap covers every door's small requests (here npm login, whose router reads bodies
/// without axum's default limit), and uploads stream past it.
#[tokio::test]
async fn the_body_cap_spares_streamed_uploads_only() {
    let app = TestApp::spawn_with(&[("PACKYARD_REQUEST_BODY_BYTES", "65536")]).await;
    let token = app.user_with_token("uma");
    let login = app
        .http
        .put(format!("{}/npm/-/user/org.couchdb.user:uma", app.url))
        .json(&json!({"name": "uma", "password": "x".repeat(128 * 1024)}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 413);
    assert_eq!(
        app.put_generic(Some(&token), "uma/big/1/file.bin", vec![7u8; 2 * MIB])
            .await
            .status(),
        201
    );
    let file = app.get(Some(&token), "/generic/uma/big/1/file.bin").await;
    assert_eq!(file.bytes().await.expect("bytes").len(), 2 * MIB);
}

async fn npm_login(
    http: &reqwest::Client,
    app: &TestApp,
    name: &str,
    password: &str,
) -> reqwest::Response {
    http.put(format!("{}/npm/-/user/org.couchdb.user:{name}", app.url))
        .json(&json!({"name": name, "password": password}))
        .send()
        .await
        .expect("npm login")
}

/// A client bound to another loopback address: another client address for the server.
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().expect("ip"))
        .build()
        .expect("client")
}

/// Item 2: failures spend an account's budget; past it attempts are refused with 429 and
/// `Retry-After` and hash nothing, even with the right password.
#[tokio::test]
async fn password_logins_are_throttled_per_account_before_hashing() {
    let app = TestApp::spawn_with(&[("PACKYARD_LOGIN_FAILURES_PER_ACCOUNT", "3")]).await;
    app.create_user_with_password("pete", "correct-horse");
    for _ in 0..3 {
        assert_eq!(
            npm_login(&app.http, &app, "pete", "wrong-horse")
                .await
                .status(),
            401
        );
    }
    let hashed = app.metric("packyard_password_verifications_total").await;
    assert_eq!(hashed, 3);
    for password in ["wrong-horse", "correct-horse"] {
        let refused = npm_login(&app.http, &app, "pete", password).await;
        assert_eq!(refused.status(), 429);
        let retry: u64 = refused.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds");
        assert!(retry >= 1, "{retry}");
        assert!(refused.json::<Value>().await.expect("json")["error"].is_string());
    }
    // The account's budget is spent from any address.
    let elsewhere = client_from("127.0.0.2");
    assert_eq!(
        npm_login(&elsewhere, &app, "pete", "correct-horse")
            .await
            .status(),
        429
    );
    assert_eq!(
        app.metric("packyard_password_verifications_total").await,
        hashed
    );
    assert_eq!(app.metric("packyard_logins_throttled_total").await, 3);
}

/// Item 2: one address guessing across many accounts runs out too; another address doesn't.
#[tokio::test]
async fn password_logins_are_throttled_per_client_address() {
    let app = TestApp::spawn_with(&[("PACKYARD_LOGIN_FAILURES_PER_CLIENT", "4")]).await;
    app.create_user_with_password("quinn", "correct-horse");
    for name in ["ann", "ben", "cat", "dan"] {
        assert_eq!(
            npm_login(&app.http, &app, name, "guess-guess")
                .await
                .status(),
            401
        );
    }
    assert_eq!(
        npm_login(&app.http, &app, "quinn", "correct-horse")
            .await
            .status(),
        429
    );
    let elsewhere = client_from("127.0.0.3");
    assert_eq!(
        npm_login(&elsewhere, &app, "quinn", "correct-horse")
            .await
            .status(),
        201
    );
}

/// Item 2: a login that doesn't exist (or has no password) costs one hash, as a real one
/// does, so the time taken tells nothing about which logins exist.
#[tokio::test]
async fn unknown_logins_cost_the_same_hash_as_real_ones() {
    let app = TestApp::spawn().await;
    app.create_user_with_password("rita", "correct-horse");
    app.create_user("tokenonly");
    let mut seen = app.metric("packyard_password_verifications_total").await;
    for name in ["rita", "nobody", "tokenonly"] {
        assert_eq!(
            npm_login(&app.http, &app, name, "wrong-horse")
                .await
                .status(),
            401
        );
        let now = app.metric("packyard_password_verifications_total").await;
        assert_eq!(now - seen, 1, "{name}");
        seen = now;
    }
}

/// Item 2: many concurrent wrong passwords hash a few at a time: the server's memory stays
/// bounded (each argon2 check takes ~19 MiB).
#[tokio::test]
async fn concurrent_password_checks_are_bounded_in_memory() {
    let app = TestApp::spawn_with(&[
        ("PACKYARD_PASSWORD_HASH_CONCURRENCY", "2"),
        ("PACKYARD_LOGIN_FAILURES_PER_ACCOUNT", "1000"),
        ("PACKYARD_LOGIN_FAILURES_PER_CLIENT", "1000"),
    ])
    .await;
    app.create_user_with_password("sam", "correct-horse");
    let before = peak_rss_kib(app.pid());
    let attempts = (0..32).map(|_| npm_login(&app.http, &app, "sam", "wrong-horse"));
    for response in futures::future::join_all(attempts).await {
        assert_eq!(response.status(), 401);
    }
    let grown_mib = (peak_rss_kib(app.pid()) - before) / 1024;
    assert!(
        grown_mib < 80,
        "server grew {grown_mib} MiB for 32 concurrent logins"
    );
}

fn addr(app: &TestApp) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], app.port))
}

/// Connects from `local` (a loopback address), so the server sees another client.
async fn connect_from(app: &TestApp, local: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{local}:0").parse().expect("addr"))
        .expect("bind");
    socket.connect(addr(app)).await.expect("connect")
}

/// Reads until the server closes (true) or `within` passes (false).
async fn closed_by_server(mut tcp: TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let read_to_end = async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read_to_end).await.is_ok()
}

/// Sends `GET /healthz` on a kept-alive connection and reads the answer's status line.
async fn healthz_on(tcp: &mut TcpStream) -> Option<String> {
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .ok()?;
    let mut buf = vec![0u8; 1024];
    let mut got = 0;
    while !buf[..got].windows(4).any(|w| w == b"\r\n\r\n") || !buf[..got].ends_with(b"}") {
        let n = tcp.read(&mut buf[got..]).await.ok()?;
        if n == 0 {
            return None;
        }
        got += n;
    }
    let text = String::from_utf8_lossy(&buf[..got]).into_owned();
    text.lines().next().map(str::to_string)
}

/// Item 3: half-sent headers, idle keep-alive connections and silent connections are
/// closed by the server; its open descriptors return to where they were.
#[tokio::test]
async fn half_sent_headers_and_idle_connections_are_closed() {
    let app = TestApp::spawn_with(&[
        ("PACKYARD_HEADER_READ_TIMEOUT_SECS", "1"),
        ("PACKYARD_IDLE_TIMEOUT_SECS", "2"),
    ])
    .await;
    let baseline = open_fds(app.pid());
    let mut sockets = Vec::new();
    for i in 0..60 {
        let mut tcp = TcpStream::connect(addr(&app)).await.expect("connect");
        match i % 3 {
            0 => tcp
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
                .await
                .expect("half a head"),
            1 => assert_eq!(
                healthz_on(&mut tcp).await.as_deref(),
                Some("HTTP/1.1 200 OK")
            ),
            _ => {}
        }
        sockets.push(tcp);
    }
    let closed = futures::future::join_all(
        sockets
            .into_iter()
            .map(|tcp| closed_by_server(tcp, Duration::from_secs(20))),
    )
    .await;
    let open = closed.iter().filter(|c| !**c).count();
    assert_eq!(open, 0, "{open} of 60 connections still open");
    assert!(open_fds(app.pid()) <= baseline + 2);
    assert_eq!(app.get(None, "/healthz").await.status(), 200);
}

/// Item 3: the timeouts leave requests in flight alone: a slow upload and a slow download,
/// each pausing longer than both timeouts, complete.
#[tokio::test]
async fn slow_uploads_and_downloads_outlive_the_timeouts() {
    let app = TestApp::spawn_with(&[
        ("PACKYARD_HEADER_READ_TIMEOUT_SECS", "1"),
        ("PACKYARD_IDLE_TIMEOUT_SECS", "1"),
    ])
    .await;
    let token = app.user_with_token("vera");
    let chunks = futures::stream::iter(0..3).then(|i| async move {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(2500)).await;
        }
        Ok::<_, std::io::Error>(vec![i as u8; 4 * MIB])
    });
    // A fresh connection per request: a pooled one idle past the 1 s idle timeout may be
    // closing as it is reused (the keep-alive race), which is not what this test is about.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let uploaded = http
        .put(format!("{}/generic/vera/slow/1/file.bin", app.url))
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .expect("PUT");
    assert_eq!(uploaded.status(), 201);
    let download = http
        .get(format!("{}/generic/vera/slow/1/file.bin", app.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    assert_eq!(download.status(), 200);
    let mut stream = download.bytes_stream();
    let mut total = 0;
    let mut pauses = 0;
    while let Some(chunk) = stream.next().await {
        total += chunk.expect("chunk").len();
        if pauses < 2 && total >= (pauses + 1) * 2 * MIB {
            pauses += 1;
            tokio::time::sleep(Duration::from_millis(2500)).await;
        }
    }
    assert_eq!(total, 12 * MIB);
}

/// Item 3: one client address can't hold more than its share of connections (the rest are
/// closed at once), and other clients are still served.
#[tokio::test]
async fn a_client_holds_at_most_its_share_of_connections() {
    let app = TestApp::spawn_with(&[("PACKYARD_MAX_CONNECTIONS_PER_CLIENT", "10")]).await;
    let baseline = open_fds(app.pid());
    let mut answered = Vec::new();
    for _ in 0..40 {
        let mut tcp = connect_from(&app, "127.0.0.2").await;
        if healthz_on(&mut tcp).await.as_deref() == Some("HTTP/1.1 200 OK") {
            answered.push(tcp);
        }
    }
    assert_eq!(answered.len(), 10);
    assert!(open_fds(app.pid()) <= baseline + 10 + 2);
    assert_eq!(app.get(None, "/healthz").await.status(), 200);
    // A connection given up frees its place.
    drop(answered.pop());
    let mut tcp = loop {
        let mut tcp = connect_from(&app, "127.0.0.2").await;
        if healthz_on(&mut tcp).await.is_some() {
            break tcp;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        healthz_on(&mut tcp).await.as_deref(),
        Some("HTTP/1.1 200 OK")
    );
}

/// Opens a `graphql-transport-ws` websocket on `/graphql` from the address `local`, and
/// has its `connection_init` acknowledged.
async fn open_subscription_socket(app: &TestApp, local: &str) -> WebSocketStream<TcpStream> {
    let tcp = connect_from(app, local).await;
    let mut request = format!("ws://127.0.0.1:{}/graphql", app.port)
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut ws, response) = tokio_tungstenite::client_async(request, tcp)
        .await
        .expect("websocket upgrade");
    assert_eq!(response.status(), 101);
    ws.send(WsMessage::text(
        r#"{"type":"connection_init","payload":{}}"#,
    ))
    .await
    .expect("connection_init");
    let ack = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("an answer to connection_init")
        .expect("a message")
        .expect("a frame");
    assert!(
        ack.to_text().unwrap_or("").contains("connection_ack"),
        "{ack:?}"
    );
    ws
}

/// Item 3: a connection upgraded to a websocket (a GraphQL subscription) keeps its place
/// among its client's connections until the websocket closes.
#[tokio::test]
async fn websockets_hold_their_place_among_a_clients_connections() {
    let app = TestApp::spawn_with(&[("PACKYARD_MAX_CONNECTIONS_PER_CLIENT", "3")]).await;
    let mut sockets = Vec::new();
    for _ in 0..3 {
        sockets.push(open_subscription_socket(&app, "127.0.0.3").await);
    }
    let mut fourth = connect_from(&app, "127.0.0.3").await;
    assert_eq!(
        healthz_on(&mut fourth).await,
        None,
        "a fourth connection was served"
    );
    let mut elsewhere = connect_from(&app, "127.0.0.4").await;
    assert_eq!(
        healthz_on(&mut elsewhere).await.as_deref(),
        Some("HTTP/1.1 200 OK")
    );
    // A websocket closed gives its place back.
    let mut closed = sockets.pop().expect("a socket");
    closed.close(None).await.expect("close");
    drop(closed);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mut tcp = connect_from(&app, "127.0.0.3").await;
        if healthz_on(&mut tcp).await.is_some() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed websocket's place was not given back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Item 3: a graceful shutdown closes open websockets with 1001 Going Away (a client's
/// cue to reconnect elsewhere) and then exits, instead of waiting for them forever or
/// dropping them without a word.
#[tokio::test]
async fn shutdown_closes_open_websockets_with_going_away() {
    let mut app = TestApp::spawn().await;
    let mut ws = open_subscription_socket(&app, "127.0.0.1").await;
    app.terminate();
    let close = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(message) = ws.next().await {
            if let Ok(WsMessage::Close(frame)) = message {
                return frame;
            }
            if message.is_err() {
                break;
            }
        }
        None
    })
    .await
    .expect("the websocket was not closed on shutdown");
    let frame = close.expect("the websocket ended without a close frame");
    assert_eq!(u16::from(frame.code), 1001, "{frame:?}");
    assert!(
        app.exited_within(Duration::from_secs(10)).await,
        "the server did not exit after closing its websockets"
    );
}

/// Item 3: past `PACKYARD_MAX_CONNECTIONS` the server stops accepting (clients wait in the
/// backlog, holding none of its descriptors) and takes them once a slot frees.
#[tokio::test]
async fn connections_past_the_cap_wait_for_a_free_slot() {
    let app = TestApp::spawn_with(&[("PACKYARD_MAX_CONNECTIONS", "20")]).await;
    // The harness's own pooled connection may hold one of the slots.
    let baseline = open_fds(app.pid());
    let mut sockets = Vec::new();
    for i in 0..40 {
        let tcp = connect_from(&app, &format!("127.0.1.{}", i + 1)).await;
        sockets.push(tcp);
    }
    let answers = futures::future::join_all(sockets.iter_mut().map(|tcp| async {
        tokio::time::timeout(Duration::from_secs(3), healthz_on(tcp))
            .await
            .ok()
            .flatten()
    }))
    .await;
    let served = answers.iter().filter(|a| a.is_some()).count();
    assert!((18..=20).contains(&served), "{served} served of 40");
    assert!(open_fds(app.pid()) <= baseline + 20 + 2);
    // Closing the served ones lets the waiting ones in.
    let waiting: Vec<TcpStream> = sockets
        .into_iter()
        .zip(answers)
        .filter_map(|(tcp, answer)| answer.is_none().then_some(tcp))
        .collect();
    let waiting_count = waiting.len();
    let mut now_served = 0;
    for mut tcp in waiting.into_iter().take(10) {
        if tokio::time::timeout(Duration::from_secs(10), healthz_on(&mut tcp))
            .await
            .ok()
            .flatten()
            .is_some()
        {
            now_served += 1;
        }
    }
    assert!(waiting_count >= 20);
    assert_eq!(now_served, 10);
}
