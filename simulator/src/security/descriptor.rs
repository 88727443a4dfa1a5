//! The `nTSecurityDescriptor` of entries: computed for a new entry from the add request or the
//! class's `defaultSecurityDescriptor` plus the parent's inheritable ACEs (MS-ADTS 6.1.3), merged
//! on write as the SD flags control selects, and re-inherited down a subtree when a
//! container's descriptor changes (AD's SD propagator).

use std::sync::Arc;

use bytes::Bytes;
use devwb_model::sd::{Acl, Control, SecurityDescriptor, SecurityInformation};
use devwb_model::{Guid, Sid};

use devwb_model::sd::Token;

use super::DomainSids;
use crate::error::OpError;
use crate::schema::{diag, ClassDef};
use crate::store::entry::Entry;

/// The attribute holding the descriptor.
pub const ATTRIBUTE: &str = "nTSecurityDescriptor";

/// The decoded descriptor of an entry; `None` when it has none or it does not decode (which
/// the content rules rule out for anything written through LDAP).
pub fn of_entry(entry: &Entry) -> Option<SecurityDescriptor> {
    let value = entry.attrs.get(ATTRIBUTE)?.values.first()?;
    match SecurityDescriptor::from_bytes(value) {
        Ok(sd) => Some(sd),
        Err(error) => {
            tracing::warn!(dn = %entry.dn, %error, "stored nTSecurityDescriptor does not decode");
            None
        }
    }
}

/// The decoded descriptor of an entry, shared: like [`of_entry`], but a thread keeps the last
/// few descriptors it decoded, so the access checks of a run of adds into one container, or of
/// a search through its entries, decode the descriptor they share once.
pub fn decoded(entry: &Entry) -> Option<Arc<SecurityDescriptor>> {
    let value = entry.attrs.get(ATTRIBUTE)?.values.first()?;
    let hit = DECODED.with(|cache| {
        cache
            .borrow()
            .iter()
            .find(|(bytes, _)| same_value(bytes, value))
            .map(|(_, sd)| Arc::clone(sd))
    });
    if hit.is_some() {
        return hit;
    }
    let sd = Arc::new(of_entry(entry)?);
    DECODED.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= DECODED_SLOTS {
            cache.remove(0);
        }
        cache.push((
            entry
                .attrs
                .values(ATTRIBUTE)
                .first_bytes()
                .unwrap_or_default(),
            Arc::clone(&sd),
        ));
    });
    Some(sd)
}

/// Whether two descriptor values are the same: the same allocation (descriptors are interned),
/// else the same bytes. The cache holds its `Bytes`, so an address it compares is never reused.
fn same_value(cached: &[u8], value: &[u8]) -> bool {
    (cached.as_ptr() == value.as_ptr() && cached.len() == value.len()) || cached == value
}

/// Decoded descriptors kept per thread (the oldest goes first).
const DECODED_SLOTS: usize = 16;

thread_local! {
    /// The latest descriptors this thread decoded, with their bytes, oldest first.
    static DECODED: std::cell::RefCell<Vec<(Bytes, Arc<SecurityDescriptor>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The owner and group AD gives an object its creator did not name them for: Domain Admins
/// for a member of Domain Admins or Enterprise Admins, else the creator and Domain Users.
pub fn default_owner_and_group(creator: &Token, sids: &DomainSids) -> (Sid, Sid) {
    let admins = sids.domain_admins();
    if creator.contains(&admins) || creator.contains(&sids.enterprise_admins()) {
        return (admins, admins);
    }
    let owner = creator.user().copied().unwrap_or(Sid::LOCAL_SYSTEM);
    (owner, sids.domain_users())
}

/// The descriptor of a new entry of `class` created by `creator` under a parent with
/// descriptor `parent`: the descriptor in the add request (`requested`, binary) or the class
/// default, then the parent's inheritable ACEs unless the DACL is protected.
pub fn for_new_entry(
    class: &ClassDef,
    requested: Option<&[u8]>,
    parent: Option<&SecurityDescriptor>,
    sids: &DomainSids,
    creator: &Token,
) -> Result<SecurityDescriptor, OpError> {
    let explicit = match requested {
        Some(bytes) => SecurityDescriptor::from_bytes(bytes).map_err(|_| diag::invalid_syntax())?,
        None => class_default(class, sids),
    };
    let (owner, group) = default_owner_and_group(creator, sids);
    Ok(devwb_model::sd::inherit(
        &explicit,
        parent,
        &class.guid,
        &owner,
        &group,
    ))
}

/// The class's `defaultSecurityDescriptor` resolved in the forest's domain. A class without
/// one (or one that does not parse, which a test rules out for the published schema) gets an
/// empty DACL, so only inherited ACEs apply.
pub fn class_default(class: &ClassDef, sids: &DomainSids) -> SecurityDescriptor {
    let empty = || SecurityDescriptor {
        control: Control(0),
        owner: None,
        group: None,
        dacl: Some(Acl::new()),
        sacl: None,
    };
    match &class.default_security_descriptor {
        Some(sddl) => match parse_default_sddl(sddl, sids) {
            Ok(sd) => sd,
            Err(error) => {
                tracing::error!(class = %class.name, %error, "class default security descriptor does not parse");
                empty()
            }
        },
        None => empty(),
    }
}

/// Parses a schema default SDDL string. A few published defaults (msSPP-ActivationObject's)
/// carry a space after `D:`, which Windows ignores; whitespace is never meaningful in SDDL, so
/// it is removed before parsing.
fn parse_default_sddl(
    sddl: &str,
    sids: &DomainSids,
) -> Result<SecurityDescriptor, devwb_model::sd::SdError> {
    let compact: String = sddl.chars().filter(|c| !c.is_whitespace()).collect();
    SecurityDescriptor::from_sddl(&compact, &sids.sddl())
}

/// The descriptor after a write of `written` to an entry whose descriptor is `current`, with
/// the SD flags' `parts` choosing what is written ([`SecurityDescriptor::replace_parts`]),
/// then re-inherited from `parent`.
pub fn merge_write(
    current: &SecurityDescriptor,
    written: &SecurityDescriptor,
    parts: SecurityInformation,
    parent: Option<&SecurityDescriptor>,
    class: &Guid,
) -> SecurityDescriptor {
    let mut merged = current.clone();
    merged.replace_parts(written, parts);
    reinherit(&merged, parent, class)
}

/// The descriptor of an entry after its parent's changed: its explicit ACEs kept, the
/// inherited ones replaced by the parent's inheritable ACEs (the model's `inherit` drops ACEs
/// marked INHERITED from the explicit part).
pub fn reinherit(
    own: &SecurityDescriptor,
    parent: Option<&SecurityDescriptor>,
    class: &Guid,
) -> SecurityDescriptor {
    let owner = own.owner.unwrap_or(Sid::LOCAL_SYSTEM);
    let group = own.group.unwrap_or(owner);
    devwb_model::sd::inherit(own, parent, class, &owner, &group)
}

/// The value a read with the SD flags' `parts` returns for a stored descriptor `value`
/// ([`SecurityDescriptor::only`]): the value itself when every part is asked for, or when it
/// does not decode (the content rules let no such value in through LDAP).
pub fn for_read(value: &Bytes, parts: SecurityInformation) -> Bytes {
    if parts == SecurityInformation::ALL {
        return value.clone();
    }
    match SecurityDescriptor::from_bytes(value).map(|sd| sd.only(parts).to_bytes()) {
        Ok(Ok(bytes)) => Bytes::from(bytes),
        _ => value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Schema;
    use devwb_model::sd::{parse_rights, AccessMask, AceFlags};
    use devwb_model::SchemaLevel;

    fn sids() -> DomainSids {
        DomainSids::single(Sid::parse("S-1-5-21-1-2-3").expect("sid"))
    }

    #[test]
    fn every_default_descriptor_of_the_published_schema_parses() {
        let schema = Schema::for_level(SchemaLevel::W2016);
        for class in schema.classes() {
            if let Some(sddl) = &class.default_security_descriptor {
                parse_default_sddl(sddl, &sids())
                    .unwrap_or_else(|error| panic!("{}: {error}: {sddl}", class.name));
            }
        }
    }

    #[test]
    fn a_new_device_container_gets_the_class_default_and_the_heads_inheritable_aces() {
        let schema = Schema::for_level(SchemaLevel::W2016);
        let sids = sids();
        let domain = schema.class("domainDNS").expect("domainDNS");
        let admin = Token::authenticated(
            sids.domain.with_rid(500),
            [sids.domain_admins(), sids.enterprise_admins()],
        );
        let head = for_new_entry(domain, None, None, &sids, &admin).expect("head");
        let container = schema.class("msDS-DeviceContainer").expect("class");
        let sd = for_new_entry(container, None, Some(&head), &sids, &admin).expect("container");
        let text = sd.to_sddl(&sids.sddl());
        assert_eq!(
            (sd.owner, sd.group),
            (Some(sids.domain_admins()), Some(sids.domain_admins())),
            "{text}"
        );
        let dacl = sd.dacl.as_ref().expect("dacl");
        let read = parse_rights("RPLCLORC").expect("rights");
        let full = parse_rights("RPWPCRCCDCLCLORCWOWDSDDTSW").expect("rights");
        assert!(
            dacl.aces
                .iter()
                .any(|a| a.sid == Sid::AUTHENTICATED_USERS && a.mask == read && !a.is_inherited()),
            "{text}"
        );
        assert!(
            dacl.aces.iter().any(|a| a.sid == sids.enterprise_admins()
                && a.mask == full
                && a.is_inherited()
                && a.flags.contains(AceFlags::CONTAINER_INHERIT)),
            "inherited from the head: {text}"
        );
    }

    #[test]
    fn a_dacl_write_keeps_inherited_aces_and_replaces_explicit_ones() {
        let schema = Schema::for_level(SchemaLevel::W2016);
        let sids = sids();
        let admin = Token::authenticated(sids.domain.with_rid(500), [sids.domain_admins()]);
        let head = for_new_entry(
            schema.class("domainDNS").expect("c"),
            None,
            None,
            &sids,
            &admin,
        )
        .expect("head");
        let class = schema.class("msDS-DeviceContainer").expect("class");
        let current = for_new_entry(class, None, Some(&head), &sids, &admin).expect("container");
        let connector = sids.domain.with_rid(1105);
        let mut written = current.only(SecurityInformation::DACL);
        if let Some(dacl) = written.dacl.as_mut() {
            dacl.insert_explicit(devwb_model::sd::Ace::allow(
                connector,
                AccessMask(0x000300FF),
                AceFlags::CONTAINER_INHERIT,
            ));
        }
        let merged = merge_write(
            &current,
            &written,
            SecurityInformation::DACL,
            Some(&head),
            &class.guid,
        );
        assert_eq!(
            merged.owner, current.owner,
            "owner kept: only the DACL was written"
        );
        let dacl = merged.dacl.expect("dacl");
        assert!(dacl.grants(
            &connector,
            AccessMask(0x000300FF),
            AceFlags::CONTAINER_INHERIT
        ));
        let inherited = dacl.aces.iter().filter(|a| a.is_inherited()).count();
        let before = current
            .dacl
            .as_ref()
            .expect("dacl")
            .aces
            .iter()
            .filter(|a| a.is_inherited())
            .count();
        assert_eq!(
            inherited, before,
            "inherited ACEs are neither lost nor doubled"
        );
    }

    #[test]
    fn a_read_returns_the_parts_the_sd_flags_select() {
        // O:BA G:SY D:(A;;GA;;;WD) written by hand: header, DACL at 20, owner at 48, group at 64.
        let owner = [1u8, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0];
        let group = [1u8, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0];
        let dacl = [
            2u8, 0, 28, 0, 1, 0, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0x10, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0,
            0,
        ];
        let mut sd = vec![
            1u8, 0, 0x04, 0x80, 48, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0,
        ];
        sd.extend_from_slice(&dacl);
        sd.extend_from_slice(&owner);
        sd.extend_from_slice(&group);
        let sd = Bytes::from(sd);
        let only_dacl = for_read(&sd, SecurityInformation::DACL);
        assert_eq!(
            &only_dacl[..20],
            &[1, 0, 0x04, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0]
        );
        assert_eq!(&only_dacl[20..], &dacl);
        let owner_only = for_read(&sd, SecurityInformation::OWNER);
        assert_eq!(&owner_only[..4], &[1, 0, 0x00, 0x80]);
        assert_eq!(&owner_only[20..], &owner);
        assert_eq!(for_read(&sd, SecurityInformation::ALL), sd);
        let garbage = Bytes::from_static(&[1, 2, 3]);
        assert_eq!(for_read(&garbage, SecurityInformation::DACL), garbage);
    }
}
