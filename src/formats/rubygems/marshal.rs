//! A writer of Ruby's Marshal format 4.8, as much of it as the RubyGems indexes use: nil,
//! booleans, integers, UTF-8 and binary strings, symbols (each written once, then linked),
//! arrays, hashes, plain objects (`o`, `Gem::Dependency`), `marshal_dump` objects (`U`,
//! `Gem::Version`, `Gem::Requirement`), `_dump` objects (`u`, `Gem::Specification`) and
//! links to an object written before (`@`). Pinned by fixtures `ruby -e 'Marshal.dump'`
//! wrote (tests/fixtures/rubygems/marshal/generate.rb).
//!
//! The writer is imperative: a container's header says how many values follow, and the
//! caller writes them. Object numbers (for links) are counted as Ruby counts them.
use std::collections::HashMap;

#[derive(Default)]
pub struct Marshal {
    out: Vec<u8>,
    symbols: HashMap<String, usize>,
    objects: usize,
}

/// The number of an object written, for `Marshal::link`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectId(usize);

impl Marshal {
    pub fn new() -> Self {
        Self {
            out: vec![4, 8],
            ..Default::default()
        }
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
    }

    pub fn nil(&mut self) {
        self.out.push(b'0');
    }

    pub fn bool(&mut self, b: bool) {
        self.out.push(if b { b'T' } else { b'F' });
    }

    /// A Fixnum: Marshal writes integers outside `-2^30..2^30` as Bignums, which no index
    /// needs, so larger values are clamped.
    pub fn int(&mut self, i: i32) {
        self.out.push(b'i');
        self.long(i64::from(i.clamp(-(1 << 30), (1 << 30) - 1)));
    }

    /// A UTF-8 string: the bytes, then the `E` (encoding is UTF-8) instance variable.
    pub fn string(&mut self, s: &str) -> ObjectId {
        self.out.push(b'I');
        let id = self.remember();
        self.out.push(b'"');
        self.bytes(s.as_bytes());
        self.long(1);
        self.symbol("E");
        self.bool(true);
        id
    }

    pub fn symbol(&mut self, s: &str) {
        if let Some(&n) = self.symbols.get(s) {
            self.out.push(b';');
            self.long(n as i64);
            return;
        }
        let n = self.symbols.len();
        self.symbols.insert(s.to_string(), n);
        self.out.push(b':');
        self.bytes(s.as_bytes());
    }

    /// An array of `len` values, which the caller writes next.
    pub fn array(&mut self, len: usize) -> ObjectId {
        let id = self.remember();
        self.out.push(b'[');
        self.long(len as i64);
        id
    }

    /// A hash of `len` pairs, which the caller writes next (key, value, key, value...).
    pub fn hash(&mut self, len: usize) -> ObjectId {
        let id = self.remember();
        self.out.push(b'{');
        self.long(len as i64);
        id
    }

    /// A plain object of `class` with `ivars` instance variables; the caller writes each
    /// as `symbol("@name")` then its value.
    pub fn object(&mut self, class: &str, ivars: usize) -> ObjectId {
        let id = self.remember();
        self.out.push(b'o');
        self.symbol(class);
        self.long(ivars as i64);
        id
    }

    /// An object of `class` whose `marshal_dump` value the caller writes next.
    pub fn user_marshal(&mut self, class: &str) -> ObjectId {
        let id = self.remember();
        self.out.push(b'U');
        self.symbol(class);
        id
    }

    /// An object of `class` whose `_dump` returned the binary string `data` (Ruby numbers
    /// it after its data).
    pub fn user_defined(&mut self, class: &str, data: &[u8]) -> ObjectId {
        self.out.push(b'u');
        self.symbol(class);
        self.bytes(data);
        self.remember()
    }

    /// The object written before as `id`.
    pub fn link(&mut self, id: ObjectId) {
        self.out.push(b'@');
        self.long(id.0 as i64);
    }

    fn remember(&mut self) -> ObjectId {
        let id = ObjectId(self.objects);
        self.objects += 1;
        id
    }

    fn bytes(&mut self, b: &[u8]) {
        self.long(b.len() as i64);
        self.out.extend_from_slice(b);
    }

    /// Marshal's variable-length integer (`w_long`).
    fn long(&mut self, x: i64) {
        match x {
            0 => self.out.push(0),
            1..=122 => self.out.push((x + 5) as u8),
            -123..=-1 => self.out.push(((x - 5) & 0xff) as u8),
            _ => {
                let mut buf = [0u8; 8];
                let mut n = 0;
                let mut v = x;
                loop {
                    buf[n] = (v & 0xff) as u8;
                    v >>= 8;
                    n += 1;
                    if (x >= 0 && v == 0) || (x < 0 && v == -1) {
                        break;
                    }
                }
                self.out
                    .push(if x >= 0 { n as u8 } else { (256 - n) as u8 });
                self.out.extend_from_slice(&buf[..n]);
            }
        }
    }

    /// `Gem::Version.new(v)`: `U:Gem::Version ["v"]`.
    pub fn gem_version(&mut self, v: &str) {
        self.user_marshal("Gem::Version");
        self.array(1);
        self.string(v);
    }

    /// `Gem::Requirement.new(*list)`: `U:Gem::Requirement [[[op, Gem::Version], ...]]`.
    /// Each entry is `OP VERSION` (or a bare version, meaning `=`).
    pub fn gem_requirement(&mut self, list: &[String]) -> ObjectId {
        let id = self.user_marshal("Gem::Requirement");
        self.array(1);
        let parsed: Vec<(&str, &str)> = if list.is_empty() {
            vec![(">=", "0")]
        } else {
            list.iter().map(|r| split_requirement(r)).collect()
        };
        self.array(parsed.len());
        for (op, v) in parsed {
            self.array(2);
            self.string(op);
            self.gem_version(v);
        }
        id
    }
}

/// `"~> 1.0"` → `("~>", "1.0")`; a bare `"1.0"` → `("=", "1.0")`.
pub fn split_requirement(r: &str) -> (&str, &str) {
    let r = r.trim();
    let op_end = r
        .find(|c: char| !matches!(c, '<' | '>' | '=' | '!' | '~'))
        .unwrap_or(r.len());
    let (op, v) = r.split_at(op_end);
    let op = if op.is_empty() { "=" } else { op };
    (op, v.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/tests/fixtures/rubygems/marshal/{name}.bin",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn integers_match_ruby() {
        let values: [Option<i32>; 21] = [
            None,
            None,
            None,
            Some(0),
            Some(1),
            Some(122),
            Some(123),
            Some(255),
            Some(256),
            Some(65535),
            Some(65536),
            Some(16777216),
            Some((1 << 30) - 1),
            Some(-1),
            Some(-123),
            Some(-124),
            Some(-256),
            Some(-257),
            Some(-65536),
            Some(-65537),
            Some(-(1 << 30)),
        ];
        let mut m = Marshal::new();
        m.array(values.len());
        m.nil();
        m.bool(true);
        m.bool(false);
        for v in values.iter().skip(3).flatten() {
            m.int(*v);
        }
        assert_eq!(m.finish(), fixture("integers"));
    }

    #[test]
    fn strings_symbols_and_hashes_match_ruby() {
        let mut m = Marshal::new();
        m.array(8);
        m.string("a");
        m.string("a");
        m.symbol("name");
        m.symbol("name");
        m.string("ünï");
        m.string("");
        m.symbol("other");
        m.hash(2);
        m.string("k");
        m.symbol("name");
        m.symbol("v");
        m.string("x");
        assert_eq!(m.finish(), fixture("strings_and_symbols"));
    }

    #[test]
    fn gem_objects_match_ruby() {
        let mut m = Marshal::new();
        m.array(2);
        for (v, p) in [("1.0.0", "ruby"), ("2.0.0.rc1", "x86_64-linux")] {
            m.array(3);
            m.string("tool");
            m.gem_version(v);
            m.string(p);
        }
        assert_eq!(m.finish(), fixture("version_tuple"));

        let mut r = Marshal::new();
        r.gem_requirement(&[">= 1.0".into()]);
        assert_eq!(r.finish(), fixture("requirement"));

        // Gem::Dependency keeps its requirement twice (`@version_requirements` is the same
        // object): Ruby links the second.
        let mut d = Marshal::new();
        d.object("Gem::Dependency", 5);
        d.symbol("@name");
        d.string("bar");
        d.symbol("@requirement");
        let req = d.gem_requirement(&["~> 1.0".into(), ">= 1.0.2".into()]);
        d.symbol("@type");
        d.symbol("runtime");
        d.symbol("@prerelease");
        d.bool(false);
        d.symbol("@version_requirements");
        d.link(req);
        assert_eq!(d.finish(), fixture("dependency"));
    }

    #[test]
    fn requirements_split_into_operator_and_version() {
        assert_eq!(split_requirement("~> 1.0"), ("~>", "1.0"));
        assert_eq!(split_requirement(">=2.7"), (">=", "2.7"));
        assert_eq!(split_requirement("1.2"), ("=", "1.2"));
        assert_eq!(split_requirement("!= 3"), ("!=", "3"));
    }
}
