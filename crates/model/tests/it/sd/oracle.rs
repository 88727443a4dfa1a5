//! Differential tests against the win-sd crate (an independent MS-DTYP implementation).
//!
//! Known differences we do not test through it: its alias table disagrees with MS-DTYP on
//! `NU`, `RM`, `RS` and `RO`, and a plain `D` ACE given a GUID drops the GUID. The generated
//! descriptors therefore format domain SIDs as `S-1-...` (no domain in the context) and keep
//! GUIDs on object ACEs only.

use super::sddl::any_sd;
use devwb_model::sd::{AccessMask, AceFlags, Control, SddlContext, SecurityDescriptor};
use devwb_model::Sid;
use proptest::prelude::*;

/// Compares our decoded descriptor with win-sd's, field by field, as text and numbers.
fn same_as_oracle(
    ours: &SecurityDescriptor,
    theirs: &win_sd::SecurityDescriptor,
) -> Result<(), TestCaseError> {
    // win-sd writes large authorities with fewer hex digits than MS-DTYP's `0x` 12HEXDIG:
    // compare the SIDs as values.
    let sid = |s: &win_sd::Sid| Sid::parse(&s.to_string()).ok();
    prop_assert_eq!(ours.owner, theirs.owner().and_then(sid));
    prop_assert_eq!(ours.group, theirs.group().and_then(sid));
    for (mine, other) in [(&ours.dacl, theirs.dacl()), (&ours.sacl, theirs.sacl())] {
        prop_assert_eq!(mine.is_some(), other.is_some());
        let (Some(mine), Some(other)) = (mine, other) else {
            continue;
        };
        prop_assert_eq!(mine.aces.len(), other.entries().len());
        for (a, b) in mine.aces.iter().zip(other.entries()) {
            prop_assert_eq!(Some(a.sid), sid(b.sid()));
            prop_assert_eq!(a.mask.0, b.mask().bits());
            prop_assert_eq!(a.flags.0, b.flags().bits());
            prop_assert_eq!(
                a.object_type.map(|g| g.to_string()),
                b.object_type().map(|g| g.to_string().to_lowercase())
            );
            prop_assert_eq!(
                a.inherited_object_type.map(|g| g.to_string()),
                b.inherited_object_type()
                    .map(|g| g.to_string().to_lowercase())
            );
            prop_assert_eq!(format!("{:?}", a.ace_type), format!("{:?}", b.ace_type()));
        }
    }
    Ok(())
}

/// Flags and masks SDDL names with codes (win-sd does not read hex ACE flags).
fn sddl_friendly(mut sd: SecurityDescriptor) -> SecurityDescriptor {
    for acl in sd.dacl.iter_mut().chain(sd.sacl.iter_mut()) {
        for ace in &mut acl.aces {
            ace.flags = AceFlags(ace.flags.0 & 0xDF);
            ace.mask = AccessMask(ace.mask.0 & 0xF00F_01FF);
        }
    }
    sd.control = Control(sd.control.0 & 0x3F00);
    // win-sd does not read `NO_ACCESS_CONTROL`, which is how flags of a missing ACL are written.
    if sd.dacl.is_none() {
        sd.control = Control(sd.control.0 & !0x1500);
    }
    if sd.sacl.is_none() {
        sd.control = Control(sd.control.0 & !0x2A00);
    }
    sd
}

proptest! {
    #[test]
    fn win_sd_reads_our_bytes_and_we_read_its_bytes(sd in any_sd(false)) {
        let bytes = sd.to_bytes().expect("encodes");
        let theirs = win_sd::SecurityDescriptor::from_bytes(&bytes)
            .map_err(|error| TestCaseError::fail(format!("win-sd rejects our bytes: {error}")))?;
        same_as_oracle(&sd, &theirs)?;
        let their_bytes = theirs.to_bytes().map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert_eq!(SecurityDescriptor::from_bytes(&their_bytes), Ok(sd));
    }

    #[test]
    fn win_sd_reads_our_sddl(sd in any_sd(true).prop_map(sddl_friendly)) {
        let text = sd.to_sddl(&SddlContext::without_domain());
        // win-sd refuses the empty string (an empty descriptor).
        prop_assume!(!text.is_empty());
        let theirs = win_sd::parse::<win_sd::SddlParser>(&text)
            .map_err(|error| TestCaseError::fail(format!("win-sd rejects {text}: {error}")))?;
        same_as_oracle(&sd, &theirs)?;
    }
}
