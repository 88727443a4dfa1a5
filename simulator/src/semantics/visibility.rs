//! What a search or compare may show: whether an entry is visible at all (LIST_CONTENTS on
//! its parent) and which of its attributes the bound identity may read (READ_PROPERTY), with
//! the per-thread caches that make a search over many entries with the same descriptor cheap.
//! The caches are keyed by everything the answer depends on (identity, membership generation,
//! class, descriptor bytes, objectSid), so no write ever has to clear them.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use devwb_model::Dn;

use super::Semantics;
use crate::request::OpContext;
use crate::security::{access, descriptor};
use crate::store::Entry;

impl Semantics {
    /// Whether a search may return `entry` at all: LIST_CONTENTS on its parent. Naming
    /// context heads and the rootDSE are always visible to a bound client; an anonymous one
    /// sees only the rootDSE.
    pub fn can_see(&self, ctx: &OpContext<'_>, entry: &Entry) -> bool {
        if entry.dn.is_root() {
            return true;
        }
        if ctx.identity.is_anonymous() {
            return false;
        }
        // Nothing changed in the store since a decision on this thread about the entry's
        // parent: the same answer, without looking the parent up. A search asks for its base
        // and then for each candidate, so a thread keeps a few parents' decisions.
        let usn = ctx.store.highest_usn();
        let generation = self.settled_generation(ctx.store);
        let repeated = VISIBLE.with(|cache| {
            cache
                .borrow()
                .iter()
                .find(|last| {
                    Some(last.generation) == generation
                        && last.usn == usn
                        && last.identity.as_ref() == ctx.identity.dn.as_ref()
                        && entry.dn.depth() == last.parent.depth() + 1
                        && entry.dn.is_descendant_of(&last.parent)
                })
                .map(|last| last.visible)
        });
        if let Some(visible) = repeated {
            return visible;
        }
        let Some(parent) = entry
            .dn
            .parent()
            .filter(|p| !p.is_root())
            .and_then(|p| ctx.store.get(&p))
        else {
            return true;
        };
        // The store changed since: the decision holds while the parent's descriptor is the
        // same (descriptors are interned, so this compares addresses).
        let sd = parent.attrs.values(descriptor::ATTRIBUTE).first();
        VISIBLE.with(|cache| {
            let mut cache = cache.borrow_mut();
            if let Some(generation) = generation {
                if let Some(last) = cache.iter_mut().find(|last| {
                    last.generation == generation
                        && last.identity.as_ref() == ctx.identity.dn.as_ref()
                        && last.parent == parent.dn
                        && sd.is_some_and(|sd| same_bytes(&last.descriptor, sd))
                }) {
                    last.usn = usn;
                    return last.visible;
                }
            }
            let token = self.token(ctx.store, ctx.identity);
            let visible = access::can_list_children(&token, &parent);
            if let Some(generation) = generation {
                if cache.len() >= VISIBLE_SLOTS {
                    cache.remove(0);
                }
                cache.push(VisibleSlot {
                    identity: ctx.identity.dn.clone(),
                    generation,
                    usn,
                    parent: parent.dn.clone(),
                    descriptor: parent
                        .attrs
                        .values(descriptor::ATTRIBUTE)
                        .first_bytes()
                        .unwrap_or_default(),
                    visible,
                });
            }
            visible
        })
    }

    /// Whether a search or compare may read `attribute` of `entry` (also in filters).
    pub fn can_read(&self, ctx: &OpContext<'_>, entry: &Entry, attribute: &str) -> bool {
        self.read_access(ctx, entry).allows(attribute)
    }

    /// What the bound identity may read of `entry`, decided once and asked per attribute: a
    /// search returning many attributes of many entries looks the decision up once an entry.
    pub fn read_access<'a>(&'a self, ctx: &'a OpContext<'a>, entry: &'a Entry) -> ReadAccess<'a> {
        let decided = |rights| ReadAccess {
            semantics: self,
            ctx,
            entry,
            rights,
        };
        if entry.dn.is_root() {
            return decided(Rights::All);
        }
        if ctx.identity.is_anonymous() {
            return decided(Rights::None);
        }
        let generation = self.settled_generation(ctx.store);
        let classes = entry.attrs.values("objectClass");
        let descriptor_value = entry.attrs.values(descriptor::ATTRIBUTE).first();
        let sid_value = entry.attrs.values("objectSid").first();
        // The last decision, compared without allocating: a search evaluates many entries
        // with the same descriptor and classes in a row.
        let last = LAST_READ.with(|slot| {
            let slot = slot.borrow();
            let last = slot.as_ref()?;
            (Some(last.generation) == generation
                && last.identity.as_ref() == ctx.identity.dn.as_ref()
                && classes == last.classes[..]
                && match (last.descriptor.as_ref(), descriptor_value) {
                    (Some(a), Some(b)) => same_bytes(a, b),
                    (None, None) => true,
                    _ => false,
                }
                && last.sid.as_deref() == sid_value)
                .then(|| Arc::clone(&last.rights))
        });
        if let Some(rights) = last {
            return decided(Rights::Of(rights));
        }
        let class = self.most_specific_class(entry);
        let first = |name: &str| entry.attrs.values(name).first_bytes().unwrap_or_default();
        let compute = || {
            let token = self.token(ctx.store, ctx.identity);
            let sd = descriptor::of_entry(entry);
            let principal_self = access::principal_sid(entry);
            Arc::new(access::ReadRights::compute(
                &self.schema,
                &token,
                sd.as_ref(),
                class,
                principal_self.as_ref(),
                entry.attrs.iter().map(|a| a.name),
            ))
        };
        // While a membership change is on its way into the store, nothing is cached.
        let rights = match self.settled_generation(ctx.store) {
            None => compute(),
            Some(generation) => {
                let key: RightsKey = (
                    ctx.identity
                        .dn
                        .as_ref()
                        .map(|dn| dn.normalized().to_string())
                        .unwrap_or_default(),
                    generation,
                    class.map(|c| c.name.clone()).unwrap_or_default(),
                    first(descriptor::ATTRIBUTE),
                    first("objectSid"),
                );
                READ_RIGHTS.with(|cache| {
                    let mut cache = cache.borrow_mut();
                    if let Some(rights) = cache.get(&key) {
                        return Arc::clone(rights);
                    }
                    if cache.len() >= READ_RIGHTS_CAPACITY {
                        cache.clear();
                    }
                    let rights = compute();
                    cache.insert(key, Arc::clone(&rights));
                    rights
                })
            }
        };
        if let Some(generation) = generation {
            LAST_READ.with(|slot| {
                *slot.borrow_mut() = Some(ReadSlot {
                    identity: ctx.identity.dn.clone(),
                    generation,
                    classes: classes.to_vec(),
                    descriptor: entry.attrs.values(descriptor::ATTRIBUTE).first_bytes(),
                    sid: sid_value.map(Bytes::copy_from_slice),
                    rights: Arc::clone(&rights),
                });
            });
        }
        decided(Rights::Of(rights))
    }
}

/// What [`Semantics::read_access`] decided for one entry.
enum Rights {
    /// Everything (the rootDSE).
    All,
    /// Nothing (an anonymous client).
    None,
    /// As the entry's descriptor grants the identity.
    Of(Arc<access::ReadRights>),
}

/// The read access of the bound identity to one entry ([`Semantics::read_access`]).
pub struct ReadAccess<'a> {
    semantics: &'a Semantics,
    ctx: &'a OpContext<'a>,
    entry: &'a Entry,
    rights: Rights,
}

impl std::fmt::Debug for ReadAccess<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rights = match &self.rights {
            Rights::All => "all",
            Rights::None => "none",
            Rights::Of(_) => "as the descriptor grants",
        };
        f.debug_struct("ReadAccess")
            .field("entry", &self.entry.dn)
            .field("rights", &rights)
            .finish_non_exhaustive()
    }
}

impl ReadAccess<'_> {
    /// Whether `attribute` of the entry may be read (and matched in filters).
    pub fn allows(&self, attribute: &str) -> bool {
        let rights = match &self.rights {
            Rights::All => return true,
            Rights::None => return false,
            Rights::Of(rights) => rights,
        };
        let schema = &self.semantics.schema;
        match rights.allows(schema, attribute) {
            Some(allowed) => allowed,
            None => {
                let token = self.semantics.token(self.ctx.store, self.ctx.identity);
                access::readable_attributes(schema, &token, self.entry)
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(attribute))
            }
        }
    }
}

/// Who reads objects of which class under which descriptor (and which objectSid, for
/// PRINCIPAL SELF ACEs): the key of the read-rights cache.
type RightsKey = (String, u64, String, Bytes, Bytes);

/// A LIST_CONTENTS decision of a thread.
struct VisibleSlot {
    identity: Option<Dn>,
    generation: u64,
    usn: u64,
    parent: Dn,
    descriptor: Bytes,
    visible: bool,
}

/// The last read-rights decision of a thread, with what it was decided for.
struct ReadSlot {
    identity: Option<Dn>,
    generation: u64,
    classes: Vec<Bytes>,
    descriptor: Option<Bytes>,
    sid: Option<Bytes>,
    rights: Arc<access::ReadRights>,
}

/// LIST_CONTENTS decisions kept per thread (the oldest goes first).
const VISIBLE_SLOTS: usize = 8;

/// Read-rights decisions kept per thread before the cache starts over.
const READ_RIGHTS_CAPACITY: usize = 1024;

thread_local! {
    /// The latest LIST_CONTENTS decisions on this thread, oldest first.
    static VISIBLE: std::cell::RefCell<Vec<VisibleSlot>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The last read-rights decision on this thread.
    static LAST_READ: std::cell::RefCell<Option<ReadSlot>> = const { std::cell::RefCell::new(None) };
    /// Read rights per descriptor: a search asks `can_read` for every candidate and attribute.
    static READ_RIGHTS: std::cell::RefCell<HashMap<RightsKey, Arc<access::ReadRights>>> =
        std::cell::RefCell::new(HashMap::new());
}

/// Byte equality that first compares addresses (interned descriptors share one allocation).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
}
