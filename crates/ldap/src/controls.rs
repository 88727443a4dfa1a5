//! The request controls ldap3 does not have, encoded by hand, and the paged-results response
//! decoded without panicking.
//!
//! Only the few BER shapes these controls use are written here (SEQUENCE, INTEGER, OCTET
//! STRING, definite lengths); this is not a general BER library. Golden-byte tests pin each
//! encoding.

use devwb_model::sd::SecurityInformation;
use ldap3::controls::RawControl;

use crate::error::{Error, Result};

/// OID of the paged results control (RFC 2696).
pub const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";
/// OID of AD's security descriptor flags control (MS-ADTS 3.1.1.3.4.1.11).
pub const SD_FLAGS_OID: &str = "1.2.840.113556.1.4.801";

/// The SD flags control asking for the descriptor's `parts` (the model's
/// [`SecurityInformation`], the one SD flags type the simulator reads too), sent critical so
/// that a server that ignores it fails instead of reading or writing more of the security
/// descriptor than asked. Never ask for the SACL by default: it needs SeSecurityPrivilege.
pub fn sd_flags_control(flags: SecurityInformation) -> RawControl {
    RawControl {
        ctype: SD_FLAGS_OID.to_string(),
        crit: true,
        val: Some(encode_sd_flags_value(flags)),
    }
}

/// `SEQUENCE { flags INTEGER }`.
pub fn encode_sd_flags_value(flags: SecurityInformation) -> Vec<u8> {
    let mut integer = Vec::new();
    write_integer(&mut integer, i64::from(flags.0));
    let mut out = Vec::new();
    write_tlv(&mut out, 0x30, &integer);
    out
}

/// The paged results request control: `SEQUENCE { size INTEGER, cookie OCTET STRING }`.
pub fn paged_results_control(page_size: u32, cookie: &[u8]) -> RawControl {
    RawControl {
        ctype: PAGED_RESULTS_OID.to_string(),
        crit: false,
        val: Some(encode_paged_value(page_size, cookie)),
    }
}

/// `SEQUENCE { size INTEGER, cookie OCTET STRING }`.
pub fn encode_paged_value(page_size: u32, cookie: &[u8]) -> Vec<u8> {
    let mut inner = Vec::new();
    write_integer(&mut inner, i64::from(page_size));
    write_tlv(&mut inner, 0x04, cookie);
    let mut out = Vec::new();
    write_tlv(&mut out, 0x30, &inner);
    out
}

/// Decodes the server's paged results response value into (estimated size, cookie).
pub fn decode_paged_value(value: &[u8]) -> Result<(i64, Vec<u8>)> {
    let mut reader = Reader {
        bytes: value,
        position: 0,
    };
    let sequence = reader.expect(0x30, "paged results value")?;
    let mut inner = Reader {
        bytes: sequence,
        position: 0,
    };
    let size_bytes = inner.expect(0x02, "paged results size")?;
    let size = decode_integer(size_bytes)
        .ok_or_else(|| Error::invalid_response("paged results size is not a valid INTEGER"))?;
    let cookie = inner.expect(0x04, "paged results cookie")?.to_vec();
    Ok((size, cookie))
}

fn write_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let length = content.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes = length.to_be_bytes();
        let first = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        let significant = &bytes[first..];
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
}

/// A minimal two's complement INTEGER.
fn write_integer(out: &mut Vec<u8>, value: i64) {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start < bytes.len() - 1 {
        let redundant_zero = bytes[start] == 0x00 && bytes[start + 1] & 0x80 == 0;
        let redundant_ones = bytes[start] == 0xFF && bytes[start + 1] & 0x80 != 0;
        if redundant_zero || redundant_ones {
            start += 1;
        } else {
            break;
        }
    }
    write_tlv(out, 0x02, &bytes[start..]);
}

fn decode_integer(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 8 {
        return None;
    }
    let negative = bytes[0] & 0x80 != 0;
    let mut value: i64 = if negative { -1 } else { 0 };
    for byte in bytes {
        value = (value << 8) | i64::from(*byte);
    }
    Some(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    /// Reads one TLV with the expected tag and returns its content.
    fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8]> {
        let truncated = || Error::invalid_response(format!("{what}: truncated BER"));
        let found = *self.bytes.get(self.position).ok_or_else(truncated)?;
        if found != tag {
            return Err(Error::invalid_response(format!(
                "{what}: expected tag 0x{tag:02x}, found 0x{found:02x}"
            )));
        }
        let first = *self.bytes.get(self.position + 1).ok_or_else(truncated)?;
        let mut cursor = self.position + 2;
        let length = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7F);
            if count == 0 || count > 4 {
                return Err(Error::invalid_response(format!(
                    "{what}: unsupported BER length form 0x{first:02x}"
                )));
            }
            let length_bytes = self
                .bytes
                .get(cursor..cursor + count)
                .ok_or_else(truncated)?;
            cursor += count;
            length_bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
        };
        let content = self
            .bytes
            .get(cursor..cursor + length)
            .ok_or_else(truncated)?;
        self.position = cursor + length;
        Ok(content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sd_flags_values_match_what_ad_tools_send() {
        // The bytes ldp.exe and the `-E 1.2.840.113556.1.4.801=::MAMCAQQ=` idiom send for DACL only.
        assert_eq!(
            encode_sd_flags_value(SecurityInformation::DACL),
            [0x30, 0x03, 0x02, 0x01, 0x04]
        );
        assert_eq!(
            encode_sd_flags_value(SecurityInformation::OWNER_GROUP_DACL),
            [0x30, 0x03, 0x02, 0x01, 0x07]
        );
        assert_eq!(
            encode_sd_flags_value(SecurityInformation::ALL),
            [0x30, 0x03, 0x02, 0x01, 0x0F]
        );
        // 0x80 needs a leading zero to stay positive.
        assert_eq!(
            encode_sd_flags_value(SecurityInformation(0x80)),
            [0x30, 0x04, 0x02, 0x02, 0x00, 0x80]
        );
        let control = sd_flags_control(SecurityInformation::DACL);
        assert_eq!(control.ctype, "1.2.840.113556.1.4.801");
        assert!(control.crit);
    }

    #[test]
    fn paged_request_golden_bytes() {
        assert_eq!(
            encode_paged_value(1000, b""),
            [0x30, 0x06, 0x02, 0x02, 0x03, 0xE8, 0x04, 0x00]
        );
        assert_eq!(
            encode_paged_value(5, b"ab"),
            [0x30, 0x07, 0x02, 0x01, 0x05, 0x04, 0x02, b'a', b'b']
        );
        let long_cookie = vec![7u8; 200];
        let encoded = encode_paged_value(1, &long_cookie);
        assert_eq!(&encoded[..3], &[0x30, 0x81, 0xCE]);
        assert_eq!(decode_paged_value(&encoded).unwrap(), (1, long_cookie));
    }

    #[test]
    fn paged_response_decodes_and_rejects_garbage() {
        assert_eq!(
            decode_paged_value(&[0x30, 0x05, 0x02, 0x01, 0x00, 0x04, 0x00]).unwrap(),
            (0, vec![])
        );
        assert_eq!(
            decode_paged_value(&[0x30, 0x08, 0x02, 0x01, 0xFF, 0x04, 0x03, 1, 2, 3]).unwrap(),
            (-1, vec![1, 2, 3])
        );
        for garbage in [
            &[][..],
            &[0x30],
            &[0x30, 0x05, 0x02],
            &[0x04, 0x00],
            &[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF],
        ] {
            let error = decode_paged_value(garbage).unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with("invalid response from the server: paged results"),
                "{error}"
            );
        }
    }
}
