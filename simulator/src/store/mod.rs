//! The directory store: every entry of a forest, indexed by normalized DN, by parent (for
//! one-level and subtree searches), and by the binary identifiers clients look objects up by
//! (`objectGUID`, `objectSid`, `msDS-DeviceID`).
//!
//! Entries are immutable once stored and shared as `Arc<Entry>`: a search takes the
//! candidates under a short read lock and evaluates them after releasing it, and a modify
//! replaces the `Arc` (copy on write). The lock is a plain `RwLock` held only for map
//! operations, never across an `.await`. The store assigns update sequence numbers
//! (`uSNCreated`, `uSNChanged`) because they must be ordered with the writes themselves.
//!
//! What it does not do: it checks the tree's shape (the parent exists, the name is free, a
//! non-leaf is not deleted without tree delete) but no schema or access rule; those belong to
//! the [`crate::semantics`] layer, which runs before the store is touched.

pub mod entry;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use devwb_model::Dn;

pub use entry::{Attribute, Attributes, Entry};

use crate::error::{OpError, ResultCode};

/// A password kept beside the directory (never an attribute, never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Secret {
        Secret(password.into())
    }

    /// The password, for comparing.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares in time independent of where the first difference is.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        let own = self.0.as_bytes();
        let mut difference = own.len() ^ candidate.len();
        for (i, &b) in own.iter().enumerate() {
            difference |= usize::from(b ^ candidate.get(i).copied().unwrap_or(!b));
        }
        difference == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

/// FxHash (rustc's hasher, from rustc-hash): the maps below are keyed by DNs and values that a
/// test controls, and SipHash's protection against chosen collisions costs a tenth of an add
/// here. rustc-hash 2's `finish` rotates the product so that the low bits hashbrown picks
/// buckets by depend on the whole key: a plain Fx multiply leaves them depending on the last
/// word's low bytes only, and 100,000 `bench-000nnnnn` names then share a few buckets.
type FastMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;

/// The normalized DN of the parent, from a normalized DN, without building a `Dn`: the text
/// after the first RDN separator that is not escaped. `""` (the root) for a one-RDN name.
fn parent_key(normalized: &str) -> &str {
    let bytes = normalized.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b',' => return normalized.get(i + 1..).unwrap_or_default(),
            _ => i += 1,
        }
    }
    ""
}

#[derive(Clone, Default)]
struct Tree {
    entries: FastMap<String, Arc<Entry>>,
    children: FastMap<String, BTreeSet<String>>,
    /// Naming context heads: entries whose parent is not linked to them.
    naming_contexts: BTreeSet<String>,
    by_guid: FastMap<[u8; 16], Arc<str>>,
    by_sid: FastMap<Bytes, Arc<str>>,
    /// Equality index of the attributes in [`INDEXED_ATTRIBUTES`]: (attribute number, folded
    /// value) to the entries holding that value.
    by_value: FastMap<(usize, Vec<u8>), Vec<Arc<str>>>,
    /// The entries with `member` values (groups that have members): tokens and `memberOf`
    /// are computed from them, and a directory of 100,000 devices has a few dozen.
    with_members: BTreeSet<Arc<str>>,
    secrets: FastMap<String, Secret>,
    usn: u64,
}

/// A copy of the whole store, for restoring later. Cheap: entries are shared.
#[derive(Clone)]
pub struct Snapshot(Tree);

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Snapshot({} entries, usn {})",
            self.0.entries.len(),
            self.0.usn
        )
    }
}

/// The entries of one forest.
#[derive(Default)]
pub struct Store {
    tree: RwLock<Tree>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tree = self.read();
        write!(f, "Store({} entries, usn {})", tree.entries.len(), tree.usn)
    }
}

/// Attributes with an equality index, and whether their values fold case (strings) or compare
/// as bytes. A filter on one of them looks up candidates instead of scanning a container.
pub const INDEXED_ATTRIBUTES: &[(&str, bool)] = &[
    ("cn", true),
    ("sAMAccountName", true),
    ("userPrincipalName", true),
    ("msDS-DeviceID", false),
    ("displayName", true),
];

/// The position of `attribute` in [`INDEXED_ATTRIBUTES`].
pub fn indexed_attribute(attribute: &str) -> Option<usize> {
    INDEXED_ATTRIBUTES
        .iter()
        .position(|(name, _)| name.eq_ignore_ascii_case(attribute))
}

/// The index form of a value of indexed attribute number `index`.
pub fn index_value(index: usize, value: &[u8]) -> Vec<u8> {
    let fold = INDEXED_ATTRIBUTES.get(index).is_some_and(|(_, fold)| *fold);
    if !fold {
        return value.to_vec();
    }
    match std::str::from_utf8(value) {
        Ok(text) if !text.is_ascii() => text.to_lowercase().into_bytes(),
        _ => value.to_ascii_lowercase(),
    }
}

fn guid_key(value: &[u8]) -> Option<[u8; 16]> {
    value.try_into().ok()
}

impl Tree {
    fn index(&mut self, key: &str, entry: &Entry) {
        // One shared copy of the key for every index slot of this entry.
        let key: Arc<str> = Arc::from(key);
        if let Some(guid) = entry
            .attrs
            .values("objectGUID")
            .first()
            .and_then(|v| guid_key(v))
        {
            self.by_guid.insert(guid, key.clone());
        }
        if let Some(sid) = entry.attrs.values("objectSid").first() {
            self.by_sid.insert(sid.clone(), key.clone());
        }
        if entry.attrs.contains("member") {
            self.with_members.insert(key.clone());
        }
        for (index, (name, _)) in INDEXED_ATTRIBUTES.iter().enumerate() {
            for value in entry.attrs.values(name) {
                let keys = self
                    .by_value
                    .entry((index, index_value(index, value)))
                    .or_default();
                if !keys.iter().any(|k| **k == *key) {
                    keys.push(key.clone());
                }
            }
        }
    }

    fn unindex(&mut self, entry: &Entry) {
        if let Some(guid) = entry
            .attrs
            .values("objectGUID")
            .first()
            .and_then(|v| guid_key(v))
        {
            self.by_guid.remove(&guid);
        }
        if let Some(sid) = entry.attrs.values("objectSid").first() {
            self.by_sid.remove(sid);
        }
        let key = entry.dn.normalized();
        self.with_members.remove(key);
        for (index, (name, _)) in INDEXED_ATTRIBUTES.iter().enumerate() {
            for value in entry.attrs.values(name) {
                let slot = (index, index_value(index, value));
                if let Some(keys) = self.by_value.get_mut(&slot) {
                    keys.retain(|k| &**k != key);
                    if keys.is_empty() {
                        self.by_value.remove(&slot);
                    }
                }
            }
        }
    }

    fn next_usn(&mut self) -> u64 {
        self.usn += 1;
        self.usn
    }

    fn insert(&mut self, entry: Entry, link_to_parent: bool) -> Arc<Entry> {
        let key = entry.dn.normalized().to_string();
        if link_to_parent {
            if let Some(parent) = entry.dn.parent() {
                self.children
                    .entry(parent.normalized().to_string())
                    .or_default()
                    .insert(key.clone());
            }
        } else {
            self.naming_contexts.insert(key.clone());
        }
        self.index(&key, &entry);
        let stored = Arc::new(entry);
        self.entries.insert(key, stored.clone());
        stored
    }

    fn remove(&mut self, key: &str) -> Option<Arc<Entry>> {
        let removed = self.entries.remove(key)?;
        self.unindex(&removed);
        self.children.remove(key);
        self.naming_contexts.remove(key);
        self.secrets.remove(key);
        let parent = parent_key(key);
        if let Some(siblings) = self.children.get_mut(parent) {
            siblings.remove(key);
            if siblings.is_empty() {
                self.children.remove(parent);
            }
        }
        Some(removed)
    }

    /// Keys of `key`'s subtree, parents before children.
    fn subtree_keys(&self, key: &str) -> Vec<String> {
        let mut out = vec![key.to_string()];
        let mut next = 0;
        while let Some(current) = out.get(next).cloned() {
            if let Some(children) = self.children.get(&current) {
                out.extend(children.iter().cloned());
            }
            next += 1;
        }
        out
    }

    fn matched(&self, dn: &Dn) -> Option<Dn> {
        let mut current = dn.parent();
        while let Some(candidate) = current {
            if candidate.is_root() {
                return None;
            }
            if self.entries.contains_key(candidate.normalized()) {
                return Some(candidate);
            }
            current = candidate.parent();
        }
        None
    }
}

fn set_usn(entry: &mut Entry, name: &str, usn: u64) {
    entry.attrs.set_str(name, &usn.to_string());
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, Tree> {
        // A panic elsewhere while holding the lock leaves the maps consistent (every change
        // is a few map operations), so a poisoned lock is still usable.
        self.tree
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Tree> {
        self.tree
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.read().entries.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The highest update sequence number given out.
    pub fn highest_usn(&self) -> u64 {
        self.read().usn
    }

    /// The entry named `dn`.
    pub fn get(&self, dn: &Dn) -> Option<Arc<Entry>> {
        self.read().entries.get(dn.normalized()).cloned()
    }

    /// The entry whose `objectGUID` is `guid` (16 bytes in AD's order).
    pub fn get_by_guid(&self, guid: &[u8]) -> Option<Arc<Entry>> {
        let tree = self.read();
        let key = tree.by_guid.get(&guid_key(guid)?)?;
        tree.entries.get(&**key).cloned()
    }

    /// The entry whose `objectSid` is `sid` (binary form).
    pub fn get_by_sid(&self, sid: &[u8]) -> Option<Arc<Entry>> {
        let tree = self.read();
        let key = tree.by_sid.get(sid)?;
        tree.entries.get(&**key).cloned()
    }

    /// The entry whose `msDS-DeviceID` is `device_id`.
    pub fn get_by_device_id(&self, device_id: &[u8]) -> Option<Arc<Entry>> {
        let index = indexed_attribute("msDS-DeviceID")?;
        self.get_by_value(index, device_id).into_iter().next()
    }

    /// The entries holding `value` in indexed attribute number `index` (see [`indexed_attribute`]).
    pub fn get_by_value(&self, index: usize, value: &[u8]) -> Vec<Arc<Entry>> {
        let tree = self.read();
        tree.by_value
            .get(&(index, index_value(index, value)))
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| tree.entries.get(&**k).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The deepest existing ancestor of `dn`, for `noSuchObject`'s matched DN.
    pub fn matched(&self, dn: &Dn) -> Option<Dn> {
        self.read().matched(dn)
    }

    /// `noSuchObject` for `dn`, with its matched DN.
    pub fn no_such_object(&self, dn: &Dn) -> OpError {
        OpError::no_such_object(dn, self.matched(dn))
    }

    /// The entry named `dn`, or `noSuchObject`.
    pub fn require(&self, dn: &Dn) -> Result<Arc<Entry>, OpError> {
        self.get(dn).ok_or_else(|| self.no_such_object(dn))
    }

    /// Whether `dn` has children.
    pub fn has_children(&self, dn: &Dn) -> bool {
        self.read()
            .children
            .get(dn.normalized())
            .is_some_and(|c| !c.is_empty())
    }

    /// The direct children of `dn` (naming contexts below it are not children).
    pub fn children(&self, dn: &Dn) -> Vec<Arc<Entry>> {
        let tree = self.read();
        tree.children
            .get(dn.normalized())
            .map(|keys| {
                keys.iter()
                    .filter_map(|k| tree.entries.get(&**k).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `dn` and everything below it in its naming context, parents before children.
    pub fn subtree(&self, dn: &Dn) -> Vec<Arc<Entry>> {
        let tree = self.read();
        if !tree.entries.contains_key(dn.normalized()) {
            return Vec::new();
        }
        tree.subtree_keys(dn.normalized())
            .iter()
            .filter_map(|k| tree.entries.get(k).cloned())
            .collect()
    }

    /// The naming context heads, in DN order.
    pub fn naming_contexts(&self) -> Vec<Arc<Entry>> {
        let tree = self.read();
        tree.naming_contexts
            .iter()
            .filter_map(|k| tree.entries.get(k).cloned())
            .collect()
    }

    /// Adds a naming context head: an entry whose parent need not exist and whose subtree is
    /// not part of its parent's.
    pub fn add_naming_context(&self, mut entry: Entry) -> Result<Arc<Entry>, OpError> {
        let mut tree = self.write();
        if tree.entries.contains_key(entry.dn.normalized()) {
            return Err(already_exists(&entry.dn));
        }
        let usn = tree.next_usn();
        set_usn(&mut entry, "uSNCreated", usn);
        set_usn(&mut entry, "uSNChanged", usn);
        Ok(tree.insert(entry, false))
    }

    /// Adds an entry below an existing parent, assigning its USNs.
    pub fn add(&self, mut entry: Entry) -> Result<Arc<Entry>, OpError> {
        let parent = parent_key(entry.dn.normalized());
        if parent.is_empty() {
            return Err(OpError::new(
                ResultCode::NAMING_VIOLATION,
                format!("00002099: NameErr: DSID-0305109C, problem 2005 (NAMING_VIOLATION), data 0, {} has no parent", entry.dn),
            ));
        }
        let mut tree = self.write();
        if tree.entries.contains_key(entry.dn.normalized()) {
            return Err(already_exists(&entry.dn));
        }
        if !tree.entries.contains_key(parent) {
            let parent = entry.dn.parent().unwrap_or_else(Dn::root);
            return Err(OpError::no_such_object(&parent, tree.matched(&parent)));
        }
        if let Some(guid) = entry
            .attrs
            .values("objectGUID")
            .first()
            .and_then(|v| guid_key(v))
        {
            if tree.by_guid.contains_key(&guid) {
                return Err(OpError::unwilling(format!(
                    "00000057: LdapErr: DSID-0C090C6D, comment: objectGUID of {} is already in use, data 0",
                    entry.dn
                )));
            }
        }
        let usn = tree.next_usn();
        set_usn(&mut entry, "uSNCreated", usn);
        set_usn(&mut entry, "uSNChanged", usn);
        Ok(tree.insert(entry, true))
    }

    /// Replaces an existing entry (same DN) with a changed copy, assigning `uSNChanged`.
    /// `expected` guards against a concurrent change: when the stored entry is no longer the
    /// one the change was computed from, the change is refused with `busy` and nothing is lost.
    pub fn replace(&self, expected: &Arc<Entry>, mut entry: Entry) -> Result<Arc<Entry>, OpError> {
        let mut tree = self.write();
        let key = entry.dn.normalized().to_string();
        let Some(current) = tree.entries.get(&key) else {
            return Err(OpError::no_such_object(&entry.dn, tree.matched(&entry.dn)));
        };
        if !Arc::ptr_eq(current, expected) {
            return Err(OpError::new(
                ResultCode::BUSY,
                format!("00002024: SvcErr: DSID-02080EDE, problem 5001 (BUSY), data 0, {} changed concurrently", entry.dn),
            ));
        }
        let old = current.clone();
        let usn = tree.next_usn();
        set_usn(&mut entry, "uSNChanged", usn);
        tree.unindex(&old);
        tree.index(&key, &entry);
        let stored = Arc::new(entry);
        tree.entries.insert(key, stored.clone());
        Ok(stored)
    }

    /// Deletes `dn`; with `tree_delete`, its whole subtree. Returns the removed entries.
    pub fn delete(&self, dn: &Dn, tree_delete: bool) -> Result<Vec<Arc<Entry>>, OpError> {
        let mut tree = self.write();
        let key = dn.normalized();
        if !tree.entries.contains_key(key) {
            return Err(OpError::no_such_object(dn, tree.matched(dn)));
        }
        let has_children = tree.children.get(key).is_some_and(|c| !c.is_empty());
        if has_children && !tree_delete {
            return Err(OpError::new(
                ResultCode::NOT_ALLOWED_ON_NON_LEAF,
                "00002015: UpdErr: DSID-030A0AE1, problem 6003 (CANT_ON_NON_LEAF), data 0\n",
            ));
        }
        let keys = tree.subtree_keys(key);
        tree.usn += 1;
        Ok(keys.iter().rev().filter_map(|k| tree.remove(k)).collect())
    }

    /// Renames or moves `old` (and its subtree) to `renamed.dn`; `renamed` is the entry's new
    /// content (its RDN attribute already changed). Descendants get their new DNs.
    pub fn rename(&self, old: &Dn, renamed: Entry) -> Result<Arc<Entry>, OpError> {
        let mut tree = self.write();
        let old_key = old.normalized().to_string();
        if !tree.entries.contains_key(&old_key) {
            return Err(OpError::no_such_object(old, tree.matched(old)));
        }
        let new_dn = renamed.dn.clone();
        if new_dn != *old && tree.entries.contains_key(new_dn.normalized()) {
            return Err(already_exists(&new_dn));
        }
        let new_parent = new_dn.parent().unwrap_or_else(Dn::root);
        if !tree.entries.contains_key(new_parent.normalized()) {
            return Err(OpError::no_such_object(
                &new_parent,
                tree.matched(&new_parent),
            ));
        }
        if new_dn.is_descendant_of(old) {
            return Err(OpError::unwilling(format!(
                "00002089: UpdErr: DSID-031B0DDB, problem 5012 (DIR_ERROR), data 0, cannot move {old} below itself"
            )));
        }
        let keys = tree.subtree_keys(&old_key);
        let mut moved: Vec<(Arc<Entry>, Option<Secret>)> = Vec::with_capacity(keys.len());
        for key in keys.iter().rev() {
            let secret = tree.secrets.get(key).cloned();
            if let Some(entry) = tree.remove(key) {
                moved.push((entry, secret));
            }
        }
        moved.reverse();
        let usn = tree.next_usn();
        let mut result = None;
        for (index, (entry, secret)) in moved.into_iter().enumerate() {
            let mut entry = if index == 0 {
                renamed.clone()
            } else {
                (*entry).clone()
            };
            if index > 0 {
                entry.dn = rebase(&entry.dn, old, &new_dn);
            }
            entry
                .attrs
                .set_str("distinguishedName", &entry.dn.to_string());
            set_usn(&mut entry, "uSNChanged", usn);
            let key = entry.dn.normalized().to_string();
            if let Some(secret) = secret {
                tree.secrets.insert(key, secret);
            }
            let stored = tree.insert(entry, true);
            if index == 0 {
                result = Some(stored);
            }
        }
        result.ok_or_else(|| OpError::no_such_object(old, None))
    }

    /// Gives the stored entry `dn` these update sequence numbers (a seed loading a dump keeps
    /// them) and moves the counter past them, so no USN is handed out twice.
    pub fn keep_usns(&self, dn: &Dn, created: u64, changed: u64) {
        let mut tree = self.write();
        let key = dn.normalized();
        if let Some(current) = tree.entries.get(key) {
            let mut entry = (**current).clone();
            set_usn(&mut entry, "uSNCreated", created);
            set_usn(&mut entry, "uSNChanged", changed);
            tree.entries.insert(key.to_string(), Arc::new(entry));
        }
        tree.usn = tree.usn.max(created).max(changed);
    }

    /// Stores a password for the account `dn`.
    pub fn set_secret(&self, dn: &Dn, secret: Secret) {
        self.write()
            .secrets
            .insert(dn.normalized().to_string(), secret);
    }

    /// The password of the account `dn`, if it has one.
    pub fn secret(&self, dn: &Dn) -> Option<Secret> {
        self.read().secrets.get(dn.normalized()).cloned()
    }

    /// The entries that have a password (the accounts a bind can name).
    pub fn accounts(&self) -> Vec<Arc<Entry>> {
        let tree = self.read();
        tree.secrets
            .keys()
            .filter_map(|k| tree.entries.get(k).cloned())
            .collect()
    }

    /// Every entry, naming contexts first, each parent before its children.
    pub fn all(&self) -> Vec<Arc<Entry>> {
        let tree = self.read();
        tree.naming_contexts
            .iter()
            .flat_map(|nc| tree.subtree_keys(nc))
            .filter_map(|k| tree.entries.get(&k).cloned())
            .collect()
    }

    /// Every entry that has `member` values, in DN order.
    pub fn entries_with_members(&self) -> Vec<Arc<Entry>> {
        let tree = self.read();
        tree.with_members
            .iter()
            .filter_map(|key| tree.entries.get(&**key).cloned())
            .collect()
    }

    /// A copy of the store's state.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(self.read().clone())
    }

    /// Puts back a state taken with [`Store::snapshot`]. USNs keep growing: the restored
    /// state gets the higher of the two counters, so no USN is handed out twice.
    pub fn restore(&self, snapshot: &Snapshot) {
        let mut tree = self.write();
        let usn = tree.usn.max(snapshot.0.usn);
        *tree = snapshot.0.clone();
        tree.usn = usn;
    }
}

fn already_exists(dn: &Dn) -> OpError {
    OpError::new(
        ResultCode::ENTRY_ALREADY_EXISTS,
        format!("00002071: UpdErr: DSID-030503AD, problem 6005 (ENTRY_EXISTS), data 0, {dn}\n"),
    )
}

/// `dn`, which lies within `old_base`, moved to lie within `new_base`.
fn rebase(dn: &Dn, old_base: &Dn, new_base: &Dn) -> Dn {
    let keep = dn.depth().saturating_sub(old_base.depth());
    let mut rdns: Vec<_> = dn.rdns().iter().take(keep).cloned().collect();
    rdns.extend(new_base.rdns().iter().cloned());
    Dn::from_rdns(rdns)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod parent_key_tests {
    use super::*;

    #[test]
    fn parent_key_respects_escapes() {
        for text in [
            "CN=a,DC=x",
            r"CN=a\,b,DC=x",
            r"CN=a\\,DC=x",
            "DC=x",
            r"CN=x\,DC=y,DC=z",
            "CN=a+UID=b,DC=x",
        ] {
            let dn = Dn::parse(text).unwrap();
            let expected = dn
                .parent()
                .map(|p| p.normalized().to_string())
                .unwrap_or_default();
            assert_eq!(parent_key(dn.normalized()), expected, "{text}");
        }
    }
}
