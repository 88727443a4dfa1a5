//! SDDL parsing and formatting.

use super::{connector, context, default_descriptors, domain, guid, root_domain, sd, MS_DS_DEVICE};
use devwb_model::sd::{
    format_rights, parse_rights, sid_alias, AccessMask, Ace, AceFlags, AceType, Acl, Control,
    SdError, SddlContext, SecurityDescriptor, SID_ALIASES,
};
use devwb_model::Sid;
use proptest::prelude::*;
use std::collections::BTreeSet;

#[test]
fn every_default_descriptor_of_the_schema_parses_and_round_trips() {
    let descriptors = default_descriptors();
    assert!(
        descriptors.len() > 250,
        "only {} descriptors",
        descriptors.len()
    );
    let mut aliases_seen = BTreeSet::new();
    for (class, text) in &descriptors {
        let parsed = SecurityDescriptor::from_sddl(text, &context())
            .unwrap_or_else(|error| panic!("{class}: {error}"));
        assert!(parsed.dacl.is_some(), "{class} has a DACL");
        let formatted = parsed.to_sddl(&context());
        let again =
            SecurityDescriptor::from_sddl(&formatted, &context()).expect("our own output parses");
        assert_eq!(again, parsed, "{class}: {formatted}");
        let bytes = parsed.to_bytes().expect("encodes");
        assert_eq!(
            SecurityDescriptor::from_bytes(&bytes),
            Ok(parsed.clone()),
            "{class}"
        );
        for ace in parsed
            .dacl
            .iter()
            .chain(parsed.sacl.iter())
            .flat_map(|acl| acl.aces.iter())
        {
            if let Some(alias) = sid_alias(&ace.sid, &context()) {
                aliases_seen.insert(alias);
            }
        }
    }
    // Every alias the schema uses resolves (the list is what `grep` of the LDFs finds).
    for alias in [
        "AO", "AU", "BA", "CA", "CO", "DA", "DD", "DU", "EA", "ED", "PA", "PO", "PS", "RS", "RU",
        "SY", "WD",
    ] {
        assert!(
            aliases_seen.contains(alias),
            "{alias} not seen: {aliases_seen:?}"
        );
    }
}

#[test]
fn device_class_defaults_are_what_microsoft_publishes() {
    let find = |class: &str| {
        default_descriptors()
            .into_iter()
            .find(|(name, _)| *name == class)
            .map(|(_, text)| sd(text))
            .expect("class in the schema")
    };
    let full = AccessMask(0xF01FF);
    let read = AccessMask::READ_PROPERTY
        | AccessMask::LIST_CONTENTS
        | AccessMask::LIST_OBJECT
        | AccessMask::READ_CONTROL;
    let expected = |admins: Sid| SecurityDescriptor {
        dacl: Some(Acl::from_aces(vec![
            Ace::allow(Sid::AUTHENTICATED_USERS, read, AceFlags::NONE),
            Ace::allow(admins, full, AceFlags::NONE),
            Ace::allow(Sid::LOCAL_SYSTEM, full, AceFlags::NONE),
        ])),
        ..SecurityDescriptor::default()
    };
    assert_eq!(find("msDS-Device"), expected(domain().with_rid(512)));
    assert_eq!(
        find("msDS-DeviceContainer"),
        expected(domain().with_rid(512))
    );
    assert_eq!(
        find("msDS-DeviceRegistrationService"),
        expected(root_domain().with_rid(519))
    );
}

#[test]
fn connector_aces_have_the_documented_masks() {
    let cases = [
        (
            "(A;CI;RPWPCCDCLCLORCSDDTSW;;;{sid})",
            0x000300FF,
            "GRGWCCDCSDDT",
        ),
        ("(A;CI;RPWPLCLORCSW;;;{sid})", 0x000200BC, "GRGW"),
    ];
    for (template, mask, dsacls) in cases {
        let text = format!("D:{}", template.replace("{sid}", &connector().to_string()));
        let parsed = sd(&text);
        let ace = parsed
            .dacl
            .as_ref()
            .and_then(|acl| acl.aces.first())
            .expect("one ACE");
        assert_eq!(ace.mask, AccessMask(mask), "{text}");
        assert_eq!(ace.flags, AceFlags::CONTAINER_INHERIT);
        assert_eq!(ace.sid, connector());
        assert_eq!(
            parse_rights(dsacls).map(AccessMask::map_generic),
            Some(AccessMask(mask))
        );
    }
}

#[test]
fn formatting_uses_aliases_and_windows_rights_order() {
    let text = format!(
        "O:DAG:DAD:PAI(D;;WP;;;WD)(A;CI;RPWPCCDCLCLORCSDDTSW;;;{})(OA;CIIO;RP;{MS_DS_DEVICE};;EA)(A;;0x1000000;;;S-1-5-21-9-9-9-1)S:(AU;SAFA;WDWO;;;WD)",
        connector()
    );
    let expected = format!(
        "O:DAG:DAD:PAI(D;;WP;;;WD)(A;CI;CCDCLCSWRPWPDTLOSDRC;;;{})(OA;CIIO;RP;{MS_DS_DEVICE};;EA)(A;;0x1000000;;;S-1-5-21-9-9-9-1)S:(AU;SAFA;WDWO;;;WD)",
        connector()
    );
    assert_eq!(sd(&text).to_sddl(&context()), expected);
    // Without a domain, domain groups are written as SIDs.
    let plain = sd("O:DAD:(A;;RP;;;EA)").to_sddl(&SddlContext::without_domain());
    assert_eq!(
        plain,
        format!(
            "O:{}D:(A;;RP;;;{})",
            domain().with_rid(512),
            root_domain().with_rid(519)
        )
    );
}

#[test]
fn parsing_accepts_what_ad_strings_contain() {
    // Repeated rights codes (`LOLO`, `DTDT` occur in the schema), uppercase GUIDs, hex and
    // decimal rights, empty DACL, NULL DACL, SIDs as strings for owner and group.
    let cases: &[(&str, SecurityDescriptor)] = &[
        (
            "D:(A;;LCLOLO;;;AU)",
            SecurityDescriptor {
                dacl: Some(Acl::from_aces(vec![Ace::allow(
                    Sid::AUTHENTICATED_USERS,
                    AccessMask(0x84),
                    AceFlags::NONE,
                )])),
                ..SecurityDescriptor::default()
            },
        ),
        (
            "D:(OA;;RP;77B5B886-944A-11d1-AEBD-0000F80367C1;;PS)",
            SecurityDescriptor {
                dacl: Some(Acl::from_aces(vec![Ace::allow(
                    Sid::PRINCIPAL_SELF,
                    AccessMask::READ_PROPERTY,
                    AceFlags::NONE,
                )
                .with_object_type(guid("77b5b886-944a-11d1-aebd-0000f80367c1"))])),
                ..SecurityDescriptor::default()
            },
        ),
        (
            "D:(A;OICI;0x300ff;;;WD)(A;;16;;;AU)",
            SecurityDescriptor {
                dacl: Some(Acl::from_aces(vec![
                    Ace::allow(Sid::EVERYONE, AccessMask(0x300FF), AceFlags(0x3)),
                    Ace::allow(Sid::AUTHENTICATED_USERS, AccessMask(16), AceFlags::NONE),
                ])),
                ..SecurityDescriptor::default()
            },
        ),
        (
            "O:S-1-5-32-544G:S-1-5-18D:",
            SecurityDescriptor {
                owner: Some(Sid::BUILTIN_ADMINISTRATORS),
                group: Some(Sid::LOCAL_SYSTEM),
                dacl: Some(Acl::new()),
                ..SecurityDescriptor::default()
            },
        ),
        (
            // Whatever the binary form can hold, SDDL carries: an audit ACE in a DACL too.
            "D:(AU;SA;RP;;;AU)",
            SecurityDescriptor {
                dacl: Some(Acl::from_aces(vec![Ace::new(
                    AceType::SystemAudit,
                    AceFlags::SUCCESSFUL_ACCESS,
                    AccessMask::READ_PROPERTY,
                    Sid::AUTHENTICATED_USERS,
                )])),
                ..SecurityDescriptor::default()
            },
        ),
        (
            // Two schema strings (msSPP-*) have a space after `D:`.
            "O:BAG:BA D: (A;;RP;;;AU) ",
            SecurityDescriptor {
                owner: Some(Sid::BUILTIN_ADMINISTRATORS),
                group: Some(Sid::BUILTIN_ADMINISTRATORS),
                dacl: Some(Acl::from_aces(vec![Ace::allow(
                    Sid::AUTHENTICATED_USERS,
                    AccessMask::READ_PROPERTY,
                    AceFlags::NONE,
                )])),
                ..SecurityDescriptor::default()
            },
        ),
        (
            "D:NO_ACCESS_CONTROLS:",
            SecurityDescriptor {
                sacl: Some(Acl::new()),
                ..SecurityDescriptor::default()
            },
        ),
        (
            "S:ARAI(OU;CISA;WP;f30e3bbe-9ff0-11d1-b603-0000f80367c1;bf967aa5-0de6-11d0-a285-00aa003049e2;WD)",
            SecurityDescriptor {
                control: Control::SACL_AUTO_INHERIT_REQ.with(Control::SACL_AUTO_INHERITED),
                sacl: Some(Acl::from_aces(vec![Ace {
                    ace_type: AceType::SystemAuditObject,
                    flags: AceFlags(0x42),
                    mask: AccessMask::WRITE_PROPERTY,
                    object_type: Some(guid("f30e3bbe-9ff0-11d1-b603-0000f80367c1")),
                    inherited_object_type: Some(guid("bf967aa5-0de6-11d0-a285-00aa003049e2")),
                    sid: Sid::EVERYONE,
                }])),
                ..SecurityDescriptor::default()
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(&sd(text), expected, "{text}");
    }
}

/// One rejected input: the position and token the error must name.
fn check_error(text: &str, context: &SddlContext, position: usize, token: &str, reason: &str) {
    match SecurityDescriptor::from_sddl(text, context) {
        Err(SdError::Sddl {
            position: got_position,
            token: got_token,
            reason: got_reason,
        }) => {
            assert_eq!(
                (got_position, got_token.as_str()),
                (position, token),
                "{text}: {got_reason}"
            );
            assert!(got_reason.contains(reason), "{text}: {got_reason}");
        }
        other => panic!("{text} gave {other:?}"),
    }
}

#[test]
fn malformed_sddl_names_the_token_and_position() {
    let ctx = context();
    let guid_text = MS_DS_DEVICE;
    // A GUID on a plain ACE type is an error, never dropped.
    check_error(
        &format!("D:(A;;RP;{guid_text};;AU)"),
        &ctx,
        9,
        guid_text,
        "OA",
    );
    check_error(
        &format!("D:(D;;RP;;{guid_text};AU)"),
        &ctx,
        10,
        guid_text,
        "OD",
    );
    check_error(
        &format!("S:(AU;SA;RP;{guid_text};;AU)"),
        &ctx,
        12,
        guid_text,
        "OU",
    );
    check_error(
        "D:(OA;;RP;not-a-guid;;AU)",
        &ctx,
        10,
        "not-a-guid",
        "invalid GUID",
    );
    check_error("D:(X;;RP;;;AU)", &ctx, 3, "X", "unsupported ACE type");
    check_error("D:(XA;;RP;;;AU)", &ctx, 3, "XA", "unsupported ACE type");
    check_error("D:(A;QQ;RP;;;AU)", &ctx, 5, "QQ", "ACE flags");
    check_error("D:(A;;RPX;;;AU)", &ctx, 6, "RPX", "rights");
    check_error("D:(A;;ZZ;;;AU)", &ctx, 6, "ZZ", "rights");
    check_error("D:(A;;RP;;;ZZ)", &ctx, 11, "ZZ", "not a SID alias");
    check_error("D:(A;;RP;;;S-1-5-x)", &ctx, 11, "S-1-5-x", "invalid SID");
    check_error("D:(A;;RP;;AU)", &ctx, 2, "(A;;RP;;AU)", "6 fields");
    check_error("D:(A;;RP;;;AU;x)", &ctx, 2, "(A;;RP;;;AU;x)", "6 fields");
    check_error("D:(A;;RP;;;AU", &ctx, 2, "(A;;RP;;;AU", "closing");
    check_error(
        "D:(A;;RP;;;AU)x",
        &ctx,
        14,
        "x",
        "expected O:, G:, D: or S:",
    );
    check_error("D:Q(A;;RP;;;AU)", &ctx, 2, "Q", "ACL flag");
    check_error("D:D:", &ctx, 2, "D:", "twice");
    check_error("O:", &ctx, 2, "", "expected a SID");
    check_error(
        "D:NO_ACCESS_CONTROL(A;;RP;;;AU)",
        &ctx,
        31,
        "NO_ACCESS_CONTROL",
        "NULL ACL",
    );
    // Domain aliases need the domain.
    let bare = SddlContext::without_domain();
    check_error("D:(A;;RP;;;DA)", &bare, 11, "DA", "domain SID");
    check_error("O:EA", &bare, 2, "EA", "root domain SID");
}

#[test]
fn every_alias_resolves_and_formats_back() {
    let ctx = context();
    let mut seen = BTreeSet::new();
    for (alias, _) in SID_ALIASES {
        assert!(seen.insert(*alias), "{alias} twice");
        let parsed = sd(&format!("O:{alias}"));
        let owner = parsed.owner.expect("owner");
        assert_eq!(sid_alias(&owner, &ctx), Some(*alias), "{alias} = {owner}");
    }
    let expected = [
        ("DA", domain().with_rid(512)),
        ("DU", domain().with_rid(513)),
        ("DC", domain().with_rid(515)),
        ("DD", domain().with_rid(516)),
        ("CA", domain().with_rid(517)),
        ("PA", domain().with_rid(520)),
        ("CN", domain().with_rid(522)),
        ("RS", domain().with_rid(553)),
        ("SA", root_domain().with_rid(518)),
        ("EA", root_domain().with_rid(519)),
        ("RO", root_domain().with_rid(498)),
        ("WD", Sid::EVERYONE),
        ("CO", Sid::CREATOR_OWNER),
        ("AU", Sid::AUTHENTICATED_USERS),
        ("SY", Sid::LOCAL_SYSTEM),
        ("PS", Sid::PRINCIPAL_SELF),
        ("ED", Sid::ENTERPRISE_DOMAIN_CONTROLLERS),
        ("BA", Sid::BUILTIN_ADMINISTRATORS),
        ("AO", Sid::ACCOUNT_OPERATORS),
        ("PO", Sid::PRINT_OPERATORS),
        ("RU", Sid::PRE_WINDOWS_2000_COMPATIBLE_ACCESS),
        ("NU", Sid::NETWORK),
    ];
    for (alias, sid) in expected {
        assert_eq!(sd(&format!("O:{alias}")).owner, Some(sid), "{alias}");
    }
}

#[test]
fn flags_of_a_null_dacl_survive_formatting() {
    // Found by cargo-fuzz: `D:PNO_ACCESS_CONTROL` lost its P when formatted.
    let parsed = sd("D:PNO_ACCESS_CONTROL");
    assert_eq!(parsed.dacl, None);
    assert!(parsed.is_dacl_protected());
    assert_eq!(parsed.to_sddl(&context()), "D:PNO_ACCESS_CONTROL");
}

#[test]
fn rights_strings() {
    assert_eq!(format_rights(AccessMask(0x300FF)), "CCDCLCSWRPWPDTLOSDRC");
    assert_eq!(
        format_rights(AccessMask(0xF01FF)),
        "CCDCLCSWRPWPDTLOCRSDRCWDWO"
    );
    assert_eq!(
        format_rights(AccessMask::GENERIC_READ | AccessMask::GENERIC_WRITE),
        "GWGR"
    );
    assert_eq!(format_rights(AccessMask(0x100000)), "0x100000");
    assert_eq!(format_rights(AccessMask::NONE), "");
    assert_eq!(
        parse_rights("GA").map(AccessMask::map_generic),
        Some(AccessMask::DS_GENERIC_ALL)
    );
    assert_eq!(
        parse_rights("GR").map(AccessMask::map_generic),
        Some(AccessMask(0x20094))
    );
    assert_eq!(
        parse_rights("GW").map(AccessMask::map_generic),
        Some(AccessMask(0x20028))
    );
    assert_eq!(
        parse_rights("GX").map(AccessMask::map_generic),
        Some(AccessMask(0x20004))
    );
    assert_eq!(parse_rights("0x"), None);
    assert_eq!(parse_rights("R"), None);
    assert_eq!(parse_rights("0x100000000"), None);
}

/// SIDs for generated descriptors: aliases of every kind and plain domain accounts.
pub fn any_sid() -> impl Strategy<Value = Sid> {
    prop_oneof![
        Just(Sid::EVERYONE),
        Just(Sid::AUTHENTICATED_USERS),
        Just(Sid::CREATOR_OWNER),
        Just(Sid::PRINCIPAL_SELF),
        Just(domain().with_rid(512)),
        Just(root_domain().with_rid(519)),
        (1000u32..5000).prop_map(|rid| domain().with_rid(rid)),
        super::super::sid::any_sid(),
    ]
}

fn any_guid() -> impl Strategy<Value = devwb_model::Guid> {
    any::<u128>().prop_map(devwb_model::Guid::from_u128)
}

/// Any ACE of the supported types, for a DACL (`audit` false) or a SACL.
pub fn any_ace(audit: bool) -> impl Strategy<Value = Ace> {
    let types = if audit {
        vec![AceType::SystemAudit, AceType::SystemAuditObject]
    } else {
        vec![
            AceType::AccessAllowed,
            AceType::AccessDenied,
            AceType::AccessAllowedObject,
            AceType::AccessDeniedObject,
        ]
    };
    (
        prop::sample::select(types),
        any::<u8>(),
        any::<u32>(),
        prop::option::of(any_guid()),
        prop::option::of(any_guid()),
        any_sid(),
    )
        .prop_map(
            |(ace_type, flags, mask, object_type, inherited_object_type, sid)| {
                let (object_type, inherited_object_type) = if ace_type.is_object() {
                    (object_type, inherited_object_type)
                } else {
                    (None, None)
                };
                Ace {
                    ace_type,
                    flags: AceFlags(flags),
                    mask: AccessMask(mask),
                    object_type,
                    inherited_object_type,
                    sid,
                }
            },
        )
}

/// Any descriptor our model can hold. Control bits are the ones SDDL can express when
/// `sddl_only`.
pub fn any_sd(sddl_only: bool) -> impl Strategy<Value = SecurityDescriptor> {
    let control_mask: u16 = if sddl_only { 0x3F00 } else { 0xFFFF };
    (
        any::<u16>(),
        prop::option::of(any_sid()),
        prop::option::of(any_sid()),
        prop::option::of(prop::collection::vec(any_ace(false), 0..8)),
        prop::option::of(prop::collection::vec(any_ace(true), 0..4)),
    )
        .prop_map(move |(control, owner, group, dacl, sacl)| {
            let control = Control(control & control_mask)
                .without(Control::SELF_RELATIVE)
                .without(Control::DACL_PRESENT)
                .without(Control::SACL_PRESENT);
            SecurityDescriptor {
                control,
                owner,
                group,
                dacl: dacl.map(Acl::from_aces),
                sacl: sacl.map(Acl::from_aces),
            }
        })
}

proptest! {
    #[test]
    fn format_then_parse_round_trips(sd in any_sd(true)) {
        let text = sd.to_sddl(&context());
        prop_assert_eq!(SecurityDescriptor::from_sddl(&text, &context()), Ok(sd), "{}", text);
    }

    #[test]
    fn parsing_any_text_never_panics(text in "[OGDS:()A-Z0-9;x-]{0,60}|\\PC{0,60}") {
        if let Ok(sd) = SecurityDescriptor::from_sddl(&text, &context()) {
            let again = SecurityDescriptor::from_sddl(&sd.to_sddl(&context()), &context());
            prop_assert_eq!(again, Ok(sd));
        }
    }
}

#[test]
fn an_ace_with_a_named_trustee_keeps_the_sddl_shape() {
    let ace = Ace {
        ace_type: AceType::AccessAllowed,
        flags: AceFlags::CONTAINER_INHERIT,
        mask: AccessMask(0x0002_00BC),
        object_type: None,
        inherited_object_type: None,
        sid: Sid::parse("S-1-5-21-1-2-3-1105").unwrap(),
    };
    assert_eq!(
        devwb_model::sd::format_ace_with_trustee(&ace, "CONTOSO\\svc (S-1-5-21-1-2-3-1105)"),
        "(A;CI;LCSWRPWPLORC;;;CONTOSO\\svc (S-1-5-21-1-2-3-1105))"
    );
    // An ACE with an object type is written as the object type, as to_sddl writes it.
    let object_ace = Ace {
        object_type: Some(guid(MS_DS_DEVICE)),
        ..ace
    };
    assert_eq!(
        devwb_model::sd::format_ace_with_trustee(&object_ace, "x"),
        format!("(OA;CI;LCSWRPWPLORC;{MS_DS_DEVICE};;x)")
    );
}
