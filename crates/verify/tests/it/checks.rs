//! Table tests of the checks: each case is an observation fixture and the expected report in a
//! compact form (one line per check; evidence and remedy for the checks that did not pass).
//! Update the expectations with `UPDATE_EXPECT=1 cargo test -p devwb-verify`.

use devwb_model::sd::{AccessMask, Ace, AceFlags};
use devwb_model::Guid;
use devwb_verify::{ids, run, BindAttempt, Expected, Observed, ObservedObject, Report, Status};
use expect_test::{expect, Expect};

use crate::fixtures::{
    acl_with, admin_sid, configuration_ace, connector_sid, device_ace, dn, forest_domain, object,
    prepared, schema_2008_r2, service, set_dacl,
};

/// The report in the compact form the cases expect: the checks that did not pass in full,
/// then the ids of those that passed.
pub fn compact(report: &Report) -> String {
    let mut out = String::new();
    let mut passed = Vec::new();
    for check in &report.checks {
        match &check.status {
            Status::Pass => passed.push(check.id.as_str()),
            Status::Skipped { why } => out.push_str(&format!("{}: skipped ({why})\n", check.id)),
            status => {
                out.push_str(&format!("{}: {}\n", check.id, status.word()));
                for evidence in &check.evidence {
                    out.push_str(&format!("    {}: {}\n", evidence.label, evidence.value));
                }
                if let Some(remedy) = &check.remedy {
                    out.push_str(&format!("    remedy: {}\n", remedy.summary));
                    for command in &remedy.commands {
                        out.push_str(&format!("      $ {command}\n"));
                    }
                }
            }
        }
    }
    out.push_str(&format!("passed: {}\n", passed.join(" ")));
    out.push_str(&format!("outcome: {:?}\n", report.outcome));
    out
}

fn check(observed: Observed, expected: Expected, expect: Expect) {
    let report = run(&observed, &expected);
    let ids: Vec<&str> = report
        .checks
        .iter()
        .map(|check| check.id.as_str())
        .collect();
    assert_eq!(ids, ids::ALL, "every check appears once, in order");
    expect.assert_eq(&compact(&report));
}

fn no_devices() -> Expected {
    Expected::default()
}

#[test]
fn prepared_forest_passes_everything() {
    check(
        prepared(),
        no_devices(),
        expect![[r#"
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement registration-service-attributes device-location-target connector-account-forest device-container-ace configuration-container-ace connector-account-grant
            outcome: Passed
        "#]],
    );
}

#[test]
fn schema_2008_r2_fails_the_schema_checks_and_skips_the_rest() {
    check(
        schema_2008_r2(),
        no_devices(),
        expect![[r#"
            schema-level: fail
                schema: CN=Schema,CN=Configuration,DC=contoso,DC=lab
                schema level: Windows Server 2008 R2 (objectVersion 47)
                remedy: Extend the schema to Windows Server 2012 R2 (objectVersion 69) or later: objectVersion 47 has no device classes.
                  $ adprep /forestprep   (from Windows Server 2012 R2 or later media, as a Schema Admin on the schema master)
                  $ samba-tool domain schemaupgrade --schema=2012_R2   (on a Samba AD DC)
            schema-device-container-class: fail
                classSchema: no lDAPDisplayName=msDS-DeviceContainer under CN=Schema,CN=Configuration,DC=contoso,DC=lab
                remedy: Extend the schema to Windows Server 2012 R2 or later: the device classes are missing.
                  $ adprep /forestprep   (from Windows Server 2012 R2 or later media, as a Schema Admin on the schema master)
                  $ samba-tool domain schemaupgrade --schema=2012_R2   (on a Samba AD DC)
            configuration-containers: skipped (the schema has no device classes (see schema-level and schema-device-container-class))
            registration-service-count: skipped (the schema has no device classes (see schema-level and schema-device-container-class))
            registration-service-placement: skipped (the schema has no device classes (see schema-level and schema-device-container-class))
            registration-service-attributes: skipped (the schema has no device classes (see schema-level and schema-device-container-class))
            device-location-target: skipped (the schema has no device classes (see schema-level and schema-device-container-class))
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            device-container-ace: skipped (the schema has no device classes (see schema-level and schema-device-container-class))
            configuration-container-ace: skipped (the schema has no device classes (see schema-level and schema-device-container-class))
            connector-account-grant: skipped (the schema has no device classes (see schema-level and schema-device-container-class))
            devices-match: skipped (no Entra device export given (--devices))
            passed: connector-account-forest
            outcome: Failed
        "#]],
    );
}

#[test]
fn unreadable_schema_version_fails() {
    let mut observed = prepared();
    observed.forest.schema.object_version = None;
    check(
        observed,
        no_devices(),
        expect![[r#"
            schema-level: fail
                schema: CN=Schema,CN=Configuration,DC=contoso,DC=lab
                objectVersion: could not be read
                remedy: Bind as an account that can read the schema naming context head and run verify again.
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-device-container-class configuration-containers registration-service-count registration-service-placement registration-service-attributes device-location-target connector-account-forest device-container-ace configuration-container-ace connector-account-grant
            outcome: Failed
        "#]],
    );
}

#[test]
fn duplicate_registration_service_names_both() {
    let mut observed = prepared();
    let duplicate = dn("CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab")
        .parent()
        .and_then(|p| p.parent())
        .expect("parent")
        .child(devwb_model::Rdn::new("CN", "Device Registration Services 2").expect("rdn"))
        .child(devwb_model::Rdn::new("CN", "DeviceRegistrationService").expect("rdn"));
    observed.forest.registration_services.insert(
        0,
        service(
            duplicate,
            Some("CN=RegisteredDevices,DC=contoso,DC=lab"),
            Some("TRUE"),
            None,
        ),
    );
    check(
        observed,
        no_devices(),
        expect![[r#"
            registration-service-count: fail
                query: (objectClass=msDS-DeviceRegistrationService) under CN=Services,CN=Configuration,DC=contoso,DC=lab, subtree
                found: CN=DeviceRegistrationService,CN=Device Registration Services 2,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
                found: CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
                remedy: Only one device registration configuration object may exist per forest; 2 were found. Keep CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab and delete the others after checking they are not in use.
                  $ devwb verify --fix --delete-duplicate "CN=DeviceRegistrationService,CN=Device Registration Services 2,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab"
                  $ Remove-ADObject -Identity "CN=DeviceRegistrationService,CN=Device Registration Services 2,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab" -Recursive -Confirm
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-placement registration-service-attributes device-location-target connector-account-forest device-container-ace configuration-container-ace connector-account-grant
            outcome: Failed
        "#]],
    );
}

#[test]
fn no_registration_service_fails_and_skips_what_depends_on_it() {
    let mut observed = prepared();
    observed.forest.registration_services.clear();
    observed.forest.device_registration_services =
        ObservedObject::absent(observed.service_container_dn());
    check(
        observed,
        no_devices(),
        expect![[r#"
            configuration-containers: fail
                configuration container: CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (container)
                service container: CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab does not exist
                remedy: Prepare the forest for device writeback: CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab does not exist.
                  $ devwb prepare --domain contoso.lab --connector-account 'CONTOSO\svc-aadc'
                  $ Initialize-ADSyncDeviceWriteback -DomainName contoso.lab -AdConnectorAccount 'CONTOSO\svc-aadc'
            registration-service-count: fail
                query: (objectClass=msDS-DeviceRegistrationService) under CN=Services,CN=Configuration,DC=contoso,DC=lab, subtree
                found: nothing
                remedy: Prepare the forest: no DeviceRegistrationService object exists.
                  $ devwb prepare --domain contoso.lab --connector-account 'CONTOSO\svc-aadc'
                  $ Initialize-ADSyncDeviceWriteback -DomainName contoso.lab -AdConnectorAccount 'CONTOSO\svc-aadc'
            registration-service-placement: skipped (no service object exists (see registration-service-count))
            registration-service-attributes: skipped (no service object exists (see registration-service-count))
            device-location-target: skipped (no service object exists (see registration-service-count))
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class connector-account-forest device-container-ace configuration-container-ace connector-account-grant
            outcome: Failed
        "#]],
    );
}

#[test]
fn service_outside_the_wizards_place_fails_placement() {
    let mut observed = prepared();
    if let Some(service) = observed.forest.registration_services.first_mut() {
        service.dn =
            dn("CN=DeviceRegistrationService,CN=Services,CN=Configuration,DC=contoso,DC=lab");
    }
    check(
        observed,
        no_devices(),
        expect![[r#"
            registration-service-placement: fail
                expected: CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
                found: CN=DeviceRegistrationService,CN=Services,CN=Configuration,DC=contoso,DC=lab
                remedy: Create the service object at CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab; the objects found elsewhere are not the wizard's.
                  $ devwb prepare --domain contoso.lab --connector-account 'CONTOSO\svc-aadc'
                  $ Initialize-ADSyncDeviceWriteback -DomainName contoso.lab -AdConnectorAccount 'CONTOSO\svc-aadc'
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-attributes device-location-target connector-account-forest device-container-ace configuration-container-ace connector-account-grant
            outcome: Failed
        "#]],
    );
}

#[test]
fn partial_configuration_left_by_ad_fs_fails_attributes() {
    let mut observed = prepared();
    if let Some(service) = observed.forest.registration_services.first_mut() {
        service.device_location = None;
        service.is_enabled = None;
    }
    check(
        observed,
        no_devices(),
        expect![[r#"
            registration-service-attributes: fail
                object: CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
                msDS-DeviceLocation: (absent)
                msDS-IsEnabled: (absent)
                diagnosis: a DeviceRegistrationService object without all the required attributes: the partial configuration AD FS leaves behind
                remedy: Set msDS-DeviceLocation and msDS-IsEnabled on CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab, pointing it at CN=RegisteredDevices,DC=contoso,DC=lab (msDS-DeviceLocation is system-only: it can only be set when the object is created, so the object is deleted and created again).
                  $ devwb prepare --domain contoso.lab --connector-account 'CONTOSO\svc-aadc'
                  $ Initialize-ADSyncDeviceWriteback -DomainName contoso.lab -AdConnectorAccount 'CONTOSO\svc-aadc'
                  $ Remove-ADObject -Identity "CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab" -Confirm:$false
                  $ New-ADObject -Name 'DeviceRegistrationService' -Type msDS-DeviceRegistrationService -Path "CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab" -OtherAttributes @{'msDS-DeviceLocation'='CN=RegisteredDevices,DC=contoso,DC=lab';'msDS-IsEnabled'=$true;'msDS-MaximumRegistrationInactivityPeriod'=0}
            device-location-target: skipped (msDS-DeviceLocation is absent (see registration-service-attributes))
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement connector-account-forest device-container-ace configuration-container-ace connector-account-grant
            outcome: Failed
        "#]],
    );
}

#[test]
fn disabled_service_warns() {
    let mut observed = prepared();
    if let Some(service) = observed.forest.registration_services.first_mut() {
        service.is_enabled = Some("FALSE".into());
    }
    check(
        observed,
        no_devices(),
        expect![[r#"
            registration-service-attributes: warn
                object: CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
                msDS-DeviceLocation: CN=RegisteredDevices,DC=contoso,DC=lab
                msDS-IsEnabled: FALSE
                remedy: Enable the device registration configuration.
                  $ Set-ADObject -Identity "CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab" -Replace @{'msDS-IsEnabled'=$true}
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement device-location-target connector-account-forest device-container-ace configuration-container-ace connector-account-grant
            outcome: Passed
        "#]],
    );
}

#[test]
fn device_location_pointing_at_an_ou_fails_with_repoint_remedy() {
    let mut observed = prepared();
    let ou = "OU=Devices,DC=contoso,DC=lab";
    if let Some(service) = observed.forest.registration_services.first_mut() {
        service.device_location = Some(ou.into());
    }
    observed.forest.location_targets.push(object(
        ou,
        &["top", "organizationalUnit"],
        acl_with(vec![]),
    ));
    check(
        observed,
        no_devices(),
        expect![[r#"
            device-location-target: fail
                msDS-DeviceLocation: OU=Devices,DC=contoso,DC=lab
                objectClass: top, organizationalUnit
                remedy: OU=Devices,DC=contoso,DC=lab is of class organizationalUnit, not msDS-DeviceContainer: devices cannot be created there. Point msDS-DeviceLocation at CN=RegisteredDevices,DC=contoso,DC=lab: the attribute is system-only, so the service object is deleted and created again pointing there (--allow-repoint lets prepare do that to an object it did not create).
                  $ devwb prepare --domain contoso.lab --connector-account 'CONTOSO\svc-aadc' --allow-repoint
                  $ Initialize-ADSyncDeviceWriteback -DomainName contoso.lab -AdConnectorAccount 'CONTOSO\svc-aadc'
                  $ Remove-ADObject -Identity "CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab" -Confirm:$false
                  $ New-ADObject -Name 'DeviceRegistrationService' -Type msDS-DeviceRegistrationService -Path "CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab" -OtherAttributes @{'msDS-DeviceLocation'='CN=RegisteredDevices,DC=contoso,DC=lab';'msDS-IsEnabled'=$true;'msDS-MaximumRegistrationInactivityPeriod'=0}
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement registration-service-attributes connector-account-forest device-container-ace configuration-container-ace connector-account-grant
            outcome: Failed
        "#]],
    );
}

#[test]
fn device_location_pointing_at_nothing_fails() {
    let mut observed = prepared();
    observed.forest.device_container =
        ObservedObject::absent(observed.expected_device_container_dn());
    check(
        observed,
        no_devices(),
        expect![[r#"
            device-location-target: fail
                msDS-DeviceLocation: CN=RegisteredDevices,DC=contoso,DC=lab
                target: does not exist
                remedy: CN=RegisteredDevices,DC=contoso,DC=lab does not exist. Point msDS-DeviceLocation at CN=RegisteredDevices,DC=contoso,DC=lab: the attribute is system-only, so the service object is deleted and created again pointing there (--allow-repoint lets prepare do that to an object it did not create).
                  $ devwb prepare --domain contoso.lab --connector-account 'CONTOSO\svc-aadc' --allow-repoint
                  $ Initialize-ADSyncDeviceWriteback -DomainName contoso.lab -AdConnectorAccount 'CONTOSO\svc-aadc'
                  $ Remove-ADObject -Identity "CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab" -Confirm:$false
                  $ New-ADObject -Name 'DeviceRegistrationService' -Type msDS-DeviceRegistrationService -Path "CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab" -OtherAttributes @{'msDS-DeviceLocation'='CN=RegisteredDevices,DC=contoso,DC=lab';'msDS-IsEnabled'=$true;'msDS-MaximumRegistrationInactivityPeriod'=0}
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            device-container-ace: skipped (no device container exists (see device-location-target and registration-service-attributes))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement registration-service-attributes connector-account-forest configuration-container-ace connector-account-grant
            outcome: Failed
        "#]],
    );
}

#[test]
fn device_location_that_is_not_a_dn_fails() {
    let mut observed = prepared();
    if let Some(service) = observed.forest.registration_services.first_mut() {
        service.device_location = Some("RegisteredDevices".into());
    }
    check(
        observed,
        no_devices(),
        expect![[r#"
            device-location-target: fail
                msDS-DeviceLocation: RegisteredDevices
                remedy: msDS-DeviceLocation is not a DN (invalid DN "RegisteredDevices": missing '=' after the attribute type at byte 17). Point msDS-DeviceLocation at CN=RegisteredDevices,DC=contoso,DC=lab: the attribute is system-only, so the service object is deleted and created again pointing there (--allow-repoint lets prepare do that to an object it did not create).
                  $ devwb prepare --domain contoso.lab --connector-account 'CONTOSO\svc-aadc' --allow-repoint
                  $ Initialize-ADSyncDeviceWriteback -DomainName contoso.lab -AdConnectorAccount 'CONTOSO\svc-aadc'
                  $ Remove-ADObject -Identity "CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab" -Confirm:$false
                  $ New-ADObject -Name 'DeviceRegistrationService' -Type msDS-DeviceRegistrationService -Path "CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab" -OtherAttributes @{'msDS-DeviceLocation'='CN=RegisteredDevices,DC=contoso,DC=lab';'msDS-IsEnabled'=$true;'msDS-MaximumRegistrationInactivityPeriod'=0}
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement registration-service-attributes connector-account-forest device-container-ace configuration-container-ace connector-account-grant
            outcome: Failed
        "#]],
    );
}

#[test]
fn device_container_not_under_a_domain_head_fails() {
    let mut observed = prepared();
    let nested = "CN=RegisteredDevices,OU=Devices,DC=contoso,DC=lab";
    if let Some(service) = observed.forest.registration_services.first_mut() {
        service.device_location = Some(nested.into());
    }
    observed.forest.location_targets.push(object(
        nested,
        &["top", "msDS-DeviceContainer"],
        acl_with(vec![device_ace(connector_sid())]),
    ));
    check(
        observed,
        no_devices(),
        expect![[r#"
            device-location-target: fail
                msDS-DeviceLocation: CN=RegisteredDevices,OU=Devices,DC=contoso,DC=lab
                objectClass: top, msDS-DeviceContainer
                parent: OU=Devices,DC=contoso,DC=lab
                remedy: CN=RegisteredDevices,OU=Devices,DC=contoso,DC=lab is not directly under a domain head (its parent is OU=Devices,DC=contoso,DC=lab). Point msDS-DeviceLocation at CN=RegisteredDevices,DC=contoso,DC=lab: the attribute is system-only, so the service object is deleted and created again pointing there (--allow-repoint lets prepare do that to an object it did not create).
                  $ devwb prepare --domain contoso.lab --connector-account 'CONTOSO\svc-aadc' --allow-repoint
                  $ Initialize-ADSyncDeviceWriteback -DomainName contoso.lab -AdConnectorAccount 'CONTOSO\svc-aadc'
                  $ Remove-ADObject -Identity "CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab" -Confirm:$false
                  $ New-ADObject -Name 'DeviceRegistrationService' -Type msDS-DeviceRegistrationService -Path "CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab" -OtherAttributes @{'msDS-DeviceLocation'='CN=RegisteredDevices,DC=contoso,DC=lab';'msDS-IsEnabled'=$true;'msDS-MaximumRegistrationInactivityPeriod'=0}
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement registration-service-attributes connector-account-forest device-container-ace configuration-container-ace connector-account-grant
            outcome: Failed
        "#]],
    );
}

#[test]
fn missing_device_container_ace_fails_that_check() {
    let mut observed = prepared();
    set_dacl(&mut observed.forest.device_container, acl_with(vec![]));
    check(
        observed,
        no_devices(),
        expect![[r#"
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            device-container-ace: fail
                object: CN=RegisteredDevices,DC=contoso,DC=lab
                required: 0x000300ff (CCDCLCSWRPWPDTLOSDRC), container inherit
                problem: the connector account has no ACE here
                remedy: Grant the connector account 0x000300ff on CN=RegisteredDevices,DC=contoso,DC=lab (container inherit): the connector account has no ACE here.
                  $ devwb prepare --domain contoso.lab --connector-account 'CONTOSO\svc-aadc'
                  $ Initialize-ADSyncDeviceWriteback -DomainName contoso.lab -AdConnectorAccount 'CONTOSO\svc-aadc'
                  $ dsacls "CN=RegisteredDevices,DC=contoso,DC=lab" /G "CONTOSO\svc-aadc:GRGWCCDCSDDT" /I:T
            connector-account-grant: skipped (neither the connector nor another account holds the grants (see device-container-ace and configuration-container-ace))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement registration-service-attributes device-location-target connector-account-forest configuration-container-ace
            outcome: Failed
        "#]],
    );
}

#[test]
fn missing_configuration_ace_is_recognised_as_the_script_bug() {
    let mut observed = prepared();
    set_dacl(
        &mut observed.forest.device_registration_configuration,
        acl_with(vec![]),
    );
    check(
        observed,
        no_devices(),
        expect![[r#"
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            configuration-container-ace: fail
                object: CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
                required: 0x000200bc (LCSWRPWPLORC), container inherit
                problem: the connector account has no ACE here
                diagnosis: the device container has the connector's ACE but this container does not: the pattern of the known bug in Microsoft's CreateDeviceContainer.ps1, whose grant on a newly created Device Registration Configuration is written `dsacls $dn / G ... / I:T` and applies nothing
                remedy: Grant the connector account 0x000200bc on CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (container inherit): the connector account has no ACE here.
                  $ devwb prepare --domain contoso.lab --connector-account 'CONTOSO\svc-aadc'
                  $ Initialize-ADSyncDeviceWriteback -DomainName contoso.lab -AdConnectorAccount 'CONTOSO\svc-aadc'
                  $ dsacls "CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab" /G "CONTOSO\svc-aadc:GRGW" /I:T
            connector-account-grant: skipped (neither the connector nor another account holds the grants (see device-container-ace and configuration-container-ace))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement registration-service-attributes device-location-target connector-account-forest device-container-ace
            outcome: Failed
        "#]],
    );
}

#[test]
fn generic_bits_as_dsacls_writes_them_are_accepted() {
    let mut observed = prepared();
    // GR GW CC DC SD DT, as dsacls submits `GRGWCCDCSDDT`.
    let generic = AccessMask(0x8000_0000 | 0x4000_0000 | 0x1 | 0x2 | 0x1_0000 | 0x40);
    let ace = Ace::allow(connector_sid(), generic, AceFlags::CONTAINER_INHERIT);
    set_dacl(&mut observed.forest.device_container, acl_with(vec![ace]));
    let report = run(&observed, &no_devices());
    assert_eq!(
        report.check(ids::DEVICE_CONTAINER_ACE).map(|c| &c.status),
        Some(&Status::Pass)
    );
    assert_eq!(report.outcome, devwb_verify::Outcome::Passed);
}

#[test]
fn ace_without_container_inherit_fails() {
    let mut observed = prepared();
    let ace = Ace::allow(connector_sid(), AccessMask(0x0003_00FF), AceFlags::NONE);
    set_dacl(&mut observed.forest.device_container, acl_with(vec![ace]));
    check(
        observed,
        no_devices(),
        expect![[r#"
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            device-container-ace: fail
                object: CN=RegisteredDevices,DC=contoso,DC=lab
                required: 0x000300ff (CCDCLCSWRPWPDTLOSDRC), container inherit
                connector ACE: (A;;CCDCLCSWRPWPDTLOSDRC;;;CONTOSO\svc-aadc (S-1-5-21-1004336348-1177238915-682003330-1105))
                problem: the connector account has the rights but not container-inherit, so devices do not inherit them
                remedy: Grant the connector account 0x000300ff on CN=RegisteredDevices,DC=contoso,DC=lab (container inherit): the connector account has the rights but not container-inherit, so devices do not inherit them.
                  $ devwb prepare --domain contoso.lab --connector-account 'CONTOSO\svc-aadc'
                  $ Initialize-ADSyncDeviceWriteback -DomainName contoso.lab -AdConnectorAccount 'CONTOSO\svc-aadc'
                  $ dsacls "CN=RegisteredDevices,DC=contoso,DC=lab" /G "CONTOSO\svc-aadc:GRGWCCDCSDDT" /I:T
            connector-account-grant: skipped (neither the connector nor another account holds the grants (see device-container-ace and configuration-container-ace))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement registration-service-attributes device-location-target connector-account-forest configuration-container-ace
            outcome: Failed
        "#]],
    );
}

#[test]
fn deny_ace_for_the_connector_fails() {
    let mut observed = prepared();
    let deny = Ace::deny(connector_sid(), AccessMask(0x1), AceFlags::NONE);
    set_dacl(
        &mut observed.forest.device_container,
        acl_with(vec![deny, device_ace(connector_sid())]),
    );
    check(
        observed,
        no_devices(),
        expect![[r#"
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            device-container-ace: fail
                object: CN=RegisteredDevices,DC=contoso,DC=lab
                required: 0x000300ff (CCDCLCSWRPWPDTLOSDRC), container inherit
                connector ACE: (D;;CC;;;CONTOSO\svc-aadc (S-1-5-21-1004336348-1177238915-682003330-1105))
                connector ACE: (A;CI;CCDCLCSWRPWPDTLOSDRC;;;CONTOSO\svc-aadc (S-1-5-21-1004336348-1177238915-682003330-1105))
                remedy: Remove the deny ACE for the connector account on CN=RegisteredDevices,DC=contoso,DC=lab (it denies CC), then grant the rights again.
                  $ dsacls "CN=RegisteredDevices,DC=contoso,DC=lab" /R "CONTOSO\svc-aadc"
                  $ dsacls "CN=RegisteredDevices,DC=contoso,DC=lab" /G "CONTOSO\svc-aadc:GRGWCCDCSDDT" /I:T
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement registration-service-attributes device-location-target connector-account-forest configuration-container-ace connector-account-grant
            outcome: Failed
        "#]],
    );
}

#[test]
fn grants_to_another_account_name_it() {
    let mut observed = prepared();
    set_dacl(
        &mut observed.forest.device_container,
        acl_with(vec![device_ace(admin_sid())]),
    );
    set_dacl(
        &mut observed.forest.device_registration_configuration,
        acl_with(vec![configuration_ace(admin_sid())]),
    );
    check(
        observed,
        no_devices(),
        expect![[r#"
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            device-container-ace: fail
                object: CN=RegisteredDevices,DC=contoso,DC=lab
                required: 0x000300ff (CCDCLCSWRPWPDTLOSDRC), container inherit
                problem: the connector account has no ACE here
                remedy: Grant the connector account 0x000300ff on CN=RegisteredDevices,DC=contoso,DC=lab (container inherit): the connector account has no ACE here.
                  $ devwb prepare --domain contoso.lab --connector-account 'CONTOSO\svc-aadc'
                  $ Initialize-ADSyncDeviceWriteback -DomainName contoso.lab -AdConnectorAccount 'CONTOSO\svc-aadc'
                  $ dsacls "CN=RegisteredDevices,DC=contoso,DC=lab" /G "CONTOSO\svc-aadc:GRGWCCDCSDDT" /I:T
            configuration-container-ace: fail
                object: CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
                required: 0x000200bc (LCSWRPWPLORC), container inherit
                problem: the connector account has no ACE here
                remedy: Grant the connector account 0x000200bc on CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (container inherit): the connector account has no ACE here.
                  $ devwb prepare --domain contoso.lab --connector-account 'CONTOSO\svc-aadc'
                  $ Initialize-ADSyncDeviceWriteback -DomainName contoso.lab -AdConnectorAccount 'CONTOSO\svc-aadc'
                  $ dsacls "CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab" /G "CONTOSO\svc-aadc:GRGW" /I:T
            connector-account-grant: fail
                also granted: CONTOSO\admin (S-1-5-21-1004336348-1177238915-682003330-1104) on CN=RegisteredDevices,DC=contoso,DC=lab
                also granted: CONTOSO\admin (S-1-5-21-1004336348-1177238915-682003330-1104) on CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
                connector: CONTOSO\svc-aadc (S-1-5-21-1004336348-1177238915-682003330-1105)
                remedy: The grants went to CONTOSO\admin (S-1-5-21-1004336348-1177238915-682003330-1104) instead of CONTOSO\svc-aadc: preparation was run with another account than the connector's. Prepare again naming the connector account; then remove the stray grants if that account is not used by Entra Connect.
                  $ devwb prepare --domain contoso.lab --connector-account 'CONTOSO\svc-aadc'
                  $ Initialize-ADSyncDeviceWriteback -DomainName contoso.lab -AdConnectorAccount 'CONTOSO\svc-aadc'
                  $ dsacls "CN=RegisteredDevices,DC=contoso,DC=lab" /R "CONTOSO\admin"
                  $ dsacls "CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab" /R "CONTOSO\admin"
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement registration-service-attributes device-location-target connector-account-forest
            outcome: Failed
        "#]],
    );
}

#[test]
fn connector_from_another_forest_fails() {
    let mut observed = prepared();
    if let Some(connector) = observed.connector.as_mut() {
        connector.named = "FABRIKAM\\svc-aadc".into();
        connector.lookup_note = Some("FABRIKAM is not a domain of forest contoso.lab".into());
    }
    observed.forest.connector = None;
    check(
        observed,
        no_devices(),
        expect![[r#"
            connector-account-forest: fail
                named: FABRIKAM\svc-aadc
                lookup: FABRIKAM is not a domain of forest contoso.lab
                remedy: Name the AD connector account of forest contoso.lab (DOMAIN\name, UPN or DN). Device writeback serves one forest, the forest of the users: an account from another forest is unsupported.
                  $ Get-ADUser -Identity 'FABRIKAM\svc-aadc' -Server contoso.lab
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            device-container-ace: warn
                object: CN=RegisteredDevices,DC=contoso,DC=lab
                required: 0x000300ff (CCDCLCSWRPWPDTLOSDRC), container inherit
                held by: CONTOSO\svc-aadc (S-1-5-21-1004336348-1177238915-682003330-1105)
                remedy: FABRIKAM\svc-aadc was not found in this forest (see connector-account-forest), so verify cannot tell whether these grants are the connector's.
            configuration-container-ace: warn
                object: CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
                required: 0x000200bc (LCSWRPWPLORC), container inherit
                held by: CONTOSO\svc-aadc (S-1-5-21-1004336348-1177238915-682003330-1105)
                remedy: FABRIKAM\svc-aadc was not found in this forest (see connector-account-forest), so verify cannot tell whether these grants are the connector's.
            connector-account-grant: skipped (the connector account was not found (see connector-account-forest))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement registration-service-attributes device-location-target
            outcome: Failed
        "#]],
    );
}

#[test]
fn foreign_security_principal_fails() {
    let mut observed = prepared();
    if let Some(account) = observed.forest.connector.as_mut() {
        account.dn = dn("CN=S-1-5-21-1-2-3-1105,CN=ForeignSecurityPrincipals,DC=contoso,DC=lab");
    }
    let report = run(&observed, &no_devices());
    assert_eq!(
        report
            .check(ids::CONNECTOR_ACCOUNT_FOREST)
            .map(|c| &c.status),
        Some(&Status::Fail)
    );
}

#[test]
fn connector_bind_outcomes() {
    let mut observed = prepared();
    if let Some(connector) = observed.connector.as_mut() {
        connector.bind = BindAttempt::Succeeded;
    }
    let report = run(&observed, &no_devices());
    assert_eq!(
        report.check(ids::CONNECTOR_ACCOUNT_BIND).map(|c| &c.status),
        Some(&Status::Pass)
    );

    if let Some(connector) = observed.connector.as_mut() {
        connector.bind = BindAttempt::Failed {
            code: Some(49),
            message: "80090308: LdapErr: DSID-0C090447, comment: AcceptSecurityContext error, data 52e, v3839".into(),
        };
    }
    check(
        observed,
        no_devices(),
        expect![[r#"
            connector-account-bind: fail
                named: CONTOSO\svc-aadc
                bind: refused, LDAP result 49: 80090308: LdapErr: DSID-0C090447, comment: AcceptSecurityContext error, data 52e, v3839
                remedy: Check the connector account's password, and that it is enabled, not locked out and not expired; Entra Connect must be given the same password.
                  $ Get-ADUser -Identity 'CONTOSO\svc-aadc' -Properties Enabled,LockedOut,PasswordExpired
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement registration-service-attributes device-location-target connector-account-forest device-container-ace configuration-container-ace connector-account-grant
            outcome: Failed
        "#]],
    );
}

#[test]
fn no_connector_named_reports_who_holds_the_grants() {
    let mut observed = prepared();
    observed.connector = None;
    check(
        observed,
        no_devices(),
        expect![[r#"
            connector-account-forest: skipped (no connector account named (--connector-account))
            connector-account-bind: skipped (no connector account named (--connector-account))
            device-container-ace: warn
                object: CN=RegisteredDevices,DC=contoso,DC=lab
                required: 0x000300ff (CCDCLCSWRPWPDTLOSDRC), container inherit
                held by: CONTOSO\svc-aadc (S-1-5-21-1004336348-1177238915-682003330-1105)
                remedy: Name the connector account (--connector-account) so verify can tell whether these grants are the connector's.
            configuration-container-ace: warn
                object: CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
                required: 0x000200bc (LCSWRPWPLORC), container inherit
                held by: CONTOSO\svc-aadc (S-1-5-21-1004336348-1177238915-682003330-1105)
                remedy: Name the connector account (--connector-account) so verify can tell whether these grants are the connector's.
            connector-account-grant: skipped (no connector account named (--connector-account))
            devices-match: skipped (no Entra device export given (--devices))
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement registration-service-attributes device-location-target
            outcome: Passed
        "#]],
    );
}

#[test]
fn devices_compared_with_the_export() {
    let device = |n: u128| Guid::from_u128(0x1111_0000_0000_4000_8000_0000_0000_0000 + n);
    let mut observed = prepared();
    observed.devices = Some(vec![device(1), device(2), device(3)]);
    let same = Expected {
        devices: Some(vec![device(3), device(2), device(1)]),
        invocation: None,
    };
    let report = run(&observed, &same);
    assert_eq!(
        report.check(ids::DEVICES_MATCH).map(|c| &c.status),
        Some(&Status::Pass)
    );

    let different = Expected {
        devices: Some(vec![device(1), device(2), device(4)]),
        invocation: Some(devwb_verify::Invocation {
            url: "ldaps://dc1.contoso.lab".into(),
            bind: Some("CONTOSO\\admin".into()),
            connection_options: vec![("--ca-file".into(), Some("ca.pem".into()))],
            export: Some("devices.json".into()),
        }),
    };
    check(
        observed,
        different,
        expect![[r#"
            connector-account-bind: skipped (no connector password given (--connector-password-file))
            devices-match: fail
                in the export: 3
                in the container: 3
                missing in AD: 1: 11110000-0000-4000-8000-000000000004
                not in the export: 1: 11110000-0000-4000-8000-000000000003
                remedy: Write the devices back (devwb converges in one run; Entra Connect can take up to 3 hours, or start a delta cycle).
                  $ devwb writeback --url ldaps://dc1.contoso.lab --bind CONTOSO\admin --ca-file ca.pem --export devices.json
                  $ Start-ADSyncSyncCycle -PolicyType Delta
            passed: schema-level schema-device-container-class configuration-containers registration-service-count registration-service-placement registration-service-attributes device-location-target connector-account-forest device-container-ace configuration-container-ace connector-account-grant
            outcome: Failed
        "#]],
    );
}

#[test]
fn device_location_in_another_forest_fails_naming_the_forest_s_domains() {
    let mut observed = prepared();
    let elsewhere = "CN=RegisteredDevices,DC=fabrikam,DC=com";
    if let Some(service) = observed.forest.registration_services.first_mut() {
        service.device_location = Some(elsewhere.into());
    }
    observed
        .forest
        .location_targets
        .push(ObservedObject::absent(dn(elsewhere)));
    let report = run(&observed, &no_devices());
    let check = report.check(ids::DEVICE_LOCATION_TARGET).expect("check");
    assert_eq!(check.status, Status::Fail);
    let summary = &check.remedy.as_ref().expect("a remedy").summary;
    assert!(
        summary.contains("is in no domain of this forest") && summary.contains("DC=contoso,DC=lab"),
        "{summary}"
    );
}

#[test]
fn location_in_another_domain_than_the_one_named_warns() {
    let mut observed = prepared();
    let child = dn("DC=eu,DC=contoso,DC=lab");
    // The devices go to the child domain, whose RegisteredDevices does not exist; the service
    // still names the root domain's container, which is in order.
    observed
        .forest
        .forest
        .domains
        .push(forest_domain(child.clone()));
    let root_container = std::mem::replace(
        &mut observed.forest.device_container,
        ObservedObject::absent(dn("CN=RegisteredDevices,DC=eu,DC=contoso,DC=lab")),
    );
    observed.forest.location_targets.push(root_container);
    observed.forest.domain = child;
    let report = run(&observed, &no_devices());
    let check = report.check(ids::DEVICE_LOCATION_TARGET).expect("check");
    assert_eq!(check.status, Status::Warn);
    assert!(check
        .remedy
        .as_ref()
        .is_some_and(|r| r.summary.contains("DC=eu,DC=contoso,DC=lab")));
    // The ACEs are checked on the container the location names, which is in order.
    assert_eq!(
        report.check(ids::DEVICE_CONTAINER_ACE).map(|c| &c.status),
        Some(&Status::Pass)
    );
    assert_eq!(report.outcome, devwb_verify::Outcome::Passed);
}

#[test]
fn grants_to_two_other_accounts_name_each_once() {
    let other = devwb_model::Sid::parse("S-1-5-21-1004336348-1177238915-682003330-1106").unwrap();
    let mut observed = prepared();
    set_dacl(
        &mut observed.forest.device_container,
        acl_with(vec![device_ace(admin_sid()), device_ace(other)]),
    );
    set_dacl(
        &mut observed.forest.device_registration_configuration,
        acl_with(vec![
            configuration_ace(admin_sid()),
            configuration_ace(other),
        ]),
    );
    let report = run(&observed, &no_devices());
    let grant = report
        .checks
        .iter()
        .find(|check| check.id == ids::CONNECTOR_ACCOUNT_GRANT)
        .unwrap();
    let summary = &grant.remedy.as_ref().unwrap().summary;
    assert!(
        summary.starts_with(&format!(
            "The grants went to CONTOSO\\admin ({}), {other} instead of",
            admin_sid()
        )),
        "{summary}"
    );
}
