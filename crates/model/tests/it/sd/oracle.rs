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

/// A DACL of plain allow and deny ACEs over a small SID pool, denies first (win-sd's check
/// does not depend on order, MS-DTYP's does: with denies first both must agree).
fn denies_first_dacl() -> impl Strategy<Value = Vec<(bool, u32, usize)>> {
    prop::collection::vec((any::<bool>(), 0u32..0x100, 0usize..4), 0..8).prop_map(|mut aces| {
        aces.sort_by_key(|(allow, _, _)| *allow);
        aces
    })
}

proptest! {
    #[test]
    fn access_check_agrees_with_win_sd_on_denies_first_dacls(
        aces in denies_first_dacl(),
        token_picks in prop::collection::vec(any::<bool>(), 4),
        desired in 1u32..0x100,
        with_dacl in any::<bool>(),
    ) {
        use devwb_model::sd::{access_check, Ace, Acl, ObjectTypeList, Token};
        let pool = [Sid::EVERYONE, Sid::AUTHENTICATED_USERS, Sid::from_parts(5, &[21, 1, 2, 3, 1105]), Sid::BUILTIN_ADMINISTRATORS];
        let ours = SecurityDescriptor {
            dacl: with_dacl.then(|| {
                Acl::from_aces(
                    aces.iter()
                        .map(|(allow, mask, who)| {
                            let sid = pool[*who % pool.len()];
                            if *allow {
                                Ace::allow(sid, AccessMask(*mask), AceFlags::NONE)
                            } else {
                                Ace::deny(sid, AccessMask(*mask), AceFlags::NONE)
                            }
                        })
                        .collect(),
                )
            }),
            ..SecurityDescriptor::default()
        };
        let token_sids: Vec<Sid> = pool.iter().zip(&token_picks).filter(|(_, pick)| **pick).map(|(sid, _)| *sid).collect();
        let result = access_check(&ours, &Token::new(token_sids.clone()), AccessMask(desired), &ObjectTypeList::object(), None);
        let theirs = win_sd::SecurityDescriptor::from_bytes(&ours.to_bytes().expect("encodes"))
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        let their_sids: Vec<win_sd::Sid> = token_sids
            .iter()
            .map(|sid| sid.to_string().parse::<win_sd::Sid>())
            .collect::<Result<_, _>>()
            .map_err(|error| TestCaseError::fail(format!("{error:?}")))?;
        let their_result = theirs.check_access(&their_sids, win_sd::AccessMask::new(desired));
        prop_assert_eq!(result.is_granted(), their_result.granted);
        prop_assert_eq!(result.granted().0, their_result.granted_mask.bits() & desired);
    }
}
