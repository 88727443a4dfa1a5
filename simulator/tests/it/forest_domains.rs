//! A forest of three domains (root contoso.lab, child emea.contoso.lab, tree fabrikam.lab):
//! each DC holds its own domain NC and the configuration and schema NCs, refers requests for
//! the others to their DCs, and the global catalog answers for the whole forest, read-only.

use devwb_model::Sid;
use devwb_simulator::{SimHandle, Simulator};
use ldap3::{LdapConn, LdapConnSettings, LdapError, Mod, Scope, SearchEntry};

const PASSWORD: &str = "Forest-Test-1!";

fn forest() -> SimHandle {
    Simulator::builder()
        .forest("contoso.lab")
        .domain("emea.contoso.lab")
        .domain("fabrikam.lab")
        .admin_password(PASSWORD)
        .seed(14)
        .start_blocking()
        .expect("a three-domain forest starts")
}

fn bind(url: &str, name: &str, password: &str) -> LdapConn {
    let mut conn = LdapConn::with_settings(LdapConnSettings::new().set_no_tls_verify(true), url)
        .expect("connects");
    conn.simple_bind(name, password)
        .expect("bind sent")
        .success()
        .expect("bind succeeds");
    conn
}

/// The entries of a search (references left out) and the references' URLs.
fn search(
    conn: &mut LdapConn,
    base: &str,
    scope: Scope,
    filter: &str,
    attributes: &[&str],
) -> Result<(Vec<SearchEntry>, Vec<String>), LdapError> {
    let result = conn.search(base, scope, filter, attributes.to_vec())?;
    let (raw, done) = result.success()?;
    // ldap3 gathers the continuation references in the result's `refs`.
    let mut references = done.refs;
    let mut entries = Vec::new();
    for entry in raw {
        if entry.is_ref() {
            references.extend(ldap3::parse_refs(entry.0));
        } else {
            entries.push(SearchEntry::construct(entry));
        }
    }
    Ok((entries, references))
}

fn rc_and_refs(conn: &mut LdapConn, base: &str) -> (u32, Vec<String>, String) {
    let result = conn
        .search(base, Scope::Base, "(objectClass=*)", vec!["1.1"])
        .expect("search sent");
    (result.1.rc, result.1.refs.clone(), result.1.text.clone())
}

#[test]
fn each_domain_has_its_own_sid_groups_and_cross_ref() {
    let sim = forest();
    let names: Vec<&str> = sim.domains().iter().map(|d| d.dns_name.as_str()).collect();
    assert_eq!(names, ["contoso.lab", "emea.contoso.lab", "fabrikam.lab"]);
    let sids: std::collections::HashSet<Sid> = sim.domains().iter().map(|d| d.domain_sid).collect();
    assert_eq!(sids.len(), 3, "one domain SID each");
    let root = sim.domain("contoso.lab").unwrap();
    let emea = sim.domain("EMEA").unwrap();
    assert_eq!(emea.domain_dn.to_string(), "DC=emea,DC=contoso,DC=lab");
    assert_eq!(emea.netbios_name, "EMEA");
    let mut conn = bind(
        &sim.domain_ldaps_url("emea.contoso.lab"),
        &emea.admin_dn.to_string(),
        PASSWORD,
    );
    let base = emea.domain_dn.to_string();
    let (groups, _) = search(
        &mut conn,
        &base,
        Scope::Subtree,
        "(objectClass=group)",
        &["sAMAccountName", "objectSid"],
    )
    .unwrap();
    let mut group_names: Vec<String> = groups
        .iter()
        .map(|g| g.attrs["sAMAccountName"][0].clone())
        .collect();
    group_names.sort();
    assert_eq!(
        group_names,
        ["Domain Admins", "Domain Computers", "Domain Users"],
        "no forest-wide groups in a child domain"
    );
    for group in &groups {
        let sid = Sid::from_bytes(&group.bin_attrs["objectSid"][0]).unwrap();
        assert!(
            sid.is_in_domain(&emea.domain_sid),
            "{sid} is in EMEA's domain"
        );
    }
    let forest_groups = search(
        &mut conn,
        &root.domain_dn.to_string(),
        Scope::Subtree,
        "(|(cn=Enterprise Admins)(cn=Schema Admins))",
        &["member"],
    );
    assert!(
        forest_groups.is_err(),
        "the root domain's NC is not EMEA's DC's"
    );
    // The crossRefs, through the configuration NC every DC holds.
    let partitions = format!("CN=Partitions,{}", sim.config_dn());
    let (refs, _) = search(
        &mut conn,
        &partitions,
        Scope::OneLevel,
        "(objectClass=crossRef)",
        &["nCName", "dnsRoot", "nETBIOSName", "systemFlags"],
    )
    .unwrap();
    let mut found: Vec<String> = refs
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r.attrs["nETBIOSName"][0],
                r.attrs["dnsRoot"][0],
                r.attrs["nCName"][0],
                r.attrs["systemFlags"][0]
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "CONTOSO contoso.lab DC=contoso,DC=lab 3",
            "EMEA emea.contoso.lab DC=emea,DC=contoso,DC=lab 3",
            "FABRIKAM fabrikam.lab DC=fabrikam,DC=lab 3",
        ]
    );
    // The root Administrator is an Enterprise Admin, with the same password.
    let mut root_conn = bind(&sim.ldaps_url(), &sim.admin_dn(), PASSWORD);
    let (enterprise, _) = search(
        &mut root_conn,
        &root.user_dn("Enterprise Admins").to_string(),
        Scope::Base,
        "(objectClass=*)",
        &["member"],
    )
    .unwrap();
    assert_eq!(enterprise[0].attrs["member"], [root.admin_dn.to_string()]);
}

#[test]
fn each_dc_answers_its_own_nc_and_the_configuration_nc_and_refers_the_others() {
    let sim = forest();
    let emea_dc = sim.dc("emea.contoso.lab").unwrap();
    let fabrikam_dc = sim.dc("fabrikam.lab").unwrap();
    for domain in sim.domains() {
        let dc = sim.dc(&domain.dns_name).unwrap();
        let mut conn = bind(&dc.ldaps_url(), &domain.admin_dn.to_string(), PASSWORD);
        // The rootDSE names this DC's domain.
        let (root_dse, _) = search(
            &mut conn,
            "",
            Scope::Base,
            "(objectClass=*)",
            &[
                "defaultNamingContext",
                "rootDomainNamingContext",
                "namingContexts",
                "dnsHostName",
            ],
        )
        .unwrap();
        assert_eq!(
            root_dse[0].attrs["defaultNamingContext"],
            [domain.domain_dn.to_string()]
        );
        assert_eq!(
            root_dse[0].attrs["rootDomainNamingContext"],
            ["DC=contoso,DC=lab"]
        );
        assert_eq!(root_dse[0].attrs["namingContexts"].len(), 3);
        assert_eq!(root_dse[0].attrs["dnsHostName"][0], domain.dc_host_name);
        // Its own NC and the configuration NC.
        let (own, _) = search(
            &mut conn,
            &domain.domain_dn.to_string(),
            Scope::Base,
            "(objectClass=*)",
            &["objectSid"],
        )
        .unwrap();
        assert_eq!(own.len(), 1);
        let (config, _) = search(
            &mut conn,
            &sim.config_dn(),
            Scope::Base,
            "(objectClass=*)",
            &["1.1"],
        )
        .unwrap();
        assert_eq!(config.len(), 1);
    }
    // A base search for another domain's DN: a referral naming that domain's DC's port.
    let mut root_conn = bind(&sim.ldaps_url(), &sim.admin_dn(), PASSWORD);
    let (rc, refs, text) = rc_and_refs(&mut root_conn, "CN=Users,DC=emea,DC=contoso,DC=lab");
    assert_eq!(rc, 10, "{text}");
    assert_eq!(
        refs,
        [format!(
            "ldaps://{}/CN=Users,DC=emea,DC=contoso,DC=lab",
            emea_dc.ldaps.unwrap()
        )]
    );
    assert!(text.starts_with("0000202B: RefErr: DSID-"), "{text}");
    assert!(text.contains("emea.contoso.lab"), "{text}");
    let (rc, refs, _) = rc_and_refs(
        &mut root_conn,
        "CN=Domain Admins,CN=Users,DC=fabrikam,DC=lab",
    );
    assert_eq!(rc, 10);
    assert_eq!(
        refs,
        [format!(
            "ldaps://{}/CN=Domain%20Admins,CN=Users,DC=fabrikam,DC=lab",
            fabrikam_dc.ldaps.unwrap()
        )]
    );
    // Over plain LDAP (with StartTLS) the referral names the plain listener.
    let mut plain = LdapConn::with_settings(
        LdapConnSettings::new()
            .set_no_tls_verify(true)
            .set_starttls(true),
        &sim.domain_url("fabrikam.lab"),
    )
    .unwrap();
    plain
        .simple_bind(
            &sim.domain("fabrikam.lab").unwrap().admin_dn.to_string(),
            PASSWORD,
        )
        .unwrap()
        .success()
        .unwrap();
    let (rc, refs, _) = rc_and_refs(&mut plain, "DC=contoso,DC=lab");
    assert_eq!(rc, 10);
    assert_eq!(
        refs,
        [format!("ldap://{}/DC=contoso,DC=lab", sim.addr().unwrap())]
    );
    // Writes and compares are referred too; a DN in no NC of the forest is noSuchObject.
    let add = root_conn
        .add(
            "OU=Elsewhere,DC=emea,DC=contoso,DC=lab",
            vec![("objectClass", ["top", "organizationalUnit"].into())],
        )
        .unwrap();
    assert_eq!(add.rc, 10);
    assert_eq!(
        add.refs,
        [format!(
            "ldaps://{}/OU=Elsewhere,DC=emea,DC=contoso,DC=lab",
            emea_dc.ldaps.unwrap()
        )]
    );
    let modify = root_conn
        .modify(
            "CN=Users,DC=fabrikam,DC=lab",
            vec![Mod::Replace("description", ["x"].into())],
        )
        .unwrap();
    assert_eq!(modify.rc, 10);
    let delete = root_conn.delete("CN=Users,DC=fabrikam,DC=lab").unwrap();
    assert_eq!(delete.rc, 10);
    let compare = root_conn
        .compare("CN=Users,DC=emea,DC=contoso,DC=lab", "cn", "Users")
        .unwrap();
    assert_eq!(compare.0.rc, 10);
    let (rc, refs, _) = rc_and_refs(&mut root_conn, "DC=nowhere,DC=test");
    assert_eq!((rc, refs.len()), (32, 0));
}

#[test]
fn a_root_subtree_search_returns_a_continuation_reference_to_the_child() {
    let sim = forest();
    let emea_dc = sim.dc("emea.contoso.lab").unwrap();
    let mut conn = bind(&sim.ldaps_url(), &sim.admin_dn(), PASSWORD);
    let (entries, references) = search(
        &mut conn,
        "DC=contoso,DC=lab",
        Scope::Subtree,
        "(objectClass=user)",
        &["sAMAccountName"],
    )
    .unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e.dn.ends_with(",DC=contoso,DC=lab") && !e.dn.contains("DC=emea")),
        "no entry of the child domain"
    );
    assert!(
        references.contains(&format!(
            "ldaps://{}/DC=emea,DC=contoso,DC=lab",
            emea_dc.ldaps.unwrap()
        )),
        "{references:?}"
    );
    // The configuration NC is referred to as before, by the forest's name.
    assert!(
        references.contains(&"ldap://contoso.lab/CN=Configuration,DC=contoso,DC=lab".to_string()),
        "{references:?}"
    );
    // The tree domain is not below the root: no reference to it.
    assert!(
        !references.iter().any(|r| r.contains("fabrikam")),
        "{references:?}"
    );
    // The child's subtree search sees its own users only.
    let emea = sim.domain("emea.contoso.lab").unwrap();
    let mut child = bind(&emea_dc.ldaps_url(), &emea.admin_dn.to_string(), PASSWORD);
    let (entries, references) = search(
        &mut child,
        "",
        Scope::Subtree,
        "(sAMAccountName=Administrator)",
        &["1.1"],
    )
    .unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].dn, emea.admin_dn.to_string());
    assert!(references.is_empty());
}

#[test]
fn the_global_catalog_finds_every_domain_s_users_with_the_partial_attribute_set_only() {
    let sim = forest();
    let mut users = Vec::new();
    for (domain, name) in [
        ("contoso.lab", "ann"),
        ("emea.contoso.lab", "bob"),
        ("fabrikam.lab", "cid"),
    ] {
        let (dn, sid) = sim.add_user_in(domain, name, "Passw0rd!").unwrap();
        assert!(sid.is_in_domain(&sim.domain(domain).unwrap().domain_sid));
        users.push((dn, sid, name));
    }
    assert!(!sim.gc_url().is_empty() && !sim.gc_ldaps_url().is_empty());
    // Anyone of the forest binds on the GC; here a user of the tree domain.
    let mut gc = bind(&sim.gc_ldaps_url(), "cid@fabrikam.lab", "Passw0rd!");
    for (dn, sid, name) in &users {
        let (by_name, _) = search(
            &mut gc,
            "",
            Scope::Subtree,
            &format!("(sAMAccountName={name})"),
            &["objectSid", "userPrincipalName"],
        )
        .unwrap();
        assert_eq!(by_name.len(), 1, "{name}");
        assert_eq!(&by_name[0].dn, &dn.to_string());
        let sid_filter: String = sid
            .to_bytes()
            .iter()
            .map(|b| format!("\\{b:02x}"))
            .collect();
        let (by_sid, _) = search(
            &mut gc,
            "",
            Scope::Subtree,
            &format!("(objectSid={sid_filter})"),
            &["sAMAccountName"],
        )
        .unwrap();
        assert_eq!(by_sid.len(), 1, "{sid}");
        assert_eq!(by_sid[0].attrs["sAMAccountName"], [name.to_string()]);
    }
    // A subtree search from the root domain spans the child domain too, and refers to nothing.
    let (admins, references) = search(
        &mut gc,
        "DC=contoso,DC=lab",
        Scope::Subtree,
        "(sAMAccountName=Administrator)",
        &["1.1"],
    )
    .unwrap();
    assert_eq!(admins.len(), 2, "root and child Administrators: {admins:?}");
    assert!(references.is_empty());
    // Only the partial attribute set: adminCount is not in it, objectSid is.
    let (all, _) = search(
        &mut gc,
        &sim.admin_dn(),
        Scope::Base,
        "(objectClass=*)",
        &["*"],
    )
    .unwrap();
    let admin = &all[0];
    assert!(admin.bin_attrs.contains_key("objectSid") || admin.attrs.contains_key("objectSid"));
    assert!(admin.attrs.contains_key("sAMAccountName"));
    let schema = devwb_simulator::schema::Schema::for_level(devwb_model::SchemaLevel::W2016);
    for name in admin.attrs.keys().chain(admin.bin_attrs.keys()) {
        assert!(
            schema.in_partial_attribute_set(name),
            "{name} is outside the partial attribute set"
        );
    }
    let mut dc = bind(&sim.ldaps_url(), &sim.admin_dn(), PASSWORD);
    let (on_dc, _) = search(
        &mut dc,
        &sim.admin_dn(),
        Scope::Base,
        "(objectClass=*)",
        &["adminCount"],
    )
    .unwrap();
    assert_eq!(on_dc[0].attrs["adminCount"], ["1"], "the DC has it");
    let (on_gc, _) = search(
        &mut gc,
        &sim.admin_dn(),
        Scope::Base,
        "(objectClass=*)",
        &["adminCount"],
    )
    .unwrap();
    assert!(
        on_gc[0].attrs.is_empty(),
        "the GC has not: {:?}",
        on_gc[0].attrs
    );
    // Nor does a filter or a compare on it see it there.
    let (by_admin_count, _) =
        search(&mut gc, "", Scope::Subtree, "(adminCount=1)", &["1.1"]).unwrap();
    assert!(by_admin_count.is_empty(), "{by_admin_count:?}");
    let compared = gc.compare(&sim.admin_dn(), "adminCount", "1").unwrap();
    assert_eq!(compared.0.rc, 16, "noSuchAttribute on the GC");
    assert_eq!(
        dc.compare(&sim.admin_dn(), "adminCount", "1").unwrap().0.rc,
        6
    );
    // Read-only: every write is refused as AD's GC port refuses it.
    let mut gc_admin = bind(&sim.gc_ldaps_url(), &sim.admin_dn(), PASSWORD);
    let add = gc_admin
        .add(
            "OU=Nope,DC=contoso,DC=lab",
            vec![("objectClass", ["top", "organizationalUnit"].into())],
        )
        .unwrap();
    assert_eq!(add.rc, 53, "{}", add.text);
    assert!(
        add.text.contains("Operation not allowed through GC port"),
        "{}",
        add.text
    );
    let modify = gc_admin
        .modify(
            &sim.admin_dn(),
            vec![Mod::Replace("description", ["x"].into())],
        )
        .unwrap();
    assert_eq!(modify.rc, 53);
    assert_eq!(gc_admin.delete(&users[0].0.to_string()).unwrap().rc, 53);
    assert_eq!(
        gc_admin
            .modifydn(&users[0].0.to_string(), "CN=ann2", true, None)
            .unwrap()
            .rc,
        53
    );
}

#[test]
fn a_root_domain_connector_granted_rights_in_the_child_creates_an_object_there() {
    let sim = forest();
    let (connector_dn, connector_sid) = sim
        .add_user_in("contoso.lab", "svc-connector", "Passw0rd!")
        .unwrap();
    let emea = sim.domain("emea.contoso.lab").unwrap();
    let emea_url = sim.domain_ldaps_url("emea.contoso.lab");
    let target = format!("OU=Devices,{}", emea.domain_dn);
    let mut emea_admin = bind(&emea_url, &emea.admin_dn.to_string(), PASSWORD);
    emea_admin
        .add(
            &target,
            vec![("objectClass", ["top", "organizationalUnit"].into())],
        )
        .unwrap()
        .success()
        .unwrap();
    // Before the grant: the connector of the root domain binds on EMEA's DC but cannot create.
    let mut connector = bind(&emea_url, "CONTOSO\\svc-connector", "Passw0rd!");
    let new_ou = format!("OU=Created,{target}");
    let denied = connector
        .add(
            &new_ou,
            vec![("objectClass", ["top", "organizationalUnit"].into())],
        )
        .unwrap();
    assert_eq!(denied.rc, 50, "{}", denied.text);
    // EMEA's Administrator grants the root domain's connector CreateChild+DeleteChild.
    let (current, _) = search(
        &mut emea_admin,
        &target,
        Scope::Base,
        "(objectClass=*)",
        &["nTSecurityDescriptor"],
    )
    .unwrap();
    let sd = &current[0].bin_attrs["nTSecurityDescriptor"][0];
    let mut descriptor = devwb_model::sd::SecurityDescriptor::from_bytes(sd).unwrap();
    let sddl = format!("D:(A;CI;CCDC;;;{connector_sid})");
    let grant = devwb_model::sd::SecurityDescriptor::from_sddl(
        &sddl,
        &devwb_model::sd::SddlContext::with_root(emea.domain_sid, sim.domain_sid()),
    )
    .unwrap();
    let mut dacl = descriptor.dacl.clone().unwrap_or_default();
    for ace in grant.dacl.unwrap().aces {
        dacl.aces.insert(0, ace);
    }
    descriptor.dacl = Some(dacl);
    emea_admin
        .modify(
            &target,
            vec![Mod::Replace(
                b"nTSecurityDescriptor".to_vec(),
                [descriptor.to_bytes().unwrap()].into(),
            )],
        )
        .unwrap()
        .success()
        .unwrap();
    connector
        .add(
            &new_ou,
            vec![("objectClass", ["top", "organizationalUnit"].into())],
        )
        .unwrap()
        .success()
        .expect("the root domain's connector creates in the child domain");
    // The new object's owner is the connector, a SID of another domain than the object's.
    let (created, _) = search(
        &mut emea_admin,
        &new_ou,
        Scope::Base,
        "(objectClass=*)",
        &["nTSecurityDescriptor"],
    )
    .unwrap();
    let owner = devwb_model::sd::SecurityDescriptor::from_bytes(
        &created[0].bin_attrs["nTSecurityDescriptor"][0],
    )
    .unwrap()
    .owner;
    assert_eq!(owner, Some(connector_sid));
    let _ = connector_dn;
}

#[test]
fn a_group_of_another_domain_counts_in_the_token() {
    let sim = forest();
    // A user of the tree domain, member of a group of the root domain that is granted rights
    // on an object of the child domain.
    let (user_dn, _) = sim
        .add_user_in("fabrikam.lab", "dana", "Passw0rd!")
        .unwrap();
    let root = sim.domain("contoso.lab").unwrap().clone();
    let emea = sim.domain("emea.contoso.lab").unwrap().clone();
    let mut root_admin = bind(&sim.ldaps_url(), &sim.admin_dn(), PASSWORD);
    let group_dn = root.user_dn("Device Writers").to_string();
    root_admin
        .add(
            &group_dn,
            vec![
                ("objectClass", ["top", "group"].into()),
                ("member", [user_dn.to_string().as_str()].into()),
            ],
        )
        .unwrap()
        .success()
        .unwrap();
    let (group, _) = search(
        &mut root_admin,
        &group_dn,
        Scope::Base,
        "(objectClass=*)",
        &["objectSid"],
    )
    .unwrap();
    let group_sid = Sid::from_bytes(&group[0].bin_attrs["objectSid"][0]).unwrap();
    let mut emea_admin = bind(
        &sim.domain_ldaps_url("emea"),
        &emea.admin_dn.to_string(),
        PASSWORD,
    );
    let target = format!("OU=Shared,{}", emea.domain_dn);
    let sddl = format!("O:DAG:DUD:(A;CI;RPWPCCDCLCLORC;;;DA)(A;CI;CCLCRP;;;{group_sid})");
    let sd = devwb_model::sd::SecurityDescriptor::from_sddl(
        &sddl,
        &devwb_model::sd::SddlContext::with_root(emea.domain_sid, root.domain_sid),
    )
    .unwrap();
    emea_admin
        .add(
            &target,
            vec![
                (
                    "objectClass".as_bytes(),
                    ["top".as_bytes(), "organizationalUnit".as_bytes()].into(),
                ),
                (
                    "nTSecurityDescriptor".as_bytes(),
                    [sd.to_bytes().unwrap().as_slice()].into(),
                ),
            ],
        )
        .unwrap()
        .success()
        .unwrap();
    let mut dana = bind(
        &sim.domain_ldaps_url("emea.contoso.lab"),
        "dana@fabrikam.lab",
        "Passw0rd!",
    );
    dana.add(
        &format!("OU=ByDana,{target}"),
        vec![("objectClass", ["top", "organizationalUnit"].into())],
    )
    .unwrap()
    .success()
    .expect("the root domain group's grant reaches a tree domain's user in the child domain");
}

#[test]
fn bad_domain_names_are_refused_with_the_reason() {
    for (domains, expected) in [
        (
            vec!["emea.contoso.lab", "emea.contoso.lab"],
            "already a domain",
        ),
        (vec!["contoso.lab"], "already a domain"),
        (vec!["lab"], "cannot be above"),
        (vec!["a.b.contoso.lab"], "parent must be a domain"),
        (
            vec!["emea.contoso.lab", "emea.fabrikam.lab"],
            "NetBIOS name EMEA",
        ),
    ] {
        let mut builder = Simulator::builder().forest("contoso.lab").seed(1);
        for domain in &domains {
            builder = builder.domain(domain);
        }
        let error = builder.start_blocking().expect_err("refused").to_string();
        assert!(error.contains(expected), "{domains:?}: {error}");
    }
}

#[test]
fn a_dump_of_the_forest_loads_back_only_with_its_domains() {
    let sim = forest();
    sim.add_user_in("emea.contoso.lab", "eve", "Passw0rd!")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.ldif");
    std::fs::write(&dump, sim.dump_ldif()).unwrap();
    drop(sim);
    let error = Simulator::builder()
        .forest("contoso.lab")
        .seed(14)
        .seed_ldif(&dump)
        .start_blocking()
        .expect_err("a single-domain forest refuses the dump")
        .to_string();
    assert!(error.contains("--domain emea.contoso.lab"), "{error}");
    let again = Simulator::builder()
        .forest("contoso.lab")
        .domain("emea.contoso.lab")
        .domain("fabrikam.lab")
        .seed(14)
        .seed_ldif(&dump)
        .start_blocking()
        .expect("the same forest loads it");
    let mut conn = bind(
        &again.domain_ldaps_url("emea.contoso.lab"),
        "eve@emea.contoso.lab",
        "Passw0rd!",
    );
    let (eve, _) = search(
        &mut conn,
        "DC=emea,DC=contoso,DC=lab",
        Scope::Subtree,
        "(sAMAccountName=eve)",
        &["1.1"],
    )
    .unwrap();
    assert_eq!(eve.len(), 1);
    // The child domain is still a naming context of its own: the root's subtree refers to it.
    let mut root = bind(&again.ldaps_url(), &again.admin_dn(), PASSWORD);
    let (entries, references) = search(
        &mut root,
        "DC=contoso,DC=lab",
        Scope::Subtree,
        "(sAMAccountName=eve)",
        &["1.1"],
    )
    .unwrap();
    assert!(entries.is_empty());
    assert!(
        references
            .iter()
            .any(|r| r.ends_with("/DC=emea,DC=contoso,DC=lab")),
        "{references:?}"
    );
}

#[test]
fn a_domain_s_dc_can_be_down_while_the_others_serve() {
    let sim = forest();
    let emea = sim.domain("emea.contoso.lab").unwrap().clone();
    assert!(sim.set_dc_refusing("EMEA", true));
    assert!(!sim.set_dc_refusing("nowhere.lab", true));
    let refused = LdapConn::with_settings(
        LdapConnSettings::new()
            .set_no_tls_verify(true)
            .set_conn_timeout(std::time::Duration::from_secs(5)),
        &sim.domain_ldaps_url("emea.contoso.lab"),
    )
    .and_then(|mut conn| conn.simple_bind(&emea.admin_dn.to_string(), PASSWORD));
    assert!(
        refused.is_err() || refused.is_ok_and(|r| r.rc != 0),
        "EMEA's DC refuses"
    );
    // The root's DC still serves, and still refers to EMEA's (down) DC.
    let mut root = bind(&sim.ldaps_url(), &sim.admin_dn(), PASSWORD);
    let (rc, refs, _) = rc_and_refs(&mut root, &emea.domain_dn.to_string());
    assert_eq!((rc, refs.len()), (10, 1));
    assert!(sim.set_dc_refusing("emea.contoso.lab", false));
    bind(
        &sim.domain_ldaps_url("emea.contoso.lab"),
        &emea.admin_dn.to_string(),
        PASSWORD,
    );
}
