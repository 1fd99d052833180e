//! The npm publish document, split while it streams: the attachment's base64 `data` is
//! decoded straight into the blob store, everything else is kept (bounded) as JSON.
//!
//! npm sends `{"name", "versions": {...}, "dist-tags": {...}, "_attachments":
//! {"@scope/name-1.0.0.tgz": {"content_type", "data": "<base64>", "length"}}}`; the tarball
//! can be hundreds of MiB, so it never becomes a JSON string in memory.
use base64::Engine;
use serde::Deserialize;

use crate::error::DomainError;

#[derive(Debug)]
enum Frame {
    Object { key: Vec<u8>, expect_key: bool },
    Array,
}

/// Longest key we remember for path matching; longer keys can't be `_attachments`/`data`.
const KEY_MAX: usize = 64;

/// A streaming tokenizer that copies the document to `meta` except the attachment data.
pub struct DocumentSplitter {
    meta: Vec<u8>,
    meta_limit: usize,
    stack: Vec<Frame>,
    in_string: bool,
    escape: bool,
    string_is_key: bool,
    key: Vec<u8>,
    capturing: bool,
    attachments: usize,
    carry: Vec<u8>,
    decoded: u64,
    data_limit: u64,
}

impl DocumentSplitter {
    pub fn new(meta_limit: usize, data_limit: u64) -> Self {
        Self {
            meta: Vec::new(),
            meta_limit,
            stack: Vec::new(),
            in_string: false,
            escape: false,
            string_is_key: false,
            key: Vec::new(),
            capturing: false,
            attachments: 0,
            carry: Vec::new(),
            decoded: 0,
            data_limit,
        }
    }

    fn at_attachment_data(&self) -> bool {
        matches!(
            self.stack.as_slice(),
            [Frame::Object { key: root, .. }, Frame::Object { .. }, Frame::Object { key, expect_key: false }]
                if root == b"_attachments" && key == b"data"
        )
    }

    /// Feeds a chunk; decoded attachment bytes are appended to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), DomainError> {
        let mut data_start: Option<usize> = None;
        for (i, &b) in chunk.iter().enumerate() {
            if self.in_string {
                if self.capturing {
                    if b == b'"' {
                        if let Some(start) = data_start.take() {
                            self.decode(&chunk[start..i], out)?;
                        }
                        self.finish_data()?;
                        self.capturing = false;
                        self.in_string = false;
                        self.meta.push(b'"');
                    } else if b == b'\\' {
                        return Err(DomainError::invalid("attachment data must be plain base64"));
                    } else if data_start.is_none() {
                        data_start = Some(i);
                    }
                    continue;
                }
                self.meta.push(b);
                if self.escape {
                    self.escape = false;
                    if self.string_is_key && self.key.len() < KEY_MAX {
                        self.key.push(b);
                    }
                } else if b == b'\\' {
                    self.escape = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if self.string_is_key
                        && let Some(Frame::Object { key, .. }) = self.stack.last_mut()
                    {
                        *key = std::mem::take(&mut self.key);
                    }
                } else if self.string_is_key && self.key.len() < KEY_MAX {
                    self.key.push(b);
                }
            } else {
                match b {
                    b'"' => {
                        self.in_string = true;
                        self.string_is_key = matches!(
                            self.stack.last(),
                            Some(Frame::Object {
                                expect_key: true,
                                ..
                            })
                        );
                        self.key.clear();
                        if !self.string_is_key && self.at_attachment_data() {
                            self.attachments += 1;
                            if self.attachments > 1 {
                                return Err(DomainError::invalid(
                                    "a publish carries exactly one tarball",
                                ));
                            }
                            self.capturing = true;
                        }
                    }
                    b'{' => self.stack.push(Frame::Object {
                        key: Vec::new(),
                        expect_key: true,
                    }),
                    b'[' => self.stack.push(Frame::Array),
                    b'}' | b']' => {
                        self.stack.pop();
                    }
                    b':' => {
                        if let Some(Frame::Object { expect_key, .. }) = self.stack.last_mut() {
                            *expect_key = false;
                        }
                    }
                    b',' => {
                        if let Some(Frame::Object { expect_key, .. }) = self.stack.last_mut() {
                            *expect_key = true;
                        }
                    }
                    _ => {}
                }
                self.meta.push(b);
            }
            if self.meta.len() > self.meta_limit {
                return Err(DomainError::PayloadTooLarge(format!(
                    "the publish document's metadata is over {} bytes",
                    self.meta_limit
                )));
            }
        }
        if let Some(start) = data_start {
            self.decode(&chunk[start..], out)?;
        }
        Ok(())
    }

    /// Decodes whole base64 quads, carrying the remainder to the next chunk.
    fn decode(&mut self, text: &[u8], out: &mut Vec<u8>) -> Result<(), DomainError> {
        self.carry
            .extend(text.iter().filter(|b| !b.is_ascii_whitespace()));
        let whole = self.carry.len() / 4 * 4;
        if whole == 0 {
            return Ok(());
        }
        let before = out.len();
        base64::engine::general_purpose::STANDARD
            .decode_vec(&self.carry[..whole], out)
            .map_err(|e| {
                DomainError::invalid(format!("attachment data is not valid base64: {e}"))
            })?;
        self.carry.drain(..whole);
        self.decoded += (out.len() - before) as u64;
        if self.decoded > self.data_limit {
            return Err(DomainError::PayloadTooLarge(format!(
                "the tarball is over the limit of {} bytes",
                self.data_limit
            )));
        }
        Ok(())
    }

    fn finish_data(&mut self) -> Result<(), DomainError> {
        if !self.carry.is_empty() {
            return Err(DomainError::invalid(
                "attachment data is not valid base64 (truncated)",
            ));
        }
        Ok(())
    }

    /// The document without the attachment data, once the body has ended.
    pub fn finish(self) -> Result<(Vec<u8>, bool), DomainError> {
        if self.in_string || !self.stack.is_empty() {
            return Err(DomainError::invalid("the publish document is truncated"));
        }
        Ok((self.meta, self.attachments == 1))
    }
}

/// The parts of the document we read.
#[derive(Debug, Deserialize)]
pub struct PublishDocument {
    pub name: String,
    #[serde(default)]
    pub versions: serde_json::Map<String, serde_json::Value>,
    #[serde(rename = "dist-tags", default)]
    pub dist_tags: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub readme: Option<String>,
    #[serde(rename = "_attachments", default)]
    pub attachments: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub access: Option<String>,
    /// The revision an update was written against.
    #[serde(rename = "_rev", default)]
    pub rev: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(doc: &str, chunk: usize) -> Result<(Vec<u8>, Vec<u8>, bool), DomainError> {
        let mut s = DocumentSplitter::new(1 << 20, 1 << 20);
        let mut out = Vec::new();
        for c in doc.as_bytes().chunks(chunk) {
            s.feed(c, &mut out)?;
        }
        let (meta, had) = s.finish()?;
        Ok((meta, out, had))
    }

    #[test]
    fn splits_attachment_data_at_any_chunking() {
        let data = base64::engine::general_purpose::STANDARD.encode(b"tarball bytes \x00\x01\x02");
        let doc = format!(
            r#"{{"name":"@a/b","versions":{{"1.0.0":{{"name":"@a/b","data":"keep me"}}}},"_attachments":{{"@a/b-1.0.0.tgz":{{"content_type":"application/octet-stream","data":"{data}","length":17}}}}}}"#
        );
        for chunk in [1, 2, 3, 7, 64, 4096] {
            let (meta, out, had) = split(&doc, chunk).expect("valid");
            assert!(had);
            assert_eq!(out, b"tarball bytes \x00\x01\x02", "chunk {chunk}");
            let v: serde_json::Value = serde_json::from_slice(&meta).expect("meta is JSON");
            assert_eq!(v["_attachments"]["@a/b-1.0.0.tgz"]["data"], "");
            assert_eq!(
                v["versions"]["1.0.0"]["data"], "keep me",
                "only the attachment's data is taken"
            );
            assert_eq!(v["_attachments"]["@a/b-1.0.0.tgz"]["length"], 17);
        }
    }

    #[test]
    fn refuses_bad_input() {
        assert!(
            split(r#"{"_attachments":{"x":{"data":"!!!!"}}}"#, 5).is_err(),
            "bad base64"
        );
        assert!(
            split(r#"{"_attachments":{"x":{"data":"QUJD"}}"#, 5).is_err(),
            "truncated"
        );
        assert!(
            split(r#"{"_attachments":{"x":{"data":"QUJ"}}}"#, 5).is_err(),
            "partial quad"
        );
        assert!(
            split(
                r#"{"_attachments":{"x":{"data":"QUJD"},"y":{"data":"QUJD"}}}"#,
                5
            )
            .is_err(),
            "two tarballs"
        );
        let mut s = DocumentSplitter::new(8, 1 << 20);
        assert!(matches!(
            s.feed(br#"{"name":"@a/bcdefgh"}"#, &mut Vec::new()),
            Err(DomainError::PayloadTooLarge(_))
        ));
        let mut s = DocumentSplitter::new(1 << 20, 2);
        assert!(matches!(
            s.feed(
                br#"{"_attachments":{"x":{"data":"QUJDREVG"}}}"#,
                &mut Vec::new()
            ),
            Err(DomainError::PayloadTooLarge(_))
        ));
        let (_, _, had) = split(r#"{"name":"@a/b","versions":{}}"#, 3).expect("no attachment");
        assert!(!had);
    }
}
