//! A new object's descriptor: explicit part, parent's inheritable ACEs, CREATOR OWNER.

use super::{
    connector, context, default_descriptors, domain, guid, sd, GROUP, MS_DS_DEVICE,
    MS_DS_DEVICE_CONTAINER, USER,
};
use devwb_model::sd::{inherit, SecurityDescriptor};
use devwb_model::Sid;

fn domain_admins() -> Sid {
    domain().with_rid(512)
}

/// One case: explicit SDDL, parent SDDL, child class, and the expected SDDL.
fn check(explicit: &str, parent: &str, class: &str, expected: &str) {
    let explicit_sd = sd(explicit);
    let parent_sd = sd(parent);
    let child = inherit(
        &explicit_sd,
        Some(&parent_sd),
        &guid(class),
        &domain_admins(),
        &domain_admins(),
    );
    let expected_sd = sd(expected);
    assert_eq!(
        child,
        expected_sd,
        "\n got:      {}\n expected: {}",
        child.to_sddl(&context()),
        expected_sd.to_sddl(&context())
    );
    assert!(child.dacl.as_ref().is_none_or(|acl| acl.is_canonical()));
}

fn class_default(class: &str) -> &'static str {
    default_descriptors()
        .into_iter()
        .find(|(name, _)| *name == class)
        .map(|(_, text)| text)
        .expect("class in the schema")
}

#[test]
fn registered_devices_gets_the_samba_descriptor() {
    // The reference: a new CN=RegisteredDevices on Samba gets the class default plus the domain
    // head's inheritable ACEs, marked ID.
    check(
        class_default("msDS-DeviceContainer"),
        "O:DAG:DAD:AI(A;;RP;;;WD)(A;CI;RPWPCRCCDCLCLORCWOWDSDDTSW;;;EA)(A;CI;RPWPCRCCLCLORCWOWDSDSW;;;BA)(A;CI;LC;;;RU)",
        MS_DS_DEVICE_CONTAINER,
        "O:DAG:DAD:AI(A;;RPLCLORC;;;AU)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)\
         (A;CIID;RPWPCRCCDCLCLORCWOWDSDDTSW;;;EA)(A;CIID;RPWPCRCCLCLORCWOWDSDSW;;;BA)(A;CIID;LC;;;RU)",
    );
}

#[test]
fn devices_inherit_the_connector_ace() {
    let connector_ace = format!("(A;CI;RPWPCCDCLCLORCSDDTSW;;;{})", connector());
    check(
        class_default("msDS-Device"),
        &format!("O:DAG:DAD:AI(A;;RPLCLORC;;;AU){connector_ace}(A;CIID;RPWPCRCCDCLCLORCWOWDSDDTSW;;;EA)"),
        MS_DS_DEVICE,
        &format!(
            "O:DAG:DAD:AI(A;;RPLCLORC;;;AU)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)\
             (A;CIID;RPWPCCDCLCLORCSDDTSW;;;{})(A;CIID;RPWPCRCCDCLCLORCWOWDSDDTSW;;;EA)",
            connector()
        ),
    );
}

#[test]
fn inheritance_rules() {
    let owner = domain().with_rid(1200);
    let creator = format!("O:{owner}G:DUD:");
    let cases: Vec<(&str, String, &str, String)> = vec![
        // CREATOR OWNER: an effective ACE for the owner plus an inherit-only copy.
        (
            "CREATOR OWNER",
            "D:(A;CI;RPWP;;;CO)".into(),
            USER,
            format!("O:{owner}G:DUD:AI(A;ID;RPWP;;;{owner})(A;CIIOID;RPWP;;;CO)"),
        ),
        // Inherit-only CREATOR OWNER ACE on the parent (the common AD form).
        (
            "CREATOR OWNER inherit-only",
            "D:(A;CIIO;RPWP;;;CO)".into(),
            USER,
            format!("O:{owner}G:DUD:AI(A;ID;RPWP;;;{owner})(A;CIIOID;RPWP;;;CO)"),
        ),
        // NO_PROPAGATE: effective on the child, not further.
        (
            "no propagate",
            "D:(A;CINP;RP;;;AU)".into(),
            USER,
            format!("{creator}AI(A;ID;RP;;;AU)"),
        ),
        (
            "no propagate, inherit-only",
            "D:(A;CINPIO;RP;;;AU)".into(),
            USER,
            format!("{creator}AI(A;ID;RP;;;AU)"),
        ),
        // Not inheritable: nothing.
        (
            "explicit only",
            "D:(A;;RP;;;AU)".into(),
            USER,
            format!("{creator}AI"),
        ),
        // Inherited object type: effective for that class, inherit-only for others.
        (
            "inherited object type matches",
            format!("D:(OA;CIIO;RP;;{USER};RU)"),
            USER,
            format!("{creator}AI(OA;CIID;RP;;{USER};RU)"),
        ),
        (
            "inherited object type differs",
            format!("D:(OA;CIIO;RP;;{USER};RU)"),
            GROUP,
            format!("{creator}AI(OA;CIIOID;RP;;{USER};RU)"),
        ),
        (
            "inherited object type differs, no propagate",
            format!("D:(OA;CINPIO;RP;;{USER};RU)"),
            GROUP,
            format!("{creator}AI"),
        ),
        // Object inherit alone only passes on (AD objects are containers).
        (
            "object inherit",
            "D:(A;OI;RP;;;AU)".into(),
            USER,
            format!("{creator}AI(A;OIIOID;RP;;;AU)"),
        ),
        (
            "object inherit, no propagate",
            "D:(A;OINP;RP;;;AU)".into(),
            USER,
            format!("{creator}AI"),
        ),
        // Generic rights: mapped on the effective copy, kept on the inherit-only one.
        (
            "generic",
            "D:(A;CI;GA;;;DA)".into(),
            USER,
            format!("{creator}AI(A;ID;0xf01ff;;;DA)(A;CIIOID;GA;;;DA)"),
        ),
        // Audit ACEs in the SACL inherit the same way.
        (
            "SACL",
            "S:(AU;CISA;WP;;;WD)".into(),
            USER,
            format!("{creator}AIS:AI(AU;CIIDSA;WP;;;WD)"),
        ),
    ];
    for (name, parent, class, expected) in cases {
        let explicit = sd(&creator);
        let parent_sd = sd(&parent);
        let child = inherit(
            &explicit,
            Some(&parent_sd),
            &guid(class),
            &domain_admins(),
            &domain_admins(),
        );
        assert_eq!(
            child,
            sd(&expected),
            "{name}: got {}",
            child.to_sddl(&context())
        );
    }
}

#[test]
fn explicit_descriptor_rules() {
    let parent = sd("D:(A;CI;RP;;;AU)");
    let child = |explicit: &str| {
        inherit(
            &sd(explicit),
            Some(&parent),
            &guid(USER),
            &domain_admins(),
            &domain_admins(),
        )
        .to_sddl(&context())
    };
    // A protected DACL inherits nothing.
    assert_eq!(child("D:P(A;;RP;;;WD)"), "O:DAG:DAD:PAI(A;;RP;;;WD)");
    // Explicit ACEs marked inherited are dropped; denies go first; owner and group are kept.
    assert_eq!(
        child("O:BAG:BAD:(A;;WP;;;WD)(A;ID;RC;;;WD)(D;;DT;;;WD)"),
        "O:BAG:BAD:AI(D;;DT;;;WD)(A;;WP;;;WD)(A;CIID;RP;;;AU)"
    );
    // An explicit CREATOR OWNER ACE names the owner; inheritable, it keeps a copy for children.
    assert_eq!(
        child("D:(A;CI;WP;;;CO)"),
        "O:DAG:DAD:AI(A;;WP;;;DA)(A;CIIO;WP;;;CO)(A;CIID;RP;;;AU)"
    );
    // No parent, no explicit DACL: no DACL.
    let bare = inherit(
        &SecurityDescriptor::default(),
        None,
        &guid(USER),
        &domain_admins(),
        &domain_admins(),
    );
    assert_eq!(bare.dacl, None);
    assert_eq!(bare.owner, Some(domain_admins()));
}

#[test]
fn three_levels_deep() {
    // Domain head -> RegisteredDevices -> device: CI ACEs reach the grandchild, NP ones do not.
    let head = sd("D:(A;CI;RP;;;AU)(A;CINP;LC;;;RU)");
    let container_default = sd(class_default("msDS-DeviceContainer"));
    let device_default = sd(class_default("msDS-Device"));
    let admins = domain_admins();
    let container = inherit(
        &container_default,
        Some(&head),
        &guid(MS_DS_DEVICE_CONTAINER),
        &admins,
        &admins,
    );
    let device = inherit(
        &device_default,
        Some(&container),
        &guid(MS_DS_DEVICE),
        &admins,
        &admins,
    );
    let inherited: Vec<String> = device
        .dacl
        .iter()
        .flat_map(|acl| acl.aces.iter())
        .filter(|ace| ace.is_inherited())
        .map(|ace| format!("{:?} {}", ace.flags, ace.sid))
        .collect();
    assert_eq!(
        inherited,
        vec![format!("AceFlags(0x12 CIID) {}", Sid::AUTHENTICATED_USERS)]
    );
}

#[test]
fn inherit_again_is_the_sd_propagator() {
    // The simulator re-inherits a subtree when a container's DACL changes by passing the
    // child's stored descriptor as the explicit one: inherited ACEs are replaced, explicit
    // ones kept, and doing it twice changes nothing.
    let admins = domain_admins();
    let class = guid(MS_DS_DEVICE);
    let with_creator_owner = format!("{}(A;CI;WP;;;CO)(D;;DT;;;WD)", class_default("msDS-Device"));
    for default_text in [class_default("msDS-Device"), with_creator_owner.as_str()] {
        let default = sd(default_text);
        let before = sd(&format!(
            "D:(A;CI;RPWPCCDCLCLORCSDDTSW;;;{})(A;CIIO;SD;;;CO)",
            connector()
        ));
        let after = sd("D:(A;CI;RP;;;AU)(OA;CIIO;WP;;bf967aba-0de6-11d0-a285-00aa003049e2;RU)");
        let child = inherit(&default, Some(&before), &class, &admins, &admins);
        let again = inherit(&child, Some(&before), &class, &admins, &admins);
        assert_eq!(again, child, "idempotent for {default_text}");
        let moved = inherit(&child, Some(&after), &class, &admins, &admins);
        assert_eq!(
            moved,
            inherit(&default, Some(&after), &class, &admins, &admins),
            "{default_text}"
        );
    }
}

proptest::proptest! {
    #[test]
    fn inheriting_twice_changes_nothing(
        explicit in super::sddl::any_sd(false),
        parent in super::sddl::any_sd(false),
        class in proptest::prelude::any::<u128>(),
    ) {
        let admins = domain_admins();
        let class = devwb_model::Guid::from_u128(class);
        let child = inherit(&explicit, Some(&parent), &class, &admins, &admins);
        let again = inherit(&child, Some(&parent), &class, &admins, &admins);
        proptest::prop_assert_eq!(&again, &child);
        proptest::prop_assert!(child.dacl.as_ref().is_none_or(|acl| acl.is_canonical()));
    }
}
