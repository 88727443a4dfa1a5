//! Security identifiers (MS-DTYP 2.4.2): text `S-1-5-21-a-b-c-rid` and the binary form.
//!
//! A [`Sid`] is a small `Copy` value (revision 1, a 48-bit identifier authority and up to 15
//! sub-authorities). It round-trips through its text form ([`Sid::parse`], `Display`, serde) and
//! its binary form ([`Sid::from_bytes`] for an attribute value such as `objectSid` or
//! `msDS-RegisteredOwner`, [`Sid::read_prefix`] inside an ACE, [`Sid::to_bytes`]).
//!
//! Well-known SIDs are associated constants (`Sid::EVERYONE`, `Sid::BUILTIN_ADMINISTRATORS`...);
//! domain-relative ones are built from the domain SID with [`Sid::with_rid`] and the RIDs in
//! [`rid`] (`domain.with_rid(rid::DOMAIN_ADMINS)`). The two-letter SDDL aliases live with the
//! SDDL code in [`crate::sd`].
//!
//! Text parsing is strict: revision 1 only, decimal sub-authorities that fit in 32 bits, an
//! authority in decimal (below 2^32) or `0x` hex (up to 48 bits), at most 15 sub-authorities.
//! Formatting follows Windows: the authority in decimal below 2^32, else as `0x` and 12 hex digits.

use std::fmt;
use std::str::FromStr;

use crate::guid::shorten;

/// The most sub-authorities a SID can carry (MS-DTYP 2.4.2.2).
pub const MAX_SUB_AUTHORITIES: usize = 15;

/// Relative identifiers of the well-known domain accounts and groups (MS-DTYP 2.4.2.4).
pub mod rid {
    /// Enterprise Read-only Domain Controllers (in the forest root domain; SDDL `RO`).
    pub const ENTERPRISE_READONLY_DOMAIN_CONTROLLERS: u32 = 498;
    /// The domain's Administrator account (SDDL `LA`).
    pub const ADMINISTRATOR: u32 = 500;
    /// The domain's Guest account (SDDL `LG`).
    pub const GUEST: u32 = 501;
    /// krbtgt.
    pub const KRBTGT: u32 = 502;
    /// Domain Admins (SDDL `DA`).
    pub const DOMAIN_ADMINS: u32 = 512;
    /// Domain Users (SDDL `DU`).
    pub const DOMAIN_USERS: u32 = 513;
    /// Domain Guests (SDDL `DG`).
    pub const DOMAIN_GUESTS: u32 = 514;
    /// Domain Computers (SDDL `DC`).
    pub const DOMAIN_COMPUTERS: u32 = 515;
    /// Domain Controllers (SDDL `DD`).
    pub const DOMAIN_CONTROLLERS: u32 = 516;
    /// Cert Publishers (SDDL `CA`).
    pub const CERT_PUBLISHERS: u32 = 517;
    /// Schema Admins (forest root domain; SDDL `SA`).
    pub const SCHEMA_ADMINS: u32 = 518;
    /// Enterprise Admins (forest root domain; SDDL `EA`).
    pub const ENTERPRISE_ADMINS: u32 = 519;
    /// Group Policy Creator Owners (SDDL `PA`).
    pub const GROUP_POLICY_CREATOR_OWNERS: u32 = 520;
    /// Read-only Domain Controllers (no SDDL alias).
    pub const READONLY_DOMAIN_CONTROLLERS: u32 = 521;
    /// Cloneable Domain Controllers (SDDL `CN`).
    pub const CLONEABLE_DOMAIN_CONTROLLERS: u32 = 522;
    /// Protected Users (SDDL `AP`).
    pub const PROTECTED_USERS: u32 = 525;
    /// Key Admins (SDDL `KA`).
    pub const KEY_ADMINS: u32 = 526;
    /// Enterprise Key Admins (forest root domain; SDDL `EK`).
    pub const ENTERPRISE_KEY_ADMINS: u32 = 527;
    /// RAS and IAS Servers (SDDL `RS`).
    pub const RAS_AND_IAS_SERVERS: u32 = 553;
}

/// A security identifier. Equal SIDs have equal text and binary forms.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sid {
    /// 48-bit identifier authority.
    authority: u64,
    /// Number of sub-authorities in use; the unused tail of `sub_authorities` is always zero.
    count: u8,
    sub_authorities: [u32; MAX_SUB_AUTHORITIES],
}

/// Why a SID could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SidError {
    /// The text is not a SID string.
    #[error("invalid SID {input:?}: {reason}")]
    InvalidText {
        /// The offending text, shortened to 80 characters.
        input: String,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// The binary SID is shorter than its header says, or (for [`Sid::from_bytes`]) longer.
    #[error("binary SID of {len} bytes, expected {expected}")]
    WrongLength {
        /// Bytes given.
        len: usize,
        /// Bytes the header announces (8 + 4 per sub-authority), or 8 if the header is cut.
        expected: usize,
    },
    /// The revision byte is not 1.
    #[error("binary SID revision {revision}, only 1 exists")]
    BadRevision {
        /// The revision byte found.
        revision: u8,
    },
    /// More than 15 sub-authorities.
    #[error("SID with {count} sub-authorities, at most 15 are allowed")]
    TooManySubAuthorities {
        /// The count found.
        count: usize,
    },
}

impl Sid {
    /// `S-1-0-0`, Nobody (SDDL has no alias).
    pub const NULL: Sid = Sid::from_parts(0, &[0]);
    /// `S-1-1-0`, Everyone (`WD`).
    pub const EVERYONE: Sid = Sid::from_parts(1, &[0]);
    /// `S-1-3-0`, Creator Owner (`CO`): replaced by the new object's owner on inheritance.
    pub const CREATOR_OWNER: Sid = Sid::from_parts(3, &[0]);
    /// `S-1-3-1`, Creator Group (`CG`): replaced by the new object's group on inheritance.
    pub const CREATOR_GROUP: Sid = Sid::from_parts(3, &[1]);
    /// `S-1-3-4`, Owner Rights (`OW`): when present in a DACL it replaces the owner's implied rights.
    pub const OWNER_RIGHTS: Sid = Sid::from_parts(3, &[4]);
    /// `S-1-5-2`, Network (`NU`).
    pub const NETWORK: Sid = Sid::from_parts(5, &[2]);
    /// `S-1-5-4`, Interactive (`IU`).
    pub const INTERACTIVE: Sid = Sid::from_parts(5, &[4]);
    /// `S-1-5-6`, Service (`SU`).
    pub const SERVICE: Sid = Sid::from_parts(5, &[6]);
    /// `S-1-5-7`, Anonymous Logon (`AN`).
    pub const ANONYMOUS: Sid = Sid::from_parts(5, &[7]);
    /// `S-1-5-9`, Enterprise Domain Controllers (`ED`).
    pub const ENTERPRISE_DOMAIN_CONTROLLERS: Sid = Sid::from_parts(5, &[9]);
    /// `S-1-5-10`, Principal Self (`PS`): matches when the accessed object is the caller itself.
    pub const PRINCIPAL_SELF: Sid = Sid::from_parts(5, &[10]);
    /// `S-1-5-11`, Authenticated Users (`AU`).
    pub const AUTHENTICATED_USERS: Sid = Sid::from_parts(5, &[11]);
    /// `S-1-5-12`, Restricted Code (`RC`).
    pub const RESTRICTED_CODE: Sid = Sid::from_parts(5, &[12]);
    /// `S-1-5-18`, Local System (`SY`).
    pub const LOCAL_SYSTEM: Sid = Sid::from_parts(5, &[18]);
    /// `S-1-5-19`, Local Service (`LS`).
    pub const LOCAL_SERVICE: Sid = Sid::from_parts(5, &[19]);
    /// `S-1-5-20`, Network Service (`NS`).
    pub const NETWORK_SERVICE: Sid = Sid::from_parts(5, &[20]);
    /// `S-1-5-32`, the BUILTIN domain.
    pub const BUILTIN: Sid = Sid::from_parts(5, &[32]);
    /// `S-1-5-32-544`, Administrators (`BA`).
    pub const BUILTIN_ADMINISTRATORS: Sid = Sid::from_parts(5, &[32, 544]);
    /// `S-1-5-32-545`, Users (`BU`).
    pub const BUILTIN_USERS: Sid = Sid::from_parts(5, &[32, 545]);
    /// `S-1-5-32-546`, Guests (`BG`).
    pub const BUILTIN_GUESTS: Sid = Sid::from_parts(5, &[32, 546]);
    /// `S-1-5-32-548`, Account Operators (`AO`).
    pub const ACCOUNT_OPERATORS: Sid = Sid::from_parts(5, &[32, 548]);
    /// `S-1-5-32-549`, Server Operators (`SO`).
    pub const SERVER_OPERATORS: Sid = Sid::from_parts(5, &[32, 549]);
    /// `S-1-5-32-550`, Print Operators (`PO`).
    pub const PRINT_OPERATORS: Sid = Sid::from_parts(5, &[32, 550]);
    /// `S-1-5-32-551`, Backup Operators (`BO`).
    pub const BACKUP_OPERATORS: Sid = Sid::from_parts(5, &[32, 551]);
    /// `S-1-5-32-554`, Pre-Windows 2000 Compatible Access (`RU`).
    pub const PRE_WINDOWS_2000_COMPATIBLE_ACCESS: Sid = Sid::from_parts(5, &[32, 554]);

    /// Builds a SID at compile time. Panics (at compile time when used in a const) if more than
    /// 15 sub-authorities are given or the authority exceeds 48 bits; use [`Sid::new`] for
    /// values that come from outside.
    pub const fn from_parts(authority: u64, sub_authorities: &[u32]) -> Sid {
        assert!(sub_authorities.len() <= MAX_SUB_AUTHORITIES);
        assert!(authority < (1 << 48));
        let mut array = [0u32; MAX_SUB_AUTHORITIES];
        let mut index = 0;
        while index < sub_authorities.len() {
            array[index] = sub_authorities[index];
            index += 1;
        }
        Sid {
            authority,
            count: sub_authorities.len() as u8,
            sub_authorities: array,
        }
    }

    /// Builds a SID from parts that come from outside, checking the limits.
    pub fn new(authority: u64, sub_authorities: &[u32]) -> Result<Sid, SidError> {
        if sub_authorities.len() > MAX_SUB_AUTHORITIES {
            return Err(SidError::TooManySubAuthorities {
                count: sub_authorities.len(),
            });
        }
        if authority >= 1 << 48 {
            return Err(SidError::InvalidText {
                input: format!("{authority}"),
                reason: "identifier authority exceeds 48 bits",
            });
        }
        Ok(Sid::from_parts(authority, sub_authorities))
    }

    /// The 48-bit identifier authority (5 for NT AUTHORITY).
    pub fn authority(&self) -> u64 {
        self.authority
    }

    /// The sub-authorities, domain part first, RID last.
    pub fn sub_authorities(&self) -> &[u32] {
        self.sub_authorities
            .get(..usize::from(self.count))
            .unwrap_or(&[])
    }

    /// The last sub-authority (the RID of a domain account), if there is one.
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities().last().copied()
    }

    /// The SID without its last sub-authority (the domain of an account SID); `None` when the
    /// SID has no sub-authority.
    pub fn domain(&self) -> Option<Sid> {
        let subs = self.sub_authorities();
        let (_, domain) = subs.split_last()?;
        Some(Sid::from_parts(self.authority, domain))
    }

    /// This SID with `rid` appended (a domain SID plus a RID gives an account SID). A SID that
    /// already has 15 sub-authorities gets its last one replaced, since there is no room.
    pub fn with_rid(&self, rid: u32) -> Sid {
        let mut sid = *self;
        let count = usize::from(sid.count);
        if count < MAX_SUB_AUTHORITIES {
            sid.sub_authorities[count] = rid;
            sid.count += 1;
        } else {
            sid.sub_authorities[MAX_SUB_AUTHORITIES - 1] = rid;
        }
        sid
    }

    /// True when this SID is `domain` plus exactly one RID.
    pub fn is_in_domain(&self, domain: &Sid) -> bool {
        self.domain().as_ref() == Some(domain)
    }

    /// Parses `S-1-<authority>-<sub>-...` (a leading lowercase `s` is accepted too).
    pub fn parse(text: &str) -> Result<Sid, SidError> {
        let invalid = |reason| SidError::InvalidText {
            input: shorten(text),
            reason,
        };
        let rest = text
            .strip_prefix("S-")
            .or_else(|| text.strip_prefix("s-"))
            .ok_or_else(|| invalid("does not start with \"S-\""))?;
        let mut parts = rest.split('-');
        match parts.next() {
            Some("1") => {}
            _ => return Err(invalid("revision is not 1")),
        }
        let authority_text = parts
            .next()
            .ok_or_else(|| invalid("no identifier authority"))?;
        let authority = if let Some(hex) = authority_text
            .strip_prefix("0x")
            .or_else(|| authority_text.strip_prefix("0X"))
        {
            if hex.is_empty() || hex.len() > 12 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid("identifier authority is not 1 to 12 hex digits"));
            }
            u64::from_str_radix(hex, 16).map_err(|_| invalid("bad hex identifier authority"))?
        } else {
            parse_decimal_u32(authority_text)
                .map(u64::from)
                .ok_or_else(|| invalid("identifier authority is not a decimal below 2^32"))?
        };
        let mut subs = [0u32; MAX_SUB_AUTHORITIES];
        let mut count = 0usize;
        for part in parts {
            let value = parse_decimal_u32(part)
                .ok_or_else(|| invalid("sub-authority is not a 32-bit decimal"))?;
            let slot = subs
                .get_mut(count)
                .ok_or_else(|| invalid("more than 15 sub-authorities"))?;
            *slot = value;
            count += 1;
        }
        Ok(Sid {
            authority,
            count: count as u8,
            sub_authorities: subs,
        })
    }

    /// Reads a binary SID that is exactly `bytes` long (an attribute value).
    pub fn from_bytes(bytes: &[u8]) -> Result<Sid, SidError> {
        let (sid, used) = Sid::read_prefix(bytes)?;
        if used != bytes.len() {
            return Err(SidError::WrongLength {
                len: bytes.len(),
                expected: used,
            });
        }
        Ok(sid)
    }

    /// Reads a binary SID at the start of `bytes` and returns it with the number of bytes it
    /// took; trailing bytes are left to the caller (a SID inside an ACE).
    pub fn read_prefix(bytes: &[u8]) -> Result<(Sid, usize), SidError> {
        let header: &[u8; 8] =
            bytes
                .get(..8)
                .and_then(|h| h.try_into().ok())
                .ok_or(SidError::WrongLength {
                    len: bytes.len(),
                    expected: 8,
                })?;
        if header[0] != 1 {
            return Err(SidError::BadRevision {
                revision: header[0],
            });
        }
        let count = usize::from(header[1]);
        if count > MAX_SUB_AUTHORITIES {
            return Err(SidError::TooManySubAuthorities { count });
        }
        let total = 8 + 4 * count;
        let body = bytes.get(8..total).ok_or(SidError::WrongLength {
            len: bytes.len(),
            expected: total,
        })?;
        let mut authority_bytes = [0u8; 8];
        authority_bytes[2..].copy_from_slice(&header[2..8]);
        let mut subs = [0u32; MAX_SUB_AUTHORITIES];
        for (slot, chunk) in subs.iter_mut().zip(body.chunks_exact(4)) {
            *slot = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        Ok((
            Sid {
                authority: u64::from_be_bytes(authority_bytes),
                count: count as u8,
                sub_authorities: subs,
            },
            total,
        ))
    }

    /// The number of bytes of the binary form: 8 + 4 per sub-authority.
    pub fn binary_len(&self) -> usize {
        8 + 4 * usize::from(self.count)
    }

    /// Appends the binary form to `out`.
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        out.push(1);
        out.push(self.count);
        out.extend_from_slice(&self.authority.to_be_bytes()[2..]);
        for sub in self.sub_authorities() {
            out.extend_from_slice(&sub.to_le_bytes());
        }
    }

    /// The binary form (MS-DTYP 2.4.2.2).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.binary_len());
        self.write_bytes(&mut out);
        out
    }
}

/// A decimal without sign or leading `+` that fits in 32 bits.
fn parse_decimal_u32(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.authority < 1 << 32 {
            write!(f, "S-1-{}", self.authority)?;
        } else {
            write!(f, "S-1-0x{:012X}", self.authority)?;
        }
        for sub in self.sub_authorities() {
            write!(f, "-{sub}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({self})")
    }
}

impl FromStr for Sid {
    type Err = SidError;
    fn from_str(text: &str) -> Result<Sid, SidError> {
        Sid::parse(text)
    }
}

impl serde::Serialize for Sid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Sid {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Sid, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Sid::parse(&text).map_err(serde::de::Error::custom)
    }
}
