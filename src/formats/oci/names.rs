//! The distribution spec's grammar for what a `/v2` path names: repositories, digests,
//! references (tag or digest), and the endpoint a path asks for. Parsed here, before any
//! I/O, into the domain's typed values.
use crate::{
    domain::{
        OwnerName, PackageName, PackageType,
        packages::PackageRef,
        registry::{BlobDigest, ManifestRef},
    },
    error::DomainError,
};

use super::errors::*;

/// A content digest (`sha256:<hex>` or `sha512:<hex>`); anything else is `DIGEST_INVALID`.
pub fn parse_digest(s: &str) -> Result<BlobDigest, OciError> {
    digest(s).map_err(|e| OciError::new(DIGEST_INVALID, e.to_string()))
}

fn digest(s: &str) -> Result<BlobDigest, DomainError> {
    let invalid = || DomainError::invalid(format!("invalid digest {s:?}"));
    let (algorithm, hex) = s.split_once(':').ok_or_else(invalid)?;
    match algorithm {
        "sha256" => BlobDigest::sha256(hex).map_err(|_| invalid()),
        "sha512" => BlobDigest::sha512(hex).map_err(|_| invalid()),
        other => Err(DomainError::invalid(format!(
            "unsupported digest algorithm {other:?}"
        ))),
    }
}

/// A repository name per the spec's grammar
/// (`[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/...)*`), with at least an owner and a name:
/// `OWNER/a/b` is the container package `a/b` of `OWNER`. Else `NAME_INVALID`.
pub fn parse_image(full: &str) -> Result<PackageRef, OciError> {
    image(full).map_err(|e| OciError::new(NAME_INVALID, e.to_string()))
}

fn image(full: &str) -> Result<PackageRef, DomainError> {
    let invalid = || DomainError::invalid(format!("invalid repository name {full:?}"));
    if full.len() > 255 {
        return Err(invalid());
    }
    let (owner, rest) = full.split_once('/').ok_or_else(invalid)?;
    if !full.split('/').all(segment_ok) {
        return Err(invalid());
    }
    Ok(PackageRef {
        owner: OwnerName::parse(owner).map_err(|_| invalid())?,
        package_type: PackageType::Container,
        name: PackageName::parse(rest)?,
    })
}

/// One path component: lower-case alphanumerics joined by `.`, `_`, `__` or runs of `-`.
fn segment_ok(seg: &str) -> bool {
    let bytes = seg.as_bytes();
    if bytes.is_empty()
        || !bytes[0].is_ascii_alphanumeric()
        || !bytes[bytes.len() - 1].is_ascii_alphanumeric()
    {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            i += 1;
            continue;
        }
        let sep_len = match b {
            b'.' => 1,
            b'_' if bytes.get(i + 1) == Some(&b'_') => 2,
            b'_' => 1,
            b'-' => bytes[i..].iter().take_while(|&&c| c == b'-').count(),
            _ => return false,
        };
        i += sep_len;
        if !bytes
            .get(i)
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        {
            return false;
        }
    }
    true
}

/// A manifest reference: a digest (it has a `:`) or a tag
/// (`[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`). Else `MANIFEST_INVALID`.
pub fn parse_reference(s: &str) -> Result<ManifestRef, OciError> {
    reference(s).map_err(|e| OciError::new(MANIFEST_INVALID, e.to_string()))
}

fn reference(s: &str) -> Result<ManifestRef, DomainError> {
    if s.contains(':') {
        return Ok(ManifestRef::Digest(digest(s)?));
    }
    let ok = !s.is_empty()
        && s.len() <= 128
        && (s.as_bytes()[0].is_ascii_alphanumeric() || s.as_bytes()[0] == b'_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !ok {
        return Err(DomainError::invalid(format!("invalid tag {s:?}")));
    }
    Ok(ManifestRef::Tag(s.to_string()))
}

/// What a `/v2/<name>/...` path asks for.
pub enum Target {
    Manifest(String),
    Blob(String),
    Upload(Option<String>),
    Tags,
    Referrers(String),
}

/// Splits a `/v2/` path into the repository name and the endpoint: names nest
/// (`owner/a/b`), so the endpoint is found by its suffix.
pub fn parse_target(path: &str) -> Option<(String, Target)> {
    if let Some(name) = path.strip_suffix("/tags/list") {
        return Some((name.to_string(), Target::Tags));
    }
    let split = |marker: &str| {
        path.rfind(marker)
            .map(|at| (&path[..at], &path[at + marker.len()..]))
    };
    if let Some((name, rest)) = split("/manifests/")
        && !rest.contains('/')
    {
        return Some((name.to_string(), Target::Manifest(rest.to_string())));
    }
    if let Some((name, rest)) = split("/blobs/uploads/")
        && !rest.contains('/')
    {
        return Some((
            name.to_string(),
            Target::Upload(Some(rest.to_string()).filter(|s| !s.is_empty())),
        ));
    }
    if let Some(name) = path.strip_suffix("/blobs/uploads") {
        return Some((name.to_string(), Target::Upload(None)));
    }
    if let Some((name, rest)) = split("/blobs/")
        && !rest.contains('/')
    {
        return Some((name.to_string(), Target::Blob(rest.to_string())));
    }
    if let Some((name, rest)) = split("/referrers/")
        && !rest.contains('/')
    {
        return Some((name.to_string(), Target::Referrers(rest.to_string())));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_follow_the_spec_grammar() {
        let n = parse_image("acme/web/api").expect("valid");
        assert_eq!((n.owner.as_str(), n.name.as_str()), ("acme", "web/api"));
        assert_eq!(n.package_type, PackageType::Container);
        for ok in [
            "a/b",
            "acme/my_app",
            "acme/my__app",
            "acme/my--app",
            "acme/v1.2",
        ] {
            assert!(parse_image(ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "acme",
            "Acme/app",
            "acme/App",
            "acme/-app",
            "acme/app-",
            "acme//app",
            "acme/a___b",
            "acme/../x",
            "acme/a b",
        ] {
            let err = parse_image(bad).expect_err(bad);
            assert_eq!(err.code, NAME_INVALID, "{bad}");
        }
    }

    #[test]
    fn digests_and_references() {
        let hex = "a".repeat(64);
        assert_eq!(
            parse_digest(&format!("sha256:{hex}")).expect("valid"),
            BlobDigest::sha256(&hex).expect("valid")
        );
        assert_eq!(
            parse_digest(&format!("sha256:{hex}"))
                .expect("valid")
                .to_string(),
            format!("sha256:{hex}")
        );
        assert!(parse_digest(&format!("sha512:{}", "b".repeat(128))).is_ok());
        for bad in [
            "sha256:xyz",
            "md5:abc",
            "sha256",
            &format!("sha256:{}", "A".repeat(64)),
        ] {
            let err = parse_digest(bad).expect_err(bad);
            assert_eq!(err.code, DIGEST_INVALID, "{bad}");
        }
        assert!(matches!(parse_reference("latest"), Ok(ManifestRef::Tag(_))));
        assert!(matches!(
            parse_reference(&format!("sha256:{hex}")),
            Ok(ManifestRef::Digest(_))
        ));
        for bad in ["-bad", &"t".repeat(129), "sha256:xyz"] {
            let err = parse_reference(bad).expect_err(bad);
            assert_eq!(err.code, MANIFEST_INVALID, "{bad}");
        }
    }

    #[test]
    fn targets() {
        let t = |p: &str| parse_target(p).map(|(n, t)| (n, std::mem::discriminant(&t)));
        assert_eq!(
            t("acme/a/b/manifests/latest").map(|x| x.0),
            Some("acme/a/b".into())
        );
        assert!(matches!(
            parse_target("acme/app/blobs/uploads/"),
            Some((_, Target::Upload(None)))
        ));
        assert!(matches!(
            parse_target("acme/app/blobs/uploads/123"),
            Some((_, Target::Upload(Some(_))))
        ));
        assert!(
            matches!(parse_target("acme/blobs/blobs/sha256:x"), Some((n, Target::Blob(_))) if n == "acme/blobs")
        );
        assert!(matches!(
            parse_target("acme/app/tags/list"),
            Some((_, Target::Tags))
        ));
        assert!(matches!(
            parse_target("acme/app/referrers/sha256:x"),
            Some((_, Target::Referrers(_)))
        ));
        assert!(parse_target("acme/app/unknown").is_none());
    }
}
