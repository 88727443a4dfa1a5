//! The security descriptor of a new object (MS-DTYP 2.5.3.4 as AD applies it, MS-ADTS 6.1.3).
//!
//! [`inherit`] takes the explicit descriptor (the `nTSecurityDescriptor` of the add request, or
//! the class's `defaultSecurityDescriptor` parsed in the domain's [`super::SddlContext`]), the
//! parent's descriptor and the new object's class, and returns the stored descriptor:
//! - owner and group from the explicit descriptor, else the creator's defaults;
//! - explicit ACEs first (ACEs marked INHERITED in the explicit descriptor are dropped), denies
//!   before allows; an effective ACE for CREATOR OWNER / CREATOR GROUP becomes an ACE for the
//!   new owner / group, and keeps an inherit-only copy for the children when it is inheritable;
//!   generic bits of effective ACEs are mapped;
//! - then, unless the explicit DACL is protected (`D:P`), the parent's inheritable ACEs in the
//!   parent's order, each marked INHERITED (the rules are on [`inherited_copies`]);
//! - SE_DACL_AUTO_INHERITED (and SE_SACL_AUTO_INHERITED) set, as AD stores them.
//!
//! Called with an object's stored descriptor as `explicit`, it is AD's SD propagator: the
//! inherited ACEs are replaced by what the (new) parent passes on, the explicit ones stay, and a
//! second call changes nothing.
//!
//! Every AD object is a container, so CONTAINER_INHERIT always applies and OBJECT_INHERIT
//! alone only propagates (inherit-only) to the next level. An inherited-object-type GUID is
//! compared with the new object's most specific structural class only (so an ACE for `user`
//! children does not reach `inetOrgPerson`, as in AD).

use super::{Ace, AceFlags, Acl, Control, SecurityDescriptor};
use crate::guid::Guid;
use crate::sid::Sid;

/// The descriptor of a new object of class `child_class` (its `schemaIDGUID`) created under a
/// parent with descriptor `parent`, from `explicit`; `default_owner` and `default_group` are used
/// when `explicit` has no owner or group (the creator, or Domain Admins for an administrator).
pub fn inherit(
    explicit: &SecurityDescriptor,
    parent: Option<&SecurityDescriptor>,
    child_class: &Guid,
    default_owner: &Sid,
    default_group: &Sid,
) -> SecurityDescriptor {
    let owner = explicit.owner.unwrap_or(*default_owner);
    let group = explicit.group.unwrap_or(*default_group);
    let names = Names { owner, group };
    let dacl_protected = explicit.control.contains(Control::DACL_PROTECTED);
    let sacl_protected = explicit.control.contains(Control::SACL_PROTECTED);
    let dacl = compute_acl(
        explicit.dacl.as_ref(),
        parent
            .and_then(|p| p.dacl.as_ref())
            .filter(|_| !dacl_protected),
        child_class,
        names,
    );
    let sacl = compute_acl(
        explicit.sacl.as_ref(),
        parent
            .and_then(|p| p.sacl.as_ref())
            .filter(|_| !sacl_protected),
        child_class,
        names,
    );
    let mut control = explicit
        .control
        .without(Control::DACL_AUTO_INHERIT_REQ)
        .without(Control::SACL_AUTO_INHERIT_REQ);
    if dacl.is_some() {
        control = control.with(Control::DACL_AUTO_INHERITED);
    }
    if sacl.is_some() {
        control = control.with(Control::SACL_AUTO_INHERITED);
    }
    SecurityDescriptor {
        control,
        owner: Some(owner),
        group: Some(group),
        dacl,
        sacl,
    }
}

#[derive(Clone, Copy)]
struct Names {
    owner: Sid,
    group: Sid,
}

impl Names {
    /// The SID an effective ACE for `sid` is written for.
    fn substitute(self, sid: &Sid) -> Sid {
        if *sid == Sid::CREATOR_OWNER {
            self.owner
        } else if *sid == Sid::CREATOR_GROUP {
            self.group
        } else {
            *sid
        }
    }
}

fn needs_substitution(sid: &Sid) -> bool {
    *sid == Sid::CREATOR_OWNER || *sid == Sid::CREATOR_GROUP
}

fn compute_acl(
    explicit: Option<&Acl>,
    parent: Option<&Acl>,
    child_class: &Guid,
    names: Names,
) -> Option<Acl> {
    let mut denies = Vec::new();
    let mut others = Vec::new();
    for ace in explicit.iter().flat_map(|acl| acl.aces.iter()) {
        if ace.is_inherited() {
            continue;
        }
        let target = if ace.ace_type.is_deny() {
            &mut denies
        } else {
            &mut others
        };
        explicit_copies(ace, names, target);
    }
    let mut inherited = Vec::new();
    for ace in parent.iter().flat_map(|acl| acl.aces.iter()) {
        inherited_copies(ace, child_class, names, &mut inherited);
    }
    if explicit.is_none() && inherited.is_empty() {
        return None;
    }
    denies.extend(others);
    denies.extend(inherited);
    Some(Acl { aces: denies })
}

/// An effective copy of `ace` for the new object: CREATOR OWNER / GROUP replaced, generic bits
/// mapped, inheritance flags other than INHERITED cleared.
fn effective_copy(ace: &Ace, names: Names, extra_flags: AceFlags) -> Ace {
    Ace {
        flags: AceFlags(ace.flags.0 & (AceFlags::SUCCESSFUL_ACCESS.0 | AceFlags::FAILED_ACCESS.0))
            .with(extra_flags),
        mask: ace.mask.map_generic(),
        sid: names.substitute(&ace.sid),
        ..*ace
    }
}

fn explicit_copies(ace: &Ace, names: Names, out: &mut Vec<Ace>) {
    if !ace.is_effective() {
        out.push(*ace);
        return;
    }
    let splits =
        needs_substitution(&ace.sid) || ace.mask.intersects(super::AccessMask::GENERIC_BITS);
    if splits && ace.flags.is_inheritable() {
        out.push(effective_copy(ace, names, AceFlags::NONE));
        out.push(Ace {
            flags: ace.flags.with(AceFlags::INHERIT_ONLY),
            ..*ace
        });
    } else if splits {
        out.push(effective_copy(ace, names, AceFlags::NONE));
    } else {
        out.push(*ace);
    }
}

/// What a parent's ACE gives a new child object (always a container in AD), marked INHERITED:
/// - not inheritable (no OI, no CI): nothing;
/// - CI with NO_PROPAGATE: an effective copy when the ACE applies to the child's class, with
///   no inheritance flags left; else nothing;
/// - CI, applying to the child's class: one copy keeping OI/CI with INHERIT_ONLY cleared, or,
///   when the SID is CREATOR OWNER / GROUP or the mask has generic bits, an effective copy
///   (substituted, mapped) plus an inherit-only copy for the grandchildren;
/// - CI, for another class: an inherit-only copy that keeps propagating;
/// - OI without CI: an inherit-only copy (OI IO), unless NO_PROPAGATE, then nothing.
fn inherited_copies(ace: &Ace, child_class: &Guid, names: Names, out: &mut Vec<Ace>) {
    let flags = ace.flags;
    if !flags.is_inheritable() {
        return;
    }
    let inheritance =
        AceFlags(flags.0 & (AceFlags::OBJECT_INHERIT.0 | AceFlags::CONTAINER_INHERIT.0));
    let audit = AceFlags(flags.0 & (AceFlags::SUCCESSFUL_ACCESS.0 | AceFlags::FAILED_ACCESS.0));
    let no_propagate = flags.contains(AceFlags::NO_PROPAGATE_INHERIT);
    let applies = ace
        .inherited_object_type
        .is_none_or(|class| class == *child_class);
    if flags.contains(AceFlags::CONTAINER_INHERIT) {
        if no_propagate {
            if applies {
                out.push(effective_copy(ace, names, AceFlags::INHERITED));
            }
        } else if applies {
            if needs_substitution(&ace.sid) || ace.mask.intersects(super::AccessMask::GENERIC_BITS)
            {
                out.push(effective_copy(ace, names, AceFlags::INHERITED));
                out.push(Ace {
                    flags: inheritance
                        .with(audit)
                        .with(AceFlags::INHERIT_ONLY)
                        .with(AceFlags::INHERITED),
                    ..*ace
                });
            } else {
                out.push(Ace {
                    flags: inheritance.with(audit).with(AceFlags::INHERITED),
                    ..*ace
                });
            }
        } else {
            out.push(Ace {
                flags: inheritance
                    .with(audit)
                    .with(AceFlags::INHERIT_ONLY)
                    .with(AceFlags::INHERITED),
                ..*ace
            });
        }
    } else if !no_propagate {
        out.push(Ace {
            flags: AceFlags::OBJECT_INHERIT
                .with(audit)
                .with(AceFlags::INHERIT_ONLY)
                .with(AceFlags::INHERITED),
            ..*ace
        });
    }
}
