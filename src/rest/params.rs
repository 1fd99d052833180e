//! The query string of the packages endpoints, validated before any I/O, and the `Link`
//! header of a paginated list.
//!
//! GitHub REST "Using pagination": `page` (from 1) and `per_page` (default 30, at most
//! 100), and a `Link` header with absolute `first`/`prev`/`next`/`last` URLs that keep the
//! request's other parameters (octokit's `paginate` follows `rel="next"`).
use axum::http::HeaderValue;

use crate::{
    domain::{PackageType, State as LiveState, Visibility},
    error::DomainError,
    rest::RestError,
};

const DEFAULT_PER_PAGE: u64 = 30;
const MAX_PER_PAGE: u64 = 100;
/// GitHub refuses a page that ends beyond the 10,000th item of a list.
const MAX_WINDOW: u64 = 10_000;

/// GitHub's package types (`docker` is the legacy name of `container`), and ours.
const PACKAGE_TYPES: &str =
    r#"["npm", "maven", "rubygems", "docker", "nuget", "container", "generic"]"#;

/// The parameters a packages endpoint understands; others are ignored, as GitHub ignores
/// them.
#[derive(Debug, Default)]
pub struct ListParams {
    pub package_type: Option<PackageType>,
    pub visibility: Option<Visibility>,
    pub state: LiveState,
    pub page: u64,
    pub per_page: u64,
}

impl ListParams {
    pub fn parse(raw: Option<&str>) -> Result<Self, RestError> {
        let mut out = Self {
            page: 1,
            per_page: DEFAULT_PER_PAGE,
            ..Self::default()
        };
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match key.as_ref() {
                "package_type" => out.package_type = Some(package_type(&value)?),
                "visibility" => {
                    out.visibility = Some(value.parse().map_err(|_| {
                        invalid("visibility", &value, r#"["public", "private", "internal"]"#)
                    })?)
                }
                "state" => {
                    out.state = match value.as_ref() {
                        "active" => LiveState::Active,
                        "deleted" => LiveState::Deleted,
                        _ => return Err(invalid("state", &value, r#"["active", "deleted"]"#)),
                    }
                }
                "page" => out.page = integer("page", &value)?.max(1),
                "per_page" => {
                    out.per_page = integer("per_page", &value)?.clamp(1, MAX_PER_PAGE);
                }
                _ => {}
            }
        }
        if out
            .page
            .checked_mul(out.per_page)
            .is_none_or(|end| end > MAX_WINDOW)
        {
            return Err(DomainError::invalid(format!(
                "The value of per_page multiplied by page cannot be greater than {MAX_WINDOW}."
            ))
            .into());
        }
        Ok(out)
    }

    /// The page as the domain lists it: (offset, limit).
    pub fn window(&self) -> (u64, u64) {
        ((self.page - 1) * self.per_page, self.per_page)
    }
}

/// A package type as GitHub's URLs and `package_type` parameters name it.
pub fn package_type(s: &str) -> Result<PackageType, RestError> {
    match s {
        "docker" | "container" => Ok(PackageType::Container),
        "npm" => Ok(PackageType::Npm),
        "maven" => Ok(PackageType::Maven),
        "rubygems" => Ok(PackageType::Rubygems),
        "nuget" => Ok(PackageType::Nuget),
        "generic" => Ok(PackageType::Generic),
        other => Err(invalid("package_type", other, PACKAGE_TYPES)),
    }
}

fn invalid(name: &str, value: &str, members: &str) -> RestError {
    RestError::Unprocessable(format!(
        "{value:?} is not a member of {members} for the parameter {name:?}."
    ))
}

fn integer(name: &str, value: &str) -> Result<u64, RestError> {
    value.parse().map_err(|_| {
        RestError::Unprocessable(format!("For {name:?}, {value:?} is not an integer."))
    })
}

/// GitHub's `Link` header for page `page` of `total` items, `per_page` a page: absolute
/// URLs of the request's own path and query with `page` replaced. None when one page
/// holds everything.
pub fn link_header(
    base: &str,
    path: &str,
    raw_query: Option<&str>,
    params: &ListParams,
    total: u64,
) -> Option<HeaderValue> {
    // The last page GitHub would serve: never beyond the 10,000-item window.
    let reachable = total.min(MAX_WINDOW);
    let last = reachable.div_ceil(params.per_page).max(1);
    if last == 1 && params.page == 1 {
        return None;
    }
    let kept: Vec<(String, String)> =
        url::form_urlencoded::parse(raw_query.unwrap_or("").as_bytes())
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let url_of = |page: u64| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &kept {
            query.append_pair(k, v);
        }
        query.append_pair("page", &page.to_string());
        format!("{base}{path}?{}", query.finish())
    };
    let mut links = Vec::new();
    if params.page > 1 {
        links.push(format!(
            "<{}>; rel=\"prev\"",
            url_of((params.page - 1).min(last))
        ));
    }
    if params.page < last {
        links.push(format!("<{}>; rel=\"next\"", url_of(params.page + 1)));
        links.push(format!("<{}>; rel=\"last\"", url_of(last)));
    }
    if params.page > 1 {
        links.push(format!("<{}>; rel=\"first\"", url_of(1)));
    }
    HeaderValue::from_str(&links.join(", ")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(query: &str, total: u64) -> Option<String> {
        let params = ListParams::parse(Some(query)).expect("valid");
        link_header(
            "http://h",
            "/api/v3/user/packages",
            Some(query),
            &params,
            total,
        )
        .map(|v| v.to_str().expect("ascii").to_string())
    }

    #[test]
    fn one_page_has_no_link_header() {
        assert_eq!(links("per_page=10", 10), None);
    }

    #[test]
    fn a_middle_page_links_every_neighbour_and_keeps_other_parameters() {
        assert_eq!(
            links("package_type=npm&page=2&per_page=10", 35).as_deref(),
            Some(
                "<http://h/api/v3/user/packages?package_type=npm&per_page=10&page=1>; rel=\"prev\", \
                 <http://h/api/v3/user/packages?package_type=npm&per_page=10&page=3>; rel=\"next\", \
                 <http://h/api/v3/user/packages?package_type=npm&per_page=10&page=4>; rel=\"last\", \
                 <http://h/api/v3/user/packages?package_type=npm&per_page=10&page=1>; rel=\"first\""
            )
        );
    }

    #[test]
    fn the_last_page_has_no_next() {
        let l = links("page=4&per_page=10", 35).expect("links");
        assert!(!l.contains("rel=\"next\""));
        assert!(l.contains("page=3>; rel=\"prev\""));
    }

    #[test]
    fn bad_parameters_are_refused_before_any_io() {
        for q in [
            "package_type=pypi",
            "visibility=secret",
            "state=gone",
            "page=x",
        ] {
            assert!(matches!(
                ListParams::parse(Some(q)),
                Err(RestError::Unprocessable(_))
            ));
        }
        assert!(matches!(
            ListParams::parse(Some("per_page=100&page=101")),
            Err(RestError::Domain(_))
        ));
        assert_eq!(
            ListParams::parse(Some("per_page=1000"))
                .expect("valid")
                .per_page,
            100
        );
    }
}
