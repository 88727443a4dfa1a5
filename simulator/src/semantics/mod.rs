//! The AD semantics layer: the per-forest decisions the request path asks for between
//! resolving the target and touching the store (faults, authentication, access checks,
//! content rules, generated security descriptors, what a search may show).
//!
//! The handler calls these methods in the order the simulator plan fixes: (1) faults,
//! (2) resolve entries, (3) access check, (4) content rules and normalisation, (5) generated
//! attributes, (6) store mutation. This layer delegates: [`crate::faults`] decides faults,
//! [`crate::schema`] holds the schema of the forest's level and its content rules,
//! [`crate::security`] computes descriptors, tokens and access checks.
//!
//! Split by concern: [`steps`] (the check and complete steps of each operation),
//! [`visibility`] (what a search may show, with its per-thread caches), [`membership`]
//! (tokens and `memberOf`), [`matching`] (how values compare).
//!
//! Access is checked for the bound identity's token (its SID, its groups transitively,
//! Authenticated Users, Everyone) against each entry's `nTSecurityDescriptor`, with no
//! administrator bypass. Tokens are computed from the directory when first needed and cached
//! until a group membership changes (AD fixes a token at logon; the simulator refreshes it,
//! which only matters to a test that changes a bound account's groups).

mod matching;
mod membership;
mod steps;
mod visibility;

pub use visibility::ReadAccess;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use dashmap::{DashMap, DashSet};
use devwb_model::sd::Token;
use devwb_model::{Dn, SchemaLevel};

use crate::faults::{FaultConfig, Faults};
use crate::names::ForestNames;
use crate::schema::{ClassCategory, ClassDef, Schema};
use crate::security::DomainSids;
use crate::store::Entry;

use membership::MemberOfIndex;
use steps::NewDescriptorCache;

/// The per-forest semantics. Built once with the forest.
#[derive(Debug)]
pub struct Semantics {
    /// The forest's names: every domain's DNS and NetBIOS names (bind names may carry
    /// either), domain NCs and SIDs.
    names: ForestNames,
    schema_dn: Dn,
    schema_level: SchemaLevel,
    schema: Schema,
    sids: DomainSids,
    faults: RwLock<Arc<Faults>>,
    /// Bumped whenever a group membership may have changed; tokens older than it are recomputed.
    membership_epoch: AtomicU64,
    /// The store's highest USN when a membership last started to change: caches built before
    /// the store moves past it may have missed the change.
    membership_dirty_usn: AtomicU64,
    /// The last membership epoch seen settled (the store moved past its dirty USN).
    settled_epoch: AtomicU64,
    tokens: DashMap<String, (u64, Token)>,
    /// Descriptor values shared between entries: the many entries with identical descriptors
    /// (every device of a container) hold one allocation, which reads compare by address.
    interned: DashSet<Bytes>,
    /// The descriptor computed for a new entry with no descriptor in its add request, by what
    /// it depends on: its class, its parent's descriptor and the owner and group its creator
    /// gives it. Every device written into one container shares one key.
    new_descriptors: NewDescriptorCache,
    /// Normalised member DN -> the groups listing it, as of a membership epoch: `memberOf`.
    member_of: RwLock<(u64, Arc<MemberOfIndex>)>,
}

impl Semantics {
    /// The semantics of a forest with these names at this schema level.
    pub fn new(names: &ForestNames, schema_level: SchemaLevel) -> Semantics {
        Semantics {
            names: names.clone(),
            schema_dn: names.schema_dn.clone(),
            schema_level,
            schema: Schema::for_level(schema_level),
            sids: DomainSids::single(names.domain_sid),
            faults: RwLock::new(Arc::new(Faults::default())),
            // Each forest's generations live in their own range: the per-thread caches are
            // shared by every forest of the process and key on the generation.
            membership_epoch: AtomicU64::new(NEXT_FOREST.fetch_add(1 << 32, Ordering::Relaxed)),
            membership_dirty_usn: AtomicU64::new(0),
            settled_epoch: AtomicU64::new(u64::MAX),
            tokens: DashMap::new(),
            interned: DashSet::new(),
            new_descriptors: NewDescriptorCache::default(),
            member_of: RwLock::new((u64::MAX, Arc::new(HashMap::new()))),
        }
    }

    /// The SIDs the default descriptors of an entry at `dn` name: its domain's (the forest
    /// root's for the configuration and schema NCs), with the root domain's for `EA` and `SA`.
    pub fn sids_for(&self, dn: &Dn) -> DomainSids {
        match self.names.domain_of(dn) {
            Some(domain) => DomainSids {
                domain: domain.domain_sid,
                root: self.names.domain_sid,
            },
            None => self.sids.clone(),
        }
    }

    /// The forest's schema level.
    pub fn schema_level(&self) -> SchemaLevel {
        self.schema_level
    }

    /// The forest's schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Replaces the fault configuration (at start from the builder, or while running).
    pub fn set_faults(&self, config: FaultConfig) {
        if let Ok(mut faults) = self.faults.write() {
            *faults = Arc::new(Faults::new(config));
        }
    }

    /// The current faults.
    pub fn faults(&self) -> Arc<Faults> {
        self.faults
            .read()
            .map(|f| Arc::clone(&f))
            .unwrap_or_default()
    }

    /// The shared value for descriptor bytes (see `interned`).
    fn intern(&self, bytes: Vec<u8>) -> Bytes {
        if let Some(existing) = self.interned.get(bytes.as_slice()) {
            return existing.key().clone();
        }
        if self.interned.len() >= INTERNED_CAPACITY {
            self.interned.clear();
        }
        let value = Bytes::from(bytes);
        self.interned.insert(value.clone());
        value
    }

    /// The most specific structural class among an entry's objectClass values.
    fn most_specific_class(&self, entry: &Entry) -> Option<&ClassDef> {
        entry
            .attrs
            .values("objectClass")
            .iter()
            .filter_map(|v| std::str::from_utf8(v).ok())
            .filter_map(|name| self.schema.class(name))
            .filter(|class| class.category == ClassCategory::Structural)
            .max_by_key(|class| self.schema.chain(class).len())
    }
}

/// The first membership generation of the next forest built in this process.
static NEXT_FOREST: AtomicU64 = AtomicU64::new(0);

/// Distinct descriptor values kept shared before the table starts over.
const INTERNED_CAPACITY: usize = 4096;
