//! The mapping from an Entra device to an `msDS-Device` entry: the reference's table, in one place.
//!
//! Microsoft documents *which* AD attributes device writeback fills, not the rule expressions, so
//! this table is ours (shared/reference/device-writeback.md section 4). Every choice the
//! reference marks `[inf]` (inferred, not confirmed) is a named constant or function here with a
//! doc comment saying so; the tests name the same assumptions.
//!
//! Scope is decided here too: a device is written only when its first registered owner has an
//! on-premises SID in a domain of the target forest (the same-forest rule of section 5), and when
//! it has a usable `alternativeSecurityIds` key (altSecurityIdentities is mandatory). Attributes
//! that need the 2016 schema are produced only for a 2016-or-later forest.
//!
//! This module does no IO: [`map_device`] is a pure function of a checked device and a
//! [`ForestScope`].

use std::fmt;
use std::hash::{BuildHasher, Hasher};

use devwb_model::schema::attr;
use devwb_model::{Dn, Guid, SchemaLevel, Sid};
use serde::Serialize;

use crate::source::EntraDevice;

/// The object class of a written-back device.
pub const DEVICE_CLASS: &str = "msDS-Device";

/// The attributes writeback owns on an `msDS-Device`, in a fixed order (the index of each is used
/// by the diff's per-attribute hashes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum DeviceAttribute {
    /// `msDS-DeviceID` from `deviceId`: see [`device_id_bytes`].
    DeviceId,
    /// `displayName` from `displayName`, as is.
    DisplayName,
    /// `msDS-IsEnabled` from `accountEnabled`.
    IsEnabled,
    /// `msDS-DeviceOSType` from `operatingSystem`, as is.
    OsType,
    /// `msDS-DeviceOSVersion` from `operatingSystemVersion`, as is.
    OsVersion,
    /// `msDS-DevicePhysicalIDs` from `physicalIds`, multi-valued.
    PhysicalIds,
    /// `msDS-DeviceObjectVersion` from `deviceVersion`.
    ObjectVersion,
    /// `altSecurityIdentities` from `alternativeSecurityIds[type==2].key`: see [`alt_security_identity`].
    AltSecurityIdentities,
    /// `msDS-IsManaged` from `isManaged`.
    IsManaged,
    /// `msDS-IsCompliant` from `isCompliant`; 2016 schema only.
    IsCompliant,
    /// `msDS-RegisteredOwner` from the first registered owner's `onPremisesSecurityIdentifier`,
    /// as a binary SID.
    RegisteredOwner,
    /// `msDS-CloudAnchor`: see [`cloud_anchor`].
    CloudAnchor,
}

/// How many attributes the mapping has.
pub const ATTRIBUTE_COUNT: usize = 12;

/// One row of the mapping table.
#[derive(Clone, Copy, Debug)]
pub struct AttributeSpec {
    /// The AD attribute.
    pub attribute: DeviceAttribute,
    /// Its lDAPDisplayName.
    pub ldap_name: &'static str,
    /// The Graph v1.0 `device` property it comes from.
    pub graph_property: &'static str,
    /// Whether it holds several values.
    pub multi_valued: bool,
    /// The oldest schema level that has it.
    pub minimum_schema: SchemaLevel,
    /// Whether a string value compares case-insensitively in AD (Unicode String syntax), so
    /// two values differing only in case are duplicates in a multi-valued attribute.
    pub case_insensitive_values: bool,
}

const fn row(
    attribute: DeviceAttribute,
    ldap_name: &'static str,
    graph_property: &'static str,
    multi_valued: bool,
    minimum_schema: SchemaLevel,
    case_insensitive_values: bool,
) -> AttributeSpec {
    AttributeSpec {
        attribute,
        ldap_name,
        graph_property,
        multi_valued,
        minimum_schema,
        case_insensitive_values,
    }
}

use DeviceAttribute as A;
use SchemaLevel::{W2012R2, W2016};

/// The mapping table: AD attribute, Graph property, multi-valued, schema level.
///
/// Not mapped, on purpose: `msDS-KeyCredentialLink` (Microsoft lists it, but a Graph v1.0
/// `device` has no property carrying it) and `msDS-DeviceTrustType` (Microsoft does not list it,
/// and how `trustType` text maps to its integer is not documented).
#[rustfmt::skip]
pub const MAPPING: [AttributeSpec; ATTRIBUTE_COUNT] = [
    //  attribute               lDAPDisplayName                  Graph property            multi  schema   case-insensitive
    row(A::DeviceId,            attr::DEVICE_ID,                 "deviceId",               false, W2012R2, false),
    row(A::DisplayName,         attr::DISPLAY_NAME,              "displayName",            false, W2012R2, true),
    row(A::IsEnabled,           attr::IS_ENABLED,                "accountEnabled",         false, W2012R2, false),
    row(A::OsType,              attr::DEVICE_OS_TYPE,            "operatingSystem",        false, W2012R2, true),
    row(A::OsVersion,           attr::DEVICE_OS_VERSION,         "operatingSystemVersion", false, W2012R2, true),
    row(A::PhysicalIds,         attr::DEVICE_PHYSICAL_IDS,       "physicalIds",            true,  W2012R2, true),
    row(A::ObjectVersion,       attr::DEVICE_OBJECT_VERSION,     "deviceVersion",          false, W2012R2, false),
    row(A::AltSecurityIdentities, attr::ALT_SECURITY_IDENTITIES, "alternativeSecurityIds", true,  W2012R2, true),
    row(A::IsManaged,           attr::IS_MANAGED,                "isManaged",              false, W2012R2, false),
    row(A::IsCompliant,         attr::IS_COMPLIANT,              "isCompliant",            false, W2016,   false),
    row(A::RegisteredOwner,     attr::REGISTERED_OWNER,          "registeredOwners",       false, W2012R2, false),
    row(A::CloudAnchor,         attr::CLOUD_ANCHOR,              "id",                     false, W2012R2, false),
];

/// The `$select` of a Graph device listing for writeback: the mapped properties (owners come
/// from `$expand=registeredOwners` or a separate owners read, not from `$select`) and `trustType`,
/// which the source reads.
pub fn graph_device_select() -> Vec<&'static str> {
    let mut select: Vec<&'static str> = MAPPING
        .iter()
        .map(|spec| spec.graph_property)
        .filter(|&property| property != "registeredOwners")
        .collect();
    select.push("trustType");
    select
}

impl DeviceAttribute {
    /// The attribute's position in [`MAPPING`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Its row of the table.
    pub fn spec(self) -> &'static AttributeSpec {
        &MAPPING[self.index()]
    }

    /// Its lDAPDisplayName.
    pub fn ldap_name(self) -> &'static str {
        self.spec().ldap_name
    }

    /// The attribute whose lDAPDisplayName is `name` (any case).
    pub fn from_ldap_name(name: &str) -> Option<DeviceAttribute> {
        MAPPING
            .iter()
            .find(|spec| spec.ldap_name.eq_ignore_ascii_case(name))
            .map(|spec| spec.attribute)
    }
}

/// The attributes a forest at `level` can hold, in table order.
pub fn attributes_for(level: SchemaLevel) -> impl Iterator<Item = &'static AttributeSpec> {
    MAPPING
        .iter()
        .filter(move |spec| level >= spec.minimum_schema)
}

/// `[inf]` The RDN value of a device: its `deviceId` GUID as lowercase text, so the DN of a device
/// is `CN=<deviceId>,<container>` and is the same in every run (what makes reruns resumable).
pub fn device_rdn_value(device_id: &Guid) -> String {
    device_id.to_string()
}

/// `[inf]` `msDS-DeviceID` is the device id in the 16-byte layout of .NET `Guid.ToByteArray`
/// (the `objectGUID` layout).
pub fn device_id_bytes(device_id: &Guid) -> [u8; 16] {
    device_id.to_ad_bytes()
}

/// `[inf]` The prefix of `msDS-CloudAnchor`: `Device_` followed by the Entra object id.
pub const CLOUD_ANCHOR_PREFIX: &str = "Device_";

/// `[inf]` `msDS-CloudAnchor` is the UTF-8 (here: ASCII) bytes of `Device_<objectId>`, the object
/// id as lowercase GUID text. The attribute is an octet string and Microsoft does not document
/// the encoding.
///
/// This is also the ownership mark: writeback modifies and deletes only `msDS-Device` objects
/// whose `msDS-CloudAnchor` starts with [`CLOUD_ANCHOR_PREFIX`] (see [`is_owned_by_writeback`]).
pub fn cloud_anchor(object_id: &Guid) -> Vec<u8> {
    format!("{CLOUD_ANCHOR_PREFIX}{object_id}").into_bytes()
}

/// Whether an existing device object belongs to writeback: its `msDS-CloudAnchor` starts with
/// `Device_`. Objects made by hand or by another tool lack it and are never modified or deleted.
///
/// `[inf]` How Entra Connect encodes the anchor's bytes is not public, so the test is tolerant:
/// the prefix in ASCII (what devwb writes) or in UTF-16LE (what a .NET writer that used
/// `Encoding.Unicode` would leave) both mean owned. A value that matches neither is logged, so an
/// unexpected encoding in a real directory shows itself instead of silently making every object
/// "not owned".
pub fn is_owned_by_writeback(cloud_anchor_value: Option<&[u8]>) -> bool {
    let Some(value) = cloud_anchor_value else {
        return false;
    };
    if value.starts_with(CLOUD_ANCHOR_PREFIX.as_bytes()) || starts_with_utf16le_prefix(value) {
        return true;
    }
    tracing::debug!(
        value = %String::from_utf8_lossy(value),
        "msDS-CloudAnchor matches neither the ASCII nor the UTF-16LE Device_ prefix: not owned"
    );
    false
}

fn starts_with_utf16le_prefix(value: &[u8]) -> bool {
    let prefix = CLOUD_ANCHOR_PREFIX.as_bytes();
    value.len() >= prefix.len() * 2
        && prefix
            .iter()
            .zip(value.chunks_exact(2))
            .all(|(&c, unit)| unit == [c, 0])
}

/// `msDS-RegisteredOwner` as devwb writes it: the ASCII text of the owner's SID
/// (`S-1-5-21-...-1105`). The schema calls the attribute a binary SID, but every script found
/// that reads it from a real directory decodes it as ASCII text, and AD FS reads both forms
/// (reference/device-writeback.md section 4).
pub fn registered_owner_value(owner: &Sid) -> Vec<u8> {
    owner.to_string().into_bytes()
}

/// The owner an `msDS-RegisteredOwner` value names, whichever form it was written in: SID text
/// (devwb, AD FS) or a binary SID (earlier devwb versions). `None` for a value that is neither.
pub fn registered_owner_of(value: &[u8]) -> Option<Sid> {
    if value.starts_with(b"S-") || value.starts_with(b"s-") {
        std::str::from_utf8(value)
            .ok()
            .and_then(|t| Sid::parse(t).ok())
    } else {
        Sid::from_bytes(value).ok()
    }
}

/// The `alternativeSecurityIds` type whose key becomes `altSecurityIdentities`.
pub const X509_KEY_TYPE: i64 = 2;

/// The prefix of an `altSecurityIdentities` value.
pub const ALT_SECURITY_IDENTITY_PREFIX: &str = "X509:<SHA1-TP-PUBKEY>";

/// `[inf]` An `alternativeSecurityIds[type==2].key` is base64 (already decoded by the source) of
/// UTF-16LE text `X509:<SHA1-TP-PUBKEY>` + 40 hex digits (SHA-1 thumbprint) + base64 of the
/// SHA-256 of the public key (44 characters). Returns that text, or why the key is unusable.
pub fn alt_security_identity(key: &[u8]) -> Result<String, &'static str> {
    if key.len() % 2 != 0 {
        return Err("key is not UTF-16LE text (odd length)");
    }
    let units = key
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]));
    let text: String = char::decode_utf16(units)
        .collect::<Result<_, _>>()
        .map_err(|_| "key is not UTF-16LE text")?;
    let text = text.trim_end_matches('\0').to_owned();
    let Some(rest) = text.strip_prefix(ALT_SECURITY_IDENTITY_PREFIX) else {
        return Err("key text does not start with X509:<SHA1-TP-PUBKEY>");
    };
    // `get` rather than slicing: the text is untrusted and may put a multibyte character at 40.
    let (thumbprint, public_key_hash) = match (rest.get(..40), rest.get(40..)) {
        (Some(thumbprint), Some(hash)) => (thumbprint, hash),
        _ => ("", ""),
    };
    if thumbprint.len() != 40 || !thumbprint.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("key text lacks the 40-hex-digit SHA-1 thumbprint");
    }
    if public_key_hash.len() != 44
        || !public_key_hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    {
        return Err("key text lacks the base64 SHA-256 of the public key");
    }
    Ok(text)
}

/// `[inf]` Booleans are written as LDAP Boolean text, `TRUE` or `FALSE`.
pub fn boolean_value(value: bool) -> Vec<u8> {
    if value {
        b"TRUE".to_vec()
    } else {
        b"FALSE".to_vec()
    }
}

/// What writeback needs to know about the target forest to map and scope devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForestScope {
    /// The SIDs of every domain of the forest. An owner SID in none of them is out of scope.
    pub domain_sids: Vec<Sid>,
    /// The forest's schema level: decides which attributes exist.
    pub schema_level: SchemaLevel,
}

impl ForestScope {
    /// Whether `sid` belongs to a domain of the forest.
    pub fn contains(&self, sid: &Sid) -> bool {
        self.domain_sids
            .iter()
            .any(|domain| sid.is_in_domain(domain))
    }

    /// Whether this forest's schema has an attribute.
    pub fn has(&self, attribute: DeviceAttribute) -> bool {
        self.schema_level >= attribute.spec().minimum_schema
    }
}

/// Why a checked device is not written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// No `registeredOwners`: scope cannot be decided, so the same-forest rule excludes it.
    NoRegisteredOwner,
    /// The owner has no on-premises SID (a cloud-only user, or not in the users export).
    OwnerHasNoOnPremisesSid,
    /// The owner's SID is in no domain of the target forest (section 5's same-forest rule).
    OwnerNotInThisForest {
        /// The owner's SID.
        owner_sid: String,
    },
    /// No `alternativeSecurityIds` entry of type 2 in the `X509:<SHA1-TP-PUBKEY>` form.
    NoUsableAlternativeSecurityId {
        /// Why each key was unusable, or that there was none.
        detail: String,
    },
    /// An object with this device id exists but writeback does not own it.
    ExistingObjectNotOwned {
        /// Its DN.
        dn: String,
    },
    /// The same `deviceId` appeared earlier in the export; the first one wins.
    DuplicateDeviceId {
        /// Where the first one was.
        first: String,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NoRegisteredOwner => f.write_str("no registered owner"),
            SkipReason::OwnerHasNoOnPremisesSid => {
                f.write_str("registered owner has no on-premises SID")
            }
            SkipReason::OwnerNotInThisForest { owner_sid } => {
                write!(f, "owner not in this forest (owner SID {owner_sid})")
            }
            SkipReason::NoUsableAlternativeSecurityId { detail } => {
                write!(f, "no usable alternativeSecurityIds key: {detail}")
            }
            SkipReason::ExistingObjectNotOwned { dn } => write!(
                f,
                "{dn} has this device id but no msDS-CloudAnchor starting with Device_: \
                 not created by writeback, left alone"
            ),
            SkipReason::DuplicateDeviceId { first } => {
                write!(f, "duplicate deviceId, first seen at {first}")
            }
        }
    }
}

/// The values of every mapped attribute of one device, indexed by [`DeviceAttribute::index`].
/// An empty list means "absent". Multi-valued lists are free of duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttributeValues(pub [Vec<Vec<u8>>; ATTRIBUTE_COUNT]);

impl AttributeValues {
    /// The values of one attribute.
    pub fn get(&self, attribute: DeviceAttribute) -> &[Vec<u8>] {
        &self.0[attribute.index()]
    }

    fn set(&mut self, attribute: DeviceAttribute, values: Vec<Vec<u8>>) {
        self.0[attribute.index()] = values;
    }

    /// The hash of one attribute's values, order-insensitive for multi-valued attributes.
    pub fn hash_of(&self, attribute: DeviceAttribute) -> u64 {
        value_set_hash(attribute, self.get(attribute))
    }
}

/// A device's values packed into one allocation, as a planned add keeps them until the apply
/// takes it: per mapped attribute, in table order, the number of values (u16) and each value as
/// its length (u32) and bytes, little-endian. A first run of a million devices holds a million
/// adds; one allocation of their bytes each, rather than one per value plus twelve list headers,
/// is what keeps that under a gigabyte.
#[derive(Clone, PartialEq, Eq)]
pub struct PackedValues(Box<[u8]>);

impl PackedValues {
    /// Packs `values`. A device passes its checks only with at most
    /// [`crate::source::MAX_PHYSICAL_IDS`] values an attribute and values of at most a few
    /// kilobytes, well inside the u16 and u32 fields.
    pub fn pack(values: &AttributeValues) -> PackedValues {
        let size: usize = values
            .0
            .iter()
            .map(|list| 2 + list.iter().map(|v| 4 + v.len()).sum::<usize>())
            .sum();
        let mut packed = Vec::with_capacity(size);
        for list in &values.0 {
            packed.extend_from_slice(&(list.len().min(usize::from(u16::MAX)) as u16).to_le_bytes());
            for value in list.iter().take(usize::from(u16::MAX)) {
                let length = value.len().min(u32::MAX as usize);
                packed.extend_from_slice(&(length as u32).to_le_bytes());
                packed.extend_from_slice(&value[..length]);
            }
        }
        PackedValues(packed.into_boxed_slice())
    }

    /// The values, unpacked.
    pub fn unpack(&self) -> AttributeValues {
        let mut values = AttributeValues::default();
        let mut rest: &[u8] = &self.0;
        let mut take = |n: usize| -> &[u8] {
            let (head, tail) = rest.split_at(n.min(rest.len()));
            rest = tail;
            head
        };
        for list in values.0.iter_mut() {
            let count = take(2).try_into().map_or(0, u16::from_le_bytes);
            for _ in 0..count {
                let length = take(4).try_into().map_or(0, u32::from_le_bytes);
                list.push(take(length as usize).to_vec());
            }
        }
        values
    }

    /// How many bytes the packed values take.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is packed (never, for a packed device: each attribute has its count).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for PackedValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.unpack().fmt(f)
    }
}

/// The DN of a device: `CN=<deviceId>,<container>`.
pub fn device_dn(container: &Dn, device_id: &Guid) -> Dn {
    match devwb_model::Rdn::new("CN", &device_rdn_value(device_id)) {
        Ok(rdn) => container.child(rdn),
        // A GUID's text is hex digits and dashes: nothing in it needs escaping, so this cannot
        // fail; fall back to the container rather than panic.
        Err(_) => container.clone(),
    }
}

/// The hash the diff compares: 64 bits over the values sorted (AD returns multi-valued attributes
/// in no promised order), with lengths mixed in so `["ab"]` and `["a","b"]` differ. Hashes are
/// compared only within one run, never stored. foldhash's quality variant with a fixed seed: it
/// passes SMHasher like SipHash, at a fraction of SipHash's cost per value (the no-change rerun
/// hashes every mapped attribute of every device on both sides).
pub fn value_set_hash(attribute: DeviceAttribute, values: &[Vec<u8>]) -> u64 {
    if attribute == DeviceAttribute::RegisteredOwner {
        if let [value] = values {
            // Both forms of the same owner hash alike, so objects written in the binary form
            // are not rewritten on every run (they are rewritten when the owner changes).
            if let Some(owner) = registered_owner_of(value) {
                let canonical = registered_owner_value(&owner);
                if canonical != *value {
                    return value_set_hash(attribute, &[canonical]);
                }
            }
        }
    }
    let mut hasher = foldhash::quality::FixedState::with_seed(0x6465_7677_6200_0016).build_hasher();
    hasher.write_usize(attribute.index());
    hasher.write_usize(values.len());
    if values.len() <= 1 || !attribute.spec().multi_valued {
        for value in values {
            hasher.write_usize(value.len());
            hasher.write(value);
        }
    } else {
        let mut sorted: Vec<&Vec<u8>> = values.iter().collect();
        sorted.sort_unstable();
        for value in sorted {
            hasher.write_usize(value.len());
            hasher.write(value);
        }
    }
    hasher.finish()
}

/// A device as AD should hold it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredDevice {
    /// Its device id (the diff's key).
    pub device_id: Guid,
    /// Every mapped attribute's values, for this forest's schema level.
    pub values: AttributeValues,
}

impl DesiredDevice {
    /// The RDN value (`CN=` this).
    pub fn rdn_value(&self) -> String {
        device_rdn_value(&self.device_id)
    }
}

/// Maps one checked device for a forest, or says why it is out of scope.
pub fn map_device(device: &EntraDevice, forest: &ForestScope) -> Result<DesiredDevice, SkipReason> {
    let owner = device.owner.as_ref().ok_or(SkipReason::NoRegisteredOwner)?;
    let owner_sid = owner
        .on_premises_sid
        .ok_or(SkipReason::OwnerHasNoOnPremisesSid)?;
    if !forest.contains(&owner_sid) {
        return Err(SkipReason::OwnerNotInThisForest {
            owner_sid: owner_sid.to_string(),
        });
    }
    let alt_security_identities = alt_security_identities(device)?;

    let mut values = AttributeValues::default();
    let mut put = |attribute: DeviceAttribute, v: Vec<Vec<u8>>| {
        if forest.has(attribute) {
            values.set(attribute, v);
        }
    };
    let text = |s: &Option<String>| -> Vec<Vec<u8>> {
        s.iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.as_bytes().to_vec())
            .collect()
    };
    let boolean = |b: Option<bool>| -> Vec<Vec<u8>> { b.map(boolean_value).into_iter().collect() };

    put(
        A::DeviceId,
        vec![device_id_bytes(&device.device_id).to_vec()],
    );
    put(
        A::DisplayName,
        vec![device.display_name.as_bytes().to_vec()],
    );
    put(A::IsEnabled, vec![boolean_value(device.account_enabled)]);
    put(A::OsType, text(&device.operating_system));
    put(A::OsVersion, text(&device.operating_system_version));
    put(
        A::PhysicalIds,
        dedupe_case_insensitive(device.physical_ids.iter().map(String::as_str)),
    );
    put(
        A::ObjectVersion,
        device
            .device_version
            .map(|v| v.to_string().into_bytes())
            .into_iter()
            .collect(),
    );
    put(
        A::AltSecurityIdentities,
        dedupe_case_insensitive(alt_security_identities.iter().map(String::as_str)),
    );
    put(A::IsManaged, boolean(device.is_managed));
    put(A::IsCompliant, boolean(device.is_compliant));
    put(A::RegisteredOwner, vec![registered_owner_value(&owner_sid)]);
    put(A::CloudAnchor, vec![cloud_anchor(&device.object_id)]);
    Ok(DesiredDevice {
        device_id: device.device_id,
        values,
    })
}

fn alt_security_identities(device: &EntraDevice) -> Result<Vec<String>, SkipReason> {
    let mut usable = Vec::new();
    let mut why = Vec::new();
    for (i, id) in device.alternative_security_ids.iter().enumerate() {
        if id.kind != X509_KEY_TYPE {
            continue;
        }
        match alt_security_identity(&id.key) {
            Ok(text) => usable.push(text),
            Err(reason) => why.push(format!("alternativeSecurityIds[{i}]: {reason}")),
        }
    }
    if usable.is_empty() {
        let detail = if why.is_empty() {
            "no entry of type 2".to_owned()
        } else {
            why.join("; ")
        };
        return Err(SkipReason::NoUsableAlternativeSecurityId { detail });
    }
    Ok(usable)
}

/// Keeps the first of values that AD's case-insensitive matching would call equal (AD refuses a
/// multi-valued attribute holding both).
fn dedupe_case_insensitive<'a>(values: impl Iterator<Item = &'a str>) -> Vec<Vec<u8>> {
    let mut seen = std::collections::HashSet::new();
    values
        .filter(|v| seen.insert(v.to_lowercase()))
        .map(|v| v.as_bytes().to_vec())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{RecordLocation, RecordRef};
    use crate::source::{AlternativeSecurityId, EntraDevice, RegisteredOwner};
    use crate::synthetic::{graph_key_for, SyntheticConfig, SyntheticDevices};

    const DOMAIN: &str = "S-1-5-21-1004336348-1177238915-682003330";
    const ALT: &str = "X509:<SHA1-TP-PUBKEY>0123456789ABCDEF0123456789ABCDEF01234567AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn device(owner_sid: Option<&str>, key: &str) -> EntraDevice {
        EntraDevice {
            record: RecordRef {
                file: "t.json".into(),
                location: RecordLocation::Position(1),
            },
            object_id: Guid::parse("11111111-2222-3333-4444-555555555555").unwrap(),
            device_id: Guid::parse("00112233-4455-6677-8899-aabbccddeeff").unwrap(),
            display_name: "DESKTOP-1".into(),
            account_enabled: true,
            operating_system: Some("Windows".into()),
            operating_system_version: None,
            physical_ids: vec!["[GID]:g:1".into(), "[gid]:G:1".into(), "[HWID]:h:2".into()],
            device_version: Some(2),
            alternative_security_ids: vec![AlternativeSecurityId {
                kind: 2,
                identity_provider: None,
                key: base64::Engine::decode(
                    &base64::engine::general_purpose::STANDARD,
                    graph_key_for(key),
                )
                .unwrap(),
            }],
            is_managed: Some(false),
            is_compliant: Some(true),
            trust_type: Some("Workplace".into()),
            owner: Some(RegisteredOwner {
                id: None,
                on_premises_sid: owner_sid.map(|s| Sid::parse(s).unwrap()),
            }),
            registered_owners_listed: true,
        }
    }

    fn scope(level: SchemaLevel) -> ForestScope {
        ForestScope {
            domain_sids: vec![Sid::parse(DOMAIN).unwrap()],
            schema_level: level,
        }
    }

    /// Renders a mapped device as `name: value` lines (binary as hex) for comparison.
    fn render(desired: &DesiredDevice) -> Vec<String> {
        let mut lines = Vec::new();
        for spec in MAPPING.iter() {
            for v in desired.values.get(spec.attribute) {
                let shown = match std::str::from_utf8(v) {
                    Ok(s) if spec.attribute != DeviceAttribute::DeviceId => s.to_owned(),
                    _ => v.iter().map(|b| format!("{b:02x}")).collect(),
                };
                lines.push(format!("{}: {shown}", spec.ldap_name));
            }
        }
        lines
    }

    #[test]
    fn packed_values_unpack_to_what_was_packed() {
        let mut values = AttributeValues::default();
        values.0[0] = vec![b"one".to_vec()];
        values.0[3] = vec![Vec::new(), vec![0u8; 70_000], b"x".to_vec()];
        values.0[ATTRIBUTE_COUNT - 1] = (0..1000)
            .map(|n| format!("[USER-GID]:{n}").into_bytes())
            .collect();
        for values in [AttributeValues::default(), values] {
            let packed = PackedValues::pack(&values);
            assert_eq!(packed.unpack(), values);
            let payload: usize = values.0.iter().flatten().map(Vec::len).sum();
            let values_count: usize = values.0.iter().map(Vec::len).sum();
            assert_eq!(
                packed.len(),
                payload + 4 * values_count + 2 * ATTRIBUTE_COUNT
            );
        }
    }

    #[test]
    fn a_2012r2_device_maps_every_documented_attribute_but_is_compliant() {
        let owner = format!("{DOMAIN}-1105");
        let desired = map_device(&device(Some(&owner), ALT), &scope(SchemaLevel::W2012R2)).unwrap();
        assert_eq!(
            render(&desired),
            [
                // [inf] msDS-DeviceID in .NET Guid.ToByteArray order.
                "msDS-DeviceID: 33221100554477668899aabbccddeeff",
                "displayName: DESKTOP-1",
                "msDS-IsEnabled: TRUE",
                "msDS-DeviceOSType: Windows",
                // physical ids deduplicated case-insensitively, as AD compares them.
                "msDS-DevicePhysicalIDs: [GID]:g:1",
                "msDS-DevicePhysicalIDs: [HWID]:h:2",
                "msDS-DeviceObjectVersion: 2",
                // [inf] the type-2 key is base64 of UTF-16LE text.
                &format!("altSecurityIdentities: {ALT}"),
                "msDS-IsManaged: FALSE",
                // the owner's SID as ASCII text (reference section 4), pinned byte for byte below.
                "msDS-RegisteredOwner: S-1-5-21-1004336348-1177238915-682003330-1105",
                // [inf] Device_<objectId> as ASCII bytes.
                "msDS-CloudAnchor: Device_11111111-2222-3333-4444-555555555555",
            ]
        );
        assert_eq!(desired.rdn_value(), "00112233-4455-6677-8899-aabbccddeeff");
    }

    #[test]
    fn is_compliant_is_written_only_on_a_2016_schema() {
        let owner = format!("{DOMAIN}-1105");
        let desired = map_device(&device(Some(&owner), ALT), &scope(SchemaLevel::W2016)).unwrap();
        assert_eq!(
            desired.values.get(DeviceAttribute::IsCompliant),
            [b"TRUE".to_vec()]
        );
        assert!(attributes_for(SchemaLevel::W2012R2)
            .all(|s| s.attribute != DeviceAttribute::IsCompliant));
    }

    #[test]
    fn scope_and_key_rules_skip_with_their_reason() {
        let cases: [(Option<&str>, &str, &str); 4] = [
            (Some("S-1-5-21-1-2-3-1105"), ALT, "owner not in this forest (owner SID S-1-5-21-1-2-3-1105)"),
            (None, ALT, "registered owner has no on-premises SID"),
            (Some("S-1-5-21-1004336348-1177238915-682003330-1105"), "X509:<SHA1-TP-PUBKEY>abc", "no usable alternativeSecurityIds key: alternativeSecurityIds[0]: key text lacks the 40-hex-digit SHA-1 thumbprint"),
            (Some("S-1-5-21-1004336348-1177238915-682003330-1105"), "SHA1:whatever", "no usable alternativeSecurityIds key: alternativeSecurityIds[0]: key text does not start with X509:<SHA1-TP-PUBKEY>"),
        ];
        for (owner, key, expected) in cases {
            let skipped =
                map_device(&device(owner, key), &scope(SchemaLevel::W2012R2)).unwrap_err();
            assert_eq!(skipped.to_string(), expected);
        }
        let mut no_owner = device(None, ALT);
        no_owner.owner = None;
        assert_eq!(
            map_device(&no_owner, &scope(SchemaLevel::W2012R2)).unwrap_err(),
            SkipReason::NoRegisteredOwner
        );
    }

    #[test]
    fn key_text_with_multibyte_characters_is_unusable_not_a_panic() {
        for text in [
            "X509:<SHA1-TP-PUBKEY>0123456789ABCDEF0123456789ABCDEF0123456\u{e9}AAAA",
            "X509:<SHA1-TP-PUBKEY>\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}\u{1F600}x",
        ] {
            let key: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
            assert_eq!(
                alt_security_identity(&key),
                Err("key text lacks the 40-hex-digit SHA-1 thumbprint")
            );
        }
    }

    #[test]
    fn generated_keys_are_usable_and_ownership_needs_the_device_prefix() {
        let domain = Sid::parse(DOMAIN).unwrap();
        for d in SyntheticDevices::new(SyntheticConfig::new(50, 7, domain)) {
            let key = base64::Engine::decode(
                &base64::engine::general_purpose::STANDARD,
                graph_key_for(&d.alt_security_identity),
            )
            .unwrap();
            assert_eq!(
                alt_security_identity(&key).unwrap(),
                d.alt_security_identity
            );
        }
        assert!(is_owned_by_writeback(Some(b"Device_x")));
        assert!(!is_owned_by_writeback(Some(b"device_x")));
        assert!(!is_owned_by_writeback(None));
    }

    #[test]
    fn the_registered_owner_is_written_as_the_ascii_text_of_its_sid() {
        let owner = format!("{DOMAIN}-1105");
        let desired = map_device(&device(Some(&owner), ALT), &scope(SchemaLevel::W2016)).unwrap();
        // Pinned byte for byte: "S-1-5-21-1004336348-1177238915-682003330-1105" in ASCII, no
        // terminator, no UTF-16.
        let expected: &[u8] = &[
            0x53, 0x2d, 0x31, 0x2d, 0x35, 0x2d, 0x32, 0x31, 0x2d, 0x31, 0x30, 0x30, 0x34, 0x33,
            0x33, 0x36, 0x33, 0x34, 0x38, 0x2d, 0x31, 0x31, 0x37, 0x37, 0x32, 0x33, 0x38, 0x39,
            0x31, 0x35, 0x2d, 0x36, 0x38, 0x32, 0x30, 0x30, 0x33, 0x33, 0x33, 0x30, 0x2d, 0x31,
            0x31, 0x30, 0x35,
        ];
        assert_eq!(
            desired.values.get(DeviceAttribute::RegisteredOwner),
            [expected.to_vec()]
        );
    }

    #[test]
    fn text_and_binary_forms_of_the_same_owner_are_the_same_owner() {
        let owner = Sid::parse(&format!("{DOMAIN}-1105")).unwrap();
        let other = Sid::parse(&format!("{DOMAIN}-1106")).unwrap();
        let text = registered_owner_value(&owner);
        let binary = owner.to_bytes();
        assert_eq!(registered_owner_of(&text), Some(owner));
        assert_eq!(registered_owner_of(&binary), Some(owner));
        assert_eq!(registered_owner_of(b"banana"), None);
        let hash = |v: &[u8]| value_set_hash(DeviceAttribute::RegisteredOwner, &[v.to_vec()]);
        assert_eq!(
            hash(&text),
            hash(&binary),
            "no churn for objects in the binary form"
        );
        assert_ne!(
            hash(&text),
            hash(&other.to_bytes()),
            "a changed owner is a change"
        );
        assert_ne!(hash(&text), hash(b"banana"));
    }

    #[test]
    fn ownership_accepts_the_prefix_in_ascii_or_utf16le_and_nothing_else() {
        let utf16: Vec<u8> = "Device_1234"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let cases: [(&[u8], bool); 6] = [
            (b"Device_11111111-2222-3333-4444-555555555555", true),
            (&utf16, true),
            (b"device_x", false),
            (b"Device", false),
            (b"Manual_1", false),
            (&utf16[..10], false),
        ];
        for (value, owned) in cases {
            assert_eq!(is_owned_by_writeback(Some(value)), owned, "{value:?}");
        }
    }

    #[test]
    fn the_table_is_indexed_by_its_enum() {
        for (i, spec) in MAPPING.iter().enumerate() {
            assert_eq!(spec.attribute.index(), i);
            assert_eq!(
                DeviceAttribute::from_ldap_name(&spec.ldap_name.to_uppercase()),
                Some(spec.attribute)
            );
        }
    }
}
