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

use devwb_model::Dn;

pub use entry::{Attribute, AttributeRef, Attributes, Entry, Values, ValuesIter};

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

/// A stored entry in the store's sets and indexes: hashed, compared and ordered by its
/// normalized DN, which the entry already holds, so no set keeps a key of its own. Sets of
/// `Stored` are looked up by `&str` (the normalized DN) through `Borrow`.
#[derive(Clone)]
struct Stored(Arc<Entry>);

impl Stored {
    fn key(&self) -> &str {
        self.0.dn.normalized()
    }
}

impl std::borrow::Borrow<str> for Stored {
    fn borrow(&self) -> &str {
        self.key()
    }
}

impl std::hash::Hash for Stored {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // The same as hashing the `&str` it borrows as, as `Borrow` requires.
        self.key().hash(state);
    }
}

impl PartialEq for Stored {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Stored {}

impl PartialOrd for Stored {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Stored {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(other.key())
    }
}

/// The entries holding one indexed value: nearly always one (a device id, a name), so one is
/// kept without a list.
// The box keeps the common case (one entry) at 16 bytes a slot: a bare Vec would make every
// slot 24 bytes for the rare value that several entries share.
#[allow(clippy::box_collection)]
#[derive(Clone)]
enum Postings {
    One(Arc<Entry>),
    Many(Box<Vec<Arc<Entry>>>),
}

impl Postings {
    fn iter(&self) -> impl Iterator<Item = &Arc<Entry>> {
        let (one, many) = match self {
            Postings::One(entry) => (Some(entry), None),
            Postings::Many(entries) => (None, Some(entries.iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    fn add(&mut self, entry: &Arc<Entry>) {
        if self.iter().any(|e| Arc::ptr_eq(e, entry)) {
            return;
        }
        match self {
            Postings::One(first) => {
                *self = Postings::Many(Box::new(vec![first.clone(), entry.clone()]));
            }
            Postings::Many(entries) => entries.push(entry.clone()),
        }
    }

    /// Removes `entry`; `true` when nothing is left.
    fn remove(&mut self, entry: &Arc<Entry>) -> bool {
        let only = match self {
            Postings::One(first) => return Arc::ptr_eq(first, entry),
            Postings::Many(entries) => {
                entries.retain(|e| !Arc::ptr_eq(e, entry));
                match entries.as_slice() {
                    [] => return true,
                    [only] => only.clone(),
                    _ => return false,
                }
            }
        };
        *self = Postings::One(only);
        false
    }
}

/// The key of an indexed value in [`Tree::by_value`]: a hash of the attribute's number and
/// the folded value. Lookups check the entries they find, so two values sharing a hash only
/// cost a comparison.
fn value_key(index: usize, folded: &[u8]) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut hasher = rustc_hash::FxBuildHasher.build_hasher();
    index.hash(&mut hasher);
    folded.hash(&mut hasher);
    hasher.finish()
}

/// Whether a stored value of indexed attribute number `index` matches a folded value.
fn folded_equal(index: usize, stored: &[u8], folded: &[u8]) -> bool {
    let fold = INDEXED_ATTRIBUTES.get(index).is_some_and(|(_, fold)| *fold);
    if !fold {
        return stored == folded;
    }
    if stored.is_ascii() {
        return stored.eq_ignore_ascii_case(folded);
    }
    index_value(index, stored) == folded
}

#[derive(Clone, Default)]
struct Tree {
    entries: std::collections::HashSet<Stored, rustc_hash::FxBuildHasher>,
    /// Each parent's children, in DN order, keyed by the parent's normalized DN.
    children: FastMap<Box<str>, BTreeSet<Stored>>,
    /// Naming context heads: entries whose parent is not linked to them.
    naming_contexts: BTreeSet<String>,
    by_guid: FastMap<[u8; 16], Arc<Entry>>,
    by_sid: FastMap<Box<[u8]>, Arc<Entry>>,
    /// Equality index of the attributes in [`INDEXED_ATTRIBUTES`]: [`value_key`] of the
    /// attribute number and folded value, to the entries holding that value.
    by_value: FastMap<u64, Postings>,
    /// The entries with `member` values (groups that have members): tokens and `memberOf`
    /// are computed from them, and a directory of 100,000 devices has a few dozen.
    with_members: BTreeSet<Stored>,
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
    fn get(&self, key: &str) -> Option<Arc<Entry>> {
        self.entries.get(key).map(|stored| stored.0.clone())
    }

    fn contains(&self, key: &str) -> bool {
        self.entries.contains(key)
    }

    fn index(&mut self, entry: &Arc<Entry>) {
        if let Some(guid) = entry.attrs.values("objectGUID").first().and_then(guid_key) {
            self.by_guid.insert(guid, entry.clone());
        }
        if let Some(sid) = entry.attrs.values("objectSid").first() {
            self.by_sid.insert(Box::from(sid), entry.clone());
        }
        if entry.attrs.contains("member") {
            self.with_members.insert(Stored(entry.clone()));
        }
        for (index, (name, _)) in INDEXED_ATTRIBUTES.iter().enumerate() {
            for value in entry.attrs.values(name) {
                let key = value_key(index, &index_value(index, value));
                match self.by_value.entry(key) {
                    std::collections::hash_map::Entry::Occupied(mut slot) => {
                        slot.get_mut().add(entry);
                    }
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(Postings::One(entry.clone()));
                    }
                }
            }
        }
    }

    fn unindex(&mut self, entry: &Arc<Entry>) {
        if let Some(guid) = entry.attrs.values("objectGUID").first().and_then(guid_key) {
            if self
                .by_guid
                .get(&guid)
                .is_some_and(|indexed| Arc::ptr_eq(indexed, entry))
            {
                self.by_guid.remove(&guid);
            }
        }
        if let Some(sid) = entry.attrs.values("objectSid").first() {
            if self
                .by_sid
                .get(sid)
                .is_some_and(|indexed| Arc::ptr_eq(indexed, entry))
            {
                self.by_sid.remove(sid);
            }
        }
        self.with_members.remove(entry.dn.normalized());
        for (index, (name, _)) in INDEXED_ATTRIBUTES.iter().enumerate() {
            for value in entry.attrs.values(name) {
                let key = value_key(index, &index_value(index, value));
                if let Some(postings) = self.by_value.get_mut(&key) {
                    if postings.remove(entry) {
                        self.by_value.remove(&key);
                    }
                }
            }
        }
    }

    fn next_usn(&mut self) -> u64 {
        self.usn += 1;
        self.usn
    }

    fn insert(&mut self, mut entry: Entry, link_to_parent: bool) -> Arc<Entry> {
        // The stored copy keeps no spare capacity and no replaced values, and its name shares
        // its parent's: a container's 100,000 children hold its RDNs once.
        entry.attrs.compact();
        if link_to_parent {
            if let Some(parent) = self.get(parent_key(entry.dn.normalized())) {
                entry.dn = entry.dn.relinked_to(&parent.dn);
            }
        }
        let stored = Arc::new(entry);
        let key = stored.dn.normalized();
        if link_to_parent {
            let parent = parent_key(key);
            match self.children.get_mut(parent) {
                Some(siblings) => {
                    siblings.replace(Stored(stored.clone()));
                }
                None => {
                    self.children
                        .insert(Box::from(parent), BTreeSet::from([Stored(stored.clone())]));
                }
            }
        } else {
            self.naming_contexts.insert(key.to_string());
        }
        self.index(&stored);
        self.entries.replace(Stored(stored.clone()));
        stored
    }

    /// Puts `entry` in place of the stored entry of the same DN, `old`.
    fn swap(&mut self, old: &Arc<Entry>, mut entry: Entry) -> Arc<Entry> {
        entry.attrs.compact();
        let stored = Arc::new(entry);
        self.unindex(old);
        let key = stored.dn.normalized();
        if let Some(siblings) = self.children.get_mut(parent_key(key)) {
            if siblings.contains(key) {
                siblings.replace(Stored(stored.clone()));
            }
        }
        self.index(&stored);
        self.entries.replace(Stored(stored.clone()));
        stored
    }

    fn remove(&mut self, key: &str) -> Option<Arc<Entry>> {
        let removed = self.entries.take(key)?.0;
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

    /// The subtree of the entry `key`, parents before children.
    fn subtree(&self, key: &str) -> Vec<Arc<Entry>> {
        let Some(top) = self.get(key) else {
            return Vec::new();
        };
        let mut out = vec![top];
        let mut next = 0;
        while let Some(current) = out.get(next).cloned() {
            if let Some(children) = self.children.get(current.dn.normalized()) {
                out.extend(children.iter().map(|child| child.0.clone()));
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
            if self.contains(candidate.normalized()) {
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
        self.read().get(dn.normalized())
    }

    /// The entry whose `objectGUID` is `guid` (16 bytes in AD's order).
    pub fn get_by_guid(&self, guid: &[u8]) -> Option<Arc<Entry>> {
        self.read().by_guid.get(&guid_key(guid)?).cloned()
    }

    /// The entry whose `objectSid` is `sid` (binary form).
    pub fn get_by_sid(&self, sid: &[u8]) -> Option<Arc<Entry>> {
        self.read().by_sid.get(sid).cloned()
    }

    /// The entry whose `msDS-DeviceID` is `device_id`.
    pub fn get_by_device_id(&self, device_id: &[u8]) -> Option<Arc<Entry>> {
        let index = indexed_attribute("msDS-DeviceID")?;
        self.get_by_value(index, device_id).into_iter().next()
    }

    /// The entries holding `value` in indexed attribute number `index` (see [`indexed_attribute`]).
    pub fn get_by_value(&self, index: usize, value: &[u8]) -> Vec<Arc<Entry>> {
        let Some((name, _)) = INDEXED_ATTRIBUTES.get(index) else {
            return Vec::new();
        };
        let folded = index_value(index, value);
        let tree = self.read();
        tree.by_value
            .get(&value_key(index, &folded))
            .map(|postings| {
                postings
                    .iter()
                    .filter(|entry| {
                        entry
                            .attrs
                            .values(name)
                            .iter()
                            .any(|stored| folded_equal(index, stored, &folded))
                    })
                    .cloned()
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
        self.read()
            .children
            .get(dn.normalized())
            .map(|children| children.iter().map(|child| child.0.clone()).collect())
            .unwrap_or_default()
    }

    /// `dn` and everything below it in its naming context, parents before children.
    pub fn subtree(&self, dn: &Dn) -> Vec<Arc<Entry>> {
        self.read().subtree(dn.normalized())
    }

    /// The naming context heads, in DN order.
    pub fn naming_contexts(&self) -> Vec<Arc<Entry>> {
        let tree = self.read();
        tree.naming_contexts
            .iter()
            .filter_map(|k| tree.get(k))
            .collect()
    }

    /// Adds a naming context head: an entry whose parent need not exist and whose subtree is
    /// not part of its parent's.
    pub fn add_naming_context(&self, mut entry: Entry) -> Result<Arc<Entry>, OpError> {
        let mut tree = self.write();
        if tree.contains(entry.dn.normalized()) {
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
        if tree.contains(entry.dn.normalized()) {
            return Err(already_exists(&entry.dn));
        }
        if !tree.contains(parent) {
            let parent = entry.dn.parent().unwrap_or_else(Dn::root);
            return Err(OpError::no_such_object(&parent, tree.matched(&parent)));
        }
        if let Some(guid) = entry.attrs.values("objectGUID").first().and_then(guid_key) {
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
        let Some(current) = tree.get(entry.dn.normalized()) else {
            return Err(OpError::no_such_object(&entry.dn, tree.matched(&entry.dn)));
        };
        if !Arc::ptr_eq(&current, expected) {
            return Err(OpError::new(
                ResultCode::BUSY,
                format!("00002024: SvcErr: DSID-02080EDE, problem 5001 (BUSY), data 0, {} changed concurrently", entry.dn),
            ));
        }
        let usn = tree.next_usn();
        set_usn(&mut entry, "uSNChanged", usn);
        Ok(tree.swap(&current, entry))
    }

    /// Deletes `dn`; with `tree_delete`, its whole subtree. Returns the removed entries.
    pub fn delete(&self, dn: &Dn, tree_delete: bool) -> Result<Vec<Arc<Entry>>, OpError> {
        let mut tree = self.write();
        let key = dn.normalized();
        if !tree.contains(key) {
            return Err(OpError::no_such_object(dn, tree.matched(dn)));
        }
        let has_children = tree.children.get(key).is_some_and(|c| !c.is_empty());
        if has_children && !tree_delete {
            return Err(OpError::new(
                ResultCode::NOT_ALLOWED_ON_NON_LEAF,
                "00002015: UpdErr: DSID-030A0AE1, problem 6003 (CANT_ON_NON_LEAF), data 0\n",
            ));
        }
        let subtree = tree.subtree(key);
        tree.usn += 1;
        Ok(subtree
            .iter()
            .rev()
            .filter_map(|entry| tree.remove(entry.dn.normalized()))
            .collect())
    }

    /// Renames or moves `old` (and its subtree) to `renamed.dn`; `renamed` is the entry's new
    /// content (its RDN attribute already changed). Descendants get their new DNs.
    pub fn rename(&self, old: &Dn, renamed: Entry) -> Result<Arc<Entry>, OpError> {
        let mut tree = self.write();
        let old_key = old.normalized().to_string();
        if !tree.contains(&old_key) {
            return Err(OpError::no_such_object(old, tree.matched(old)));
        }
        let new_dn = renamed.dn.clone();
        if new_dn != *old && tree.contains(new_dn.normalized()) {
            return Err(already_exists(&new_dn));
        }
        let new_parent = new_dn.parent().unwrap_or_else(Dn::root);
        if !tree.contains(new_parent.normalized()) {
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
        let subtree = tree.subtree(&old_key);
        let mut moved: Vec<(Arc<Entry>, Option<Secret>)> = Vec::with_capacity(subtree.len());
        for entry in subtree.iter().rev() {
            let key = entry.dn.normalized();
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
        if let Some(current) = tree.get(key) {
            let mut entry = (*current).clone();
            set_usn(&mut entry, "uSNCreated", created);
            set_usn(&mut entry, "uSNChanged", changed);
            tree.swap(&current, entry);
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
        tree.secrets.keys().filter_map(|k| tree.get(k)).collect()
    }

    /// Every entry, naming contexts first, each parent before its children.
    pub fn all(&self) -> Vec<Arc<Entry>> {
        let tree = self.read();
        tree.naming_contexts
            .iter()
            .flat_map(|nc| tree.subtree(nc))
            .collect()
    }

    /// Every entry that has `member` values, in DN order.
    pub fn entries_with_members(&self) -> Vec<Arc<Entry>> {
        self.read()
            .with_members
            .iter()
            .map(|stored| stored.0.clone())
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
    dn.rdns()
        .into_iter()
        .take(keep)
        .rev()
        .fold(new_base.clone(), |parent, rdn| parent.child(rdn.clone()))
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
