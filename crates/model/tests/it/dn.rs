//! DN properties: formatting then parsing gives the same name, and equality is AD's.

use devwb_model::dn::{Dn, Rdn};
use proptest::prelude::*;

/// Attribute types as AD spells them, and OIDs.
fn attr_type() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z][A-Za-z0-9-]{0,12}",
        "[1-9][0-9]{0,3}(\\.[0-9]{1,4}){1,5}",
    ]
}

/// Values with everything RFC 4514 must escape, plus non-ASCII text.
fn attr_value() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just(','),
            Just('+'),
            Just('"'),
            Just('\\'),
            Just('<'),
            Just('>'),
            Just(';'),
            Just('='),
            Just('#'),
            Just(' '),
            Just('\0'),
            Just('é'),
            Just('\u{1F600}'),
            prop::char::range('a', 'z'),
            prop::char::range('A', 'Z'),
        ],
        1..12,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn dn() -> impl Strategy<Value = Dn> {
    prop::collection::vec((attr_type(), attr_value()), 0..6).prop_map(|parts| {
        Dn::from_rdns(
            parts
                .iter()
                .map(|(attr, value)| Rdn::new(attr, value).expect("generated RDN is valid"))
                .collect(),
        )
    })
}

proptest! {
    #[test]
    fn format_then_parse_round_trips(name in dn()) {
        let text = name.to_string();
        let parsed = Dn::parse(&text).expect("formatted DN parses");
        prop_assert_eq!(&parsed, &name);
        prop_assert_eq!(parsed.to_string(), text);
        let values: Vec<&str> = parsed.rdns().into_iter().map(Rdn::value).collect();
        let expected: Vec<&str> = name.rdns().into_iter().map(Rdn::value).collect();
        prop_assert_eq!(values, expected);
    }

    #[test]
    fn equality_ignores_case(name in dn()) {
        let upper = Dn::parse(&name.to_string().to_uppercase()).expect("uppercased DN parses");
        prop_assert_eq!(upper, name);
    }

    #[test]
    fn parent_and_child_are_inverse(name in dn(), attr in attr_type(), value in attr_value()) {
        let child = name.child(Rdn::new(&attr, &value).expect("valid RDN"));
        prop_assert!(child.is_descendant_of(&name));
        prop_assert_eq!(child.parent(), Some(name));
    }

    #[test]
    fn parse_never_panics(text in "\\PC{0,64}") {
        let _ = Dn::parse(&text);
    }
}

proptest! {
    /// `parent` and `child` build the normalized form by slicing and joining; it must be the one
    /// a fresh parse computes, or equality and hashing would disagree between the two.
    #[test]
    fn derived_names_normalize_like_parsed_ones(name in dn(), attr in attr_type(), value in attr_value()) {
        let child = name.child(Rdn::new(&attr, &value).expect("valid RDN"));
        let reparsed = Dn::parse(&child.to_string()).expect("formatted DN parses");
        prop_assert_eq!(child.normalized(), reparsed.normalized());
        if let Some(parent) = name.parent() {
            let reparsed = Dn::parse(&parent.to_string()).expect("formatted DN parses");
            prop_assert_eq!(parent.normalized(), reparsed.normalized());
        }
    }
}

proptest! {
    /// `is_within` and `is_descendant_of` compare normalized text from an RDN boundary; they must
    /// agree with comparing RDN by RDN, escaped separators in values included.
    #[test]
    fn ancestry_is_decided_rdn_by_rdn(name in dn(), other in dn(), cut in 0usize..6) {
        let by_rdns = |a: &Dn, b: &Dn| {
            b.depth() <= a.depth() && a.rdns()[a.depth() - b.depth()..] == *b.rdns()
        };
        // A real suffix of `name`, and an unrelated name.
        let suffix = Dn::from_rdns(
            name.rdns()[cut.min(name.depth())..]
                .iter()
                .map(|rdn| (*rdn).clone())
                .collect(),
        );
        for candidate in [&suffix, &other] {
            prop_assert_eq!(name.is_within(candidate), by_rdns(&name, candidate));
            prop_assert_eq!(
                name.is_descendant_of(candidate),
                name.depth() > candidate.depth() && by_rdns(&name, candidate)
            );
        }
        prop_assert!(name.is_within(&suffix));
    }
}

#[test]
fn an_escaped_comma_is_not_an_rdn_boundary() {
    let name = Dn::parse(r"CN=a\,DC=x,DC=y").expect("valid DN");
    let look_alike = Dn::parse("DC=x,DC=y").expect("valid DN");
    assert_eq!(name.depth(), 2);
    assert!(!name.is_within(&look_alike));
    assert!(!name.is_descendant_of(&look_alike));
    assert!(name.is_descendant_of(&Dn::parse("DC=y").expect("valid DN")));
    assert_eq!(name.parent(), Dn::parse("DC=y").ok());
    let hex = Dn::parse(r"CN=a\2C\5C,DC=x,DC=y").expect("valid DN");
    assert_eq!(hex.parent(), Dn::parse("DC=x,DC=y").ok());
    assert!(hex.is_descendant_of(&look_alike));
}
