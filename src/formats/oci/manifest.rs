//! Manifests and indexes as the image spec writes them: parsed once, in the door, into the
//! registry's typed input; and the referrers index the spec answers with.
//!
//! Spec: opencontainers/image-spec (`manifest.md`, `image-index.md`, `descriptor.md`,
//! `annotations.md`); distribution-spec v1.1 "Listing Referrers".
use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::domain::{
    metadata::Platform,
    registry::{
        BlobDigest, Descriptor, ImageLabels, ImageManifest, IndexChild, ManifestContent,
        ReferrerInfo,
    },
};

use super::{errors::*, names::parse_digest};

/// The largest manifest accepted (distribution uses 4 MiB too).
pub const MANIFEST_MAX: usize = 4 * 1024 * 1024;
/// The largest image config whose labels are read (a config is a few KiB).
pub const CONFIG_MAX: u64 = 1024 * 1024;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// A descriptor without a media type: bytes of no declared kind.
const OCTET_STREAM: &str = "application/octet-stream";

fn invalid(detail: impl Into<String>) -> OciError {
    OciError::new(MANIFEST_INVALID, detail)
}

/// A manifest or index as pushed, parsed; the labels come from the config (a blob the
/// door reads) and are added by `into_image_manifest`.
#[derive(Debug)]
pub struct ParsedManifest {
    pub media_type: String,
    pub content: ManifestContent,
    pub subject: Option<String>,
    pub artifact_type: Option<String>,
    pub annotations: Map<String, Value>,
}

impl ParsedManifest {
    /// The image config's digest, whose labels describe the package.
    pub fn config(&self) -> Option<&BlobDigest> {
        match &self.content {
            ManifestContent::Image { config, .. } => Some(&config.digest),
            ManifestContent::Index { .. } => None,
        }
    }

    /// The registry's input: these bytes, stored exactly as pushed, and what they say.
    pub fn into_image_manifest(self, bytes: Bytes, labels: &Map<String, Value>) -> ImageManifest {
        ImageManifest {
            labels: image_labels(&self.annotations, labels),
            bytes,
            media_type: self.media_type,
            content: self.content,
            subject: self.subject,
            artifact_type: self.artifact_type,
            annotations: self.annotations,
        }
    }
}

/// Parses a pushed manifest (`content_type` is the request's, used when the document
/// names no media type). Everything wrong with it is `MANIFEST_INVALID`.
pub fn parse_manifest(
    bytes: &[u8],
    content_type: Option<&str>,
) -> Result<ParsedManifest, OciError> {
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("manifest is not JSON: {e}")))?;
    let media_type = doc
        .get("mediaType")
        .and_then(Value::as_str)
        .or(content_type)
        .map(str::to_string)
        .ok_or_else(|| invalid("manifest has no media type"))?;
    let content = match media_type.as_str() {
        OCI_INDEX | DOCKER_LIST => ManifestContent::Index {
            children: descriptors(&doc, "manifests")?
                .iter()
                .map(index_child)
                .collect::<Result<_, _>>()?,
        },
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let config = doc
                .get("config")
                .filter(|c| c.is_object())
                .ok_or_else(|| invalid("image manifest without a config descriptor"))?;
            ManifestContent::Image {
                config: descriptor(config)?,
                // Foreign layers live elsewhere (their `urls`): not blobs of this registry.
                layers: descriptors(&doc, "layers")?
                    .iter()
                    .filter(|d| d.get("urls").is_none())
                    .map(descriptor)
                    .collect::<Result<_, _>>()?,
            }
        }
        other => {
            return Err(invalid(format!(
                "unsupported manifest media type {other:?}"
            )));
        }
    };
    let annotations = doc
        .get("annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let subject = doc
        .get("subject")
        .and_then(|s| s.get("digest"))
        .and_then(Value::as_str)
        .map(str::to_string);
    // An artifact without its own `artifactType` is typed by its config (image spec,
    // "Determining the artifact type"), but only when it refers to a subject.
    let artifact_type = doc
        .get("artifactType")
        .and_then(Value::as_str)
        .or_else(|| {
            doc.get("config")
                .and_then(|c| c.get("mediaType"))
                .and_then(Value::as_str)
                .filter(|_| subject.is_some())
        })
        .map(str::to_string);
    Ok(ParsedManifest {
        media_type,
        content,
        subject,
        artifact_type,
        annotations,
    })
}

/// A descriptor list is an array of objects (the image spec's schema): anything else is an
/// invalid manifest, not an empty list (else `"layers": "nope"` would store an image
/// without its layers).
fn descriptors<'a>(doc: &'a Value, key: &str) -> Result<&'a [Value], OciError> {
    match doc.get(key) {
        None => Ok(&[]),
        Some(Value::Array(items)) if items.iter().all(Value::is_object) => Ok(items),
        Some(_) => Err(invalid(format!(
            "manifest field {key:?} must be an array of descriptors"
        ))),
    }
}

fn descriptor_digest(d: &Value) -> Result<BlobDigest, OciError> {
    let digest = d
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("descriptor without digest"))?;
    parse_digest(digest).map_err(|e| invalid(e.detail))
}

/// A descriptor of an index, with its `platform` when it names one with both `os` and
/// `architecture` (the spec's required pair); a partial or malformed platform is a
/// description left out, not an invalid index.
fn index_child(d: &Value) -> Result<IndexChild, OciError> {
    let text = |p: &Value, key: &str| p.get(key).and_then(Value::as_str).map(str::to_string);
    let platform = d.get("platform").and_then(|p| {
        Some(Platform {
            os: text(p, "os")?,
            architecture: text(p, "architecture")?,
            variant: text(p, "variant"),
            os_version: text(p, "os.version"),
        })
    });
    Ok(IndexChild {
        digest: descriptor_digest(d)?,
        platform,
    })
}

fn descriptor(d: &Value) -> Result<Descriptor, OciError> {
    Ok(Descriptor {
        digest: descriptor_digest(d)?,
        media_type: d
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or(OCTET_STREAM)
            .to_string(),
    })
}

/// `config.Labels` of an image config blob; nothing if it isn't a config.
pub fn config_labels(config: &[u8]) -> Map<String, Value> {
    serde_json::from_slice::<Value>(config)
        .ok()
        .and_then(|c| c.get("config")?.get("Labels")?.as_object().cloned())
        .unwrap_or_default()
}

/// The `org.opencontainers.image.*` values describing the package: an annotation of the
/// manifest, else the config's label of the same name.
pub fn image_labels(annotations: &Map<String, Value>, labels: &Map<String, Value>) -> ImageLabels {
    let get = |key: &str| {
        annotations
            .get(key)
            .or_else(|| labels.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    ImageLabels {
        description: get("org.opencontainers.image.description"),
        licenses: get("org.opencontainers.image.licenses"),
        source: get("org.opencontainers.image.source"),
        url: get("org.opencontainers.image.url"),
        authors: get("org.opencontainers.image.authors"),
    }
}

/// The referrers API's answer: an image index of the referring manifests' descriptors.
pub fn referrers_index(referrers: &[ReferrerInfo]) -> Value {
    let manifests: Vec<Value> = referrers
        .iter()
        .map(|r| {
            let mut descriptor =
                json!({"mediaType": r.media_type, "digest": r.digest, "size": r.size});
            if let Some(kind) = &r.artifact_type {
                descriptor["artifactType"] = Value::String(kind.clone());
            }
            if !r.annotations.is_empty() {
                descriptor["annotations"] = Value::Object(r.annotations.clone());
            }
            descriptor
        })
        .collect();
    json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn parse(doc: Value) -> Result<ParsedManifest, OciError> {
        parse_manifest(&serde_json::to_vec(&doc).expect("json"), None)
    }

    #[test]
    fn an_image_manifest_names_its_config_and_layers() {
        for media_type in [OCI_MANIFEST, DOCKER_MANIFEST] {
            let parsed = parse(json!({
                "schemaVersion": 2, "mediaType": media_type,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest('c'), "size": 2},
                "layers": [
                    {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest('a'), "size": 1},
                    {"digest": digest('b'), "size": 1},
                    {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "digest": "sha256:elsewhere", "urls": ["https://example.com/l"]},
                ],
            }))
            .expect("valid");
            assert_eq!(parsed.media_type, media_type);
            let ManifestContent::Image { config, layers } = &parsed.content else {
                panic!("{parsed:?}");
            };
            assert_eq!(config.digest.to_string(), digest('c'));
            assert_eq!(parsed.config(), Some(&config.digest));
            // The foreign layer is left out (its digest isn't even read); a layer without a
            // media type is stored as bytes.
            let layers: Vec<(String, &str)> = layers
                .iter()
                .map(|l| (l.digest.to_string(), l.media_type.as_str()))
                .collect();
            assert_eq!(
                layers,
                [
                    (digest('a'), "application/vnd.oci.image.layer.v1.tar+gzip"),
                    (digest('b'), OCTET_STREAM),
                ]
            );
            assert_eq!((parsed.subject, parsed.artifact_type), (None, None));
        }
    }

    #[test]
    fn an_index_names_its_children() {
        for media_type in [OCI_INDEX, DOCKER_LIST] {
            let parsed = parse(json!({"schemaVersion": 2, "mediaType": media_type,
                "manifests": [
                    {"digest": digest('a'), "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
                    {"digest": digest('b'), "platform": {"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.1"}},
                    {"digest": digest('c'), "platform": {"architecture": "amd64"}},
                    {"digest": digest('d')},
                ]}))
            .expect("valid");
            let ManifestContent::Index { children } = &parsed.content else {
                panic!("{parsed:?}");
            };
            let digests: Vec<String> = children.iter().map(|c| c.digest.to_string()).collect();
            assert_eq!(
                digests,
                [digest('a'), digest('b'), digest('c'), digest('d')]
            );
            let platforms: Vec<Option<&Platform>> =
                children.iter().map(|c| c.platform.as_ref()).collect();
            let arm = Platform {
                os: "linux".into(),
                architecture: "arm".into(),
                variant: Some("v7".into()),
                os_version: None,
            };
            let windows = Platform {
                os: "windows".into(),
                architecture: "amd64".into(),
                variant: None,
                os_version: Some("10.0.17763.1".into()),
            };
            // A platform without its os is left out; the child is still a child.
            assert_eq!(platforms, [Some(&arm), Some(&windows), None, None]);
            assert!(parsed.config().is_none());
        }
    }

    #[test]
    fn the_media_type_may_come_from_the_request() {
        let doc = json!({"schemaVersion": 2, "manifests": []});
        let bytes = serde_json::to_vec(&doc).expect("json");
        let parsed = parse_manifest(&bytes, Some(OCI_INDEX)).expect("valid");
        assert_eq!(parsed.media_type, OCI_INDEX);
        let err = parse_manifest(&bytes, None).expect_err("no media type");
        assert_eq!(err.detail, "manifest has no media type");
    }

    #[test]
    fn malformed_manifests_are_invalid() {
        let image = |extra: Value| {
            let mut doc = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"digest": digest('c')}});
            for (k, v) in extra.as_object().expect("object") {
                doc[k] = v.clone();
            }
            doc
        };
        let cases = [
            image(json!({"layers": "nope"})),
            image(json!({"layers": {"digest": "x"}})),
            image(json!({"layers": ["nope"]})),
            image(json!({"layers": 7})),
            image(json!({"layers": [{"mediaType": "x"}]})),
            image(json!({"layers": [{"digest": "sha256:short"}]})),
            image(json!({"config": "nope"})),
            json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST}),
            json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": "nope"}),
            json!({"schemaVersion": 2, "mediaType": "application/vnd.example+json"}),
        ];
        for doc in cases {
            let err = parse(doc.clone()).expect_err(&doc.to_string());
            assert_eq!(err.code, MANIFEST_INVALID, "{doc}");
        }
        let err = parse_manifest(b"{not json", Some(OCI_MANIFEST)).expect_err("not json");
        assert_eq!(err.code, MANIFEST_INVALID);
    }

    #[test]
    fn subject_and_artifact_type() {
        let subject = json!({"mediaType": OCI_MANIFEST, "digest": digest('s'), "size": 1});
        let config = json!({"mediaType": "application/vnd.example.sbom", "digest": digest('c')});
        let parsed = parse(json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": config, "subject": subject, "annotations": {"k": "v"}}))
        .expect("valid");
        assert_eq!(parsed.subject, Some(digest('s')));
        // Without its own artifactType, an artifact is typed by its config.
        assert_eq!(
            parsed.artifact_type.as_deref(),
            Some("application/vnd.example.sbom")
        );
        assert_eq!(parsed.annotations.get("k"), Some(&json!("v")));
        let parsed = parse(json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": config, "subject": subject, "artifactType": "application/vnd.example.sig"}))
        .expect("valid");
        assert_eq!(
            parsed.artifact_type.as_deref(),
            Some("application/vnd.example.sig")
        );
        // No subject: a plain image, whatever its config.
        let parsed =
            parse(json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config}))
                .expect("valid");
        assert_eq!(parsed.artifact_type, None);
    }

    #[test]
    fn annotations_take_precedence_over_config_labels() {
        let config = br#"{"config": {"Labels": {
            "org.opencontainers.image.description": "from the label",
            "org.opencontainers.image.licenses": "MIT",
            "org.opencontainers.image.source": 7}}}"#;
        let labels = config_labels(config);
        assert_eq!(labels.len(), 3);
        assert!(config_labels(b"not json").is_empty());
        assert!(config_labels(br#"{"config": {}}"#).is_empty());
        let annotations = json!({
            "org.opencontainers.image.description": "from the annotation",
            "org.opencontainers.image.url": "https://example.com",
        });
        let found = image_labels(annotations.as_object().expect("object"), &labels);
        assert_eq!(found.description.as_deref(), Some("from the annotation"));
        assert_eq!(found.licenses.as_deref(), Some("MIT"));
        assert_eq!(found.url.as_deref(), Some("https://example.com"));
        assert_eq!(found.source, None, "not a string");
        assert_eq!(found.authors, None);
    }

    #[test]
    fn the_referrers_index_lists_descriptors() {
        let index = referrers_index(&[
            ReferrerInfo {
                digest: digest('a'),
                media_type: OCI_MANIFEST.into(),
                artifact_type: Some("application/vnd.example.sig".into()),
                size: 10,
                annotations: json!({"k": "v"}).as_object().cloned().unwrap_or_default(),
            },
            ReferrerInfo {
                digest: digest('b'),
                media_type: OCI_MANIFEST.into(),
                artifact_type: None,
                size: 11,
                annotations: Map::new(),
            },
        ]);
        assert_eq!(
            index,
            json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": digest('a'), "size": 10,
                 "artifactType": "application/vnd.example.sig", "annotations": {"k": "v"}},
                {"mediaType": OCI_MANIFEST, "digest": digest('b'), "size": 11},
            ]})
        );
    }
}
