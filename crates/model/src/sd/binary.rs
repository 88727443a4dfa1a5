//! The self-relative binary form (MS-DTYP 2.4.6 SECURITY_DESCRIPTOR, 2.4.5 ACL, 2.4.4 ACEs).
//!
//! Decoding reads only through bounds-checked slices: every length and offset comes from the
//! input and is checked before use, there is no recursion, and errors name the byte offset.

use super::{AccessMask, Ace, AceFlags, AceType, Acl, Control, SdError, SecurityDescriptor};
use crate::guid::Guid;
use crate::sid::Sid;

const HEADER_LEN: usize = 20;
const ACL_HEADER_LEN: usize = 8;
const ACL_REVISION: u8 = 2;
const ACL_REVISION_DS: u8 = 4;
const OBJECT_TYPE_PRESENT: u32 = 0x1;
const INHERITED_OBJECT_TYPE_PRESENT: u32 = 0x2;

fn binary_error(offset: usize, reason: impl Into<String>) -> SdError {
    SdError::Binary {
        offset,
        reason: reason.into(),
    }
}

fn read_u16(bytes: &[u8], offset: usize) -> Result<u16, SdError> {
    bytes
        .get(offset..offset.saturating_add(2))
        .and_then(|b| b.try_into().ok())
        .map(u16::from_le_bytes)
        .ok_or_else(|| binary_error(offset, "truncated 16-bit field"))
}

fn read_u32(bytes: &[u8], offset: usize) -> Result<u32, SdError> {
    bytes
        .get(offset..offset.saturating_add(4))
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| binary_error(offset, "truncated 32-bit field"))
}

fn read_sid(bytes: &[u8], offset: usize) -> Result<(Sid, usize), SdError> {
    let tail = bytes
        .get(offset..)
        .ok_or_else(|| binary_error(offset, "SID offset beyond the end"))?;
    Sid::read_prefix(tail).map_err(|error| binary_error(offset, format!("bad SID: {error}")))
}

/// Decodes a self-relative security descriptor.
pub(super) fn decode(bytes: &[u8]) -> Result<SecurityDescriptor, SdError> {
    if bytes.len() < HEADER_LEN {
        return Err(binary_error(
            bytes.len(),
            format!(
                "descriptor of {} bytes is shorter than its 20-byte header",
                bytes.len()
            ),
        ));
    }
    let revision = bytes.first().copied().unwrap_or(0);
    if revision != 1 {
        return Err(binary_error(
            0,
            format!("revision {revision}, only 1 exists"),
        ));
    }
    let raw_control = Control(read_u16(bytes, 2)?);
    if !raw_control.contains(Control::SELF_RELATIVE) {
        return Err(binary_error(
            2,
            "SE_SELF_RELATIVE is not set (absolute descriptors hold pointers)",
        ));
    }
    let offset_owner = read_u32(bytes, 4)? as usize;
    let offset_group = read_u32(bytes, 8)? as usize;
    let offset_sacl = read_u32(bytes, 12)? as usize;
    let offset_dacl = read_u32(bytes, 16)? as usize;

    let owner = match offset_owner {
        0 => None,
        offset => Some(read_sid(bytes, offset)?.0),
    };
    let group = match offset_group {
        0 => None,
        offset => Some(read_sid(bytes, offset)?.0),
    };
    let sacl = if raw_control.contains(Control::SACL_PRESENT) && offset_sacl != 0 {
        Some(decode_acl(bytes, offset_sacl)?)
    } else {
        None
    };
    let dacl = if raw_control.contains(Control::DACL_PRESENT) && offset_dacl != 0 {
        Some(decode_acl(bytes, offset_dacl)?)
    } else {
        None
    };
    let control = raw_control
        .without(Control::SELF_RELATIVE)
        .without(Control::DACL_PRESENT)
        .without(Control::SACL_PRESENT);
    Ok(SecurityDescriptor {
        control,
        owner,
        group,
        dacl,
        sacl,
    })
}

fn decode_acl(bytes: &[u8], offset: usize) -> Result<Acl, SdError> {
    let header = bytes
        .get(offset..offset.saturating_add(ACL_HEADER_LEN))
        .ok_or_else(|| binary_error(offset, "ACL header beyond the end"))?;
    let revision = header.first().copied().unwrap_or(0);
    if !(ACL_REVISION..=ACL_REVISION_DS).contains(&revision) {
        return Err(binary_error(
            offset,
            format!("ACL revision {revision}, expected 2 to 4"),
        ));
    }
    let size = usize::from(read_u16(bytes, offset + 2)?);
    let count = usize::from(read_u16(bytes, offset + 4)?);
    if size < ACL_HEADER_LEN {
        return Err(binary_error(
            offset + 2,
            format!("ACL size {size} is smaller than its header"),
        ));
    }
    let acl = bytes.get(offset..offset + size).ok_or_else(|| {
        binary_error(offset + 2, format!("ACL of {size} bytes runs past the end"))
    })?;
    // Each ACE is at least 4 bytes: a count above what fits is an error before we allocate.
    if count > (size - ACL_HEADER_LEN) / 4 {
        return Err(binary_error(
            offset + 4,
            format!("{count} ACEs cannot fit in {size} bytes"),
        ));
    }
    let mut aces = Vec::with_capacity(count);
    let mut position = ACL_HEADER_LEN;
    for _ in 0..count {
        let (ace, ace_size) = decode_ace(acl, position).map_err(|error| match error {
            SdError::Binary {
                offset: inner,
                reason,
            } => SdError::Binary {
                offset: offset + inner,
                reason,
            },
            other => other,
        })?;
        aces.push(ace);
        position += ace_size;
    }
    Ok(Acl { aces })
}

/// Decodes the ACE at `position` of `acl` (the whole ACL); returns it and its size.
fn decode_ace(acl: &[u8], position: usize) -> Result<(Ace, usize), SdError> {
    let header = acl
        .get(position..position.saturating_add(4))
        .ok_or_else(|| binary_error(position, "ACE header runs past the end of the ACL"))?;
    let (type_code, flags) = match header {
        [type_code, flags, _, _] => (*type_code, *flags),
        _ => {
            return Err(binary_error(
                position,
                "ACE header runs past the end of the ACL",
            ))
        }
    };
    let size = usize::from(read_u16(acl, position + 2)?);
    if size < 8 || size % 4 != 0 {
        return Err(binary_error(
            position + 2,
            format!("ACE size {size} is not a multiple of 4 of at least 8"),
        ));
    }
    let body = acl
        .get(position..position.saturating_add(size))
        .ok_or_else(|| {
            binary_error(
                position + 2,
                format!("ACE of {size} bytes runs past the end of the ACL"),
            )
        })?;
    let ace_type = AceType::from_code(type_code).ok_or_else(|| {
        binary_error(
            position,
            format!("unsupported ACE type {type_code:#04x} (only 0x00-0x02 and 0x05-0x07)"),
        )
    })?;
    let mask = AccessMask(read_u32(body, 4)?);
    let mut cursor = 8;
    let mut object_type = None;
    let mut inherited_object_type = None;
    if ace_type.is_object() {
        let object_flags = read_u32(body, cursor)
            .map_err(|_| binary_error(position + cursor, "object ACE without its flags field"))?;
        cursor += 4;
        if object_flags & !(OBJECT_TYPE_PRESENT | INHERITED_OBJECT_TYPE_PRESENT) != 0 {
            return Err(binary_error(
                position + 8,
                format!("unknown object ACE flags {object_flags:#x}"),
            ));
        }
        if object_flags & OBJECT_TYPE_PRESENT != 0 {
            object_type = Some(read_guid(body, cursor).map_err(|e| shift(e, position))?);
            cursor += 16;
        }
        if object_flags & INHERITED_OBJECT_TYPE_PRESENT != 0 {
            inherited_object_type = Some(read_guid(body, cursor).map_err(|e| shift(e, position))?);
            cursor += 16;
        }
    }
    let sid_bytes = body.get(cursor..).unwrap_or(&[]);
    let (sid, _) = Sid::read_prefix(sid_bytes)
        .map_err(|error| binary_error(position + cursor, format!("bad SID in ACE: {error}")))?;
    Ok((
        Ace {
            ace_type,
            flags: AceFlags(flags),
            mask,
            object_type,
            inherited_object_type,
            sid,
        },
        size,
    ))
}

fn shift(error: SdError, by: usize) -> SdError {
    match error {
        SdError::Binary { offset, reason } => SdError::Binary {
            offset: offset + by,
            reason,
        },
        other => other,
    }
}

fn read_guid(bytes: &[u8], offset: usize) -> Result<Guid, SdError> {
    let array: [u8; 16] = bytes
        .get(offset..offset.saturating_add(16))
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| binary_error(offset, "object ACE GUID runs past the end of the ACE"))?;
    Ok(Guid::from_ad_array(array))
}

/// Encodes a self-relative security descriptor: header, SACL, DACL, owner, group.
pub(super) fn encode(sd: &SecurityDescriptor) -> Result<Vec<u8>, SdError> {
    let mut control = sd
        .control
        .with(Control::SELF_RELATIVE)
        .without(Control::DACL_PRESENT)
        .without(Control::SACL_PRESENT);
    if sd.dacl.is_some() {
        control = control.with(Control::DACL_PRESENT);
    }
    if sd.sacl.is_some() {
        control = control.with(Control::SACL_PRESENT);
    }
    let mut out = vec![0u8; HEADER_LEN];
    out[0] = 1;
    out[2..4].copy_from_slice(&control.0.to_le_bytes());
    let mut offsets = [0u32; 4]; // owner, group, sacl, dacl
    if let Some(sacl) = &sd.sacl {
        offsets[2] = offset_of(&out);
        encode_acl(sacl, &mut out)?;
    }
    if let Some(dacl) = &sd.dacl {
        offsets[3] = offset_of(&out);
        encode_acl(dacl, &mut out)?;
    }
    if let Some(owner) = &sd.owner {
        offsets[0] = offset_of(&out);
        owner.write_bytes(&mut out);
    }
    if let Some(group) = &sd.group {
        offsets[1] = offset_of(&out);
        group.write_bytes(&mut out);
    }
    for (index, offset) in offsets.iter().enumerate() {
        let at = 4 + 4 * index;
        out[at..at + 4].copy_from_slice(&offset.to_le_bytes());
    }
    Ok(out)
}

fn offset_of(out: &[u8]) -> u32 {
    // A descriptor is at most a header, two 64 KiB ACLs and two SIDs: it always fits.
    u32::try_from(out.len()).unwrap_or(u32::MAX)
}

fn encode_acl(acl: &Acl, out: &mut Vec<u8>) -> Result<(), SdError> {
    let start = out.len();
    let revision = if acl.has_object_aces() {
        ACL_REVISION_DS
    } else {
        ACL_REVISION
    };
    let count = u16::try_from(acl.aces.len()).map_err(|_| SdError::TooLarge {
        what: "ACL",
        size: acl.aces.len(),
    })?;
    out.extend_from_slice(&[revision, 0, 0, 0]);
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    for ace in &acl.aces {
        encode_ace(ace, out)?;
    }
    let size = out.len() - start;
    let size16 = u16::try_from(size).map_err(|_| SdError::TooLarge { what: "ACL", size })?;
    out[start + 2..start + 4].copy_from_slice(&size16.to_le_bytes());
    Ok(())
}

fn encode_ace(ace: &Ace, out: &mut Vec<u8>) -> Result<(), SdError> {
    let start = out.len();
    let ace_type = ace.encoded_type();
    out.extend_from_slice(&[ace_type.code(), ace.flags.0, 0, 0]);
    out.extend_from_slice(&ace.mask.0.to_le_bytes());
    if ace_type.is_object() {
        let mut object_flags = 0u32;
        if ace.object_type.is_some() {
            object_flags |= OBJECT_TYPE_PRESENT;
        }
        if ace.inherited_object_type.is_some() {
            object_flags |= INHERITED_OBJECT_TYPE_PRESENT;
        }
        out.extend_from_slice(&object_flags.to_le_bytes());
        if let Some(guid) = &ace.object_type {
            out.extend_from_slice(&guid.to_ad_bytes());
        }
        if let Some(guid) = &ace.inherited_object_type {
            out.extend_from_slice(&guid.to_ad_bytes());
        }
    }
    ace.sid.write_bytes(out);
    let size = out.len() - start;
    let size16 = u16::try_from(size).map_err(|_| SdError::TooLarge { what: "ACE", size })?;
    out[start + 2..start + 4].copy_from_slice(&size16.to_le_bytes());
    Ok(())
}
