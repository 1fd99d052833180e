//! The install command a package page shows, per format: what a user pastes into their
//! terminal or build file. Pure, so every format's line is unit-tested.
use url::Url;

/// One install snippet: a label and the text the copy button copies.
#[derive(Debug, PartialEq, Eq)]
pub struct Snippet {
    pub label: &'static str,
    pub text: String,
}

/// `package_type` is the GraphQL enum value (`NPM`, `CONTAINER`, ...). `version` is the
/// version shown; `file` the first file of a generic version.
pub fn snippets(
    public_url: &Url,
    package_type: &str,
    owner: &str,
    name: &str,
    version: Option<&str>,
    file: Option<&str>,
) -> Vec<Snippet> {
    let base = public_url.as_str().trim_end_matches('/');
    let host = match (public_url.host_str(), public_url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    };
    let v = version.unwrap_or("VERSION");
    match package_type {
        "NPM" => vec![
            Snippet {
                label: ".npmrc",
                text: format!("@{owner}:registry={base}/npm/"),
            },
            Snippet {
                label: "npm",
                text: format!("npm install @{owner}/{name}@{v}"),
            },
        ],
        "CONTAINER" => {
            // A manifest digest is pulled by digest, a tag by tag.
            let reference = match version {
                Some(d) if d.starts_with("sha256:") => format!("@{d}"),
                Some(t) => format!(":{t}"),
                None => ":latest".into(),
            };
            vec![
                Snippet {
                    label: "docker",
                    text: format!("docker pull {host}/{owner}/{name}{reference}"),
                },
                Snippet {
                    label: "podman",
                    text: format!("podman pull {host}/{owner}/{name}{reference}"),
                },
            ]
        }
        "MAVEN" => {
            // GitHub Packages names Maven packages `groupId.artifactId`.
            let (group, artifact) = name.rsplit_once('.').unwrap_or((name, name));
            vec![
                Snippet {
                    label: "Maven",
                    text: format!(
                        "<dependency>\n  <groupId>{group}</groupId>\n  <artifactId>{artifact}</artifactId>\n  <version>{v}</version>\n</dependency>"
                    ),
                },
                Snippet {
                    label: "Gradle",
                    text: format!("implementation(\"{group}:{artifact}:{v}\")"),
                },
            ]
        }
        "RUBYGEMS" => vec![
            Snippet {
                label: "gem",
                text: format!("gem install {name} --version {v} --source {base}/rubygems/{owner}/"),
            },
            Snippet {
                label: "Gemfile",
                text: format!(
                    "source \"{base}/rubygems/{owner}/\" do\n  gem \"{name}\", \"{v}\"\nend"
                ),
            },
        ],
        "NUGET" => vec![
            Snippet {
                label: "dotnet",
                text: format!(
                    "dotnet nuget add source {base}/nuget/{owner}/index.json --name packyard-{owner}\ndotnet add package {name} --version {v}"
                ),
            },
            Snippet {
                label: "PackageReference",
                text: format!("<PackageReference Include=\"{name}\" Version=\"{v}\" />"),
            },
        ],
        _ => vec![Snippet {
            label: "curl",
            text: format!(
                "curl -fLO -H \"Authorization: Bearer $TOKEN\" {base}/generic/{owner}/{name}/{v}/{}",
                file.unwrap_or("FILE")
            ),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("http://127.0.0.1:8080").expect("a URL")
    }

    fn texts(t: &str, name: &str, v: Option<&str>) -> Vec<String> {
        snippets(&url(), t, "alice", name, v, Some("tool.tgz"))
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    #[test]
    fn each_format_gets_its_clients_line() {
        assert_eq!(
            texts("NPM", "lib", Some("1.0.0")),
            [
                "@alice:registry=http://127.0.0.1:8080/npm/",
                "npm install @alice/lib@1.0.0"
            ]
        );
        assert_eq!(
            texts("CONTAINER", "web", Some("1.0"))[0],
            "docker pull 127.0.0.1:8080/alice/web:1.0"
        );
        assert_eq!(
            texts("CONTAINER", "web", Some("sha256:ab"))[1],
            "podman pull 127.0.0.1:8080/alice/web@sha256:ab"
        );
        let maven = texts("MAVEN", "com.example.app", Some("2.1"));
        assert!(maven[0].contains("<groupId>com.example</groupId>"));
        assert!(maven[0].contains("<artifactId>app</artifactId>"));
        assert_eq!(maven[1], "implementation(\"com.example:app:2.1\")");
        assert!(texts("RUBYGEMS", "rake", Some("1"))[1].contains("gem \"rake\", \"1\""));
        assert_eq!(
            texts("NUGET", "Json", Some("3.0.0"))[1],
            "<PackageReference Include=\"Json\" Version=\"3.0.0\" />"
        );
        assert!(
            texts("GENERIC", "tool", Some("1"))[0]
                .ends_with("http://127.0.0.1:8080/generic/alice/tool/1/tool.tgz")
        );
    }
}
