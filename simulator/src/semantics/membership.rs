//! Group membership as reads and access checks see it: the token an identity acts with (its
//! SID, its groups transitively, Authenticated Users, Everyone) and `memberOf`, the back link
//! of the groups' `member` values. Both are cached per forest and keyed by the membership
//! generation, which a write that may change a membership moves on; nothing is cached while
//! such a write is on its way into the store.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use devwb_model::sd::Token;
use devwb_model::{Dn, Sid};

use super::Semantics;
use crate::request::{Identity, OpContext};
use crate::security::{accounts, Directory};
use crate::store::{Entry, Store};

impl Semantics {
    /// Forgets cached tokens (after a snapshot is restored: memberships may differ).
    pub fn reset_caches(&self) {
        self.membership_epoch.fetch_add(1, Ordering::AcqRel);
        self.tokens.clear();
    }

    /// The token the identity acts with.
    pub fn token(&self, store: &Store, identity: &Identity) -> Token {
        let Some(dn) = &identity.dn else {
            return Token::anonymous();
        };
        let generation = self.settled_generation(store);
        let key = dn.normalized().to_string();
        if let Some(generation) = generation {
            if let Some(cached) = self.tokens.get(&key) {
                if cached.0 == generation {
                    return cached.1.clone();
                }
            }
        }
        let token = match store.get(dn) {
            Some(entry) => accounts::token_for(&StoreDirectory(store), &self.sids, &entry),
            None => Token::authenticated(identity.sid.unwrap_or(Sid::ANONYMOUS), []),
        };
        if let Some(generation) = generation {
            self.tokens.insert(key, (generation, token.clone()));
        }
        token
    }

    /// The SIDs of the groups `account` is a member of, transitively, its primary group
    /// included: its constructed `tokenGroups`. Unlike its token, neither the account's own
    /// SID nor Authenticated Users and Everyone, which no group membership gives.
    pub fn token_groups(&self, store: &Store, account: &Entry) -> Vec<Sid> {
        let token =
            accounts::token_for(&StoreDirectory(store), &self.sids_for(&account.dn), account);
        token
            .sids()
            .iter()
            .skip(1)
            .filter(|sid| **sid != Sid::AUTHENTICATED_USERS && **sid != Sid::EVERYONE)
            .cloned()
            .collect()
    }

    /// The membership generation caches may be keyed on, or `None` while a membership change
    /// may still be on its way into the store (then nothing is cached).
    pub(super) fn settled_generation(&self, store: &Store) -> Option<u64> {
        let epoch = self.membership_epoch.load(Ordering::Acquire);
        // Once a generation was seen settled it stays so until the next change: no store lock.
        if self.settled_epoch.load(Ordering::Acquire) == epoch {
            return Some(epoch);
        }
        if store.highest_usn() > self.membership_dirty_usn.load(Ordering::Acquire) {
            self.settled_epoch.store(epoch, Ordering::Release);
            return Some(epoch);
        }
        None
    }

    /// The `memberOf` index of the current membership epoch, built from the groups' `member`
    /// values when memberships changed since the last build.
    fn member_of_index(&self, store: &Store) -> Arc<MemberOfIndex> {
        let generation = self.settled_generation(store);
        if let (Some(generation), Ok(current)) = (generation, self.member_of.read()) {
            if current.0 == generation {
                return Arc::clone(&current.1);
            }
        }
        let mut index: HashMap<String, Vec<Bytes>> = HashMap::new();
        for group in store.entries_with_members() {
            for member in group.attrs.values("member") {
                let Some(dn) = std::str::from_utf8(member)
                    .ok()
                    .and_then(|t| Dn::parse(t).ok())
                else {
                    continue;
                };
                index
                    .entry(dn.normalized().to_string())
                    .or_default()
                    .push(Bytes::from(group.dn.to_string()));
            }
        }
        let index = Arc::new(index);
        if let (Some(generation), Ok(mut current)) = (generation, self.member_of.write()) {
            *current = (generation, Arc::clone(&index));
        }
        index
    }

    /// The entry as reads see it: with `memberOf`, the back link AD maintains from the groups'
    /// `member` values. Searches and compares call this on each candidate before filtering and
    /// projecting; it returns the same entry when there is nothing to add.
    pub fn decorate(&self, ctx: &OpContext<'_>, entry: &Arc<Entry>) -> Arc<Entry> {
        let index = self.member_of_index(ctx.store);
        match index.get(entry.dn.normalized()) {
            Some(groups) if !groups.is_empty() => {
                let mut decorated = (**entry).clone();
                decorated.attrs.set("memberOf", groups.clone());
                Arc::new(decorated)
            }
            _ => Arc::clone(entry),
        }
    }

    pub(super) fn memberships_may_change(&self, store: &Store, entry: &Entry) {
        if entry.is_a("group") || entry.attrs.contains("member") {
            self.membership_dirty_usn
                .store(store.highest_usn(), Ordering::Release);
            self.membership_epoch.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// The store seen through the security layer's [`Directory`] trait.
struct StoreDirectory<'a>(&'a Store);

impl Directory for StoreDirectory<'_> {
    fn entry(&self, dn: &Dn) -> Option<Entry> {
        self.0.get(dn).map(|entry| (*entry).clone())
    }

    fn entries_with(&self, attribute: &str, value: &[u8]) -> Vec<Entry> {
        let wanted = std::str::from_utf8(value)
            .ok()
            .and_then(|text| Dn::parse(text).ok());
        // Tokens ask for the groups listing a member: the store keeps those entries apart.
        let candidates = if attribute.eq_ignore_ascii_case("member") {
            self.0.entries_with_members()
        } else {
            self.0.all()
        };
        candidates
            .into_iter()
            .filter(|entry| {
                entry.attrs.values(attribute).iter().any(|v| match &wanted {
                    Some(dn) => {
                        std::str::from_utf8(v)
                            .ok()
                            .and_then(|t| Dn::parse(t).ok())
                            .as_ref()
                            == Some(dn)
                    }
                    None => v == value,
                })
            })
            .map(|entry| (*entry).clone())
            .collect()
    }
}

/// Normalised member DN -> the DNs of the groups that list it.
pub(super) type MemberOfIndex = HashMap<String, Vec<Bytes>>;
