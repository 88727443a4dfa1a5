//! Access masks: the directory-service rights bits, the standard rights, the generic bits and
//! the DS generic mapping (MS-ADTS 5.1.3.2, MS-DTYP 2.4.3).

use std::fmt;
use std::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, Not};

/// A 32-bit access mask. Combine constants with `|`.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct AccessMask(pub u32);

impl AccessMask {
    /// No rights.
    pub const NONE: AccessMask = AccessMask(0);
    /// `CC` create child objects (ADS_RIGHT_DS_CREATE_CHILD).
    pub const CREATE_CHILD: AccessMask = AccessMask(0x1);
    /// `DC` delete child objects.
    pub const DELETE_CHILD: AccessMask = AccessMask(0x2);
    /// `LC` list contents.
    pub const LIST_CONTENTS: AccessMask = AccessMask(0x4);
    /// `SW` validated write ("self write").
    pub const SELF_WRITE: AccessMask = AccessMask(0x8);
    /// `RP` read property.
    pub const READ_PROPERTY: AccessMask = AccessMask(0x10);
    /// `WP` write property.
    pub const WRITE_PROPERTY: AccessMask = AccessMask(0x20);
    /// `DT` delete tree.
    pub const DELETE_TREE: AccessMask = AccessMask(0x40);
    /// `LO` list object.
    pub const LIST_OBJECT: AccessMask = AccessMask(0x80);
    /// `CR` control access (extended rights).
    pub const CONTROL_ACCESS: AccessMask = AccessMask(0x100);
    /// `SD` delete the object.
    pub const DELETE: AccessMask = AccessMask(0x1_0000);
    /// `RC` read the security descriptor (except the SACL).
    pub const READ_CONTROL: AccessMask = AccessMask(0x2_0000);
    /// `WD` write the DACL.
    pub const WRITE_DAC: AccessMask = AccessMask(0x4_0000);
    /// `WO` write the owner.
    pub const WRITE_OWNER: AccessMask = AccessMask(0x8_0000);
    /// SYNCHRONIZE (not used by the directory, no SDDL code).
    pub const SYNCHRONIZE: AccessMask = AccessMask(0x10_0000);
    /// ACCESS_SYSTEM_SECURITY: read or write the SACL.
    pub const ACCESS_SYSTEM_SECURITY: AccessMask = AccessMask(0x0100_0000);
    /// MAXIMUM_ALLOWED (a request flag, never granted).
    pub const MAXIMUM_ALLOWED: AccessMask = AccessMask(0x0200_0000);
    /// `GA` generic all.
    pub const GENERIC_ALL: AccessMask = AccessMask(0x1000_0000);
    /// `GX` generic execute.
    pub const GENERIC_EXECUTE: AccessMask = AccessMask(0x2000_0000);
    /// `GW` generic write.
    pub const GENERIC_WRITE: AccessMask = AccessMask(0x4000_0000);
    /// `GR` generic read.
    pub const GENERIC_READ: AccessMask = AccessMask(0x8000_0000);

    /// What `GR` maps to on directory objects: RC LC RP LO (0x20094).
    pub const DS_GENERIC_READ: AccessMask = AccessMask(0x2_0094);
    /// What `GW` maps to on directory objects: RC SW WP (0x20028).
    pub const DS_GENERIC_WRITE: AccessMask = AccessMask(0x2_0028);
    /// What `GX` maps to on directory objects: RC LC (0x20004).
    pub const DS_GENERIC_EXECUTE: AccessMask = AccessMask(0x2_0004);
    /// What `GA` maps to on directory objects: every DS right and every standard right (0xF01FF).
    pub const DS_GENERIC_ALL: AccessMask = AccessMask(0xF_01FF);

    /// The four generic bits.
    pub const GENERIC_BITS: AccessMask = AccessMask(0xF000_0000);

    /// True when every bit of `other` is set here.
    pub const fn contains(self, other: AccessMask) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when some bit of `other` is set here.
    pub const fn intersects(self, other: AccessMask) -> bool {
        self.0 & other.0 != 0
    }

    /// True when no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Replaces the generic bits by the rights they stand for on directory objects (the DS
    /// generic mapping). Other bits are kept.
    pub const fn map_generic(self) -> AccessMask {
        let mut bits = self.0 & !AccessMask::GENERIC_BITS.0;
        if self.0 & AccessMask::GENERIC_READ.0 != 0 {
            bits |= AccessMask::DS_GENERIC_READ.0;
        }
        if self.0 & AccessMask::GENERIC_WRITE.0 != 0 {
            bits |= AccessMask::DS_GENERIC_WRITE.0;
        }
        if self.0 & AccessMask::GENERIC_EXECUTE.0 != 0 {
            bits |= AccessMask::DS_GENERIC_EXECUTE.0;
        }
        if self.0 & AccessMask::GENERIC_ALL.0 != 0 {
            bits |= AccessMask::DS_GENERIC_ALL.0;
        }
        AccessMask(bits)
    }
}

impl BitOr for AccessMask {
    type Output = AccessMask;
    fn bitor(self, other: AccessMask) -> AccessMask {
        AccessMask(self.0 | other.0)
    }
}

impl BitOrAssign for AccessMask {
    fn bitor_assign(&mut self, other: AccessMask) {
        self.0 |= other.0;
    }
}

impl BitAnd for AccessMask {
    type Output = AccessMask;
    fn bitand(self, other: AccessMask) -> AccessMask {
        AccessMask(self.0 & other.0)
    }
}

impl BitAndAssign for AccessMask {
    fn bitand_assign(&mut self, other: AccessMask) {
        self.0 &= other.0;
    }
}

impl Not for AccessMask {
    type Output = AccessMask;
    fn not(self) -> AccessMask {
        AccessMask(!self.0)
    }
}

impl fmt::Debug for AccessMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AccessMask({:#010x} {})",
            self.0,
            super::sddl::format_rights(*self)
        )
    }
}

impl fmt::Display for AccessMask {
    /// The SDDL rights string (`CCDCLCSWRPWPDTLOSDRC`, or `0x...` when a bit has no code).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::sddl::format_rights(*self))
    }
}
