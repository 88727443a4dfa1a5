//! A hand decoder for modify requests that use RFC 4525's `increment` operation (3), which
//! rasn-ldap 0.30's `ChangeOperation` does not know, so its decoder refuses the whole message.
//! Used only as the fallback for a modify request rasn could not decode.

use bytes::Bytes;

use super::ber::{integer_value, read_tlv};
use crate::request::{Modification, ModificationKind};

/// A modify request read by hand: message id, target DN text, changes, controls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawModify {
    pub message_id: u32,
    pub object: String,
    pub changes: Vec<Modification>,
    pub controls: Vec<rasn_ldap::Control>,
}

fn elements(mut content: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (tag, value, rest) = read_tlv(content)?;
        out.push((tag, value));
        content = rest;
    }
    Some(out)
}

fn control(content: &[u8]) -> Option<rasn_ldap::Control> {
    let parts = elements(content)?;
    let (0x04, oid) = *parts.first()? else {
        return None;
    };
    let mut critical = false;
    let mut value = None;
    for &(tag, part) in parts.get(1..)? {
        match tag {
            0x01 => critical = part.first().is_some_and(|b| *b != 0),
            0x04 => value = Some(part.into()),
            _ => return None,
        }
    }
    Some(rasn_ldap::Control::new(oid.into(), critical, value))
}

/// Reads a modify request whose operations may include `increment`; `None` when the message
/// is not a well-formed modify request.
pub fn decode_modify(message: &[u8]) -> Option<RawModify> {
    let (0x30, body, _) = read_tlv(message)? else {
        return None;
    };
    let parts = elements(body)?;
    let (0x02, id) = *parts.first()? else {
        return None;
    };
    let message_id = u32::try_from(integer_value(id)?).ok()?;
    let (0x66, request) = *parts.get(1)? else {
        return None;
    };
    let mut controls = Vec::new();
    if let Some(&(0xa0, list)) = parts.get(2) {
        for (tag, content) in elements(list)? {
            if tag != 0x30 {
                return None;
            }
            controls.push(control(content)?);
        }
    }
    let request = elements(request)?;
    let (0x04, object) = *request.first()? else {
        return None;
    };
    let (0x30, changes_list) = *request.get(1)? else {
        return None;
    };
    let mut changes = Vec::new();
    for (tag, change) in elements(changes_list)? {
        if tag != 0x30 {
            return None;
        }
        let change = elements(change)?;
        let (0x0a, operation) = *change.first()? else {
            return None;
        };
        let kind = match integer_value(operation)? {
            0 => ModificationKind::Add,
            1 => ModificationKind::Delete,
            2 => ModificationKind::Replace,
            3 => ModificationKind::Increment,
            _ => return None,
        };
        let (0x30, modification) = *change.get(1)? else {
            return None;
        };
        let modification = elements(modification)?;
        let (0x04, attribute) = *modification.first()? else {
            return None;
        };
        let (0x31, values) = *modification.get(1)? else {
            return None;
        };
        let mut parsed = Vec::new();
        for (tag, value) in elements(values)? {
            if tag != 0x04 {
                return None;
            }
            parsed.push(Bytes::copy_from_slice(value));
        }
        changes.push(Modification {
            kind,
            attribute: String::from_utf8(attribute.to_vec()).ok()?,
            values: parsed,
        });
    }
    Some(RawModify {
        message_id,
        object: String::from_utf8(object.to_vec()).ok()?,
        changes,
        controls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_increment() {
        // id 4, modify "CN=a" { increment "x" by "5" }, with a critical permissive modify control
        let message = [
            0x30, 0x3c, 0x02, 0x01, 0x04, 0x66, 0x17, 0x04, 0x04, b'C', b'N', b'=', b'a', 0x30,
            0x0f, 0x30, 0x0d, 0x0a, 0x01, 0x03, 0x30, 0x08, 0x04, 0x01, b'x', 0x31, 0x03, 0x04,
            0x01, b'5', 0xa0, 0x1e, 0x30, 0x1c, 0x04, 0x17, b'1', b'.', b'2', b'.', b'8', b'4',
            b'0', b'.', b'1', b'1', b'3', b'5', b'5', b'6', b'.', b'1', b'.', b'4', b'.', b'1',
            b'4', b'1', b'3', 0x01, 0x01, 0xff,
        ];
        let decoded = decode_modify(&message).expect("decodes");
        assert_eq!(decoded.message_id, 4);
        assert_eq!(decoded.object, "CN=a");
        assert_eq!(
            decoded.changes,
            vec![Modification {
                kind: ModificationKind::Increment,
                attribute: "x".into(),
                values: vec![Bytes::from_static(b"5")]
            }]
        );
        assert_eq!(decoded.controls.len(), 1);
        assert!(decoded.controls[0].criticality);
        assert_eq!(decode_modify(&message[..20]), None);
    }
}
