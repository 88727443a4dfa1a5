//! Request controls: the ones the simulator implements, parsed from their BER values into
//! [`RequestControls`] (a type of the request vocabulary), and AD's rule for the rest (unknown
//! and critical: `unavailableCriticalExtension`; unknown and not critical: ignored).

use bytes::Bytes;
use devwb_model::sd::SecurityInformation;

use crate::codec::ber::{integer_value, read_tlv};
use crate::error::{OpError, ResultCode};
use crate::request::{PagedRequest, RequestControls};

/// Paged results (RFC 2696).
pub const PAGED_RESULTS: &str = "1.2.840.113556.1.4.319";
/// SD flags: which parts of `nTSecurityDescriptor` to read or write.
pub const SD_FLAGS: &str = "1.2.840.113556.1.4.801";
/// Tree delete.
pub const TREE_DELETE: &str = "1.2.840.113556.1.4.805";
/// Show deleted objects (accepted; the simulator keeps no tombstones).
pub const SHOW_DELETED: &str = "1.2.840.113556.1.4.417";
/// Domain scope: no continuation references to other naming contexts.
pub const DOMAIN_SCOPE: &str = "1.2.840.113556.1.4.1339";
/// Permissive modify: adding an existing value or deleting a missing one succeeds.
pub const PERMISSIVE_MODIFY: &str = "1.2.840.113556.1.4.1413";
/// ManageDsaIT (RFC 3296): accepted, the simulator has no referral objects.
pub const MANAGE_DSA_IT: &str = "2.16.840.1.113730.3.4.2";
/// Lazy commit: accepted, every commit here is immediate.
pub const LAZY_COMMIT: &str = "1.2.840.113556.1.4.619";

/// The controls listed in the rootDSE's `supportedControl`.
pub const SUPPORTED: &[&str] = &[
    PAGED_RESULTS,
    SD_FLAGS,
    TREE_DELETE,
    SHOW_DELETED,
    DOMAIN_SCOPE,
    PERMISSIVE_MODIFY,
    MANAGE_DSA_IT,
    LAZY_COMMIT,
];

fn bad_value(oid: &str) -> OpError {
    OpError::protocol(format!("00000057: LdapErr: DSID-0C090FA8, comment: Error processing control {oid}: malformed value, data 0, v4563"))
}

fn parse_paged(oid: &str, value: Option<&[u8]>) -> Result<PagedRequest, OpError> {
    let value = value.ok_or_else(|| bad_value(oid))?;
    let (0x30, content, _) = read_tlv(value).ok_or_else(|| bad_value(oid))? else {
        return Err(bad_value(oid));
    };
    let (0x02, size, rest) = read_tlv(content).ok_or_else(|| bad_value(oid))? else {
        return Err(bad_value(oid));
    };
    let (0x04, cookie, _) = read_tlv(rest).ok_or_else(|| bad_value(oid))? else {
        return Err(bad_value(oid));
    };
    let size = integer_value(size).ok_or_else(|| bad_value(oid))?;
    Ok(PagedRequest {
        size: u32::try_from(size.max(0)).unwrap_or(u32::MAX),
        cookie: Bytes::copy_from_slice(cookie),
    })
}

fn parse_sd_flags(oid: &str, value: Option<&[u8]>) -> Result<SecurityInformation, OpError> {
    let value = value.ok_or_else(|| bad_value(oid))?;
    let (0x30, content, _) = read_tlv(value).ok_or_else(|| bad_value(oid))? else {
        return Err(bad_value(oid));
    };
    let (0x02, flags, _) = read_tlv(content).ok_or_else(|| bad_value(oid))? else {
        return Err(bad_value(oid));
    };
    let flags = integer_value(flags).ok_or_else(|| bad_value(oid))?;
    // Only the four low bits count (MS-ADTS: the others are ignored).
    let parts = u32::try_from(flags & 0xF).unwrap_or_default();
    Ok(SecurityInformation::from_control_value(parts))
}

impl RequestControls {
    /// Parses a request's controls.
    pub fn parse(controls: Option<&[rasn_ldap::Control]>) -> Result<RequestControls, OpError> {
        let mut parsed = RequestControls::default();
        for control in controls.unwrap_or_default() {
            let oid = String::from_utf8_lossy(&control.control_type);
            let value = control.control_value.as_deref();
            match oid.as_ref() {
                PAGED_RESULTS => parsed.paged = Some(parse_paged(&oid, value)?),
                SD_FLAGS => parsed.sd_flags = Some(parse_sd_flags(&oid, value)?),
                TREE_DELETE => parsed.tree_delete = true,
                DOMAIN_SCOPE => parsed.domain_scope = true,
                PERMISSIVE_MODIFY => parsed.permissive_modify = true,
                SHOW_DELETED => parsed.show_deleted = true,
                MANAGE_DSA_IT | LAZY_COMMIT => {}
                other if control.criticality => {
                    return Err(OpError::new(
                        ResultCode::UNAVAILABLE_CRITICAL_EXTENSION,
                        format!("00000057: LdapErr: DSID-0C090FA8, comment: Error processing control, data 0, v4563: unsupported critical control {other}"),
                    ))
                }
                _ => {}
            }
        }
        Ok(parsed)
    }
}

/// The value of a paged results response control: `SEQUENCE { size INTEGER, cookie OCTET STRING }`.
pub fn paged_response_value(cookie: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(cookie.len() + 8);
    crate::codec::ber::write_constructed(&mut out, 0x30, |out| {
        crate::codec::ber::write_integer(out, 0x02, 0);
        crate::codec::ber::write_primitive(out, 0x04, cookie);
    });
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(oid: &str, critical: bool, value: Option<&[u8]>) -> rasn_ldap::Control {
        rasn_ldap::Control::new(oid.as_bytes().into(), critical, value.map(Into::into))
    }

    #[test]
    fn parses_known_controls() {
        let controls = [
            control(
                PAGED_RESULTS,
                true,
                Some(&[0x30, 0x06, 0x02, 0x02, 0x03, 0xe8, 0x04, 0x00]),
            ),
            control(SD_FLAGS, true, Some(&[0x30, 0x03, 0x02, 0x01, 0x04])),
            control(TREE_DELETE, true, None),
            control(DOMAIN_SCOPE, false, None),
        ];
        let parsed = RequestControls::parse(Some(&controls)).unwrap();
        assert_eq!(
            parsed.paged,
            Some(PagedRequest {
                size: 1000,
                cookie: Bytes::new()
            })
        );
        assert_eq!(parsed.sd_flags, Some(SecurityInformation::DACL));
        // A value without any of the four parts asks for all of them (MS-ADTS
        // 3.1.1.3.4.1.11); the simulator used to read it as "nothing".
        let none = [control(
            SD_FLAGS,
            true,
            Some(&[0x30, 0x03, 0x02, 0x01, 0x00]),
        )];
        assert_eq!(
            RequestControls::parse(Some(&none)).unwrap().sd_flags,
            Some(SecurityInformation::ALL)
        );
        assert!(parsed.tree_delete && parsed.domain_scope && !parsed.permissive_modify);
    }

    #[test]
    fn unknown_controls_follow_criticality() {
        let ignored = RequestControls::parse(Some(&[control("1.2.3.4", false, None)])).unwrap();
        assert_eq!(ignored, RequestControls::default());
        let refused = RequestControls::parse(Some(&[control("1.2.3.4", true, None)])).unwrap_err();
        assert_eq!(refused.code, ResultCode::UNAVAILABLE_CRITICAL_EXTENSION);
        let malformed =
            RequestControls::parse(Some(&[control(PAGED_RESULTS, false, Some(&[0x04, 0x00]))]))
                .unwrap_err();
        assert_eq!(malformed.code, ResultCode::PROTOCOL_ERROR);
    }
}
