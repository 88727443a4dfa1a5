//! Filter evaluation: one `check` helper, cases as data.

use bytes::Bytes;
use devwb_model::{Dn, SchemaLevel};
use rasn_ldap::{
    AttributeValueAssertion, Filter as F, MatchingRuleAssertion, SubstringChoice, SubstringFilter,
};

use super::*;
use crate::names::ForestNames;
use crate::semantics::Semantics;
use crate::store::Entry;

fn entry() -> Entry {
    let mut entry =
        Entry::new(Dn::parse("CN=Dev1,CN=RegisteredDevices,DC=contoso,DC=lab").unwrap());
    entry.attrs.set_strs("objectClass", &["top", "msDS-Device"]);
    entry.attrs.set_str("cn", "Dev1");
    entry.attrs.set_str("displayName", "Laptop Ünïcode");
    entry.attrs.set_str("userAccountControl", "4096");
    entry.attrs.set_str("uSNChanged", "1200");
    entry.attrs.set(
        "msDS-DeviceID",
        vec![Bytes::from_static(&[
            0xff, 0x00, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
        ])],
    );
    entry.attrs.set_str("msDS-IsEnabled", "TRUE");
    entry
}

fn semantics() -> Semantics {
    let names = ForestNames::new(
        "contoso.lab",
        devwb_model::Sid::parse("S-1-5-21-1-2-3").unwrap(),
    )
    .unwrap();
    Semantics::new(&names, SchemaLevel::W2016)
}

fn ava(attr: &str, value: &[u8]) -> AttributeValueAssertion {
    AttributeValueAssertion::new(attr.into(), value.into())
}

fn ext(rule: Option<&str>, attr: Option<&str>, value: &str) -> F {
    F::ExtensibleMatch(MatchingRuleAssertion::new(
        rule.map(Into::into),
        attr.map(Into::into),
        value.as_bytes().into(),
        false,
    ))
}

fn check(filter: F, expected: Truth) {
    let compiled = Filter::compile(&filter, &semantics(), 32).unwrap();
    assert_eq!(
        compiled.evaluate(&entry(), &|_| true),
        expected,
        "{filter:?}"
    );
}

#[test]
fn equality_presence_and_case() {
    check(F::EqualityMatch(ava("CN", b"dev1")), Truth::True);
    check(
        F::EqualityMatch(ava("displayname", "laptop ünïcode".as_bytes())),
        Truth::True,
    );
    check(F::EqualityMatch(ava("cn", b"dev2")), Truth::False);
    check(F::Present("OBJECTCLASS".into()), Truth::True);
    check(F::Present("description".into()), Truth::False);
    check(F::ApproxMatch(ava("cn", b"DEV1")), Truth::True);
    check(
        F::EqualityMatch(ava("msDS-IsEnabled", b"true")),
        Truth::True,
    );
}

#[test]
fn binary_values_compare_as_bytes() {
    check(
        F::EqualityMatch(ava(
            "msDS-DeviceID",
            &[0xff, 0x00, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
        )),
        Truth::True,
    );
    check(
        F::EqualityMatch(ava(
            "msDS-DeviceID",
            &[0xFF, 0x00, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14],
        )),
        Truth::False,
    );
}

#[test]
fn ordering_uses_numbers_for_integers() {
    check(F::GreaterOrEqual(ava("uSNChanged", b"999")), Truth::True);
    check(F::LessOrEqual(ava("uSNChanged", b"999")), Truth::False);
    check(
        F::GreaterOrEqual(ava("uSNChanged", b"not a number")),
        Truth::Undefined,
    );
    check(F::LessOrEqual(ava("cn", b"E")), Truth::True);
}

#[test]
fn substrings() {
    let sub = |pieces: Vec<SubstringChoice>| {
        F::Substrings(SubstringFilter::new("displayName".into(), pieces))
    };
    check(
        sub(vec![SubstringChoice::Initial(b"lap".as_slice().into())]),
        Truth::True,
    );
    check(
        sub(vec![
            SubstringChoice::Any(b"TOP ".as_slice().into()),
            SubstringChoice::Final("ünïcode".as_bytes().into()),
        ]),
        Truth::True,
    );
    check(
        sub(vec![SubstringChoice::Initial(b"top".as_slice().into())]),
        Truth::False,
    );
    let bad = sub(vec![
        SubstringChoice::Final(b"x".as_slice().into()),
        SubstringChoice::Any(b"y".as_slice().into()),
    ]);
    assert_eq!(
        Filter::compile(&bad, &semantics(), 32).unwrap_err().code,
        crate::error::ResultCode::PROTOCOL_ERROR
    );
}

#[test]
fn ad_bitwise_rules_and_extensible_match() {
    check(
        ext(Some(BITWISE_AND), Some("userAccountControl"), "4096"),
        Truth::True,
    );
    check(
        ext(Some(BITWISE_AND), Some("userAccountControl"), "4098"),
        Truth::False,
    );
    check(
        ext(Some(BITWISE_OR), Some("userAccountControl"), "4098"),
        Truth::True,
    );
    check(
        ext(Some(BITWISE_OR), Some("userAccountControl"), "2"),
        Truth::False,
    );
    check(
        ext(Some(BITWISE_AND), Some("userAccountControl"), "x"),
        Truth::Undefined,
    );
    check(ext(None, Some("cn"), "DEV1"), Truth::True);
    check(ext(Some(BITWISE_AND), None, "1"), Truth::Undefined);
    let with_dn = F::ExtensibleMatch(MatchingRuleAssertion::new(
        None,
        Some("cn".into()),
        b"RegisteredDevices".as_slice().into(),
        true,
    ));
    check(with_dn, Truth::True);
}

#[test]
fn three_valued_logic() {
    let undefined = || F::GreaterOrEqual(ava("uSNChanged", b"x"));
    let yes = || F::Present("cn".into());
    let no = || F::Present("description".into());
    check(F::And(vec![yes(), undefined()].into()), Truth::Undefined);
    check(F::And(vec![no(), undefined()].into()), Truth::False);
    check(F::Or(vec![yes(), undefined()].into()), Truth::True);
    check(F::Or(vec![no(), undefined()].into()), Truth::Undefined);
    check(F::Not(Box::new(undefined())), Truth::Undefined);
    check(!no(), Truth::True);
    check(F::And(vec![].into()), Truth::True);
    check(F::Or(vec![].into()), Truth::False);
}

#[test]
fn unreadable_attributes_are_absent() {
    let compiled = Filter::compile(&F::Present("cn".into()), &semantics(), 32).unwrap();
    assert_eq!(
        compiled.evaluate(&entry(), &|name| name != "cn"),
        Truth::False
    );
    let compiled =
        Filter::compile(&F::EqualityMatch(ava("cn", b"dev1")), &semantics(), 32).unwrap();
    assert_eq!(
        compiled.evaluate(&entry(), &|name| name != "cn"),
        Truth::Undefined
    );
}

#[test]
fn depth_limit_and_index_lookup() {
    let mut deep = F::Present("cn".into());
    for _ in 0..40 {
        deep = !deep;
    }
    assert!(Filter::compile(&deep, &semantics(), 32).is_err());
    let indexed = Filter::compile(
        &F::And(
            vec![
                F::Present("cn".into()),
                F::EqualityMatch(ava("msDS-DeviceID", &[1; 16])),
            ]
            .into(),
        ),
        &semantics(),
        32,
    )
    .unwrap();
    assert_eq!(
        indexed.indexed_lookup(),
        Some(IndexedLookup::Value(
            crate::store::indexed_attribute("msDS-DeviceID").unwrap(),
            Bytes::from(vec![1u8; 16])
        ))
    );
    assert_eq!(
        Filter::compile(&F::Present("description".into()), &semantics(), 32)
            .unwrap()
            .indexed_lookup(),
        None
    );
}
