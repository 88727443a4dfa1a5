//! The directory side: the device objects of the container, read once, kept as small as the diff
//! needs them.
//!
//! [`observe`] reads the container (a paged one-level search for `msDS-Device` objects, asking
//! only for the mapped attributes) into [`ObservedDevices`], which keeps per device only its
//! 16-byte id, one 64-bit hash per mapped attribute, whether writeback owns it, and its DN when
//! that is not the canonical `CN=<deviceId>,<container>`: about 150 bytes a device, so 100,000
//! devices take some 15 MB. [`observe_listed`] reads only the objects of the devices a partial
//! round (a Graph delta round) names.
//!
//! This module reads and indexes; what to do with each object is [`crate::diff`]'s decision.

use std::collections::HashMap;
use std::time::Instant;

use devwb_ldap::{Client, Scope};
use devwb_model::{Dn, Guid, SchemaLevel};

use crate::error::WritebackError;
use crate::mapping::{
    self, attributes_for, device_dn, value_set_hash, AttributeValues, DeviceAttribute, SkipReason,
    ATTRIBUTE_COUNT, MAPPING,
};
use crate::plan::AttributeChange;
use crate::reads::Retrying;
use crate::target::Target;

/// The LDAP filter that selects device objects in the container.
pub const DEVICE_FILTER: &str = "(objectClass=msDS-Device)";

/// The attributes to read from the directory for a forest at `level`: the mapped ones only.
pub fn search_attributes(level: SchemaLevel) -> Vec<&'static str> {
    attributes_for(level).map(|spec| spec.ldap_name).collect()
}

/// Whether `dn` is `CN=<device_id>,<container>`. The fast path compares text (servers return
/// the DN as it was written, and ours is written in this exact form); anything else is parsed
/// and compared as DNs compare (case, spacing, escaping).
fn is_canonical_dn(dn: &str, container: &Dn, device_id: &Guid) -> bool {
    let rdn = mapping::device_rdn_value(device_id);
    let fast = dn.len() > rdn.len() + 4
        && dn.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("CN="))
        && dn
            .get(3..3 + rdn.len())
            .is_some_and(|v| v.eq_ignore_ascii_case(&rdn))
        && dn.get(3 + rdn.len()..4 + rdn.len()) == Some(",")
        && dn
            .get(4 + rdn.len()..)
            .is_some_and(|rest| rest.eq_ignore_ascii_case(container.normalized()));
    fast || Dn::parse(dn).is_ok_and(|parsed| parsed == device_dn(container, device_id))
}

/// What the diff keeps of one existing device object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedDevice {
    /// One hash per mapped attribute ([`mapping::value_set_hash`]), absent attributes included.
    pub hashes: [u64; ATTRIBUTE_COUNT],
    /// Whether writeback owns the object.
    pub owned: bool,
    /// The DN, only when it differs from the canonical one.
    pub odd_dn: Option<Box<str>>,
}

impl ObservedDevice {
    /// Reads an entry: `values(name)` gives the values of a mapped attribute (any spelling the
    /// server used). Returns the device id, or why the entry is not a usable device.
    pub fn from_entry<'e>(
        dn: &str,
        container: &Dn,
        level: SchemaLevel,
        values: impl Fn(&str) -> Option<&'e [Vec<u8>]>,
    ) -> Result<(Guid, ObservedDevice), String> {
        let id_values = values(DeviceAttribute::DeviceId.ldap_name()).unwrap_or(&[]);
        let device_id = match id_values {
            [one] => Guid::from_ad_bytes(one)
                .map_err(|e| format!("{dn}: msDS-DeviceID is not a GUID: {e}"))?,
            [] => return Err(format!("{dn}: msDS-Device without msDS-DeviceID")),
            _ => return Err(format!("{dn}: several msDS-DeviceID values")),
        };
        let mut hashes = [0u64; ATTRIBUTE_COUNT];
        for spec in MAPPING.iter() {
            let attribute_values = if level >= spec.minimum_schema {
                values(spec.ldap_name).unwrap_or(&[])
            } else {
                &[]
            };
            hashes[spec.attribute.index()] = value_set_hash(spec.attribute, attribute_values);
        }
        let anchor = values(DeviceAttribute::CloudAnchor.ldap_name())
            .and_then(|v| v.first())
            .map(Vec::as_slice);
        let odd_dn = if is_canonical_dn(dn, container, &device_id) {
            None
        } else {
            // The DN is kept as the server sent it (it is not parsed on the way in): one that
            // does not parse could be neither modified nor deleted, so the entry is not usable.
            Dn::parse(dn).map_err(|e| format!("{dn}: the DN does not parse: {e}"))?;
            Some(Box::from(dn))
        };
        Ok((
            device_id,
            ObservedDevice {
                hashes,
                owned: mapping::is_owned_by_writeback(anchor),
                odd_dn,
            },
        ))
    }

    /// The object's DN.
    pub fn dn(&self, container: &Dn, device_id: &Guid) -> String {
        match &self.odd_dn {
            Some(dn) => dn.to_string(),
            None => device_dn(container, device_id).to_string(),
        }
    }

    /// The attributes whose values differ from `desired`, with the desired values (empty: remove
    /// the attribute). `msDS-DeviceID` is the key and never differs.
    pub fn changes_to(&self, desired: &AttributeValues) -> Vec<AttributeChange> {
        MAPPING
            .iter()
            .filter(|spec| spec.attribute != DeviceAttribute::DeviceId)
            .filter(|spec| self.hashes[spec.attribute.index()] != desired.hash_of(spec.attribute))
            .map(|spec| AttributeChange {
                attribute: spec.attribute,
                values: desired.get(spec.attribute).to_vec(),
            })
            .collect()
    }
}

/// What the diff decided for an observed object so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Not (yet) met in the export: deleted at the end if owned.
    Unclaimed,
    /// Wanted by a device of the export (or protected by a bad record): kept.
    Claimed,
    /// Met in the export but out of scope: deleted if owned, with the reason.
    OutOfScope,
    /// Named as gone by a partial round (Graph delta's `@removed`): deleted if owned.
    Removed,
}

/// An observed object and the diff's decision about it.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub(crate) device: ObservedDevice,
    pub(crate) fate: Fate,
    pub(crate) scope_reason: Option<SkipReason>,
}

/// The device objects of the container, keyed by device id (see the module documentation).
#[derive(Clone, Debug)]
pub struct ObservedDevices {
    pub(crate) container: Dn,
    level: SchemaLevel,
    pub(crate) by_id: HashMap<u128, Slot>,
    /// Owned objects that repeat a device id already held by another object: deleted.
    pub(crate) duplicates: Vec<(Guid, String)>,
    /// Entries that are not usable devices (no or bad msDS-DeviceID), left alone, for the report.
    pub(crate) unusable: Vec<String>,
}

impl ObservedDevices {
    /// An empty index for a container in a forest at `level`.
    pub fn new(container: Dn, level: SchemaLevel) -> ObservedDevices {
        ObservedDevices {
            container,
            level,
            by_id: HashMap::new(),
            duplicates: Vec::new(),
            unusable: Vec::new(),
        }
    }

    /// Adds one entry of the container search (see [`ObservedDevice::from_entry`]).
    pub fn insert_entry<'e>(&mut self, dn: &str, values: impl Fn(&str) -> Option<&'e [Vec<u8>]>) {
        match ObservedDevice::from_entry(dn, &self.container, self.level, values) {
            Ok((id, device)) => self.insert(id, device),
            Err(why) => self.unusable.push(why),
        }
    }

    /// Adds one observed device. When the id is already present, the object at the canonical DN
    /// wins and an owned other is planned for deletion (writeback never leaves duplicates).
    pub fn insert(&mut self, id: Guid, device: ObservedDevice) {
        let slot = Slot {
            device,
            fate: Fate::Unclaimed,
            scope_reason: None,
        };
        match self.by_id.get_mut(&id.as_u128()) {
            None => {
                self.by_id.insert(id.as_u128(), slot);
            }
            Some(existing) => {
                let prefer_new = existing.device.odd_dn.is_some() && slot.device.odd_dn.is_none();
                let drop = if prefer_new {
                    std::mem::replace(existing, slot)
                } else {
                    slot
                };
                let dn = drop.device.dn(&self.container, &id);
                if drop.device.owned {
                    self.duplicates.push((id, dn));
                } else {
                    self.unusable.push(format!(
                        "{dn}: repeats device id {id}, not owned, left alone"
                    ));
                }
            }
        }
    }

    /// How many device objects are indexed.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no device object is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The observed device with this id.
    pub fn get(&self, id: &Guid) -> Option<&ObservedDevice> {
        self.by_id.get(&id.as_u128()).map(|slot| &slot.device)
    }
}

/// Reads the device container into the diff's index.
pub fn observe(client: &Client, target: &Target) -> Result<ObservedDevices, WritebackError> {
    let started = Instant::now();
    let mut observed = ObservedDevices::new(target.container.clone(), target.scope.schema_level);
    let attributes = search_attributes(target.scope.schema_level);
    // Streamed page by page into the index: the entries themselves are never all in memory.
    Retrying::new(client, devwb_ldap::RetryPolicy::default()).call(
        "read the device container",
        |c| {
            // A retried read starts over.
            observed = ObservedDevices::new(target.container.clone(), target.scope.schema_level);
            // Entries as sent (the DN not parsed, no map): a million of them are read here.
            c.search_each_raw(
                &target.container,
                Scope::OneLevel,
                DEVICE_FILTER,
                &attributes,
                &mut |entry| observed.insert_entry(entry.dn(), |name| Some(entry.values(name))),
            )
        },
    )?;
    tracing::info!(
        devices = observed.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "device container read"
    );
    Ok(observed)
}

/// Threads reading the objects of a partial round's devices.
const LISTED_READERS: usize = 4;
/// Removed devices are looked up by their cloud anchor this many to a search.
const ANCHOR_LOOKUP_BATCH: usize = 100;

/// Reads only the objects of the devices a partial round names: `device_ids`, and the removed
/// devices whose device id is known, by base reads of `CN=<deviceId>,<container>` (an object of
/// such a device at another DN is not seen; the next full round finds it; a removed device's
/// object counts only when its `msDS-CloudAnchor` names that object id); removed devices known
/// only by their Entra object id by searches on `msDS-CloudAnchor` (`Device_<objectId>`, as devwb
/// writes it), 100 ids to a search, which a directory without an index on the anchor answers by
/// scanning the container: the caller should know the device ids. Returns the index and the
/// device ids of the objects of the removed devices.
pub fn observe_listed(
    client: &Client,
    target: &Target,
    device_ids: &[devwb_model::Guid],
    removed: &[RemovedDevice],
) -> Result<(ObservedDevices, Vec<devwb_model::Guid>), WritebackError> {
    let started = Instant::now();
    let container = &target.container;
    let level = target.scope.schema_level;
    let mut observed = ObservedDevices::new(container.clone(), level);
    let attributes = search_attributes(level);
    // Removed devices whose device id the caller knows are read like the listed ones; the
    // others are searched for by their anchor below.
    let known_removed: HashMap<u128, devwb_model::Guid> = removed
        .iter()
        .filter_map(|r| Some((r.device_id?.as_u128(), r.object_id)))
        .collect();
    let unknown_removed: Vec<devwb_model::Guid> = removed
        .iter()
        .filter(|r| r.device_id.is_none())
        .map(|r| r.object_id)
        .collect();
    let mut all_ids: Vec<devwb_model::Guid> = device_ids.to_vec();
    all_ids.extend(removed.iter().filter_map(|r| r.device_id));
    all_ids.sort();
    all_ids.dedup();
    let device_ids = &all_ids[..];
    let mut removed_found = Vec::new();
    // A few readers share the connection (its requests are multiplexed): a round of 1,000
    // devices is latency-bound, one read after another would be four times slower.
    let chunk = device_ids.len().div_ceil(LISTED_READERS).max(1);
    let read: Vec<Result<Vec<devwb_ldap::Entry>, WritebackError>> = std::thread::scope(|scope| {
        let readers: Vec<_> = device_ids
            .chunks(chunk)
            .map(|ids| {
                let attributes = &attributes;
                scope.spawn(move || {
                    let mut reads = Retrying::new(client, devwb_ldap::RetryPolicy::default());
                    let mut entries = Vec::with_capacity(ids.len());
                    for id in ids {
                        let dn = device_dn(container, id);
                        if let Some(entry) =
                            reads.call("read a device object", |c| c.read(&dn, attributes))?
                        {
                            entries.push(entry);
                        }
                    }
                    Ok(entries)
                })
            })
            .collect();
        readers
            .into_iter()
            .map(|reader| {
                reader.join().unwrap_or_else(|_| {
                    Err(WritebackError::Forest(
                        "a reader of device objects stopped unexpectedly".to_owned(),
                    ))
                })
            })
            .collect()
    });
    let anchor = DeviceAttribute::CloudAnchor.ldap_name();
    for entries in read {
        for entry in entries? {
            let dn = entry.dn.to_string();
            match ObservedDevice::from_entry(&dn, container, level, |name| Some(entry.values(name)))
            {
                Ok((id, device)) => {
                    // A removed device's object is taken for it only when its anchor names
                    // that device's object id.
                    if let Some(object_id) = known_removed.get(&id.as_u128()) {
                        if entry.first_bytes(anchor)
                            == Some(crate::mapping::cloud_anchor(object_id).as_slice())
                        {
                            removed_found.push(id);
                        }
                    }
                    observed.insert(id, device);
                }
                // Not a usable device: recorded as such, left alone.
                Err(_) => observed.insert_entry(&dn, |name| Some(entry.values(name))),
            }
        }
    }
    let mut reads = Retrying::new(client, devwb_ldap::RetryPolicy::default());
    let mut removed = removed_found;
    for batch in unknown_removed.chunks(ANCHOR_LOOKUP_BATCH) {
        let terms: String = batch
            .iter()
            .map(|id| format!("({anchor}={}{id})", crate::mapping::CLOUD_ANCHOR_PREFIX))
            .collect();
        let filter = format!("(&{DEVICE_FILTER}(|{terms}))");
        let mut found = Vec::new();
        reads.call("find devices that left Entra", |c| {
            found.clear();
            c.search_each(
                container,
                Scope::OneLevel,
                &filter,
                &attributes,
                &mut |entry| found.push(entry),
            )
        })?;
        for entry in found {
            let dn = entry.dn.to_string();
            match ObservedDevice::from_entry(&dn, container, level, |name| Some(entry.values(name)))
            {
                Ok((id, device)) => {
                    removed.push(id);
                    observed.insert(id, device);
                }
                Err(why) => tracing::warn!(%why, "a device that left Entra has an unusable object"),
            }
        }
    }
    tracing::info!(
        listed = device_ids.len(),
        removed = removed.len(),
        found = observed.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "device objects of a partial round read"
    );
    Ok((observed, removed))
}

/// A device a delta round names as gone: its Entra object id, and its device id when the caller
/// knows it (from an earlier listing); otherwise its object is searched for by its anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemovedDevice {
    /// Graph `id`.
    pub object_id: devwb_model::Guid,
    /// Graph `deviceId`, when known.
    pub device_id: Option<devwb_model::Guid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_dns_are_recognised_in_any_spelling_and_others_are_not() {
        let id = Guid::parse("00112233-4455-6677-8899-aabbccddeeff").unwrap();
        let cases = [
            (
                "CN=00112233-4455-6677-8899-aabbccddeeff,CN=RegisteredDevices,DC=contoso,DC=lab",
                true,
            ),
            (
                "cn=00112233-4455-6677-8899-AABBCCDDEEFF,cn=registereddevices,dc=CONTOSO,dc=lab",
                true,
            ),
            (
                "CN=00112233-4455-6677-8899-aabbccddeeff, CN=RegisteredDevices, DC=contoso, DC=lab",
                true,
            ),
            (
                "CN=00112233-4455-6677-8899-aabbccddeef0,CN=RegisteredDevices,DC=contoso,DC=lab",
                false,
            ),
            (
                "CN=00112233-4455-6677-8899-aabbccddeeff,CN=Computers,DC=contoso,DC=lab",
                false,
            ),
            ("CN=laptop,CN=RegisteredDevices,DC=contoso,DC=lab", false),
        ];
        for (dn, expected) in cases {
            assert_eq!(
                is_canonical_dn(
                    dn,
                    &Dn::parse("CN=RegisteredDevices,DC=contoso,DC=lab").unwrap(),
                    &id
                ),
                expected,
                "{dn}"
            );
        }
    }

    #[test]
    fn an_entry_whose_dn_does_not_parse_is_not_a_usable_device() {
        let container = Dn::parse("CN=RegisteredDevices,DC=contoso,DC=lab").unwrap();
        let id = [7u8; 16].to_vec();
        let values = [id];
        let lookup = |name: &str| {
            name.eq_ignore_ascii_case(DeviceAttribute::DeviceId.ldap_name())
                .then_some(&values[..])
        };
        let why =
            ObservedDevice::from_entry("CN=x,,DC=bad", &container, SchemaLevel::W2016, lookup)
                .unwrap_err();
        assert!(why.contains("does not parse"), "{why}");
        let odd = "CN=laptop,CN=RegisteredDevices,DC=contoso,DC=lab";
        let (_, device) =
            ObservedDevice::from_entry(odd, &container, SchemaLevel::W2016, lookup).unwrap();
        assert_eq!(device.odd_dn.as_deref(), Some(odd));
    }
}
