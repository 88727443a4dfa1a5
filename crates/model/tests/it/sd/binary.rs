//! The self-relative binary form.

use super::sddl::any_sd;
use super::{guid, sd, MS_DS_DEVICE};
use devwb_model::sd::{AccessMask, Ace, AceFlags, Acl, SdError, SecurityDescriptor};
use devwb_model::Sid;
use proptest::prelude::*;

/// One golden case: the descriptor and its exact bytes, both ways.
fn check(descriptor: &SecurityDescriptor, bytes: &[u8]) {
    assert_eq!(descriptor.to_bytes().expect("encodes"), bytes);
    assert_eq!(
        SecurityDescriptor::from_bytes(bytes).as_ref(),
        Ok(descriptor)
    );
}

#[test]
fn golden_bytes_of_a_small_descriptor() {
    #[rustfmt::skip]
    let bytes = [
        // Header: revision 1, control SELF_RELATIVE|DACL_PRESENT, owner 0x30, group 0x40, no SACL, DACL 0x14.
        0x01, 0x00, 0x04, 0x80, 0x30, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x14, 0, 0, 0,
        // DACL: revision 2, size 28, one ACE.
        0x02, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x00,
        // ACE: allowed, CI, size 20, mask 0x300FF, S-1-5-11.
        0x00, 0x02, 0x14, 0x00, 0xff, 0x00, 0x03, 0x00, 1, 1, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0,
        // Owner S-1-5-32-544.
        1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 0x02, 0, 0,
        // Group S-1-5-18.
        1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0,
    ];
    check(&sd("O:BAG:SYD:(A;CI;RPWPCCDCLCLORCSDDTSW;;;AU)"), &bytes);
}

#[test]
fn golden_bytes_of_an_object_ace() {
    #[rustfmt::skip]
    let bytes = [
        // Header: control SELF_RELATIVE|DACL_PROTECTED|DACL_PRESENT, only a DACL at 0x14.
        0x01, 0x00, 0x04, 0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x14, 0, 0, 0,
        // DACL: revision 4 (object ACEs), size 48, one ACE.
        0x04, 0x00, 0x30, 0x00, 0x01, 0x00, 0x00, 0x00,
        // Object ACE: allowed object, CI, size 40, CREATE_CHILD, object type present.
        0x05, 0x02, 0x28, 0x00, 0x01, 0, 0, 0, 0x01, 0, 0, 0,
        // msDS-Device's schemaIDGUID in the AD layout.
        0x73, 0xb6, 0xf2, 0x5d, 0x41, 0x6d, 0x74, 0x47, 0xb3, 0xe8, 0xd5, 0x2e, 0x8e, 0xe9, 0xff, 0x99,
        1, 1, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0,
    ];
    check(&sd(&format!("D:P(OA;CI;CC;{MS_DS_DEVICE};;AU)")), &bytes);
}

#[test]
fn a_guid_on_a_plain_ace_is_encoded_as_an_object_ace() {
    let mut ace = Ace::allow(
        Sid::AUTHENTICATED_USERS,
        AccessMask::CREATE_CHILD,
        AceFlags::NONE,
    );
    ace.object_type = Some(guid(MS_DS_DEVICE));
    let descriptor = SecurityDescriptor {
        dacl: Some(Acl::from_aces(vec![ace])),
        ..SecurityDescriptor::default()
    };
    let decoded =
        SecurityDescriptor::from_bytes(&descriptor.to_bytes().expect("encodes")).expect("decodes");
    let decoded_ace = decoded
        .dacl
        .and_then(|acl| acl.aces.first().copied())
        .expect("one ACE");
    assert_eq!(decoded_ace, ace.with_object_type(guid(MS_DS_DEVICE)));
}

#[test]
fn hostile_input_gives_errors_naming_the_offset() {
    let good = sd("O:BAG:SYD:(A;CI;RPWPCCDCLCLORCSDDTSW;;;AU)")
        .to_bytes()
        .expect("encodes");
    let patched = |at: usize, value: u8| {
        let mut bytes = good.clone();
        bytes[at] = value;
        bytes
    };
    let cases: Vec<(Vec<u8>, usize, &str)> = vec![
        (vec![], 0, "shorter than its 20-byte header"),
        (good[..19].to_vec(), 19, "shorter than its 20-byte header"),
        (patched(0, 2), 0, "revision 2"),
        (patched(3, 0x00), 2, "SE_SELF_RELATIVE"),
        (patched(4, 0xff), 255, "SID offset beyond the end"),
        (patched(16, 0x4c), 76, "ACL header beyond the end"),
        (patched(20, 9), 20, "ACL revision 9"),
        (patched(22, 0x04), 22, "smaller than its header"),
        (patched(22, 0xff), 22, "runs past the end"),
        (patched(24, 9), 24, "9 ACEs cannot fit"),
        (patched(24, 2), 48, "ACE header runs past"),
        (patched(28, 0x11), 28, "unsupported ACE type 0x11"),
        (patched(30, 0x16), 30, "not a multiple of 4"),
        (patched(30, 0x04), 30, "not a multiple of 4"),
        (patched(30, 0x20), 30, "runs past the end of the ACL"),
        (patched(36, 0x02), 36, "revision 2"),
        (patched(37, 0x02), 36, "expected 16"),
        (good[..70].to_vec(), 64, "expected 8"),
        (good[..74].to_vec(), 64, "expected 12"),
    ];
    for (bytes, offset, reason) in cases {
        match SecurityDescriptor::from_bytes(&bytes) {
            Err(SdError::Binary {
                offset: got,
                reason: got_reason,
            }) => {
                assert!(
                    got_reason.contains(reason),
                    "{reason:?}: got {got_reason:?} at {got}"
                );
                assert_eq!(got, offset, "{reason}: {got_reason}");
            }
            other => panic!("{reason}: {other:?}"),
        }
    }
}

#[test]
fn a_null_dacl_decodes_as_no_dacl() {
    // DACL_PRESENT with offset 0 is a NULL DACL: it grants everything, like no DACL.
    let bytes = [
        1, 0, 0x04, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(
        SecurityDescriptor::from_bytes(&bytes),
        Ok(SecurityDescriptor::default())
    );
}

#[test]
fn oversized_acls_are_refused_not_truncated() {
    let ace = Ace::allow(
        Sid::new(5, &[21, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
            .expect("15 sub-authorities"),
        AccessMask(1),
        AceFlags::NONE,
    );
    let descriptor = SecurityDescriptor {
        dacl: Some(Acl::from_aces(vec![ace; 1000])),
        ..SecurityDescriptor::default()
    };
    assert!(matches!(
        descriptor.to_bytes(),
        Err(SdError::TooLarge { what: "ACL", .. })
    ));
}

proptest! {
    #[test]
    fn encode_then_decode_round_trips(descriptor in any_sd(false)) {
        let bytes = descriptor.to_bytes().expect("small descriptors encode");
        prop_assert_eq!(SecurityDescriptor::from_bytes(&bytes), Ok(descriptor));
    }

    #[test]
    fn decoding_any_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(descriptor) = SecurityDescriptor::from_bytes(&bytes) {
            // Whatever decodes encodes again and decodes to the same value.
            let again = descriptor.to_bytes().expect("encodes");
            prop_assert_eq!(SecurityDescriptor::from_bytes(&again), Ok(descriptor));
        }
    }

    #[test]
    fn decoding_corrupted_descriptors_never_panics(
        descriptor in any_sd(false),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = descriptor.to_bytes().expect("encodes");
        for (index, value) in flips {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        let _ = SecurityDescriptor::from_bytes(&bytes);
    }
}
