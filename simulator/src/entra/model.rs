//! The fake tenant's objects, `device` and `user`, in Graph v1.0's JSON shape: checking a device
//! given as Graph JSON (admin endpoint, library API, synthetic seed), and rendering devices and
//! users with `$select` and `$expand=registeredOwners` as Graph does.
//!
//! A device is kept as its checked JSON text of the properties it was given, not as a tree of
//! values: a tree costs several times the text. Properties it was not given are rendered as
//! Graph's empty values (`null`, `[]`). `device` is an open type in Graph, so properties this module does not
//! know are kept and returned as given; the ones it knows are type-checked.
//!
//! Not modelled: `memberOf`, `registeredUsers`, extensions, `$filter`, `$orderby`, `$search`,
//! `$count` (they are answered with a Graph-shaped 400 naming what is not supported).

use devwb_model::{Guid, Sid};
use serde_json::{Map, Value};

/// The type of a property Graph documents for `device` (v1.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Bool,
    Text,
    Guid,
    Int,
    Timestamp,
    TextList,
    AltSecurityIds,
    Object,
}

/// `device`'s documented properties (v1.0 resource page), in the order Graph lists them.
const DEVICE_PROPERTIES: &[(&str, Kind)] = &[
    ("deletedDateTime", Kind::Timestamp),
    ("accountEnabled", Kind::Bool),
    ("approximateLastSignInDateTime", Kind::Timestamp),
    ("complianceExpirationDateTime", Kind::Timestamp),
    ("createdDateTime", Kind::Timestamp),
    ("deviceCategory", Kind::Text),
    ("deviceId", Kind::Guid),
    ("deviceMetadata", Kind::Text),
    ("deviceOwnership", Kind::Text),
    ("deviceVersion", Kind::Int),
    ("displayName", Kind::Text),
    ("enrollmentProfileName", Kind::Text),
    ("enrollmentType", Kind::Text),
    ("isCompliant", Kind::Bool),
    ("isManaged", Kind::Bool),
    ("isRooted", Kind::Bool),
    ("managementType", Kind::Text),
    ("manufacturer", Kind::Text),
    ("mdmAppId", Kind::Text),
    ("model", Kind::Text),
    ("onPremisesLastSyncDateTime", Kind::Timestamp),
    ("onPremisesSecurityIdentifier", Kind::Text),
    ("onPremisesSyncEnabled", Kind::Bool),
    ("operatingSystem", Kind::Text),
    ("operatingSystemVersion", Kind::Text),
    ("physicalIds", Kind::TextList),
    ("profileType", Kind::Text),
    ("registrationDateTime", Kind::Timestamp),
    ("systemLabels", Kind::TextList),
    ("trustType", Kind::Text),
    ("alternativeSecurityIds", Kind::AltSecurityIds),
    ("extensionAttributes", Kind::Object),
];

/// `user` properties the fake knows; the first group is what Graph returns without `$select`.
const USER_DEFAULT_PROPERTIES: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];
const USER_OTHER_PROPERTIES: &[&str] = &[
    "accountEnabled",
    "onPremisesSecurityIdentifier",
    "onPremisesSamAccountName",
    "onPremisesDomainName",
    "onPremisesSyncEnabled",
];

/// Why a device, user or query was refused; becomes a Graph `400` with this text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// A stored device: its object id, its owners' object ids and its other properties as JSON text.
#[derive(Clone, Debug, PartialEq)]
pub struct Device {
    /// The Entra object id (Graph `id`), lowercase.
    pub id: String,
    /// Registered owners' object ids (users of the tenant).
    pub owners: Vec<String>,
    /// Every property but `id` and `registeredOwners`, as a JSON object's text.
    properties: Box<str>,
}

/// A registered owner as given inside a device's `registeredOwners`.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: String,
    pub user_principal_name: Option<String>,
    pub display_name: Option<String>,
    pub on_premises_security_identifier: Option<String>,
    pub account_enabled: Option<bool>,
}

impl User {
    /// A user from a Graph `user` object (`id` required; the SID, when given, must parse).
    pub fn from_graph(value: &Value) -> Result<User, Invalid> {
        let object = value
            .as_object()
            .ok_or_else(|| Invalid("a registered owner must be a JSON object".into()))?;
        let id = match object.get("id") {
            Some(Value::String(id)) => canonical_guid(id, "registeredOwners[].id")?,
            _ => {
                return Err(Invalid(
                    "a registered owner needs an \"id\" (the user's object id)".into(),
                ))
            }
        };
        let text = |name: &str| -> Result<Option<String>, Invalid> {
            match object.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(_) => Err(Invalid(format!(
                    "Invalid value specified for property '{name}' of resource 'User'."
                ))),
            }
        };
        let sid = text("onPremisesSecurityIdentifier")?;
        if let Some(sid) = &sid {
            Sid::parse(sid).map_err(|e| {
                Invalid(format!(
                    "registered owner {id}: onPremisesSecurityIdentifier {sid:?} is not a SID: {e}"
                ))
            })?;
        }
        let account_enabled = match object.get("accountEnabled") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(enabled)) => Some(*enabled),
            Some(_) => {
                return Err(Invalid(
                    "Invalid value specified for property 'accountEnabled' of resource 'User'."
                        .into(),
                ))
            }
        };
        Ok(User {
            id,
            user_principal_name: text("userPrincipalName")?,
            display_name: text("displayName")?,
            on_premises_security_identifier: sid,
            account_enabled,
        })
    }

    /// [`User::render`] with `@odata.type`, as a user appears among a device's owners.
    pub fn render_typed(&self, select: Option<&[String]>) -> Value {
        let mut object = Map::new();
        object.insert(
            "@odata.type".into(),
            Value::String("#microsoft.graph.user".into()),
        );
        object.extend(self.render(select));
        Value::Object(object)
    }

    /// The user as Graph renders it, with `select` (canonical names) or Graph's default set.
    pub fn render(&self, select: Option<&[String]>) -> Map<String, Value> {
        let mut out = Map::new();
        let value = |name: &str| -> Value {
            match name {
                "id" => Value::String(self.id.clone()),
                "displayName" => opt(&self.display_name),
                "userPrincipalName" => opt(&self.user_principal_name),
                "onPremisesSecurityIdentifier" => opt(&self.on_premises_security_identifier),
                "accountEnabled" => self.account_enabled.map_or(Value::Null, Value::Bool),
                "businessPhones" => Value::Array(Vec::new()),
                "onPremisesSyncEnabled" => {
                    if self.on_premises_security_identifier.is_some() {
                        Value::Bool(true)
                    } else {
                        Value::Null
                    }
                }
                _ => Value::Null,
            }
        };
        match select {
            Some(names) => {
                out.insert("id".into(), value("id"));
                for name in names {
                    out.insert(name.clone(), value(name));
                }
            }
            None => {
                for name in USER_DEFAULT_PROPERTIES {
                    out.insert((*name).into(), value(name));
                }
            }
        }
        out
    }
}

fn opt(text: &Option<String>) -> Value {
    text.clone().map_or(Value::Null, Value::String)
}

/// A GUID in Graph's lowercase form, or a message naming the field.
pub fn canonical_guid(text: &str, field: &str) -> Result<String, Invalid> {
    Guid::parse(text)
        .map(|g| g.to_string().to_ascii_lowercase())
        .map_err(|e| Invalid(format!("{field}: {text:?} is not a GUID: {e}")))
}

impl Device {
    /// Checks a Graph `device` object and returns the device and its registered owners.
    /// `path_id`, when given, is the id from the URL: the body's `id` must match it or be absent.
    pub fn from_graph(
        value: &Value,
        path_id: Option<&str>,
    ) -> Result<(Device, Vec<User>), Invalid> {
        let object = value
            .as_object()
            .ok_or_else(|| Invalid("a device must be a JSON object".into()))?;
        let path_id = path_id
            .map(|id| canonical_guid(id, "the device id in the path"))
            .transpose()?;
        let id = match (object.get("id"), path_id) {
            (Some(Value::String(id)), path) => {
                let id = canonical_guid(id, "id")?;
                if let Some(path) = path {
                    if path != id {
                        return Err(Invalid(format!(
                            "the body's id {id} is not the id in the path, {path}"
                        )));
                    }
                }
                id
            }
            (None | Some(Value::Null), Some(path)) => path,
            (None | Some(Value::Null), None) => {
                return Err(Invalid("a device needs an \"id\" (its object id)".into()))
            }
            (Some(_), _) => return Err(Invalid("id must be a string".into())),
        };
        let mut owners = Vec::new();
        let mut properties = Map::new();
        // Only given properties are stored; absent ones are rendered as Graph's empty values.
        for (name, kind) in DEVICE_PROPERTIES {
            if let Some(value) = object.get(*name) {
                check(name, *kind, value)?;
                properties.insert((*name).into(), value.clone());
            }
        }
        for (name, value) in object {
            if name == "id" || name.starts_with('@') || properties.contains_key(name) {
                continue;
            }
            if name == "registeredOwners" {
                let list = value.as_array().ok_or_else(|| {
                    Invalid("registeredOwners must be an array of user objects".into())
                })?;
                for owner in list {
                    owners.push(User::from_graph(owner)?);
                }
                continue;
            }
            if let Some((known, _)) = DEVICE_PROPERTIES
                .iter()
                .find(|(known, _)| known.eq_ignore_ascii_case(name))
            {
                return Err(Invalid(format!(
                    "property {name:?} differs from Graph's {known:?} only in case"
                )));
            }
            // device is an open type: other properties are kept as given.
            properties.insert(name.clone(), value.clone());
        }
        let text = Value::Object(properties).to_string();
        Ok((
            Device {
                id,
                owners: owners.iter().map(|o| o.id.clone()).collect(),
                properties: text.into_boxed_str(),
            },
            owners,
        ))
    }

    /// The stored properties as a JSON object.
    pub fn properties(&self) -> Map<String, Value> {
        match serde_json::from_str(&self.properties) {
            Ok(Value::Object(map)) => map,
            // Stored text is always an object written by from_graph; an empty map is the only
            // honest answer if that ever stops holding.
            _ => Map::new(),
        }
    }

    /// The device as Graph renders it: `id`, the selected (canonical) properties or all of them,
    /// and `registeredOwners` when expanded (with `owners` already looked up). Keys come out in
    /// serde_json's sorted order; JSON objects are unordered and Graph's clients treat them so.
    pub fn render(
        &self,
        select: Option<&[String]>,
        expand: Option<(&[User], Option<&[String]>)>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("id".into(), Value::String(self.id.clone()));
        let mut properties = self.properties();
        match select {
            Some(names) => {
                for name in names {
                    if name == "id" || name == "registeredOwners" {
                        continue;
                    }
                    let value = properties.remove(name).unwrap_or_else(|| empty_value(name));
                    out.insert(name.clone(), value);
                }
            }
            None => {
                for (name, _) in DEVICE_PROPERTIES {
                    if !properties.contains_key(*name) {
                        out.insert((*name).into(), empty_value(name));
                    }
                }
                out.extend(properties);
            }
        }
        if let Some((owners, owner_select)) = expand {
            out.insert(
                "registeredOwners".into(),
                expanded_owners(owners, owner_select),
            );
        }
        out
    }

    /// [`Device::render`] written straight to JSON text (the same object, keys in the same
    /// order), the stored properties copied as they are stored: a listing's page is 999 of these,
    /// and rendering through `Value` maps parsed and rebuilt every property of every device.
    pub fn write_json(
        &self,
        out: &mut Vec<u8>,
        select: Option<&[String]>,
        expand: Option<(&[User], Option<&[String]>)>,
    ) {
        use std::borrow::Cow;
        use std::collections::BTreeMap;
        let stored: BTreeMap<&str, &serde_json::value::RawValue> =
            match serde_json::from_str(&self.properties) {
                Ok(stored) => stored,
                // Names with escapes cannot be borrowed (none are stored): through the map.
                Err(_) => {
                    let object = Value::Object(self.render(select, expand));
                    out.extend_from_slice(object.to_string().as_bytes());
                    return;
                }
            };
        // Each key's JSON text, in key order as serde_json's map writes them.
        let mut fields: BTreeMap<&str, Cow<'_, str>> = BTreeMap::new();
        fields.insert("id", Cow::Owned(Value::String(self.id.clone()).to_string()));
        let stored_or_empty = |name: &str| match stored.get(name) {
            Some(raw) => Cow::Borrowed(raw.get()),
            None => Cow::Owned(empty_value(name).to_string()),
        };
        match select {
            Some(names) => {
                for name in names {
                    if name != "id" && name != "registeredOwners" {
                        fields.insert(name, stored_or_empty(name));
                    }
                }
            }
            None => {
                for (name, _) in DEVICE_PROPERTIES {
                    fields.insert(name, stored_or_empty(name));
                }
                for (name, raw) in &stored {
                    fields.insert(name, Cow::Borrowed(raw.get()));
                }
            }
        }
        if let Some((owners, owner_select)) = expand {
            fields.insert(
                "registeredOwners",
                Cow::Owned(expanded_owners(owners, owner_select).to_string()),
            );
        }
        out.push(b'{');
        for (index, (name, value)) in fields.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(json_string(name).as_bytes());
            out.push(b':');
            out.extend_from_slice(value.as_bytes());
        }
        out.push(b'}');
    }

    /// `accountEnabled` (for the library API's convenience).
    pub fn account_enabled(&self) -> Option<bool> {
        self.properties()
            .get("accountEnabled")
            .and_then(Value::as_bool)
    }
}

/// `text` as a JSON string, quoted and escaped as serde_json writes it.
pub(super) fn json_string(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

/// A device's `registeredOwners` as `$expand` shows them (with `owner_select`, or the default
/// properties and the SID).
fn expanded_owners(owners: &[User], owner_select: Option<&[String]>) -> Value {
    let list = owners
        .iter()
        .map(|user| {
            // An expanded owner without $select carries its SID too: Graph's expanded
            // directory objects are not trimmed to the default set, and exports rely on it.
            let default_and_sid: Vec<String>;
            let select = match owner_select {
                Some(select) => Some(select),
                None => {
                    default_and_sid = USER_DEFAULT_PROPERTIES
                        .iter()
                        .chain(["onPremisesSecurityIdentifier"].iter())
                        .map(|s| (*s).to_string())
                        .collect();
                    Some(default_and_sid.as_slice())
                }
            };
            user.render_typed(select)
        })
        .collect();
    Value::Array(list)
}

/// What Graph shows for a property a device does not have: `[]` for collections, else `null`.
fn empty_value(name: &str) -> Value {
    match DEVICE_PROPERTIES.iter().find(|(known, _)| *known == name) {
        Some((_, Kind::TextList | Kind::AltSecurityIds)) => Value::Array(Vec::new()),
        _ => Value::Null,
    }
}

fn check(name: &str, kind: Kind, value: &Value) -> Result<(), Invalid> {
    let bad = || {
        Invalid(format!(
            "Invalid value specified for property '{name}' of resource 'Device'."
        ))
    };
    let ok = match (kind, value) {
        (_, Value::Null) => !matches!(kind, Kind::TextList | Kind::AltSecurityIds),
        (Kind::Bool, Value::Bool(_)) => true,
        (Kind::Text | Kind::Timestamp, Value::String(_)) => true,
        (Kind::Guid, Value::String(text)) => {
            canonical_guid(text, name)?;
            true
        }
        (Kind::Int, Value::Number(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        (Kind::TextList, Value::Array(items)) => items.iter().all(Value::is_string),
        (Kind::AltSecurityIds, Value::Array(items)) => items.iter().all(|item| {
            item.as_object().is_some_and(|o| {
                o.get("type").is_none_or(|t| t.is_i64() || t.is_null())
                    && o.get("key").is_none_or(|k| k.is_string() || k.is_null())
                    && o.get("identityProvider")
                        .is_none_or(|p| p.is_string() || p.is_null())
            })
        }),
        (Kind::Object, Value::Object(_)) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// The canonical name of a `device` property for `$select`, Graph matching names in any case.
pub fn device_property(name: &str) -> Result<String, Invalid> {
    if name.eq_ignore_ascii_case("id") {
        return Ok("id".into());
    }
    if name.eq_ignore_ascii_case("registeredOwners") {
        return Ok("registeredOwners".into());
    }
    DEVICE_PROPERTIES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(known, _)| (*known).to_string())
        .ok_or_else(|| {
            Invalid(format!(
                "Could not find a property named '{name}' on type 'microsoft.graph.device'."
            ))
        })
}

/// The canonical name of a `user` property for `$select`.
pub fn user_property(name: &str) -> Result<String, Invalid> {
    USER_DEFAULT_PROPERTIES
        .iter()
        .chain(USER_OTHER_PROPERTIES)
        .find(|known| known.eq_ignore_ascii_case(name))
        .map(|known| (*known).to_string())
        .ok_or_else(|| {
            Invalid(format!(
                "Could not find a property named '{name}' on type 'microsoft.graph.user'."
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn written_json_is_the_rendered_object_byte_for_byte() {
        let body = json!({
            "id": "6F9A1B2C-3D4E-4F50-8A6B-7C8D9E0F1A2B",
            "deviceId": "00000000-0000-4000-8000-000000000001",
            "displayName": "LAPTOP \"1\" \u{e9}\\",
            "accountEnabled": false,
            "physicalIds": ["[GID]:g:1", "[USER-GID]:u:2"],
            "alternativeSecurityIds": [{"type": 2, "identityProvider": null, "key": "WAA1AA=="}],
            "customThing": {"a": [1, 2.5, null]},
            "registeredOwners": [{"id": "00000000-0000-4000-8000-0000000000aa",
                "onPremisesSecurityIdentifier": "S-1-5-21-1-2-3-1105"}],
        });
        let (device, owners) = Device::from_graph(&body, None).expect("valid");
        let select = vec![
            "deviceId".to_string(),
            "displayName".to_string(),
            "isManaged".to_string(),
            "physicalIds".to_string(),
            "systemLabels".to_string(),
            "registeredOwners".to_string(),
        ];
        let owner_select = vec!["onPremisesSecurityIdentifier".to_string()];
        type Expand<'a> = Option<(&'a [User], Option<&'a [String]>)>;
        let cases: [(Option<&[String]>, Expand<'_>); 5] = [
            (None, None),
            (None, Some((&owners, None))),
            (Some(&select), None),
            (Some(&select), Some((&owners, Some(&owner_select)))),
            (Some(&[]), Some((&[], None))),
        ];
        for (select, expand) in cases {
            let rendered = Value::Object(device.render(select, expand)).to_string();
            let mut written = Vec::new();
            device.write_json(&mut written, select, expand);
            assert_eq!(
                String::from_utf8(written).expect("UTF-8"),
                rendered,
                "{select:?} {expand:?}"
            );
        }
    }

    #[test]
    fn a_device_round_trips_with_owners_and_open_properties() {
        let body = json!({
            "id": "6F9A1B2C-3D4E-4F50-8A6B-7C8D9E0F1A2B",
            "deviceId": "00000000-0000-4000-8000-000000000001",
            "displayName": "LAPTOP-1",
            "accountEnabled": true,
            "physicalIds": ["[GID]:g:1"],
            "alternativeSecurityIds": [{"type": 2, "identityProvider": null, "key": "WAA1AA=="}],
            "customThing": {"a": 1},
            "@odata.type": "#microsoft.graph.device",
            "registeredOwners": [{"id": "00000000-0000-4000-8000-0000000000aa",
                "onPremisesSecurityIdentifier": "S-1-5-21-1-2-3-1105"}],
        });
        let (device, owners) = Device::from_graph(&body, None).expect("valid");
        assert_eq!(device.id, "6f9a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b");
        assert_eq!(owners.len(), 1);
        let all = device.render(None, Some((&owners, None)));
        assert_eq!(all["displayName"], "LAPTOP-1");
        assert_eq!(all["customThing"], json!({"a": 1}));
        assert_eq!(
            all["isManaged"],
            Value::Null,
            "absent: null, as Graph shows it"
        );
        assert_eq!(all["systemLabels"], json!([]), "absent collection: []");
        assert!(!all.contains_key("@odata.type"));
        assert_eq!(
            all["registeredOwners"][0]["onPremisesSecurityIdentifier"],
            "S-1-5-21-1-2-3-1105"
        );
        let select = vec!["displayName".to_string()];
        let owner_select = vec!["onPremisesSecurityIdentifier".to_string()];
        let some = device.render(Some(&select), Some((&owners, Some(&owner_select))));
        let mut keys: Vec<&String> = some.keys().collect();
        keys.sort();
        assert_eq!(keys, ["displayName", "id", "registeredOwners"]);
        assert_eq!(
            some["registeredOwners"][0],
            json!({"@odata.type": "#microsoft.graph.user",
                   "id": "00000000-0000-4000-8000-0000000000aa",
                   "onPremisesSecurityIdentifier": "S-1-5-21-1-2-3-1105"})
        );
    }

    #[test]
    fn bad_devices_are_refused_with_the_property_named() {
        let check = |body: Value, path: Option<&str>, expected: &str| {
            let error = Device::from_graph(&body, path).expect_err("invalid");
            assert!(error.0.contains(expected), "{error} lacks {expected}");
        };
        let id = "6f9a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b";
        check(json!([]), None, "JSON object");
        check(json!({"displayName": "x"}), None, "needs an \"id\"");
        check(json!({"id": "nope"}), None, "not a GUID");
        check(
            json!({"id": id, "accountEnabled": "yes"}),
            None,
            "'accountEnabled'",
        );
        check(json!({"id": id, "physicalIds": [1]}), None, "'physicalIds'");
        check(
            json!({"id": id}),
            Some("00000000-0000-4000-8000-000000000001"),
            "not the id in the path",
        );
        check(
            json!({"id": id, "registeredOwners": [{"id": id, "onPremisesSecurityIdentifier": "S-x"}]}),
            None,
            "is not a SID",
        );
        check(json!({"id": id, "DisplayName": "x"}), None, "only in case");
        assert_eq!(
            device_property("DISPLAYNAME").expect("known"),
            "displayName"
        );
        assert!(device_property("color").is_err());
        assert_eq!(
            user_property("onpremisessecurityidentifier").expect("known"),
            "onPremisesSecurityIdentifier"
        );
    }
}
