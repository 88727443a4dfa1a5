use devwb_ldap::{ApplyOptions, Change, Scope};
use devwb_model::{Dn, Rdn};

use crate::support::lab;

#[test]
fn paged_search_returns_every_entry_beyond_the_page_size() {
    let mut lab = lab();
    let ou = lab.add_ou("Paging");
    let changes: Vec<Change> = (0..2345)
        .map(|i| Change::Add {
            dn: ou.child(Rdn::new("CN", &format!("c{i:05}")).unwrap()),
            attrs: vec![("objectClass".into(), vec![b"container".to_vec()])],
        })
        .collect();
    let report = lab
        .client
        .apply_changes(changes, &ApplyOptions::default(), &mut |_| {});
    assert_eq!(report.applied, 2345, "{:?}", report.failures().next());
    lab.client.set_page_size(500);
    let found = lab
        .client
        .search(&ou, Scope::OneLevel, "(objectClass=container)", &["cn"])
        .unwrap();
    assert_eq!(found.len(), 2345);
    let mut names: Vec<&str> = found.iter().filter_map(|e| e.first_str("cn")).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 2345, "no entry twice");
}

#[test]
fn schema_version_and_device_classes_follow_the_level() {
    for (level, version, has_class) in [
        (devwb_model::SchemaLevel::W2008R2, 47, false),
        (devwb_model::SchemaLevel::W2012R2, 69, true),
        (devwb_model::SchemaLevel::W2016, 87, true),
    ] {
        let lab = crate::support::start(level);
        let root = lab.client.root_dse().unwrap();
        let schema = lab.client.schema_version(&root.schema_nc).unwrap();
        assert_eq!(schema.object_version, version, "{level:?}");
        let class = lab
            .client
            .class_schema(&root.schema_nc, "msDS-DeviceContainer")
            .unwrap();
        assert_eq!(class.is_some(), has_class, "{level:?}");
        if let Some(class) = class {
            let sddl = class
                .first_str("defaultSecurityDescriptor")
                .unwrap_or_default();
            assert!(sddl.starts_with("D:"), "{sddl}");
        }
    }
}

#[test]
fn several_classes_are_read_in_one_search_and_a_missing_one_is_left_out() {
    let lab = lab();
    let root = lab.client.root_dse().unwrap();
    let found = lab
        .client
        .class_schemas(
            &root.schema_nc,
            &["msDS-DeviceContainer", "noSuchClass", "container"],
        )
        .unwrap();
    let mut names: Vec<&str> = found
        .iter()
        .filter_map(|entry| entry.first_str("lDAPDisplayName"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["container", "msDS-DeviceContainer"]);
}

#[test]
fn a_base_search_on_a_missing_object_is_none() {
    let lab = lab();
    let missing = Dn::parse(&format!("CN=nothing-here,{}", lab.sim.domain_dn())).unwrap();
    assert_eq!(lab.client.read(&missing, &["cn"]).unwrap(), None);
}

#[test]
fn reads_survive_a_server_that_closes_connections_by_reopening_them() {
    use devwb_test_support::simulator::faults::FaultConfig;

    let lab = lab();
    lab.sim.forest().semantics.set_faults(FaultConfig {
        drop_connection_after: Some(3),
        ..FaultConfig::default()
    });
    let domain = Dn::parse(&lab.sim.domain_dn()).unwrap();
    for round in 0..10 {
        let entry = lab.client.read(&domain, &["objectSid"]);
        assert!(matches!(entry, Ok(Some(_))), "round {round}: {entry:?}");
    }
    lab.sim
        .forest()
        .semantics
        .set_faults(FaultConfig::default());
}

#[test]
fn a_streaming_search_that_lost_its_connection_leaves_the_client_reconnected() {
    use devwb_test_support::simulator::faults::FaultConfig;

    let lab = lab();
    lab.sim.forest().semantics.set_faults(FaultConfig {
        drop_connection_after: Some(3),
        ..FaultConfig::default()
    });
    let domain = Dn::parse(&lab.sim.domain_dn()).unwrap();
    let mut losses = 0;
    let mut failed_last_round = false;
    for round in 0..10 {
        let mut entries = 0;
        let result = lab.client.search_each(
            &domain,
            devwb_ldap::Scope::Base,
            "(objectClass=*)",
            &["objectSid"],
            &mut |_| entries += 1,
        );
        match result {
            Ok(count) => {
                assert_eq!((count, entries), (1, 1), "round {round}");
                failed_last_round = false;
            }
            Err(error) => {
                assert!(error.is_connection_lost(), "round {round}: {error}");
                assert!(
                    !failed_last_round,
                    "round {round}: the connection was not reopened after the last loss: {error}"
                );
                losses += 1;
                failed_last_round = true;
            }
        }
    }
    assert!(losses > 0, "the server dropped no connection");
    lab.sim
        .forest()
        .semantics
        .set_faults(FaultConfig::default());
}
