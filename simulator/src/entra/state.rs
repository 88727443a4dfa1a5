//! The fake tenant's state: devices, users (registered owners), and the change log that delta
//! rounds read, with sequence numbers.
//!
//! Every change (a device put or deleted) takes the next sequence number. The log holds, for each
//! device that exists or was deleted, only its latest change, keyed by sequence number, so a
//! delta round from position `S` to `T` is one ordered range `S+1..=T`, whatever happened in
//! between. A device changed twice is reported once, with its current state.
//!
//! A full round (no delta token, or `GET /devices`) walks the devices in id order; a device
//! changed while a client pages through may appear in that round and again in the next delta
//! round (at least once, never lost). Tokens carry the round's upper bound `T`, captured at its
//! first page.
//!
//! [`TenantState::expire_delta_tokens`] moves a horizon past every issued position and forgets the
//! deleted devices' entries, as Graph does after seven days: older tokens then get
//! `syncStateNotFound`. This module knows nothing of HTTP; [`super::routes`] renders its answers.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use super::model::{Device, User};

/// A device changed or removed, as a delta round reports it.
#[derive(Clone, Debug, PartialEq)]
pub enum DeltaItem {
    Changed(Device),
    Removed(String),
}

#[derive(Clone, Debug, PartialEq)]
struct LogEntry {
    id: String,
    removed: bool,
}

/// Devices, users and the change log.
#[derive(Debug, Default)]
pub struct TenantState {
    devices: BTreeMap<String, (Device, u64)>,
    users: BTreeMap<String, User>,
    log: BTreeMap<u64, LogEntry>,
    removed: HashMap<String, u64>,
    sequence: u64,
    horizon: u64,
}

/// Whether a put created the device or replaced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    Replaced,
}

impl TenantState {
    /// The current change-log position (the last sequence number given out).
    pub fn position(&self) -> u64 {
        self.sequence
    }

    /// Whether a delta token at `position` can still be answered.
    pub fn position_is_valid(&self, position: u64) -> bool {
        position >= self.horizon && position <= self.sequence
    }

    /// Adds or replaces a device; its owners are added as users (or replace the stored ones).
    pub fn put_device(&mut self, device: Device, owners: Vec<User>) -> PutOutcome {
        for owner in owners {
            self.users.insert(owner.id.clone(), owner);
        }
        self.sequence += 1;
        let sequence = self.sequence;
        if let Some(old) = self.removed.remove(&device.id) {
            self.log.remove(&old);
        }
        self.log.insert(
            sequence,
            LogEntry {
                id: device.id.clone(),
                removed: false,
            },
        );
        match self.devices.insert(device.id.clone(), (device, sequence)) {
            Some((_, old)) => {
                self.log.remove(&old);
                PutOutcome::Replaced
            }
            None => PutOutcome::Created,
        }
    }

    /// Deletes a device; false when there was none with this id.
    pub fn delete_device(&mut self, id: &str) -> bool {
        let Some((_, old)) = self.devices.remove(id) else {
            return false;
        };
        self.log.remove(&old);
        self.sequence += 1;
        self.log.insert(
            self.sequence,
            LogEntry {
                id: id.to_string(),
                removed: true,
            },
        );
        self.removed.insert(id.to_string(), self.sequence);
        true
    }

    /// Adds or replaces a user without touching any device.
    pub fn put_user(&mut self, user: User) {
        self.users.insert(user.id.clone(), user);
    }

    /// Makes every delta token issued so far unusable and forgets deleted devices.
    pub fn expire_delta_tokens(&mut self) {
        self.sequence += 1;
        self.horizon = self.sequence;
        let removed: Vec<u64> = self.removed.drain().map(|(_, seq)| seq).collect();
        for sequence in removed {
            self.log.remove(&sequence);
        }
    }

    /// A device by object id.
    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.get(id).map(|(device, _)| device)
    }

    /// A user by object id.
    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.get(id)
    }

    /// A device's registered owners that exist as users.
    pub fn owners_of(&self, device: &Device) -> Vec<User> {
        device
            .owners
            .iter()
            .filter_map(|id| self.users.get(id).cloned())
            .collect()
    }

    /// How many devices there are.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    /// How many users there are.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// Up to `limit` devices in id order after `after` (exclusive), and whether more follow.
    pub fn devices_after(&self, after: Option<&str>, limit: usize) -> (Vec<&Device>, bool) {
        let range = match after {
            Some(after) => self
                .devices
                .range::<str, _>((Bound::Excluded(after), Bound::Unbounded)),
            None => self.devices.range::<str, _>(..),
        };
        let mut page: Vec<&Device> = range
            .take(limit + 1)
            .map(|(_, (device, _))| device)
            .collect();
        let more = page.len() > limit;
        page.truncate(limit);
        (page, more)
    }

    /// Up to `limit` users in id order after `after`, and whether more follow.
    pub fn users_after(&self, after: Option<&str>, limit: usize) -> (Vec<User>, bool) {
        let range = match after {
            Some(after) => self
                .users
                .range::<str, _>((Bound::Excluded(after), Bound::Unbounded)),
            None => self.users.range::<str, _>(..),
        };
        let mut page: Vec<User> = range.take(limit + 1).map(|(_, u)| u.clone()).collect();
        let more = page.len() > limit;
        page.truncate(limit);
        (page, more)
    }

    /// Up to `limit` changes with sequence numbers in `after+1..=upto`, in order, each with its
    /// sequence number, and whether more follow in that range.
    pub fn changes(&self, after: u64, upto: u64, limit: usize) -> (Vec<(u64, DeltaItem)>, bool) {
        if after >= upto {
            return (Vec::new(), false);
        }
        let mut page = Vec::new();
        let mut more = false;
        for (sequence, entry) in self.log.range(after + 1..=upto) {
            if page.len() == limit {
                more = true;
                break;
            }
            let item = if entry.removed {
                DeltaItem::Removed(entry.id.clone())
            } else {
                match self.devices.get(&entry.id) {
                    Some((device, _)) => DeltaItem::Changed(device.clone()),
                    None => continue,
                }
            };
            page.push((*sequence, item));
        }
        (page, more)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn device(n: u8, name: &str) -> Device {
        let body = json!({"id": format!("00000000-0000-4000-8000-0000000000{n:02x}"), "displayName": name});
        Device::from_graph(&body, None).expect("valid").0
    }

    fn ids(items: &[(u64, DeltaItem)]) -> Vec<String> {
        items
            .iter()
            .map(|(_, item)| match item {
                DeltaItem::Changed(d) => format!("+{}", &d.id[34..]),
                DeltaItem::Removed(id) => format!("-{}", &id[34..]),
            })
            .collect()
    }

    #[test]
    fn a_delta_range_reports_each_device_once_with_its_latest_change() {
        let mut state = TenantState::default();
        for n in 1..=5 {
            state.put_device(device(n, "a"), Vec::new());
        }
        let first = state.position();
        assert_eq!(
            state.put_device(device(2, "b"), Vec::new()),
            PutOutcome::Replaced
        );
        assert!(state.delete_device(&device(3, "").id));
        assert!(!state.delete_device(&device(3, "").id), "already gone");
        state.put_device(device(6, "new"), Vec::new());
        state.put_device(device(2, "c"), Vec::new());
        let (changes, more) = state.changes(first, state.position(), 10);
        assert!(!more);
        assert_eq!(ids(&changes), ["-03", "+06", "+02"]);
        // Paged two at a time, continuing after the last sequence number seen.
        let (page, more) = state.changes(first, state.position(), 2);
        assert!(more);
        let (rest, more) = state.changes(page[1].0, state.position(), 2);
        assert!(!more);
        assert_eq!(ids(&rest), ["+02"]);
        // A deleted device put back is a change, and its removal is forgotten.
        state.put_device(device(3, "back"), Vec::new());
        let (changes, _) = state.changes(first, state.position(), 10);
        assert_eq!(ids(&changes), ["+06", "+02", "+03"]);
    }

    #[test]
    fn expiring_tokens_invalidates_every_issued_position() {
        let mut state = TenantState::default();
        state.put_device(device(1, "a"), Vec::new());
        let issued = state.position();
        assert!(state.position_is_valid(issued));
        assert!(!state.position_is_valid(issued + 1), "not issued yet");
        state.delete_device(&device(1, "").id);
        state.expire_delta_tokens();
        assert!(!state.position_is_valid(issued));
        assert!(state.position_is_valid(state.position()));
        assert_eq!(state.changes(0, state.position(), 10).0, Vec::new());
    }

    #[test]
    fn full_pages_walk_ids_in_order() {
        let mut state = TenantState::default();
        for n in [5, 1, 3, 2, 4] {
            state.put_device(device(n, "a"), Vec::new());
        }
        let (page, more) = state.devices_after(None, 2);
        assert!(more);
        let (page2, _) = state.devices_after(Some(&page[1].id), 2);
        let (page3, more) = state.devices_after(Some(&page2[1].id), 2);
        assert!(!more);
        assert_eq!(page3.len(), 1);
        assert!(page[0].id < page[1].id && page[1].id < page2[0].id);
    }
}
