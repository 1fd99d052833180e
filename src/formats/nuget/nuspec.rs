//! The `.nuspec` manifest, read with quick-xml: no DTD (so no entity can be declared, let
//! alone expanded), only XML's predefined entities and character references, bounded depth
//! and element count. The text itself is bounded by the reader of the package (`nupkg.rs`).
use quick_xml::{Reader, events::Event};

use crate::{
    domain::metadata::{NugetDependency, NugetDependencyGroup, NugetMetadata, NugetPackageType},
    error::{DomainError, DomainResult},
};

use super::version::normalize_range;

const MAX_DEPTH: usize = 32;
const MAX_ELEMENTS: usize = 20_000;

fn bad(msg: impl std::fmt::Display) -> DomainError {
    DomainError::invalid(format!("invalid .nuspec: {msg}"))
}

/// One of XML's predefined entities, or a character reference; anything else is refused.
fn general_ref(name: &str) -> DomainResult<char> {
    crate::formats::kit::xml::general_ref(name)
        .ok_or_else(|| bad(format!("entity &{name}; is not allowed")))
}

fn attr(e: &quick_xml::events::BytesStart<'_>, key: &str) -> DomainResult<Option<String>> {
    for a in e.attributes() {
        let a = a.map_err(bad)?;
        if a.key.local_name().as_ref() == key.as_bytes() {
            return Ok(Some(
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(bad)?
                    .trim()
                    .to_string(),
            ));
        }
    }
    Ok(None)
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// What the parser keeps between events.
#[derive(Default)]
struct State {
    stack: Vec<String>,
    text: String,
    m: NugetMetadata,
    flat_dependencies: Vec<NugetDependency>,
    elements: usize,
    saw_metadata: bool,
    license_type: Option<String>,
}

impl State {
    fn open(&mut self, e: &quick_xml::events::BytesStart<'_>) -> DomainResult<()> {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            return Err(bad("too many elements"));
        }
        let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
        let depth = self.stack.len();
        let parent = self.stack.last().map(String::as_str);
        let m = &mut self.m;
        match (depth, parent, name.as_str()) {
            (0, _, "package") => {}
            (0, _, other) => return Err(bad(format!("the root is <{other}>, not <package>"))),
            (1, _, "metadata") => {
                self.saw_metadata = true;
                m.min_client_version = attr(e, "minClientVersion")?.and_then(non_empty);
            }
            (2, Some("metadata"), "license") => self.license_type = attr(e, "type")?,
            (2, Some("metadata"), "repository") => {
                m.repository_url = attr(e, "url")?.and_then(non_empty);
            }
            (3, Some("dependencies"), "group") => {
                m.dependency_groups.push(NugetDependencyGroup {
                    target_framework: attr(e, "targetFramework")?.and_then(non_empty),
                    dependencies: Vec::new(),
                });
            }
            (3 | 4, Some("dependencies" | "group"), "dependency") => {
                let id = attr(e, "id")?
                    .and_then(non_empty)
                    .ok_or_else(|| bad("a <dependency> without an id"))?;
                super::paths::check_id(&id)?;
                let range = normalize_range(&attr(e, "version")?.unwrap_or_default())?;
                let dep = NugetDependency { id, range };
                match (parent, m.dependency_groups.last_mut()) {
                    (Some("group"), Some(g)) => g.dependencies.push(dep),
                    _ => self.flat_dependencies.push(dep),
                }
            }
            (3, Some("packageTypes"), "packageType") => {
                if let Some(name) = attr(e, "name")?.and_then(non_empty) {
                    m.package_types.push(NugetPackageType {
                        name,
                        version: attr(e, "version")?.and_then(non_empty),
                    });
                }
            }
            _ => {}
        }
        self.text.clear();
        self.stack.push(name);
        if self.stack.len() > MAX_DEPTH {
            return Err(bad("nested too deeply"));
        }
        Ok(())
    }

    fn close(&mut self) {
        close(
            &mut self.stack,
            &mut self.text,
            &mut self.m,
            &self.license_type,
        );
    }
}

/// Parses the manifest. The id and version are returned as written; the caller validates
/// them (`paths::check_id`, `NugetVersion`) and asks for what its push needs
/// ([`check_package_fields`]: a symbol package's manifest has little more than those).
pub fn parse(xml: &str) -> DomainResult<NugetMetadata> {
    let mut reader = Reader::from_str(xml);
    let mut st = State::default();
    loop {
        match reader.read_event().map_err(bad)? {
            Event::DocType(_) => return Err(bad("a DTD (<!DOCTYPE>) is not allowed")),
            Event::Start(e) => st.open(&e)?,
            Event::Empty(e) => {
                st.open(&e)?;
                st.close();
            }
            Event::Text(t) => st.text.push_str(&t.decode().map_err(bad)?),
            Event::CData(t) => st.text.push_str(&t.decode().map_err(bad)?),
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(bad)?;
                st.text.push(general_ref(&name)?);
            }
            Event::End(_) => st.close(),
            Event::Eof => break,
            _ => {}
        }
    }
    if !st.stack.is_empty() {
        return Err(bad("the document ends inside an element"));
    }
    let mut m = st.m;
    if !st.saw_metadata {
        return Err(bad("no <metadata>"));
    }
    if !st.flat_dependencies.is_empty() {
        m.dependency_groups.insert(
            0,
            NugetDependencyGroup {
                target_framework: None,
                dependencies: st.flat_dependencies,
            },
        );
    }
    if m.id.is_empty() {
        return Err(bad("<id> is missing"));
    }
    if m.version.is_empty() {
        return Err(bad("<version> is missing"));
    }
    Ok(m)
}

/// What a package (not a symbol package) must say, as nuget.org requires.
pub fn check_package_fields(m: &NugetMetadata) -> DomainResult<()> {
    if m.description.is_none() {
        return Err(bad("<description> is missing"));
    }
    if m.authors.is_empty() {
        return Err(bad("<authors> is missing"));
    }
    Ok(())
}

/// An element ends: a `<metadata>` child's text is its value.
fn close(
    stack: &mut Vec<String>,
    text: &mut String,
    m: &mut NugetMetadata,
    license_type: &Option<String>,
) {
    let name = stack.pop().unwrap_or_default();
    if stack.len() == 2 && stack[1] == "metadata" {
        let value = std::mem::take(text).trim().to_string();
        let opt = || non_empty(value.clone());
        match name.as_str() {
            "id" => m.id = value.clone(),
            "version" => m.version = value.clone(),
            "title" => m.title = opt(),
            "authors" => {
                m.authors = value
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            "description" => m.description = opt(),
            "summary" => m.summary = opt(),
            "license" => match license_type.as_deref() {
                Some("file") => m.license_file = opt(),
                _ => m.license_expression = opt(),
            },
            "licenseUrl" => m.license_url = opt(),
            "requireLicenseAcceptance" => {
                m.require_license_acceptance = value.eq_ignore_ascii_case("true");
            }
            "projectUrl" => m.project_url = opt(),
            "icon" => m.icon = opt(),
            "iconUrl" => m.icon_url = opt(),
            "readme" => m.readme_file = opt(),
            "tags" => {
                m.tags = value
                    .split([' ', ',', ';'])
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect();
            }
            "releaseNotes" => m.release_notes = opt(),
            "copyright" => m.copyright = opt(),
            "language" => m.language = opt(),
            _ => {}
        }
    }
    text.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata minClientVersion="3.3.0">
    <id>Acme.Tool</id>
    <version>1.2.0-Beta.1</version>
    <title>Acme &amp; Tool</title>
    <authors>Ada, Bob</authors>
    <description>A tool &#169; &lt;3</description>
    <license type="expression">MIT</license>
    <projectUrl>https://example.com/tool</projectUrl>
    <icon>icon.png</icon>
    <readme>docs/README.md</readme>
    <repository type="git" url="https://example.com/acme/tool" />
    <tags>cli tools</tags>
    <releaseNotes><![CDATA[Fixed <things>]]></releaseNotes>
    <dependencies>
      <group targetFramework="net6.0">
        <dependency id="Acme.Core" version="1.0" />
        <dependency id="Other" version="[2.0,3.0)" exclude="Build" />
      </group>
      <group targetFramework=".NETStandard2.0" />
    </dependencies>
    <packageTypes><packageType name="DotnetTool" /></packageTypes>
  </metadata>
  <files><file src="x" target="lib" /></files>
</package>"#;

    #[test]
    fn a_full_manifest_reads_every_field() {
        let m = parse(FULL).expect("valid");
        assert_eq!(m.id, "Acme.Tool");
        assert_eq!(m.version, "1.2.0-Beta.1");
        assert_eq!(m.title.as_deref(), Some("Acme & Tool"));
        assert_eq!(m.authors, ["Ada", "Bob"]);
        assert_eq!(m.description.as_deref(), Some("A tool © <3"));
        assert_eq!(m.license_expression.as_deref(), Some("MIT"));
        assert_eq!(m.project_url.as_deref(), Some("https://example.com/tool"));
        assert_eq!(m.icon.as_deref(), Some("icon.png"));
        assert_eq!(m.readme_file.as_deref(), Some("docs/README.md"));
        assert_eq!(
            m.repository_url.as_deref(),
            Some("https://example.com/acme/tool")
        );
        assert_eq!(m.tags, ["cli", "tools"]);
        assert_eq!(m.release_notes.as_deref(), Some("Fixed <things>"));
        assert_eq!(m.dependency_groups.len(), 2);
        let g = &m.dependency_groups[0];
        assert_eq!(g.target_framework.as_deref(), Some("net6.0"));
        assert_eq!(g.dependencies[0].range, "[1.0.0, )");
        assert_eq!(g.dependencies[1].range, "[2.0.0, 3.0.0)");
        assert!(m.dependency_groups[1].dependencies.is_empty());
        assert_eq!(m.package_types[0].name, "DotnetTool");
        assert_eq!(m.min_client_version.as_deref(), Some("3.3.0"));
    }

    #[test]
    fn flat_dependencies_and_license_files() {
        let xml = r#"<package><metadata><id>A</id><version>1.0</version><authors>x</authors>
            <description>d</description><license type="file">LICENSE.txt</license>
            <dependencies><dependency id="B" version="2.0"/></dependencies></metadata></package>"#;
        let m = parse(xml).expect("valid");
        assert_eq!(m.license_file.as_deref(), Some("LICENSE.txt"));
        assert_eq!(m.license_expression, None);
        assert_eq!(m.dependency_groups[0].target_framework, None);
        assert_eq!(m.dependency_groups[0].dependencies[0].id, "B");
    }

    #[test]
    fn entities_and_dtds_are_refused() {
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>
<package><metadata><id>A</id><version>1.0</version><authors>x</authors>
<description>&lol2;</description></metadata></package>"#;
        assert!(parse(bomb).expect_err("a DTD").to_string().contains("DTD"));
        let undeclared = r#"<package><metadata><id>A</id><version>1.0</version>
<authors>x</authors><description>&lol;</description></metadata></package>"#;
        assert!(parse(undeclared).is_err());
        let external = r#"<!DOCTYPE package SYSTEM "file:///etc/passwd"><package/>"#;
        assert!(parse(external).is_err());
    }

    #[test]
    fn required_fields_and_shape() {
        assert!(parse("<package><metadata><id>A</id></metadata></package>").is_err());
        let bare = parse("<package><metadata><id>A</id><version>1</version></metadata></package>")
            .expect("a symbol package's manifest");
        assert!(check_package_fields(&bare).is_err());
        assert!(parse("<other/>").is_err());
        assert!(parse("<package><metadata><id>A</id>").is_err());
        let deep = format!(
            "<package><metadata>{}{}</metadata></package>",
            "<x>".repeat(100),
            "</x>".repeat(100)
        );
        assert!(parse(&deep).is_err());
        let bad_dep = r#"<package><metadata><id>A</id><version>1</version><authors>x</authors>
<description>d</description><dependencies><dependency id="../x" version="1"/></dependencies>
</metadata></package>"#;
        assert!(parse(bad_dep).is_err());
    }
}
