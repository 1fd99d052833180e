//! HTTP pieces every door shares: the `Range` grammar, request lengths, file responses.
use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::domain::{
    download::{ByteRange, FileDownload},
    views::FileInfo,
};

/// The `Range` header, if it is a single byte range we serve partially.
pub fn range_header(headers: &HeaderMap) -> Option<ByteRange> {
    headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_range)
}

/// Parses a single-range `Range` header value (RFC 9110 `bytes=a-b`, `bytes=a-`,
/// `bytes=-n`); `None` for anything else (several ranges, another unit, no numbers), and
/// then the whole file is served, as RFC 9110 allows. The domain only sees the typed range.
pub fn parse_range(header: &str) -> Option<ByteRange> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return b.parse().ok().map(ByteRange::Suffix);
    }
    let start = a.parse().ok()?;
    let end = if b.is_empty() {
        None
    } else {
        Some(b.parse().ok()?)
    };
    // `bytes=500-0` (the end before the start) is kept: it resolves to nothing, so it is
    // answered 416 as the OCI conformance suite expects, not with the whole file.
    Some(ByteRange::From { start, end })
}

/// The declared `Content-Length` of a request, if any.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// The answer to a HEAD of a file: its headers, no body, and no download counted.
pub fn head_response(file: &FileInfo) -> Response {
    let mut headers = file_headers(file);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
    (StatusCode::OK, headers).into_response()
}

/// Streams a file download: 200, or 206 with `Content-Range` for a range; HEAD gets the
/// same headers without the body.
pub fn file_response(download: FileDownload, head: bool) -> Response {
    let FileDownload { file, read, .. } = download;
    let partial = read.partial;
    let mut headers = file_headers(&file);
    headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(read.range.end - read.range.start),
    );
    if partial {
        headers.insert(
            header::CONTENT_RANGE,
            header_value(&format!(
                "bytes {}-{}/{}",
                read.range.start,
                read.range.end.saturating_sub(1),
                read.size
            )),
        );
    }
    let status = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let body = if head {
        Body::empty()
    } else {
        Body::from_stream(read.stream.zero_copy())
    };
    (status, headers, body).into_response()
}

/// What every answer about a stored file carries.
fn file_headers(file: &FileInfo) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, header_value(&file.content_type));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::ETAG, header_value(&format!("\"{}\"", file.sha256)));
    headers.insert("x-checksum-sha256", header_value(&file.sha256));
    // Uploaded bytes are never a page of this origin: a browser downloads them instead of
    // rendering them (an uploaded `text/html` can't script the registry with a visitor's
    // credentials), doesn't sniff another type, and sandboxes them if it renders anyway.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    let disposition = if file.name.contains(['"', '\\']) || !file.name.is_ascii() {
        "attachment".to_string()
    } else {
        format!("attachment; filename=\"{}\"", file.name)
    };
    headers.insert(header::CONTENT_DISPOSITION, header_value(&disposition));
    headers
}

/// `416` with the `Content-Range: bytes */size` RFC 9110 asks for.
pub fn range_not_satisfiable(size: u64) -> Response {
    (
        StatusCode::RANGE_NOT_SATISFIABLE,
        [(header::CONTENT_RANGE, unsatisfied_content_range(size))],
    )
        .into_response()
}

/// The `Content-Range` of a 416: `bytes */size`.
pub fn unsatisfied_content_range(size: u64) -> HeaderValue {
    header_value(&format!("bytes */{size}"))
}

#[cfg(test)]
mod tests {
    use super::parse_range;
    use crate::domain::download::ByteRange;

    #[test]
    fn range_headers() {
        assert_eq!(
            parse_range("bytes=0-99"),
            Some(ByteRange::From {
                start: 0,
                end: Some(99)
            })
        );
        assert_eq!(
            parse_range("bytes=5-"),
            Some(ByteRange::From {
                start: 5,
                end: None
            })
        );
        assert_eq!(parse_range("bytes=-10"), Some(ByteRange::Suffix(10)));
        // Reversed: kept, and unsatisfiable whatever the size.
        let reversed = parse_range("bytes=500-0").expect("a range");
        assert_eq!(reversed.resolve(1000), None);
        assert_eq!(parse_range("bytes=0-1,4-5"), None);
        assert_eq!(parse_range("items=0-1"), None);
        let everything = parse_range("bytes=0-18446744073709551615").expect("a range");
        assert_eq!(everything.resolve(50), Some(0..50));
    }
}
