//! A `maven-plugin` jar's goal prefix, from `META-INF/maven/plugin.xml` (the plugin
//! descriptor maven-plugin-plugin writes). Bounded: only jars up to `PLUGIN_JAR_MAX` are
//! opened, and only that entry is read, up to `DESCRIPTOR_MAX`.
use std::io::{Cursor, Read};

use quick_xml::{Reader, events::Event};

/// The largest jar inspected for a plugin descriptor (plugin jars are small).
pub const PLUGIN_JAR_MAX: u64 = 8 * 1024 * 1024;
const DESCRIPTOR_MAX: u64 = 1024 * 1024;
const DESCRIPTOR: &str = "META-INF/maven/plugin.xml";

/// The `goalPrefix` of the plugin descriptor in `jar`, if it has one.
pub fn goal_prefix(jar: &[u8]) -> Option<String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(jar)).ok()?;
    let entry = archive.by_name(DESCRIPTOR).ok()?;
    let mut xml = Vec::new();
    entry.take(DESCRIPTOR_MAX).read_to_end(&mut xml).ok()?;
    descriptor_prefix(&xml)
}

/// `<plugin><goalPrefix>` of a plugin descriptor; no DTD, predefined entities only.
fn descriptor_prefix(xml: &[u8]) -> Option<String> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut prefix = String::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::DocType(_) => return None,
            Event::Start(e) => {
                path.push(e.local_name().as_ref().to_vec());
                if path.len() > 32 {
                    return None;
                }
            }
            Event::Text(t) if path.len() == 2 && path[1] == b"goalPrefix" => {
                prefix.push_str(&t.decode().ok()?);
            }
            // An entity in a prefix leaves a character no prefix may hold.
            Event::GeneralRef(_) if path.len() == 2 && path[1] == b"goalPrefix" => return None,
            Event::End(_) => {
                if path.len() == 2 && path[1] == b"goalPrefix" {
                    let prefix = prefix.trim().to_string();
                    let ok = !prefix.is_empty()
                        && prefix
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
                    return ok.then_some(prefix);
                }
                path.pop();
            }
            Event::Eof => return None,
            _ => {}
        }
        buf.clear();
    }
}

/// The prefix Maven derives from a plugin's artifactId when its descriptor names none:
/// `foo-maven-plugin` and `maven-foo-plugin` are `foo`.
pub fn default_prefix(artifact_id: &str) -> String {
    if let Some(p) = artifact_id.strip_suffix("-maven-plugin") {
        return p.to_string();
    }
    if let Some(p) = artifact_id
        .strip_prefix("maven-")
        .and_then(|a| a.strip_suffix("-plugin"))
    {
        return p.to_string();
    }
    artifact_id.to_string()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn jar(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        for (name, text) in entries {
            zip.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("entry");
            zip.write_all(text.as_bytes()).expect("write");
        }
        zip.finish().expect("finish");
        out.into_inner()
    }

    #[test]
    fn reads_the_goal_prefix_of_a_plugin_jar() {
        let plugin = jar(&[
            ("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n"),
            (
                DESCRIPTOR,
                "<?xml version=\"1.0\"?><plugin><name>Hello</name><goalPrefix>hello</goalPrefix><mojos/></plugin>",
            ),
        ]);
        assert_eq!(goal_prefix(&plugin).as_deref(), Some("hello"));
        assert_eq!(goal_prefix(&jar(&[("a.txt", "x")])), None);
        assert_eq!(goal_prefix(b"not a zip"), None);
        let hostile = jar(&[(
            DESCRIPTOR,
            "<!DOCTYPE plugin [<!ENTITY x \"y\">]><plugin><goalPrefix>&x;</goalPrefix></plugin>",
        )]);
        assert_eq!(goal_prefix(&hostile), None);
    }

    #[test]
    fn default_prefixes_follow_maven() {
        assert_eq!(default_prefix("hello-maven-plugin"), "hello");
        assert_eq!(default_prefix("maven-compiler-plugin"), "compiler");
        assert_eq!(default_prefix("odd"), "odd");
    }
}
