use devwb_model::{Rdn, SchemaLevel};
use devwb_prepare::{plan, PlanOptions, Refusal};

use crate::support::{forest_with, fresh_2012r2, CONNECTOR};

#[test]
fn a_2008_r2_forest_is_refused_with_its_object_version() {
    let forest = forest_with("contoso.lab", SchemaLevel::W2008R2, 7);
    let refusal = plan(&forest.observe(), &PlanOptions::default()).unwrap_err();
    assert!(
        matches!(
            refusal,
            Refusal::SchemaTooOld {
                object_version: Some(47),
                device_container_class: false,
                ..
            }
        ),
        "{refusal}"
    );
    assert!(
        refusal.to_string().contains("objectVersion 47"),
        "{refusal}"
    );
}

#[test]
fn a_duplicate_registration_service_is_refused_naming_both() {
    let forest = fresh_2012r2();
    forest.prepare();
    let observation = forest.observe();
    let first = observation.registration_services[0].dn.clone();
    let second = first
        .parent()
        .unwrap()
        .child(Rdn::new("CN", "DRS-ADFS").unwrap());
    forest
        .admin
        .add(
            &second,
            vec![
                (
                    "objectClass".into(),
                    vec![b"msDS-DeviceRegistrationService".to_vec()],
                ),
                (
                    "msDS-DeviceLocation".into(),
                    vec![b"CN=RegisteredDevices,DC=contoso,DC=lab".to_vec()],
                ),
                ("msDS-IsEnabled".into(), vec![b"TRUE".to_vec()]),
            ],
        )
        .unwrap();
    let refusal = plan(&forest.observe(), &PlanOptions::default()).unwrap_err();
    let text = refusal.to_string();
    assert!(
        matches!(refusal, Refusal::DuplicateRegistrationServices { .. }),
        "{text}"
    );
    assert!(
        text.contains(&first.to_string()) && text.contains(&second.to_string()),
        "{text}"
    );
}

#[test]
fn a_connector_account_from_a_second_forest_is_refused() {
    let contoso = fresh_2012r2();
    let fabrikam = forest_with("fabrikam.lab", SchemaLevel::W2012R2, 8);
    let (fabrikam_dn, _) = fabrikam.sim.add_user("svc-fabrikam", "Passw0rd!").unwrap();
    for connector in [
        format!("{}\\{CONNECTOR}", fabrikam.sim.netbios_name()),
        fabrikam_dn.to_string(),
        "svc-fabrikam@fabrikam.lab".to_string(),
    ] {
        let request = devwb_prepare::PrepareRequest {
            domain: None,
            connector: connector.clone(),
        };
        let error = devwb_prepare::observe(&contoso.admin, &request).unwrap_err();
        assert!(
            matches!(error.refusal(), Some(Refusal::ConnectorNotInForest { .. })),
            "{connector}: {error}"
        );
        // The refusal names the forest's domains as the plan's own refusals do.
        assert!(
            error.to_string().contains("(its domains: contoso.lab)"),
            "{connector}: {error}"
        );
    }
}

#[test]
fn an_unknown_connector_account_is_refused_naming_where_it_was_looked_for() {
    let contoso = fresh_2012r2();
    for connector in ["CONTOSO\\no-such-account", "no-such-account@contoso.lab"] {
        let request = devwb_prepare::PrepareRequest {
            domain: None,
            connector: connector.to_string(),
        };
        let error = devwb_prepare::observe(&contoso.admin, &request).unwrap_err();
        assert!(
            matches!(error.refusal(), Some(Refusal::ConnectorNotFound { .. })),
            "{connector}: {error}"
        );
        assert!(
            error
                .to_string()
                .contains("was not found in this forest (searched "),
            "{connector}: {error}"
        );
    }
}
