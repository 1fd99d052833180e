//! READMEs: Markdown rendered by pulldown-cmark, then sanitized by ammonia with a strict
//! allow-list, so a hostile README can't script the registry's origin: no `<script>`, no
//! event handlers, no `style`, links only to http(s)/mailto (and `rel=noopener noreferrer
//! nofollow`), images only from https. The CSP is the second line of defence.
use std::{borrow::Cow, collections::HashSet};

use pulldown_cmark::{Options, Parser, html};

/// READMEs beyond this are cut before rendering (a page must stay small).
const MAX_README_BYTES: usize = 512 * 1024;

pub fn render_readme(markdown: &str) -> String {
    let mut end = markdown.len().min(MAX_README_BYTES);
    while !markdown.is_char_boundary(end) {
        end -= 1;
    }
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let mut unsafe_html = String::new();
    html::push_html(&mut unsafe_html, Parser::new_ext(&markdown[..end], options));
    sanitize(&unsafe_html)
}

fn sanitize(unsafe_html: &str) -> String {
    let tags: HashSet<&str> = [
        "a",
        "b",
        "blockquote",
        "br",
        "code",
        "dd",
        "del",
        "details",
        "div",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "input",
        "kbd",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "span",
        "strong",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    ]
    .into_iter()
    .collect();
    ammonia::Builder::default()
        .tags(tags)
        .tag_attributes(
            [
                ("a", ["href", "title"].into_iter().collect()),
                (
                    "img",
                    ["src", "alt", "title", "width", "height"]
                        .into_iter()
                        .collect(),
                ),
                (
                    "input",
                    ["type", "checked", "disabled"].into_iter().collect(),
                ),
                ("th", ["align"].into_iter().collect()),
                ("td", ["align"].into_iter().collect()),
                ("code", ["class"].into_iter().collect()),
            ]
            .into_iter()
            .collect(),
        )
        .generic_attributes(HashSet::new())
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        // Relative links would resolve against the registry's own pages: dropped.
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            // Images only from https: no tracking over http, no data: or same-origin URLs.
            ("img", "src") if !value.starts_with("https://") => None,
            // Only task-list checkboxes, and inert.
            ("input", "type") if value != "checkbox" => None,
            _ => Some(Cow::Borrowed(value)),
        })
        .clean(unsafe_html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_readme_renders_inert() {
        let html = render_readme(
            "# Hi\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n\
             [click](javascript:alert(3)) <a href=\"JaVaScRiPt:alert(4)\">x</a>\n\n\
             <iframe src=\"https://evil.example\"></iframe><p style=\"x\" onclick=\"y\">p</p>\n\n\
             ![t](http://tracker.example/p.png) ![ok](https://img.example/a.png)",
        );
        let lower = html.to_lowercase();
        for bad in [
            "<script",
            "onerror",
            "onclick",
            "javascript:",
            "<iframe",
            "style=",
            "http://tracker",
        ] {
            assert!(!lower.contains(bad), "{bad} survived: {html}");
        }
        assert!(html.contains("<h1>Hi</h1>"), "{html}");
        assert!(
            html.contains(r#"src="https://img.example/a.png""#),
            "{html}"
        );
    }

    #[test]
    fn links_get_noopener_and_relative_urls_go() {
        let html = render_readme("[a](https://example.com) [b](/graphql) [c](mailto:x@y.z)");
        assert!(
            html.contains(r#"href="https://example.com" rel="noopener noreferrer nofollow""#),
            "{html}"
        );
        assert!(!html.contains("/graphql"), "{html}");
        assert!(html.contains("mailto:x@y.z"), "{html}");
    }

    #[test]
    fn tables_and_code_render() {
        let html = render_readme("| a | b |\n|---|---|\n| 1 | 2 |\n\n```rust\nfn x() {}\n```");
        assert!(
            html.contains("<table>") && html.contains("<td>1</td>"),
            "{html}"
        );
        assert!(html.contains(r#"<code class="language-rust">"#), "{html}");
    }

    #[test]
    fn huge_readme_is_cut_on_a_char_boundary() {
        let text = "é".repeat(MAX_README_BYTES);
        let html = render_readme(&text);
        assert!(html.len() < MAX_README_BYTES + 64);
    }
}
