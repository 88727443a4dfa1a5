//! One round of Microsoft Graph's `devices/delta`, read from its pages into what the round
//! changed: devices that changed (added, modified, disabled, ...) and devices that left Entra
//! (`@removed`, whatever its `reason`: `deleted` or `changed`, both mean the device is no longer
//! in the collection).
//!
//! Graph's delta takes no `$expand`, so a changed device comes without `registeredOwners`: the
//! caller fetches each changed device's owners (`/devices/{id}/registeredOwners`) and hands them
//! to [`DeltaChanges::into_source`], which puts them into the device as the expansion would have,
//! and returns a [`DeviceSource`] that the writeback planner reads like any export. A device whose
//! owners were not given keeps no `registeredOwners` property, and the planner then withholds
//! deletes as it does for an export made without the expansion.
//!
//! A device listed more than once in one round (changed, then changed again or removed) counts
//! once, as its last listing says.
//!
//! This module parses pages held in memory (rounds are small; a first, full round goes through
//! [`DeviceSource::graph_pages`] instead). It does no IO and knows nothing of HTTP or LDAP.

use std::collections::HashMap;

use devwb_model::Guid;
use serde_json::{Map, Value};

use crate::error::WritebackError;
use crate::source::DeviceSource;

/// What one delta round changed (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeltaChanges {
    /// Changed devices, in the order they were first listed, as Graph last sent them.
    changed: Vec<ChangedDevice>,
    /// Object ids of devices that left Entra.
    removed: Vec<Guid>,
    /// Items in the round (before devices listed twice were merged).
    items: u64,
}

/// A changed device as the delta page gave it.
#[derive(Clone, Debug, PartialEq)]
struct ChangedDevice {
    /// Graph `id` as given (checked when the record is read).
    object_id: String,
    object: Map<String, Value>,
}

impl DeltaChanges {
    /// Reads the pages of one delta round (`name` names them in messages, as `<name> page <n>`).
    /// A page that is not a JSON object with a `value` array, or an `@removed` item without a
    /// usable `id`, fails the round: its changes cannot be known.
    pub fn from_pages(
        name: &str,
        pages: &[impl AsRef<[u8]>],
    ) -> Result<DeltaChanges, WritebackError> {
        let mut last: HashMap<String, usize> = HashMap::new();
        let mut listed: Vec<(String, Option<Map<String, Value>>)> = Vec::new();
        let mut items = 0u64;
        for (n, page) in pages.iter().enumerate() {
            let file = format!("{name} page {}", n + 1);
            let export = |message: String| WritebackError::Export {
                file: file.clone(),
                message,
            };
            let body: Value =
                serde_json::from_slice(page.as_ref()).map_err(|e| WritebackError::Json {
                    file: file.clone(),
                    line: e.line(),
                    column: e.column(),
                    message: e.to_string(),
                })?;
            let Some(values) = body.get("value").and_then(Value::as_array) else {
                return Err(export("a delta page needs a \"value\" array".to_owned()));
            };
            for (i, item) in values.iter().enumerate() {
                items += 1;
                let Some(object) = item.as_object() else {
                    return Err(export(format!("item {}: not a JSON object", i + 1)));
                };
                let id = object.get("id").and_then(Value::as_str).unwrap_or_default();
                let removed = object.contains_key("@removed");
                if removed && Guid::parse(id).is_err() {
                    return Err(export(format!(
                        "item {}: an @removed device without a GUID id ({:?}): which device \
                         left cannot be known",
                        i + 1,
                        id
                    )));
                }
                let entry = (id.to_owned(), (!removed).then(|| object.clone()));
                // The last listing of an object wins, in the place of its first; devices without
                // an id are kept apart (the source reports them as bad records).
                match last.get(id) {
                    Some(&at) if !id.is_empty() => listed[at] = entry,
                    _ => {
                        if !id.is_empty() {
                            last.insert(id.to_owned(), listed.len());
                        }
                        listed.push(entry);
                    }
                }
            }
        }
        let mut changes = DeltaChanges {
            items,
            ..DeltaChanges::default()
        };
        for (object_id, object) in listed {
            match object {
                Some(object) => changes.changed.push(ChangedDevice { object_id, object }),
                None => {
                    if let Ok(id) = Guid::parse(&object_id) {
                        changes.removed.push(id);
                    }
                }
            }
        }
        Ok(changes)
    }

    /// The object ids of the changed devices, whose owners the caller fetches.
    pub fn changed_object_ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.changed
            .iter()
            .map(|d| d.object_id.as_str())
            .filter(|id| !id.is_empty())
    }

    /// The (object id, device id) of each changed device whose two ids are GUIDs.
    pub fn changed_id_pairs(&self) -> Vec<(Guid, Guid)> {
        self.changed
            .iter()
            .filter_map(|d| {
                let object_id = Guid::parse(&d.object_id).ok()?;
                let device_id = d.object.get("deviceId")?.as_str()?;
                Some((object_id, Guid::parse(device_id).ok()?))
            })
            .collect()
    }

    /// The object ids of the devices that left Entra.
    pub fn removed_object_ids(&self) -> &[Guid] {
        &self.removed
    }

    /// How many devices changed.
    pub fn changed_count(&self) -> usize {
        self.changed.len()
    }

    /// How many items the round listed (a device listed twice counts twice).
    pub fn items(&self) -> u64 {
        self.items
    }

    /// Whether the round changed nothing.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.removed.is_empty()
    }

    /// The changed devices as a source, each with `registeredOwners` set to the owners given for
    /// its object id: `owners[id]` holds the pages of `/devices/{id}/registeredOwners` (their
    /// `value` arrays are joined). A device that already carries `registeredOwners` keeps it.
    pub fn into_source(
        self,
        name: &str,
        owners: &HashMap<String, Vec<Vec<u8>>>,
    ) -> Result<DeviceSource, WritebackError> {
        let mut values = Vec::with_capacity(self.changed.len());
        for ChangedDevice {
            object_id,
            mut object,
        } in self.changed
        {
            if !object.contains_key("registeredOwners") {
                if let Some(pages) = owners.get(&object_id) {
                    let mut joined = Vec::new();
                    for (n, page) in pages.iter().enumerate() {
                        let file = format!("{name}: owners of device {object_id}, page {}", n + 1);
                        let body: Value =
                            serde_json::from_slice(page).map_err(|e| WritebackError::Json {
                                file: file.clone(),
                                line: e.line(),
                                column: e.column(),
                                message: e.to_string(),
                            })?;
                        match body.get("value").and_then(Value::as_array) {
                            Some(owners) => joined.extend(owners.iter().cloned()),
                            None => {
                                return Err(WritebackError::Export {
                                    file,
                                    message: "an owners page needs a \"value\" array".to_owned(),
                                })
                            }
                        }
                    }
                    object.insert("registeredOwners".to_owned(), Value::Array(joined));
                }
            }
            values.push(Value::Object(object));
        }
        let page = serde_json::json!({ "value": values });
        let bytes = serde_json::to_vec(&page).map_err(|e| WritebackError::Export {
            file: name.to_owned(),
            message: format!("cannot rebuild the round's page: {e}"),
        })?;
        Ok(DeviceSource::graph_pages(name, vec![bytes]))
    }
}

/// The (object id, device id) of every device of a Graph page whose two ids are GUIDs: a delta
/// round's `@removed` devices carry only their object id, and the caller keeps this map to find
/// their objects (`CN=<deviceId>,<container>`) without searching the container. A page that does
/// not parse gives nothing here (the source reports it).
pub fn page_id_pairs(page: &[u8]) -> Vec<(Guid, Guid)> {
    #[derive(serde::Deserialize)]
    struct Ids<'a> {
        #[serde(borrow)]
        id: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow, rename = "deviceId")]
        device_id: Option<std::borrow::Cow<'a, str>>,
    }
    #[derive(serde::Deserialize)]
    struct Page<'a> {
        #[serde(borrow)]
        value: Vec<Ids<'a>>,
    }
    let Ok(page) = serde_json::from_slice::<Page<'_>>(page) else {
        return Vec::new();
    };
    page.value
        .iter()
        .filter_map(|ids| {
            let object_id = Guid::parse(ids.id.as_deref()?).ok()?;
            Some((object_id, Guid::parse(ids.device_id.as_deref()?).ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceRecord;

    const A: &str = "aaaaaaaa-0000-0000-0000-000000000001";
    const B: &str = "bbbbbbbb-0000-0000-0000-000000000002";
    const C: &str = "cccccccc-0000-0000-0000-000000000003";
    const SID: &str = "S-1-5-21-1004336348-1177238915-682003330-1105";

    fn device(object_id: &str, device_id: &str, enabled: bool) -> Value {
        serde_json::json!({
            "id": object_id,
            "deviceId": device_id,
            "displayName": "PC",
            "accountEnabled": enabled,
            "alternativeSecurityIds": [{"type": 2, "key": "WAA1ADAAOQA6AA=="}],
        })
    }

    fn page(values: Vec<Value>, last: bool) -> Vec<u8> {
        let mut page = serde_json::json!({ "value": values });
        let link = if last {
            "@odata.deltaLink"
        } else {
            "@odata.nextLink"
        };
        page[link] = "https://graph.example/v1.0/devices/delta?$deltatoken=x".into();
        page.to_string().into_bytes()
    }

    #[test]
    fn a_round_separates_changed_and_removed_devices_and_the_last_listing_wins() {
        let removed = serde_json::json!({"id": C, "@removed": {"reason": "deleted"}});
        let removed_a = serde_json::json!({"id": A, "@removed": {"reason": "changed"}});
        let pages = vec![
            page(
                vec![
                    device(A, "00000000-0000-0000-0000-00000000000a", true),
                    removed,
                ],
                false,
            ),
            page(
                vec![
                    device(B, "00000000-0000-0000-0000-00000000000b", true),
                    removed_a,
                    device(B, "00000000-0000-0000-0000-00000000000b", false),
                ],
                true,
            ),
        ];
        let changes = DeltaChanges::from_pages("delta", &pages).expect("readable");
        assert_eq!(changes.items(), 5);
        assert_eq!(changes.changed_object_ids().collect::<Vec<_>>(), [B]);
        let removed: Vec<String> = changes
            .removed_object_ids()
            .iter()
            .map(Guid::to_string)
            .collect();
        assert_eq!(removed, [A, C]);
        let pairs = changes.changed_id_pairs();
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].0.to_string(), B);
        assert_eq!(
            page_id_pairs(&pages[0]).len(),
            1,
            "the removed item has no deviceId"
        );
        let owners = HashMap::from([(
            B.to_owned(),
            vec![
                serde_json::json!({"value": [{"id": A, "onPremisesSecurityIdentifier": SID}]})
                    .to_string()
                    .into_bytes(),
            ],
        )]);
        let source = changes.into_source("delta", &owners).expect("source");
        let (records, summary) = source.read_all().expect("read");
        assert_eq!(summary.incomplete, None);
        let [SourceRecord::Device(device)] = records.as_slice() else {
            panic!("{records:?}")
        };
        assert!(!device.account_enabled, "the second listing of B wins");
        assert!(device.registered_owners_listed);
        let sid = device.owner.as_ref().and_then(|o| o.on_premises_sid);
        assert_eq!(sid.map(|s| s.to_string()).as_deref(), Some(SID));
    }

    #[test]
    fn a_broken_page_or_an_unidentifiable_removal_fails_the_round_by_name() {
        let cases: [(&[u8], &str); 4] = [
            (
                b"{\"value\": [",
                "delta page 1: line 1, column 11: not valid JSON",
            ),
            (
                b"{\"items\": []}",
                "delta page 1: a delta page needs a \"value\" array",
            ),
            (
                b"{\"value\": [3]}",
                "delta page 1: item 1: not a JSON object",
            ),
            (
                b"{\"value\": [{\"id\": \"x\", \"@removed\": {}}]}",
                "delta page 1: item 1: an @removed device without a GUID id (\"x\")",
            ),
        ];
        for (bytes, expected) in cases {
            let error = DeltaChanges::from_pages("delta", &[bytes]).expect_err("broken");
            assert!(error.to_string().starts_with(expected), "{error}");
        }
    }

    #[test]
    fn a_device_without_owners_given_stays_without_registered_owners() {
        let pages = vec![page(
            vec![device(A, "00000000-0000-0000-0000-00000000000a", true)],
            true,
        )];
        let changes = DeltaChanges::from_pages("delta", &pages).expect("readable");
        let source = changes
            .into_source("delta", &HashMap::new())
            .expect("source");
        let (records, _) = source.read_all().expect("read");
        let [SourceRecord::Device(device)] = records.as_slice() else {
            panic!("{records:?}")
        };
        assert!(!device.registered_owners_listed);
    }
}
