//! Search filters (RFC 4515) compiled from the request and evaluated against stored entries
//! with LDAP's three-valued logic, AD's bitwise matching rules (`1.2.840.113556.1.4.803`
//! AND, `.804` OR) and binary-safe assertion values.
//!
//! How values compare depends on the attribute's syntax, which this module asks for through
//! [`crate::semantics::Semantics::matching`] (strings ignore case, octet strings compare as
//! bytes, integers as numbers). Whether the client may read an attribute is asked through a
//! closure: an attribute the client cannot read is absent for the filter too, as on AD.
//!
//! What it does not do: the in-chain rule (`.1941`) compares as DN equality, without walking
//! the chain; approximate match behaves as equality, as on AD.

use bytes::Bytes;
use devwb_model::Dn;

use crate::error::OpError;
use crate::request::Matching;
use crate::semantics::Semantics;
use crate::store::Entry;

/// OID of AD's bitwise AND matching rule.
pub const BITWISE_AND: &str = "1.2.840.113556.1.4.803";
/// OID of AD's bitwise OR matching rule.
pub const BITWISE_OR: &str = "1.2.840.113556.1.4.804";
/// OID of AD's transitive (in-chain) matching rule.
pub const IN_CHAIN: &str = "1.2.840.113556.1.4.1941";

/// LDAP's three truth values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truth {
    True,
    False,
    Undefined,
}

impl Truth {
    fn from_bool(value: bool) -> Truth {
        if value {
            Truth::True
        } else {
            Truth::False
        }
    }
}

/// One compiled filter item's attribute: its name and how its values compare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterAttr {
    pub name: String,
    pub matching: Matching,
}

/// A compiled filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Equal(FilterAttr, Bytes),
    Substrings {
        attr: FilterAttr,
        initial: Option<Bytes>,
        any: Vec<Bytes>,
        last: Option<Bytes>,
    },
    GreaterOrEqual(FilterAttr, Bytes),
    LessOrEqual(FilterAttr, Bytes),
    Present(String),
    Extensible {
        rule: Option<String>,
        attr: Option<FilterAttr>,
        value: Bytes,
        dn_attributes: bool,
    },
}

/// Which index can answer a filter directly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexedLookup {
    Guid(Bytes),
    Sid(Bytes),
    /// An equality on an attribute the store indexes: its index number and the value.
    Value(usize, Bytes),
}

fn text(value: &[u8]) -> String {
    String::from_utf8_lossy(value).into_owned()
}

impl Filter {
    /// Compiles a decoded filter, refusing one nested deeper than `max_depth`.
    pub fn compile(
        filter: &rasn_ldap::Filter,
        semantics: &Semantics,
        max_depth: usize,
    ) -> Result<Filter, OpError> {
        Filter::compile_at(filter, semantics, max_depth, 0)
    }

    fn compile_at(
        filter: &rasn_ldap::Filter,
        semantics: &Semantics,
        max_depth: usize,
        depth: usize,
    ) -> Result<Filter, OpError> {
        use rasn_ldap::Filter as F;
        if depth > max_depth {
            return Err(OpError::protocol(format!(
                "filter nested deeper than {max_depth} levels"
            )));
        }
        let attr = |name: &str| FilterAttr {
            name: name.to_string(),
            matching: semantics.matching(name),
        };
        let assertion = |name: &str, value: &[u8]| -> Bytes {
            if name.eq_ignore_ascii_case("objectCategory") && !value.contains(&b'=') {
                semantics.expand_object_category(&text(value))
            } else {
                Bytes::copy_from_slice(value)
            }
        };
        let compile_all =
            |items: &mut dyn Iterator<Item = &rasn_ldap::Filter>| -> Result<Vec<Filter>, OpError> {
                items
                    .map(|f| Filter::compile_at(f, semantics, max_depth, depth + 1))
                    .collect()
            };
        Ok(match filter {
            F::And(items) => Filter::And(compile_all(&mut items.iter())?),
            F::Or(items) => Filter::Or(compile_all(&mut items.iter())?),
            F::Not(inner) => Filter::Not(Box::new(Filter::compile_at(
                inner,
                semantics,
                max_depth,
                depth + 1,
            )?)),
            F::EqualityMatch(ava) | F::ApproxMatch(ava) => Filter::Equal(
                attr(&ava.attribute_desc),
                assertion(&ava.attribute_desc, &ava.assertion_value),
            ),
            F::GreaterOrEqual(ava) => Filter::GreaterOrEqual(
                attr(&ava.attribute_desc),
                Bytes::copy_from_slice(&ava.assertion_value),
            ),
            F::LessOrEqual(ava) => Filter::LessOrEqual(
                attr(&ava.attribute_desc),
                Bytes::copy_from_slice(&ava.assertion_value),
            ),
            F::Present(name) => Filter::Present(name.to_string()),
            F::Substrings(sub) => {
                let mut initial = None;
                let mut any = Vec::new();
                let mut last = None;
                for (index, piece) in sub.substrings.iter().enumerate() {
                    let is_last = index + 1 == sub.substrings.len();
                    match piece {
                        rasn_ldap::SubstringChoice::Initial(v) if index == 0 => initial = Some(Bytes::copy_from_slice(v)),
                        rasn_ldap::SubstringChoice::Any(v) => any.push(Bytes::copy_from_slice(v)),
                        rasn_ldap::SubstringChoice::Final(v) if is_last => last = Some(Bytes::copy_from_slice(v)),
                        _ => {
                            return Err(OpError::protocol(
                                "substring filter with 'initial' not first or 'final' not last (RFC 4511 section 4.5.1.7.2)",
                            ))
                        }
                    }
                }
                if sub.substrings.is_empty() {
                    return Err(OpError::protocol("substring filter without substrings"));
                }
                Filter::Substrings {
                    attr: attr(&sub.r#type),
                    initial,
                    any,
                    last,
                }
            }
            F::ExtensibleMatch(rule) => Filter::Extensible {
                rule: rule.matching_rule.as_ref().map(|r| r.to_string()),
                attr: rule.r#type.as_ref().map(|t| attr(t)),
                value: Bytes::copy_from_slice(&rule.match_value),
                dn_attributes: rule.dn_attributes,
            },
            _ => return Err(OpError::protocol("unknown filter choice")),
        })
    }

    /// The index lookup that narrows this filter's candidates, if any: an equality on
    /// `objectGUID`, `objectSid` or `msDS-DeviceID`, alone or inside an AND.
    pub fn indexed_lookup(&self) -> Option<IndexedLookup> {
        match self {
            Filter::Equal(attr, value) => {
                if attr.name.eq_ignore_ascii_case("objectGUID") {
                    Some(IndexedLookup::Guid(value.clone()))
                } else if attr.name.eq_ignore_ascii_case("objectSid") {
                    Some(IndexedLookup::Sid(value.clone()))
                } else {
                    crate::store::indexed_attribute(&attr.name)
                        .map(|index| IndexedLookup::Value(index, value.clone()))
                }
            }
            Filter::And(items) => items.iter().find_map(Filter::indexed_lookup),
            _ => None,
        }
    }

    /// Evaluates the filter on `entry`; `readable(name)` says whether the client may read an
    /// attribute (an unreadable attribute is treated as absent).
    pub fn evaluate(&self, entry: &Entry, readable: &dyn Fn(&str) -> bool) -> Truth {
        match self {
            Filter::And(items) => {
                let mut result = Truth::True;
                for item in items {
                    match item.evaluate(entry, readable) {
                        Truth::False => return Truth::False,
                        Truth::Undefined => result = Truth::Undefined,
                        Truth::True => {}
                    }
                }
                result
            }
            Filter::Or(items) => {
                let mut result = Truth::False;
                for item in items {
                    match item.evaluate(entry, readable) {
                        Truth::True => return Truth::True,
                        Truth::Undefined => result = Truth::Undefined,
                        Truth::False => {}
                    }
                }
                result
            }
            Filter::Not(inner) => match inner.evaluate(entry, readable) {
                Truth::True => Truth::False,
                Truth::False => Truth::True,
                Truth::Undefined => Truth::Undefined,
            },
            Filter::Present(name) => Truth::from_bool(
                readable(name)
                    && (entry.attrs.contains(name)
                        || name.eq_ignore_ascii_case("distinguishedName")),
            ),
            Filter::Equal(attr, value) => {
                any_value(entry, attr, readable, |v| equal(attr.matching, v, value))
            }
            Filter::GreaterOrEqual(attr, value) => any_value(entry, attr, readable, |v| {
                order(attr.matching, v, value).map(|o| o.is_ge())
            }),
            Filter::LessOrEqual(attr, value) => any_value(entry, attr, readable, |v| {
                order(attr.matching, v, value).map(|o| o.is_le())
            }),
            Filter::Substrings {
                attr,
                initial,
                any,
                last,
            } => any_value(entry, attr, readable, |v| {
                Some(substrings(
                    attr.matching,
                    v,
                    initial.as_deref(),
                    any,
                    last.as_deref(),
                ))
            }),
            Filter::Extensible {
                rule,
                attr,
                value,
                dn_attributes,
            } => extensible(
                entry,
                rule.as_deref(),
                attr.as_ref(),
                value,
                *dn_attributes,
                readable,
            ),
        }
    }

    /// Whether the filter matches (`True`; `False` and `Undefined` both exclude the entry).
    pub fn matches(&self, entry: &Entry, readable: &dyn Fn(&str) -> bool) -> bool {
        self.evaluate(entry, readable) == Truth::True
    }
}

/// True if some value satisfies `test`, False if none does, Undefined when the test cannot be
/// applied (for example an ordering on a non-integer assertion for an integer attribute).
fn any_value(
    entry: &Entry,
    attr: &FilterAttr,
    readable: &dyn Fn(&str) -> bool,
    test: impl Fn(&[u8]) -> Option<bool>,
) -> Truth {
    if !readable(&attr.name) {
        return Truth::Undefined;
    }
    let dn_value;
    let (computed, stored) = if attr.name.eq_ignore_ascii_case("distinguishedName")
        && !entry.attrs.contains("distinguishedName")
    {
        dn_value = entry.dn.to_string();
        (Some(dn_value.as_bytes()), None)
    } else {
        (None, Some(entry.attrs.values(&attr.name)))
    };
    let values = computed.into_iter().chain(stored.into_iter().flatten());
    let mut result = Truth::False;
    for value in values {
        match test(value) {
            Some(true) => return Truth::True,
            Some(false) => {}
            None => result = Truth::Undefined,
        }
    }
    result
}

fn parse_integer(value: &[u8]) -> Option<i64> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

fn fold_case(value: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(value) {
        Ok(text) if !text.is_ascii() => text.to_lowercase().into_bytes(),
        _ => value.to_ascii_lowercase(),
    }
}

/// Whether a stored value equals an assertion value under `matching`.
pub fn equal(matching: Matching, stored: &[u8], asserted: &[u8]) -> Option<bool> {
    Some(match matching {
        Matching::OctetString => stored == asserted,
        Matching::Integer => parse_integer(stored)? == parse_integer(asserted)?,
        Matching::Boolean | Matching::CaseIgnoreString | Matching::GeneralizedTime => {
            stored.eq_ignore_ascii_case(asserted)
                || (!stored.is_ascii() && fold_case(stored) == fold_case(asserted))
        }
        Matching::DistinguishedName => {
            let (Ok(a), Ok(b)) = (std::str::from_utf8(stored), std::str::from_utf8(asserted))
            else {
                return Some(false);
            };
            match (Dn::parse(a), Dn::parse(b)) {
                (Ok(a), Ok(b)) => a == b,
                _ => a.eq_ignore_ascii_case(b),
            }
        }
    })
}

fn order(matching: Matching, stored: &[u8], asserted: &[u8]) -> Option<std::cmp::Ordering> {
    match matching {
        Matching::Integer => Some(parse_integer(stored)?.cmp(&parse_integer(asserted)?)),
        Matching::OctetString => Some(stored.cmp(asserted)),
        _ => Some(fold_case(stored).cmp(&fold_case(asserted))),
    }
}

fn substrings(
    matching: Matching,
    stored: &[u8],
    initial: Option<&[u8]>,
    any: &[Bytes],
    last: Option<&[u8]>,
) -> bool {
    let fold = |v: &[u8]| {
        if matching == Matching::OctetString {
            v.to_vec()
        } else {
            fold_case(v)
        }
    };
    let value = fold(stored);
    let mut rest: &[u8] = &value;
    if let Some(initial) = initial {
        let initial = fold(initial);
        let Some(after) = rest.strip_prefix(initial.as_slice()) else {
            return false;
        };
        rest = after;
    }
    for piece in any {
        let piece = fold(piece);
        if piece.is_empty() {
            continue;
        }
        let Some(position) = rest
            .windows(piece.len())
            .position(|w| w == piece.as_slice())
        else {
            return false;
        };
        rest = rest.get(position + piece.len()..).unwrap_or_default();
    }
    match last {
        Some(last) => rest.ends_with(&fold(last)),
        None => true,
    }
}

fn extensible(
    entry: &Entry,
    rule: Option<&str>,
    attr: Option<&FilterAttr>,
    value: &[u8],
    dn_attributes: bool,
    readable: &dyn Fn(&str) -> bool,
) -> Truth {
    // AD: an extensible match without a type is Undefined.
    let Some(attr) = attr else {
        return Truth::Undefined;
    };
    let by_rule = match rule {
        Some(BITWISE_AND) => {
            let Some(mask) = parse_integer(value) else {
                return Truth::Undefined;
            };
            any_value(entry, attr, readable, |v| {
                parse_integer(v).map(|n| n & mask == mask)
            })
        }
        Some(BITWISE_OR) => {
            let Some(mask) = parse_integer(value) else {
                return Truth::Undefined;
            };
            any_value(entry, attr, readable, |v| {
                parse_integer(v).map(|n| n & mask != 0)
            })
        }
        Some(IN_CHAIN) => any_value(entry, attr, readable, |v| {
            equal(Matching::DistinguishedName, v, value)
        }),
        None => any_value(entry, attr, readable, |v| equal(attr.matching, v, value)),
        Some(_) => Truth::Undefined,
    };
    if by_rule == Truth::True || !dn_attributes {
        return by_rule;
    }
    // dnAttributes: the DN's own RDN values of that type count as values too.
    let in_dn = entry
        .dn
        .rdns()
        .iter()
        .flat_map(|rdn| rdn.avas())
        .any(|ava| {
            ava.attr().eq_ignore_ascii_case(&attr.name)
                && equal(attr.matching, ava.value().as_bytes(), value) == Some(true)
        });
    if in_dn {
        Truth::True
    } else {
        by_rule
    }
}

#[cfg(test)]
mod tests;
