//! The access check (MS-DTYP 2.5.3.2 with an object type list, as MS-ADTS 5.1.3 uses it).
//!
//! [`access_check`] walks the DACL in order over an [`ObjectTypeList`] (the class at the root,
//! property sets below it, attributes below those): an allow grants its bits that are still
//! wanted, a deny takes still-wanted bits away for good. An ACE without an object type applies
//! to every node; an object ACE applies to its node and that node's subtree; a grant reaches a
//! parent only when every child has it, and a deny on a node also denies its ancestors (access to
//! the parent means access to all of it). Inherit-only ACEs are skipped, as are audit ACEs.
//!
//! No DACL grants everything. The owner always gets READ_CONTROL and WRITE_DAC, before the DACL
//! is walked, unless the DACL has an effective ACE for OWNER RIGHTS (`S-1-3-4`): then that ACE
//! applies to the owner instead. Generic bits
//! in ACEs and in the request are mapped with the DS mapping. Privileges (SeSecurityPrivilege
//! for ACCESS_SYSTEM_SECURITY, SeTakeOwnership) are not modelled: such bits are granted only by
//! ACEs. PRINCIPAL SELF (`PS`) ACEs match when the caller passes the accessed object's SID and
//! the token contains it.

use super::{AccessMask, Acl, SecurityDescriptor};
use crate::guid::Guid;
use crate::sid::Sid;

/// The SIDs a caller acts as: the user, its groups (transitively) and the well-known groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    sids: Vec<Sid>,
}

impl Token {
    /// A token of exactly these SIDs, the user first.
    pub fn new(sids: impl IntoIterator<Item = Sid>) -> Token {
        let mut unique: Vec<Sid> = Vec::new();
        for sid in sids {
            if !unique.contains(&sid) {
                unique.push(sid);
            }
        }
        Token { sids: unique }
    }

    /// The token of an authenticated user: `user`, its `groups` (the caller expands nesting),
    /// Authenticated Users and Everyone.
    pub fn authenticated(user: Sid, groups: impl IntoIterator<Item = Sid>) -> Token {
        Token::new(
            std::iter::once(user)
                .chain(groups)
                .chain([Sid::AUTHENTICATED_USERS, Sid::EVERYONE]),
        )
    }

    /// The token of an anonymous bind: Anonymous Logon only (Everyone does not include
    /// anonymous by default since Windows Server 2003).
    pub fn anonymous() -> Token {
        Token::new([Sid::ANONYMOUS])
    }

    /// The user SID (the first one).
    pub fn user(&self) -> Option<&Sid> {
        self.sids.first()
    }

    /// All SIDs of the token.
    pub fn sids(&self) -> &[Sid] {
        &self.sids
    }

    /// True when the token holds `sid`.
    pub fn contains(&self, sid: &Sid) -> bool {
        self.sids.contains(sid)
    }
}

/// The object type list an access is checked against: the object's class at the root (level
/// 0), property sets at level 1, attributes at level 2 (or at level 1 when in no set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectTypeList {
    nodes: Vec<(u16, Option<Guid>)>,
}

impl ObjectTypeList {
    /// The object as a whole, without a class: object ACEs with an object type are ignored.
    pub fn object() -> ObjectTypeList {
        ObjectTypeList {
            nodes: vec![(0, None)],
        }
    }

    /// The object of class `class` (its `schemaIDGUID`), for example the class of a child being
    /// created when checking CREATE_CHILD on the parent.
    pub fn class(class: Guid) -> ObjectTypeList {
        ObjectTypeList {
            nodes: vec![(0, Some(class))],
        }
    }

    /// Adds a property set (`attributeSecurityGUID`) with the given attributes below it.
    pub fn with_property_set(mut self, property_set: Guid, attributes: &[Guid]) -> ObjectTypeList {
        self.nodes.push((1, Some(property_set)));
        self.nodes
            .extend(attributes.iter().map(|attribute| (2, Some(*attribute))));
        self
    }

    /// Adds an attribute (`schemaIDGUID`) or extended right that belongs to no property set.
    pub fn with_attribute(mut self, attribute: Guid) -> ObjectTypeList {
        self.nodes.push((1, Some(attribute)));
        self
    }

    fn level(&self, index: usize) -> u16 {
        self.nodes.get(index).map_or(0, |(level, _)| *level)
    }

    fn index_of(&self, guid: &Guid) -> Option<usize> {
        self.nodes
            .iter()
            .position(|(_, node)| node.as_ref() == Some(guid))
    }

    /// The index just past the subtree of `index`.
    fn subtree_end(&self, index: usize) -> usize {
        let level = self.level(index);
        (index + 1..self.nodes.len())
            .find(|&j| self.level(j) <= level)
            .unwrap_or(self.nodes.len())
    }

    fn parent(&self, index: usize) -> Option<usize> {
        let level = self.level(index);
        (0..index).rev().find(|&j| self.level(j) < level)
    }

    fn children(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        let level = self.level(index);
        (index + 1..self.subtree_end(index)).filter(move |&j| self.level(j) == level + 1)
    }
}

/// What an access check decided, per node of the object type list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessResult {
    desired: AccessMask,
    nodes: Vec<(Option<Guid>, AccessMask)>,
}

impl AccessResult {
    /// True when all desired rights are granted on the whole object (the root node).
    pub fn is_granted(&self) -> bool {
        self.granted().contains(self.desired)
    }

    /// The desired rights granted on the whole object.
    pub fn granted(&self) -> AccessMask {
        self.nodes
            .first()
            .map_or(AccessMask::NONE, |(_, mask)| *mask)
    }

    /// True when all desired rights are granted on the node `guid` (an attribute, property
    /// set or the class); false when `guid` is not in the list.
    pub fn is_granted_for(&self, guid: &Guid) -> bool {
        self.granted_for(guid).contains(self.desired)
    }

    /// The desired rights granted on the node `guid` (none when it is not in the list).
    pub fn granted_for(&self, guid: &Guid) -> AccessMask {
        self.nodes
            .iter()
            .find(|(node, _)| node.as_ref() == Some(guid))
            .map_or(AccessMask::NONE, |(_, mask)| *mask)
    }

    /// The (generic-mapped) rights that were asked for.
    pub fn desired(&self) -> AccessMask {
        self.desired
    }
}

/// Checks `desired` for `token` against `sd` over `objects`. `principal_self` is the SID of the
/// object being accessed when it is a security principal (its `objectSid`): ACEs for `PS`
/// match when the token contains it.
pub fn access_check(
    sd: &SecurityDescriptor,
    token: &Token,
    desired: AccessMask,
    objects: &ObjectTypeList,
    principal_self: Option<&Sid>,
) -> AccessResult {
    let desired = desired.map_generic() & !AccessMask::MAXIMUM_ALLOWED;
    let count = objects.nodes.len();
    let result = |granted: Vec<AccessMask>| AccessResult {
        desired,
        nodes: objects
            .nodes
            .iter()
            .zip(granted)
            .map(|((_, guid), mask)| (*guid, mask))
            .collect(),
    };
    let Some(dacl) = &sd.dacl else {
        return result(vec![desired; count]);
    };
    let mut remaining = vec![desired; count];
    let mut granted = vec![AccessMask::NONE; count];

    let is_owner = sd.owner.is_some_and(|owner| token.contains(&owner));
    if is_owner && !has_owner_rights_ace(dacl) {
        let implied = AccessMask::READ_CONTROL | AccessMask::WRITE_DAC;
        for (left, got) in remaining.iter_mut().zip(granted.iter_mut()) {
            *got |= *left & implied;
            *left &= !implied;
        }
    }

    let self_in_token = principal_self.is_some_and(|sid| token.contains(sid));
    for ace in &dacl.aces {
        if !ace.is_effective() || ace.ace_type.is_audit() {
            continue;
        }
        let matches = token.contains(&ace.sid)
            || (ace.sid == Sid::PRINCIPAL_SELF && self_in_token)
            || (ace.sid == Sid::OWNER_RIGHTS && is_owner);
        if !matches {
            continue;
        }
        let mask = ace.mask.map_generic();
        // The nodes the ACE applies to: all of them, or one node and its subtree.
        let (first, end) = match &ace.object_type {
            None => (0, count),
            Some(guid) => match objects.index_of(guid) {
                Some(index) => (index, objects.subtree_end(index)),
                None => continue,
            },
        };
        if ace.ace_type.is_allow() {
            for index in first..end {
                if let (Some(left), Some(got)) = (remaining.get_mut(index), granted.get_mut(index))
                {
                    *got |= *left & mask;
                    *left &= !mask;
                }
            }
            // A parent is granted a bit when every child has it.
            let mut child = first;
            while let Some(parent) = objects.parent(child) {
                let all_children = objects.children(parent).fold(!AccessMask::NONE, |bits, c| {
                    bits & granted.get(c).copied().unwrap_or_default()
                });
                if let (Some(left), Some(got)) =
                    (remaining.get_mut(parent), granted.get_mut(parent))
                {
                    *got |= *left & all_children;
                    *left &= !all_children;
                }
                child = parent;
            }
        } else if ace.ace_type.is_deny() {
            let mut deny_at = |index: usize| {
                if let Some(left) = remaining.get_mut(index) {
                    *left &= !mask;
                }
            };
            for index in first..end {
                deny_at(index);
            }
            let mut child = first;
            while let Some(parent) = objects.parent(child) {
                deny_at(parent);
                child = parent;
            }
        }
    }
    result(granted)
}

fn has_owner_rights_ace(dacl: &Acl) -> bool {
    dacl.aces
        .iter()
        .any(|ace| ace.is_effective() && ace.sid == Sid::OWNER_RIGHTS)
}
