//! GUIDs as Active Directory stores and prints them.
//!
//! A [`Guid`] is 128 bits held in *text order*: the value `from_u128(0x0011_2233_...)` prints as
//! `00112233-4455-6677-8899-aabbccddeeff`. AD stores GUIDs (`objectGUID`, `msDS-DeviceID`,
//! `schemaIDGUID`, the object-type fields of ACEs) in the layout of .NET `Guid.ToByteArray`: the
//! first three fields little-endian, the last eight bytes as written. [`Guid::from_ad_bytes`] and
//! [`Guid::to_ad_bytes`] convert between the two; nothing else in devwb should shuffle GUID bytes.
//!
//! Parsing accepts any case and optional surrounding braces (`{...}`); formatting is always
//! lowercase without braces. Serde uses the text form.
//!
//! This module does not generate GUIDs: id sources are injected by the callers that need them.

use std::fmt;
use std::str::FromStr;

/// A 128-bit GUID, compared and ordered in text order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Guid(u128);

/// Why a GUID could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuidError {
    /// The text is not `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (braces optional).
    #[error("invalid GUID {input:?}: {reason}")]
    InvalidText {
        /// The offending text, shortened to 80 characters.
        input: String,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// A binary GUID was not exactly 16 bytes long.
    #[error("a binary GUID is 16 bytes, got {len}")]
    WrongLength {
        /// The length that was given.
        len: usize,
    },
}

/// Shortens untrusted input before it goes into an error message.
pub(crate) fn shorten(input: &str) -> String {
    const MAX: usize = 80;
    if input.chars().count() <= MAX {
        input.to_owned()
    } else {
        let mut short: String = input.chars().take(MAX).collect();
        short.push('…');
        short
    }
}

impl Guid {
    /// The all-zero GUID.
    pub const NIL: Guid = Guid(0);

    /// The GUID whose text form is the 32 hex digits of `value`, most significant first.
    pub const fn from_u128(value: u128) -> Guid {
        Guid(value)
    }

    /// The value in text order (see [`Guid::from_u128`]).
    pub const fn as_u128(&self) -> u128 {
        self.0
    }

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in any case, optionally inside braces.
    pub fn parse(text: &str) -> Result<Guid, GuidError> {
        let invalid = |reason| GuidError::InvalidText {
            input: shorten(text),
            reason,
        };
        let inner = match (text.strip_prefix('{'), text.strip_suffix('}')) {
            (Some(_), Some(_)) if text.len() >= 2 => &text[1..text.len() - 1],
            (None, None) => text,
            _ => return Err(invalid("unbalanced braces")),
        };
        let bytes = inner.as_bytes();
        if bytes.len() != 36 {
            return Err(invalid("expected 36 characters (8-4-4-4-12 hex digits)"));
        }
        let mut value: u128 = 0;
        for (index, &byte) in bytes.iter().enumerate() {
            if matches!(index, 8 | 13 | 18 | 23) {
                if byte != b'-' {
                    return Err(invalid("expected '-' after 8, 12, 16 and 20 hex digits"));
                }
                continue;
            }
            let digit = match byte {
                b'0'..=b'9' => byte - b'0',
                b'a'..=b'f' => byte - b'a' + 10,
                b'A'..=b'F' => byte - b'A' + 10,
                _ => return Err(invalid("not a hex digit")),
            };
            value = (value << 4) | u128::from(digit);
        }
        Ok(Guid(value))
    }

    /// Reads the 16-byte AD layout (`objectGUID`, `msDS-DeviceID`, .NET `Guid.ToByteArray`).
    pub fn from_ad_bytes(bytes: &[u8]) -> Result<Guid, GuidError> {
        let array: [u8; 16] = bytes
            .try_into()
            .map_err(|_| GuidError::WrongLength { len: bytes.len() })?;
        Ok(Guid::from_ad_array(array))
    }

    /// Reads the 16-byte AD layout from an array (cannot fail).
    pub fn from_ad_array(b: [u8; 16]) -> Guid {
        let text_order = [
            b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13],
            b[14], b[15],
        ];
        Guid(u128::from_be_bytes(text_order))
    }

    /// The 16-byte AD layout: first three fields little-endian, the rest as written.
    pub fn to_ad_bytes(&self) -> [u8; 16] {
        let t = self.0.to_be_bytes();
        [
            t[3], t[2], t[1], t[0], t[5], t[4], t[7], t[6], t[8], t[9], t[10], t[11], t[12], t[13],
            t[14], t[15],
        ]
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // By hand rather than with five `{:0Nx}`: every device's DN holds its id, and the
        // formatting machinery cost more than the rest of building the DN.
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [b'-'; 36];
        let mut shift = 128;
        for (at, slot) in text.iter_mut().enumerate() {
            if !matches!(at, 8 | 13 | 18 | 23) {
                shift -= 4;
                *slot = HEX[((self.0 >> shift) & 0xf) as usize];
            }
        }
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

impl FromStr for Guid {
    type Err = GuidError;
    fn from_str(text: &str) -> Result<Guid, GuidError> {
        Guid::parse(text)
    }
}

impl serde::Serialize for Guid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Guid {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Guid, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Guid::parse(&text).map_err(serde::de::Error::custom)
    }
}
