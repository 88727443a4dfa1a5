//! The ldap3 crate against the simulator: what a real client sees.

use std::collections::HashSet;

use ldap3::adapters::PagedResults as PagedAdapter;
use ldap3::controls::{Control, ControlType, MakeCritical, PagedResults, RawControl};
use ldap3::{Mod, Scope, SearchEntry};

use crate::support::{admin, connect, start, start_plain};

fn set<'a>(values: &[&'a str]) -> HashSet<&'a str> {
    values.iter().copied().collect()
}

/// Adds `CN=RegisteredDevices,<domain>`, the device container, and returns its DN.
fn device_container(conn: &mut ldap3::LdapConn, sim: &devwb_simulator::SimHandle) -> String {
    let dn = format!("CN=RegisteredDevices,{}", sim.domain_dn());
    conn.add(
        &dn,
        vec![("objectClass", set(&["top", "msDS-DeviceContainer"]))],
    )
    .unwrap()
    .success()
    .unwrap();
    dn
}

/// Adds a device with every mandatory attribute; `n` makes its msDS-DeviceID unique.
fn add_device(conn: &mut ldap3::LdapConn, dn: &str, cn: &str) -> ldap3::LdapResult {
    let n: u32 = cn
        .bytes()
        .fold(7u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    let mut device_id = [0x5au8; 16];
    device_id[..4].copy_from_slice(&n.to_le_bytes());
    let bytes = |v: &str| -> HashSet<Vec<u8>> { [v.as_bytes().to_vec()].into_iter().collect() };
    conn.add(
        dn,
        vec![
            (
                b"objectClass".to_vec(),
                ["top".as_bytes().to_vec(), b"msDS-Device".to_vec()]
                    .into_iter()
                    .collect::<HashSet<Vec<u8>>>(),
            ),
            (b"cn".to_vec(), bytes(cn)),
            (b"displayName".to_vec(), bytes(cn)),
            (b"msDS-IsEnabled".to_vec(), bytes("TRUE")),
            (
                b"msDS-DeviceID".to_vec(),
                [device_id.to_vec()].into_iter().collect(),
            ),
            (
                b"altSecurityIdentities".to_vec(),
                bytes("X509:<SHA1-TP-PUBKEY>0123456789abcdef0123456789abcdef01234567"),
            ),
        ],
    )
    .expect("add sent")
}

/// Adds a `container` with a description.
fn add_container(conn: &mut ldap3::LdapConn, dn: &str) -> ldap3::LdapResult {
    conn.add(
        dn,
        vec![
            ("objectClass", set(&["top", "container"])),
            ("description", set(&["x"])),
        ],
    )
    .expect("add sent")
}

#[test]
fn simple_bind_needs_tls_unless_allowed() {
    let sim = start();
    let mut plain = connect(&sim.url(), false);
    let refused = plain
        .simple_bind(&sim.admin_dn(), sim.admin_password())
        .unwrap();
    assert_eq!(refused.rc, 8, "{refused:?}");
    assert!(
        refused.text.starts_with("00002028: LdapErr: DSID-0C090343"),
        "{}",
        refused.text
    );

    let mut starttls = connect(&sim.url(), true);
    starttls
        .simple_bind(&sim.admin_dn(), sim.admin_password())
        .unwrap()
        .success()
        .unwrap();
    let who = starttls.extended(ldap3::exop::WhoAmI).unwrap().0;
    let who: ldap3::exop::WhoAmIResp = who.parse();
    assert_eq!(who.authzid, "u:CONTOSO\\Administrator");

    let wrong = connect(&sim.ldaps_url(), false)
        .simple_bind(&sim.admin_dn(), "wrong")
        .unwrap();
    assert_eq!(wrong.rc, 49);
    assert!(wrong.text.contains("data 52e"), "{}", wrong.text);

    let allowed = start_plain();
    connect(&allowed.url(), false)
        .simple_bind(&allowed.admin_dn(), allowed.admin_password())
        .unwrap()
        .success()
        .unwrap();
}

#[test]
fn bind_names_dn_upn_and_down_level() {
    let sim = start();
    let (dn, sid) = sim.add_user("svc-connector", "Passw0rd!").unwrap();
    assert_eq!(
        dn.to_string(),
        "CN=svc-connector,CN=Users,DC=contoso,DC=lab"
    );
    assert!(sid.to_string().starts_with("S-1-5-21-"));
    for name in [
        "CN=svc-connector,CN=Users,DC=contoso,DC=lab",
        "svc-connector@contoso.lab",
        "CONTOSO\\svc-connector",
    ] {
        let mut conn = connect(&sim.ldaps_url(), false);
        conn.simple_bind(name, "Passw0rd!")
            .unwrap()
            .success()
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn anonymous_reads_root_dse_only() {
    let sim = start();
    let mut conn = connect(&sim.url(), false);
    let (entries, _) = conn
        .search("", Scope::Base, "(objectClass=*)", vec!["*"])
        .unwrap()
        .success()
        .unwrap();
    let root = SearchEntry::construct(entries.into_iter().next().unwrap());
    assert_eq!(
        root.attrs["defaultNamingContext"],
        vec!["DC=contoso,DC=lab"]
    );
    assert_eq!(
        root.attrs["configurationNamingContext"],
        vec!["CN=Configuration,DC=contoso,DC=lab"]
    );
    assert_eq!(root.attrs["supportedLDAPVersion"], vec!["3", "2"]);
    assert!(root.attrs["supportedControl"].contains(&"1.2.840.113556.1.4.319".to_string()));
    assert_eq!(root.attrs["domainFunctionality"], vec!["7"]);
    let denied = conn
        .search(
            "DC=contoso,DC=lab",
            Scope::Base,
            "(objectClass=*)",
            vec!["*"],
        )
        .unwrap();
    assert_eq!(denied.1.rc, 1);
    assert!(denied.1.text.starts_with("000004DC"), "{}", denied.1.text);
}

#[test]
fn forest_shape_and_generated_attributes() {
    let sim = start();
    let mut conn = admin(&sim);
    let (entries, result) = conn
        .search(
            "DC=contoso,DC=lab",
            Scope::OneLevel,
            "(objectClass=*)",
            vec!["name"],
        )
        .unwrap()
        .success()
        .unwrap();
    let names: HashSet<String> = entries
        .into_iter()
        .map(|e| SearchEntry::construct(e).attrs["name"][0].clone())
        .collect();
    for expected in [
        "Users",
        "Computers",
        "Domain Controllers",
        "System",
        "Builtin",
    ] {
        assert!(
            names.contains(expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(result.refs.is_empty());
    let schema = conn
        .search(
            &sim.schema_dn(),
            Scope::Base,
            "(objectClass=*)",
            vec!["objectVersion"],
        )
        .unwrap()
        .success()
        .unwrap()
        .0;
    assert_eq!(
        SearchEntry::construct(schema.into_iter().next().unwrap()).attrs["objectVersion"],
        vec!["87"]
    );
    let cross_ref = conn
        .search(
            &format!("CN=Partitions,{}", sim.config_dn()),
            Scope::OneLevel,
            "(nETBIOSName=CONTOSO)",
            vec!["dnsRoot", "nCName"],
        )
        .unwrap()
        .success()
        .unwrap()
        .0;
    assert_eq!(
        SearchEntry::construct(cross_ref.into_iter().next().unwrap()).attrs["dnsRoot"],
        vec!["contoso.lab"]
    );

    let container = device_container(&mut conn, &sim);
    let dn = format!("CN=dev1,{container}");
    add_device(&mut conn, &dn, "dev1").success().unwrap();
    let entry = conn
        .search(&dn, Scope::Base, "(objectClass=*)", vec!["*"])
        .unwrap()
        .success()
        .unwrap()
        .0;
    let entry = SearchEntry::construct(entry.into_iter().next().unwrap());
    // ldap3 sends values from a HashSet, so their order is the client's accident; the order
    // kept on the wire is checked with OpenLDAP's tools, which send LDIF order.
    let classes: HashSet<&str> = entry.attrs["objectClass"]
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(classes, set(&["top", "msDS-Device"]));
    assert_eq!(entry.bin_attrs["msDS-DeviceID"][0].len(), 16);
    assert_eq!(entry.bin_attrs["objectGUID"][0].len(), 16);
    assert_eq!(entry.attrs["distinguishedName"], vec![dn.clone()]);
    assert_eq!(entry.attrs["name"], vec!["dev1"]);
    assert_eq!(entry.attrs["instanceType"], vec!["4"]);
    assert!(entry.attrs["whenCreated"][0].ends_with(".0Z"));
    assert_eq!(entry.attrs["uSNCreated"], entry.attrs["uSNChanged"]);
    let category = entry.attrs["objectCategory"][0].to_ascii_lowercase();
    assert!(
        category.starts_with("cn=")
            && category.contains("device")
            && category.ends_with(",cn=schema,cn=configuration,dc=contoso,dc=lab"),
        "{category}"
    );

    // The subtree of the domain continues into the configuration NC by reference, unless
    // the domain scope control says not to.
    let (_, result) = conn
        .search(&sim.domain_dn(), Scope::Subtree, "(cn=dev1)", vec!["1.1"])
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(
        result.refs,
        vec![format!("ldap://contoso.lab/{}", sim.config_dn())]
    );
    let scoped = conn
        .with_controls(RawControl {
            ctype: "1.2.840.113556.1.4.1339".into(),
            crit: false,
            val: None,
        })
        .search(&sim.domain_dn(), Scope::Subtree, "(cn=dev1)", vec!["1.1"])
        .unwrap()
        .success()
        .unwrap();
    assert!(scoped.1.refs.is_empty());
    assert_eq!(scoped.0.len(), 1);
}

#[test]
fn write_operations_round_trip() {
    let sim = start();
    let mut conn = admin(&sim);
    let base = format!("CN=Users,{}", sim.domain_dn());
    let dn = format!("CN=dev1,{base}");
    add_container(&mut conn, &dn).success().unwrap();
    assert_eq!(add_container(&mut conn, &dn).rc, 68);
    assert_eq!(
        add_container(&mut conn, &format!("CN=x,CN=missing,{base}")).rc,
        32
    );

    conn.modify(
        &dn,
        vec![
            Mod::Replace("displayName", set(&["renamed"])),
            Mod::Add("url", set(&["one", "two"])),
            Mod::Delete("url", set(&["one"])),
        ],
    )
    .unwrap()
    .success()
    .unwrap();
    let add_again = conn
        .modify(&dn, vec![Mod::Add("url", set(&["two"]))])
        .unwrap();
    assert_eq!(add_again.rc, 20);
    let missing = conn
        .modify(&dn, vec![Mod::Delete("info", set(&[]))])
        .unwrap();
    assert_eq!(missing.rc, 16);
    let permissive = conn
        .with_controls(RawControl {
            ctype: "1.2.840.113556.1.4.1413".into(),
            crit: true,
            val: None,
        })
        .modify(
            &dn,
            vec![
                Mod::Add("url", set(&["two"])),
                Mod::Delete("info", set(&[])),
            ],
        )
        .unwrap();
    assert_eq!(permissive.rc, 0, "{permissive:?}");
    let guid_write = conn
        .modify(&dn, vec![Mod::Replace("objectGUID", set(&["x"]))])
        .unwrap();
    assert_eq!(guid_write.rc, 19);

    assert!(conn
        .compare(&dn, "displayName", "RENAMED")
        .unwrap()
        .equal()
        .unwrap());
    assert!(!conn
        .compare(&dn, "displayName", "other")
        .unwrap()
        .equal()
        .unwrap());

    let new_parent = format!("CN=Computers,{}", sim.domain_dn());
    conn.modifydn(&dn, "CN=dev2", true, Some(&new_parent))
        .unwrap()
        .success()
        .unwrap();
    let moved = format!("CN=dev2,{new_parent}");
    let entry = conn
        .search(
            &moved,
            Scope::Base,
            "(objectClass=*)",
            vec!["cn", "name", "distinguishedName"],
        )
        .unwrap()
        .success()
        .unwrap()
        .0;
    let entry = SearchEntry::construct(entry.into_iter().next().unwrap());
    assert_eq!(entry.attrs["cn"], vec!["dev2"]);
    assert_eq!(entry.attrs["distinguishedName"], vec![moved.clone()]);
    assert_eq!(
        conn.search(&dn, Scope::Base, "(objectClass=*)", vec!["1.1"])
            .unwrap()
            .1
            .rc,
        32
    );

    conn.delete(&moved).unwrap().success().unwrap();
    assert_eq!(conn.delete(&moved).unwrap().rc, 32);
}

#[test]
fn tree_delete_and_non_leaf() {
    let sim = start();
    let mut conn = admin(&sim);
    let ou = format!("OU=Lab,{}", sim.domain_dn());
    conn.add(
        &ou,
        vec![("objectClass", set(&["top", "organizationalUnit"]))],
    )
    .unwrap()
    .success()
    .unwrap();
    add_container(&mut conn, &format!("CN=d,{ou}"))
        .success()
        .unwrap();
    assert_eq!(conn.delete(&ou).unwrap().rc, 66);
    conn.with_controls(RawControl {
        ctype: "1.2.840.113556.1.4.805".into(),
        crit: true,
        val: None,
    })
    .delete(&ou)
    .unwrap()
    .success()
    .unwrap();
    assert_eq!(
        conn.search(
            &format!("CN=d,{ou}"),
            Scope::Base,
            "(objectClass=*)",
            vec!["1.1"]
        )
        .unwrap()
        .1
        .rc,
        32
    );
}

#[test]
fn unknown_critical_control_is_refused_and_non_critical_ignored() {
    let sim = start();
    let mut conn = admin(&sim);
    let critical = conn
        .with_controls(RawControl {
            ctype: "1.2.3.4.5".into(),
            crit: true,
            val: None,
        })
        .search(
            &sim.domain_dn(),
            Scope::Base,
            "(objectClass=*)",
            vec!["1.1"],
        )
        .unwrap();
    assert_eq!(critical.1.rc, 12);
    let ignored = conn
        .with_controls(RawControl {
            ctype: "1.2.3.4.5".into(),
            crit: false,
            val: None,
        })
        .search(
            &sim.domain_dn(),
            Scope::Base,
            "(objectClass=*)",
            vec!["1.1"],
        )
        .unwrap();
    assert_eq!(ignored.1.rc, 0);
}

#[test]
fn max_page_size_and_paged_results() {
    let sim = start();
    let mut conn = admin(&sim);
    let ou = format!("OU=Many,{}", sim.domain_dn());
    conn.add(
        &ou,
        vec![("objectClass", set(&["top", "organizationalUnit"]))],
    )
    .unwrap()
    .success()
    .unwrap();
    for i in 0..1205 {
        add_container(&mut conn, &format!("CN=d{i:04},{ou}"))
            .success()
            .unwrap();
    }
    let unpaged = conn
        .search(&ou, Scope::OneLevel, "(objectClass=container)", vec!["1.1"])
        .unwrap();
    assert_eq!(unpaged.1.rc, 4, "sizeLimitExceeded past MaxPageSize");
    assert_eq!(unpaged.0.len(), 1000);

    let mut stream = conn
        .streaming_search_with(
            PagedAdapter::new(500),
            &ou,
            Scope::OneLevel,
            "(cn=d*)",
            vec!["cn"],
        )
        .unwrap();
    let mut seen = HashSet::new();
    while let Some(entry) = stream.next().unwrap() {
        seen.insert(SearchEntry::construct(entry).attrs["cn"][0].clone());
    }
    assert_eq!(stream.result().rc, 0);
    assert_eq!(seen.len(), 1205);

    // A page size above MaxPageSize is capped: the first page holds 1000 entries.
    let capped = conn
        .with_controls(
            PagedResults {
                size: 5000,
                cookie: vec![],
            }
            .critical(),
        )
        .search(&ou, Scope::OneLevel, "(objectClass=*)", vec!["1.1"])
        .unwrap();
    assert_eq!(capped.1.rc, 0);
    assert_eq!(capped.0.len(), 1000);
    let cookie = capped
        .1
        .ctrls
        .iter()
        .find_map(|Control(kind, raw)| match kind {
            Some(ControlType::PagedResults) => Some(raw.parse::<PagedResults>().cookie),
            _ => None,
        });
    assert!(cookie.is_some_and(|c| !c.is_empty()));
}

#[test]
fn size_limit_and_types_only() {
    let sim = start();
    let mut conn = admin(&sim);
    let limited = conn
        .with_search_options(ldap3::SearchOptions::new().sizelimit(2).typesonly(true))
        .search(
            &sim.domain_dn(),
            Scope::Subtree,
            "(objectClass=*)",
            vec!["cn"],
        )
        .unwrap();
    assert_eq!(limited.1.rc, 4);
    assert_eq!(limited.0.len(), 2);
    let entry = SearchEntry::construct(limited.0.into_iter().next().unwrap());
    assert!(entry.attrs.values().all(|v| v.is_empty()));
}

#[test]
fn filters_over_the_wire() {
    let sim = start();
    let mut conn = admin(&sim);
    let users = format!("CN=Users,{}", sim.domain_dn());
    let check = |conn: &mut ldap3::LdapConn, filter: &str, expected: &[&str]| {
        let (entries, _) = conn
            .search(&users, Scope::OneLevel, filter, vec!["cn"])
            .unwrap()
            .success()
            .unwrap();
        let mut got: Vec<String> = entries
            .into_iter()
            .map(|e| SearchEntry::construct(e).attrs["cn"][0].clone())
            .collect();
        got.sort();
        assert_eq!(got, expected, "{filter}");
    };
    check(
        &mut conn,
        "(&(objectClass=group)(cn=Domain*)(!(cn=*Users)))",
        &["Domain Admins", "Domain Computers"],
    );
    check(
        &mut conn,
        "(|(sAMAccountName=administrator)(cn=enterprise admins))",
        &["Administrator", "Enterprise Admins"],
    );
    // Every group seeded here is a security group (0x80000000 set in a negative groupType).
    check(
        &mut conn,
        "(groupType:1.2.840.113556.1.4.803:=2147483648)",
        &[
            "Domain Admins",
            "Domain Computers",
            "Domain Users",
            "Enterprise Admins",
            "Schema Admins",
        ],
    );
    check(
        &mut conn,
        "(groupType:1.2.840.113556.1.4.804:=8)",
        &["Enterprise Admins", "Schema Admins"],
    );
    check(
        &mut conn,
        "(userAccountControl:1.2.840.113556.1.4.803:=512)",
        &["Administrator"],
    );
    check(
        &mut conn,
        "(&(objectCategory=group)(uSNCreated>=1)(cn<=E))",
        &["Domain Admins", "Domain Computers", "Domain Users"],
    );
    check(&mut conn, "(cn~=administrator)", &["Administrator"]);
    check(
        &mut conn,
        "(member=cn=administrator,cn=users,dc=contoso,dc=lab)",
        &["Domain Admins", "Enterprise Admins", "Schema Admins"],
    );

    // Binary assertion values: objectGUID of the Administrator, escaped byte by byte.
    let admin_entry = conn
        .search(
            &sim.admin_dn(),
            Scope::Base,
            "(objectClass=*)",
            vec!["objectGUID", "objectSid"],
        )
        .unwrap()
        .success()
        .unwrap()
        .0;
    let admin_entry = SearchEntry::construct(admin_entry.into_iter().next().unwrap());
    let guid = &admin_entry.bin_attrs["objectGUID"][0];
    let escaped: String = guid.iter().map(|b| format!("\\{b:02x}")).collect();
    check(
        &mut conn,
        &format!("(objectGUID={escaped})"),
        &["Administrator"],
    );

    // Extended-DN bases.
    let guid_text = devwb_model::Guid::from_ad_bytes(guid).unwrap().to_string();
    let hex: String = guid.iter().map(|b| format!("{b:02x}")).collect();
    for base in [format!("<GUID={guid_text}>"), format!("<GUID={hex}>")] {
        let (entries, _) = conn
            .search(&base, Scope::Base, "(objectClass=*)", vec!["cn"])
            .unwrap()
            .success()
            .unwrap();
        assert_eq!(
            SearchEntry::construct(entries.into_iter().next().unwrap()).dn,
            sim.admin_dn(),
            "{base}"
        );
    }
    let sid = devwb_model::Sid::from_bytes(&admin_entry.bin_attrs["objectSid"][0]).unwrap();
    let (entries, _) = conn
        .search(
            &format!("<SID={sid}>"),
            Scope::Base,
            "(objectClass=*)",
            vec!["cn"],
        )
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(entries.len(), 1);
}

#[test]
fn sd_flags_select_descriptor_parts() {
    let sim = start();
    let mut conn = admin(&sim);
    let dn = format!("CN=Computers,{}", sim.domain_dn());
    // O:DA G:DA D:(A;;RPWP;;;WD) in self-relative form.
    let owner_sid = [
        1u8, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 2, 0, 0,
    ];
    let owner = [
        1u8, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 2, 0, 0,
    ];
    let dacl = [
        2u8, 0, 28, 0, 1, 0, 0, 0, 0, 0, 20, 0, 0x30, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
    ];
    let mut sd = vec![
        1u8, 0, 0x04, 0x80, 48, 0, 0, 0, 76, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0,
    ];
    sd.extend_from_slice(&dacl);
    sd.extend_from_slice(&owner);
    sd.extend_from_slice(&owner);
    let sd_values: HashSet<Vec<u8>> = [sd.clone()].into_iter().collect();
    conn.modify(
        &dn,
        vec![Mod::Replace(b"nTSecurityDescriptor".to_vec(), sd_values)],
    )
    .unwrap()
    .success()
    .unwrap();

    let plain = conn
        .search(&dn, Scope::Base, "(objectClass=*)", vec!["*"])
        .unwrap()
        .success()
        .unwrap()
        .0;
    assert!(
        !SearchEntry::construct(plain.into_iter().next().unwrap())
            .bin_attrs
            .contains_key("nTSecurityDescriptor"),
        "not returned by * alone"
    );
    let offsets = |sd: &[u8]| -> Vec<u32> {
        (0..4)
            .map(|i| u32::from_le_bytes(sd[4 + 4 * i..8 + 4 * i].try_into().unwrap()))
            .collect()
    };
    let by_name = conn
        .search(
            &dn,
            Scope::Base,
            "(objectClass=*)",
            vec!["nTSecurityDescriptor"],
        )
        .unwrap()
        .success()
        .unwrap()
        .0;
    let whole = SearchEntry::construct(by_name.into_iter().next().unwrap()).bin_attrs
        ["nTSecurityDescriptor"][0]
        .clone();
    let [owner, group, _sacl, dacl] = offsets(&whole)[..] else {
        panic!("four offsets")
    };
    assert!(
        owner != 0 && group != 0 && dacl != 0,
        "owner, group and DACL present: {whole:?}"
    );
    assert_eq!(
        &whole[owner as usize..owner as usize + owner_len(&whole, owner)],
        &owner_sid,
        "the owner written is kept"
    );
    let dacl_only = conn
        .with_controls(RawControl {
            ctype: "1.2.840.113556.1.4.801".into(),
            crit: true,
            val: Some(vec![0x30, 0x03, 0x02, 0x01, 0x04]),
        })
        .search(
            &dn,
            Scope::Base,
            "(objectClass=*)",
            vec!["nTSecurityDescriptor"],
        )
        .unwrap()
        .success()
        .unwrap()
        .0;
    let got = SearchEntry::construct(dacl_only.into_iter().next().unwrap()).bin_attrs
        ["nTSecurityDescriptor"][0]
        .clone();
    let [owner, group, sacl, dacl] = offsets(&got)[..] else {
        panic!("four offsets")
    };
    assert_eq!((owner, group, sacl), (0, 0, 0), "only the DACL: {got:?}");
    assert_ne!(dacl, 0);
}

fn owner_len(sd: &[u8], offset: u32) -> usize {
    8 + 4 * sd[offset as usize + 1] as usize
}

#[test]
fn several_outstanding_requests_on_one_connection() {
    // The async client pipelines: many operations in flight on one connection at once.
    let sim = start();
    let url = sim.ldaps_url();
    let admin_dn = sim.admin_dn();
    let password = sim.admin_password().to_string();
    let ou = format!("CN=Computers,{}", sim.domain_dn());
    let _ = sim.domain_dn();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let (conn, mut ldap) = ldap3::LdapConnAsync::with_settings(
            ldap3::LdapConnSettings::new().set_no_tls_verify(true),
            &url,
        )
        .await
        .unwrap();
        ldap3::drive!(conn);
        ldap.simple_bind(&admin_dn, &password)
            .await
            .unwrap()
            .success()
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let mut ldap = ldap.clone();
            let dn = format!("CN=p{i},{ou}");
            tasks.push(tokio::spawn(async move {
                ldap.add(
                    &dn,
                    vec![
                        ("objectClass", set(&["top", "container"])),
                        ("cn", set(&[&*format!("p{i}")])),
                    ],
                )
                .await
                .unwrap()
                .success()
                .unwrap();
                ldap.search(&dn, Scope::Base, "(objectClass=*)", vec!["cn"])
                    .await
                    .unwrap()
                    .success()
                    .unwrap()
                    .0
                    .len()
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), 1);
        }
    });
}
