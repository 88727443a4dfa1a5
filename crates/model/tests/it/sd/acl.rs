//! The DACL helpers prepare and verify use.

use super::{connector, context, guid, sd, MS_DS_DEVICE};
use devwb_model::sd::{AccessMask, Ace, AceFlags, Acl};
use devwb_model::Sid;

const CONNECTOR_MASK: AccessMask = AccessMask(0x300FF);

fn dacl(sddl: &str) -> Acl {
    sd(sddl).dacl.expect("a DACL")
}

#[test]
fn grants_accepts_the_mapped_mask_and_the_generic_bits() {
    let sid = connector();
    let ci = AceFlags::CONTAINER_INHERIT;
    let cases = [
        (format!("D:(A;CI;RPWPCCDCLCLORCSDDTSW;;;{sid})"), true),
        (format!("D:(A;CI;0x300ff;;;{sid})"), true),
        (format!("D:(A;CI;GRGWCCDCSDDT;;;{sid})"), true),
        (format!("D:(A;CI;GA;;;{sid})"), true),
        // Split over two ACEs with the flags still counts.
        (
            format!("D:(A;CI;GRGW;;;{sid})(A;CI;CCDCSDDT;;;{sid})"),
            true,
        ),
        // Inherited copies carry CI too (verify on a child sees these).
        (format!("D:(A;CIID;RPWPCCDCLCLORCSDDTSW;;;{sid})"), true),
        // Missing DT.
        (format!("D:(A;CI;RPWPCCDCLCLORCSD;;;{sid})"), false),
        // Without CI.
        (format!("D:(A;;RPWPCCDCLCLORCSDDTSW;;;{sid})"), false),
        // Inherit-only does not apply to the container itself.
        (format!("D:(A;CIIO;RPWPCCDCLCLORCSDDTSW;;;{sid})"), false),
        // Another SID, a deny, an object ACE: none count.
        ("D:(A;CI;RPWPCCDCLCLORCSDDTSW;;;AU)".to_string(), false),
        (format!("D:(D;CI;RPWPCCDCLCLORCSDDTSW;;;{sid})"), false),
        (
            format!("D:(OA;CI;RPWPCCDCLCLORCSDDTSW;{MS_DS_DEVICE};;{sid})"),
            false,
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            dacl(&text).grants(&sid, CONNECTOR_MASK, ci),
            expected,
            "{text}"
        );
        let generic = AccessMask::GENERIC_READ
            | AccessMask::GENERIC_WRITE
            | AccessMask::CREATE_CHILD
            | AccessMask::DELETE_CHILD
            | AccessMask::DELETE
            | AccessMask::DELETE_TREE;
        assert_eq!(
            dacl(&text).grants(&sid, generic, ci),
            expected,
            "{text} (asked generically)"
        );
    }
    let two = dacl(&format!("D:(A;CI;RP;;;{sid})(A;;WP;;;{sid})"));
    assert_eq!(
        two.allowed_mask(&sid, AceFlags::NONE),
        AccessMask::READ_PROPERTY | AccessMask::WRITE_PROPERTY
    );
    assert_eq!(two.allowed_mask(&sid, ci), AccessMask::READ_PROPERTY);
}

#[test]
fn insert_explicit_keeps_canonical_order_and_is_idempotent() {
    let mut acl = dacl("D:(D;;WP;;;WD)(A;;RPLCLORC;;;AU)(A;CIID;RP;;;EA)");
    let connector_ace = Ace::allow(connector(), CONNECTOR_MASK, AceFlags::CONTAINER_INHERIT);
    assert!(acl.insert_explicit(connector_ace));
    assert!(!acl.insert_explicit(connector_ace));
    assert!(acl.insert_explicit(Ace::deny(
        Sid::ANONYMOUS,
        AccessMask::READ_PROPERTY,
        AceFlags::NONE
    )));
    assert!(acl.is_canonical());
    let descriptor = devwb_model::sd::SecurityDescriptor {
        dacl: Some(acl),
        ..Default::default()
    };
    assert_eq!(
        descriptor.to_sddl(&context()),
        format!("D:(D;;WP;;;WD)(D;;RP;;;AN)(A;;LCRPLORC;;;AU)(A;CI;CCDCLCSWRPWPDTLOSDRC;;;{})(A;CIID;RP;;;EA)", connector())
    );
}

#[test]
fn canonical_order_check() {
    assert!(dacl("D:(D;;RP;;;WD)(A;;RP;;;AU)(D;ID;RP;;;WD)(A;ID;RP;;;AU)").is_canonical());
    assert!(!dacl("D:(A;;RP;;;AU)(D;;RP;;;WD)").is_canonical());
    assert!(!dacl("D:(A;ID;RP;;;AU)(A;;RP;;;WD)").is_canonical());
    assert!(Acl::new().is_canonical());
}

#[test]
fn object_type_helpers_switch_to_object_aces() {
    let ace = Ace::allow(connector(), AccessMask::CREATE_CHILD, AceFlags::NONE)
        .with_object_type(guid(MS_DS_DEVICE));
    assert!(ace.ace_type.is_object() && ace.ace_type.is_allow());
    let ace = Ace::deny(connector(), AccessMask::CREATE_CHILD, AceFlags::NONE)
        .with_inherited_object_type(guid(MS_DS_DEVICE));
    assert!(ace.ace_type.is_object() && ace.ace_type.is_deny());
}

#[test]
fn sd_flags_parts() {
    use devwb_model::sd::{SecurityDescriptor, SecurityInformation};
    let full = sd("O:DAG:DUD:PAI(A;;RP;;;AU)S:AI(AU;SA;WP;;;WD)");
    let dacl_only = full.only(SecurityInformation::DACL);
    assert_eq!(dacl_only.to_sddl(&context()), "D:PAI(A;;RP;;;AU)");
    let owner_only = full.only(SecurityInformation::OWNER);
    assert_eq!(owner_only.to_sddl(&context()), "O:DA");
    assert_eq!(full.only(SecurityInformation::ALL), full);

    // A write of the DACL alone keeps owner, group and SACL.
    let mut stored = full.clone();
    stored.replace_parts(&sd("D:(A;;WP;;;WD)"), SecurityInformation::DACL);
    assert_eq!(
        stored.to_sddl(&context()),
        "O:DAG:DUD:(A;;WP;;;WD)S:AI(AU;SA;WP;;;WD)"
    );
    // A written descriptor without owner, group or SACL leaves them as they were; one without
    // a DACL writes a NULL DACL.
    let mut partial = full.clone();
    partial.replace_parts(&SecurityDescriptor::default(), SecurityInformation::ALL);
    assert_eq!(partial.to_sddl(&context()), "O:DAG:DUS:AI(AU;SA;WP;;;WD)");
    assert_eq!(partial.dacl, None, "a NULL DACL");

    assert_eq!(
        SecurityInformation::DACL.rights_to_write(),
        AccessMask::WRITE_DAC
    );
    assert_eq!(
        SecurityInformation::ALL.rights_to_write(),
        AccessMask::WRITE_OWNER | AccessMask::WRITE_DAC | AccessMask::ACCESS_SYSTEM_SECURITY
    );
    assert_eq!(
        SecurityInformation::OWNER_GROUP_DACL.rights_to_read(),
        AccessMask::READ_CONTROL
    );
    assert_eq!(
        SecurityInformation::SACL.rights_to_read(),
        AccessMask::ACCESS_SYSTEM_SECURITY
    );
}

/// The SD flags rules the client and the simulator used to apply each their own way, as AD
/// applies them (MS-ADTS 3.1.1.3.4.1.11).
#[test]
fn sd_flags_follow_ad_where_the_client_and_the_simulator_differed() {
    use devwb_model::sd::{Control, SecurityInformation};
    // A control value without any of the four bits asks for all four; other bits are ignored.
    assert_eq!(
        SecurityInformation::from_control_value(0),
        SecurityInformation::ALL
    );
    assert_eq!(
        SecurityInformation::from_control_value(0x14),
        SecurityInformation::DACL
    );

    // Read: a part not asked for is absent with its control bits (the simulator's decoded
    // read kept every control bit).
    let mut stored = sd("O:DAG:DUD:PAI(A;;RP;;;AU)");
    stored.control = stored.control.with(Control::OWNER_DEFAULTED);
    let owner_only = stored.only(SecurityInformation::OWNER);
    assert_eq!(
        owner_only.control,
        Control::OWNER_DEFAULTED,
        "no DACL bits without the DACL"
    );
    let dacl_only = stored.only(SecurityInformation::DACL);
    assert_eq!(
        dacl_only.control,
        Control::DACL_PROTECTED.with(Control::DACL_AUTO_INHERITED),
        "no owner-defaulted bit without the owner"
    );

    // Write: a written DACL brings all of its control bits (the simulator took only the
    // protected bit); a DACL not written keeps its bits.
    let mut written = sd("D:(A;;WP;;;WD)");
    written.control = Control::DACL_DEFAULTED;
    let mut merged = stored.clone();
    merged.replace_parts(&written, SecurityInformation::DACL);
    assert_eq!(
        merged.control,
        Control::OWNER_DEFAULTED.with(Control::DACL_DEFAULTED)
    );
    let mut untouched = stored.clone();
    untouched.replace_parts(&written, SecurityInformation::OWNER);
    assert_eq!(untouched, stored, "the written descriptor has no owner");

    // Write: an owner asked for but absent from the written descriptor stays (the client's
    // merge cleared it).
    let mut owned = stored.clone();
    owned.replace_parts(&written, SecurityInformation::OWNER_GROUP_DACL);
    assert_eq!((owned.owner, owned.group), (stored.owner, stored.group));
    assert_eq!(owned.dacl, written.dacl);
}
