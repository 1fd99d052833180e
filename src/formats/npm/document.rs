//! The npm publish document, split while it streams: the attachment's base64 `data` is
//! decoded straight into the blob store, everything else is kept (bounded) as JSON.
//!
//! npm sends `{"name", "versions": {...}, "dist-tags": {...}, "_attachments":
//! {"@scope/name-1.0.0.tgz": {"content_type", "data": "<base64>", "length"}}}`; the tarball
//! can be hundreds of MiB, so it never becomes a JSON string in memory.
use std::collections::BTreeMap;

use base64::Engine;
use serde::{
    Deserialize, Deserializer,
    de::{IgnoredAny, MapAccess, SeqAccess, Visitor},
};

use crate::error::DomainError;

#[derive(Debug)]
enum Frame {
    Object { key: Vec<u8>, expect_key: bool },
    Array,
}

/// Longest key we remember for path matching; longer keys can't be `_attachments`/`data`.
const KEY_MAX: usize = 64;
/// Longest key text (escapes included: `\u0073` is six bytes for one) we unescape.
const KEY_TEXT_MAX: usize = 6 * KEY_MAX;

/// How deep a publish document may nest. npm's own documents are a handful of levels deep
/// (document → versions → manifest → `exports` conditions); each level costs the splitter
/// a frame, and serde a stack frame, so the depth is bounded long before either matters.
pub const DEPTH_MAX: usize = 64;

/// How many JSON values (keys included) of a document become values in memory. A parsed
/// value costs up to ~150 bytes whatever its text (a `0,` is two bytes of text), so this,
/// not the document's size, bounds what parsing one request takes: ~40 MiB at most. A
/// publish parses all of its document; an update (no tarball) reads only each version's
/// `deprecated`, so the manifests it carries back are not counted.
pub const VALUES_MAX: usize = 1 << 18;

/// A streaming tokenizer that copies the document to `meta` except the attachment data.
pub struct DocumentSplitter {
    meta: Vec<u8>,
    meta_limit: usize,
    stack: Vec<Frame>,
    in_string: bool,
    in_scalar: bool,
    escape: bool,
    string_is_key: bool,
    /// The current key's text as written (escapes and all), up to `KEY_TEXT_MAX`.
    key: Vec<u8>,
    key_too_long: bool,
    capturing: bool,
    attachments: usize,
    carry: Vec<u8>,
    decoded: u64,
    data_limit: u64,
    values: usize,
    /// Values inside the version manifests under `versions`.
    manifest_values: usize,
}

impl DocumentSplitter {
    pub fn new(meta_limit: usize, data_limit: u64) -> Self {
        Self {
            meta: Vec::new(),
            meta_limit,
            stack: Vec::new(),
            in_string: false,
            in_scalar: false,
            escape: false,
            string_is_key: false,
            key: Vec::new(),
            key_too_long: false,
            capturing: false,
            attachments: 0,
            carry: Vec::new(),
            decoded: 0,
            data_limit,
            values: 0,
            manifest_values: 0,
        }
    }

    fn at_attachment_data(&self) -> bool {
        matches!(
            self.stack.as_slice(),
            [Frame::Object { key: root, .. }, Frame::Object { .. }, Frame::Object { key, expect_key: false }]
                if root == b"_attachments" && key == b"data"
        )
    }

    /// Whether a value starting now is (part of) a version manifest: `versions.V...`.
    fn in_manifest(&self) -> bool {
        match self.stack.as_slice() {
            [Frame::Object { key: root, .. }, versions, rest @ ..] if root == b"versions" => {
                !rest.is_empty()
                    || matches!(
                        versions,
                        Frame::Object {
                            expect_key: false,
                            ..
                        }
                    )
            }
            _ => false,
        }
    }

    /// Counts a value (or key) starting now.
    fn count_value(&mut self) {
        self.values += 1;
        if self.in_manifest() {
            self.manifest_values += 1;
        }
    }

    fn push_frame(&mut self, frame: Frame) -> Result<(), DomainError> {
        if self.stack.len() >= DEPTH_MAX {
            return Err(DomainError::invalid(format!(
                "the publish document nests deeper than {DEPTH_MAX} levels"
            )));
        }
        self.count_value();
        self.stack.push(frame);
        Ok(())
    }

    /// A key as the JSON parser will read it (escapes decoded), so `"_attachment\u0073"` is
    /// `_attachments` here too. Keys too long to be one we match on stay unmatched.
    fn take_key(&mut self) -> Vec<u8> {
        let text = std::mem::take(&mut self.key);
        if std::mem::take(&mut self.key_too_long) {
            return Vec::new();
        }
        let mut quoted = Vec::with_capacity(text.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(&text);
        quoted.push(b'"');
        serde_json::from_slice::<String>(&quoted)
            .map(String::into_bytes)
            .unwrap_or_default()
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
                let closes = !self.escape && b == b'"';
                self.escape = !self.escape && b == b'\\';
                if closes {
                    self.in_string = false;
                    if self.string_is_key {
                        let key = self.take_key();
                        if let Some(Frame::Object { key: current, .. }) = self.stack.last_mut() {
                            *current = key;
                        }
                    }
                } else if self.string_is_key {
                    if self.key.len() < KEY_TEXT_MAX {
                        self.key.push(b);
                    } else {
                        self.key_too_long = true;
                    }
                }
            } else {
                match b {
                    b'"' => {
                        self.in_scalar = false;
                        self.in_string = true;
                        self.string_is_key = matches!(
                            self.stack.last(),
                            Some(Frame::Object {
                                expect_key: true,
                                ..
                            })
                        );
                        self.count_value();
                        self.key.clear();
                        self.key_too_long = false;
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
                    b'{' => {
                        self.in_scalar = false;
                        self.push_frame(Frame::Object {
                            key: Vec::new(),
                            expect_key: true,
                        })?;
                    }
                    b'[' => {
                        self.in_scalar = false;
                        self.push_frame(Frame::Array)?;
                    }
                    b'}' | b']' => {
                        self.in_scalar = false;
                        self.stack.pop();
                    }
                    b':' => {
                        self.in_scalar = false;
                        if let Some(Frame::Object { expect_key, .. }) = self.stack.last_mut() {
                            *expect_key = false;
                        }
                    }
                    b',' => {
                        self.in_scalar = false;
                        if let Some(Frame::Object { expect_key, .. }) = self.stack.last_mut() {
                            *expect_key = true;
                        }
                    }
                    b' ' | b'\t' | b'\n' | b'\r' => self.in_scalar = false,
                    // A number, `true`, `false` or `null` starts.
                    _ if !self.in_scalar => {
                        self.in_scalar = true;
                        self.count_value();
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

    /// The document without the attachment data, once the body has ended, and whether it
    /// carried the tarball.
    pub fn finish(self) -> Result<(Vec<u8>, bool), DomainError> {
        if self.in_string || !self.stack.is_empty() {
            return Err(DomainError::invalid("the publish document is truncated"));
        }
        let has_tarball = self.attachments == 1;
        let parsed = if has_tarball {
            self.values
        } else {
            self.values - self.manifest_values
        };
        if parsed > VALUES_MAX {
            return Err(DomainError::PayloadTooLarge(format!(
                "the publish document has more than {VALUES_MAX} JSON values"
            )));
        }
        Ok((self.meta, has_tarball))
    }
}

/// The parts of a publish document (one with a tarball) we read.
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
}

/// The parts of an update document (no tarball: npm deprecate, `npm unpublish pkg@ver`)
/// we read. npm sends back the whole packument it fetched; of each version only
/// `deprecated` matters, so the manifests are skipped, not parsed.
#[derive(Debug, Deserialize)]
pub struct UpdateDocument {
    pub name: String,
    #[serde(default)]
    pub versions: BTreeMap<String, VersionUpdate>,
    #[serde(rename = "dist-tags", default)]
    pub dist_tags: serde_json::Map<String, serde_json::Value>,
    /// Must be empty: attachment data the splitter did not take (a key it could not
    /// match) is refused, never mistaken for an update.
    #[serde(rename = "_attachments", default)]
    pub attachments: BTreeMap<String, IgnoredAny>,
    /// The revision the update was written against.
    #[serde(rename = "_rev", default)]
    pub rev: Option<String>,
}

/// A version as an update document lists it.
#[derive(Debug, Deserialize)]
pub struct VersionUpdate {
    /// The deprecation message; anything but a non-empty string means "not deprecated".
    #[serde(default, deserialize_with = "text_or_nothing")]
    pub deprecated: Option<String>,
}

/// A string, or `None` for any other value (which is skipped without being built).
fn text_or_nothing<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct TextOrNothing;
    impl<'de> Visitor<'de> for TextOrNothing {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()).filter(|s| !s.is_empty()))
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(TextOrNothing)
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

    #[test]
    fn keys_are_matched_as_the_parser_reads_them() {
        let doc = r#"{"name":"@a/b","_attachment\u0073":{"x.tgz":{"d\u0061ta":"QUJD"}}}"#;
        for chunk in [1, 5, 4096] {
            let (meta, out, had) = split(doc, chunk).expect("valid");
            assert!(had, "an escaped `_attachments` is `_attachments`");
            assert_eq!(out, b"ABC");
            let v: serde_json::Value = serde_json::from_slice(&meta).expect("meta is JSON");
            assert_eq!(v["_attachments"]["x.tgz"]["data"], "");
        }
        let (_, _, had) = split(r#"{"_attachments\"":{"x":{"data":"QUJD"}}}"#, 3).expect("valid");
        assert!(!had, "a different key");
    }

    #[test]
    fn nesting_is_bounded() {
        let mut s = DocumentSplitter::new(1 << 24, 1 << 20);
        let deep = vec![b'['; 1 << 20];
        assert!(matches!(
            s.feed(&deep, &mut Vec::new()),
            Err(DomainError::InvalidInput(_))
        ));
        assert!(s.stack.len() <= DEPTH_MAX);
        let ok = format!("{}{}", "[".repeat(DEPTH_MAX), "]".repeat(DEPTH_MAX));
        assert!(split(&ok, 7).is_ok());
        let over = format!("{}{}", "[".repeat(DEPTH_MAX + 1), "]".repeat(DEPTH_MAX + 1));
        assert!(split(&over, 7).is_err());
    }

    #[test]
    fn parsed_values_are_bounded() {
        let many = |n: usize| vec!["0"; n].join(",");
        let wide = format!(r#"{{"name":"@a/b","x":[{}]}}"#, many(VALUES_MAX));
        let mut s = DocumentSplitter::new(1 << 24, 1 << 20);
        s.feed(wide.as_bytes(), &mut Vec::new()).expect("tokenized");
        assert!(matches!(s.finish(), Err(DomainError::PayloadTooLarge(_))));
        let mut s = DocumentSplitter::new(1 << 24, 1 << 20);
        s.feed(br#"[true,false,null,-1.5e3,"s",{"k":[]}]"#, &mut Vec::new())
            .expect("tokenized");
        assert_eq!(s.values, 9, "each value and key counts once");
        // An update reads no manifest: the ones it carries back don't count...
        let manifests = format!(
            r#"{{"name":"@a/b","versions":{{"1.0.0":{{"x":[{}]}},"2.0.0":{{"deprecated":"old"}}}}}}"#,
            many(VALUES_MAX)
        );
        let (_, _, had) = split(&manifests, 4096).expect("an update reads no manifest");
        assert!(!had);
        // ... a publish parses its whole document.
        let publish = manifests.replacen(
            r#"{"name""#,
            r#"{"_attachments":{"x":{"data":"QUJD"}},"name""#,
            1,
        );
        assert!(matches!(
            split(&publish, 4096),
            Err(DomainError::PayloadTooLarge(_))
        ));
    }
}
