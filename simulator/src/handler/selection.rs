//! Attribute selection as a Windows DC does it: which attributes of an entry a search returns,
//! under which names, and which requests a DC refuses.
//!
//! - An empty list and `*` return every stored attribute the caller may read, but neither
//!   `nTSecurityDescriptor` (unless the SD flags control is present or it is named) nor any
//!   constructed attribute.
//! - `+` (RFC 3673) is not supported: AD advertises no `supportedFeatures` and treats `+` as
//!   an attribute name it does not know, so `+` alone returns no attributes and `* +` is `*`.
//! - `1.1` is a name no attribute has: alone it returns no attributes; with other names it
//!   changes nothing (RFC 4511 4.5.1.8).
//! - Constructed attributes come back only when named, with or without `*`.
//! - Names match case-insensitively, by lDAPDisplayName or OID, and come back as the schema
//!   spells them (`SAMACCOUNTNAME` returns `sAMAccountName`). A name asked for twice is
//!   returned once; names the schema and the entry do not know are ignored.
//! - Some constructed attributes are computed for one object at a time only: `tokenGroups`
//!   and its variants, and those with `fBASEONLY` in `searchFlags`. A search of any other
//!   scope that names one fails with operationsError `00002120` (ERROR_DS_NON_BASE_SEARCH).
//!
//! What it deliberately does not do: access checks, SD flags and the global catalog's
//! partial attribute set are applied by the search that projects the entry (`search`).
//! Of AD's constructed attributes it computes those a client of this simulator reads (see
//! [`constructed`]); the others are returned as absent.

use std::sync::Arc;

use bytes::Bytes;
use devwb_model::{Dn, Sid};

use crate::error::{OpError, ResultCode};
use crate::schema::Schema;
use crate::store::Entry;

/// A well-formed `;range=low-high` option (`high` `None` for `*`). The numbers are the
/// client's: any value a 64-bit integer holds, so no arithmetic on them may overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ValueRange {
    pub(super) low: u64,
    pub(super) high: Option<u64>,
}

/// What the options of one requested attribute description say about value ranges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RangeOption {
    /// No `range=` option.
    None,
    /// A well-formed one.
    Valid(ValueRange),
    /// `range=` followed by something that is not `<digits>-<digits>` or `<digits>-*`: the
    /// attribute description is then not one the directory knows, and, as for any unknown
    /// attribute description in a search's attribute list, nothing is returned for it.
    Malformed,
}

/// Parses one option of an attribute description (`range=0-1499`, `Range=10-*`, any case).
/// Digits beyond what 64 bits hold saturate: `range=0-99999999999999999999999` asks for
/// every value, as `range=0-*` does, rather than being an error.
fn parse_range(option: &str) -> RangeOption {
    let Some(range) = option
        .get(..6)
        .filter(|prefix| prefix.eq_ignore_ascii_case("range="))
        .and_then(|_| option.get(6..))
    else {
        return RangeOption::None;
    };
    let number = |text: &str| -> Option<u64> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(text.bytes().fold(0u64, |acc, digit| {
            acc.saturating_mul(10)
                .saturating_add(u64::from(digit - b'0'))
        }))
    };
    let Some((low, high)) = range.split_once('-') else {
        return RangeOption::Malformed;
    };
    let Some(low) = number(low) else {
        return RangeOption::Malformed;
    };
    let high = if high == "*" {
        None
    } else {
        match number(high) {
            Some(high) => Some(high),
            None => return RangeOption::Malformed,
        }
    };
    RangeOption::Valid(ValueRange { low, high })
}

/// Which values of an attribute with `total` values a read returns, and the range option of
/// the returned attribute description: `Some((window, None))` for all values under their plain
/// name, `Some((window, Some("low-high")))` for a ranged answer, `None` when no value is in
/// the window (a reversed range such as `5-2`, or a low bound past the last value): the
/// attribute is then left out of the entry.
///
/// Without a range, an attribute with more than `limit` values (AD's MaxValRange) comes back
/// as `name;range=0-<limit - 1>`; with one, at most `limit` values from `low` on. The high
/// bound shown is `*` when the window reaches the last value.
pub(super) fn value_window(
    total: usize,
    range: Option<ValueRange>,
    limit: usize,
) -> Option<(std::ops::Range<usize>, Option<String>)> {
    let limit = limit.max(1);
    let range = match range {
        Some(range) => range,
        None if total > limit => ValueRange { low: 0, high: None },
        None => return Some((0..total, None)),
    };
    if range.high.is_some_and(|high| high < range.low) {
        return None;
    }
    // Client numbers become indexes by saturating: past the end is past the end.
    let start = usize::try_from(range.low).unwrap_or(usize::MAX).min(total);
    let requested_end = range.high.map_or(total, |high| {
        usize::try_from(high)
            .unwrap_or(usize::MAX)
            .saturating_add(1)
            .min(total)
    });
    let end = requested_end.min(start.saturating_add(limit));
    if start >= end {
        return None;
    }
    let shown_high = if end >= total {
        "*".to_string()
    } else {
        (end - 1).to_string()
    };
    Some((start..end, Some(format!("{}-{shown_high}", range.low))))
}

/// One attribute named in a search request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Requested {
    /// The name as the schema spells it (its lDAPDisplayName, also when asked for by OID), or
    /// as the client spelled it when the schema does not know it (rootDSE attributes).
    pub(super) name: String,
    /// A `;range=` option.
    pub(super) range: Option<ValueRange>,
}

/// Which attributes a search returns.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Selection {
    /// `*` or an empty list: every stored attribute.
    pub(super) all_user: bool,
    /// The attributes named, each once, in the order asked.
    pub(super) names: Vec<Requested>,
}

impl Selection {
    /// The selection an attribute list asks for, its names resolved in `schema`.
    pub(super) fn parse(attributes: &[rasn_ldap::LdapString], schema: &Schema) -> Selection {
        let mut selection = Selection {
            all_user: attributes.is_empty(),
            names: Vec::new(),
        };
        for requested in attributes {
            let requested = requested.as_str().trim();
            if requested == "*" {
                selection.all_user = true;
                continue;
            }
            let mut parts = requested.split(';');
            let base = parts.next().unwrap_or_default();
            // `+` and `1.1` are no attribute's name: like any unknown name, they select nothing.
            if base.is_empty() || base == "+" || base == "1.1" {
                continue;
            }
            let mut range = None;
            let mut malformed = false;
            for option in parts {
                match parse_range(option) {
                    RangeOption::None => {}
                    RangeOption::Valid(valid) => range = Some(valid),
                    RangeOption::Malformed => malformed = true,
                }
            }
            // An attribute description the directory does not know returns nothing.
            if malformed {
                continue;
            }
            let name = schema.canonical_attribute_name(base).to_string();
            if selection
                .names
                .iter()
                .any(|seen| seen.name.eq_ignore_ascii_case(&name))
            {
                continue; // asked for twice: returned once, as first asked
            }
            selection.names.push(Requested { name, range });
        }
        selection
    }

    /// Whether `name` (any case) is one of the attributes named.
    pub(super) fn names_attribute(&self, name: &str) -> bool {
        self.names
            .iter()
            .any(|requested| requested.name.eq_ignore_ascii_case(name))
    }

    /// Whether `name` is named with a range option (its values then come from that request).
    pub(super) fn names_ranged(&self, name: &str) -> bool {
        self.names
            .iter()
            .any(|requested| requested.range.is_some() && requested.name.eq_ignore_ascii_case(name))
    }

    /// The error of a search of a scope other than base that names an attribute AD computes
    /// for one object at a time (see [`is_base_only`]).
    pub(super) fn check_scope(&self, schema: &Schema, base_scope: bool) -> Result<(), OpError> {
        if base_scope {
            return Ok(());
        }
        match self
            .names
            .iter()
            .find(|requested| is_base_only(schema, &requested.name))
        {
            Some(requested) => {
                tracing::debug!(attribute = %requested.name, "base-only attribute in a non-base search");
                Err(non_base_search())
            }
            None => Ok(()),
        }
    }
}

/// `tokenGroups` and its variants: AD computes them for a base search only (they carry no
/// `fBASEONLY` flag but are refused the same way).
const TOKEN_GROUPS: &[&str] = &[
    "tokenGroups",
    "tokenGroupsNoGCAcceptable",
    "tokenGroupsGlobalAndUniversal",
];

/// `searchFlags` bit fBASEONLY: returned by base searches only (MS-ADTS 2.2.9).
const FLAG_BASE_ONLY: u32 = 0x800;

/// Whether AD returns `name` from base searches only: the token groups, and every attribute
/// whose `searchFlags` has fBASEONLY (`msds-memberOfTransitive`, `msds-tokenGroupNames`...).
fn is_base_only(schema: &Schema, name: &str) -> bool {
    TOKEN_GROUPS.iter().any(|t| t.eq_ignore_ascii_case(name))
        || schema
            .attribute(name)
            .is_some_and(|definition| definition.search_flags & FLAG_BASE_ONLY != 0)
}

/// ERROR_DS_NON_BASE_SEARCH as a Windows DC words it.
fn non_base_search() -> OpError {
    OpError::new(
        ResultCode::OPERATIONS_ERROR,
        "00002120: SvcErr: DSID-03140293, problem 5012 (DIR_ERROR), data 0\n\0",
    )
}

/// What [`constructed`] needs beyond the entry.
pub(super) struct ConstructedContext<'a> {
    pub(super) schema: &'a Schema,
    /// `CN=Aggregate,<schema NC>`.
    pub(super) subschema: &'a Dn,
    /// The entry's parent, for `parentGUID`; looked up only when asked for.
    pub(super) parent: &'a dyn Fn() -> Option<Arc<Entry>>,
    /// The SIDs of the groups the entry is a member of, transitively, its primary group
    /// included (for the token groups); computed only when asked for.
    pub(super) token_groups: &'a dyn Fn() -> Vec<Sid>,
}

/// The values of the constructed attribute `name` (the schema's spelling) on `entry`, or
/// `None` when it has none there or the simulator does not compute it.
pub(super) fn constructed(
    entry: &Entry,
    name: &str,
    context: &ConstructedContext<'_>,
) -> Option<Vec<Bytes>> {
    let is = |candidate: &str| name.eq_ignore_ascii_case(candidate);
    let values: Vec<Bytes> = if is("createTimeStamp") {
        entry.attrs.values("whenCreated").to_vec()
    } else if is("modifyTimeStamp") {
        entry.attrs.values("whenChanged").to_vec()
    } else if is("canonicalName") {
        vec![Bytes::from(canonical_name(&entry.dn))]
    } else if is("structuralObjectClass") {
        structural_object_class(entry, context.schema)
    } else if is("subSchemaSubEntry") {
        vec![Bytes::from(context.subschema.to_string())]
    } else if is("parentGUID") {
        // An NC head has none (instanceType bit 1, IT_NC_HEAD).
        let head = entry
            .attrs
            .first_str("instanceType")
            .and_then(|v| v.parse::<u32>().ok())
            .is_some_and(|t| t & 1 != 0);
        match (context.parent)() {
            Some(parent) if !head => parent.attrs.values("objectGUID").to_vec(),
            _ => Vec::new(),
        }
    } else if is("primaryGroupToken") {
        // The RID of a group's SID: the value its members' primaryGroupID names it by.
        if entry.is_a("group") {
            entry
                .attrs
                .values("objectSid")
                .first()
                .and_then(|v| Sid::from_bytes(v).ok())
                .and_then(|sid| sid.rid())
                .map(|rid| Bytes::from(rid.to_string()))
                .into_iter()
                .collect()
        } else {
            Vec::new()
        }
    } else if is("msDS-User-Account-Control-Computed") {
        account_flags(entry)
            .map(|(_, computed)| Bytes::from(computed.to_string()))
            .into_iter()
            .collect()
    } else if is("msDS-UserPasswordExpiryTimeComputed") {
        password_expiry(entry)
            .map(|expiry| Bytes::from(expiry.to_string()))
            .into_iter()
            .collect()
    } else if is("tokenGroups") || is("tokenGroupsNoGCAcceptable") {
        if entry.attrs.contains("objectSid") && entry.attrs.contains("primaryGroupID") {
            (context.token_groups)()
                .into_iter()
                .map(|sid| Bytes::from(sid.to_bytes()))
                .collect()
        } else {
            Vec::new()
        }
    } else {
        return None;
    };
    (!values.is_empty()).then_some(values)
}

/// userAccountControl bits the computed attributes read (MS-ADTS 2.2.16).
const UF_DONT_EXPIRE_PASSWD: i64 = 0x1_0000;
const UF_PASSWORD_EXPIRED: i64 = 0x80_0000;
const UF_ACCOUNT_TRUST: i64 = 0x800 | 0x1000 | 0x2000; // interdomain, workstation, server

/// A domain's default `maxPwdAge`, 42 days, in 100-nanosecond intervals.
const DEFAULT_MAX_PASSWORD_AGE: i64 = 42 * 24 * 3600 * 10_000_000;

/// An account's `userAccountControl` and its computed flags (`msDS-User-Account-Control-
/// Computed`): UF_PASSWORD_EXPIRED when the password must be changed (`pwdLastSet` 0) and may
/// expire. Lockout is not modelled, so UF_LOCKOUT never shows.
fn account_flags(entry: &Entry) -> Option<(i64, i64)> {
    let control = entry
        .attrs
        .first_str("userAccountControl")?
        .parse::<i64>()
        .ok()?;
    let password_set = entry
        .attrs
        .first_str("pwdLastSet")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    let may_expire = control & (UF_DONT_EXPIRE_PASSWD | UF_ACCOUNT_TRUST) == 0;
    let computed = if may_expire && password_set == 0 {
        UF_PASSWORD_EXPIRED
    } else {
        0
    };
    Some((control, computed))
}

/// When an account's password expires (`msDS-UserPasswordExpiryTimeComputed`): `pwdLastSet`
/// plus the domain's default maximum age, 0 when it must be changed now, never
/// (`0x7FFFFFFFFFFFFFFF`) when it does not expire. Fine-grained password policies are not
/// modelled.
fn password_expiry(entry: &Entry) -> Option<i64> {
    let (control, _) = account_flags(entry)?;
    let password_set = entry
        .attrs
        .first_str("pwdLastSet")
        .and_then(|v| v.parse::<i64>().ok())?;
    Some(
        if control & (UF_DONT_EXPIRE_PASSWD | UF_ACCOUNT_TRUST) != 0 {
            i64::MAX
        } else if password_set == 0 {
            0
        } else {
            password_set.saturating_add(DEFAULT_MAX_PASSWORD_AGE)
        },
    )
}

/// `domain.dns.name/path/below/it`, AD's canonical name of a DN.
fn canonical_name(dn: &Dn) -> String {
    let mut domain = Vec::new();
    let mut path = Vec::new();
    for rdn in dn.rdns().iter().rev() {
        if rdn.attr().eq_ignore_ascii_case("DC") && path.is_empty() {
            domain.push(rdn.value().to_string());
        } else {
            path.push(rdn.value().to_string());
        }
    }
    domain.reverse();
    format!("{}/{}", domain.join("."), path.join("/"))
}

/// The superclass chain of the entry's most specific structural class, `top` first, without
/// auxiliary classes (MS-ADTS 3.1.1.4.5.x structuralObjectClass).
fn structural_object_class(entry: &Entry, schema: &Schema) -> Vec<Bytes> {
    let Some(class) = schema.structural_class(entry) else {
        return Vec::new();
    };
    schema
        .chain(class)
        .into_iter()
        .map(|class| Bytes::from(class.name.clone()))
        .collect()
}

#[cfg(test)]
mod tests;
