//! What the XML-reading doors (Maven POMs and metadata, NuGet nuspecs) share on top of
//! quick-xml, which reports entity references as `Event::GeneralRef` and never expands
//! them: only XML's five predefined entities and character references have a meaning
//! here. No DTD is ever read, so no other entity can be declared, let alone expanded.

/// The character a reference `&name;` stands for: one of XML's predefined entities or a
/// character reference (`#38`, `#x26`); `None` for anything else (refused by the caller).
pub fn general_ref(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse().ok()
            } else {
                None
            };
            code.and_then(char::from_u32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_predefined_entities_and_character_references_resolve() {
        assert_eq!(general_ref("amp"), Some('&'));
        assert_eq!(general_ref("apos"), Some('\''));
        assert_eq!(general_ref("#38"), Some('&'));
        assert_eq!(general_ref("#x3C"), Some('<'));
        assert_eq!(general_ref("lol"), None);
        assert_eq!(general_ref("#xD800"), None, "a surrogate is no character");
        assert_eq!(general_ref("#"), None);
    }
}
