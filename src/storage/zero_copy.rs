//! Blob bytes as a stream, and the handoff that lets a plain-HTTP/1 connection send a
//! local file with `sendfile(2)` instead of copying it through our memory.
//!
//! hyper has no way to write a file to its socket, so the handoff goes under it: when a
//! [`BlobStream`] of a local file (marked [`BlobStream::zero_copy`]) is polled as a response
//! body by a connection that set up a [`Sink`] (see `server::connections`), it reads
//! nothing; it yields *placeholder* chunks of the right length that point into a static
//! zero page, and records in the sink which file range each one stands for. hyper frames
//! them like any chunk (Content-Length or chunked, HEAD, keep-alive are all its own); when
//! its write reaches a placeholder, the connection's socket wrapper recognizes the pointer
//! and `sendfile`s the recorded range instead of writing the zeros. Everywhere else (TLS in
//! front, HTTP/2, S3 and in-memory stores, handlers that read a blob themselves, router
//! tests without a connection) the stream reads the file in chunks: placeholders exist only
//! between a sink's body poll and its socket.
//!
//! Called by `storage` (opening blobs), `domain` (metering) and `server` (the sink).
use std::{
    collections::VecDeque,
    fs::File,
    future::Future,
    os::unix::fs::FileExt,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use futures::{Stream, stream::BoxStream};

/// Largest chunk read (copying) or handed to `sendfile` at once.
pub const CHUNK: usize = 1024 * 1024;

/// What placeholder chunks point into. Never read: only its address range matters (a
/// zeroed static costs no memory until touched).
static PLACEHOLDER: [u8; CHUNK] = [0; CHUNK];

/// Bytes sent with `sendfile` since start (`packyard_sendfile_bytes_total`).
static SENT: AtomicU64 = AtomicU64::new(0);

/// Bytes this process has sent with `sendfile`.
pub fn sendfile_bytes() -> u64 {
    SENT.load(Ordering::Relaxed)
}

/// Told how many bytes of a stream went to the client (usage metering).
pub type SentHook = Arc<dyn Fn(u64) + Send + Sync>;

tokio::task_local! {
    /// Set while a sink's connection polls a response body.
    static SINK: Arc<Sink>;
}

/// Runs `poll` (a response body's poll) with `sink` as the place file ranges go.
pub fn with_sink<R>(sink: &Arc<Sink>, poll: impl FnOnce() -> R) -> R {
    SINK.sync_scope(sink.clone(), poll)
}

/// The file ranges a connection's queued placeholder chunks stand for, in write order.
#[derive(Default)]
pub struct Sink {
    segments: Mutex<VecDeque<Segment>>,
    next_id: AtomicU64,
}

struct Segment {
    id: u64,
    file: Arc<File>,
    offset: u64,
    remaining: usize,
    on_sent: Option<SentHook>,
}

/// A chunk of placeholder bytes; dropping it (written or discarded) forgets its range.
struct Placeholder {
    sink: Arc<Sink>,
    id: u64,
    len: usize,
}

impl AsRef<[u8]> for Placeholder {
    fn as_ref(&self) -> &[u8] {
        &PLACEHOLDER[..self.len]
    }
}

impl Drop for Placeholder {
    fn drop(&mut self) {
        self.sink.lock().retain(|s| s.id != self.id);
    }
}

/// Whether `buf` is (the unsent rest of) a placeholder chunk.
pub fn is_placeholder(buf: &[u8]) -> bool {
    let start = PLACEHOLDER.as_ptr() as usize;
    let at = buf.as_ptr() as usize;
    !buf.is_empty() && at >= start && at < start + CHUNK
}

impl Sink {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Segment>> {
        self.segments.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn placeholder(
        self: &Arc<Self>,
        file: Arc<File>,
        offset: u64,
        len: usize,
        on_sent: Option<SentHook>,
    ) -> Bytes {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().push_back(Segment {
            id,
            file,
            offset,
            remaining: len,
            on_sent,
        });
        Bytes::from_owner(Placeholder {
            sink: self.clone(),
            id,
            len,
        })
    }

    /// Sends (part of) the range behind the placeholder bytes `unsent` (what hyper has
    /// left of the oldest queued placeholder) from its file to `socket`; the bytes sent.
    /// Blocks on nothing: a full socket is `WouldBlock`.
    pub fn send(&self, socket: impl std::os::fd::AsFd, unsent: usize) -> std::io::Result<usize> {
        let mut segments = self.lock();
        let front = match segments.front_mut() {
            Some(front) if front.remaining == unsent => front,
            // Never expected: stop the connection rather than send wrong bytes.
            _ => {
                return Err(std::io::Error::other(
                    "sendfile: placeholder bytes out of step with their file ranges",
                ));
            }
        };
        let n = rustix::fs::sendfile(socket, &*front.file, Some(&mut front.offset), unsent)?;
        if n == 0 {
            // The file is shorter than its row says: a truncated blob.
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "sendfile: blob file ended early",
            ));
        }
        front.remaining -= n;
        SENT.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(hook) = &front.on_sent {
            hook(n as u64);
        }
        if front.remaining == 0 {
            segments.pop_front();
        }
        Ok(n)
    }

    /// File ranges queued and not yet sent (0 once a response is done).
    pub fn pending(&self) -> usize {
        self.lock().len()
    }
}

/// The bytes of a blob (or of a range of it), as they are read.
pub struct BlobStream {
    source: Source,
    on_sent: Option<SentHook>,
}

enum Source {
    File(FileSource),
    Stream(BoxStream<'static, std::io::Result<Bytes>>),
}

struct FileSource {
    file: Arc<File>,
    pos: u64,
    end: u64,
    zero_copy: bool,
    reading: Option<tokio::task::JoinHandle<std::io::Result<Bytes>>>,
}

impl BlobStream {
    /// The bytes `start..end` of a local file.
    pub fn file(file: File, start: u64, end: u64) -> Self {
        Self {
            source: Source::File(FileSource {
                file: Arc::new(file),
                pos: start,
                end,
                zero_copy: false,
                reading: None,
            }),
            on_sent: None,
        }
    }

    /// Bytes from elsewhere (object stores other than the local filesystem).
    pub fn stream(stream: BoxStream<'static, std::io::Result<Bytes>>) -> Self {
        Self {
            source: Source::Stream(stream),
            on_sent: None,
        }
    }

    /// Lets a local file go to the socket with `sendfile` when this stream is a response
    /// body as-is on a connection that can (the bytes are then never seen by us: only for
    /// a body no layer reads or transforms).
    pub fn zero_copy(mut self) -> Self {
        if let Source::File(f) = &mut self.source {
            f.zero_copy = true;
        }
        self
    }

    /// Calls `hook` with the bytes of each chunk as it goes to the connection (for a
    /// `sendfile`d chunk: as the kernel takes it, so a client hanging up mid-chunk is
    /// charged only what was sent).
    pub fn on_sent(mut self, hook: SentHook) -> Self {
        self.on_sent = Some(hook);
        self
    }
}

impl Stream for BlobStream {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let next = match &mut this.source {
            Source::Stream(s) => s.as_mut().poll_next(cx),
            Source::File(f) => {
                if f.reading.is_none() && f.pos < f.end {
                    let len = usize::try_from(f.end - f.pos).unwrap_or(CHUNK).min(CHUNK);
                    if f.zero_copy
                        && let Ok(sink) = SINK.try_with(Arc::clone)
                    {
                        let chunk =
                            sink.placeholder(f.file.clone(), f.pos, len, this.on_sent.clone());
                        f.pos += len as u64;
                        // Metered as it is sent, not here.
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                    let (file, at) = (f.file.clone(), f.pos);
                    f.reading = Some(tokio::task::spawn_blocking(move || read_at(&file, at, len)));
                }
                let Some(reading) = f.reading.as_mut() else {
                    return Poll::Ready(None);
                };
                let read = std::task::ready!(Pin::new(reading).poll(cx));
                f.reading = None;
                let chunk = read.map_err(std::io::Error::other).and_then(|r| r);
                if let Ok(chunk) = &chunk {
                    f.pos += chunk.len() as u64;
                }
                Poll::Ready(Some(chunk))
            }
        };
        if let (Poll::Ready(Some(Ok(chunk))), Some(hook)) = (&next, &this.on_sent) {
            hook(chunk.len() as u64);
        }
        next
    }
}

fn read_at(file: &File, at: u64, len: usize) -> std::io::Result<Bytes> {
    let mut buf = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut buf[filled..], at + filled as u64) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "blob file ended early",
                ));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;

    use super::*;

    fn temp_file(data: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut f = tempfile::NamedTempFile::new().expect("temp");
        std::io::Write::write_all(&mut f, data).expect("write");
        let file = File::open(f.path()).expect("open");
        (f, file)
    }

    /// Outside a sink (a handler reading a blob, HTTP/2, TLS) even a zero-copy stream
    /// yields the file's real bytes.
    #[tokio::test]
    async fn without_a_sink_a_zero_copy_stream_reads_the_file() {
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        let (_keep, file) = temp_file(&data);
        let got: Vec<Bytes> = BlobStream::file(file, 5, data.len() as u64)
            .zero_copy()
            .try_collect()
            .await
            .expect("read");
        assert_eq!(got.concat(), &data[5..]);
        assert!(got.iter().all(|c| !is_placeholder(c)));
    }

    /// In a sink a zero-copy stream yields placeholders standing for its ranges; sending
    /// them moves the file's bytes and meters them; a dropped placeholder leaves nothing
    /// queued.
    #[tokio::test]
    async fn in_a_sink_chunks_are_placeholders_for_file_ranges() {
        let data: Vec<u8> = (0..CHUNK + 100).map(|i| (i % 253) as u8).collect();
        let (_keep, file) = temp_file(&data);
        let sink = Arc::new(Sink::default());
        let metered = Arc::new(AtomicU64::new(0));
        let m = metered.clone();
        let mut stream = BlobStream::file(file, 0, data.len() as u64)
            .zero_copy()
            .on_sent(Arc::new(move |n| {
                m.fetch_add(n, Ordering::Relaxed);
            }));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut poll = || with_sink(&sink, || Pin::new(&mut stream).poll_next(&mut cx));
        let Poll::Ready(Some(Ok(first))) = poll() else {
            panic!("first chunk")
        };
        let Poll::Ready(Some(Ok(second))) = poll() else {
            panic!("second chunk")
        };
        assert!(matches!(poll(), Poll::Ready(None)));
        assert!(is_placeholder(&first) && is_placeholder(&second));
        assert_eq!((first.len(), second.len()), (CHUNK, 100));
        assert_eq!(metered.load(Ordering::Relaxed), 0, "nothing sent yet");

        let out = tempfile::tempfile().expect("out");
        let mut sent = 0;
        while sent < CHUNK {
            sent += sink.send(&out, CHUNK - sent).expect("send");
        }
        drop(first);
        drop(second);
        assert_eq!(sink.pending(), 0);
        assert_eq!(metered.load(Ordering::Relaxed), CHUNK as u64);
        let mut back = vec![0u8; CHUNK];
        out.read_exact_at(&mut back, 0).expect("read back");
        assert_eq!(back, &data[..CHUNK]);
        // Bytes that aren't the oldest placeholder's rest are refused, not guessed at.
        assert!(sink.send(&out, 10).is_err());
    }
}
