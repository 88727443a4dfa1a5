//! The verify scenarios through the libraries the binary glues: devwb-prepare prepares,
//! devwb-verify collects and checks, against a simulator forest over LDAPS.

use devwb_model::SchemaLevel;
use devwb_prepare::{PlanOptions, PrepareRequest};
use devwb_verify::{ids, CollectOptions, Expected, Outcome, Status};

use crate::support::{statuses, CliLab, CONNECTOR, CONNECTOR_PASSWORD};

fn collect_options() -> CollectOptions {
    CollectOptions {
        domain: None,
        connector_account: Some(CONNECTOR.to_string()),
        connector_password: Some(devwb_ldap::Password::new(CONNECTOR_PASSWORD)),
        read_devices: true,
    }
}

#[test]
fn prepared_forest_passes_every_check_through_the_libraries() {
    let lab = CliLab::start(SchemaLevel::W2012R2);
    let client = lab.admin_client();
    let request = PrepareRequest {
        domain: None,
        connector: CONNECTOR.to_string(),
    };
    let observation = devwb_prepare::observe(&client, &request).expect("observe");
    let plan = devwb_prepare::plan(&observation, &PlanOptions::default()).expect("plan");
    assert!(!plan.is_empty());
    devwb_prepare::apply(&client, &plan).expect("apply");

    let observed = devwb_verify::collect(&client, &collect_options()).expect("collect");
    // An empty container matches an empty export.
    let report = devwb_verify::run(
        &observed,
        &Expected {
            devices: Some(Vec::new()),
            invocation: None,
        },
    );
    assert_eq!(
        statuses(&report),
        "schema-level: pass\nschema-device-container-class: pass\nconfiguration-containers: pass\n\
         registration-service-count: pass\nregistration-service-placement: pass\n\
         registration-service-attributes: pass\ndevice-location-target: pass\n\
         connector-account-forest: pass\nconnector-account-bind: pass\ndevice-container-ace: pass\n\
         configuration-container-ace: pass\nconnector-account-grant: pass\ndevices-match: pass\n"
    );
    assert_eq!(report.outcome, Outcome::Passed);
    // The ACE's trustee is named as the forest knows it.
    let ace = report.check(ids::DEVICE_CONTAINER_ACE).expect("check");
    assert!(
        ace.evidence
            .iter()
            .any(|e| e.value.contains("CONTOSO\\svc-aadc")),
        "{:?}",
        ace.evidence
    );

    // Devices the export expects but the container lacks fail the comparison.
    let expected = Expected {
        devices: Some(vec![devwb_model::Guid::from_u128(0x1234)]),
        invocation: None,
    };
    let report = devwb_verify::run(&observed, &expected);
    assert_eq!(
        report.check(ids::DEVICES_MATCH).map(|c| &c.status),
        Some(&Status::Fail)
    );
}

#[test]
fn schema_2008_r2_fails_the_schema_check_through_the_libraries() {
    let lab = CliLab::start(SchemaLevel::W2008R2);
    let client = lab.admin_client();
    let observed = devwb_verify::collect(&client, &collect_options()).expect("collect");
    let report = devwb_verify::run(&observed, &Expected::default());
    assert_eq!(
        report.check(ids::SCHEMA_LEVEL).map(|c| &c.status),
        Some(&Status::Fail)
    );
    assert_eq!(
        report
            .check(ids::SCHEMA_DEVICE_CONTAINER_CLASS)
            .map(|c| &c.status),
        Some(&Status::Fail)
    );
    assert_eq!(report.outcome, Outcome::Failed);
}
