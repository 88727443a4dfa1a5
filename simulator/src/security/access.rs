//! Which right each operation needs, checked over the right object type list (MS-ADTS 5.1.3):
//!
//! | operation | right | where |
//! |---|---|---|
//! | add | CREATE_CHILD for the new class | parent |
//! | modify | WRITE_PROP per attribute (attribute or property set) | object |
//! | write `nTSecurityDescriptor` | WRITE_DAC (DACL), WRITE_OWNER (owner, group), ACCESS_SYSTEM_SECURITY (SACL), per SD flags | object |
//! | reset `unicodePwd` | the Reset Password control access right | object |
//! | delete | DELETE, or DELETE_CHILD for the class on the parent | object, parent |
//! | tree delete | DELETE_TREE | the root |
//! | move / rename | WRITE_PROP on `name` and the RDN attribute; a move also CREATE_CHILD at the new parent and DELETE / DELETE_CHILD at the old one | |
//! | see an object | LIST_CONTENTS | parent |
//! | read an attribute (or match it in a filter) | READ_PROP per attribute; `nTSecurityDescriptor` needs READ_CONTROL | object |
//!
//! Denials are `insufficientAccessRights` with AD's `00002098: SecErr` text. An entry without a
//! descriptor has no DACL, which grants everything (MS-DTYP); the simulator gives every entry
//! one, so that only happens to entries loaded without the security layer.

use devwb_model::sd::{
    access_check, AccessMask, ObjectTypeList, SecurityDescriptor, SecurityInformation, Token,
};
use devwb_model::{Guid, Sid};

use super::descriptor;
use crate::error::OpError;
use crate::schema::{diag, with_ascii_lowercase, AttributeDef, ClassDef, Schema};
use crate::store::entry::Entry;

/// The Reset Password extended right (User-Force-Change-Password).
pub const RESET_PASSWORD: Guid = Guid::from_u128(0x00299570_246d_11d0_a768_00aa006e0529);

/// Attributes AD never returns, whatever the ACL says.
pub const NEVER_READABLE: [&str; 5] = [
    "unicodePwd",
    "dBCSPwd",
    "ntPwdHistory",
    "lmPwdHistory",
    "supplementalCredentials",
];

/// The `objectSid` of an entry (what PRINCIPAL SELF ACEs match).
pub fn principal_sid(entry: &Entry) -> Option<Sid> {
    sid_of(entry)
}

fn sid_of(entry: &Entry) -> Option<Sid> {
    entry
        .attrs
        .get("objectSid")?
        .values
        .first()
        .and_then(|v| Sid::from_bytes(v).ok())
}

fn check(
    sd: Option<&SecurityDescriptor>,
    token: &Token,
    desired: AccessMask,
    objects: &ObjectTypeList,
    principal_self: Option<&Sid>,
) -> devwb_model::sd::AccessResult {
    match sd {
        Some(sd) => access_check(sd, token, desired, objects, principal_self),
        None => access_check(
            &SecurityDescriptor::default(),
            token,
            desired,
            objects,
            principal_self,
        ),
    }
}

/// The object type list of `class` with `attributes` below it, grouped by property set.
fn object_types(class: Option<&ClassDef>, attributes: &[&AttributeDef]) -> ObjectTypeList {
    let mut list = match class {
        Some(class) => ObjectTypeList::class(class.guid),
        None => ObjectTypeList::object(),
    };
    let mut sets: Vec<(Guid, Vec<Guid>)> = Vec::new();
    let mut loose: Vec<Guid> = Vec::new();
    for attribute in attributes {
        match attribute.security_guid {
            Some(set) => match sets.iter_mut().find(|(s, _)| *s == set) {
                Some((_, members)) => members.push(attribute.guid),
                None => sets.push((set, vec![attribute.guid])),
            },
            None => loose.push(attribute.guid),
        }
    }
    for (set, members) in &sets {
        list = list.with_property_set(*set, members);
    }
    for attribute in loose {
        list = list.with_attribute(attribute);
    }
    list
}

/// The access check of `token` for `desired` on `entry` (its descriptor and objectSid) over
/// `objects`.
fn check_entry(
    entry: &Entry,
    token: &Token,
    desired: AccessMask,
    objects: &ObjectTypeList,
) -> devwb_model::sd::AccessResult {
    let sd = descriptor::decoded(entry);
    check(
        sd.as_deref(),
        token,
        desired,
        objects,
        sid_of(entry).as_ref(),
    )
}

/// `Ok` when granted, else AD's insufficientAccessRights.
fn require(granted: bool) -> Result<(), OpError> {
    if granted {
        Ok(())
    } else {
        Err(diag::insufficient_access())
    }
}

/// The object type list of `entry`'s class alone.
fn class_of(schema: &Schema, entry: &Entry) -> ObjectTypeList {
    match schema.structural_class(entry) {
        Some(class) => ObjectTypeList::class(class.guid),
        None => ObjectTypeList::object(),
    }
}

/// CREATE_CHILD of `class` on `parent`.
pub fn check_create_child(token: &Token, parent: &Entry, class: &ClassDef) -> Result<(), OpError> {
    require(
        check_entry(
            parent,
            token,
            AccessMask::CREATE_CHILD,
            &ObjectTypeList::class(class.guid),
        )
        .is_granted(),
    )
}

/// WRITE_PROP on every attribute of `attributes` of `entry` (the descriptor and passwords
/// excluded: see [`check_write_descriptor`] and [`check_reset_password`]).
pub fn check_write(
    schema: &Schema,
    token: &Token,
    entry: &Entry,
    attributes: &[&AttributeDef],
) -> Result<(), OpError> {
    if attributes.is_empty() {
        return Ok(());
    }
    let objects = object_types(schema.structural_class(entry), attributes);
    let result = check_entry(entry, token, AccessMask::WRITE_PROPERTY, &objects);
    require(
        attributes
            .iter()
            .all(|attribute| result.is_granted_for(&attribute.guid)),
    )
}

/// WRITE_DAC / WRITE_OWNER / ACCESS_SYSTEM_SECURITY on `entry` as the SD flags' `parts`
/// select ([`SecurityInformation::rights_to_write`]).
pub fn check_write_descriptor(
    token: &Token,
    entry: &Entry,
    parts: SecurityInformation,
) -> Result<(), OpError> {
    require(
        check_entry(
            entry,
            token,
            parts.rights_to_write(),
            &ObjectTypeList::object(),
        )
        .is_granted(),
    )
}

/// The Reset Password right on `entry` (a `unicodePwd` replace by someone else).
pub fn check_reset_password(schema: &Schema, token: &Token, entry: &Entry) -> Result<(), OpError> {
    let objects = class_of(schema, entry).with_attribute(RESET_PASSWORD);
    require(
        check_entry(entry, token, AccessMask::CONTROL_ACCESS, &objects)
            .is_granted_for(&RESET_PASSWORD),
    )
}

/// DELETE on `entry`, or DELETE_CHILD for its class on `parent`.
pub fn check_delete(
    schema: &Schema,
    token: &Token,
    entry: &Entry,
    parent: Option<&Entry>,
) -> Result<(), OpError> {
    let on_object =
        || check_entry(entry, token, AccessMask::DELETE, &ObjectTypeList::object()).is_granted();
    let on_parent = || {
        parent.is_some_and(|parent| {
            check_entry(
                parent,
                token,
                AccessMask::DELETE_CHILD,
                &class_of(schema, entry),
            )
            .is_granted()
        })
    };
    require(on_object() || on_parent())
}

/// DELETE_TREE on the root of a tree delete.
pub fn check_delete_tree(token: &Token, root: &Entry) -> Result<(), OpError> {
    require(
        check_entry(
            root,
            token,
            AccessMask::DELETE_TREE,
            &ObjectTypeList::object(),
        )
        .is_granted(),
    )
}

/// Whether `token` may see the children of `parent` (LIST_CONTENTS).
pub fn can_list_children(token: &Token, parent: &Entry) -> bool {
    check_entry(
        parent,
        token,
        AccessMask::LIST_CONTENTS,
        &ObjectTypeList::object(),
    )
    .is_granted()
}

/// What a token may read of the objects that share one descriptor and one class: computed once
/// over every attribute the class allows, then asked per attribute. A search evaluates filters
/// on many entries whose descriptors are identical (all devices of a container), so the
/// semantics layer caches these by descriptor.
#[derive(Clone, Debug)]
pub struct ReadRights {
    /// Lowercase names of the attributes the decision covers.
    covered: std::collections::HashSet<String>,
    /// Lowercase names of the covered attributes that may be read.
    readable: std::collections::HashSet<String>,
    /// READ_PROP on the whole object (for attributes the schema does not know).
    whole_object: bool,
    /// READ_CONTROL (for `nTSecurityDescriptor`).
    read_control: bool,
}

impl ReadRights {
    /// The read rights of `token` on an object of `class` with descriptor `sd`, covering the
    /// class's attributes and `extra` ones.
    pub fn compute<'a>(
        schema: &Schema,
        token: &Token,
        sd: Option<&SecurityDescriptor>,
        class: Option<&ClassDef>,
        principal_self: Option<&Sid>,
        extra: impl IntoIterator<Item = &'a str>,
    ) -> ReadRights {
        let mut definitions: Vec<&AttributeDef> =
            class.map(|c| schema.allowed(c)).unwrap_or_default();
        for name in extra {
            if let Some(definition) = schema.attribute(name) {
                if !definitions.iter().any(|d| d.name == definition.name) {
                    definitions.push(definition);
                }
            }
        }
        let objects = object_types(class, &definitions);
        let read = check(
            sd,
            token,
            AccessMask::READ_PROPERTY,
            &objects,
            principal_self,
        );
        let read_control = check(
            sd,
            token,
            AccessMask::READ_CONTROL,
            &ObjectTypeList::object(),
            principal_self,
        )
        .is_granted();
        ReadRights {
            covered: definitions
                .iter()
                .map(|d| d.name.to_ascii_lowercase())
                .collect(),
            readable: definitions
                .iter()
                .filter(|d| read.is_granted_for(&d.guid))
                .map(|d| d.name.to_ascii_lowercase())
                .collect(),
            whole_object: read.is_granted(),
            read_control,
        }
    }

    /// Whether `attribute` may be read; `None` when the decision does not cover it (a schema
    /// attribute outside the class: compute for the entry itself).
    pub fn allows(&self, schema: &Schema, attribute: &str) -> Option<bool> {
        if NEVER_READABLE
            .iter()
            .any(|n| n.eq_ignore_ascii_case(attribute))
        {
            return Some(false);
        }
        if attribute.eq_ignore_ascii_case(descriptor::ATTRIBUTE) {
            return Some(self.read_control);
        }
        // The common case, an lDAPDisplayName in any case, without a schema lookup (this runs
        // for every attribute returned).
        let covered = with_ascii_lowercase(attribute, |lower| {
            self.covered
                .contains(lower)
                .then(|| self.readable.contains(lower))
        });
        if covered.is_some() {
            return covered;
        }
        let Some(definition) = schema.attribute(attribute) else {
            return Some(self.whole_object);
        };
        let key = definition.name.to_ascii_lowercase();
        if self.covered.contains(&key) {
            Some(self.readable.contains(&key))
        } else {
            None
        }
    }
}

/// The names of the attributes of `entry` that `token` may read (and match in filters), in the
/// entry's spelling. Attributes the schema does not know (none, for entries written through
/// the content rules) are readable with READ_PROP on the whole object.
pub fn readable_attributes(schema: &Schema, token: &Token, entry: &Entry) -> Vec<String> {
    let class = schema.structural_class(entry);
    let definitions: Vec<&AttributeDef> = entry
        .attrs
        .iter()
        .filter_map(|a| schema.attribute(a.name))
        .collect();
    let objects = object_types(class, &definitions);
    let sd = descriptor::of_entry(entry);
    let principal_self = sid_of(entry);
    let read = check(
        sd.as_ref(),
        token,
        AccessMask::READ_PROPERTY,
        &objects,
        principal_self.as_ref(),
    );
    let read_control = check(
        sd.as_ref(),
        token,
        AccessMask::READ_CONTROL,
        &ObjectTypeList::object(),
        principal_self.as_ref(),
    )
    .is_granted();
    entry
        .attrs
        .iter()
        .filter(|attribute| {
            if NEVER_READABLE
                .iter()
                .any(|n| n.eq_ignore_ascii_case(attribute.name))
            {
                return false;
            }
            if attribute.name.eq_ignore_ascii_case(descriptor::ATTRIBUTE) {
                return read_control;
            }
            match schema.attribute(attribute.name) {
                Some(definition) => read.is_granted_for(&definition.guid),
                None => read.is_granted(),
            }
        })
        .map(|attribute| attribute.name.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::{descriptor::for_new_entry, DomainSids};
    use bytes::Bytes;
    use devwb_model::sd::{Ace, AceFlags};
    use devwb_model::{Dn, SchemaLevel};

    struct World {
        schema: Schema,
        sids: DomainSids,
        admin: Token,
        user: Token,
        user_sid: Sid,
        head: Entry,
        container: Entry,
        device: Entry,
    }

    fn entry(schema: &Schema, dn: &str, class: &str, sd: &SecurityDescriptor) -> Entry {
        let mut attrs = crate::store::entry::Attributes::new();
        let chain: Vec<Bytes> = schema
            .chain(schema.class(class).expect("class"))
            .iter()
            .map(|c| Bytes::from(c.name.clone()))
            .collect();
        attrs.set("objectClass", chain);
        attrs.set("displayName", vec![Bytes::from_static(b"shown")]);
        attrs.set(
            descriptor::ATTRIBUTE,
            vec![Bytes::from(sd.to_bytes().expect("encodes"))],
        );
        Entry {
            dn: Dn::parse(dn).expect("dn"),
            attrs,
        }
    }

    fn world() -> World {
        let schema = Schema::for_level(SchemaLevel::W2016);
        let sids = DomainSids::single(Sid::parse("S-1-5-21-1-2-3").expect("sid"));
        let admin = Token::authenticated(
            sids.domain.with_rid(500),
            [
                sids.domain_admins(),
                sids.enterprise_admins(),
                Sid::BUILTIN_ADMINISTRATORS,
            ],
        );
        let user_sid = sids.domain.with_rid(1105);
        let user = Token::authenticated(user_sid, [sids.domain_users()]);
        let creator = admin.clone();
        let head_sd = for_new_entry(
            schema.class("domainDNS").expect("c"),
            None,
            None,
            &sids,
            &creator,
        )
        .expect("sd");
        let head = entry(&schema, "DC=contoso,DC=lab", "domainDNS", &head_sd);
        let container_sd = for_new_entry(
            schema.class("msDS-DeviceContainer").expect("c"),
            None,
            Some(&head_sd),
            &sids,
            &creator,
        )
        .expect("sd");
        let container = entry(
            &schema,
            "CN=RegisteredDevices,DC=contoso,DC=lab",
            "msDS-DeviceContainer",
            &container_sd,
        );
        let device_sd = for_new_entry(
            schema.class("msDS-Device").expect("c"),
            None,
            Some(&container_sd),
            &sids,
            &creator,
        )
        .expect("sd");
        let device = entry(
            &schema,
            "CN=d,CN=RegisteredDevices,DC=contoso,DC=lab",
            "msDS-Device",
            &device_sd,
        );
        World {
            schema,
            sids,
            admin,
            user,
            user_sid,
            head,
            container,
            device,
        }
    }

    fn grant(world: &World, ace: Ace) -> (Entry, Entry) {
        let container_sd = descriptor::of_entry(&world.container).expect("sd");
        let mut written = container_sd.clone();
        if let Some(dacl) = written.dacl.as_mut() {
            dacl.insert_explicit(ace);
        }
        let class = world.schema.class("msDS-DeviceContainer").expect("c");
        let head_sd = descriptor::of_entry(&world.head);
        let merged = descriptor::merge_write(
            &container_sd,
            &written,
            SecurityInformation::DACL,
            head_sd.as_ref(),
            &class.guid,
        );
        let mut container = world.container.clone();
        container.attrs.set(
            descriptor::ATTRIBUTE,
            vec![Bytes::from(merged.to_bytes().expect("encodes"))],
        );
        let device_class = world.schema.class("msDS-Device").expect("c");
        let device_sd = descriptor::reinherit(
            &descriptor::of_entry(&world.device).expect("sd"),
            Some(&merged),
            &device_class.guid,
        );
        let mut device = world.device.clone();
        device.attrs.set(
            descriptor::ATTRIBUTE,
            vec![Bytes::from(device_sd.to_bytes().expect("encodes"))],
        );
        (container, device)
    }

    #[test]
    fn a_normal_user_cannot_create_devices_until_the_connector_ace_is_granted() {
        let world = world();
        let device_class = world.schema.class("msDS-Device").expect("c");
        let display = world.schema.attribute("displayName").expect("a");
        assert_eq!(
            check_create_child(&world.user, &world.container, device_class).map_err(|e| e.code.0),
            Err(50)
        );
        assert!(
            check_create_child(&world.admin, &world.container, device_class).is_ok(),
            "admin through the default ACEs"
        );
        assert!(check_write(&world.schema, &world.admin, &world.device, &[display]).is_ok());
        assert!(check_delete(
            &world.schema,
            &world.admin,
            &world.device,
            Some(&world.container)
        )
        .is_ok());

        let connector = Ace::allow(
            world.user_sid,
            AccessMask(0x000300FF),
            AceFlags::CONTAINER_INHERIT,
        );
        let (container, device) = grant(&world, connector);
        assert!(check_create_child(&world.user, &container, device_class).is_ok());
        assert!(
            check_write(&world.schema, &world.user, &device, &[display]).is_ok(),
            "inherited to existing devices"
        );
        assert!(check_delete(&world.schema, &world.user, &device, Some(&container)).is_ok());
        assert!(
            check_write(&world.schema, &world.user, &container, &[display]).is_ok(),
            "CI without IO covers the container"
        );
        assert_eq!(
            check_write(&world.schema, &world.user, &world.head, &[display]).map_err(|e| e.code.0),
            Err(50),
            "not its parent"
        );
        assert!(
            check_write_descriptor(&world.user, &container, SecurityInformation::DACL).is_err(),
            "no WRITE_DAC in the connector ACE"
        );
    }

    #[test]
    fn an_object_ace_for_create_child_allows_only_its_class() {
        let world = world();
        let device_class = world.schema.class("msDS-Device").expect("c");
        let ace = Ace::allow(world.user_sid, AccessMask::CREATE_CHILD, AceFlags::NONE)
            .with_object_type(device_class.guid);
        let (container, _) = grant(&world, ace);
        assert!(check_create_child(&world.user, &container, device_class).is_ok());
        let other = world.schema.class("container").expect("c");
        assert!(check_create_child(&world.user, &container, other).is_err());
    }

    #[test]
    fn reads_are_filtered_by_read_prop() {
        let world = world();
        let readable = readable_attributes(&world.schema, &world.user, &world.device);
        assert!(
            readable.iter().any(|a| a == "displayName"),
            "AU has RP through the class default: {readable:?}"
        );
        let mut device = world.device.clone();
        let mut sd = descriptor::of_entry(&device).expect("sd");
        let display = world.schema.attribute("displayName").expect("a");
        if let Some(dacl) = sd.dacl.as_mut() {
            dacl.aces.insert(
                0,
                Ace::deny(
                    Sid::AUTHENTICATED_USERS,
                    AccessMask::READ_PROPERTY,
                    AceFlags::NONE,
                )
                .with_object_type(display.guid),
            );
        }
        device.attrs.set(
            descriptor::ATTRIBUTE,
            vec![Bytes::from(sd.to_bytes().expect("encodes"))],
        );
        device
            .attrs
            .set("unicodePwd", vec![Bytes::from_static(b"x")]);
        let readable = readable_attributes(&world.schema, &world.user, &device);
        assert!(!readable.iter().any(|a| a == "displayName"), "{readable:?}");
        assert!(readable.iter().any(|a| a == "objectClass"));
        assert!(!readable.iter().any(|a| a == "unicodePwd"));
        assert!(can_list_children(&world.user, &world.container));
        assert!(!can_list_children(&Token::anonymous(), &world.container));
        let _ = world.sids;
    }
}
