//! Value equality in linear time. Each value of an attribute is reduced to a key that two values
//! share exactly when [`super::rules::values_equal`] says they are equal under the attribute's
//! syntax (bytes for binary, integer and boolean syntaxes; the normalised name for DNs; the
//! lower-cased text for strings), so that duplicates are found with a hash set rather than by
//! comparing every pair: an add or modify with 100,000 values costs 100,000 hash operations,
//! not five billion comparisons (issue 13).
//!
//! The sets use the standard library's randomly keyed SipHash on purpose: the values come from
//! clients, and a fixed fast hash would let one choose values that all collide and make the set
//! quadratic again. What this module does not do: decide whether a value is valid for its
//! syntax ([`super::syntax`]) or whether an attribute may hold several values ([`super::rules`]).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};

use bytes::Bytes;
use devwb_model::Dn;

use super::syntax::Syntax;

/// Key prefixes: keys of different kinds never collide.
const RAW: u8 = 0;
const NAME: u8 = 1;
const TEXT: u8 = 2;

/// The equality key of `value` under `syntax`: two values are equal exactly when their keys are.
pub fn equality_key(syntax: Syntax, value: &[u8]) -> Cow<'_, [u8]> {
    let raw = || prefixed(RAW, value);
    if syntax.is_binary()
        || matches!(
            syntax,
            Syntax::Boolean | Syntax::Integer | Syntax::LargeInteger
        )
    {
        return raw();
    }
    let Ok(text) = std::str::from_utf8(value) else {
        return raw();
    };
    if syntax == Syntax::Dn {
        return match Dn::parse(text) {
            Ok(dn) => prefixed(NAME, dn.normalized().as_bytes()),
            Err(_) => raw(),
        };
    }
    prefixed(TEXT, text.to_lowercase().as_bytes())
}

fn prefixed(tag: u8, body: &[u8]) -> Cow<'static, [u8]> {
    let mut key = Vec::with_capacity(body.len() + 1);
    key.push(tag);
    key.extend_from_slice(body);
    Cow::Owned(key)
}

/// The index of the first value equal to an earlier one, if any.
pub fn first_duplicate(syntax: Syntax, values: &[Bytes]) -> Option<usize> {
    let mut seen: HashSet<Cow<'_, [u8]>> = HashSet::with_capacity(values.len());
    values
        .iter()
        .position(|value| !seen.insert(equality_key(syntax, value)))
}

/// The values of one attribute with an index by equality key, for applying a modify's adds and
/// deletes in time linear in the number of values.
#[derive(Debug)]
pub struct IndexedValues {
    syntax: Syntax,
    /// The values in order; a deleted one leaves `None` until [`IndexedValues::into_values`].
    values: Vec<Option<Bytes>>,
    /// Key -> positions of the values with that key still present, first first.
    positions: HashMap<Vec<u8>, VecDeque<usize>>,
}

impl IndexedValues {
    /// Indexes `values` under `syntax`.
    pub fn new(syntax: Syntax, values: Vec<Bytes>) -> IndexedValues {
        let mut positions: HashMap<Vec<u8>, VecDeque<usize>> = HashMap::with_capacity(values.len());
        for (index, value) in values.iter().enumerate() {
            positions
                .entry(equality_key(syntax, value).into_owned())
                .or_default()
                .push_back(index);
        }
        IndexedValues {
            syntax,
            values: values.into_iter().map(Some).collect(),
            positions,
        }
    }

    /// Whether a value equal to `value` is present.
    pub fn contains(&self, value: &[u8]) -> bool {
        self.positions
            .get(equality_key(self.syntax, value).as_ref())
            .is_some_and(|found| !found.is_empty())
    }

    /// Adds `value` at the end (whether or not an equal one is present: callers decide).
    pub fn push(&mut self, value: Bytes) {
        let index = self.values.len();
        self.positions
            .entry(equality_key(self.syntax, &value).into_owned())
            .or_default()
            .push_back(index);
        self.values.push(Some(value));
    }

    /// Removes the first value equal to `value`; false when there is none.
    pub fn remove(&mut self, value: &[u8]) -> bool {
        let key = equality_key(self.syntax, value);
        let Some(found) = self.positions.get_mut(key.as_ref()) else {
            return false;
        };
        let Some(index) = found.pop_front() else {
            return false;
        };
        if let Some(slot) = self.values.get_mut(index) {
            *slot = None;
        }
        true
    }

    /// The values still present, in order.
    pub fn into_values(self) -> Vec<Bytes> {
        self.values.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::rules::values_equal;
    use super::*;

    const SYNTAXES: [Syntax; 8] = [
        Syntax::Unicode,
        Syntax::OctetString,
        Syntax::Dn,
        Syntax::Integer,
        Syntax::Boolean,
        Syntax::String,
        Syntax::Time { utc: false },
        Syntax::Sid,
    ];

    /// Keys agree with `values_equal` on every pair of a sample that mixes case, DN spacing,
    /// non-ASCII text, bytes that are not UTF-8 and numbers written two ways.
    #[test]
    fn keys_agree_with_values_equal() {
        let sample: Vec<&[u8]> = vec![
            b"abc",
            b"ABC",
            b"Abc ",
            "ÄRGER".as_bytes(),
            "ärger".as_bytes(),
            b"CN=a,DC=x",
            b"cn=A, dc=X",
            b"CN=b,DC=x",
            b"not a dn =",
            b"NOT A DN =",
            b"1",
            b"01",
            b"TRUE",
            b"true",
            &[0xff, 0xfe],
            &[0xff, 0xfe, 0x00],
            b"",
        ];
        for syntax in SYNTAXES {
            for a in &sample {
                for b in &sample {
                    assert_eq!(
                        equality_key(syntax, a) == equality_key(syntax, b),
                        values_equal(syntax, a, b),
                        "{syntax:?}: {a:?} vs {b:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn duplicates_are_found_in_one_pass() {
        let values: Vec<Bytes> = ["a", "b", "B", "c"].map(Bytes::from).to_vec();
        assert_eq!(first_duplicate(Syntax::Unicode, &values), Some(2));
        assert_eq!(first_duplicate(Syntax::OctetString, &values), None);
        let many: Vec<Bytes> = (0..200_000).map(|i| Bytes::from(format!("v{i}"))).collect();
        assert_eq!(first_duplicate(Syntax::Unicode, &many), None);
    }

    #[test]
    fn indexed_values_add_and_remove_like_the_pairwise_loops() {
        let start: Vec<Bytes> = ["a", "b", "c"].map(Bytes::from).to_vec();
        let mut values = IndexedValues::new(Syntax::Unicode, start);
        assert!(values.contains(b"B"));
        assert!(!values.contains(b"d"));
        values.push(Bytes::from_static(b"d"));
        assert!(values.remove(b"A"));
        assert!(!values.remove(b"a"), "removed once");
        assert!(values.remove(b"D"));
        values.push(Bytes::from_static(b"e"));
        let left = values.into_values();
        assert_eq!(left, ["b", "c", "e"].map(Bytes::from));
    }
}
