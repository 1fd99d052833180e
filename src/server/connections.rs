//! Accepting and keeping connections: a cap on how many at once (in all and per client
//! address), a header-read timeout, an idle timeout, TCP_NODELAY, the client address for
//! the router, and a graceful shutdown that lets requests in flight finish.
//!
//! A connection's places under both caps belong to its socket, so a connection upgraded
//! to a websocket keeps them for as long as the websocket is open. Upgrade handlers find
//! [`ShuttingDown`] among the request's extensions and close their socket when it fires:
//! shutdown waits for every place to be given back.
//!
//! Both timeouts only run while a connection has no request in flight: once the router has
//! a request, its body and its response may stream for as long as they take (uploads and
//! downloads of many GiB on slow links).
//!
//! HTTP/1 responses whose body is a local blob go out with `sendfile(2)`: the connection
//! polls response bodies inside its [`Sink`], and its socket wrapper hands the file ranges
//! behind placeholder chunks to the kernel (see `storage::zero_copy`). HTTP/2 bodies are
//! polled by hyper in tasks of their own, outside the sink, and are copied.
use std::{
    collections::HashMap,
    future::Future,
    net::{IpAddr, SocketAddr},
    pin::{Pin, pin},
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
    time::Instant,
};
use tower::ServiceExt;

use crate::{
    config::ConnectionLimits,
    storage::zero_copy::{self, Sink},
};

/// Serves `app` on `listener` until `shutdown` completes, then waits for the connections'
/// requests in flight to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = PerClient::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        // At the cap, stop accepting: further clients wait in the kernel's backlog, holding
        // none of our file descriptors.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(client_slot) = per_client.take(remote.ip(), limits.max_connections_per_client)
        else {
            tracing::debug!(%remote, "too many connections from this client: closed");
            continue;
        };
        if let Err(e) = tcp.set_nodelay(true) {
            // Without it a small response written in two parts waits on the client's
            // delayed ACK: ~40 ms per request on keep-alive connections.
            tracing::debug!(error = %e, "TCP_NODELAY");
        }
        let app = app.clone();
        let limits = limits.clone();
        let stop = stop_rx.clone();
        let places = Places {
            _connection: slot,
            _client: client_slot,
        };
        tokio::spawn(async move {
            serve_connection(tcp, remote, places, app, &limits, stop).await;
        });
    }
    let _ = stop_tx.send(true);
    drop(stop_rx);
    // Every connection (an upgraded one too) holds a slot until its socket is dropped.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// What a connection is doing, as its watchdog sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No request in flight and nothing of the next one received, since then.
    Idle(Instant),
    /// Part of a request head received, the first byte at that moment.
    ReadingHead(Instant),
    /// Requests the router has and whose responses haven't ended.
    Busy(usize),
}

/// Tells an upgraded connection's handler (a websocket) that the server is stopping: it
/// should say goodbye and close, since shutdown waits for its socket.
#[derive(Clone, Debug)]
pub struct ShuttingDown(watch::Receiver<bool>);

impl ShuttingDown {
    /// Completes once the server has begun to shut down.
    pub async fn wait(mut self) {
        // An error means the server is gone: as good as stopping.
        let _ = self.0.wait_for(|stopping| *stopping).await;
    }
}

/// A connection's places under the caps, given back when its socket is dropped.
struct Places {
    _connection: OwnedSemaphorePermit,
    _client: ClientSlot,
}

async fn serve_connection(
    tcp: TcpStream,
    remote: SocketAddr,
    places: Places,
    app: Router,
    limits: &ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let (phase, mut watch_phase) = watch::channel(Phase::Idle(Instant::now()));
    let phase = Arc::new(phase);
    let sink = Arc::new(Sink::default());
    let io = TokioIo::new(WatchedIo {
        inner: tcp,
        phase: phase.clone(),
        linger: None,
        sink: sink.clone(),
        _places: places,
    });
    let shutting_down = ShuttingDown(stop.clone());
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        let app = app.clone();
        let phase = phase.clone();
        let shutting_down = shutting_down.clone();
        // hyper polls an HTTP/1 response body on this connection's task, with our socket
        // under it; HTTP/2 bodies go through its own framing (copied).
        let sink = (request.version() <= hyper::Version::HTTP_11).then(|| sink.clone());
        phase.send_modify(|p| {
            *p = match *p {
                Phase::Busy(n) => Phase::Busy(n + 1),
                _ => Phase::Busy(1),
            }
        });
        let in_flight = InFlight(phase);
        request.extensions_mut().insert(ConnectInfo(remote));
        request.extensions_mut().insert(shutting_down);
        async move {
            let response = app.oneshot(request.map(Body::new)).await;
            // The request counts as in flight until its response body is done with.
            response.map(|r| {
                r.map(|body| {
                    Body::new(TrackedBody {
                        body,
                        in_flight,
                        sink,
                    })
                })
            })
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Each body chunk is written from its own buffer, never copied into hyper's: the socket
    // wrapper must see a placeholder chunk's own address (and it saves a copy anyway).
    builder.http1().writev(true);
    let mut conn = pin!(builder.serve_connection_with_upgrades(io, service));
    let mut stopping = false;
    loop {
        let current = *watch_phase.borrow_and_update();
        let deadline = match current {
            Phase::Idle(since) => Some(since + limits.idle_timeout),
            Phase::ReadingHead(since) => Some(since + limits.header_read_timeout),
            Phase::Busy(_) => None,
        };
        let expired = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%remote, error = %e, "connection");
                }
                return;
            }
            changed = watch_phase.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = expired => {
                // Nothing in flight: closing loses no one's request.
                tracing::debug!(%remote, phase = ?current, "connection timed out");
                return;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Marks a request done (for the idle clock) when its response body is dropped.
struct InFlight(Arc<watch::Sender<Phase>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|p| {
            *p = match *p {
                Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
                _ => Phase::Idle(Instant::now()),
            }
        });
    }
}

struct TrackedBody {
    body: Body,
    #[expect(dead_code, reason = "held for its Drop")]
    in_flight: InFlight,
    /// Where a zero-copy body's file ranges go (HTTP/1 only).
    sink: Option<Arc<Sink>>,
}

impl hyper::body::Body for TrackedBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match &this.sink {
            Some(sink) => zero_copy::with_sink(sink, || Pin::new(&mut this.body).poll_frame(cx)),
            None => Pin::new(&mut this.body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// How long a closing connection reads and drops what the client still sends.
const LINGER: Duration = Duration::from_secs(10);

/// The socket, noting when the first byte of a request head arrives on an idle connection.
struct WatchedIo {
    inner: TcpStream,
    phase: Arc<watch::Sender<Phase>>,
    /// Set once our side of the connection is shut: when lingering ends.
    linger: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The file ranges behind placeholder chunks hyper writes.
    sink: Arc<Sink>,
    /// Held by the socket, not the connection's task: an upgrade carries them along.
    _places: Places,
}

impl WatchedIo {
    /// Sends the file range behind `unsent` (placeholder bytes) with `sendfile`.
    fn poll_sendfile(&self, cx: &mut Context<'_>, unsent: usize) -> Poll<std::io::Result<usize>> {
        loop {
            std::task::ready!(self.inner.poll_write_ready(cx))?;
            match self.inner.try_io(tokio::io::Interest::WRITABLE, || {
                self.sink.send(&self.inner, unsent)
            }) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                sent => return Poll::Ready(sent),
            }
        }
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.phase.send_if_modified(|p| match *p {
                Phase::Idle(_) => {
                    *p = Phase::ReadingHead(Instant::now());
                    true
                }
                _ => false,
            });
        }
        polled
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if zero_copy::is_placeholder(buf) {
            return self.poll_sendfile(cx, buf.len());
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    /// A lingering close. A request refused before its body was read (413, 401) leaves the
    /// client still sending; closing at once would reset the connection, and a reset
    /// destroys our answer in the client's buffers (it sees "broken pipe", not the 413). So:
    /// send FIN after the answer, then read and drop what still comes until the client
    /// closes too, for at most [`LINGER`] (as nginx's lingering close does).
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.linger.is_none() {
            std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            this.linger = Some(Box::pin(tokio::time::sleep(LINGER)));
        }
        let mut scratch = [0u8; 8192];
        loop {
            if let Some(until) = this.linger.as_mut()
                && until.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, &mut buf)) {
                Ok(()) if !buf.filled().is_empty() => {}
                // The client closed (or reset): nothing left to spare it.
                Ok(()) | Err(_) => return Poll::Ready(Ok(())),
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        // Up to a placeholder: written as given; a placeholder first: sent from its file.
        match bufs.iter().position(|b| zero_copy::is_placeholder(b)) {
            Some(0) => self.poll_sendfile(cx, bufs[0].len()),
            Some(i) => Pin::new(&mut self.inner).poll_write_vectored(cx, &bufs[..i]),
            None => Pin::new(&mut self.inner).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Connections held per client address.
#[derive(Clone, Default)]
struct PerClient(Arc<Mutex<HashMap<IpAddr, usize>>>);

impl PerClient {
    /// A slot for one more connection from `ip`, unless it holds `max` already.
    fn take(&self, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let key = client_key(ip);
        let mut held = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = held.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            clients: self.clone(),
            key,
        })
    }
}

struct ClientSlot {
    clients: PerClient,
    key: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut held = self.clients.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.key);
            }
        }
    }
}

/// The unit a client is counted by: its IPv4 address, or its IPv6 /64 (one host commonly
/// holds a whole /64, so single addresses would be free to take).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        assert_eq!(
            client_key(mapped),
            "192.0.2.1".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn a_client_holds_at_most_its_share_of_connections() {
        let clients = PerClient::default();
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        let first = clients.take(ip, 2).expect("first");
        let _second = clients.take(ip, 2).expect("second");
        assert!(clients.take(ip, 2).is_none());
        assert!(clients.take("192.0.2.8".parse().expect("ip"), 2).is_some());
        drop(first);
        assert!(clients.take(ip, 2).is_some());
    }
}
