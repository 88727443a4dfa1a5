//! One directory entry as the simulator stores it: a DN and its attributes, each attribute a
//! name and an ordered list of binary values.
//!
//! Values are bytes, not strings, because AD's octet-string attributes (`objectGUID`,
//! `objectSid`, `msDS-DeviceID`, `nTSecurityDescriptor`) are binary. The order of values is
//! kept as written, because clients read meaning into it (`objectClass` from `top` down to
//! the most specific class). Attribute names compare case-insensitively; the stored name is
//! the schema's lDAPDisplayName when the schema knows the attribute.
//!
//! The layout is compact because a directory holds entries by the hundred thousand (issue 16):
//! attribute names are interned once for the whole process (an entry keeps a 4-byte id per
//! attribute), and an entry's values live in one byte buffer with a 4-byte end offset each,
//! rather than one allocation per name and per value. Values of [`SHARED_VALUE_BYTES`] or more
//! (security descriptors above all, which the semantics layer interns) are kept as the `Bytes`
//! they came as, so an entry shares them instead of copying them. Reads hand out [`Values`], a
//! view that yields `&[u8]`; [`Values::to_vec`] gives owned `Bytes` where a caller needs them.
//!
//! What this module does not do: it knows no schema (no syntax, no single-valuedness) and no
//! DN rules; it only keeps names and values.

use std::collections::HashMap;
use std::fmt;
use std::sync::{LazyLock, OnceLock, RwLock};

use bytes::Bytes;
use devwb_model::Dn;

/// Values at least this long are kept as their own (usually shared) `Bytes` instead of being
/// copied into the entry's buffer: the semantics layer interns security descriptors, and
/// copying one into each of 100,000 entries would cost more than the whole rest of them.
pub const SHARED_VALUE_BYTES: usize = 128;

/// The most attribute names the process-wide table interns. Past it (only a client inventing
/// names could get there: AD's schema has about 1,500), names are kept in the entry itself.
const NAME_TABLE_CAPACITY: usize = 8192;

/// Names longer than this are never interned (the table leaks what it holds, so what it holds
/// stays bounded: at most `NAME_TABLE_CAPACITY` names of at most this length).
const MAX_INTERNED_NAME: usize = 128;

/// A slot's name with this bit set is not an id: the rest is the index in `ends` of a value
/// that holds the name's text.
const INLINE_NAME: u32 = 1 << 31;

/// The process-wide attribute name table: names are leaked once and never freed, so an entry
/// can hand out `&str` names borrowed from it without a lock.
struct NameTable {
    ids: RwLock<HashMap<&'static str, u32, rustc_hash::FxBuildHasher>>,
    names: Box<[OnceLock<&'static str>]>,
}

static NAMES: LazyLock<NameTable> = LazyLock::new(|| NameTable {
    ids: RwLock::new(HashMap::default()),
    names: (0..NAME_TABLE_CAPACITY).map(|_| OnceLock::new()).collect(),
});

/// The id of `name` (spelling kept: `cn` and `CN` are two ids), `None` when it cannot be
/// interned (the table is full or the name too long).
fn intern(name: &str) -> Option<u32> {
    if name.len() > MAX_INTERNED_NAME {
        return None;
    }
    let table = &*NAMES;
    {
        let ids = table.ids.read().unwrap_or_else(|p| p.into_inner());
        if let Some(&id) = ids.get(name) {
            return Some(id);
        }
    }
    let mut ids = table.ids.write().unwrap_or_else(|p| p.into_inner());
    if let Some(&id) = ids.get(name) {
        return Some(id);
    }
    let id = ids.len();
    let slot = table.names.get(id)?;
    let leaked: &'static str = Box::leak(Box::from(name));
    slot.set(leaked).ok()?;
    let id = u32::try_from(id).ok()?;
    ids.insert(leaked, id);
    Some(id)
}

fn interned_name(id: u32) -> &'static str {
    usize::try_from(id)
        .ok()
        .and_then(|id| NAMES.names.get(id))
        .and_then(OnceLock::get)
        .copied()
        .unwrap_or_default()
}

/// One attribute of an entry, owned: what [`Attributes::remove`] hands back and what callers
/// build attribute lists from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute's name as it is shown to clients (the schema's spelling when known).
    pub name: String,
    /// The values, in the order they were written.
    pub values: Vec<Bytes>,
}

impl Attribute {
    /// An attribute with the given name and values.
    pub fn new(name: impl Into<String>, values: Vec<Bytes>) -> Attribute {
        Attribute {
            name: name.into(),
            values,
        }
    }

    /// The first value as UTF-8 text, if there is one and it is text.
    pub fn first_str(&self) -> Option<&str> {
        self.values
            .first()
            .and_then(|v| std::str::from_utf8(v).ok())
    }
}

/// One attribute of a stored entry, borrowed: its name and a view of its values.
#[derive(Clone, Copy, Debug)]
pub struct AttributeRef<'a> {
    /// The attribute's name as it is shown to clients.
    pub name: &'a str,
    /// The values, in the order they were written.
    pub values: Values<'a>,
}

impl<'a> AttributeRef<'a> {
    /// The first value as UTF-8 text, if there is one and it is text.
    pub fn first_str(&self) -> Option<&'a str> {
        self.values
            .first()
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// An owned copy.
    pub fn to_attribute(&self) -> Attribute {
        Attribute::new(self.name, self.values.to_vec())
    }
}

/// The values of one attribute of an entry (empty when the attribute is absent): a view into
/// the entry's buffer that yields each value as `&[u8]`.
#[derive(Clone, Copy)]
pub struct Values<'a> {
    attrs: &'a Attributes,
    first: u32,
    count: u32,
}

impl<'a> Values<'a> {
    /// The number of values.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Value number `index`.
    pub fn get(&self, index: usize) -> Option<&'a [u8]> {
        if index >= self.len() {
            return None;
        }
        Some(self.attrs.value(self.first as usize + index))
    }

    /// The first value.
    pub fn first(&self) -> Option<&'a [u8]> {
        self.get(0)
    }

    /// The last value.
    pub fn last(&self) -> Option<&'a [u8]> {
        self.len().checked_sub(1).and_then(|i| self.get(i))
    }

    /// The values in order.
    pub fn iter(&self) -> ValuesIter<'a> {
        ValuesIter {
            attrs: self.attrs,
            next: self.first as usize,
            end: self.first as usize + self.len(),
        }
    }

    /// The values from `range` (clamped to what there is).
    pub fn slice(&self, range: std::ops::Range<usize>) -> Values<'a> {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        Values {
            attrs: self.attrs,
            first: self.first + start as u32,
            count: (end - start) as u32,
        }
    }

    /// Value number `index` as `Bytes`: the shared value itself, or a copy of the bytes.
    pub fn bytes(&self, index: usize) -> Option<Bytes> {
        if index >= self.len() {
            return None;
        }
        Some(self.attrs.value_bytes(self.first as usize + index))
    }

    /// The first value as `Bytes`.
    pub fn first_bytes(&self) -> Option<Bytes> {
        self.bytes(0)
    }

    fn value_in(&self, index: usize) -> ValueIn<'a> {
        let index = self.first as usize + index;
        let attrs = self.attrs;
        let start = attrs.start(index);
        let end = attrs.ends.get(index).map_or(start, |&end| end as usize);
        if start == end {
            if let Some(shared) = attrs.shared_at(index) {
                return ValueIn::Bytes(shared.clone());
            }
        }
        ValueIn::Slice(attrs.data.get(start..end).unwrap_or_default())
    }

    /// Owned copies of the values (shared values are shared, not copied).
    pub fn to_vec(&self) -> Vec<Bytes> {
        (0..self.len()).filter_map(|i| self.bytes(i)).collect()
    }

    /// Whether some value equals `value` byte for byte.
    pub fn contains(&self, value: &[u8]) -> bool {
        self.iter().any(|v| v == value)
    }
}

impl fmt::Debug for Values<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Bytes::copy_from_slice))
            .finish()
    }
}

impl PartialEq for Values<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl PartialEq<[Bytes]> for Values<'_> {
    fn eq(&self, other: &[Bytes]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == &b[..])
    }
}

impl PartialEq<Vec<Bytes>> for Values<'_> {
    fn eq(&self, other: &Vec<Bytes>) -> bool {
        *self == other[..]
    }
}

impl<'a> IntoIterator for Values<'a> {
    type Item = &'a [u8];
    type IntoIter = ValuesIter<'a>;

    fn into_iter(self) -> ValuesIter<'a> {
        self.iter()
    }
}

impl<'a> IntoIterator for &Values<'a> {
    type Item = &'a [u8];
    type IntoIter = ValuesIter<'a>;

    fn into_iter(self) -> ValuesIter<'a> {
        self.iter()
    }
}

/// The iterator of [`Values::iter`].
#[derive(Clone, Debug)]
pub struct ValuesIter<'a> {
    attrs: &'a Attributes,
    next: usize,
    end: usize,
}

impl<'a> Iterator for ValuesIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.next >= self.end {
            return None;
        }
        let value = self.attrs.value(self.next);
        self.next += 1;
        Some(value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.end - self.next;
        (left, Some(left))
    }
}

impl DoubleEndedIterator for ValuesIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        self.end -= 1;
        Some(self.attrs.value(self.end))
    }
}

impl ExactSizeIterator for ValuesIter<'_> {}

/// One attribute in [`Attributes`]: its name (an interned id, or [`INLINE_NAME`] and the
/// index of the value holding it) and where its values are in `ends`.
#[derive(Clone, Copy, Debug)]
struct Slot {
    name: u32,
    first: u32,
    count: u32,
}

/// The attributes of an entry: unique by case-insensitive name, in insertion order.
///
/// Values are appended to one buffer as they are set, with their end offsets in `ends`, in
/// the same order; a value replaced or removed stays behind as garbage until the next
/// [`Attributes::compact`] (run when garbage outweighs what is live, and by the store when it
/// takes an entry), so a change costs time in proportion to what it writes.
#[derive(Clone, Default)]
pub struct Attributes {
    slots: Vec<Slot>,
    /// End offset in `data` of each value; value `k` starts where value `k - 1` ends. A
    /// shared value takes no room in `data` (its start and end are equal) and is in `shared`.
    ends: Vec<u32>,
    data: Vec<u8>,
    /// The values kept as their own `Bytes`, with their index in `ends`.
    shared: Vec<(u32, Bytes)>,
}

impl Attributes {
    /// No attributes.
    pub fn new() -> Attributes {
        Attributes::default()
    }

    fn start(&self, index: usize) -> usize {
        index
            .checked_sub(1)
            .and_then(|previous| self.ends.get(previous))
            .map_or(0, |&end| end as usize)
    }

    fn value(&self, index: usize) -> &[u8] {
        let start = self.start(index);
        let end = self.ends.get(index).map_or(start, |&end| end as usize);
        if start == end {
            if let Some(shared) = self.shared_at(index) {
                return shared;
            }
        }
        self.data.get(start..end).unwrap_or_default()
    }

    /// The shared value at index `index` of `ends`, if that value is one (`shared` is in
    /// index order: values are only ever appended).
    fn shared_at(&self, index: usize) -> Option<&Bytes> {
        let index = u32::try_from(index).ok()?;
        self.shared
            .binary_search_by_key(&index, |(k, _)| *k)
            .ok()
            .and_then(|at| self.shared.get(at))
            .map(|(_, bytes)| bytes)
    }

    /// Appends a copy of value `index` (shared values stay shared).
    fn push_copy(&mut self, index: usize) {
        let start = self.start(index);
        let end = self.ends.get(index).map_or(start, |&end| end as usize);
        if start == end {
            if let Some(shared) = self.shared_at(index).cloned() {
                self.push_value(ValueIn::Bytes(shared));
                return;
            }
        }
        if end <= self.data.len() {
            self.data.extend_from_within(start..end);
        }
        self.ends.push(self.data.len() as u32);
    }

    fn value_bytes(&self, index: usize) -> Bytes {
        let start = self.start(index);
        let end = self.ends.get(index).map_or(start, |&end| end as usize);
        if start == end {
            if let Some(shared) = self.shared_at(index) {
                return shared.clone();
            }
        }
        Bytes::copy_from_slice(self.data.get(start..end).unwrap_or_default())
    }

    /// Appends one value to the buffer and returns its index in `ends`.
    fn push_value(&mut self, value: ValueIn<'_>) -> u32 {
        let index = self.ends.len() as u32;
        match value {
            ValueIn::Bytes(bytes) if bytes.len() >= SHARED_VALUE_BYTES => {
                self.shared.push((index, bytes));
            }
            ValueIn::Bytes(bytes) => self.data.extend_from_slice(&bytes),
            ValueIn::Slice(slice) if slice.len() >= SHARED_VALUE_BYTES => {
                self.shared.push((index, Bytes::copy_from_slice(slice)));
            }
            ValueIn::Slice(slice) => self.data.extend_from_slice(slice),
        }
        self.ends.push(self.data.len() as u32);
        index
    }

    fn slot_name(&self, slot: &Slot) -> &str {
        if slot.name & INLINE_NAME == 0 {
            interned_name(slot.name)
        } else {
            std::str::from_utf8(self.value((slot.name & !INLINE_NAME) as usize)).unwrap_or_default()
        }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.slots
            .iter()
            .position(|slot| self.slot_name(slot).eq_ignore_ascii_case(name))
    }

    fn values_of(&self, slot: &Slot) -> Values<'_> {
        Values {
            attrs: self,
            first: slot.first,
            count: slot.count,
        }
    }

    fn reference(&self, slot: &Slot) -> AttributeRef<'_> {
        AttributeRef {
            name: self.slot_name(slot),
            values: self.values_of(slot),
        }
    }

    fn new_slot_name(&mut self, name: &str) -> u32 {
        match intern(name) {
            Some(id) => id,
            None => INLINE_NAME | self.push_value(ValueIn::Slice(name.as_bytes())),
        }
    }

    /// The number of values still referenced (names kept inline count as one).
    fn live_values(&self) -> usize {
        self.slots
            .iter()
            .map(|slot| slot.count as usize + usize::from(slot.name & INLINE_NAME != 0))
            .sum()
    }

    fn compact_if_wasteful(&mut self) {
        if self.ends.len() > 2 * self.live_values() + 16 {
            self.compact();
        }
    }

    /// Rewrites the buffer with only the values still referenced, attribute after attribute,
    /// and gives back spare capacity. The store runs it on every entry it takes.
    pub fn compact(&mut self) {
        let mut packed = Attributes {
            slots: Vec::with_capacity(self.slots.len()),
            ends: Vec::with_capacity(self.live_values()),
            data: Vec::with_capacity(self.data.len()),
            shared: Vec::new(),
        };
        for slot in &self.slots {
            let name = if slot.name & INLINE_NAME == 0 {
                slot.name
            } else {
                let text = self.value((slot.name & !INLINE_NAME) as usize);
                INLINE_NAME | packed.push_value(ValueIn::Slice(text))
            };
            let first = packed.ends.len() as u32;
            for index in slot.first..slot.first + slot.count {
                let index = index as usize;
                let start = self.start(index);
                let end = self.ends.get(index).map_or(start, |&end| end as usize);
                let shared = (start == end).then(|| self.shared_at(index)).flatten();
                match shared {
                    Some(bytes) => packed.push_value(ValueIn::Bytes(bytes.clone())),
                    None => packed.push_value(ValueIn::Slice(
                        self.data.get(start..end).unwrap_or_default(),
                    )),
                };
            }
            packed.slots.push(Slot {
                name,
                first,
                count: slot.count,
            });
        }
        packed.slots.shrink_to_fit();
        packed.ends.shrink_to_fit();
        packed.data.shrink_to_fit();
        packed.shared.shrink_to_fit();
        *self = packed;
    }

    /// The attribute named `name` (any case).
    pub fn get(&self, name: &str) -> Option<AttributeRef<'_>> {
        let index = self.position(name)?;
        self.slots.get(index).map(|slot| self.reference(slot))
    }

    /// The first value of `name` as text.
    pub fn first_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|a| a.first_str())
    }

    /// Whether the attribute is present with at least one value.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some_and(|a| !a.values.is_empty())
    }

    /// Sets the values of `name`, replacing any it had; an empty list removes the attribute.
    pub fn set(&mut self, name: &str, values: Vec<Bytes>) {
        self.set_from(name, values.into_iter().map(ValueIn::Bytes));
    }

    /// Sets the values of `name` to those of another entry's attribute (copied, and shared
    /// where that entry shares them).
    pub fn set_values(&mut self, name: &str, values: Values<'_>) {
        self.set_from(name, (0..values.len()).map(|i| values.value_in(i)));
    }

    /// Sets the values of `name` from borrowed bytes (copied, or shared when they are long).
    pub fn set_slices<'v>(&mut self, name: &str, values: impl IntoIterator<Item = &'v [u8]>) {
        self.set_from(name, values.into_iter().map(ValueIn::Slice));
    }

    fn set_from<'v>(&mut self, name: &str, values: impl Iterator<Item = ValueIn<'v>>) {
        let first = self.ends.len() as u32;
        let mut count = 0u32;
        for value in values {
            self.push_value(value);
            count += 1;
        }
        if count == 0 {
            self.remove_slot(name);
            return;
        }
        match self.position(name) {
            Some(index) => {
                if let Some(slot) = self.slots.get_mut(index) {
                    slot.first = first;
                    slot.count = count;
                }
            }
            None => {
                // The name goes after the values here: they were pushed first.
                let name = self.new_slot_name(name);
                self.slots.push(Slot { name, first, count });
            }
        }
        self.compact_if_wasteful();
    }

    fn remove_slot(&mut self, name: &str) -> Option<Slot> {
        let index = self.position(name)?;
        let slot = self.slots.remove(index);
        self.compact_if_wasteful();
        Some(slot)
    }

    /// Removes `name`, returning it if it was present.
    pub fn remove(&mut self, name: &str) -> Option<Attribute> {
        let removed = self.get(name).map(|a| a.to_attribute())?;
        self.remove_slot(name);
        Some(removed)
    }

    /// All attributes, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = AttributeRef<'_>> + '_ {
        self.slots.iter().map(|slot| self.reference(slot))
    }

    /// The number of attributes.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no attributes.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Appends values to `name`, creating the attribute when absent.
    pub fn add_values(&mut self, name: &str, values: impl IntoIterator<Item = Bytes>) {
        let mut values = values.into_iter().peekable();
        if values.peek().is_none() {
            return;
        }
        let Some(index) = self.position(name) else {
            self.set_from(name, values.map(ValueIn::Bytes));
            return;
        };
        let Some(&slot) = self.slots.get(index) else {
            return;
        };
        let mut first = slot.first;
        if (slot.first + slot.count) as usize != self.ends.len() {
            // The attribute's values are not the last ones: move them to the end, where the
            // new ones go (the old copies are garbage until the next compaction).
            first = self.ends.len() as u32;
            for index in slot.first..slot.first + slot.count {
                self.push_copy(index as usize);
            }
        }
        let mut count = slot.count;
        for value in values {
            self.push_value(ValueIn::Bytes(value));
            count += 1;
        }
        if let Some(slot) = self.slots.get_mut(index) {
            slot.first = first;
            slot.count = count;
        }
        self.compact_if_wasteful();
    }

    /// Sets a single text value.
    pub fn set_str(&mut self, name: &str, value: &str) {
        self.set_slices(name, [value.as_bytes()]);
    }

    /// Sets text values.
    pub fn set_strs(&mut self, name: &str, values: &[&str]) {
        self.set_slices(name, values.iter().map(|v| v.as_bytes()));
    }

    /// All values of `name` (empty when absent).
    pub fn values(&self, name: &str) -> Values<'_> {
        match self.position(name).and_then(|index| self.slots.get(index)) {
            Some(slot) => self.values_of(slot),
            None => Values {
                attrs: self,
                first: 0,
                count: 0,
            },
        }
    }

    /// Whether `name` has a value equal to `value`, ignoring ASCII case.
    pub fn has_value_ignore_case(&self, name: &str, value: &str) -> bool {
        self.values(name)
            .iter()
            .any(|v| v.eq_ignore_ascii_case(value.as_bytes()))
    }

    /// The heap bytes this entry's attributes hold, shared values not counted (for the
    /// memory bench and its breakdown).
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.ends.capacity() * 4
            + self.data.capacity()
            + self.shared.capacity() * std::mem::size_of::<(u32, Bytes)>()
    }
}

/// A value on its way in: owned bytes (kept as they are when long) or a borrowed slice.
enum ValueIn<'v> {
    Bytes(Bytes),
    Slice(&'v [u8]),
}

impl fmt::Debug for Attributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|a| (a.name, a.values)))
            .finish()
    }
}

impl PartialEq for Attributes {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| a.name == b.name && a.values == b.values)
    }
}

impl Eq for Attributes {}

/// A stored entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The entry's name.
    pub dn: Dn,
    /// Its attributes, user and operational alike.
    pub attrs: Attributes,
}

impl Entry {
    /// An entry with no attributes.
    pub fn new(dn: Dn) -> Entry {
        Entry {
            dn,
            attrs: Attributes::new(),
        }
    }

    /// Whether `objectClass` contains `class` (any case).
    pub fn is_a(&self, class: &str) -> bool {
        self.attrs.has_value_ignore_case("objectClass", class)
    }

    /// The most specific object class: the last value of `objectClass`, as AD orders them.
    pub fn structural_class(&self) -> Option<&str> {
        self.attrs
            .values("objectClass")
            .last()
            .and_then(|v| std::str::from_utf8(v).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(values: Values<'_>) -> Vec<String> {
        values
            .iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    #[test]
    fn set_replace_add_and_remove_keep_order_and_values() {
        let mut attrs = Attributes::new();
        attrs.set_strs("objectClass", &["top", "msDS-Device"]);
        attrs.set_str("cn", "a");
        attrs.set_str("CN", "b");
        attrs.add_values("objectClass", [Bytes::from_static(b"extra")]);
        attrs.add_values("description", [Bytes::from_static(b"d")]);
        let long = Bytes::from(vec![7u8; SHARED_VALUE_BYTES + 1]);
        attrs.set("nTSecurityDescriptor", vec![long.clone()]);
        assert_eq!(
            attrs.iter().map(|a| a.name).collect::<Vec<_>>(),
            ["objectClass", "cn", "description", "nTSecurityDescriptor"]
        );
        assert_eq!(
            text(attrs.values("OBJECTCLASS")),
            ["top", "msDS-Device", "extra"]
        );
        assert_eq!(attrs.first_str("cn"), Some("b"));
        // A long value is the same buffer, not a copy.
        let kept = attrs.values("nTSecurityDescriptor").first_bytes().unwrap();
        assert_eq!(kept.as_ptr(), long.as_ptr());
        let removed = attrs.remove("Description").unwrap();
        assert_eq!(removed.name, "description");
        assert!(!attrs.contains("description"));
        attrs.set("cn", Vec::new());
        assert_eq!(attrs.len(), 2);
        let before = attrs.clone();
        attrs.compact();
        assert_eq!(attrs, before);
        assert_eq!(
            text(attrs.values("objectClass")),
            ["top", "msDS-Device", "extra"]
        );
        let kept = attrs.values("nTSecurityDescriptor").first_bytes().unwrap();
        assert_eq!(kept.as_ptr(), long.as_ptr());
    }

    #[test]
    fn rewriting_one_attribute_many_times_stays_small() {
        let mut attrs = Attributes::new();
        attrs.set_str("cn", "x");
        for n in 0..10_000 {
            attrs.set_str("description", &n.to_string());
        }
        for n in 0..10_000 {
            attrs.add_values("otherWellKnownObjects", [Bytes::from(n.to_string())]);
            if n % 1000 == 0 {
                attrs.set_str("description", &n.to_string());
            }
        }
        assert_eq!(attrs.first_str("description"), Some("9000"));
        assert_eq!(attrs.values("otherWellKnownObjects").len(), 10_000);
        assert!(attrs.ends.len() < 3 * 10_002 + 16, "{}", attrs.ends.len());
    }

    #[test]
    fn names_the_table_cannot_hold_are_kept_in_the_entry() {
        let long = "x".repeat(MAX_INTERNED_NAME + 1);
        let mut attrs = Attributes::new();
        attrs.set_str(&long, "v");
        attrs.set_str("cn", "c");
        attrs.compact();
        assert_eq!(attrs.first_str(&long.to_uppercase()), Some("v"));
        assert_eq!(attrs.iter().next().map(|a| a.name), Some(long.as_str()));
        assert_eq!(attrs.first_str("cn"), Some("c"));
    }
}
