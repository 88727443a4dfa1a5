//! The client against a simulated forest of several domains: each domain's DC and the global
//! catalog through the lab's helpers, and account resolution across the forest from the root
//! domain's DC by following the referrals the other domains' NCs answer with.

use devwb_ldap::Scope;
use devwb_model::{Dn, Sid};
use devwb_test_support::Lab;

#[test]
fn each_domain_s_dc_and_the_global_catalog_answer_the_client() {
    let lab = Lab::builder()
        .domain("emea.contoso.lab")
        .domain("fabrikam.lab")
        .simulator(|sim| sim.admin_password("Forest-Client-1!"))
        .start();
    let (_, bob_sid) = lab
        .sim
        .add_user_in("emea.contoso.lab", "bob", "Passw0rd!")
        .unwrap();
    let emea = lab.sim.domain("emea.contoso.lab").unwrap().clone();
    // A user of the child domain binds on its DC by UPN and reads its own domain head.
    let client = lab.client_on("emea.contoso.lab", "bob@emea.contoso.lab", "Passw0rd!");
    let head = client
        .read(&emea.domain_dn, &["objectSid"])
        .unwrap()
        .unwrap();
    assert_eq!(
        Sid::from_bytes(head.first_bytes("objectSid").unwrap()).unwrap(),
        emea.domain_sid
    );
    // The root domain's NC is another DC's: the client sees the referral's code (10).
    let error = client
        .search(&lab.domain, Scope::Base, "(objectClass=*)", &["1.1"])
        .unwrap_err();
    assert_eq!(error.result_code(), Some(10), "{error}");
    // The global catalog finds bob from the forest's root, by SID.
    let gc =
        devwb_ldap::Client::connect(&lab.gc_options(), Some(&lab.admin_credentials())).unwrap();
    let filter: String = bob_sid
        .to_bytes()
        .iter()
        .map(|b| format!("\\{b:02x}"))
        .collect();
    let found = gc
        .search(
            &Dn::root(),
            Scope::Subtree,
            &format!("(objectSid={filter})"),
            &["sAMAccountName"],
        )
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].first_str("sAMAccountName"), Some("bob"));
}

/// A forest of a root, a child and a tree domain, with an account in each of the other two.
fn three_domains() -> (Lab, Sid, Sid) {
    let lab = Lab::builder()
        .domain("emea.contoso.lab")
        .domain("fabrikam.lab")
        .simulator(|sim| sim.admin_password("Forest-Client-1!"))
        .start();
    let (_, svc) = lab
        .sim
        .add_user_in("emea.contoso.lab", "svc-emea", "Passw0rd!")
        .unwrap();
    let (_, carol) = lab
        .sim
        .add_user_in("fabrikam.lab", "carol", "Passw0rd!")
        .unwrap();
    (lab, svc, carol)
}

#[test]
fn accounts_of_every_domain_resolve_from_the_root_s_dc_through_referrals() {
    let (lab, svc, carol) = three_domains();
    let client = lab.admin_client();
    let root_dse = client.root_dse().unwrap();
    let forest = client.forest_domains(&root_dse).unwrap();
    assert_eq!(forest.domains.len(), 3, "{forest:?}");
    // Every domain's SID, the other domains' heads read on their own DCs.
    for name in ["contoso.lab", "emea.contoso.lab", "fabrikam.lab"] {
        let expected = lab.sim.domain(name).unwrap().domain_sid;
        let domain = forest.by_dns(name).unwrap();
        assert_eq!(domain.sid, Some(expected), "{name}");
    }
    assert!(forest.contains_sid(&svc) && forest.contains_sid(&carol));
    // The three name forms, each domain's account.
    for (name, sid, netbios) in [
        ("EMEA\\svc-emea", svc, "EMEA"),
        ("svc-emea@emea.contoso.lab", svc, "EMEA"),
        ("carol", carol, "FABRIKAM"),
        ("FABRIKAM\\carol", carol, "FABRIKAM"),
        ("CN=carol,CN=Users,DC=fabrikam,DC=lab", carol, "FABRIKAM"),
    ] {
        let account = client
            .resolve_account(name, &forest)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(account.sid, sid, "{name}");
        assert_eq!(
            account.domain_netbios_name.as_deref(),
            Some(netbios),
            "{name}"
        );
    }
    // A domain of the forest in which the name matches nothing is still "not found".
    let error = client.resolve_account("EMEA\\nobody", &forest).unwrap_err();
    assert!(
        matches!(error.kind(), devwb_ldap::ErrorKind::AccountNotFound { .. }),
        "{error}"
    );
}

#[test]
fn a_domain_whose_dc_is_down_is_named_in_the_error_and_nothing_hangs() {
    let (lab, _, _) = three_domains();
    // Down before devwb first reaches it (a connection already open would be kept).
    assert!(lab.sim.set_dc_refusing("fabrikam.lab", true));
    let started = std::time::Instant::now();
    let client = lab.admin_client();
    let root_dse = client.root_dse().unwrap();
    // The domains are still listed (the configuration NC is on every DC); the unreachable
    // domain's SID is not known.
    let forest = client.forest_domains(&root_dse).unwrap();
    assert_eq!(forest.by_dns("fabrikam.lab").unwrap().sid, None);
    let error = client
        .resolve_account("FABRIKAM\\carol", &forest)
        .unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error.kind(), devwb_ldap::ErrorKind::ReferralFailed { .. }),
        "{text}"
    );
    let fabrikam = lab.sim.dc("fabrikam.lab").unwrap();
    let port = fabrikam.ldaps.map(|a| a.port()).unwrap();
    assert!(
        text.contains("DC=fabrikam,DC=lab") && text.contains(&format!(":{port}")),
        "the error names the domain and its DC: {text}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // The other domains still resolve.
    client.resolve_account("EMEA\\svc-emea", &forest).unwrap();
}

#[test]
fn the_device_container_of_a_child_domain_is_observed_from_the_root_s_dc() {
    let (lab, _, _) = three_domains();
    let emea = lab.sim.domain("emea.contoso.lab").unwrap().clone();
    let container = emea
        .domain_dn
        .child(devwb_model::Rdn::new("CN", "RegisteredDevices").unwrap());
    let child_admin = lab.client_on(
        "emea.contoso.lab",
        "Administrator@emea.contoso.lab",
        "Forest-Client-1!",
    );
    child_admin
        .add(
            &container,
            vec![(
                "objectClass".to_string(),
                vec![b"msDS-DeviceContainer".to_vec()],
            )],
        )
        .unwrap();
    // Observed through the root domain's DC: the container, its parent and its descriptor
    // are read on the child's DC, and the child's SID comes through the referral too.
    let client = lab.admin_client();
    let observation =
        devwb_ldap::observe_device_registration(&client, Some(&emea.domain_dn), None).unwrap();
    let observed = &observation.device_container;
    assert_eq!(observed.dn, container);
    assert!(observed.exists, "{observed:?}");
    assert!(observed
        .parent_object_classes
        .iter()
        .any(|c| c.eq_ignore_ascii_case("domainDNS")));
    assert!(
        observed.security_descriptor.is_some(),
        "{:?}",
        observed.security_descriptor_error
    );
    assert_eq!(observation.domain_sid, Some(emea.domain_sid));
}
