//! A small BER writer for the messages the server sends.
//!
//! Responses are written by hand instead of through rasn because rasn's encoder sorts the
//! values of a `SET OF` (a DER rule), and AD's clients read meaning into the order of
//! attribute values. Lengths are minimal (short form below 128 bytes), as AD writes them.

use bytes::Bytes;

/// Appends a BER length in its minimal form.
pub fn write_length(out: &mut Vec<u8>, length: usize) {
    if length < 0x80 {
        out.push(length as u8);
        return;
    }
    let bytes = (length as u64).to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let significant = bytes.get(skip..).unwrap_or_default();
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

/// Appends a primitive element.
pub fn write_primitive(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    write_length(out, content.len());
    out.extend_from_slice(content);
}

/// Appends an INTEGER (or ENUMERATED, with its tag) in minimal two's complement.
pub fn write_integer(out: &mut Vec<u8>, tag: u8, value: i64) {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (Some(&b), Some(&next)) = (bytes.get(start), bytes.get(start + 1)) else {
            break;
        };
        let redundant = (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    write_primitive(out, tag, bytes.get(start..).unwrap_or_default());
}

/// Appends a BOOLEAN.
pub fn write_bool(out: &mut Vec<u8>, tag: u8, value: bool) {
    write_primitive(out, tag, &[if value { 0xff } else { 0x00 }]);
}

/// Appends a constructed element whose content `fill` writes. The length is patched in
/// afterwards; content of 128 bytes or more moves by the few extra length octets.
pub fn write_constructed(out: &mut Vec<u8>, tag: u8, fill: impl FnOnce(&mut Vec<u8>)) {
    out.push(tag);
    let length_at = out.len();
    out.push(0);
    fill(out);
    let length = out.len() - length_at - 1;
    if length < 0x80 {
        if let Some(slot) = out.get_mut(length_at) {
            *slot = length as u8;
        }
        return;
    }
    let mut header = Vec::with_capacity(5);
    write_length(&mut header, length);
    out.splice(length_at..length_at + 1, header);
}

/// A finished message.
pub fn into_bytes(out: Vec<u8>) -> Bytes {
    Bytes::from(out)
}

/// Reads one TLV from `input`: its tag, its content and what follows it. `None` when the
/// input is truncated or uses a length form LDAP does not allow.
pub fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let octets = (first & 0x7f) as usize;
        if octets == 0 || octets > 4 || rest.len() < octets {
            return None;
        }
        let (length_bytes, rest) = rest.split_at(octets);
        (
            length_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | b as usize),
            rest,
        )
    };
    if rest.len() < length {
        return None;
    }
    let (content, after) = rest.split_at(length);
    Some((tag, content, after))
}

/// Reads a non-negative INTEGER's content octets.
pub fn integer_value(content: &[u8]) -> Option<i64> {
    if content.is_empty() || content.len() > 8 {
        return None;
    }
    let negative = content.first().is_some_and(|b| b & 0x80 != 0);
    let start: i64 = if negative { -1 } else { 0 };
    Some(
        content
            .iter()
            .fold(start, |acc, &b| (acc << 8) | i64::from(b)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_minimal() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x02, 0x01, 0x00]),
            (127, &[0x02, 0x01, 0x7f]),
            (128, &[0x02, 0x02, 0x00, 0x80]),
            (256, &[0x02, 0x02, 0x01, 0x00]),
            (-1, &[0x02, 0x01, 0xff]),
            (-129, &[0x02, 0x02, 0xff, 0x7f]),
            (i32::MAX as i64, &[0x02, 0x04, 0x7f, 0xff, 0xff, 0xff]),
        ];
        for (value, expected) in cases {
            let mut out = Vec::new();
            write_integer(&mut out, 0x02, *value);
            assert_eq!(&out, expected, "{value}");
        }
    }

    #[test]
    fn long_content_gets_a_long_length() {
        let mut out = Vec::new();
        write_constructed(&mut out, 0x30, |out| {
            write_primitive(out, 0x04, &[7u8; 300])
        });
        assert_eq!(&out[..8], &[0x30, 0x82, 0x01, 0x30, 0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(out.len(), 4 + 4 + 300);
    }
}
