//! One directory entry as the simulator stores it: a DN and its attributes, each attribute a
//! name and an ordered list of binary values.
//!
//! Values are bytes, not strings, because AD's octet-string attributes (`objectGUID`,
//! `objectSid`, `msDS-DeviceID`, `nTSecurityDescriptor`) are binary. The order of values is
//! kept as written, because clients read meaning into it (`objectClass` from `top` down to
//! the most specific class). Attribute names compare case-insensitively; the stored name is
//! the schema's lDAPDisplayName when the schema knows the attribute.

use bytes::Bytes;
use devwb_model::Dn;

/// One attribute of an entry.
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

/// The attributes of an entry: unique by case-insensitive name, in insertion order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    list: Vec<Attribute>,
}

impl Attributes {
    /// No attributes.
    pub fn new() -> Attributes {
        Attributes::default()
    }

    /// The attribute named `name` (any case).
    pub fn get(&self, name: &str) -> Option<&Attribute> {
        self.list.iter().find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The attribute named `name` (any case), for changing its values.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Attribute> {
        self.list
            .iter_mut()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The first value of `name` as text.
    pub fn first_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Attribute::first_str)
    }

    /// Whether the attribute is present with at least one value.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some_and(|a| !a.values.is_empty())
    }

    /// Sets the values of `name`, replacing any it had; an empty list removes the attribute.
    pub fn set(&mut self, name: &str, values: Vec<Bytes>) {
        if values.is_empty() {
            self.remove(name);
            return;
        }
        match self.get_mut(name) {
            Some(existing) => existing.values = values,
            None => self.list.push(Attribute::new(name, values)),
        }
    }

    /// Removes `name`, returning it if it was present.
    pub fn remove(&mut self, name: &str) -> Option<Attribute> {
        let index = self
            .list
            .iter()
            .position(|a| a.name.eq_ignore_ascii_case(name))?;
        Some(self.list.remove(index))
    }

    /// All attributes, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &Attribute> {
        self.list.iter()
    }

    /// The number of attributes.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are no attributes.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// A stored entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The entry's name.
    pub dn: Dn,
    /// Its attributes, user and operational alike.
    pub attrs: Attributes,
}

impl Attributes {
    /// Appends values to `name`, creating the attribute when absent.
    pub fn add_values(&mut self, name: &str, values: impl IntoIterator<Item = Bytes>) {
        match self.get_mut(name) {
            Some(existing) => existing.values.extend(values),
            None => {
                let values: Vec<Bytes> = values.into_iter().collect();
                if !values.is_empty() {
                    self.list.push(Attribute::new(name, values));
                }
            }
        }
    }

    /// Sets a single text value.
    pub fn set_str(&mut self, name: &str, value: &str) {
        self.set(name, vec![Bytes::copy_from_slice(value.as_bytes())]);
    }

    /// Sets text values.
    pub fn set_strs(&mut self, name: &str, values: &[&str]) {
        self.set(
            name,
            values
                .iter()
                .map(|v| Bytes::copy_from_slice(v.as_bytes()))
                .collect(),
        );
    }

    /// All values of `name` (empty when absent).
    pub fn values(&self, name: &str) -> &[Bytes] {
        self.get(name)
            .map(|a| a.values.as_slice())
            .unwrap_or_default()
    }

    /// Whether `name` has a value equal to `value`, ignoring ASCII case.
    pub fn has_value_ignore_case(&self, name: &str, value: &str) -> bool {
        self.values(name)
            .iter()
            .any(|v| v.eq_ignore_ascii_case(value.as_bytes()))
    }
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
