//! Accounts: passwords written through `unicodePwd`, the token of a bound account, group
//! memberships, and the attributes AD gives a new user, group or computer.
//!
//! `unicodePwd` is written as AD takes it: the password in double quotes, UTF-16LE, over a
//! protected (TLS) connection. The password goes to the store's secret table (SIM1's
//! `Secret`), never into the entry, and the attribute is never returned. Passwords never
//! appear in logs or `Debug` output. Finding the account a bind name means (DN, UPN,
//! `DOMAIN\user`) is the forest's `find_account`.

use bytes::Bytes;
use devwb_model::sd::Token;
use devwb_model::{Dn, Sid};

use super::{Directory, DomainSids};
use crate::error::{OpError, ResultCode};
use crate::schema::diag;
use crate::store::entry::Entry;

/// The attribute holding the password.
pub const UNICODE_PWD: &str = "unicodePwd";

/// `userAccountControl` bits the simulator acts on.
pub mod uac {
    /// ACCOUNTDISABLE.
    pub const ACCOUNT_DISABLE: u32 = 0x2;
    /// PASSWD_NOTREQD.
    pub const PASSWORD_NOT_REQUIRED: u32 = 0x20;
    /// NORMAL_ACCOUNT.
    pub const NORMAL_ACCOUNT: u32 = 0x200;
    /// WORKSTATION_TRUST_ACCOUNT.
    pub const WORKSTATION_TRUST_ACCOUNT: u32 = 0x1000;
}

/// A password as a client sent it: kept out of logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The password's text, to hand to the secret store.
    pub fn into_inner(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(********)")
    }
}

/// Decodes a `unicodePwd` value as AD requires it: UTF-16LE of the password in double quotes.
pub fn decode_unicode_pwd(value: &[u8]) -> Result<Password, OpError> {
    let bad = || {
        diag::attribute_error(
            ResultCode::CONSTRAINT_VIOLATION,
            0x52D,
            (1005, "CONSTRAINT_ATT_TYPE"),
            UNICODE_PWD,
            "1.2.840.113556.1.4.90",
        )
    };
    if value.len() % 2 != 0 {
        return Err(bad());
    }
    let units: Vec<u16> = value
        .chunks_exact(2)
        .filter_map(|pair| <[u8; 2]>::try_from(pair).ok())
        .map(u16::from_le_bytes)
        .collect();
    let text = String::from_utf16(&units).map_err(|_| bad())?;
    let inner = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .ok_or_else(bad)?;
    Ok(Password(inner.to_string()))
}

/// AD's refusal of a password write over an unprotected connection.
pub fn password_needs_protection() -> OpError {
    OpError::new(
        ResultCode::UNWILLING_TO_PERFORM,
        "0000001F: SvcErr: DSID-031A126C, problem 5003 (WILL_NOT_PERFORM), data 0\n",
    )
}

/// The token of an account: its SID, its primary group, every group that has it as a
/// `member` (transitively, in any domain of the forest the directory holds), Authenticated
/// Users and Everyone.
pub fn token_for(directory: &dyn Directory, sids: &DomainSids, account: &Entry) -> Token {
    let sid_of = |entry: &Entry| {
        entry
            .attrs
            .get("objectSid")
            .and_then(|a| a.values.first())
            .and_then(|v| Sid::from_bytes(v).ok())
    };
    let user = sid_of(account).unwrap_or(Sid::ANONYMOUS);
    let mut groups: Vec<Sid> = Vec::new();
    if let Some(rid) = account
        .attrs
        .first_str("primaryGroupID")
        .and_then(|v| v.parse::<u32>().ok())
    {
        // The primary group is in the account's own domain (which, in a forest of several
        // domains, need not be the one whose descriptors `sids` names).
        let domain = sid_of(account)
            .and_then(|sid| sid.domain())
            .unwrap_or(sids.domain);
        groups.push(domain.with_rid(rid));
    }
    let mut seen: Vec<Dn> = vec![account.dn.clone()];
    let mut pending: Vec<Dn> = vec![account.dn.clone()];
    while let Some(member) = pending.pop() {
        for group in directory.entries_with("member", member.to_string().as_bytes()) {
            if seen.contains(&group.dn) {
                continue;
            }
            if let Some(sid) = sid_of(&group) {
                groups.push(sid);
            }
            seen.push(group.dn.clone());
            pending.push(group.dn);
        }
    }
    Token::authenticated(user, groups)
}

/// The DNs of the groups `account` is a direct member of (its `memberOf`, which AD computes
/// from the groups' `member` links).
pub fn member_of(directory: &dyn Directory, account: &Dn) -> Vec<Dn> {
    directory
        .entries_with("member", account.to_string().as_bytes())
        .into_iter()
        .map(|group| group.dn)
        .collect()
}

/// The attributes AD gives a new user or computer account, with their first values.
const ACCOUNT_COUNTERS: [(&str, &str); 9] = [
    ("accountExpires", "9223372036854775807"),
    ("badPasswordTime", "0"),
    ("badPwdCount", "0"),
    ("codePage", "0"),
    ("countryCode", "0"),
    ("lastLogoff", "0"),
    ("lastLogon", "0"),
    ("logonCount", "0"),
    ("pwdLastSet", "0"),
];

/// The attributes AD gives a new security principal it was not given: `sAMAccountName`
/// (generated), `userAccountControl` (546, a disabled normal account, for users created over
/// LDAP; 4096 for computers), `primaryGroupID` (513 Domain Users, 515 Domain Computers),
/// `sAMAccountType` and `groupType` (a global security group). `classes` are the new entry's
/// objectClass values, `rid` the RID its `objectSid` will have.
pub fn principal_defaults(entry: &mut Entry, classes: &[&str], rid: u32) {
    let is = |name: &str| classes.iter().any(|c| c.eq_ignore_ascii_case(name));
    let set_if_absent = |entry: &mut Entry, name: &str, value: String| {
        if !entry.attrs.contains(name) {
            entry.attrs.set(name, vec![Bytes::from(value)]);
        }
    };
    if is("group") {
        set_if_absent(entry, "sAMAccountName", format!("$DUPLICATE-{rid:x}"));
        set_if_absent(entry, "groupType", "-2147483646".to_string());
        let group_type: i64 = entry
            .attrs
            .first_str("groupType")
            .and_then(|v| v.parse().ok())
            .unwrap_or(-2147483646);
        // SAM_GROUP_OBJECT for security groups, SAM_NON_SECURITY_GROUP_OBJECT otherwise.
        let account_type = if group_type & 0x8000_0000 != 0 {
            268435456
        } else {
            268435457
        };
        set_if_absent(entry, "sAMAccountType", account_type.to_string());
    } else if is("user") {
        set_if_absent(entry, "sAMAccountName", format!("$DUPLICATE-{rid:x}"));
        if is("computer") {
            set_if_absent(
                entry,
                "userAccountControl",
                uac::WORKSTATION_TRUST_ACCOUNT.to_string(),
            );
            set_if_absent(entry, "primaryGroupID", "515".to_string());
            set_if_absent(entry, "sAMAccountType", "805306369".to_string());
        } else {
            set_if_absent(
                entry,
                "userAccountControl",
                (uac::NORMAL_ACCOUNT | uac::PASSWORD_NOT_REQUIRED | uac::ACCOUNT_DISABLE)
                    .to_string(),
            );
            set_if_absent(entry, "primaryGroupID", "513".to_string());
            set_if_absent(entry, "sAMAccountType", "805306368".to_string());
        }
        // What AD maintains on every account from its creation on: never expires, never
        // logged on, no bad password yet, no password set (a password in the add sets
        // `pwdLastSet` before this, see `Forest::stamp_new`).
        for (name, value) in ACCOUNT_COUNTERS {
            set_if_absent(entry, name, value.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::entry::Attributes;

    struct Entries(Vec<Entry>);

    impl Directory for Entries {
        fn entry(&self, dn: &Dn) -> Option<Entry> {
            self.0.iter().find(|e| e.dn == *dn).cloned()
        }
        fn entries_with(&self, attribute: &str, value: &[u8]) -> Vec<Entry> {
            let text = String::from_utf8_lossy(value).to_lowercase();
            self.0
                .iter()
                .filter(|e| {
                    e.attrs.get(attribute).is_some_and(|a| {
                        a.values.iter().any(|v| {
                            let v = String::from_utf8_lossy(v).to_lowercase();
                            v == text
                                || Dn::parse(&v)
                                    .ok()
                                    .zip(Dn::parse(&text).ok())
                                    .is_some_and(|(a, b)| a == b)
                        })
                    })
                })
                .cloned()
                .collect()
        }
    }

    fn account(dn: &str, attributes: &[(&str, Bytes)]) -> Entry {
        let mut attrs = Attributes::new();
        for (name, value) in attributes {
            attrs.set(name, vec![value.clone()]);
        }
        Entry {
            dn: Dn::parse(dn).expect("dn"),
            attrs,
        }
    }

    fn quoted_utf16(password: &str) -> Vec<u8> {
        format!("\"{password}\"")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    fn directory(sids: &DomainSids) -> Entries {
        let sid = |rid: u32| Bytes::from(sids.domain.with_rid(rid).to_bytes());
        Entries(vec![
            account(
                "CN=Ann,CN=Users,DC=contoso,DC=lab",
                &[
                    ("objectSid", sid(1105)),
                    ("primaryGroupID", Bytes::from_static(b"513")),
                ],
            ),
            account(
                "CN=Connectors,CN=Users,DC=contoso,DC=lab",
                &[
                    ("objectSid", sid(1200)),
                    (
                        "member",
                        Bytes::from_static(b"CN=Ann,CN=Users,DC=contoso,DC=lab"),
                    ),
                ],
            ),
            account(
                "CN=Outer,CN=Users,DC=contoso,DC=lab",
                &[
                    ("objectSid", sid(1201)),
                    (
                        "member",
                        Bytes::from_static(b"cn=connectors,cn=users,dc=contoso,dc=lab"),
                    ),
                ],
            ),
            account(
                "CN=Loop,CN=Users,DC=contoso,DC=lab",
                &[
                    ("objectSid", sid(1202)),
                    (
                        "member",
                        Bytes::from_static(b"CN=Outer,CN=Users,DC=contoso,DC=lab"),
                    ),
                ],
            ),
        ])
    }

    #[test]
    fn tokens_hold_transitive_groups_and_the_well_known_ones() {
        let sids = DomainSids::single(Sid::parse("S-1-5-21-1-2-3").expect("sid"));
        let mut directory = directory(&sids);
        // A membership cycle must not loop.
        if let Some(outer) = directory.0.get_mut(2) {
            outer.attrs.add_values(
                "member",
                [Bytes::from_static(b"CN=Loop,CN=Users,DC=contoso,DC=lab")],
            );
        }
        let ann = directory
            .entry(&Dn::parse("CN=Ann,CN=Users,DC=contoso,DC=lab").expect("dn"))
            .expect("ann");
        let token = token_for(&directory, &sids, &ann);
        assert_eq!(token.user(), Some(&sids.domain.with_rid(1105)));
        for group in [513, 1200, 1201, 1202] {
            assert!(
                token.contains(&sids.domain.with_rid(group)),
                "group {group}"
            );
        }
        assert!(token.contains(&Sid::AUTHENTICATED_USERS) && token.contains(&Sid::EVERYONE));
        let groups = member_of(&directory, &ann.dn);
        assert_eq!(
            groups,
            vec![Dn::parse("CN=Connectors,CN=Users,DC=contoso,DC=lab").expect("dn")]
        );
        assert_eq!(
            format!("{:?}", decode_unicode_pwd(&quoted_utf16("x")).expect("ok")),
            "Password(********)"
        );
    }

    #[test]
    fn unicode_pwd_must_be_quoted_utf16le() {
        assert!(decode_unicode_pwd(&quoted_utf16("Pa$$w0rd")).is_ok());
        assert_eq!(
            decode_unicode_pwd(b"\"Pa$$w0rd\"").map_err(|e| e.code),
            Err(ResultCode::CONSTRAINT_VIOLATION)
        );
        let unquoted: Vec<u8> = "Pa$$w0rd"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert!(decode_unicode_pwd(&unquoted).is_err());
    }

    #[test]
    fn new_principals_get_ads_defaults() {
        let mut user = account("CN=Bob,CN=Users,DC=contoso,DC=lab", &[]);
        principal_defaults(
            &mut user,
            &["top", "person", "organizationalPerson", "user"],
            0x452,
        );
        assert_eq!(user.attrs.first_str("userAccountControl"), Some("546"));
        assert_eq!(user.attrs.first_str("primaryGroupID"), Some("513"));
        assert_eq!(
            user.attrs.first_str("sAMAccountName"),
            Some("$DUPLICATE-452")
        );
        let mut group = account(
            "CN=G,CN=Users,DC=contoso,DC=lab",
            &[("sAMAccountName", Bytes::from_static(b"g"))],
        );
        principal_defaults(&mut group, &["top", "group"], 0x453);
        assert_eq!(group.attrs.first_str("sAMAccountType"), Some("268435456"));
        assert_eq!(group.attrs.first_str("sAMAccountName"), Some("g"));
    }
}
