//! Zero-copy downloads: local blobs go to plain-HTTP/1 sockets with `sendfile(2)`, and the
//! HTTP around them stays right (keep-alive, HEAD, Range, clients hanging up, metering);
//! HTTP/2 still gets the copied bytes. `packyard_sendfile_bytes_total` tells the path taken.
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::support::{TestApp, peak_rss_kib};

const MIB: usize = 1024 * 1024;
const SENT: &str = "packyard_sendfile_bytes_total";

/// Deterministic, non-repeating-per-MiB bytes (a misplaced chunk would not compare equal).
fn content(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A user `owner` with one private generic file of `data`; its path and the token.
async fn published(app: &TestApp, owner: &str, data: &[u8]) -> (String, String) {
    let token = app.user_with_token(owner);
    let path = format!("{owner}/big/1.0.0/big.bin");
    let r = app.put_generic(Some(&token), &path, data.to_vec()).await;
    assert_eq!(r.status(), 201, "publish");
    (format!("/generic/{path}"), token)
}

/// One response read off a raw connection: status, headers (lowercased names), body.
async fn read_response(
    tcp: &mut TcpStream,
    head_only: bool,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tcp.read(&mut byte).await.expect("read head");
        assert_eq!(n, 1, "connection closed inside a response head");
        head.push(byte[0]);
    }
    let text = String::from_utf8(head).expect("utf-8 head");
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().expect("length"))
        .unwrap_or(0);
    let mut body = vec![0u8; if head_only { 0 } else { length }];
    tcp.read_exact(&mut body).await.expect("body");
    (status, headers, body)
}

fn request(method: &str, path: &str, token: &str, extra: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {token}\r\n{extra}\r\n"
    )
    .into_bytes()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// A 64 MiB file comes back byte-exact, all of it through `sendfile`, and the server's
/// peak memory doesn't grow with it.
#[tokio::test]
async fn a_large_download_is_sent_by_the_kernel_byte_exact() {
    let app = TestApp::spawn().await;
    let data = content(64 * MIB);
    let (path, token) = published(&app, "big", &data).await;
    let before = app.metric(SENT).await;
    let rss_before = peak_rss_kib(app.pid());
    let resp = app.get(Some(&token), &path).await;
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.expect("body");
    assert_eq!(body.len(), data.len());
    assert!(sha256(&body) == sha256(&data), "downloaded bytes differ");
    assert_eq!(app.metric(SENT).await - before, data.len() as u64);
    let grown = peak_rss_kib(app.pid()).saturating_sub(rss_before);
    assert!(
        grown < 16 * 1024,
        "peak RSS grew {grown} KiB for one download"
    );
}

/// After a `sendfile`d response the connection carries on: a HEAD (headers, no body) and
/// another GET answer on the same socket, each exactly framed.
#[tokio::test]
async fn keep_alive_and_head_work_around_a_sendfile_response() {
    let app = TestApp::spawn().await;
    let data = content(3 * MIB + 123);
    let (path, token) = published(&app, "keep", &data).await;
    let before = app.metric(SENT).await;
    let mut tcp = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    for method in ["GET", "HEAD", "GET"] {
        tcp.write_all(&request(method, &path, &token, ""))
            .await
            .expect("send");
        let (status, headers, body) = read_response(&mut tcp, method == "HEAD").await;
        assert_eq!(status, 200, "{method}");
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == "content-length" && v == &data.len().to_string()),
            "{method}: {headers:?}"
        );
        if method == "GET" {
            assert!(body == data, "{method}: body differs");
        }
    }
    // Nothing after the last response: a HEAD that leaked its body would show here.
    let mut extra = [0u8; 1];
    let trailing = tokio::time::timeout(Duration::from_millis(300), tcp.read(&mut extra)).await;
    assert!(
        trailing.is_err(),
        "bytes after the last response: {trailing:?}"
    );
    assert_eq!(app.metric(SENT).await - before, 2 * data.len() as u64);
}

/// Ranges are sent from their offset (206, Content-Range), a suffix range too; an
/// unsatisfiable one is refused.
#[tokio::test]
async fn ranges_are_sent_from_their_offset() {
    let app = TestApp::spawn().await;
    let data = content(2 * MIB + 5000);
    let (path, token) = published(&app, "ranged", &data).await;
    let before = app.metric(SENT).await;
    let mut tcp = TcpStream::connect(("127.0.0.1", app.port))
        .await
        .expect("connect");
    let cases = [
        ("bytes=1000-1500999", 1000..1_501_000),
        ("bytes=-4000", data.len() - 4000..data.len()),
        ("bytes=2097152-", 2 * MIB..data.len()),
    ];
    for (range, want) in cases.clone() {
        tcp.write_all(&request(
            "GET",
            &path,
            &token,
            &format!("range: {range}\r\n"),
        ))
        .await
        .expect("send");
        let (status, headers, body) = read_response(&mut tcp, false).await;
        assert_eq!(status, 206, "{range}");
        let content_range = format!("bytes {}-{}/{}", want.start, want.end - 1, data.len());
        assert!(
            headers
                .iter()
                .any(|(k, v)| k == "content-range" && v == &content_range),
            "{range}: {headers:?}"
        );
        assert!(body == data[want], "{range}: body differs");
    }
    let sent: usize = cases.iter().map(|(_, r)| r.len()).sum();
    assert_eq!(app.metric(SENT).await - before, sent as u64);
    let resp = app
        .http
        .get(format!("{}{path}", app.url))
        .bearer_auth(&token)
        .header("range", "bytes=500-0")
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), 416);
}

/// A client that hangs up a few MiB into a 64 MiB download leaves the server serving, its
/// files and sockets closed, and its owner charged exactly what the kernel took.
#[tokio::test]
async fn a_client_hanging_up_is_charged_only_what_was_sent() {
    let app = TestApp::spawn().await;
    let data = content(64 * MIB);
    let (path, token) = published(&app, "quitter", &data).await;
    let _ = app.metric(SENT).await; // the metrics client's connection, opened before counting
    let connections = server_connections(app.port);
    let before = app.metric(SENT).await;
    for _ in 0..3 {
        let mut tcp = TcpStream::connect(("127.0.0.1", app.port))
            .await
            .expect("connect");
        tcp.write_all(&request("GET", &path, &token, ""))
            .await
            .expect("send");
        let mut got = vec![0u8; 2 * MIB];
        tcp.read_exact(&mut got).await.expect("some of it");
        drop(tcp);
    }
    // The server notices the reset on its next write.
    // What a hung-up download holds: its socket and the blob's file. (Other descriptors,
    // such as a database connection the pool opens meanwhile, are not the download's.)
    let mut settled = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if server_connections(app.port) <= connections && blob_fds(app.pid()) == 0 {
            settled = true;
            break;
        }
    }
    assert!(
        settled,
        "connections {connections} then {}, blob files open {}",
        server_connections(app.port),
        blob_fds(app.pid())
    );
    let sent = app.metric(SENT).await - before;
    assert!(sent >= 3 * 2 * MIB as u64, "sent {sent}");
    assert!(
        sent < 3 * 32 * MIB as u64,
        "sent {sent}: hung-up downloads went on"
    );
    let usage = crate::usage::usage(&app, Some(&token), "quitter").await;
    assert_eq!(usage["monthTransferBytes"].as_u64(), Some(sent), "{usage}");
    // Still serving, whole files included.
    let body = app
        .get(Some(&token), &path)
        .await
        .bytes()
        .await
        .expect("body");
    assert!(
        sha256(&body) == sha256(&data),
        "download after hang-ups differs"
    );
}

/// HTTP/2 (cleartext, prior knowledge) bodies go through hyper's framing: copied, still
/// byte-exact, and not counted as sent by the kernel.
#[tokio::test]
async fn http2_downloads_are_copied_and_exact() {
    let app = TestApp::spawn().await;
    let data = content(3 * MIB + 7);
    let (path, token) = published(&app, "twoer", &data).await;
    let before = app.metric(SENT).await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let resp = h2
        .get(format!("{}{path}", app.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    let body = resp.bytes().await.expect("body");
    assert!(body == data, "HTTP/2 body differs");
    assert_eq!(app.metric(SENT).await, before);
}

/// Established TCP connections whose local port is the server's (the server's side of its
/// clients' connections; /proc/net/tcp lists every socket of this network namespace).
fn server_connections(port: u16) -> usize {
    let port = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .flat_map(|text| {
            text.lines()
                .skip(1)
                .map(|line| {
                    let cols: Vec<&str> = line.split_whitespace().collect();
                    cols.get(1).is_some_and(|local| local.ends_with(&port))
                        && cols.get(3) == Some(&"01")
                })
                .collect::<Vec<_>>()
        })
        .filter(|established| *established)
        .count()
}

/// The server's descriptors open on blob files.
fn blob_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter(|target| target.to_string_lossy().contains("/blobs/"))
                .count()
        })
        .unwrap_or(0)
}
