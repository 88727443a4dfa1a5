//! AD semantics over the wire (issue 4's "Done means"): schema levels, content rules,
//! security descriptors and the access checks of a normal user, the connector ACE of device
//! writeback, object ACEs, faults, several forests side by side.

use std::collections::HashSet;

use devwb_model::sd::{parse_rights, AccessMask, Ace, AceFlags, SecurityDescriptor};
use devwb_model::{SchemaLevel, Sid};
use devwb_simulator::faults::{FaultAction, FaultConfig, FaultRule};
use devwb_simulator::{SimHandle, Simulator};
use ldap3::controls::RawControl;
use ldap3::{LdapConn, LdapConnSettings, Mod, Scope, SearchEntry};

use super::support::admin;

const PASSWORD: &str = "Connector-Passw0rd";

/// The SD flags control asking for the DACL only (`SEQUENCE { INTEGER 4 }`).
fn dacl_flags() -> RawControl {
    sd_flags(0x4)
}

/// The SD flags control asking for the parts in `flags` (1 owner, 2 group, 4 DACL, 8 SACL).
fn sd_flags(flags: u8) -> RawControl {
    RawControl {
        ctype: "1.2.840.113556.1.4.801".into(),
        crit: true,
        val: Some(vec![0x30, 0x03, 0x02, 0x01, flags]),
    }
}

fn set<'a>(values: &[&'a str]) -> HashSet<&'a str> {
    values.iter().copied().collect()
}

fn bind(sim: &SimHandle, name: &str, password: &str) -> LdapConn {
    let mut conn = LdapConn::with_settings(
        LdapConnSettings::new().set_no_tls_verify(true),
        &sim.ldaps_url(),
    )
    .expect("connects over LDAPS");
    conn.simple_bind(name, password)
        .expect("bind sent")
        .success()
        .expect("bind succeeds");
    conn
}

fn container_dn(sim: &SimHandle) -> String {
    format!("CN=RegisteredDevices,{}", sim.domain_dn())
}

/// Adds a device with every mandatory attribute; the result code (0 for success).
fn add_device(conn: &mut LdapConn, parent: &str, cn: &str) -> ldap3::LdapResult {
    let id: Vec<u8> = cn.bytes().cycle().take(16).collect();
    let attributes: Vec<(Vec<u8>, HashSet<Vec<u8>>)> = vec![
        (
            b"objectClass".to_vec(),
            [b"msDS-Device".to_vec()].into_iter().collect(),
        ),
        (b"msDS-DeviceID".to_vec(), [id].into_iter().collect()),
        (
            b"msDS-IsEnabled".to_vec(),
            [b"TRUE".to_vec()].into_iter().collect(),
        ),
        (
            b"displayName".to_vec(),
            [cn.as_bytes().to_vec()].into_iter().collect(),
        ),
        (
            b"altSecurityIdentities".to_vec(),
            [b"X509:<SHA1-TP-PUBKEY>0123456789abcdef0123456789abcdef01234567".to_vec()]
                .into_iter()
                .collect(),
        ),
    ];
    conn.add(&format!("CN={cn},{parent}"), attributes)
        .expect("add sent")
}

fn modify_display_name(conn: &mut LdapConn, dn: &str, value: &str) -> ldap3::LdapResult {
    conn.modify(dn, vec![Mod::Replace("displayName", set(&[value]))])
        .expect("modify sent")
}

/// The forest with a device container and a connector account, and the admin connection.
fn prepared(level: SchemaLevel) -> (SimHandle, LdapConn, Sid) {
    let sim = Simulator::builder()
        .seed(11)
        .schema_level(level)
        .start_blocking()
        .expect("simulator starts");
    let mut conn = admin(&sim);
    conn.add(
        &container_dn(&sim),
        vec![("objectClass", set(&["top", "msDS-DeviceContainer"]))],
    )
    .expect("add sent")
    .success()
    .expect("the admin creates the device container");
    let (_, sid) = sim
        .add_user("svc-connector", PASSWORD)
        .expect("connector account");
    (sim, conn, sid)
}

fn read_dacl(conn: &mut LdapConn, dn: &str) -> SecurityDescriptor {
    read_descriptor(conn, 0x4, dn)
}

/// The parts of `dn`'s descriptor that the SD flags `flags` select.
fn read_descriptor(conn: &mut LdapConn, flags: u8, dn: &str) -> SecurityDescriptor {
    let (entries, _) = conn
        .with_controls(sd_flags(flags))
        .search(
            dn,
            Scope::Base,
            "(objectClass=*)",
            vec!["nTSecurityDescriptor"],
        )
        .expect("search sent")
        .success()
        .expect("descriptor read");
    let entry = SearchEntry::construct(entries.into_iter().next().expect("the entry"));
    let bytes = entry
        .bin_attrs
        .get("nTSecurityDescriptor")
        .and_then(|v| v.first())
        .expect("nTSecurityDescriptor returned");
    SecurityDescriptor::from_bytes(bytes).expect("a valid descriptor")
}

/// Reads the DACL with SD flags, adds `ace`, writes it back with SD flags, as prepare does.
fn grant(conn: &mut LdapConn, dn: &str, ace: Ace) {
    let mut sd = read_dacl(conn, dn);
    assert!(sd.owner.is_none(), "SD flags 4 returns the DACL only");
    sd.dacl
        .get_or_insert_with(Default::default)
        .insert_explicit(ace);
    let value: HashSet<Vec<u8>> = [sd.to_bytes().expect("encodes")].into_iter().collect();
    conn.with_controls(dacl_flags())
        .modify(
            dn,
            vec![Mod::Replace(b"nTSecurityDescriptor".to_vec(), value)],
        )
        .expect("modify sent")
        .success()
        .expect("the admin writes the DACL");
}

fn assert_denied(result: ldap3::LdapResult, what: &str) {
    assert_eq!(result.rc, 50, "{what}: {result:?}");
    assert!(
        result.text.starts_with(
            "00002098: SecErr: DSID-03150F93, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0"
        ),
        "{what}: {}",
        result.text
    );
}

#[test]
fn the_connector_ace_lets_a_normal_user_write_devices_there_and_nowhere_else() {
    let (sim, mut admin, sid) = prepared(SchemaLevel::W2016);
    let container = container_dn(&sim);
    let mut user = bind(&sim, &format!("svc-connector@{}", "contoso.lab"), PASSWORD);
    assert_denied(
        add_device(&mut user, &container, "before"),
        "add before the grant",
    );

    let rights = parse_rights("RPWPCCDCLCLORCSDDTSW").expect("rights");
    assert_eq!(rights, AccessMask(0x000300FF));
    grant(
        &mut admin,
        &container,
        Ace::allow(sid, rights, AceFlags::CONTAINER_INHERIT),
    );
    let stored = read_dacl(&mut admin, &container);
    assert!(stored
        .dacl
        .as_ref()
        .expect("dacl")
        .grants(&sid, rights, AceFlags::CONTAINER_INHERIT));

    add_device(&mut user, &container, "dev1")
        .success()
        .expect("add after the grant");
    let device = format!("CN=dev1,{container}");
    modify_display_name(&mut user, &device, "renamed")
        .success()
        .expect("modify a device");
    user.delete(&device)
        .expect("delete sent")
        .success()
        .expect("delete a device");
    add_device(&mut user, &container, "dev2")
        .success()
        .expect("add again");
    // CONTAINER_INHERIT without INHERIT_ONLY also covers the container itself.
    user.modify(
        &container,
        vec![Mod::Replace(
            "description",
            set(&["written by the connector"]),
        )],
    )
    .expect("modify sent")
    .success()
    .expect("modify the container itself");
    // Not its parent, nor anything outside it.
    assert_denied(
        user.modify(
            &sim.domain_dn(),
            vec![Mod::Replace("description", set(&["no"]))],
        )
        .expect("sent"),
        "modify the domain head",
    );
    assert_denied(
        user.add(
            &format!("CN=elsewhere,CN=Users,{}", sim.domain_dn()),
            vec![("objectClass", set(&["container"]))],
        )
        .expect("sent"),
        "add outside the container",
    );
    assert_denied(
        modify_display_name(
            &mut user,
            &format!("CN=Administrator,CN=Users,{}", sim.domain_dn()),
            "x",
        ),
        "modify another account",
    );
    // The administrator can do all of it, through the default descriptors.
    add_device(&mut admin, &container, "admins")
        .success()
        .expect("admin adds");
    modify_display_name(&mut admin, &format!("CN=dev2,{container}"), "by admin")
        .success()
        .expect("admin modifies a connector's device");
    admin
        .delete(&format!("CN=admins,{container}"))
        .expect("sent")
        .success()
        .expect("admin deletes");
    admin
        .modify(
            &sim.domain_dn(),
            vec![Mod::Replace("description", set(&["admin"]))],
        )
        .expect("sent")
        .success()
        .expect("admin writes the head");
}

/// Regression: the handler applied a modify's changes before the access check, so a caller
/// without write rights was answered attributeOrValueExists or noSuchAttribute, which also
/// told it what the entry holds. AD checks access first.
#[test]
fn a_modify_without_write_rights_is_denied_before_its_content_is_checked() {
    let (sim, mut admin, _) = prepared(SchemaLevel::W2016);
    let container = container_dn(&sim);
    add_device(&mut admin, &container, "dev1")
        .success()
        .expect("the admin adds a device");
    let device = format!("CN=dev1,{container}");
    let mut user = bind(&sim, "svc-connector@contoso.lab", PASSWORD);
    let cases: [(&str, Mod<&str>, u32); 3] = [
        (
            "a value already there",
            Mod::Add("displayName", set(&["dev1"])),
            20,
        ),
        (
            "a value that is not there",
            Mod::Delete("description", set(&["absent"])),
            16,
        ),
        (
            "an attribute that is not there",
            Mod::Delete("description", set(&[])),
            16,
        ),
    ];
    for (what, change, content_error) in cases {
        assert_denied(
            user.modify(&device, vec![change.clone()]).expect("sent"),
            what,
        );
        // Someone allowed to write gets the content error.
        let result = admin.modify(&device, vec![change]).expect("sent");
        assert_eq!(result.rc, content_error, "{what}: {result:?}");
    }
}

#[test]
fn devices_existing_before_the_grant_inherit_it() {
    let (sim, mut admin, sid) = prepared(SchemaLevel::W2012R2);
    let container = container_dn(&sim);
    add_device(&mut admin, &container, "old")
        .success()
        .expect("admin adds a device");
    let mut user = bind(&sim, "CONTOSO\\svc-connector", PASSWORD);
    assert_denied(
        modify_display_name(&mut user, &format!("CN=old,{container}"), "x"),
        "before the grant",
    );
    grant(
        &mut admin,
        &container,
        Ace::allow(sid, AccessMask(0x000300FF), AceFlags::CONTAINER_INHERIT),
    );
    modify_display_name(&mut user, &format!("CN=old,{container}"), "x")
        .success()
        .expect("inherited by the existing device");
}

// Regression test for the simulator's cache of new entries' descriptors: one container, two
// creators, and a container whose ACL changes between two adds.
#[test]
fn each_new_device_has_its_creators_owner_and_the_containers_current_acl() {
    let (sim, mut admin, connector) = prepared(SchemaLevel::W2016);
    let container = container_dn(&sim);
    let domain_admins = sim.domain_sid().with_rid(512);
    let rights = AccessMask(0x000300FF);
    grant(
        &mut admin,
        &container,
        Ace::allow(connector, rights, AceFlags::CONTAINER_INHERIT),
    );
    let mut user = bind(&sim, "CONTOSO\\svc-connector", PASSWORD);
    for cn in ["admin-1", "admin-2"] {
        add_device(&mut admin, &container, cn)
            .success()
            .expect("admin adds");
    }
    for cn in ["connector-1", "connector-2"] {
        add_device(&mut user, &container, cn)
            .success()
            .expect("connector adds");
    }
    let (_, reader) = sim
        .add_user("svc-reader", PASSWORD)
        .expect("second account");
    grant(
        &mut admin,
        &container,
        Ace::allow(reader, AccessMask(0x00020094), AceFlags::CONTAINER_INHERIT),
    );
    add_device(&mut admin, &container, "admin-3")
        .success()
        .expect("admin adds after the second grant");

    for (cn, owner) in [
        ("admin-1", domain_admins),
        ("admin-2", domain_admins),
        ("connector-1", connector),
        ("connector-2", connector),
        ("admin-3", domain_admins),
    ] {
        let sd = read_descriptor(&mut admin, 0x5, &format!("CN={cn},{container}"));
        assert_eq!(sd.owner, Some(owner), "owner of {cn}");
        let dacl = sd.dacl.expect("a DACL");
        for (sid, name) in [(connector, "connector"), (reader, "reader")] {
            assert!(
                dacl.aces
                    .iter()
                    .any(|ace| ace.sid == sid && ace.flags.contains(AceFlags::INHERITED)),
                "{cn} inherits the {name}'s ACE (new entries take the container's current ACL, \
                 existing ones get it by propagation): {dacl:?}"
            );
        }
    }
}

#[test]
fn an_object_ace_for_create_child_only_allows_its_class() {
    let (sim, mut admin, sid) = prepared(SchemaLevel::W2016);
    let container = container_dn(&sim);
    let device_class = devwb_model::schema::DEVICE.guid();
    grant(
        &mut admin,
        &container,
        Ace::allow(sid, AccessMask::CREATE_CHILD, AceFlags::NONE).with_object_type(device_class),
    );
    let mut user = bind(
        &sim,
        &format!("CN=svc-connector,CN=Users,{}", sim.domain_dn()),
        PASSWORD,
    );
    add_device(&mut user, &container, "allowed")
        .success()
        .expect("CREATE_CHILD for msDS-Device");
    assert_denied(
        user.add(
            &format!("CN=sub,{container}"),
            vec![("objectClass", set(&["container"]))],
        )
        .expect("sent"),
        "another class under the same container",
    );
    assert_denied(
        modify_display_name(&mut user, &format!("CN=allowed,{container}"), "x"),
        "no write without WRITE_PROP",
    );
}

#[test]
fn schema_levels_decide_what_exists() {
    let old = Simulator::builder()
        .seed(3)
        .schema_level(SchemaLevel::W2008R2)
        .start_blocking()
        .expect("starts");
    let mut conn = admin(&old);
    let refused = add_device(&mut conn, &old.domain_dn(), "dev");
    assert_eq!(
        refused.rc, 16,
        "no msDS-Device class on 2008 R2: {refused:?}"
    );
    let refused = conn
        .add(
            &container_dn(&old),
            vec![("objectClass", set(&["msDS-DeviceContainer"]))],
        )
        .expect("sent");
    assert_eq!(refused.rc, 16, "{refused:?}");
    let schema_class = |conn: &mut LdapConn, sim: &SimHandle| {
        conn.search(
            &sim.schema_dn(),
            Scope::Subtree,
            "(&(objectClass=classSchema)(lDAPDisplayName=msDS-DeviceContainer))",
            vec!["governsID", "schemaIDGUID"],
        )
        .expect("sent")
        .success()
        .expect("search")
        .0
        .len()
    };
    let version = |conn: &mut LdapConn, sim: &SimHandle| {
        let entry = conn
            .search(
                &sim.schema_dn(),
                Scope::Base,
                "(objectClass=*)",
                vec!["objectVersion"],
            )
            .expect("sent")
            .success()
            .expect("search")
            .0;
        SearchEntry::construct(entry.into_iter().next().expect("head")).attrs["objectVersion"][0]
            .clone()
    };
    assert_eq!(schema_class(&mut conn, &old), 0);
    assert_eq!(version(&mut conn, &old), "47");

    // A 2012 R2 and a 2016 forest side by side in the same process, each its own domain.
    let (new, mut new_conn, _) = prepared(SchemaLevel::W2012R2);
    assert_eq!(schema_class(&mut new_conn, &new), 1);
    assert_eq!(version(&mut new_conn, &new), "69");
    let other = Simulator::builder()
        .seed(5)
        .forest("fabrikam.lab")
        .schema_level(SchemaLevel::W2016)
        .start_blocking()
        .expect("starts");
    assert_ne!(other.domain_sid(), new.domain_sid());
    let mut other_conn = admin(&other);
    assert_eq!(version(&mut other_conn, &other), "87");
    // msDS-IsCompliant exists from 2016 only.
    let container = container_dn(&new);
    let compliant = |conn: &mut LdapConn, container: &str| {
        conn.modify(
            &format!("CN=d,{container}"),
            vec![Mod::Replace("msDS-IsCompliant", set(&["TRUE"]))],
        )
        .expect("sent")
        .rc
    };
    add_device(&mut new_conn, &container, "d")
        .success()
        .expect("device on 2012 R2");
    assert_eq!(compliant(&mut new_conn, &container), 16);
    other_conn
        .add(
            &container_dn(&other),
            vec![("objectClass", set(&["msDS-DeviceContainer"]))],
        )
        .expect("sent")
        .success()
        .expect("container");
    add_device(&mut other_conn, &container_dn(&other), "d")
        .success()
        .expect("device on 2016");
    assert_eq!(compliant(&mut other_conn, &container_dn(&other)), 0);
}

#[test]
fn content_rules_answer_with_ads_codes() {
    let (sim, mut conn, _) = prepared(SchemaLevel::W2016);
    let container = container_dn(&sim);
    let short_id: HashSet<Vec<u8>> = [vec![1u8; 15]].into_iter().collect();
    let attributes = |id: HashSet<Vec<u8>>| -> Vec<(Vec<u8>, HashSet<Vec<u8>>)> {
        vec![
            (
                b"objectClass".to_vec(),
                [b"msDS-Device".to_vec()].into_iter().collect(),
            ),
            (b"msDS-DeviceID".to_vec(), id),
            (
                b"msDS-IsEnabled".to_vec(),
                [b"TRUE".to_vec()].into_iter().collect(),
            ),
            (
                b"displayName".to_vec(),
                [b"x".to_vec()].into_iter().collect(),
            ),
            (
                b"altSecurityIdentities".to_vec(),
                [b"X509:<SHA1-TP-PUBKEY>00".to_vec()].into_iter().collect(),
            ),
        ]
    };
    assert_eq!(
        conn.add(&format!("CN=short,{container}"), attributes(short_id))
            .expect("sent")
            .rc,
        19,
        "msDS-DeviceID is 16 bytes"
    );
    let missing = conn
        .add(
            &format!("CN=missing,{container}"),
            vec![
                ("objectClass", set(&["msDS-Device"])),
                ("displayName", set(&["x"])),
            ],
        )
        .expect("sent");
    assert_eq!(missing.rc, 65, "mandatory attributes missing: {missing:?}");
    let misplaced = add_device(
        &mut conn,
        &format!("CN=Users,{}", sim.domain_dn()),
        "misplaced",
    );
    assert_eq!(
        misplaced.rc, 64,
        "msDS-Device only under msDS-DeviceContainer: {misplaced:?}"
    );
    let nested = conn
        .add(
            &format!("CN=nested,{container}"),
            vec![("objectClass", set(&["msDS-DeviceContainer"]))],
        )
        .expect("sent");
    assert_eq!(
        nested.rc, 64,
        "msDS-DeviceContainer only under domainDNS: {nested:?}"
    );
    add_device(&mut conn, &container, "ok")
        .success()
        .expect("a valid device");
    let device = format!("CN=ok,{container}");
    assert_eq!(
        conn.modify(&device, vec![Mod::Replace("msDS-IsEnabled", set(&["yes"]))])
            .expect("sent")
            .rc,
        21
    );
    assert_eq!(
        conn.modify(&device, vec![Mod::Add("displayName", set(&["second"]))])
            .expect("sent")
            .rc,
        20
    );
    assert_eq!(
        conn.modify(&device, vec![Mod::Replace("noSuchAttribute", set(&["x"]))])
            .expect("sent")
            .rc,
        16
    );
    // objectClass top first, most specific last; objectCategory filters take the short name.
    let (entries, _) = conn
        .search(
            &container,
            Scope::OneLevel,
            "(objectCategory=msDS-Device)",
            vec!["objectClass", "objectCategory"],
        )
        .expect("sent")
        .success()
        .expect("search");
    let entry = SearchEntry::construct(entries.into_iter().next().expect("the device"));
    assert_eq!(entry.attrs["objectClass"], vec!["top", "msDS-Device"]);
    assert_eq!(
        entry.attrs["objectCategory"],
        vec![format!("CN=ms-DS-Device,{}", sim.schema_dn())]
    );
}

#[test]
fn a_wrong_password_gets_ads_text_and_anonymous_sees_only_the_root_dse() {
    let (sim, _, _) = prepared(SchemaLevel::W2016);
    let mut conn = LdapConn::with_settings(
        LdapConnSettings::new().set_no_tls_verify(true),
        &sim.ldaps_url(),
    )
    .expect("connects");
    let refused = conn
        .simple_bind("svc-connector@contoso.lab", "wrong")
        .expect("sent");
    assert_eq!(refused.rc, 49);
    assert!(refused.text.starts_with("80090308: LdapErr: DSID-0C090447, comment: AcceptSecurityContext error, data 52e, v3839"), "{}", refused.text);
    let root = conn
        .search(
            "",
            Scope::Base,
            "(objectClass=*)",
            vec!["defaultNamingContext"],
        )
        .expect("sent")
        .success()
        .expect("rootDSE")
        .0;
    assert_eq!(root.len(), 1);
    let hidden = conn
        .search(
            &sim.domain_dn(),
            Scope::Subtree,
            "(objectClass=*)",
            vec!["cn"],
        )
        .expect("sent");
    assert!(hidden.0.is_empty(), "anonymous sees no directory entry");
}

#[test]
fn reads_hide_what_the_acl_hides() {
    let (sim, mut admin, sid) = prepared(SchemaLevel::W2016);
    let container = container_dn(&sim);
    add_device(&mut admin, &container, "secret")
        .success()
        .expect("device");
    let device = format!("CN=secret,{container}");
    let display_name = devwb_simulator::schema::Schema::for_level(SchemaLevel::W2016)
        .attribute("displayName")
        .expect("displayName")
        .guid;
    // Deny the connector READ_PROP on displayName of this device, and LIST_CONTENTS on CN=Users.
    let mut sd = read_dacl(&mut admin, &device);
    if let Some(dacl) = sd.dacl.as_mut() {
        dacl.aces.insert(
            0,
            Ace::deny(sid, AccessMask::READ_PROPERTY, AceFlags::NONE)
                .with_object_type(display_name),
        );
    }
    let value: HashSet<Vec<u8>> = [sd.to_bytes().expect("encodes")].into_iter().collect();
    admin
        .with_controls(dacl_flags())
        .modify(
            &device,
            vec![Mod::Replace(b"nTSecurityDescriptor".to_vec(), value)],
        )
        .expect("sent")
        .success()
        .expect("written");
    let users = format!("CN=Users,{}", sim.domain_dn());
    let mut users_sd = read_dacl(&mut admin, &users);
    if let Some(dacl) = users_sd.dacl.as_mut() {
        dacl.aces
            .insert(0, Ace::deny(sid, AccessMask::LIST_CONTENTS, AceFlags::NONE));
    }
    let value: HashSet<Vec<u8>> = [users_sd.to_bytes().expect("encodes")]
        .into_iter()
        .collect();
    admin
        .with_controls(dacl_flags())
        .modify(
            &users,
            vec![Mod::Replace(b"nTSecurityDescriptor".to_vec(), value)],
        )
        .expect("sent")
        .success()
        .expect("written");

    let mut user = bind(&sim, "svc-connector@contoso.lab", PASSWORD);
    let (entries, _) = user
        .search(
            &device,
            Scope::Base,
            "(objectClass=*)",
            vec!["displayName", "cn"],
        )
        .expect("sent")
        .success()
        .expect("search")
        .0
        .into_iter()
        .fold((Vec::new(), ()), |(mut v, _), e| {
            v.push(SearchEntry::construct(e));
            (v, ())
        });
    let entry = entries.first().expect("the device is visible");
    assert!(
        !entry.attrs.contains_key("displayName"),
        "READ_PROP denied: {:?}",
        entry.attrs
    );
    assert_eq!(entry.attrs["cn"], vec!["secret"]);
    let by_filter = user
        .search(
            &container,
            Scope::OneLevel,
            "(displayName=secret)",
            vec!["cn"],
        )
        .expect("sent")
        .success()
        .expect("search")
        .0;
    assert!(
        by_filter.is_empty(),
        "an unreadable attribute does not match in filters"
    );
    let listed = user
        .search(&users, Scope::OneLevel, "(objectClass=*)", vec!["cn"])
        .expect("sent")
        .success()
        .expect("search")
        .0;
    assert!(
        listed.is_empty(),
        "no LIST_CONTENTS on CN=Users: nothing listed"
    );
    let _ = admin
        .search(&users, Scope::OneLevel, "(objectClass=*)", vec!["cn"])
        .expect("sent")
        .success()
        .expect("admin lists");
}

#[test]
fn injected_faults_answer_with_the_chosen_code() {
    let (sim, mut conn, _) = prepared(SchemaLevel::W2016);
    let container = container_dn(&sim);
    let subtree = devwb_model::Dn::parse(&container).expect("dn");
    sim.forest().semantics.set_faults(FaultConfig {
        seed: 1,
        rules: vec![
            FaultRule::always(FaultAction::Fail(devwb_simulator::ResultCode::BUSY))
                .on(&["add"])
                .under(subtree),
        ],
        ..FaultConfig::default()
    });
    let busy = add_device(&mut conn, &container, "d");
    assert_eq!(busy.rc, 51, "{busy:?}");
    conn.modify(
        &sim.domain_dn(),
        vec![Mod::Replace("description", set(&["still works"]))],
    )
    .expect("sent")
    .success()
    .expect("other operations proceed");
    sim.forest().semantics.set_faults(FaultConfig::default());
    add_device(&mut conn, &container, "d")
        .success()
        .expect("faults cleared");
}

#[test]
fn a_restored_snapshot_takes_back_devices_grants_and_memberships() {
    let (sim, mut admin, sid) = prepared(SchemaLevel::W2016);
    let container = container_dn(&sim);
    let snapshot = sim.snapshot();
    grant(
        &mut admin,
        &container,
        Ace::allow(sid, AccessMask(0x000300FF), AceFlags::CONTAINER_INHERIT),
    );
    let connector = format!("CN=svc-connector,CN=Users,{}", sim.domain_dn());
    admin
        .modify(
            &format!("CN=Domain Admins,CN=Users,{}", sim.domain_dn()),
            vec![Mod::Add("member", set(&[connector.as_str()]))],
        )
        .expect("sent")
        .success()
        .expect("the connector joins Domain Admins");
    let mut user = bind(&sim, "svc-connector@contoso.lab", PASSWORD);
    add_device(&mut user, &container, "during")
        .success()
        .expect("granted");
    user.modify(
        &sim.domain_dn(),
        vec![Mod::Replace("description", set(&["admin now"]))],
    )
    .expect("sent")
    .success()
    .expect("a Domain Admin writes the domain head");

    sim.restore(&snapshot);
    let mut user = bind(&sim, "svc-connector@contoso.lab", PASSWORD);
    let gone = user
        .search(
            &format!("CN=during,{container}"),
            Scope::Base,
            "(objectClass=*)",
            vec!["cn"],
        )
        .expect("sent");
    assert_eq!(gone.1.rc, 32, "the device added after the snapshot is gone");
    assert_denied(
        add_device(&mut user, &container, "after"),
        "the grant is gone",
    );
    assert_denied(
        user.modify(
            &sim.domain_dn(),
            vec![Mod::Replace("description", set(&["no"]))],
        )
        .expect("sent"),
        "the membership is gone",
    );
}

fn quoted_utf16(password: &str) -> Vec<u8> {
    format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

fn user_attributes(password: &str, control: &str) -> Vec<(Vec<u8>, HashSet<Vec<u8>>)> {
    let one = |v: &[u8]| -> HashSet<Vec<u8>> { [v.to_vec()].into_iter().collect() };
    vec![
        (b"objectClass".to_vec(), one(b"user")),
        (b"sAMAccountName".to_vec(), one(b"ann")),
        (b"userPrincipalName".to_vec(), one(b"ann@contoso.lab")),
        (b"unicodePwd".to_vec(), one(&quoted_utf16(password))),
        (b"userAccountControl".to_vec(), one(control.as_bytes())),
    ]
}

#[test]
fn passwords_are_set_through_unicode_pwd_over_tls_only() {
    let sim = Simulator::builder()
        .seed(13)
        .allow_plain_bind(true)
        .start_blocking()
        .expect("starts");
    let ann = format!("CN=Ann,CN=Users,{}", sim.domain_dn());
    let mut plain = LdapConn::new(&sim.url()).expect("connects");
    plain
        .simple_bind(&sim.admin_dn(), sim.admin_password())
        .expect("sent")
        .success()
        .expect("plain bind allowed by the builder");
    let refused = plain
        .add(&ann, user_attributes("Ann-Passw0rd", "512"))
        .expect("sent");
    assert_eq!(refused.rc, 53, "a password over plain LDAP: {refused:?}");

    let mut conn = admin(&sim);
    conn.add(&ann, user_attributes("Ann-Passw0rd", "512"))
        .expect("sent")
        .success()
        .expect("the admin creates a user with a password over LDAPS");
    let mut user = bind(&sim, "ann@contoso.lab", "Ann-Passw0rd");
    let (entries, _) = user
        .search(
            &ann,
            Scope::Base,
            "(objectClass=*)",
            vec!["*", "unicodePwd"],
        )
        .expect("sent")
        .success()
        .expect("search");
    let entry = SearchEntry::construct(entries.into_iter().next().expect("ann"));
    assert!(!entry.bin_attrs.contains_key("unicodePwd") && !entry.attrs.contains_key("unicodePwd"));
    assert_eq!(
        entry.attrs["objectClass"],
        vec!["top", "person", "organizationalPerson", "user"]
    );
    // The admin resets it; a disabled account cannot bind.
    let new_password: HashSet<Vec<u8>> = [quoted_utf16("Second-Passw0rd")].into_iter().collect();
    conn.modify(
        &ann,
        vec![Mod::Replace(b"unicodePwd".to_vec(), new_password)],
    )
    .expect("sent")
    .success()
    .expect("password reset");
    let _ = bind(&sim, "CONTOSO\\ann", "Second-Passw0rd");
    conn.modify(
        &ann,
        vec![Mod::Replace("userAccountControl", set(&["514"]))],
    )
    .expect("sent")
    .success()
    .expect("disabled");
    let mut anonymous = LdapConn::with_settings(
        LdapConnSettings::new().set_no_tls_verify(true),
        &sim.ldaps_url(),
    )
    .expect("connects");
    let disabled = anonymous
        .simple_bind("ann@contoso.lab", "Second-Passw0rd")
        .expect("sent");
    assert_eq!(disabled.rc, 49);
    assert!(disabled.text.contains("data 533"), "{}", disabled.text);
}

#[test]
fn connections_are_dropped_and_refused_as_configured() {
    let sim = Simulator::builder()
        .seed(17)
        .faults(FaultConfig {
            drop_connection_after: Some(3),
            drop_search_after_entries: Some(2),
            ..FaultConfig::default()
        })
        .start_blocking()
        .expect("starts");
    // The bind is operation 1, the search 2: cut after two entries.
    let mut conn = admin(&sim);
    let cut = conn.search(
        &format!("CN=Users,{}", sim.domain_dn()),
        Scope::OneLevel,
        "(objectClass=*)",
        vec!["cn"],
    );
    assert!(
        cut.is_err() || cut.is_ok_and(|r| r.1.rc != 0),
        "the search loses its connection mid-way"
    );
    // A new connection: bind (1), two base searches (2, 3), the fourth operation is never answered.
    sim.set_faults(FaultConfig {
        drop_connection_after: Some(3),
        ..FaultConfig::default()
    });
    let mut conn = admin(&sim);
    for _ in 0..2 {
        conn.search(
            &sim.domain_dn(),
            Scope::Base,
            "(objectClass=*)",
            vec!["1.1"],
        )
        .expect("sent")
        .success()
        .expect("within the limit");
    }
    let fourth = conn.search(
        &sim.domain_dn(),
        Scope::Base,
        "(objectClass=*)",
        vec!["1.1"],
    );
    assert!(
        fourth.is_err(),
        "dropped before the fourth operation: {fourth:?}"
    );
    sim.set_faults(FaultConfig {
        refuse_connections: true,
        ..FaultConfig::default()
    });
    let refused = LdapConn::with_settings(
        LdapConnSettings::new().set_no_tls_verify(true),
        &sim.ldaps_url(),
    )
    .and_then(|mut c| c.simple_bind(&sim.admin_dn(), sim.admin_password()));
    assert!(refused.is_err(), "new connections are refused");
    sim.set_faults(FaultConfig {
        seed: 3,
        rules: vec![FaultRule::parse("latency=1").expect("rule")],
        ..FaultConfig::default()
    });
    let _ = admin(&sim);
}

#[test]
fn member_of_is_the_back_link_of_member() {
    let (sim, mut admin, _) = prepared(SchemaLevel::W2016);
    let connector = format!("CN=svc-connector,CN=Users,{}", sim.domain_dn());
    let group = format!("CN=Device Writers,CN=Users,{}", sim.domain_dn());
    admin
        .add(
            &group,
            vec![
                ("objectClass", set(&["group"])),
                ("sAMAccountName", set(&["Device Writers"])),
                ("member", set(&[connector.as_str()])),
            ],
        )
        .expect("sent")
        .success()
        .expect("group with a member");
    let (entries, _) = admin
        .search(
            &format!("CN=Users,{}", sim.domain_dn()),
            Scope::OneLevel,
            &format!("(memberOf={group})"),
            vec!["memberOf"],
        )
        .expect("sent")
        .success()
        .expect("search by memberOf");
    let entries: Vec<SearchEntry> = entries.into_iter().map(SearchEntry::construct).collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].dn, connector);
    assert_eq!(entries[0].attrs["memberOf"], vec![group.clone()]);
    admin
        .modify(
            &group,
            vec![Mod::Delete("member", set(&[connector.as_str()]))],
        )
        .expect("sent")
        .success()
        .expect("member removed");
    let (entries, _) = admin
        .search(&connector, Scope::Base, "(objectClass=*)", vec!["memberOf"])
        .expect("sent")
        .success()
        .expect("search");
    let entry = SearchEntry::construct(entries.into_iter().next().expect("the connector"));
    assert!(!entry.attrs.contains_key("memberOf"), "{:?}", entry.attrs);
}
