//! Writing attribute values as LDIF (RFC 2849) lines, for every LDIF devwb prints: prepare's
//! `--emit ldif` and writeback's dry-run plan.
//!
//! A value is written as text (`name: value`) only when it is an RFC 2849 SAFE-STRING: ASCII
//! without NUL, LF and CR, not starting with a space, `:` or `<`, and (as the RFC advises) not
//! ending with a space. Anything else, binary values and UTF-8 text included, is written as
//! `name:: base64`. So a value read from the directory can never end its line and add records
//! of its own to what `ldapmodify` applies.
//!
//! Lines are not folded: RFC 2849 allows long lines, and OpenLDAP's tools read them. This module
//! writes lines only; the records around them (`dn:`, `changetype:`, `-`, comments) are the
//! callers'. It does no IO: [`value_line`] is a [`fmt::Display`], written with `write!` into a
//! `String` or an `io::Write` alike.

use std::fmt;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;

/// Whether `value` can be written as it is after `name: ` (an RFC 2849 SAFE-STRING that does
/// not end with a space).
pub fn is_safe_string(value: &[u8]) -> bool {
    let Some(first) = value.first() else {
        return true;
    };
    !matches!(first, b' ' | b':' | b'<')
        && value.last() != Some(&b' ')
        && value
            .iter()
            .all(|&b| (0x01..=0x7F).contains(&b) && b != b'\n' && b != b'\r')
}

/// One attribute value as an LDIF line, without the line ending: `name: value` for a safe
/// string, `name:: base64` otherwise. Also right for the `dn` line (`dn:: ` when the DN's text
/// is not a safe string, a DN with an accented name for example).
pub fn value_line<'a>(name: &'a str, value: &'a [u8]) -> ValueLine<'a> {
    ValueLine { name, value }
}

/// See [`value_line`].
#[derive(Clone, Copy, Debug)]
pub struct ValueLine<'a> {
    name: &'a str,
    value: &'a [u8],
}

impl fmt::Display for ValueLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.value) {
            // A safe string is ASCII, so it is valid UTF-8: the check above never fails for it.
            Ok(text) if is_safe_string(self.value) => write!(f, "{}: {text}", self.name),
            _ => write!(
                f,
                "{}:: {}",
                self.name,
                Base64Display::new(self.value, &STANDARD)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: &[u8], expected: &str) {
        assert_eq!(value_line("a", value).to_string(), expected, "{value:?}");
    }

    #[test]
    fn safe_strings_as_text_everything_else_in_base64() {
        check(b"plain value", "a: plain value");
        check(b"", "a: ");
        check(b"x:y<z", "a: x:y<z");
        check(b" leading space", "a:: IGxlYWRpbmcgc3BhY2U=");
        check(b"trailing space ", "a:: dHJhaWxpbmcgc3BhY2Ug");
        check(b":colon", "a:: OmNvbG9u");
        check(b"<less", "a:: PGxlc3M=");
        check("caf\u{e9}".as_bytes(), "a:: Y2Fmw6k=");
        check(&[0x01, 0x00], "a:: AQA=");
        check(b"two\nlines", "a:: dHdvCmxpbmVz");
        check(b"cr\r", "a:: Y3IN");
        check(&[0xFF, 0xFE], "a:: //4=");
    }

    #[test]
    fn a_value_never_ends_its_line() {
        let hostile = b"CN=x\ndn: DC=contoso,DC=lab\nchangetype: delete";
        let line = value_line("msDS-DeviceLocation", hostile).to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.starts_with("msDS-DeviceLocation:: "), "{line}");
    }
}
