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
        let values: Vec<&str> = parsed.rdns().iter().map(Rdn::value).collect();
        let expected: Vec<&str> = name.rdns().iter().map(Rdn::value).collect();
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
