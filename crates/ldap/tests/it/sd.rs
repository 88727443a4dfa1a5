use devwb_model::sd::SecurityInformation;
use devwb_model::sd::{AccessMask, Ace, AceFlags};

use crate::support::lab;

#[test]
fn a_dacl_written_with_the_sd_flags_control_reads_back_and_keeps_the_owner() {
    let lab = lab();
    let ou = lab.add_ou("Acl");
    let (_, user_sid) = lab.sim.add_user("acl-user", "Passw0rd!").unwrap();

    let before = lab
        .client
        .read_security_descriptor(&ou, SecurityInformation::OWNER_GROUP_DACL)
        .unwrap();
    assert!(before.owner.is_some(), "owner returned with flags 7");
    let dacl_only = lab
        .client
        .read_security_descriptor(&ou, SecurityInformation::DACL)
        .unwrap();
    assert!(dacl_only.dacl.is_some());

    let ace = Ace::allow(
        user_sid,
        AccessMask(0x0003_00FF),
        AceFlags::CONTAINER_INHERIT,
    );
    let mut changed = dacl_only.clone();
    assert!(changed.dacl.as_mut().unwrap().insert_explicit(ace));
    lab.client
        .write_security_descriptor(&ou, &changed, SecurityInformation::DACL)
        .unwrap();

    let after = lab
        .client
        .read_security_descriptor(&ou, SecurityInformation::OWNER_GROUP_DACL)
        .unwrap();
    let dacl = after.dacl.as_ref().unwrap();
    assert!(
        dacl.grants(
            &user_sid,
            AccessMask(0x0003_00FF),
            AceFlags::CONTAINER_INHERIT
        ),
        "{after:?}"
    );
    assert!(dacl.is_canonical());
    assert_eq!(
        after.owner, before.owner,
        "a DACL-only write keeps the owner"
    );
}
