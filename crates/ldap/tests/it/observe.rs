use devwb_ldap::{
    observe_device_registration, observe_device_registration_in, Account, ForestDomains, RootDse,
};

use crate::support::{lab, Lab};

/// The rootDSE and the forest's domains as read to resolve the connector, and the connector.
fn resolve_connector(lab: &Lab) -> (RootDse, ForestDomains, Account) {
    let root = lab.client.root_dse().unwrap();
    let forest = lab.client.forest_domains(&root).unwrap();
    let connector = lab
        .client
        .resolve_account("svc-aadc@contoso.lab", &forest)
        .unwrap();
    (root, forest, connector)
}

#[test]
fn a_fresh_forest_has_the_schema_but_no_device_registration_objects() {
    let lab = lab();
    let (_, sid) = lab.sim.add_user("svc-aadc", "Passw0rd!").unwrap();
    let (_, _, connector) = resolve_connector(&lab);
    let observation = observe_device_registration(&lab.client, None, Some(&connector)).unwrap();
    assert_eq!(observation.schema.object_version, Some(69));
    assert!(observation.schema.device_container_class);
    assert!(observation
        .schema
        .default_security_descriptors
        .contains_key("msDS-DeviceContainer"));
    assert!(observation.registration_services.is_empty());
    assert!(!observation.device_container.exists);
    assert!(!observation.device_registration_configuration.exists);
    assert_eq!(observation.domain.to_string(), "DC=contoso,DC=lab");
    assert_eq!(observation.domain_sid, Some(lab.sim.domain_sid()));
    assert_eq!(observation.connector.as_ref().map(|c| c.sid), Some(sid));
    // Plain data: it survives JSON.
    let json = serde_json::to_string(&observation).unwrap();
    let back: devwb_ldap::ForestObservation = serde_json::from_str(&json).unwrap();
    assert_eq!(back, observation);
}

#[test]
fn observing_with_the_rootdse_and_domains_already_read_gives_the_same_observation() {
    let lab = lab();
    lab.sim.add_user("svc-aadc", "Passw0rd!").unwrap();
    let (root, forest, connector) = resolve_connector(&lab);
    let read_again = observe_device_registration(&lab.client, None, Some(&connector)).unwrap();
    let given =
        observe_device_registration_in(&lab.client, root, forest, None, Some(&connector)).unwrap();
    assert_eq!(given, read_again);
}
