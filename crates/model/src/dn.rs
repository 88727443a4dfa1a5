//! Distinguished names as RFC 4514 defines them and as Active Directory compares them.
//!
//! A [`Dn`] is parsed once, at the boundary, and is always well formed afterwards: every RDN
//! has at least one attribute type and value, escapes are resolved, and the name can be
//! formatted back into a string that any LDAP server parses to the same name.
//!
//! Equality and hashing are case-insensitive on attribute types and values, and ignore the
//! order of the values of a multi-valued RDN, because that is how AD matches names. The text
//! a user gave is kept for display: `Dn::parse("cn=Foo,DC=Contoso,DC=Lab")` prints back with
//! its own capitalisation.
//!
//! What this module deliberately does not do: it does not know the schema (it cannot tell
//! that `CN` is `commonName`), and it does not decode the extended forms `<GUID=...>` and
//! `<SID=...>`; those are the server's business.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

/// One attribute type and value of an RDN, with escapes resolved.
#[derive(Clone, Debug)]
pub struct Ava {
    // Boxed strings, not `String`s: a directory holds DNs by the hundred thousand, and a box
    // has no spare capacity (the simulator's store, issue 16).
    attr: Box<str>,
    value: Box<str>,
}

impl Ava {
    /// The attribute type as written, for example `CN`.
    pub fn attr(&self) -> &str {
        &self.attr
    }

    /// The attribute value with escapes resolved, for example `Device Registration Services`.
    pub fn value(&self) -> &str {
        &self.value
    }

    fn normalized(&self) -> String {
        format!(
            "{}={}",
            self.attr.to_lowercase(),
            escape_value(&self.value.to_lowercase())
        )
    }
}

/// A relative distinguished name: one or more attribute values joined by `+`.
#[derive(Clone, Debug)]
pub struct Rdn {
    avas: Box<[Ava]>,
}

impl Rdn {
    /// An RDN of one attribute value. The type must be a name (`CN`, `msDS-Device`) or an OID.
    pub fn new(attr: &str, value: &str) -> Result<Rdn, DnError> {
        let text = format!("{}={}", attr, escape_value(value));
        check_attr_type(attr).map_err(|kind| DnError::new(&text, 0, kind))?;
        if value.is_empty() {
            return Err(DnError::new(&text, attr.len() + 1, DnErrorKind::EmptyValue));
        }
        Ok(Rdn {
            avas: Box::new([Ava {
                attr: attr.into(),
                value: value.into(),
            }]),
        })
    }

    /// The first (for a single-valued RDN, the only) attribute type.
    pub fn attr(&self) -> &str {
        self.avas.first().map(Ava::attr).unwrap_or_default()
    }

    /// The first (for a single-valued RDN, the only) attribute value, unescaped.
    pub fn value(&self) -> &str {
        self.avas.first().map(Ava::value).unwrap_or_default()
    }

    /// All attribute values of the RDN, in the order they were written.
    pub fn avas(&self) -> &[Ava] {
        &self.avas
    }

    fn normalized(&self) -> String {
        let mut parts: Vec<String> = self.avas.iter().map(Ava::normalized).collect();
        parts.sort();
        parts.join("+")
    }
}

impl PartialEq for Rdn {
    fn eq(&self, other: &Self) -> bool {
        self.normalized() == other.normalized()
    }
}

impl Eq for Rdn {}

impl fmt::Display for Rdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, ava) in self.avas.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            f.write_str(&ava.attr)?;
            f.write_str("=")?;
            // Most values need no escape: written as they are, without a copy (a server
            // formats a DN for every entry it returns).
            if needs_escape(&ava.value) {
                f.write_str(&escape_value(&ava.value))?;
            } else {
                f.write_str(&ava.value)?;
            }
        }
        Ok(())
    }
}

/// A distinguished name: a sequence of RDNs, most specific first. The empty DN is the rootDSE.
///
/// A name is its first RDN and a shared reference to its parent's name, so a parent's RDNs are
/// held once however many children name it (a directory server holds DNs by the hundred
/// thousand, issue 16), cloning is a reference count, and [`Dn::parent`] copies nothing.
#[derive(Clone)]
pub struct Dn {
    node: Option<Arc<DnNode>>,
}

struct DnNode {
    rdn: Rdn,
    parent: Dn,
    depth: usize,
    /// The lowercased, canonically escaped form of the whole name is `text[offset..]`,
    /// computed once: equality, hashing and ordering use it. The names of one parsed DN share
    /// one text (each parent's form is a suffix of its child's), so parsing stays linear in
    /// the length of the text however many RDNs it has.
    text: Arc<str>,
    offset: usize,
}

impl Drop for Dn {
    fn drop(&mut self) {
        // Unlink the chain a node at a time: a name of a million RDNs (a client can send one)
        // must not be dropped by a million nested calls.
        let mut next = self.node.take();
        while let Some(node) = next {
            match Arc::try_unwrap(node) {
                Ok(mut node) => next = node.parent.node.take(),
                Err(_) => break,
            }
        }
    }
}

impl Dn {
    /// Parses an RFC 4514 string. Spaces around `,`, `+` and `=` are accepted, as AD accepts them.
    pub fn parse(text: &str) -> Result<Dn, DnError> {
        Parser::new(text).parse()
    }

    /// The empty DN (the rootDSE).
    pub fn root() -> Dn {
        Dn { node: None }
    }

    /// Builds a DN from RDNs, most specific first.
    pub fn from_rdns(rdns: Vec<Rdn>) -> Dn {
        let parts: Vec<String> = rdns.iter().map(Rdn::normalized).collect();
        let text: Arc<str> = Arc::from(parts.join(",").as_str());
        // Where each RDN's name starts in the whole text.
        let mut offsets = Vec::with_capacity(parts.len());
        let mut offset = 0;
        for part in &parts {
            offsets.push(offset);
            offset += part.len() + 1;
        }
        let depth = rdns.len();
        let mut dn = Dn::root();
        for (index, (rdn, offset)) in rdns.into_iter().zip(offsets).enumerate().rev() {
            dn = Dn {
                node: Some(Arc::new(DnNode {
                    rdn,
                    parent: dn,
                    depth: depth - index,
                    text: Arc::clone(&text),
                    offset,
                })),
            };
        }
        dn
    }

    /// `contoso.lab` becomes `DC=contoso,DC=lab`.
    pub fn from_dns_domain(domain: &str) -> Result<Dn, DnError> {
        let trimmed = domain.trim_end_matches('.');
        if trimmed.is_empty() {
            return Err(DnError::new(domain, 0, DnErrorKind::EmptyDnsName));
        }
        let mut rdns = Vec::new();
        let mut offset = 0;
        for label in trimmed.split('.') {
            let valid = !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !valid {
                return Err(DnError::new(
                    domain,
                    offset,
                    DnErrorKind::BadDnsLabel(label.to_string()),
                ));
            }
            rdns.push(Rdn::new("DC", label)?);
            offset += label.len() + 1;
        }
        Ok(Dn::from_rdns(rdns))
    }

    /// `DC=contoso,DC=lab` becomes `contoso.lab`; `None` unless every RDN is a `DC` component.
    pub fn to_dns_domain(&self) -> Option<String> {
        if self.is_root() {
            return None;
        }
        let mut labels = Vec::with_capacity(self.depth());
        for rdn in self.rdn_iter() {
            if rdn.avas.len() != 1 || !rdn.attr().eq_ignore_ascii_case("dc") {
                return None;
            }
            labels.push(rdn.value().to_lowercase());
        }
        Some(labels.join("."))
    }

    /// True for the empty DN.
    pub fn is_root(&self) -> bool {
        self.node.is_none()
    }

    /// The RDNs, most specific first.
    pub fn rdns(&self) -> Vec<&Rdn> {
        self.rdn_iter().collect()
    }

    fn rdn_iter(&self) -> impl Iterator<Item = &Rdn> {
        std::iter::successors(self.node.as_deref(), |node| node.parent.node.as_deref())
            .map(|node| &node.rdn)
    }

    /// The most specific RDN, `None` for the empty DN.
    pub fn rdn(&self) -> Option<&Rdn> {
        self.node.as_deref().map(|node| &node.rdn)
    }

    /// The number of RDNs.
    pub fn depth(&self) -> usize {
        self.node.as_deref().map_or(0, |node| node.depth)
    }

    /// The DN without its first RDN; `None` for the empty DN.
    pub fn parent(&self) -> Option<Dn> {
        self.node.as_deref().map(|node| node.parent.clone())
    }

    /// This DN with `rdn` prepended.
    pub fn child(&self, rdn: Rdn) -> Dn {
        let mut normalized = rdn.normalized();
        if !self.normalized().is_empty() {
            normalized.push(',');
            normalized.push_str(self.normalized());
        }
        Dn {
            node: Some(Arc::new(DnNode {
                rdn,
                parent: self.clone(),
                depth: self.depth() + 1,
                text: Arc::from(normalized.as_str()),
                offset: 0,
            })),
        }
    }

    /// The same name with `parent` as its parent's representation: when `parent` is this
    /// name's parent (equal, not necessarily shared), a name that shares `parent`'s RDNs.
    /// A store keeps its entries' names this way, so a container's name is held once.
    pub fn relinked_to(&self, parent: &Dn) -> Dn {
        match self.node.as_deref() {
            Some(node) if node.parent == *parent => Dn {
                node: Some(Arc::new(DnNode {
                    rdn: node.rdn.clone(),
                    parent: parent.clone(),
                    depth: node.depth,
                    // Its own copy of its text: the parsed name's text, shared with the
                    // parsed parents, goes with them.
                    text: Arc::from(self.normalized()),
                    offset: 0,
                })),
            },
            _ => self.clone(),
        }
    }

    /// True when `self` lies strictly below `ancestor`. Every non-empty DN lies below the root.
    pub fn is_descendant_of(&self, ancestor: &Dn) -> bool {
        self.depth() > ancestor.depth() && self.ends_with(ancestor)
    }

    /// True when `self` is `ancestor` or lies below it.
    pub fn is_within(&self, ancestor: &Dn) -> bool {
        self.depth() >= ancestor.depth() && self.ends_with(ancestor)
    }

    fn ends_with(&self, suffix: &Dn) -> bool {
        if suffix.normalized().is_empty() {
            return true;
        }
        // Compare the normalized forms from the boundary of the RDN where the suffix would
        // start, found by counting unescaped separators: an escaped comma inside a value can
        // never fake a boundary.
        let skip = self.depth() - suffix.depth();
        rdn_offset(self.normalized(), skip)
            .and_then(|start| self.normalized().get(start..))
            .is_some_and(|tail| tail == suffix.normalized())
    }

    /// The lowercased canonical form that equality and hashing use.
    pub fn normalized(&self) -> &str {
        self.node
            .as_deref()
            .and_then(|node| node.text.get(node.offset..))
            .unwrap_or_default()
    }
}

/// The byte offset in a normalized DN where its RDN number `index` (0 first) starts: after
/// `index` separators, a separator being a `,` that no backslash escapes.
fn rdn_offset(normalized: &str, index: usize) -> Option<usize> {
    if index == 0 {
        return Some(0);
    }
    let bytes = normalized.as_bytes();
    let mut separators = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            // The escaped character (or the first of two hex digits) is never a separator.
            b'\\' => i += 2,
            b',' => {
                separators += 1;
                i += 1;
                if separators == index {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

impl PartialEq for Dn {
    fn eq(&self, other: &Self) -> bool {
        self.normalized() == other.normalized()
    }
}

impl Eq for Dn {}

impl Hash for Dn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.normalized().hash(state);
    }
}

impl PartialOrd for Dn {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Dn {
    fn cmp(&self, other: &Self) -> Ordering {
        self.normalized().cmp(other.normalized())
    }
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdn_iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{rdn}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dn({:?})", self.to_string())
    }
}

impl FromStr for Dn {
    type Err = DnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dn::parse(s)
    }
}

impl serde::Serialize for Dn {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Dn {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Dn::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Why a DN did not parse, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid DN {input:?}: {kind} at byte {position}")]
pub struct DnError {
    /// The text that failed to parse.
    pub input: String,
    /// The byte offset in `input` where the problem was found.
    pub position: usize,
    /// What was wrong.
    pub kind: DnErrorKind,
}

impl DnError {
    fn new(input: &str, position: usize, kind: DnErrorKind) -> DnError {
        DnError {
            input: input.to_string(),
            position,
            kind,
        }
    }
}

/// The ways a DN can be malformed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnErrorKind {
    #[error("empty RDN")]
    EmptyRdn,
    #[error("missing '=' after the attribute type")]
    MissingEquals,
    #[error("empty attribute type")]
    EmptyAttributeType,
    #[error("invalid attribute type {0:?}")]
    BadAttributeType(String),
    #[error("empty attribute value")]
    EmptyValue,
    #[error("unescaped {0:?} in an attribute value")]
    UnescapedSpecial(char),
    #[error("backslash at the end of the input")]
    DanglingEscape,
    #[error("invalid escape \\{0}")]
    BadEscape(String),
    #[error("escaped bytes are not UTF-8")]
    InvalidUtf8,
    #[error("invalid hex-encoded (#) value")]
    BadHexValue,
    #[error("empty DNS name")]
    EmptyDnsName,
    #[error("invalid DNS label {0:?}")]
    BadDnsLabel(String),
}

/// Whether [`escape_value`] would change `value`.
fn needs_escape(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.first().is_some_and(|&b| b == b'#' || b == b' ')
        || bytes.last() == Some(&b' ')
        || bytes.iter().any(|&b| {
            matches!(b, b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';' | b'=')
                || b < 0x20
                || b == 0x7f
        })
}

/// Escapes a value for use in a DN string (RFC 4514 section 2.4, plus `=` and control
/// characters, which AD also escapes).
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\{:02X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

fn check_attr_type(attr: &str) -> Result<(), DnErrorKind> {
    let mut chars = attr.chars();
    let Some(first) = chars.next() else {
        return Err(DnErrorKind::EmptyAttributeType);
    };
    let valid = if first.is_ascii_alphabetic() {
        attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    } else if first.is_ascii_digit() {
        // A numeric OID: digits separated by single dots.
        let oid = attr
            .strip_prefix("OID.")
            .or(attr.strip_prefix("oid."))
            .unwrap_or(attr);
        oid.split('.')
            .all(|arc| !arc.is_empty() && arc.chars().all(|c| c.is_ascii_digit()))
    } else {
        false
    };
    if valid {
        Ok(())
    } else {
        Err(DnErrorKind::BadAttributeType(attr.to_string()))
    }
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    fn error(&self, position: usize, kind: DnErrorKind) -> DnError {
        DnError::new(self.text, position, kind)
    }

    fn skip_spaces(&mut self) {
        while self.bytes.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }

    fn parse(mut self) -> Result<Dn, DnError> {
        if self.text.trim().is_empty() {
            return Ok(Dn::root());
        }
        let mut rdns = Vec::new();
        loop {
            let start = self.pos;
            let rdn = self.parse_rdn()?;
            rdns.push(rdn);
            match self.bytes.get(self.pos) {
                None => break,
                Some(b',') | Some(b';') => {
                    self.pos += 1;
                    self.skip_spaces();
                    if self.pos >= self.bytes.len() {
                        return Err(self.error(self.pos, DnErrorKind::EmptyRdn));
                    }
                }
                Some(_) => return Err(self.error(start, DnErrorKind::EmptyRdn)),
            }
        }
        Ok(Dn::from_rdns(rdns))
    }

    fn parse_rdn(&mut self) -> Result<Rdn, DnError> {
        let mut avas = Vec::new();
        loop {
            avas.push(self.parse_ava()?);
            if self.bytes.get(self.pos) == Some(&b'+') {
                self.pos += 1;
                self.skip_spaces();
                continue;
            }
            return Ok(Rdn {
                avas: avas.into_boxed_slice(),
            });
        }
    }

    fn parse_ava(&mut self) -> Result<Ava, DnError> {
        self.skip_spaces();
        let start = self.pos;
        if matches!(
            self.bytes.get(self.pos),
            None | Some(b',') | Some(b';') | Some(b'+')
        ) {
            return Err(self.error(start, DnErrorKind::EmptyRdn));
        }
        while let Some(&b) = self.bytes.get(self.pos) {
            if b == b'=' || b == b',' || b == b'+' || b == b';' {
                break;
            }
            self.pos += 1;
        }
        let attr = self.text[start..self.pos].trim_end();
        if self.bytes.get(self.pos) != Some(&b'=') {
            return Err(self.error(self.pos, DnErrorKind::MissingEquals));
        }
        check_attr_type(attr).map_err(|kind| self.error(start, kind))?;
        self.pos += 1; // '='
        self.skip_spaces();
        let value = if self.bytes.get(self.pos) == Some(&b'#') {
            self.parse_hex_value()?
        } else {
            self.parse_string_value()?
        };
        Ok(Ava {
            attr: attr.into(),
            value: value.into_boxed_str(),
        })
    }

    /// `#` followed by the hex of a BER-encoded string value (RFC 4514 section 2.4).
    fn parse_hex_value(&mut self) -> Result<String, DnError> {
        let start = self.pos;
        self.pos += 1;
        let hex_start = self.pos;
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_hexdigit) {
            self.pos += 1;
        }
        let hex = &self.text[hex_start..self.pos];
        self.skip_spaces();
        if !matches!(
            self.bytes.get(self.pos),
            None | Some(b',') | Some(b';') | Some(b'+')
        ) {
            return Err(self.error(self.pos, DnErrorKind::BadHexValue));
        }
        if hex.is_empty() || hex.len() % 2 != 0 {
            return Err(self.error(start, DnErrorKind::BadHexValue));
        }
        let mut ber = Vec::with_capacity(hex.len() / 2);
        for pair in hex.as_bytes().chunks(2) {
            let text = std::str::from_utf8(pair)
                .map_err(|_| self.error(start, DnErrorKind::BadHexValue))?;
            let byte = u8::from_str_radix(text, 16)
                .map_err(|_| self.error(start, DnErrorKind::BadHexValue))?;
            ber.push(byte);
        }
        // Only primitive string types with a short or long definite length are accepted: a
        // DN value that is not a string has no meaning to AD.
        let content =
            ber_string_content(&ber).ok_or_else(|| self.error(start, DnErrorKind::BadHexValue))?;
        if content.is_empty() {
            // An RDN value is never empty, whichever form wrote it.
            return Err(self.error(start, DnErrorKind::EmptyValue));
        }
        String::from_utf8(content.to_vec()).map_err(|_| self.error(start, DnErrorKind::InvalidUtf8))
    }

    fn parse_string_value(&mut self) -> Result<String, DnError> {
        let start = self.pos;
        let mut raw: Vec<u8> = Vec::new();
        // Length of `raw` up to the last byte that must be kept (escaped, or not a space):
        // unescaped trailing spaces are dropped.
        let mut keep = 0;
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b',' | b';' | b'+' => break,
                b'\\' => {
                    self.pos += 1;
                    let Some(&next) = self.bytes.get(self.pos) else {
                        return Err(self.error(self.pos - 1, DnErrorKind::DanglingEscape));
                    };
                    if next.is_ascii_hexdigit() {
                        let pair = self.bytes.get(self.pos..self.pos + 2);
                        let byte = pair
                            .and_then(|p| std::str::from_utf8(p).ok())
                            .and_then(|p| u8::from_str_radix(p, 16).ok());
                        match byte {
                            Some(byte) => {
                                raw.push(byte);
                                self.pos += 2;
                            }
                            None => {
                                let shown =
                                    self.text.get(self.pos..(self.pos + 2).min(self.text.len()));
                                return Err(self.error(
                                    self.pos - 1,
                                    DnErrorKind::BadEscape(shown.unwrap_or("").to_string()),
                                ));
                            }
                        }
                    } else if b" \"#+,;<=>\\".contains(&next) {
                        raw.push(next);
                        self.pos += 1;
                    } else {
                        let ch = self.text[self.pos..].chars().next().unwrap_or('?');
                        return Err(
                            self.error(self.pos - 1, DnErrorKind::BadEscape(ch.to_string()))
                        );
                    }
                    keep = raw.len();
                }
                // RFC 4514 lets `=` stand unescaped in a value; AD escapes it when it writes.
                b'"' | b'<' | b'>' | 0 => {
                    return Err(self.error(self.pos, DnErrorKind::UnescapedSpecial(b as char)));
                }
                b' ' => {
                    raw.push(b);
                    self.pos += 1;
                }
                _ => {
                    raw.push(b);
                    self.pos += 1;
                    keep = raw.len();
                }
            }
        }
        raw.truncate(keep);
        if raw.is_empty() {
            return Err(self.error(start, DnErrorKind::EmptyValue));
        }
        String::from_utf8(raw).map_err(|_| self.error(start, DnErrorKind::InvalidUtf8))
    }
}

/// The content octets of a BER-encoded primitive string (OCTET STRING, UTF8String,
/// PrintableString, IA5String, T61String, VisibleString, BMPString is not accepted).
fn ber_string_content(ber: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = ber.split_first()?;
    if !matches!(tag, 0x04 | 0x0c | 0x13 | 0x14 | 0x16 | 0x1a) {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, &rest[count..])
    };
    (rest.len() == len).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_ok(input: &str, formatted: &str, rdn_values: &[&str]) {
        let dn = Dn::parse(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"));
        assert_eq!(dn.to_string(), formatted, "format of {input:?}");
        let values: Vec<&str> = dn.rdns().into_iter().map(Rdn::value).collect();
        assert_eq!(values, rdn_values, "values of {input:?}");
        let again = Dn::parse(&dn.to_string()).expect("formatted DN reparses");
        assert_eq!(again, dn);
    }

    fn check_err(input: &str, expected: &str) {
        let err = Dn::parse(input).expect_err(input);
        assert_eq!(err.to_string(), expected);
    }

    #[test]
    fn parses_ad_names() {
        check_ok(
            "CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab",
            "CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab",
            &["DeviceRegistrationService", "Device Registration Services", "Device Registration Configuration", "Services", "Configuration", "contoso", "lab"],
        );
        check_ok(
            "CN=RegisteredDevices, DC=contoso, DC=lab",
            "CN=RegisteredDevices,DC=contoso,DC=lab",
            &["RegisteredDevices", "contoso", "lab"],
        );
        check_ok("cn = a , dc = b", "cn=a,dc=b", &["a", "b"]);
        check_ok("", "", &[]);
    }

    #[test]
    fn escapes_round_trip() {
        check_ok(
            r"CN=Smith\, John,DC=x",
            r"CN=Smith\, John,DC=x",
            &["Smith, John", "x"],
        );
        check_ok(r"CN=a\2Cb,DC=x", r"CN=a\,b,DC=x", &["a,b", "x"]);
        check_ok(r"CN=\#hash\ ,DC=x", r"CN=\#hash\ ,DC=x", &["#hash ", "x"]);
        check_ok(r"CN=\ lead,DC=x", r"CN=\ lead,DC=x", &[" lead", "x"]);
        check_ok(
            r"CN=q\22uote\3Cx\3E\3B\3D\5C,DC=x",
            r#"CN=q\"uote\<x\>\;\=\\,DC=x"#,
            &["q\"uote<x>;=\\", "x"],
        );
        check_ok(
            r"CN=nul\00byte,DC=x",
            r"CN=nul\00byte,DC=x",
            &["nul\0byte", "x"],
        );
        check_ok(r"CN=caf\C3\A9,DC=x", "CN=café,DC=x", &["café", "x"]);
        check_ok("CN=#04024869,DC=x", "CN=Hi,DC=x", &["Hi", "x"]);
        check_ok(
            "CN=trailing   ,DC=x",
            "CN=trailing,DC=x",
            &["trailing", "x"],
        );
    }

    #[test]
    fn multi_valued_rdn() {
        let dn = Dn::parse("CN=a+UID=b,DC=x").expect("parses");
        assert_eq!(dn.rdns()[0].avas().len(), 2);
        assert_eq!(dn, Dn::parse("uid=B + cn=A,dc=X").expect("parses"));
        assert_eq!(dn.to_string(), "CN=a+UID=b,DC=x");
    }

    #[test]
    fn rejects_malformed_names() {
        check_err(
            "CN=a,,DC=b",
            r#"invalid DN "CN=a,,DC=b": empty RDN at byte 5"#,
        );
        check_err("CN=a,", r#"invalid DN "CN=a,": empty RDN at byte 5"#);
        check_err(
            "CNa,DC=b",
            r#"invalid DN "CNa,DC=b": missing '=' after the attribute type at byte 3"#,
        );
        check_err("=a", r#"invalid DN "=a": empty attribute type at byte 0"#);
        check_err(
            "C N=a",
            r#"invalid DN "C N=a": invalid attribute type "C N" at byte 0"#,
        );
        check_err(
            "CN=,DC=b",
            r#"invalid DN "CN=,DC=b": empty attribute value at byte 3"#,
        );
        check_err(
            "CN=a\\",
            r#"invalid DN "CN=a\\": backslash at the end of the input at byte 4"#,
        );
        check_err(
            "CN=a\\zz",
            r#"invalid DN "CN=a\\zz": invalid escape \z at byte 4"#,
        );
        check_err(
            "CN=a\\4",
            r#"invalid DN "CN=a\\4": invalid escape \4 at byte 4"#,
        );
        check_err(
            "CN=a<b",
            r#"invalid DN "CN=a<b": unescaped '<' in an attribute value at byte 4"#,
        );
        check_ok("CN=a=b,DC=x", r"CN=a\=b,DC=x", &["a=b", "x"]);
        check_err(
            "CN=a\\FF",
            r#"invalid DN "CN=a\\FF": escaped bytes are not UTF-8 at byte 3"#,
        );
        // Found by `cargo xtask fuzz dn`: a #hex value holding an empty string.
        check_err(
            "CN=#0400",
            r##"invalid DN "CN=#0400": empty attribute value at byte 3"##,
        );
        check_err(
            "CN=#0402",
            r##"invalid DN "CN=#0402": invalid hex-encoded (#) value at byte 3"##,
        );
    }

    #[test]
    fn compares_as_ad_does() {
        let a = Dn::parse("CN=RegisteredDevices,DC=Contoso,DC=Lab").expect("parses");
        let b = Dn::parse("cn=registereddevices,dc=contoso,dc=lab").expect("parses");
        assert_eq!(a, b);
        let mut set = std::collections::HashSet::new();
        set.insert(a.clone());
        assert!(set.contains(&b));
        assert_eq!(a.to_string(), "CN=RegisteredDevices,DC=Contoso,DC=Lab");
    }

    #[test]
    fn tree_navigation() {
        let domain = Dn::from_dns_domain("contoso.lab").expect("valid domain");
        assert_eq!(domain.to_string(), "DC=contoso,DC=lab");
        assert_eq!(domain.to_dns_domain().as_deref(), Some("contoso.lab"));
        let devices = domain.child(Rdn::new("CN", "RegisteredDevices").expect("valid rdn"));
        assert_eq!(
            devices.to_string(),
            "CN=RegisteredDevices,DC=contoso,DC=lab"
        );
        assert_eq!(devices.parent(), Some(domain.clone()));
        assert!(devices.is_descendant_of(&domain));
        assert!(devices.is_descendant_of(&Dn::root()));
        assert!(!domain.is_descendant_of(&domain));
        assert!(domain.is_within(&domain));
        assert_eq!(devices.to_dns_domain(), None);
        assert_eq!(Dn::root().parent(), None);
        // An escaped comma is part of a value, never an RDN boundary.
        let tricky = Dn::parse(r"CN=x\,DC=contoso,DC=lab").expect("parses");
        assert!(!tricky.is_descendant_of(&domain));
        assert_eq!(tricky.depth(), 2);
        let other = Dn::parse(r"CN=a,DC=x\,DC=contoso,DC=lab").expect("parses");
        assert!(!other.is_descendant_of(&Dn::parse("DC=x,DC=contoso,DC=lab").expect("parses")));
    }

    #[test]
    fn dns_names() {
        assert!(Dn::from_dns_domain("").is_err());
        assert!(Dn::from_dns_domain("a..b").is_err());
        assert!(Dn::from_dns_domain("-a.b").is_err());
        assert_eq!(
            Dn::from_dns_domain("Corp.Contoso.COM.")
                .expect("valid")
                .to_string(),
            "DC=Corp,DC=Contoso,DC=COM"
        );
    }

    #[test]
    fn rdn_new_validates_type_and_escapes_value() {
        assert!(Rdn::new("", "x").is_err());
        assert!(Rdn::new("CN", "").is_err());
        assert!(Rdn::new("1.2.840.113556.1.4.1", "x").is_ok());
        assert_eq!(
            Rdn::new("CN", "a,b").expect("valid").to_string(),
            r"CN=a\,b"
        );
    }
}
