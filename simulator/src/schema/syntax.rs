//! Attribute syntaxes (MS-ADTS 3.1.1.2.2.2: `attributeSyntax` + `oMSyntax`) and the check of
//! one value against its attribute's syntax and range.
//!
//! The check answers what AD answers: a value that is not of the syntax is
//! `invalidAttributeSyntax`, a value of the syntax outside `rangeLower`..`rangeUpper` is
//! `constraintViolation`. Ranges count bytes for octet strings, characters for strings and
//! the value itself for integers. Whether a DN value names an existing object is checked by
//! the caller, which can see the directory.

use devwb_model::sd::SecurityDescriptor;
use devwb_model::{Dn, Sid};

/// The syntaxes AD defines, by `attributeSyntax` (and `oMSyntax` where one attributeSyntax
/// covers several).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// 2.5.5.8: `TRUE` or `FALSE`.
    Boolean,
    /// 2.5.5.9: a 32-bit signed integer (also enumerations, oMSyntax 10).
    Integer,
    /// 2.5.5.16: a 64-bit signed integer.
    LargeInteger,
    /// 2.5.5.10: bytes.
    OctetString,
    /// 2.5.5.17: a binary SID.
    Sid,
    /// 2.5.5.15: a binary self-relative security descriptor.
    SecurityDescriptor,
    /// 2.5.5.1: a DN.
    Dn,
    /// 2.5.5.7 and 2.5.5.14: DN-Binary / DN-String (`B:<n>:<hex>:<dn>`, `S:<n>:<text>:<dn>`) and
    /// OR-Name / Access-Point: checked as non-empty text.
    DnWithData,
    /// 2.5.5.2: an OID, or an lDAPDisplayName where AD accepts one (objectClass).
    Oid,
    /// 2.5.5.12: a Unicode string.
    Unicode,
    /// 2.5.5.3 and 2.5.5.4: case-exact and case-ignore strings (teletex).
    String,
    /// 2.5.5.5: printable or IA5 string.
    Printable,
    /// 2.5.5.6: digits and spaces.
    Numeric,
    /// 2.5.5.11: GeneralizedTime (oMSyntax 24) or UTCTime (oMSyntax 23).
    Time { utc: bool },
    /// 2.5.5.13: presentation address, anything else: checked as non-empty bytes.
    Other,
}

impl Syntax {
    /// The syntax of an `attributeSyntax` / `oMSyntax` pair.
    pub fn from_schema(attribute_syntax: &str, om_syntax: u32) -> Syntax {
        match attribute_syntax {
            "2.5.5.8" => Syntax::Boolean,
            "2.5.5.9" => Syntax::Integer,
            "2.5.5.16" => Syntax::LargeInteger,
            "2.5.5.10" => Syntax::OctetString,
            "2.5.5.17" => Syntax::Sid,
            "2.5.5.15" => Syntax::SecurityDescriptor,
            "2.5.5.1" => Syntax::Dn,
            "2.5.5.7" | "2.5.5.14" => Syntax::DnWithData,
            "2.5.5.2" => Syntax::Oid,
            "2.5.5.12" => Syntax::Unicode,
            "2.5.5.3" | "2.5.5.4" => Syntax::String,
            "2.5.5.5" => Syntax::Printable,
            "2.5.5.6" => Syntax::Numeric,
            "2.5.5.11" => Syntax::Time {
                utc: om_syntax == 23,
            },
            _ => Syntax::Other,
        }
    }

    /// Whether values compare as bytes (octet strings, SIDs, descriptors) rather than
    /// case-insensitively as text.
    pub fn is_binary(self) -> bool {
        matches!(
            self,
            Syntax::OctetString | Syntax::Sid | Syntax::SecurityDescriptor
        )
    }
}

/// Why a value was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueProblem {
    /// Not a value of the syntax: `invalidAttributeSyntax`.
    Syntax(String),
    /// Of the syntax but outside the attribute's range: `constraintViolation`.
    Range(String),
}

/// Checks `value` against `syntax` and the optional `rangeLower` / `rangeUpper`.
pub fn check_value(
    syntax: Syntax,
    value: &[u8],
    lower: Option<i64>,
    upper: Option<i64>,
) -> Result<(), ValueProblem> {
    let in_range = |measure: i64, what: &str| -> Result<(), ValueProblem> {
        if lower.is_some_and(|l| measure < l) || upper.is_some_and(|u| measure > u) {
            return Err(ValueProblem::Range(format!(
                "{what} {measure} is outside {}..{}",
                lower.map_or_else(String::new, |l| l.to_string()),
                upper.map_or_else(String::new, |u| u.to_string())
            )));
        }
        Ok(())
    };
    let text = || {
        std::str::from_utf8(value).map_err(|_| ValueProblem::Syntax("not UTF-8 text".to_string()))
    };
    match syntax {
        Syntax::Boolean => match value {
            b"TRUE" | b"FALSE" => Ok(()),
            _ => Err(ValueProblem::Syntax(
                "a Boolean is TRUE or FALSE".to_string(),
            )),
        },
        Syntax::Integer => {
            let number: i32 = parse_integer(text()?)?;
            in_range(i64::from(number), "value")
        }
        Syntax::LargeInteger => {
            let number: i64 = parse_integer(text()?)?;
            in_range(number, "value")
        }
        Syntax::OctetString | Syntax::Other => {
            let length = i64::try_from(value.len()).unwrap_or(i64::MAX);
            in_range(length, "length")
        }
        Syntax::Sid => {
            Sid::from_bytes(value)
                .map_err(|error| ValueProblem::Syntax(format!("not a binary SID: {error}")))?;
            let length = i64::try_from(value.len()).unwrap_or(i64::MAX);
            in_range(length, "length")
        }
        Syntax::SecurityDescriptor => SecurityDescriptor::from_bytes(value)
            .map(|_| ())
            .map_err(|error| ValueProblem::Syntax(format!("not a security descriptor: {error}"))),
        Syntax::Dn => {
            let text = text()?;
            Dn::parse(text).map_err(|error| ValueProblem::Syntax(format!("not a DN: {error}")))?;
            Ok(())
        }
        Syntax::DnWithData | Syntax::Oid => {
            if text()?.is_empty() {
                return Err(ValueProblem::Syntax("empty value".to_string()));
            }
            Ok(())
        }
        Syntax::Unicode | Syntax::String => {
            let text = text()?;
            if text.is_empty() {
                return Err(ValueProblem::Syntax("empty value".to_string()));
            }
            let length = i64::try_from(text.chars().count()).unwrap_or(i64::MAX);
            in_range(length, "length")
        }
        Syntax::Printable => {
            let text = text()?;
            if text.is_empty() || !text.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
                return Err(ValueProblem::Syntax("not a printable string".to_string()));
            }
            in_range(i64::try_from(text.len()).unwrap_or(i64::MAX), "length")
        }
        Syntax::Numeric => {
            let text = text()?;
            if text.is_empty() || !text.chars().all(|c| c.is_ascii_digit() || c == ' ') {
                return Err(ValueProblem::Syntax("not a numeric string".to_string()));
            }
            in_range(i64::try_from(text.len()).unwrap_or(i64::MAX), "length")
        }
        Syntax::Time { utc } => {
            if is_time(text()?, utc) {
                Ok(())
            } else {
                Err(ValueProblem::Syntax(if utc {
                    "not a UTCTime (YYMMDDHHMMSSZ)".to_string()
                } else {
                    "not a GeneralizedTime (YYYYMMDDHHMMSS.0Z)".to_string()
                }))
            }
        }
    }
}

fn parse_integer<T: std::str::FromStr>(text: &str) -> Result<T, ValueProblem> {
    // AD takes decimal digits with an optional minus sign; no plus sign, no spaces.
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueProblem::Syntax(format!("{text:?} is not an integer")));
    }
    text.parse()
        .map_err(|_| ValueProblem::Syntax(format!("{text:?} does not fit the integer syntax")))
}

fn is_time(text: &str, utc: bool) -> bool {
    let Some(body) = text.strip_suffix('Z') else {
        return false;
    };
    let (main, fraction) = match body.split_once('.') {
        Some((main, fraction)) => (main, Some(fraction)),
        None => (body, None),
    };
    let digits = if utc { 12 } else { 14 };
    let month_at = if utc { 2 } else { 4 };
    main.len() == digits
        && main.bytes().all(|b| b.is_ascii_digit())
        && fraction.is_none_or(|f| !utc && !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
        && main
            .get(month_at..month_at + 2)
            .and_then(|m| m.parse::<u8>().ok())
            .is_some_and(|m| (1..=12).contains(&m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(syntax: Syntax, value: &[u8], lower: Option<i64>, upper: Option<i64>) -> &'static str {
        match check_value(syntax, value, lower, upper) {
            Ok(()) => "ok",
            Err(ValueProblem::Syntax(_)) => "syntax",
            Err(ValueProblem::Range(_)) => "range",
        }
    }

    /// A syntax, a value, the range and the expected outcome.
    type Case<'a> = (Syntax, &'a [u8], Option<i64>, Option<i64>, &'a str);

    #[test]
    fn values_against_syntaxes() {
        let long = "é".repeat(256);
        let too_long = "é".repeat(257);
        let cases: &[Case<'_>] = &[
            (Syntax::Boolean, b"TRUE", None, None, "ok"),
            (Syntax::Boolean, b"FALSE", None, None, "ok"),
            (Syntax::Boolean, b"true", None, None, "syntax"),
            (Syntax::Boolean, b"1", None, None, "syntax"),
            (Syntax::Integer, b"-42", None, None, "ok"),
            (Syntax::Integer, b"4294967296", None, None, "syntax"),
            (Syntax::Integer, b"+1", None, None, "syntax"),
            (Syntax::Integer, b"12", Some(0), Some(10), "range"),
            (
                Syntax::LargeInteger,
                b"133000000000000000",
                None,
                None,
                "ok",
            ),
            (Syntax::LargeInteger, b"1.5", None, None, "syntax"),
            (Syntax::OctetString, &[0u8; 16], Some(16), Some(16), "ok"),
            (Syntax::OctetString, &[0u8; 15], Some(16), Some(16), "range"),
            (Syntax::OctetString, &[0u8; 17], Some(16), Some(16), "range"),
            (
                Syntax::Sid,
                &[1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0],
                None,
                None,
                "ok",
            ),
            (Syntax::Sid, &[1, 2, 3], None, None, "syntax"),
            (Syntax::Dn, b"CN=x,DC=contoso,DC=lab", None, None, "ok"),
            (Syntax::Dn, b"not a dn", None, None, "syntax"),
            (Syntax::Unicode, long.as_bytes(), Some(0), Some(256), "ok"),
            (
                Syntax::Unicode,
                too_long.as_bytes(),
                Some(0),
                Some(256),
                "range",
            ),
            (Syntax::Unicode, b"", None, None, "syntax"),
            (Syntax::Unicode, &[0xff, 0xfe], None, None, "syntax"),
            (
                Syntax::Time { utc: false },
                b"20261125003000.0Z",
                None,
                None,
                "ok",
            ),
            (
                Syntax::Time { utc: false },
                b"20261325003000.0Z",
                None,
                None,
                "syntax",
            ),
            (
                Syntax::Time { utc: true },
                b"261125003000Z",
                None,
                None,
                "ok",
            ),
            (Syntax::Numeric, b"12 34", None, None, "ok"),
            (Syntax::Numeric, b"12a", None, None, "syntax"),
        ];
        for (syntax, value, lower, upper, expected) in cases {
            assert_eq!(
                check(*syntax, value, *lower, *upper),
                *expected,
                "{syntax:?} {:?} {lower:?}..{upper:?}",
                String::from_utf8_lossy(value)
            );
        }
    }
}
