//! The access check, as table cases: descriptor, token, desired rights, object types, result.

use super::{connector, domain, guid, sd, CONTAINER, MS_DS_DEVICE, USER};
use devwb_model::sd::{access_check, AccessMask, ObjectTypeList, Token};
use devwb_model::Sid;

const PROPERTY_SET: &str = "e45795b3-9455-11d1-aebd-0000f80367c1";
const ATTRIBUTE_A: &str = "bf967950-0de6-11d0-a285-00aa003049e2";
const ATTRIBUTE_B: &str = "bf967953-0de6-11d0-a285-00aa003049e2";
const LONE_ATTRIBUTE: &str = "28630ebf-41d5-11d1-a9c1-0000f80367c1";

fn alice() -> Sid {
    domain().with_rid(1200)
}

fn token() -> Token {
    Token::authenticated(alice(), [domain().with_rid(513)])
}

/// A user object's type list: class, one property set of two attributes, one lone attribute.
fn user_types() -> ObjectTypeList {
    ObjectTypeList::class(guid(USER))
        .with_property_set(guid(PROPERTY_SET), &[guid(ATTRIBUTE_A), guid(ATTRIBUTE_B)])
        .with_attribute(guid(LONE_ATTRIBUTE))
}

/// One case: whole-object result and, per listed node, whether it is granted.
struct Case<'a> {
    name: &'a str,
    sddl: &'a str,
    desired: AccessMask,
    whole: bool,
    nodes: &'a [(&'a str, bool)],
}

fn check(case: &Case<'_>, token: &Token, principal_self: Option<&Sid>) {
    let descriptor = sd(case.sddl);
    let result = access_check(
        &descriptor,
        token,
        case.desired,
        &user_types(),
        principal_self,
    );
    assert_eq!(
        result.is_granted(),
        case.whole,
        "{}: whole object, granted {:?}",
        case.name,
        result.granted()
    );
    for (node, expected) in case.nodes {
        assert_eq!(
            result.is_granted_for(&guid(node)),
            *expected,
            "{}: node {node}",
            case.name
        );
    }
}

#[test]
fn dacl_walk_cases() {
    let rp = AccessMask::READ_PROPERTY;
    let wp = AccessMask::WRITE_PROPERTY;
    let cases = [
        Case {
            name: "no DACL grants all",
            sddl: "O:DA",
            desired: AccessMask(0xF01FF),
            whole: true,
            nodes: &[],
        },
        Case {
            name: "empty DACL denies",
            sddl: "O:DAD:",
            desired: rp,
            whole: false,
            nodes: &[(ATTRIBUTE_A, false)],
        },
        Case {
            name: "allow",
            sddl: "D:(A;;RP;;;AU)",
            desired: rp,
            whole: true,
            nodes: &[(ATTRIBUTE_A, true)],
        },
        Case {
            name: "allow then deny",
            sddl: "D:(A;;RP;;;AU)(D;;RP;;;AU)",
            desired: rp,
            whole: true,
            nodes: &[],
        },
        Case {
            name: "deny then allow",
            sddl: "D:(D;;RP;;;AU)(A;;RP;;;AU)",
            desired: rp,
            whole: false,
            nodes: &[(ATTRIBUTE_A, false)],
        },
        Case {
            name: "bits from two ACEs",
            sddl: "D:(A;;RP;;;AU)(A;;WP;;;WD)",
            desired: rp | wp,
            whole: true,
            nodes: &[],
        },
        Case {
            name: "deny of one wanted bit",
            sddl: "D:(D;;WP;;;WD)(A;;RPWP;;;AU)",
            desired: rp | wp,
            whole: false,
            nodes: &[],
        },
        Case {
            name: "deny of an unwanted bit",
            sddl: "D:(D;;WP;;;WD)(A;;RPWP;;;AU)",
            desired: rp,
            whole: true,
            nodes: &[],
        },
        Case {
            name: "other SID",
            sddl: "D:(A;;RP;;;BA)",
            desired: rp,
            whole: false,
            nodes: &[],
        },
        Case {
            name: "inherit-only is skipped",
            sddl: "D:(A;CIIO;RP;;;AU)",
            desired: rp,
            whole: false,
            nodes: &[],
        },
        Case {
            name: "CI without IO applies here",
            sddl: "D:(A;CI;RP;;;AU)",
            desired: rp,
            whole: true,
            nodes: &[],
        },
        Case {
            name: "generic ACE",
            sddl: "D:(A;;GA;;;AU)",
            desired: AccessMask(0x300FF),
            whole: true,
            nodes: &[],
        },
        Case {
            name: "generic request",
            sddl: "D:(A;;RPLCLORC;;;AU)",
            desired: AccessMask::GENERIC_READ,
            whole: true,
            nodes: &[],
        },
        Case {
            name: "generic request, part missing",
            sddl: "D:(A;;RPLC;;;AU)",
            desired: AccessMask::GENERIC_READ,
            whole: false,
            nodes: &[],
        },
        Case {
            name: "attribute grant reaches only that attribute",
            sddl: &format!("D:(OA;;WP;{ATTRIBUTE_A};;AU)"),
            desired: wp,
            whole: false,
            nodes: &[
                (ATTRIBUTE_A, true),
                (ATTRIBUTE_B, false),
                (PROPERTY_SET, false),
                (LONE_ATTRIBUTE, false),
            ],
        },
        Case {
            name: "property set grant covers its attributes",
            sddl: &format!("D:(OA;;WP;{PROPERTY_SET};;AU)"),
            desired: wp,
            whole: false,
            nodes: &[
                (ATTRIBUTE_A, true),
                (ATTRIBUTE_B, true),
                (PROPERTY_SET, true),
                (LONE_ATTRIBUTE, false),
            ],
        },
        Case {
            name: "grants on every child grant the parent",
            sddl: &format!("D:(OA;;WP;{PROPERTY_SET};;AU)(OA;;WP;{LONE_ATTRIBUTE};;AU)"),
            desired: wp,
            whole: true,
            nodes: &[(ATTRIBUTE_A, true), (LONE_ATTRIBUTE, true)],
        },
        Case {
            name: "a deny on an attribute denies its ancestors",
            sddl: &format!("D:(OD;;WP;{ATTRIBUTE_A};;AU)(A;;WP;;;AU)"),
            desired: wp,
            whole: false,
            nodes: &[
                (ATTRIBUTE_A, false),
                (ATTRIBUTE_B, true),
                (PROPERTY_SET, false),
                (LONE_ATTRIBUTE, true),
            ],
        },
        Case {
            name: "a class grant covers everything",
            sddl: &format!("D:(OA;;WP;{USER};;AU)"),
            desired: wp,
            whole: true,
            nodes: &[(ATTRIBUTE_A, true), (LONE_ATTRIBUTE, true)],
        },
        Case {
            name: "an object ACE for a GUID not in the list is ignored",
            sddl: &format!("D:(OD;;WP;{CONTAINER};;AU)(A;;WP;;;AU)"),
            desired: wp,
            whole: true,
            nodes: &[],
        },
        Case {
            name: "an object ACE without object type applies to all",
            sddl: &format!("D:(OA;;WP;;{USER};AU)"),
            desired: wp,
            whole: true,
            nodes: &[],
        },
    ];
    for case in &cases {
        check(case, &token(), None);
    }
}

#[test]
fn the_owner_may_always_read_and_write_the_dacl() {
    let owner_sddl = format!("O:{}D:(D;;WDRC;;;WD)", alice());
    let descriptor = sd(&owner_sddl);
    let implied = AccessMask::READ_CONTROL | AccessMask::WRITE_DAC;
    let object = ObjectTypeList::object();
    assert!(access_check(&descriptor, &token(), implied, &object, None).is_granted());
    assert!(!access_check(
        &descriptor,
        &token(),
        AccessMask::WRITE_OWNER,
        &object,
        None
    )
    .is_granted());
    // Not the owner: the deny applies.
    let other = Token::authenticated(domain().with_rid(1300), []);
    assert!(
        !access_check(&descriptor, &other, AccessMask::READ_CONTROL, &object, None).is_granted()
    );
    // An empty DACL leaves the owner exactly the implied rights.
    let empty = sd(&format!("O:{}D:", alice()));
    let result = access_check(&empty, &token(), AccessMask(0xF01FF), &object, None);
    assert_eq!(result.granted(), implied);
    // OWNER RIGHTS in the DACL replaces the implied rights.
    let owner_rights = sd(&format!("O:{}D:(A;;RC;;;OW)", alice()));
    assert!(!access_check(
        &owner_rights,
        &token(),
        AccessMask::WRITE_DAC,
        &object,
        None
    )
    .is_granted());
    // ... and applies to the owner.
    let result = access_check(&owner_rights, &token(), AccessMask(0xF01FF), &object, None);
    assert_eq!(result.granted(), AccessMask::READ_CONTROL);
    let other = Token::authenticated(domain().with_rid(1300), []);
    let result = access_check(&owner_rights, &other, AccessMask(0xF01FF), &object, None);
    assert_eq!(result.granted(), AccessMask::NONE);
}

#[test]
fn principal_self_matches_only_the_object_itself() {
    let case = Case {
        name: "PS",
        sddl: "D:(A;;WP;;;PS)",
        desired: AccessMask::WRITE_PROPERTY,
        whole: true,
        nodes: &[],
    };
    check(&case, &token(), Some(&alice()));
    let other = domain().with_rid(1300);
    let denied = Case {
        whole: false,
        ..case
    };
    check(&denied, &token(), Some(&other));
    check(&denied, &token(), None);
}

#[test]
fn anonymous_is_not_authenticated_users() {
    let descriptor = sd("D:(A;;RP;;;AU)(A;;LC;;;AN)");
    let object = ObjectTypeList::object();
    assert!(!access_check(
        &descriptor,
        &Token::anonymous(),
        AccessMask::READ_PROPERTY,
        &object,
        None
    )
    .is_granted());
    assert!(access_check(
        &descriptor,
        &Token::anonymous(),
        AccessMask::LIST_CONTENTS,
        &object,
        None
    )
    .is_granted());
}

#[test]
fn connector_can_create_devices_only_where_granted() {
    // CN=RegisteredDevices after prepare: the class default plus the connector ACE.
    let container = sd(&format!(
        "O:DAG:DAD:AI(A;;RPLCLORC;;;AU)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;CI;RPWPCCDCLCLORCSDDTSW;;;{})",
        connector()
    ));
    let connector_token = Token::authenticated(connector(), [domain().with_rid(513)]);
    let create_device = ObjectTypeList::class(guid(MS_DS_DEVICE));
    let result = access_check(
        &container,
        &connector_token,
        AccessMask::CREATE_CHILD,
        &create_device,
        None,
    );
    assert!(result.is_granted());
    assert!(access_check(
        &container,
        &connector_token,
        AccessMask::WRITE_PROPERTY,
        &ObjectTypeList::object(),
        None
    )
    .is_granted());
    // Another user of the domain cannot.
    assert!(!access_check(
        &container,
        &token(),
        AccessMask::CREATE_CHILD,
        &create_device,
        None
    )
    .is_granted());
    // A container elsewhere with only the class default: the connector gets 50.
    let elsewhere = sd("D:(A;;RPLCLORC;;;AU)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)");
    assert!(!access_check(
        &elsewhere,
        &connector_token,
        AccessMask::CREATE_CHILD,
        &create_device,
        None
    )
    .is_granted());
    // A grant limited to creating users does not allow devices.
    let users_only = sd(&format!("D:(OA;;CC;{USER};;{})", connector()));
    assert!(!access_check(
        &users_only,
        &connector_token,
        AccessMask::CREATE_CHILD,
        &create_device,
        None
    )
    .is_granted());
}
