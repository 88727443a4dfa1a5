//! SID text and binary forms, domain helpers and the well-known SIDs.

use devwb_model::sid::{rid, MAX_SUB_AUTHORITIES};
use devwb_model::{Sid, SidError};
use proptest::prelude::*;

/// One case: the text, the binary form, and the canonical text it formats back to.
fn check(text: &str, bytes: &[u8], formatted: &str) {
    let sid = Sid::parse(text).expect("valid SID text");
    assert_eq!(sid.to_bytes(), bytes, "{text}");
    assert_eq!(sid.binary_len(), bytes.len());
    assert_eq!(Sid::from_bytes(bytes), Ok(sid));
    assert_eq!(sid.to_string(), formatted);
}

#[test]
fn known_sids_match_their_binary_form() {
    check(
        "S-1-5-21-1004336348-1177238915-682003330-512",
        &[
            1, 5, 0, 0, 0, 0, 0, 5, 0x15, 0, 0, 0, 0xdc, 0xf4, 0xdc, 0x3b, 0x83, 0x3d, 0x2b, 0x46,
            0x82, 0x8b, 0xa6, 0x28, 0x00, 0x02, 0, 0,
        ],
        "S-1-5-21-1004336348-1177238915-682003330-512",
    );
    check("S-1-1-0", &[1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0], "S-1-1-0");
    check(
        "s-1-5-32-544",
        &[1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0],
        "S-1-5-32-544",
    );
    check("S-1-5", &[1, 0, 0, 0, 0, 0, 0, 5], "S-1-5");
    // Authorities of 2^32 and more are written in hex, as Windows does.
    check(
        "S-1-0x123456789ABC-7",
        &[1, 1, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 7, 0, 0, 0],
        "S-1-0x123456789ABC-7",
    );
    check(
        "S-1-0x10-7",
        &[1, 1, 0, 0, 0, 0, 0, 0x10, 7, 0, 0, 0],
        "S-1-16-7",
    );
}

#[test]
fn bad_text_is_rejected_with_the_reason() {
    let sixteen = format!("S-1-5{}", "-1".repeat(16));
    let cases = [
        ("", "does not start"),
        ("1-5-32", "does not start"),
        ("S-2-5-32", "revision"),
        ("S-1", "authority"),
        ("S-1-", "authority"),
        ("S-1-5-", "sub-authority"),
        ("S-1-5--1", "sub-authority"),
        ("S-1-5-x", "sub-authority"),
        ("S-1-5-+1", "sub-authority"),
        ("S-1-5-4294967296", "sub-authority"),
        ("S-1-4294967296-1", "authority"),
        ("S-1-0x1234567890ABC-1", "authority"),
        ("S-1-0x-1", "authority"),
        (sixteen.as_str(), "more than 15"),
        ("S-1-5-21 ", "sub-authority"),
    ];
    for (text, reason) in cases {
        match Sid::parse(text) {
            Err(error @ SidError::InvalidText { .. }) => {
                assert!(error.to_string().contains(reason), "{text:?}: {error}");
            }
            other => panic!("{text:?} gave {other:?}"),
        }
    }
}

#[test]
fn bad_binary_is_rejected() {
    assert_eq!(
        Sid::from_bytes(&[1, 1, 0, 0]),
        Err(SidError::WrongLength {
            len: 4,
            expected: 8
        })
    );
    assert_eq!(
        Sid::from_bytes(&[1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0]),
        Err(SidError::WrongLength {
            len: 12,
            expected: 16
        })
    );
    assert_eq!(
        Sid::from_bytes(&[1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]),
        Err(SidError::WrongLength {
            len: 13,
            expected: 12
        })
    );
    assert_eq!(
        Sid::from_bytes(&[2, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]),
        Err(SidError::BadRevision { revision: 2 })
    );
    let mut too_many = vec![1, 16, 0, 0, 0, 0, 0, 5];
    too_many.extend([0; 64]);
    assert_eq!(
        Sid::from_bytes(&too_many),
        Err(SidError::TooManySubAuthorities { count: 16 })
    );
}

#[test]
fn read_prefix_leaves_trailing_bytes() {
    let mut bytes = Sid::AUTHENTICATED_USERS.to_bytes();
    bytes.extend([0xaa, 0xbb]);
    assert_eq!(Sid::read_prefix(&bytes), Ok((Sid::AUTHENTICATED_USERS, 12)));
}

#[test]
fn domain_helpers() {
    let domain = Sid::parse("S-1-5-21-1-2-3").expect("valid");
    let admins = domain.with_rid(rid::DOMAIN_ADMINS);
    assert_eq!(admins.to_string(), "S-1-5-21-1-2-3-512");
    assert_eq!(admins.rid(), Some(512));
    assert_eq!(admins.domain(), Some(domain));
    assert!(admins.is_in_domain(&domain));
    assert!(!admins.is_in_domain(&Sid::parse("S-1-5-21-1-2-4").expect("valid")));
    assert!(!domain.is_in_domain(&domain));
    assert_eq!(Sid::parse("S-1-5").expect("valid").rid(), None);
    assert_eq!(Sid::parse("S-1-5").expect("valid").domain(), None);
    assert_eq!(
        Sid::parse("S-1-5-32").expect("valid").domain(),
        Sid::parse("S-1-5").ok()
    );
    assert_eq!(Sid::new(5, &[32, 544]), Ok(Sid::BUILTIN_ADMINISTRATORS));
    assert!(Sid::new(5, &[1; 16]).is_err());
    assert!(Sid::new(1 << 48, &[1]).is_err());
    // A full SID has no room: the RID replaces the last sub-authority.
    let full = Sid::new(5, &[7; MAX_SUB_AUTHORITIES]).expect("15 is allowed");
    assert_eq!(
        full.with_rid(9).sub_authorities().len(),
        MAX_SUB_AUTHORITIES
    );
    assert_eq!(full.with_rid(9).rid(), Some(9));
}

#[test]
fn well_known_sids_have_their_documented_text() {
    let cases = [
        (Sid::EVERYONE, "S-1-1-0"),
        (Sid::CREATOR_OWNER, "S-1-3-0"),
        (Sid::CREATOR_GROUP, "S-1-3-1"),
        (Sid::OWNER_RIGHTS, "S-1-3-4"),
        (Sid::ANONYMOUS, "S-1-5-7"),
        (Sid::ENTERPRISE_DOMAIN_CONTROLLERS, "S-1-5-9"),
        (Sid::PRINCIPAL_SELF, "S-1-5-10"),
        (Sid::AUTHENTICATED_USERS, "S-1-5-11"),
        (Sid::LOCAL_SYSTEM, "S-1-5-18"),
        (Sid::BUILTIN_ADMINISTRATORS, "S-1-5-32-544"),
        (Sid::ACCOUNT_OPERATORS, "S-1-5-32-548"),
        (Sid::PRINT_OPERATORS, "S-1-5-32-550"),
        (Sid::PRE_WINDOWS_2000_COMPATIBLE_ACCESS, "S-1-5-32-554"),
    ];
    for (sid, text) in cases {
        assert_eq!(sid.to_string(), text);
        assert_eq!(Sid::parse(text), Ok(sid));
    }
}

#[test]
fn serde_uses_the_text_form() {
    let sid = Sid::parse("S-1-5-21-1-2-3-1105").expect("valid");
    let json = serde_json::to_string(&sid).expect("serialize");
    assert_eq!(json, "\"S-1-5-21-1-2-3-1105\"");
    assert_eq!(
        serde_json::from_str::<Sid>(&json).expect("deserialize"),
        sid
    );
    assert!(serde_json::from_str::<Sid>("\"S-1-5-x\"").is_err());
    assert_eq!(format!("{sid:?}"), "Sid(S-1-5-21-1-2-3-1105)");
}

/// Any valid SID.
pub fn any_sid() -> impl Strategy<Value = Sid> {
    (
        prop_oneof![0u64..20, 0u64..(1 << 48)],
        prop::collection::vec(any::<u32>(), 0..=MAX_SUB_AUTHORITIES),
    )
        .prop_map(|(authority, subs)| Sid::new(authority, &subs).expect("within limits"))
}

proptest! {
    #[test]
    fn text_round_trips(sid in any_sid()) {
        prop_assert_eq!(Sid::parse(&sid.to_string()), Ok(sid));
    }

    #[test]
    fn binary_round_trips(sid in any_sid()) {
        let bytes = sid.to_bytes();
        prop_assert_eq!(bytes.len(), sid.binary_len());
        prop_assert_eq!(Sid::from_bytes(&bytes), Ok(sid));
    }

    #[test]
    fn decoding_any_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(sid) = Sid::from_bytes(&bytes) {
            prop_assert_eq!(sid.to_bytes(), bytes);
        }
    }

    #[test]
    fn parsing_any_text_never_panics(text in "S-1-[0-9x-]{0,30}|\\PC{0,30}") {
        if let Ok(sid) = Sid::parse(&text) {
            prop_assert_eq!(Sid::parse(&sid.to_string()), Ok(sid));
        }
    }
}
