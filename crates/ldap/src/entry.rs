//! Search result entries with binary-safe attribute access.
//!
//! ldap3's `SearchEntry` splits values into text and binary maps and panics on malformed BER;
//! this module decodes the raw `SearchResultEntry` itself, keeps every value as bytes, and
//! reports a malformed entry as an error.

use std::collections::BTreeMap;

use devwb_model::Dn;
use ldap3::asn1::{StructureTag, PL};

use crate::error::{Error, Result};

/// One entry of a search result.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// The entry's DN, parsed.
    pub dn: Dn,
    /// Attribute values by lowercased attribute name, in the order the server sent them.
    pub attrs: BTreeMap<String, Vec<Vec<u8>>>,
}

impl Entry {
    /// All values of an attribute (any case), empty when absent.
    pub fn values(&self, name: &str) -> &[Vec<u8>] {
        self.attrs
            .get(&name.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Whether the attribute is present with at least one value.
    pub fn has(&self, name: &str) -> bool {
        !self.values(name).is_empty()
    }

    /// The first value as bytes.
    pub fn first_bytes(&self, name: &str) -> Option<&[u8]> {
        self.values(name).first().map(Vec::as_slice)
    }

    /// The first value as UTF-8 text; `None` when absent or not UTF-8.
    pub fn first_str(&self, name: &str) -> Option<&str> {
        self.first_bytes(name)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
    }

    /// Every value that is UTF-8 text (values that are not are skipped).
    pub fn strs(&self, name: &str) -> Vec<&str> {
        self.values(name)
            .iter()
            .filter_map(|bytes| std::str::from_utf8(bytes).ok())
            .collect()
    }

    /// The first value parsed as a DN; an error naming the entry and attribute when it does not parse.
    pub fn first_dn(&self, name: &str) -> Result<Option<Dn>> {
        match self.first_bytes(name) {
            None => Ok(None),
            Some(bytes) => {
                let text = std::str::from_utf8(bytes).map_err(|_| {
                    Error::invalid_response(format!("{} of {} is not UTF-8", name, self.dn))
                })?;
                Dn::parse(text)
                    .map(Some)
                    .map_err(|e| Error::invalid_response(format!("{name} of {}: {e}", self.dn)))
            }
        }
    }

    /// The first value parsed as a decimal integer.
    pub fn first_i64(&self, name: &str) -> Result<Option<i64>> {
        match self.first_str(name) {
            None => Ok(None),
            Some(text) => text.trim().parse::<i64>().map(Some).map_err(|_| {
                Error::invalid_response(format!(
                    "{name} of {} is not an integer: {text:?}",
                    self.dn
                ))
            }),
        }
    }

    /// Whether `objectClass` holds `class` (case-insensitive).
    pub fn has_object_class(&self, class: &str) -> bool {
        self.strs("objectClass")
            .iter()
            .any(|value| value.eq_ignore_ascii_case(class))
    }

    /// The most specific object class: AD lists `objectClass` from `top` down, the last is the type.
    pub fn structural_class(&self) -> Option<&str> {
        self.strs("objectClass").last().copied()
    }

    /// Decodes a `SearchResultEntry` (`[APPLICATION 4] SEQUENCE { objectName, attributes }`).
    pub(crate) fn from_tag(tag: StructureTag) -> Result<Entry> {
        RawEntry::from_tag(tag)?.into_entry()
    }
}

/// A search result entry as the server sent it, not yet parsed: the DN as text, the attributes
/// in the order sent (the values of a name sent twice merged), values as bytes. What a caller
/// reading many entries for a few attributes takes (the device container of a million objects):
/// no DN parse and no map per entry; [`RawEntry::into_entry`] gives the [`Entry`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEntry {
    dn: String,
    attrs: Vec<(String, Vec<Vec<u8>>)>,
}

impl RawEntry {
    /// The DN, as the server spelled it.
    pub fn dn(&self) -> &str {
        &self.dn
    }

    /// All values of an attribute (any case), empty when absent.
    pub fn values(&self, name: &str) -> &[Vec<u8>] {
        self.attrs
            .iter()
            .find(|(sent, _)| sent.eq_ignore_ascii_case(name))
            .map_or(&[], |(_, values)| values.as_slice())
    }

    /// The first value as bytes.
    pub fn first_bytes(&self, name: &str) -> Option<&[u8]> {
        self.values(name).first().map(Vec::as_slice)
    }

    /// The entry with its DN parsed; an error naming the DN when it does not parse.
    pub fn into_entry(self) -> Result<Entry> {
        let dn = Dn::parse(&self.dn)
            .map_err(|e| Error::invalid_response(format!("entry DN {:?}: {e}", self.dn)))?;
        let mut attrs: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
        for (mut name, values) in self.attrs {
            name.make_ascii_lowercase();
            attrs.insert(name, values);
        }
        Ok(Entry { dn, attrs })
    }

    /// Decodes a `SearchResultEntry` (`[APPLICATION 4] SEQUENCE { objectName, attributes }`),
    /// moving its bytes out of the tag, not copying them.
    pub(crate) fn from_tag(tag: StructureTag) -> Result<RawEntry> {
        let malformed =
            |what: &str| Error::invalid_response(format!("malformed search result entry: {what}"));
        if tag.id != 4 {
            return Err(malformed(&format!(
                "application tag {} instead of 4",
                tag.id
            )));
        }
        let PL::C(parts) = tag.payload else {
            return Err(malformed("primitive instead of constructed"));
        };
        let mut parts = parts.into_iter();
        let dn_bytes = match parts.next().map(|t| t.payload) {
            Some(PL::P(bytes)) => bytes,
            _ => return Err(malformed("no objectName")),
        };
        let dn = String::from_utf8(dn_bytes).map_err(|_| malformed("objectName is not UTF-8"))?;
        let attribute_list = match parts.next().map(|t| t.payload) {
            Some(PL::C(list)) => list,
            None => Vec::new(),
            Some(PL::P(_)) => return Err(malformed("attribute list is primitive")),
        };
        let mut attrs: Vec<(String, Vec<Vec<u8>>)> = Vec::with_capacity(attribute_list.len());
        for attribute in attribute_list {
            let PL::C(pieces) = attribute.payload else {
                return Err(malformed("partial attribute is primitive"));
            };
            let mut pieces = pieces.into_iter();
            let name = match pieces.next().map(|t| t.payload) {
                Some(PL::P(bytes)) => String::from_utf8(bytes)
                    .map_err(|_| malformed("attribute type is not UTF-8"))?,
                _ => return Err(malformed("attribute without a type")),
            };
            let values = match pieces.next().map(|t| t.payload) {
                Some(PL::C(values)) => values,
                None => Vec::new(),
                Some(PL::P(_)) => return Err(malformed("attribute value set is primitive")),
            };
            let mut bytes = Vec::with_capacity(values.len());
            for value in values {
                match value.payload {
                    PL::P(value) => bytes.push(value),
                    PL::C(_) => return Err(malformed(&format!("value of {name} is constructed"))),
                }
            }
            match attrs
                .iter_mut()
                .find(|(sent, _)| sent.eq_ignore_ascii_case(&name))
            {
                Some((_, merged)) => merged.append(&mut bytes),
                None => attrs.push((name, bytes)),
            }
        }
        Ok(RawEntry { dn, attrs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3::asn1::TagClass;

    fn primitive(bytes: &[u8]) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id: 4,
            payload: PL::P(bytes.to_vec()),
        }
    }

    fn constructed(id: u64, class: TagClass, inner: Vec<StructureTag>) -> StructureTag {
        StructureTag {
            class,
            id,
            payload: PL::C(inner),
        }
    }

    fn attribute(name: &str, values: &[&[u8]]) -> StructureTag {
        constructed(
            16,
            TagClass::Universal,
            vec![
                primitive(name.as_bytes()),
                constructed(
                    17,
                    TagClass::Universal,
                    values.iter().map(|v| primitive(v)).collect(),
                ),
            ],
        )
    }

    #[test]
    fn binary_values_survive_and_names_fold() {
        let guid = [
            0x00u8, 0xFF, 0x80, 0x7F, 0xC3, 0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        ];
        let tag = constructed(
            4,
            TagClass::Application,
            vec![
                primitive(b"CN=dev1,CN=RegisteredDevices,DC=contoso,DC=lab"),
                constructed(
                    16,
                    TagClass::Universal,
                    vec![
                        attribute("objectClass", &[b"top", b"msDS-Device"]),
                        attribute("msDS-DeviceID", &[&guid]),
                        attribute("displayName", &[b"laptop"]),
                    ],
                ),
            ],
        );
        let entry = Entry::from_tag(tag).unwrap();
        assert_eq!(
            entry.dn.to_string(),
            "CN=dev1,CN=RegisteredDevices,DC=contoso,DC=lab"
        );
        assert_eq!(entry.first_bytes("MSDS-DEVICEID"), Some(&guid[..]));
        assert_eq!(entry.first_str("msds-deviceid"), None, "not UTF-8");
        assert_eq!(entry.first_str("displayname"), Some("laptop"));
        assert_eq!(entry.structural_class(), Some("msDS-Device"));
        assert!(entry.has_object_class("MSDS-DEVICE"));
        assert_eq!(entry.strs("absent"), Vec::<&str>::new());
    }

    #[test]
    fn a_raw_entry_keeps_the_dn_as_sent_and_merges_a_name_sent_twice() {
        let tag = constructed(
            4,
            TagClass::Application,
            vec![
                primitive(b"cn=Dev1, CN=RegisteredDevices,DC=contoso,DC=lab"),
                constructed(
                    16,
                    TagClass::Universal,
                    vec![
                        attribute("displayName", &[b"a"]),
                        attribute("objectClass", &[b"top"]),
                        attribute("DISPLAYNAME", &[b"b"]),
                    ],
                ),
            ],
        );
        let raw = RawEntry::from_tag(tag.clone()).unwrap();
        assert_eq!(raw.dn(), "cn=Dev1, CN=RegisteredDevices,DC=contoso,DC=lab");
        assert_eq!(raw.values("displayname"), [b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(raw.first_bytes("OBJECTCLASS"), Some(&b"top"[..]));
        assert!(raw.values("absent").is_empty());
        let entry = raw.into_entry().unwrap();
        assert_eq!(entry, Entry::from_tag(tag).unwrap());
        assert_eq!(entry.strs("displayName"), ["a", "b"]);
        let bad_dn = constructed(4, TagClass::Application, vec![primitive(b"not a dn")]);
        let error = RawEntry::from_tag(bad_dn)
            .unwrap()
            .into_entry()
            .unwrap_err();
        assert!(error.to_string().contains("not a dn"), "{error}");
    }

    #[test]
    fn malformed_entries_are_errors_not_panics() {
        let cases = vec![
            (
                constructed(5, TagClass::Application, vec![]),
                "application tag 5 instead of 4",
            ),
            (
                StructureTag {
                    class: TagClass::Application,
                    id: 4,
                    payload: PL::P(vec![]),
                },
                "primitive instead of constructed",
            ),
            (
                constructed(4, TagClass::Application, vec![]),
                "no objectName",
            ),
            (
                constructed(4, TagClass::Application, vec![primitive(&[0xFF])]),
                "objectName is not UTF-8",
            ),
            (
                constructed(
                    4,
                    TagClass::Application,
                    vec![
                        primitive(b"DC=a"),
                        constructed(16, TagClass::Universal, vec![primitive(b"x")]),
                    ],
                ),
                "partial attribute is primitive",
            ),
        ];
        for (tag, expected) in cases {
            let error = Entry::from_tag(tag).unwrap_err().to_string();
            assert!(
                error.ends_with(expected),
                "{error} should end with {expected}"
            );
        }
    }
}
