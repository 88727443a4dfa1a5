//! The fuzz checks of devwb-model's parsers, shared by the libFuzzer targets in
//! `fuzz/fuzz_targets/` and by `cargo xtask fuzz` (which includes this file with `#[path]` and
//! drives it with a bounded random loop on stable Rust).
//!
//! Each check feeds arbitrary bytes to one parser. A parser may refuse the input; it must never
//! panic, and whatever it accepts must survive a round trip (format, then parse again, gives the
//! same value). The security descriptors that parse are also run through the access check and
//! inheritance, which must not panic either. A failed round trip panics, which is how both
//! drivers report a finding.
//!
//! `ldap_codec` feeds a client's byte stream to the simulator's framer, decoder and request
//! handler (a forest built once, an administrator's session): whatever happens, nothing panics
//! and every response the server would send decodes as an LDAP message.
//!
//! `export` feeds bytes to writeback's export reader as one Graph page and as JSON Lines, and
//! plans what it read against an empty container: it may report bad records or refuse a broken
//! page, never panic; every record it counts reaches the planner, and an export that is not whole
//! never plans a delete.
//!
//! This file depends on nothing but `devwb_model`, `devwb_simulator`, `devwb_writeback`, rasn and
//! `std`, so that xtask can include it without pulling libFuzzer into the workspace.

use devwb_model::sd::{
    access_check, inherit, AccessMask, ObjectTypeList, SddlContext, SecurityDescriptor, Token,
};
use devwb_model::{Dn, Guid, Sid};
use devwb_simulator::codec::{self, Limits, Undecodable};
use devwb_simulator::handler::{Handler, HandlerConfig, Session};

/// The checks by name, as the fuzz targets are named. Each returns whether its parser accepted
/// the input (the drivers count this to show the inputs reach past the first error).
/// One fuzz check: feeds the bytes to a parser, returns whether it accepted them.
pub type Check = fn(&[u8]) -> bool;

pub const TARGETS: &[(&str, Check)] = &[
    ("dn", dn),
    ("sid", sid),
    ("sddl", sddl),
    ("sd_binary", sd_binary),
    ("ldap_codec", ldap_codec),
    ("export", export),
];

/// A Graph device export (`export`), read as a page and as JSON Lines and planned against an
/// empty container. Returns whether either reading found a device.
pub fn export(data: &[u8]) -> bool {
    use devwb_writeback::{
        DeviceSource, ForestScope, ObservedDevices, PlanOptions, Planner, SourceFormat,
        SourceRecord,
    };
    let container = Dn::parse("CN=RegisteredDevices,DC=contoso,DC=lab").expect("a valid DN");
    let scope = ForestScope {
        domain_sids: vec![Sid::from_parts(5, &[21, 1, 2, 3])],
        schema_level: devwb_model::SchemaLevel::W2016,
    };
    let mut found = false;
    for format in [SourceFormat::GraphPage, SourceFormat::JsonLines] {
        let source = DeviceSource::bundled("fuzz.json", data.to_vec(), format);
        let mut planner = Planner::new(
            ObservedDevices::new(container.clone(), devwb_model::SchemaLevel::W2016),
            scope.clone(),
            PlanOptions::default(),
        );
        let mut seen = 0u64;
        let Ok(summary) = source.for_each(&mut |record| {
            seen += 1;
            found |= matches!(record, SourceRecord::Device(_));
            planner.push(record);
        }) else {
            continue;
        };
        assert_eq!(seen, summary.records, "every counted record is handed out");
        let plan = planner.finish(&summary);
        assert!(
            plan.deletes.is_empty(),
            "nothing observed, nothing to delete"
        );
        assert_eq!(
            plan.counts.adds + plan.counts.skipped + plan.counts.bad_records,
            summary.records,
            "each record is added, skipped or bad"
        );
    }
    found
}

/// The handler every `ldap_codec` input is sent to: one forest for the whole run (inputs may
/// change it, as a client's requests would), deterministic clock and ids.
fn ldap_handler() -> &'static Handler {
    static HANDLER: std::sync::OnceLock<Handler> = std::sync::OnceLock::new();
    HANDLER.get_or_init(|| {
        let forest = devwb_simulator::forest::Forest::build(
            "contoso.lab",
            devwb_model::SchemaLevel::W2016,
            "Fuzz-Admin-Pw1!",
            std::sync::Arc::new(devwb_simulator::clock::FixedClock::at_unix(1_795_568_523)),
            std::sync::Arc::new(devwb_simulator::clock::SeededIds::new(13)),
        )
        .expect("the fuzz forest builds");
        Handler::new(std::sync::Arc::new(forest), HandlerConfig::default())
    })
}

/// Every response the server would send must decode as an LDAP message.
fn assert_decodes(response: &codec::Response) {
    let bytes = codec::encode(response);
    assert!(
        rasn::ber::decode::<rasn_ldap::LdapMessage>(&bytes).is_ok(),
        "the server's own response does not decode: {bytes:02x?}"
    );
}

/// A client's byte stream (`ldap_codec`): framed, decoded and handled as the transport does,
/// bound as the Administrator over TLS. Returns whether a message decoded.
pub fn ldap_codec(data: &[u8]) -> bool {
    let limits = Limits {
        max_message_bytes: 64 * 1024,
        max_nesting: 64,
        ..Limits::default()
    };
    let handler = ldap_handler();
    let mut session = Session::new(true);
    let names = &handler.forest().names;
    session.identity = devwb_simulator::request::Identity {
        dn: Some(names.admin_dn.clone()),
        sid: Some(names.domain_sid.with_rid(500)),
    };
    let mut accepted = false;
    let mut rest = data;
    while let Ok(Some(length)) = codec::frame_length(rest, &limits) {
        let Some((message, after)) = (length <= rest.len()).then(|| rest.split_at(length)) else {
            break;
        };
        match codec::decode(message, &limits) {
            Ok(decoded) => {
                accepted = true;
                for response in handler.handle(&mut session, decoded) {
                    assert_decodes(&response);
                }
            }
            Err(Undecodable::Answer(response)) => {
                // The transport reads a modify rasn cannot decode (RFC 4525 increment) by hand.
                match codec::increment::decode_modify(message) {
                    Some(raw) => assert_decodes(&handler.handle_raw_modify(&session, &raw)),
                    None => assert_decodes(&response),
                }
            }
            Err(Undecodable::Disconnect(notice)) => {
                assert_decodes(&notice);
                break;
            }
        }
        rest = after;
    }
    accepted
}

fn context() -> SddlContext {
    SddlContext::with_root(
        Sid::from_parts(5, &[21, 1_004_336_348, 1_177_238_915, 682_003_330]),
        Sid::from_parts(5, &[21, 11, 22, 33]),
    )
}

/// DN text (`Dn::parse`): whatever parses formats to a string that parses to the same name,
/// and the parent of a name is an ancestor of it.
pub fn dn(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(dn) = Dn::parse(text) else {
        return false;
    };
    let formatted = dn.to_string();
    let again = Dn::parse(&formatted);
    assert_eq!(
        again.as_ref(),
        Ok(&dn),
        "round trip of {text:?} through {formatted:?}"
    );
    if let Some(parent) = dn.parent() {
        assert!(
            dn.is_descendant_of(&parent),
            "{formatted:?} is not below its parent"
        );
    }
    true
}

/// SID text (`Sid::parse`) and binary (`Sid::from_bytes`, `Sid::read_prefix`).
pub fn sid(data: &[u8]) -> bool {
    let mut accepted = false;
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(sid) = Sid::parse(text) {
            assert_eq!(
                Sid::parse(&sid.to_string()),
                Ok(sid),
                "text round trip of {text:?}"
            );
            accepted = true;
        }
    }
    if let Ok(sid) = Sid::from_bytes(data) {
        assert_eq!(sid.to_bytes(), data, "binary round trip");
        accepted = true;
    }
    if let Ok((sid, used)) = Sid::read_prefix(data) {
        assert_eq!(
            data.get(..used),
            Some(sid.to_bytes().as_slice()),
            "prefix round trip"
        );
    }
    accepted
}

/// SDDL text (`SecurityDescriptor::from_sddl`).
pub fn sddl(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let context = context();
    let Ok(descriptor) = SecurityDescriptor::from_sddl(text, &context) else {
        return false;
    };
    let formatted = descriptor.to_sddl(&context);
    assert_eq!(
        SecurityDescriptor::from_sddl(&formatted, &context).as_ref(),
        Ok(&descriptor),
        "SDDL round trip of {text:?} through {formatted:?}"
    );
    if let Ok(bytes) = descriptor.to_bytes() {
        assert_eq!(
            SecurityDescriptor::from_bytes(&bytes).as_ref(),
            Ok(&descriptor),
            "binary round trip of {text:?}"
        );
    }
    exercise(&descriptor);
    true
}

/// The self-relative binary form (`SecurityDescriptor::from_bytes`).
pub fn sd_binary(data: &[u8]) -> bool {
    let Ok(descriptor) = SecurityDescriptor::from_bytes(data) else {
        return false;
    };
    match descriptor.to_bytes() {
        Ok(bytes) => assert_eq!(
            SecurityDescriptor::from_bytes(&bytes).as_ref(),
            Ok(&descriptor),
            "binary round trip"
        ),
        Err(error) => panic!("a decoded descriptor does not encode: {error}"),
    }
    // SDDL carries owner, group and both ACLs exactly (control bits only partly).
    let context = context();
    let formatted = descriptor.to_sddl(&context);
    match SecurityDescriptor::from_sddl(&formatted, &context) {
        Ok(parsed) => {
            assert_eq!(
                (parsed.owner, parsed.group, &parsed.dacl, &parsed.sacl),
                (
                    descriptor.owner,
                    descriptor.group,
                    &descriptor.dacl,
                    &descriptor.sacl
                ),
                "SDDL round trip through {formatted:?}"
            );
        }
        Err(error) => panic!("our SDDL {formatted:?} does not parse: {error}"),
    }
    exercise(&descriptor);
    true
}

/// Runs the access check and inheritance over a descriptor; they must not panic.
fn exercise(descriptor: &SecurityDescriptor) {
    let user = Sid::from_parts(5, &[21, 1_004_336_348, 1_177_238_915, 682_003_330, 1105]);
    let token = Token::authenticated(
        user,
        [Sid::from_parts(
            5,
            &[21, 1_004_336_348, 1_177_238_915, 682_003_330, 513],
        )],
    );
    let class = Guid::from_u128(0x5df2b673_6d41_4774_b3e8_d52e8ee9ff99);
    let objects = ObjectTypeList::class(class)
        .with_property_set(
            Guid::from_u128(0xe45795b3_9455_11d1_aebd_0000f80367c1),
            &[Guid::from_u128(1), Guid::from_u128(2)],
        )
        .with_attribute(Guid::from_u128(3));
    let result = access_check(
        descriptor,
        &token,
        AccessMask(0xF01FF),
        &objects,
        Some(&user),
    );
    assert!(
        result.desired().contains(result.granted()),
        "granted more than desired"
    );
    let child = inherit(descriptor, Some(descriptor), &class, &user, &user);
    // Explicit denies, explicit allows, inherited: always canonical, whatever the input order.
    assert!(
        child.dacl.as_ref().is_none_or(|dacl| dacl.is_canonical()),
        "inheritance broke canonical order"
    );
}
