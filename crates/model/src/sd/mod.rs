//! Security descriptors as AD stores them in `nTSecurityDescriptor`, and the AD rules that use
//! them.
//!
//! # The pieces
//! - [`SecurityDescriptor`]: owner, group, DACL, SACL and the control bits. Fields are public:
//!   it is plain data. `dacl: None` means "no DACL" (everyone gets everything); `Some` of an
//!   empty [`Acl`] denies everything but the owner's implied rights.
//! - [`Acl`]: an ordered list of [`Ace`]s. [`Acl::allowed_mask`] and [`Acl::grants`] answer
//!   "does this SID hold these rights here" (verify); [`Acl::insert_explicit`] adds an ACE in
//!   canonical position, once (prepare).
//! - [`Ace`]: type (allow / deny / audit, plain or object), [`AceFlags`], [`AccessMask`], the
//!   optional object-type and inherited-object-type GUIDs, and the trustee [`Sid`].
//! - Binary form (MS-DTYP 2.4.6 self-relative): [`SecurityDescriptor::from_bytes`],
//!   [`SecurityDescriptor::to_bytes`]. Decoding checks every length and offset and never panics.
//! - SDDL, the subset AD's `defaultSecurityDescriptor` strings use:
//!   [`SecurityDescriptor::from_sddl`] and [`SecurityDescriptor::to_sddl`], with aliases such as
//!   `DA` resolved through an [`SddlContext`] (domain SID, forest root domain SID).
//! - [`access_check`] (MS-DTYP 2.5.3.2 with an [`ObjectTypeList`], as MS-ADTS 5.1.3 uses it) for
//!   the simulator, with the caller's [`Token`].
//! - [`inherit`]: the descriptor of a new object from the explicit or class-default
//!   descriptor and the parent's (MS-DTYP 2.5.3.4 as AD applies it).
//! - [`SecurityInformation`] (the SD flags control's parts): [`SecurityDescriptor::only`] for
//!   reads, [`SecurityDescriptor::replace_parts`] for writes, and the rights each needs.
//!
//! # Typical use
//! ```
//! use devwb_model::sd::{AccessMask, Ace, AceFlags, SddlContext, SecurityDescriptor};
//! use devwb_model::Sid;
//!
//! let domain = Sid::parse("S-1-5-21-1-2-3").unwrap();
//! let context = SddlContext::new(domain);
//! let connector = domain.with_rid(1105);
//! // prepare: add the connector's ACE to a container's DACL, once, in canonical position.
//! let mut sd = SecurityDescriptor::from_sddl("O:DAG:DAD:AI(A;;RPLCLORC;;;AU)", &context).unwrap();
//! let ace = Ace::allow(connector, AccessMask(0x300FF), AceFlags::CONTAINER_INHERIT);
//! sd.dacl.get_or_insert_with(Default::default).insert_explicit(ace);
//! // verify: accept the mapped mask or the generic bits dsacls writes.
//! let dacl = sd.dacl.as_ref().unwrap();
//! assert!(dacl.grants(&connector, AccessMask(0x300FF), AceFlags::CONTAINER_INHERIT));
//! assert_eq!(sd.to_sddl(&context), "O:DAG:DAD:AI(A;;LCRPLORC;;;AU)(A;CI;CCDCLCSWRPWPDTLOSDRC;;;S-1-5-21-1-2-3-1105)");
//! let bytes = sd.to_bytes().unwrap(); // nTSecurityDescriptor
//! assert_eq!(SecurityDescriptor::from_bytes(&bytes).unwrap(), sd);
//! ```
//!
//! # Decisions
//! - A GUID can only be carried by an object ACE. The SDDL parser rejects a GUID on `A`, `D`
//!   or `AU` (naming the ACE and its position) instead of dropping it; [`Ace::with_object_type`]
//!   and [`Ace::with_inherited_object_type`] switch the ACE to its object variant, and the
//!   binary encoder does the same for a hand-built ACE, so a GUID is never lost.
//! - SDDL accepts any of the six ACE types in either ACL, because the binary form can hold them
//!   and SDDL must carry whatever was decoded; a missing ACL whose control flags are set is
//!   written `D:P NO_ACCESS_CONTROL` style (`D:PNO_ACCESS_CONTROL`) so the flags survive.
//! - ACE types other than the six above (callback ACEs, mandatory labels...) are rejected when
//!   decoding, with their type and offset: AD does not put them in directory descriptors, and
//!   silently dropping them would lose data.
//! - The ACL revision is not stored: it is 4 (ACL_REVISION_DS) when the ACL holds an object ACE,
//!   else 2. The `SE_DACL_PRESENT`, `SE_SACL_PRESENT` and `SE_SELF_RELATIVE` bits follow from the
//!   data when encoding; a "present" DACL with offset 0 (a NULL DACL) decodes as `dacl: None`.
//! - Self-relative encoding writes SACL, DACL, owner, group in that order (as Windows'
//!   `MakeSelfRelativeSD` does); decoding accepts any order.
//!
//! This module does no IO and has no notion of a directory: schema GUIDs come from the caller.

mod access;
mod binary;
mod inherit;
mod mask;
mod sddl;

use crate::guid::Guid;
use crate::sid::Sid;

pub use access::{access_check, AccessResult, ObjectTypeList, Token};
pub use inherit::inherit;
pub use mask::AccessMask;
pub use sddl::{
    format_ace_with_trustee, format_rights, parse_rights, sid_alias, SddlContext, SID_ALIASES,
};

/// Why a security descriptor could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdError {
    /// The binary form is malformed at `offset`.
    #[error("bad binary security descriptor at byte {offset}: {reason}")]
    Binary {
        /// Byte offset in the descriptor where the problem was seen.
        offset: usize,
        /// What was wrong.
        reason: String,
    },
    /// The SDDL text is malformed at character `position`.
    #[error("bad SDDL at position {position} ({token:?}): {reason}")]
    Sddl {
        /// Byte position in the SDDL string of the offending token.
        position: usize,
        /// The offending token (shortened to 80 characters).
        token: String,
        /// What was wrong.
        reason: String,
    },
    /// An ACL or ACE is too big for the 16-bit sizes of the binary form.
    #[error("{what} is {size} bytes, the binary form allows at most 65535")]
    TooLarge {
        /// "ACL" or "ACE".
        what: &'static str,
        /// The size it would have.
        size: usize,
    },
}

/// Each part of a descriptor with the control bits that belong to it: the owner's and the
/// group's defaulted bit; the DACL's and the SACL's defaulted, auto-inherit request,
/// auto-inherited and protected bits.
const PART_CONTROL_BITS: [(SecurityInformation, Control); 4] = [
    (SecurityInformation::OWNER, Control(0x0001)),
    (SecurityInformation::GROUP, Control(0x0002)),
    (
        SecurityInformation::DACL,
        Control(0x0008 | 0x0100 | 0x0400 | 0x1000),
    ),
    (
        SecurityInformation::SACL,
        Control(0x0020 | 0x0200 | 0x0800 | 0x2000),
    ),
];

/// The kind of an ACE. Object variants carry object-type GUIDs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum AceType {
    /// ACCESS_ALLOWED_ACE_TYPE (0x00), SDDL `A`.
    AccessAllowed,
    /// ACCESS_DENIED_ACE_TYPE (0x01), SDDL `D`.
    AccessDenied,
    /// SYSTEM_AUDIT_ACE_TYPE (0x02), SDDL `AU`.
    SystemAudit,
    /// ACCESS_ALLOWED_OBJECT_ACE_TYPE (0x05), SDDL `OA`.
    AccessAllowedObject,
    /// ACCESS_DENIED_OBJECT_ACE_TYPE (0x06), SDDL `OD`.
    AccessDeniedObject,
    /// SYSTEM_AUDIT_OBJECT_ACE_TYPE (0x07), SDDL `OU`.
    SystemAuditObject,
}

impl AceType {
    /// The binary type code.
    pub fn code(self) -> u8 {
        match self {
            AceType::AccessAllowed => 0x00,
            AceType::AccessDenied => 0x01,
            AceType::SystemAudit => 0x02,
            AceType::AccessAllowedObject => 0x05,
            AceType::AccessDeniedObject => 0x06,
            AceType::SystemAuditObject => 0x07,
        }
    }

    /// The type for a binary code, if it is one of the six supported.
    pub fn from_code(code: u8) -> Option<AceType> {
        Some(match code {
            0x00 => AceType::AccessAllowed,
            0x01 => AceType::AccessDenied,
            0x02 => AceType::SystemAudit,
            0x05 => AceType::AccessAllowedObject,
            0x06 => AceType::AccessDeniedObject,
            0x07 => AceType::SystemAuditObject,
            _ => return None,
        })
    }

    /// True for the object variants (0x05, 0x06, 0x07).
    pub fn is_object(self) -> bool {
        matches!(
            self,
            AceType::AccessAllowedObject | AceType::AccessDeniedObject | AceType::SystemAuditObject
        )
    }

    /// True for the allow types.
    pub fn is_allow(self) -> bool {
        matches!(self, AceType::AccessAllowed | AceType::AccessAllowedObject)
    }

    /// True for the deny types.
    pub fn is_deny(self) -> bool {
        matches!(self, AceType::AccessDenied | AceType::AccessDeniedObject)
    }

    /// True for the audit types (SACL only).
    pub fn is_audit(self) -> bool {
        matches!(self, AceType::SystemAudit | AceType::SystemAuditObject)
    }

    /// The object variant of this type.
    pub fn to_object(self) -> AceType {
        match self {
            AceType::AccessAllowed => AceType::AccessAllowedObject,
            AceType::AccessDenied => AceType::AccessDeniedObject,
            AceType::SystemAudit => AceType::SystemAuditObject,
            other => other,
        }
    }
}

/// ACE flags (MS-DTYP 2.4.4.1).
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct AceFlags(pub u8);

impl AceFlags {
    /// No flags.
    pub const NONE: AceFlags = AceFlags(0);
    /// `OI` OBJECT_INHERIT_ACE.
    pub const OBJECT_INHERIT: AceFlags = AceFlags(0x01);
    /// `CI` CONTAINER_INHERIT_ACE: flows to child objects (all AD objects are containers).
    pub const CONTAINER_INHERIT: AceFlags = AceFlags(0x02);
    /// `NP` NO_PROPAGATE_INHERIT_ACE: inherited one level only.
    pub const NO_PROPAGATE_INHERIT: AceFlags = AceFlags(0x04);
    /// `IO` INHERIT_ONLY_ACE: does not apply to the object that carries it.
    pub const INHERIT_ONLY: AceFlags = AceFlags(0x08);
    /// `ID` INHERITED_ACE: this ACE was inherited from a parent.
    pub const INHERITED: AceFlags = AceFlags(0x10);
    /// `SA` SUCCESSFUL_ACCESS_ACE_FLAG (audit ACEs).
    pub const SUCCESSFUL_ACCESS: AceFlags = AceFlags(0x40);
    /// `FA` FAILED_ACCESS_ACE_FLAG (audit ACEs).
    pub const FAILED_ACCESS: AceFlags = AceFlags(0x80);

    /// True when every flag of `other` is set here.
    pub const fn contains(self, other: AceFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// This set with `other` added.
    pub const fn with(self, other: AceFlags) -> AceFlags {
        AceFlags(self.0 | other.0)
    }

    /// This set with `other` removed.
    pub const fn without(self, other: AceFlags) -> AceFlags {
        AceFlags(self.0 & !other.0)
    }

    /// True when the ACE is passed on to children (OI or CI).
    pub const fn is_inheritable(self) -> bool {
        self.0 & (AceFlags::OBJECT_INHERIT.0 | AceFlags::CONTAINER_INHERIT.0) != 0
    }
}

impl std::ops::BitOr for AceFlags {
    type Output = AceFlags;
    fn bitor(self, other: AceFlags) -> AceFlags {
        AceFlags(self.0 | other.0)
    }
}

impl std::fmt::Debug for AceFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AceFlags({:#04x} {})",
            self.0,
            sddl::format_ace_flags(*self)
        )
    }
}

/// Security descriptor control bits (MS-DTYP 2.4.6).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Control(pub u16);

impl Control {
    /// SE_OWNER_DEFAULTED.
    pub const OWNER_DEFAULTED: Control = Control(0x0001);
    /// SE_GROUP_DEFAULTED.
    pub const GROUP_DEFAULTED: Control = Control(0x0002);
    /// SE_DACL_PRESENT (derived from `dacl.is_some()` when encoding).
    pub const DACL_PRESENT: Control = Control(0x0004);
    /// SE_DACL_DEFAULTED.
    pub const DACL_DEFAULTED: Control = Control(0x0008);
    /// SE_SACL_PRESENT (derived from `sacl.is_some()` when encoding).
    pub const SACL_PRESENT: Control = Control(0x0010);
    /// SE_SACL_DEFAULTED.
    pub const SACL_DEFAULTED: Control = Control(0x0020);
    /// SE_DACL_AUTO_INHERIT_REQ (SDDL `D:AR`).
    pub const DACL_AUTO_INHERIT_REQ: Control = Control(0x0100);
    /// SE_SACL_AUTO_INHERIT_REQ (SDDL `S:AR`).
    pub const SACL_AUTO_INHERIT_REQ: Control = Control(0x0200);
    /// SE_DACL_AUTO_INHERITED (SDDL `D:AI`).
    pub const DACL_AUTO_INHERITED: Control = Control(0x0400);
    /// SE_SACL_AUTO_INHERITED (SDDL `S:AI`).
    pub const SACL_AUTO_INHERITED: Control = Control(0x0800);
    /// SE_DACL_PROTECTED (SDDL `D:P`): the DACL inherits nothing.
    pub const DACL_PROTECTED: Control = Control(0x1000);
    /// SE_SACL_PROTECTED (SDDL `S:P`).
    pub const SACL_PROTECTED: Control = Control(0x2000);
    /// SE_RM_CONTROL_VALID.
    pub const RM_CONTROL_VALID: Control = Control(0x4000);
    /// SE_SELF_RELATIVE (always set when encoding).
    pub const SELF_RELATIVE: Control = Control(0x8000);

    /// True when every bit of `other` is set here.
    pub const fn contains(self, other: Control) -> bool {
        self.0 & other.0 == other.0
    }

    /// This set with `other` added.
    pub const fn with(self, other: Control) -> Control {
        Control(self.0 | other.0)
    }

    /// This set with `other` removed.
    pub const fn without(self, other: Control) -> Control {
        Control(self.0 & !other.0)
    }
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Control({:#06x})", self.0)
    }
}

/// One access control entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Ace {
    /// Allow, deny or audit, plain or object.
    pub ace_type: AceType,
    /// Inheritance and audit flags.
    pub flags: AceFlags,
    /// The rights this ACE allows, denies or audits.
    pub mask: AccessMask,
    /// For object ACEs: the class, property set, attribute or extended right it is limited to.
    pub object_type: Option<Guid>,
    /// For object ACEs: the class of children it is inherited to.
    pub inherited_object_type: Option<Guid>,
    /// The trustee.
    pub sid: Sid,
}

impl Ace {
    /// A plain ACE of `ace_type` (no GUIDs).
    pub fn new(ace_type: AceType, flags: AceFlags, mask: AccessMask, sid: Sid) -> Ace {
        Ace {
            ace_type,
            flags,
            mask,
            object_type: None,
            inherited_object_type: None,
            sid,
        }
    }

    /// An ACCESS_ALLOWED ACE: `(A;flags;mask;;;sid)`.
    pub fn allow(sid: Sid, mask: AccessMask, flags: AceFlags) -> Ace {
        Ace::new(AceType::AccessAllowed, flags, mask, sid)
    }

    /// An ACCESS_DENIED ACE: `(D;flags;mask;;;sid)`.
    pub fn deny(sid: Sid, mask: AccessMask, flags: AceFlags) -> Ace {
        Ace::new(AceType::AccessDenied, flags, mask, sid)
    }

    /// This ACE limited to `guid` (a class, property set, attribute or extended right); the
    /// type becomes the object variant.
    pub fn with_object_type(mut self, guid: Guid) -> Ace {
        self.ace_type = self.ace_type.to_object();
        self.object_type = Some(guid);
        self
    }

    /// This ACE inherited only to children of class `guid`; the type becomes the object variant.
    pub fn with_inherited_object_type(mut self, guid: Guid) -> Ace {
        self.ace_type = self.ace_type.to_object();
        self.inherited_object_type = Some(guid);
        self
    }

    /// True when the ACE carries the INHERITED flag.
    pub fn is_inherited(&self) -> bool {
        self.flags.contains(AceFlags::INHERITED)
    }

    /// True when the ACE takes part in access checks on the object that carries it.
    pub fn is_effective(&self) -> bool {
        !self.flags.contains(AceFlags::INHERIT_ONLY)
    }

    /// The type to encode: the object variant when a GUID is present (never drop one).
    pub(crate) fn encoded_type(&self) -> AceType {
        if self.object_type.is_some() || self.inherited_object_type.is_some() {
            self.ace_type.to_object()
        } else {
            self.ace_type
        }
    }
}

/// An access control list: ACEs in evaluation order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Acl {
    /// The entries, in order.
    pub aces: Vec<Ace>,
}

impl Acl {
    /// An empty ACL (as a DACL: denies everything but the owner's implied rights).
    pub fn new() -> Acl {
        Acl::default()
    }

    /// An ACL of these ACEs, in this order.
    pub fn from_aces(aces: Vec<Ace>) -> Acl {
        Acl { aces }
    }

    /// The union of the rights (generic bits mapped) that allow ACEs for exactly `sid` grant
    /// here, counting only ACEs whose flags include `flags` and that apply to every class and
    /// attribute (no object type; no inherited object type). Inherit-only ACEs count only when
    /// `flags` asks for INHERIT_ONLY.
    pub fn allowed_mask(&self, sid: &Sid, flags: AceFlags) -> AccessMask {
        let mut mask = AccessMask::NONE;
        for ace in &self.aces {
            if ace.ace_type.is_allow()
                && ace.sid == *sid
                && ace.object_type.is_none()
                && ace.inherited_object_type.is_none()
                && ace.flags.contains(flags)
                && (ace.is_effective() || flags.contains(AceFlags::INHERIT_ONLY))
            {
                mask |= ace.mask.map_generic();
            }
        }
        mask
    }

    /// True when allow ACEs for `sid` with at least `flags` grant all of `mask` (both sides
    /// generic-mapped, so `GRGWCCDCSDDT` and `0x300FF` are the same). See [`Acl::allowed_mask`].
    pub fn grants(&self, sid: &Sid, mask: AccessMask, flags: AceFlags) -> bool {
        self.allowed_mask(sid, flags).contains(mask.map_generic())
    }

    /// Inserts `ace` as an explicit ACE in canonical position (denies before allows, explicit
    /// before inherited) unless an identical ACE is already there. Returns true when inserted.
    pub fn insert_explicit(&mut self, ace: Ace) -> bool {
        if self.aces.contains(&ace) {
            return false;
        }
        let position = if ace.ace_type.is_deny() {
            self.aces
                .iter()
                .position(|existing| existing.is_inherited() || !existing.ace_type.is_deny())
        } else {
            self.aces
                .iter()
                .position(|existing| existing.is_inherited())
        };
        self.aces.insert(position.unwrap_or(self.aces.len()), ace);
        true
    }

    /// True when the ACL is in canonical order: explicit denies, explicit allows (and audits),
    /// then inherited ACEs.
    pub fn is_canonical(&self) -> bool {
        let rank = |ace: &Ace| {
            if ace.is_inherited() {
                2
            } else if ace.ace_type.is_deny() {
                0
            } else {
                1
            }
        };
        self.aces.windows(2).all(|pair| match pair {
            [a, b] => rank(a) <= rank(b),
            _ => true,
        })
    }

    /// True when some ACE is an object ACE (the ACL then has revision 4).
    pub fn has_object_aces(&self) -> bool {
        self.aces.iter().any(|ace| ace.encoded_type().is_object())
    }
}

/// Parts of a security descriptor, numbered as the SD flags control
/// (`1.2.840.113556.1.4.801`, MS-ADTS 3.1.1.3.4.1.11) and SECURITY_INFORMATION number them.
/// The one type for the SD flags: the client sends it, the simulator reads it from the
/// control, and [`SecurityDescriptor::only`] and [`SecurityDescriptor::replace_parts`] are
/// the one way to select parts for a read and to merge parts on a write.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct SecurityInformation(pub u32);

impl SecurityInformation {
    /// OWNER_SECURITY_INFORMATION.
    pub const OWNER: SecurityInformation = SecurityInformation(0x1);
    /// GROUP_SECURITY_INFORMATION.
    pub const GROUP: SecurityInformation = SecurityInformation(0x2);
    /// DACL_SECURITY_INFORMATION.
    pub const DACL: SecurityInformation = SecurityInformation(0x4);
    /// SACL_SECURITY_INFORMATION.
    pub const SACL: SecurityInformation = SecurityInformation(0x8);
    /// Owner, group and DACL (SD flags 7): what a client without the SACL privilege asks for.
    pub const OWNER_GROUP_DACL: SecurityInformation = SecurityInformation(0x7);
    /// All four parts.
    pub const ALL: SecurityInformation = SecurityInformation(0xF);

    /// The parts an SD flags control value asks for (MS-ADTS 3.1.1.3.4.1.11): bits other
    /// than the four parts' are ignored, and a value with none of them set asks for all four,
    /// as a request without the control does.
    pub const fn from_control_value(flags: u32) -> SecurityInformation {
        let parts = flags & Self::ALL.0;
        if parts == 0 {
            Self::ALL
        } else {
            SecurityInformation(parts)
        }
    }

    /// True when every part of `other` is chosen here.
    pub const fn contains(self, other: SecurityInformation) -> bool {
        self.0 & other.0 == other.0
    }

    /// The parts chosen here or in `other`.
    pub const fn union(self, other: SecurityInformation) -> SecurityInformation {
        SecurityInformation(self.0 | other.0)
    }

    /// The rights needed to write these parts (MS-ADTS 3.1.1.5.3.1): WRITE_OWNER for owner
    /// and group, WRITE_DAC for the DACL, ACCESS_SYSTEM_SECURITY for the SACL.
    pub fn rights_to_write(self) -> AccessMask {
        let mut mask = AccessMask::NONE;
        if self.0 & (Self::OWNER.0 | Self::GROUP.0) != 0 {
            mask |= AccessMask::WRITE_OWNER;
        }
        if self.contains(Self::DACL) {
            mask |= AccessMask::WRITE_DAC;
        }
        if self.contains(Self::SACL) {
            mask |= AccessMask::ACCESS_SYSTEM_SECURITY;
        }
        mask
    }

    /// The rights needed to read these parts: READ_CONTROL for owner, group and DACL,
    /// ACCESS_SYSTEM_SECURITY for the SACL.
    pub fn rights_to_read(self) -> AccessMask {
        let mut mask = AccessMask::NONE;
        if self.0 & (Self::OWNER.0 | Self::GROUP.0 | Self::DACL.0) != 0 {
            mask |= AccessMask::READ_CONTROL;
        }
        if self.contains(Self::SACL) {
            mask |= AccessMask::ACCESS_SYSTEM_SECURITY;
        }
        mask
    }
}

/// A security descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct SecurityDescriptor {
    /// Control bits other than the "present" and "self-relative" ones, which are derived.
    pub control: Control,
    /// The owner.
    pub owner: Option<Sid>,
    /// The primary group.
    pub group: Option<Sid>,
    /// The DACL; `None` grants everyone everything.
    pub dacl: Option<Acl>,
    /// The SACL (audit ACEs).
    pub sacl: Option<Acl>,
}

impl SecurityDescriptor {
    /// Decodes the self-relative binary form (an `nTSecurityDescriptor` value).
    pub fn from_bytes(bytes: &[u8]) -> Result<SecurityDescriptor, SdError> {
        binary::decode(bytes)
    }

    /// Encodes the self-relative binary form.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SdError> {
        binary::encode(self)
    }

    /// Parses SDDL, resolving aliases such as `DA` through `context`.
    pub fn from_sddl(text: &str, context: &SddlContext) -> Result<SecurityDescriptor, SdError> {
        sddl::parse(text, context)
    }

    /// Formats SDDL, using aliases where `context` gives one.
    pub fn to_sddl(&self, context: &SddlContext) -> String {
        sddl::format(self, context)
    }

    /// A copy holding only the chosen `parts` (what a read with the SD flags control returns):
    /// a part not asked for is absent, and so are its control bits (the DACL's or the SACL's
    /// defaulted, auto-inherit and protected bits, the owner's or group's defaulted bit).
    pub fn only(&self, parts: SecurityInformation) -> SecurityDescriptor {
        let mut copy = SecurityDescriptor {
            control: self.control,
            ..SecurityDescriptor::default()
        };
        for (part, bits) in PART_CONTROL_BITS {
            if parts.contains(part) {
                copy.take_part(self, part);
            } else {
                copy.control = copy.control.without(bits);
            }
        }
        copy
    }

    /// Writes the chosen `parts` of `from` over this descriptor (what a modify with the SD
    /// flags control does, MS-ADTS 3.1.1.3.4.1.11): a part not chosen is left as it was. Of a
    /// chosen part, an owner, group or SACL that `from` does not carry is left as it was too
    /// (AD never stores a descriptor without an owner); a DACL `from` does not carry is a NULL
    /// DACL, which is a value. A part written brings its control bits along.
    pub fn replace_parts(&mut self, from: &SecurityDescriptor, parts: SecurityInformation) {
        for (part, _) in PART_CONTROL_BITS {
            let carried = match part {
                SecurityInformation::OWNER => from.owner.is_some(),
                SecurityInformation::GROUP => from.group.is_some(),
                SecurityInformation::SACL => from.sacl.is_some(),
                _ => true,
            };
            if parts.contains(part) && carried {
                self.take_part(from, part);
            }
        }
    }

    /// Sets one `part` (a single bit) and its control bits from `from`.
    fn take_part(&mut self, from: &SecurityDescriptor, part: SecurityInformation) {
        match part {
            SecurityInformation::OWNER => self.owner = from.owner,
            SecurityInformation::GROUP => self.group = from.group,
            SecurityInformation::DACL => self.dacl = from.dacl.clone(),
            SecurityInformation::SACL => self.sacl = from.sacl.clone(),
            _ => return,
        }
        if let Some((_, bits)) = PART_CONTROL_BITS.iter().find(|(p, _)| *p == part) {
            self.control = self
                .control
                .without(*bits)
                .with(Control(from.control.0 & bits.0));
        }
    }

    /// True when the DACL is protected from inheritance (`D:P`).
    pub fn is_dacl_protected(&self) -> bool {
        self.control.contains(Control::DACL_PROTECTED)
    }
}
