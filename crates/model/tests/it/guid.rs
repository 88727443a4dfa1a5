//! GUID text forms, the AD byte layout (.NET `Guid.ToByteArray`) and serde.

use devwb_model::{Guid, GuidError};
use proptest::prelude::*;

/// One case: text, the value in text order, and the 16 bytes AD stores.
fn check(text: &str, value: u128, ad_bytes: [u8; 16]) {
    let guid = Guid::parse(text).expect("valid GUID text");
    assert_eq!(guid.as_u128(), value, "{text}");
    assert_eq!(guid, Guid::from_u128(value));
    assert_eq!(guid.to_ad_bytes(), ad_bytes, "{text}");
    assert_eq!(Guid::from_ad_bytes(&ad_bytes), Ok(guid));
    assert_eq!(
        guid.to_string(),
        text.trim_matches(['{', '}']).to_ascii_lowercase()
    );
}

#[test]
fn known_guids_match_their_ad_bytes() {
    // msDS-Device's schemaIDGUID.
    check(
        "5df2b673-6d41-4774-b3e8-d52e8ee9ff99",
        0x5df2b673_6d41_4774_b3e8_d52e8ee9ff99,
        [
            0x73, 0xb6, 0xf2, 0x5d, 0x41, 0x6d, 0x74, 0x47, 0xb3, 0xe8, 0xd5, 0x2e, 0x8e, 0xe9,
            0xff, 0x99,
        ],
    );
    // organization's schemaIDGUID as the LDF has it: `schemaIDGUID:: o3qWv+YN0BGihQCqADBJ4g==`.
    check(
        "{BF967AA3-0DE6-11D0-A285-00AA003049E2}",
        0xbf967aa3_0de6_11d0_a285_00aa003049e2,
        [
            0xa3, 0x7a, 0x96, 0xbf, 0xe6, 0x0d, 0xd0, 0x11, 0xa2, 0x85, 0x00, 0xaa, 0x00, 0x30,
            0x49, 0xe2,
        ],
    );
    check("00000000-0000-0000-0000-000000000000", 0, [0; 16]);
}

#[test]
fn bad_text_is_rejected_with_the_reason() {
    let cases = [
        ("", "36 characters"),
        ("5df2b673-6d41-4774-b3e8-d52e8ee9ff9", "36 characters"),
        ("5df2b673-6d41-4774-b3e8-d52e8ee9ff99a", "36 characters"),
        ("5df2b673x6d41-4774-b3e8-d52e8ee9ff99", "'-'"),
        ("5df2b673-6d41-4774-b3e8-d52e8ee9ff9g", "hex digit"),
        ("{5df2b673-6d41-4774-b3e8-d52e8ee9ff99", "braces"),
        ("5df2b673-6d41-4774-b3e8-d52e8ee9ff99}", "braces"),
        ("+df2b673-6d41-4774-b3e8-d52e8ee9ff99", "hex digit"),
        ("5df2b673-6d41-4774-b3e8-d52e8ee9ffé", "hex digit"),
        ("5df2b673-6d41-4774-b3e8-d52e8ee9fé", "36 characters"),
    ];
    for (text, reason) in cases {
        match Guid::parse(text) {
            Err(error @ GuidError::InvalidText { .. }) => {
                assert!(error.to_string().contains(reason), "{text:?}: {error}");
            }
            other => panic!("{text:?} gave {other:?}"),
        }
    }
}

#[test]
fn binary_guid_must_be_16_bytes() {
    assert_eq!(
        Guid::from_ad_bytes(&[0; 15]),
        Err(GuidError::WrongLength { len: 15 })
    );
    assert_eq!(
        Guid::from_ad_bytes(&[0; 17]),
        Err(GuidError::WrongLength { len: 17 })
    );
    assert_eq!(
        Guid::from_ad_bytes(&[]),
        Err(GuidError::WrongLength { len: 0 })
    );
}

#[test]
fn serde_uses_the_text_form() {
    let guid = Guid::from_u128(0x7c9e8c58_901b_4ea8_b6ec_4eb9e9fc0e11);
    let json = serde_json::to_string(&guid).expect("serialize");
    assert_eq!(json, "\"7c9e8c58-901b-4ea8-b6ec-4eb9e9fc0e11\"");
    assert_eq!(
        serde_json::from_str::<Guid>(&json).expect("deserialize"),
        guid
    );
    assert!(serde_json::from_str::<Guid>("\"not a guid\"").is_err());
    assert_eq!(
        format!("{guid:?}"),
        "Guid(7c9e8c58-901b-4ea8-b6ec-4eb9e9fc0e11)"
    );
}

#[test]
fn order_is_text_order() {
    let low = Guid::parse("00000000-0000-0000-0000-0000000000ff").expect("valid");
    let high = Guid::parse("01000000-0000-0000-0000-000000000000").expect("valid");
    assert!(low < high);
}

proptest! {
    #[test]
    fn text_is_lowercase_8_4_4_4_12(value: u128) {
        let expected = format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (value >> 96) as u32,
            (value >> 80) as u16,
            (value >> 64) as u16,
            (value >> 48) as u16,
            value & 0xffff_ffff_ffff
        );
        prop_assert_eq!(Guid::from_u128(value).to_string(), expected);
    }

    #[test]
    fn text_round_trips(value: u128) {
        let guid = Guid::from_u128(value);
        let text = guid.to_string();
        prop_assert_eq!(Guid::parse(&text), Ok(guid));
        prop_assert_eq!(text.parse::<Guid>(), Ok(guid));
        prop_assert_eq!(Guid::parse(&format!("{{{}}}", text.to_ascii_uppercase())), Ok(guid));
    }

    #[test]
    fn ad_bytes_round_trip(bytes: [u8; 16]) {
        let guid = Guid::from_ad_bytes(&bytes).expect("16 bytes");
        prop_assert_eq!(guid.to_ad_bytes(), bytes);
        prop_assert_eq!(Guid::from_ad_array(bytes), guid);
    }

    #[test]
    fn parsing_any_text_never_panics(text in "\\PC{0,40}") {
        let _ = Guid::parse(&text);
    }
}
