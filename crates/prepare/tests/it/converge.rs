use devwb_ldap::Modification;
use devwb_model::schema::attr;
use devwb_model::sd::SecurityInformation;
use devwb_prepare::{Step, CREATED_BY_MARKER};

use crate::support::{fresh_2012r2, prepared_state};

#[test]
fn fresh_forest_prepare_then_a_second_prepare_plans_nothing() {
    let forest = fresh_2012r2();
    let first = forest.prepare();
    assert_eq!(first.steps.len(), 4, "{first}");
    let second = forest.plan();
    assert!(second.is_empty(), "second plan should be empty:\n{second}");

    let observation = forest.observe();
    assert!(observation.device_container.exists);
    assert_eq!(
        observation.device_container.structural_class(),
        Some("msDS-DeviceContainer")
    );
    assert!(observation.device_container.parent_is_domain_head());
    let service = &observation.registration_services[0];
    assert_eq!(
        service.device_location.as_deref(),
        Some("CN=RegisteredDevices,DC=contoso,DC=lab")
    );
    assert_eq!(service.is_enabled.as_deref(), Some("TRUE"));
    assert_eq!(
        service.admin_description.as_deref(),
        Some(CREATED_BY_MARKER)
    );
    let connector = observation.connector.as_ref().unwrap();
    for (object, mask) in [
        (
            &observation.device_container,
            devwb_prepare::DEVICE_CONTAINER_MASK,
        ),
        (
            &observation.device_registration_configuration,
            devwb_prepare::REGISTRATION_CONFIGURATION_MASK,
        ),
    ] {
        let dacl = object
            .security_descriptor
            .as_ref()
            .and_then(|sd| sd.dacl.as_ref())
            .expect("DACL readable");
        assert!(
            dacl.grants(
                &connector.sid,
                mask,
                devwb_model::sd::AceFlags::CONTAINER_INHERIT
            ),
            "{}: {}",
            object.dn,
            prepared_state(&observation)
        );
        assert!(dacl.is_canonical(), "{}", object.dn);
    }
}

fn kinds(plan: &devwb_prepare::Plan) -> Vec<&'static str> {
    plan.steps
        .iter()
        .map(|s| match s {
            Step::Create { .. } => "create",
            Step::SetAttributes { .. } => "set",
            Step::Recreate { .. } => "recreate",
            Step::GrantAce { .. } => "grant",
            _ => "other",
        })
        .collect()
}

#[test]
fn a_disabled_service_and_a_missing_ace_are_repaired_in_place() {
    let forest = fresh_2012r2();
    forest.prepare();
    let observation = forest.observe();
    let service_dn = observation.registration_services[0].dn.clone();
    let guid_before = forest
        .admin
        .read(&service_dn, &["objectGUID"])
        .unwrap()
        .unwrap();

    // Break it: the service disabled, and the DACL of RegisteredDevices without the connector's ACE.
    forest
        .admin
        .modify(
            &service_dn,
            vec![Modification::replace_str(attr::IS_ENABLED, "FALSE")],
        )
        .unwrap();
    let container = &observation.device_container.dn;
    let mut descriptor = forest
        .admin
        .read_security_descriptor(container, SecurityInformation::DACL)
        .unwrap();
    let sid = observation.connector.as_ref().unwrap().sid;
    descriptor
        .dacl
        .as_mut()
        .unwrap()
        .aces
        .retain(|ace| ace.sid != sid);
    forest
        .admin
        .write_security_descriptor(container, &descriptor, SecurityInformation::DACL)
        .unwrap();

    let repair = forest.prepare();
    assert_eq!(kinds(&repair), vec!["grant", "set"], "{repair}");
    assert!(forest.plan().is_empty());
    let guid_after = forest
        .admin
        .read(&service_dn, &["objectGUID"])
        .unwrap()
        .unwrap();
    assert_eq!(
        guid_before.first_bytes("objectGUID"),
        guid_after.first_bytes("objectGUID"),
        "never re-created"
    );
}

#[test]
fn a_service_pointing_at_a_plain_container_is_re_created_because_the_location_is_system_only() {
    let forest = fresh_2012r2();
    forest.prepare();
    let service_dn = forest.observe().registration_services[0].dn.clone();
    // AD refuses to modify msDS-DeviceLocation (system-only): the simulator must too.
    let refused = forest.admin.modify(
        &service_dn,
        vec![Modification::replace_str(
            attr::DEVICE_LOCATION,
            "CN=Users,DC=contoso,DC=lab",
        )],
    );
    assert_eq!(
        refused.err().and_then(|e| e.result_code()),
        Some(19),
        "constraintViolation expected"
    );
    // Made wrong by someone else: delete and add with a location that is no device container.
    forest.admin.delete(&service_dn).unwrap();
    forest
        .admin
        .add(
            &service_dn,
            vec![
                (
                    "objectClass".into(),
                    vec![b"msDS-DeviceRegistrationService".to_vec()],
                ),
                (
                    "msDS-DeviceLocation".into(),
                    vec![b"CN=Users,DC=contoso,DC=lab".to_vec()],
                ),
                ("msDS-IsEnabled".into(), vec![b"TRUE".to_vec()]),
            ],
        )
        .unwrap();
    let repair = forest.prepare();
    assert_eq!(kinds(&repair), vec!["recreate"], "{repair}");
    assert!(forest.plan().is_empty(), "converged after the re-creation");
    let service = &forest.observe().registration_services[0];
    assert_eq!(
        service.device_location.as_deref(),
        Some("CN=RegisteredDevices,DC=contoso,DC=lab")
    );
    assert_eq!(
        service.admin_description.as_deref(),
        Some(CREATED_BY_MARKER)
    );
}
