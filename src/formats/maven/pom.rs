//! The POM, read into `MavenMetadata`: bounded in size and depth, no DTD (so no entity
//! can be declared, let alone expanded), only XML's predefined entities and character
//! references. Parent POM inheritance is not resolved: a groupId or version the POM
//! leaves to its parent is the parent's.
use crate::formats::kit::xml::general_ref;
use quick_xml::{Reader, events::Event};

use crate::{
    domain::metadata::{MavenCoordinates, MavenDependency, MavenLicense, MavenMetadata},
    error::{DomainError, DomainResult},
};

/// The largest POM read.
pub const POM_MAX: u64 = 2 * 1024 * 1024;
const DEPTH_MAX: usize = 64;
const TEXT_MAX: usize = 64 * 1024;

/// A POM's own coordinates and what it describes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pom {
    pub group_id: Option<String>,
    pub artifact_id: Option<String>,
    pub version: Option<String>,
    pub metadata: MavenMetadata,
}

fn bad(e: impl std::fmt::Display) -> DomainError {
    DomainError::invalid(format!("invalid POM: {e}"))
}

pub fn parse(xml: &[u8]) -> DomainResult<Pom> {
    if xml.len() as u64 > POM_MAX {
        return Err(bad(format!("larger than {POM_MAX} bytes")));
    }
    let mut reader = Reader::from_reader(xml);
    // Untrimmed: quick-xml reports `&amp;` as its own event, and trimming each text piece
    // would eat the spaces around it ("An app & more"); values are trimmed whole.
    reader.config_mut().trim_text(false);
    let mut buf = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut pom = Pom::default();
    let mut parent = MavenCoordinates::default();
    let mut has_parent = false;
    let mut text = String::new();
    let mut saw_root = false;
    // (id, name, email) of each developer.
    let mut developers: Vec<[Option<String>; 3]> = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).map_err(bad)? {
            Event::DocType(_) => return Err(bad("a DOCTYPE is not allowed")),
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    if name != "project" || saw_root {
                        return Err(bad("the root element must be <project>"));
                    }
                    saw_root = true;
                }
                path.push(name);
                if path.len() > DEPTH_MAX {
                    return Err(bad("nested too deeply"));
                }
                let at: Vec<&str> = path.iter().map(String::as_str).collect();
                match at.as_slice() {
                    ["project", "licenses", "license"] => {
                        pom.metadata.licenses.push(MavenLicense::default())
                    }
                    ["project", "dependencies", "dependency"] => {
                        pom.metadata.dependencies.push(MavenDependency::default())
                    }
                    ["project", "developers", "developer"] => developers.push(Default::default()),
                    ["project", "parent"] => has_parent = true,
                    _ => {}
                }
                text.clear();
            }
            Event::Empty(e) if path.is_empty() => {
                if e.local_name().as_ref() != b"project" {
                    return Err(bad("the root element must be <project>"));
                }
                saw_root = true;
            }
            Event::Text(t) => {
                let s = t.decode().map_err(bad)?;
                if text.len() + s.len() <= TEXT_MAX {
                    text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(bad)?;
                let c = general_ref(&name)
                    .ok_or_else(|| bad(format!("entity &{name}; is not allowed")))?;
                if text.len() + c.len_utf8() <= TEXT_MAX {
                    text.push(c);
                }
            }
            Event::CData(t) => {
                let s = String::from_utf8_lossy(&t);
                if text.len() + s.len() <= TEXT_MAX {
                    text.push_str(&s);
                }
            }
            Event::End(_) => {
                let at: Vec<&str> = path.iter().map(String::as_str).collect();
                let value = || Some(text.trim().to_string()).filter(|s| !s.is_empty());
                let m = &mut pom.metadata;
                match at.as_slice() {
                    ["project", "groupId"] => pom.group_id = value(),
                    ["project", "artifactId"] => pom.artifact_id = value(),
                    ["project", "version"] => pom.version = value(),
                    ["project", "packaging"] => m.packaging = value(),
                    ["project", "name"] => m.name = value(),
                    ["project", "description"] => m.description = value(),
                    ["project", "url"] => m.url = value(),
                    ["project", "scm", "url"] => m.scm_url = value(),
                    ["project", "parent", "groupId"] => parent.group_id = value(),
                    ["project", "parent", "artifactId"] => parent.artifact_id = value(),
                    ["project", "parent", "version"] => parent.version = value(),
                    ["project", "licenses", "license", field] => {
                        if let Some(l) = m.licenses.last_mut() {
                            match *field {
                                "name" => l.name = value(),
                                "url" => l.url = value(),
                                _ => {}
                            }
                        }
                    }
                    ["project", "developers", "developer", field] => {
                        if let Some(d) = developers.last_mut() {
                            match *field {
                                "id" => d[0] = value(),
                                "name" => d[1] = value(),
                                "email" => d[2] = value(),
                                _ => {}
                            }
                        }
                    }
                    ["project", "dependencies", "dependency", field] => {
                        if let Some(d) = m.dependencies.last_mut() {
                            match *field {
                                "groupId" => d.group_id = value(),
                                "artifactId" => d.artifact_id = value(),
                                "version" => d.version = value(),
                                "scope" => d.scope = value(),
                                "optional" => d.optional = value().as_deref() == Some("true"),
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
                path.pop();
                text.clear();
            }
            Event::Eof if !path.is_empty() => return Err(bad("unclosed elements")),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_root {
        return Err(bad("no <project> element"));
    }
    if has_parent {
        pom.group_id = pom.group_id.or(parent.group_id.clone());
        pom.version = pom.version.or(parent.version.clone());
        pom.metadata.parent = Some(parent);
    }
    let m = &mut pom.metadata;
    m.developers = developers
        .into_iter()
        .filter_map(|[id, name, email]| match (name.or(id), email) {
            (Some(n), Some(e)) => Some(format!("{n} <{e}>")),
            (Some(n), None) => Some(n),
            (None, Some(e)) => Some(e),
            (None, None) => None,
        })
        .collect();
    m.licenses.retain(|l| l.name.is_some() || l.url.is_some());
    m.packaging = Some(m.packaging.take().unwrap_or_else(|| "jar".into()));
    m.group_id = pom.group_id.clone();
    m.artifact_id = pom.artifact_id.clone();
    Ok(pom)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POM: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <parent><groupId>com.example</groupId><artifactId>parent</artifactId><version>3</version></parent>
  <artifactId>app</artifactId>
  <version>1.0</version>
  <name>App</name>
  <description>An app &amp; more</description>
  <url>https://example.com/app</url>
  <licenses><license><name>Apache-2.0</name><url>https://www.apache.org/licenses/LICENSE-2.0</url></license></licenses>
  <scm><url>https://example.com/app.git</url></scm>
  <developers><developer><id>ada</id><name>Ada</name><email>ada@example.com</email></developer></developers>
  <dependencies>
    <dependency><groupId>junit</groupId><artifactId>junit</artifactId><version>4.13</version><scope>test</scope></dependency>
  </dependencies>
  <dependencyManagement><dependencies><dependency><artifactId>managed</artifactId></dependency></dependencies></dependencyManagement>
</project>"#;

    #[test]
    fn reads_what_the_pom_describes() {
        let pom = parse(POM.as_bytes()).expect("valid");
        assert_eq!(
            pom.group_id.as_deref(),
            Some("com.example"),
            "from the parent"
        );
        assert_eq!(pom.artifact_id.as_deref(), Some("app"));
        assert_eq!(pom.version.as_deref(), Some("1.0"));
        let m = &pom.metadata;
        assert_eq!(m.packaging.as_deref(), Some("jar"), "Maven's default");
        assert_eq!(m.description.as_deref(), Some("An app & more"));
        assert_eq!(m.licenses[0].name.as_deref(), Some("Apache-2.0"));
        assert_eq!(m.scm_url.as_deref(), Some("https://example.com/app.git"));
        assert_eq!(m.developers, ["Ada <ada@example.com>"]);
        assert_eq!(
            m.dependencies.len(),
            1,
            "managed dependencies aren't dependencies"
        );
        assert_eq!(m.dependencies[0].scope.as_deref(), Some("test"));
        assert_eq!(
            m.parent.as_ref().and_then(|p| p.artifact_id.as_deref()),
            Some("parent")
        );
    }

    #[test]
    fn entities_and_doctypes_are_refused() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE project [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><project><name>&b;</name></project>"#;
        assert!(parse(bomb.as_bytes()).is_err());
        let undeclared = "<project><name>&xxe;</name></project>";
        assert!(parse(undeclared.as_bytes()).is_err());
        assert!(parse(b"<notaproject/>").is_err());
        assert!(parse(b"<project><name>x</name>").is_err());
        assert!(parse(b"not xml at all <").is_err());
        let deep = format!(
            "<project>{}{}</project>",
            "<a>".repeat(100),
            "</a>".repeat(100)
        );
        assert!(parse(deep.as_bytes()).is_err());
        assert!(parse(&vec![b' '; POM_MAX as usize + 1]).is_err());
    }
}
