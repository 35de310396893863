//! The header and trailer map behind a `fields` resource, with wasmtime's rules: names
//! and values parsed as the `http` crate parses them (names case-insensitive, kept in
//! lower case), the hop-by-hop headers wasmtime forbids refused, `content-length` only
//! as decimal digits (stored re-printed: `007` becomes `7`), a map frozen once it belongs
//! to a request or response, and a budget on the memory a map may use (going over it is a
//! trap in wasmtime, not a `header-error`).
//!
//! Entries keep `http::HeaderMap`'s order (names in first-insertion order, a removal
//! moving the last name into the gap), which is the order `entries` reports in wasmtime.

use http::header::{CONTENT_LENGTH, Entry};
use http::{HeaderMap, HeaderName, HeaderValue};

/// wasmtime's default budget for one map: roughly the bytes its names and values take
/// in memory, counting each name and value's own size as well as its bytes.
pub const SIZE_LIMIT: usize = 128 * 1024;

/// The headers wasmtime's default hooks forbid a guest to set (hop-by-hop headers and
/// `host`, which the host sets from the authority).
const FORBIDDEN: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
    "http2-settings",
];

/// Why a mutation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// `header-error.invalid-syntax`: a malformed name or value.
    InvalidSyntax,
    /// `header-error.forbidden`.
    Forbidden,
    /// `header-error.immutable`.
    Immutable,
    /// Over [`SIZE_LIMIT`]: wasmtime traps with this message.
    TooLarge,
}

impl FieldError {
    /// The `header-error` discriminant, or the trap message for [`FieldError::TooLarge`].
    pub fn header_error(self) -> Result<u8, &'static str> {
        match self {
            FieldError::InvalidSyntax => Ok(0),
            FieldError::Forbidden => Ok(1),
            FieldError::Immutable => Ok(2),
            FieldError::TooLarge => Err("total size of fields exceeds limit"),
        }
    }
}

/// A header or trailer map.
#[derive(Clone, Debug)]
pub struct FieldMap {
    map: HeaderMap,
    /// The accounted size (see [`SIZE_LIMIT`]).
    size: usize,
    mutable: bool,
}

fn name_size(name: &HeaderName) -> usize {
    name.as_str().len() + size_of::<HeaderName>()
}

fn value_size(value: &HeaderValue) -> usize {
    value.len() + size_of::<HeaderValue>()
}

fn parse_name(name: &str) -> Result<HeaderName, FieldError> {
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| FieldError::InvalidSyntax)?;
    if FORBIDDEN.contains(&name.as_str()) {
        return Err(FieldError::Forbidden);
    }
    Ok(name)
}

fn parse_value(name: &HeaderName, value: &[u8]) -> Result<HeaderValue, FieldError> {
    if *name == CONTENT_LENGTH {
        let digits = core::str::from_utf8(value).map_err(|_| FieldError::InvalidSyntax)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::InvalidSyntax);
        }
        let n: u64 = digits.parse().map_err(|_| FieldError::InvalidSyntax)?;
        return Ok(HeaderValue::from(n));
    }
    HeaderValue::from_bytes(value).map_err(|_| FieldError::InvalidSyntax)
}

impl Default for FieldMap {
    fn default() -> Self {
        FieldMap::new()
    }
}

impl FieldMap {
    /// An empty, mutable map.
    pub fn new() -> FieldMap {
        FieldMap {
            map: HeaderMap::new(),
            size: 0,
            mutable: true,
        }
    }

    /// `fields.from-list`: a mutable map of `entries`, appended in order; the first
    /// refused entry refuses the whole list.
    pub fn from_list(entries: &[(String, Vec<u8>)]) -> Result<FieldMap, FieldError> {
        let mut map = FieldMap::new();
        for (name, value) in entries {
            map.append(name, value)?;
        }
        Ok(map)
    }

    /// Freezes the map: it now belongs to a request, response or trailers.
    pub fn freeze(&mut self) {
        self.mutable = false;
    }

    /// `fields.clone`: a copy that is mutable whatever this one is.
    pub fn mutable_copy(&self) -> FieldMap {
        FieldMap {
            mutable: true,
            ..self.clone()
        }
    }

    /// A frozen copy (what a request's or response's `headers` hands out).
    pub fn frozen_copy(&self) -> FieldMap {
        FieldMap {
            mutable: false,
            ..self.clone()
        }
    }

    fn check_mutable(&self) -> Result<(), FieldError> {
        if self.mutable {
            Ok(())
        } else {
            Err(FieldError::Immutable)
        }
    }

    fn grow_to(&mut self, new_size: usize) -> Result<(), FieldError> {
        if new_size > SIZE_LIMIT {
            return Err(FieldError::TooLarge);
        }
        self.size = new_size;
        Ok(())
    }

    /// Every value of `name`; none for a name that cannot be a header name.
    pub fn get(&self, name: &str) -> Vec<Vec<u8>> {
        match HeaderName::from_bytes(name.as_bytes()) {
            Ok(name) => self
                .map
                .get_all(&name)
                .iter()
                .map(|v| v.as_bytes().to_vec())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        HeaderName::from_bytes(name.as_bytes()).is_ok_and(|n| self.map.contains_key(&n))
    }

    /// `fields.set`: replaces the values of `name` (keeping its place); no values removes it.
    pub fn set(&mut self, name: &str, values: &[Vec<u8>]) -> Result<(), FieldError> {
        let name = parse_name(name)?;
        self.check_mutable()?;
        let values = values
            .iter()
            .map(|v| parse_value(&name, v))
            .collect::<Result<Vec<_>, _>>()?;
        let key_size = name_size(&name);
        let values_size: usize = values.iter().map(value_size).sum();
        let mut values = values.into_iter();
        let size = self.size;
        let entry = self.map.try_entry(name).map_err(|_| FieldError::TooLarge)?;
        let mut entry = match entry {
            Entry::Vacant(e) => match values.next() {
                Some(first) => {
                    let new_size = size + key_size + values_size;
                    if new_size > SIZE_LIMIT {
                        return Err(FieldError::TooLarge);
                    }
                    let e = e
                        .try_insert_entry(first)
                        .map_err(|_| FieldError::TooLarge)?;
                    self.size = new_size;
                    e
                }
                None => return Ok(()),
            },
            Entry::Occupied(mut e) => {
                let old: usize = e.iter().map(value_size).sum();
                match values.next() {
                    Some(first) => {
                        let new_size = size - old + values_size;
                        if new_size > SIZE_LIMIT {
                            return Err(FieldError::TooLarge);
                        }
                        e.insert(first);
                        self.size = new_size;
                        e
                    }
                    None => {
                        e.remove();
                        self.size = size - old - key_size;
                        return Ok(());
                    }
                }
            }
        };
        for v in values {
            entry.append(v);
        }
        Ok(())
    }

    /// `fields.delete`: removes every value of `name` (a name not present is no error).
    pub fn delete(&mut self, name: &str) -> Result<(), FieldError> {
        let name = parse_name(name)?;
        self.check_mutable()?;
        if let Entry::Occupied(e) = self.map.try_entry(name).map_err(|_| FieldError::TooLarge)? {
            let (name, values) = e.remove_entry_mult();
            let removed = name_size(&name) + values.map(|v| value_size(&v)).sum::<usize>();
            self.size -= removed;
        }
        Ok(())
    }

    /// `fields.append`: adds a value after those `name` has.
    pub fn append(&mut self, name: &str, value: &[u8]) -> Result<(), FieldError> {
        let name = parse_name(name)?;
        let value = parse_value(&name, value)?;
        self.check_mutable()?;
        let mut new_size = self.size + value_size(&value);
        if !self.map.contains_key(&name) {
            new_size += name_size(&name);
        }
        if new_size > SIZE_LIMIT {
            return Err(FieldError::TooLarge);
        }
        self.map
            .try_append(name, value)
            .map_err(|_| FieldError::TooLarge)?;
        self.grow_to(new_size)
    }

    /// Every (name, value), names in lower case.
    pub fn entries(&self) -> Vec<(String, Vec<u8>)> {
        self.map
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
            .collect()
    }

    /// The body size `content-length` announces; Err when it is not a number (a body
    /// cannot then be opened, as in wasmtime).
    pub fn content_length(&self) -> Result<Option<u64>, ()> {
        let Some(v) = self.map.get(CONTENT_LENGTH) else {
            return Ok(None);
        };
        let s = v.to_str().map_err(|_| ())?;
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        s.parse().map(Some).map_err(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(m: &FieldMap) -> Vec<(String, String)> {
        m.entries()
            .into_iter()
            .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn names_are_case_insensitive_and_reported_in_lower_case() {
        let mut m = FieldMap::new();
        m.append("X-Alpha", b"one").unwrap();
        m.append("x-alpha", b"two").unwrap();
        assert_eq!(m.get("X-ALPHA"), vec![b"one".to_vec(), b"two".to_vec()]);
        assert!(m.has("x-Alpha"));
        assert_eq!(names(&m), pairs(&[("x-alpha", "one"), ("x-alpha", "two")]));
    }

    #[test]
    fn malformed_names_and_values_are_invalid_syntax() {
        let mut m = FieldMap::new();
        for bad in ["", "bad name", "a:b", "é", "x\n", "(x)"] {
            assert_eq!(
                m.append(bad, b"v"),
                Err(FieldError::InvalidSyntax),
                "{bad:?}"
            );
            assert_eq!(m.set(bad, &[]), Err(FieldError::InvalidSyntax), "{bad:?}");
            assert_eq!(m.delete(bad), Err(FieldError::InvalidSyntax), "{bad:?}");
            assert!(m.get(bad).is_empty());
            assert!(!m.has(bad));
        }
        assert_eq!(m.append("x", b"a\nb"), Err(FieldError::InvalidSyntax));
        assert_eq!(m.append("x", b"a\x7f"), Err(FieldError::InvalidSyntax));
        // Tabs, spaces, empty values and bytes above 0x7f are allowed.
        for ok in [&b"a\tb c"[..], b"", b"\xff\x80"] {
            assert_eq!(m.append("x", ok), Ok(()));
        }
        assert_eq!(m.append("!#$%&'*+-.^_`|~09az", b""), Ok(()));
        // The longest name the http crate takes is 65535 bytes.
        assert_eq!(
            m.append(&"a".repeat(65536), b""),
            Err(FieldError::InvalidSyntax)
        );
    }

    #[test]
    fn forbidden_names_are_refused_before_mutability_is_looked_at() {
        let mut m = FieldMap::new();
        for name in FORBIDDEN {
            assert_eq!(m.append(name, b"v"), Err(FieldError::Forbidden));
            assert_eq!(m.set(&name.to_uppercase(), &[]), Err(FieldError::Forbidden));
            assert_eq!(m.delete(name), Err(FieldError::Forbidden));
        }
        m.freeze();
        assert_eq!(m.append("Host", b"v"), Err(FieldError::Forbidden));
        assert_eq!(m.append("x", b"v"), Err(FieldError::Immutable));
        // A value is parsed before mutability is checked in append, after it in set.
        assert_eq!(m.append("x", b"\n"), Err(FieldError::InvalidSyntax));
        assert_eq!(m.set("x", &[b"\n".to_vec()]), Err(FieldError::Immutable));
        assert_eq!(m.delete("x"), Err(FieldError::Immutable));
    }

    #[test]
    fn content_length_takes_digits_only_and_is_reprinted() {
        let mut m = FieldMap::new();
        for bad in ["", "+5", "-5", " 5", "5 ", "0x5", "18446744073709551616"] {
            assert_eq!(
                m.append("Content-Length", bad.as_bytes()),
                Err(FieldError::InvalidSyntax),
                "{bad:?}"
            );
        }
        m.set("content-length", &[b"007".to_vec()]).unwrap();
        assert_eq!(m.get("content-length"), vec![b"7".to_vec()]);
        assert_eq!(m.content_length(), Ok(Some(7)));
        assert_eq!(FieldMap::new().content_length(), Ok(None));
    }

    #[test]
    fn set_keeps_the_place_and_removal_moves_the_last_name_into_the_gap() {
        let mut m = FieldMap::new();
        for n in ["a", "b", "c", "d"] {
            m.append(n, n.as_bytes()).unwrap();
        }
        m.append("b", b"b2").unwrap();
        m.set("b", &[b"B".to_vec(), b"B2".to_vec()]).unwrap();
        assert_eq!(
            names(&m),
            pairs(&[("a", "a"), ("b", "B"), ("b", "B2"), ("c", "c"), ("d", "d")])
        );
        m.delete("a").unwrap();
        assert_eq!(
            names(&m),
            pairs(&[("d", "d"), ("b", "B"), ("b", "B2"), ("c", "c")])
        );
        m.set("b", &[]).unwrap();
        assert_eq!(names(&m), pairs(&[("d", "d"), ("c", "c")]));
        m.set("absent", &[]).unwrap();
        m.delete("absent").unwrap();
        assert_eq!(names(&m), pairs(&[("d", "d"), ("c", "c")]));
    }

    #[test]
    fn sizes_are_accounted_and_limited() {
        let mut m = FieldMap::new();
        m.append("foo", b"bar").unwrap();
        assert!(m.size > 0);
        m.delete("foo").unwrap();
        assert_eq!(m.size, 0);
        m.set("foo", &[b"bar".to_vec(), b"baz".to_vec()]).unwrap();
        m.set("foo", &[]).unwrap();
        assert_eq!(m.size, 0);
        let mut n = 0;
        let err = loop {
            match m.append("foo", b"bar") {
                Ok(()) => n += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(err, FieldError::TooLarge);
        assert!(n > 1000);
        assert!(m.size <= SIZE_LIMIT);
        let big = vec![b'x'; SIZE_LIMIT];
        assert_eq!(FieldMap::new().set("x", &[big]), Err(FieldError::TooLarge));
    }

    #[test]
    fn from_list_refuses_the_whole_list_and_copies_are_mutable() {
        let list = |l: &[(&str, &str)]| -> Vec<(String, Vec<u8>)> {
            l.iter()
                .map(|(a, b)| (a.to_string(), b.as_bytes().to_vec()))
                .collect()
        };
        let m = FieldMap::from_list(&list(&[("a", "1"), ("A", "2"), ("b", "3")])).unwrap();
        assert_eq!(names(&m), pairs(&[("a", "1"), ("a", "2"), ("b", "3")]));
        assert_eq!(
            FieldMap::from_list(&list(&[("a", "1"), ("connection", "x")])).err(),
            Some(FieldError::Forbidden)
        );
        let mut frozen = m.frozen_copy();
        assert_eq!(frozen.append("c", b""), Err(FieldError::Immutable));
        let mut copy = frozen.mutable_copy();
        assert_eq!(copy.append("c", b""), Ok(()));
        frozen.freeze();
        assert_eq!(names(&frozen).len(), 3);
    }
}
