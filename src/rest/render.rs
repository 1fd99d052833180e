//! GitHub's JSON shapes: `simple-user` (as a package's owner), `package` (with its
//! `repository`), `package-version` (containers: `metadata.container.tags`). Enum values
//! are lower case, as GitHub's REST has them.
use std::collections::HashMap;

use serde_json::{Value, json};

use crate::domain::{
    AccountKind, PackageType, Visibility,
    views::{AccountInfo, PackageInfo, RepositoryInfo, VersionInfo},
};

/// `users` or `orgs`: where an owner's packages live in the API's URLs.
pub fn scope_of(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Organization => "orgs",
        AccountKind::User => "users",
    }
}

pub fn owner_json(base: &str, a: &AccountInfo) -> Value {
    json!({
        "login": a.login,
        "id": a.id,
        "type": match a.kind { AccountKind::User => "User", AccountKind::Organization => "Organization" },
        "site_admin": a.site_admin,
        "url": format!("{base}/api/v3/{}/{}", scope_of(a.kind), a.login),
        "html_url": format!("{base}/{}", a.login),
    })
}

/// GitHub's `repository` object of a package, when it is linked to one the caller sees.
fn repository_json(base: &str, r: &RepositoryInfo) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "full_name": format!("{}/{}", r.owner_login, r.name),
        "private": r.visibility != Visibility::Public,
        "visibility": r.visibility.as_str(),
        "description": r.description,
        "html_url": format!("{base}/{}/{}", r.owner_login, r.name),
    })
}

fn package_url(base: &str, p: &PackageInfo, owner_kind: AccountKind) -> String {
    format!(
        "{base}/api/v3/{}/{}/packages/{}/{}",
        scope_of(owner_kind),
        p.owner_login,
        p.package_type,
        p.name
    )
}

fn package_html_url(base: &str, p: &PackageInfo) -> String {
    format!(
        "{base}/{}/packages/{}/{}",
        p.owner_login, p.package_type, p.name
    )
}

pub fn package_json(
    base: &str,
    p: &PackageInfo,
    owner: &AccountInfo,
    version_count: i64,
    repositories: &HashMap<i64, RepositoryInfo>,
) -> Value {
    let mut out = json!({
        "id": p.id,
        "name": p.name,
        "package_type": p.package_type.as_str(),
        "owner": owner_json(base, owner),
        "version_count": version_count,
        "visibility": p.visibility.as_str(),
        "url": package_url(base, p, owner.kind),
        "html_url": package_html_url(base, p),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "deleted_at": p.deleted_at,
    });
    if let Some(repo) = p.repository_id.and_then(|id| repositories.get(&id)) {
        out["repository"] = repository_json(base, repo);
    }
    out
}

pub fn version_json(
    base: &str,
    p: &PackageInfo,
    owner_kind: AccountKind,
    v: &VersionInfo,
    tags: &[String],
) -> Value {
    let mut metadata = json!({"package_type": p.package_type.as_str()});
    if p.package_type == PackageType::Container {
        metadata["container"] = json!({"tags": tags});
    }
    json!({
        "id": v.id,
        "name": v.version,
        "url": format!("{}/versions/{}", package_url(base, p, owner_kind), v.id),
        "package_html_url": package_html_url(base, p),
        "html_url": format!("{}/{}", package_html_url(base, p), v.version),
        "license": v.license,
        "description": v.summary,
        "created_at": v.created_at,
        "updated_at": v.updated_at,
        "deleted_at": v.deleted_at,
        "metadata": metadata,
    })
}
