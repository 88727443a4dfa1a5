//! Snapshots of the human report, and the JSON shape scripts rely on.

use devwb_verify::{render, run, Expected, RenderOptions};
use expect_test::expect;

use crate::fixtures::{prepared, schema_2008_r2};

#[test]
fn human_report_of_a_prepared_forest() {
    let report = run(&prepared(), &Expected::default());
    expect![[r#"
        forest:    contoso.lab
        domain:    DC=contoso,DC=lab
        connector: CONTOSO\svc-aadc

        PASS  schema-level                     Forest schema is Windows Server 2012 R2 (objectVersion 69) or later
              schema        CN=Schema,CN=Configuration,DC=contoso,DC=lab
              schema level  Windows Server 2016 (objectVersion 87)
        PASS  schema-device-container-class    Schema has the msDS-DeviceContainer class
              classSchema  msDS-DeviceContainer found
        PASS  configuration-containers         Device Registration Configuration and Device Registration Services containers exist
              configuration container  CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (container)
              service container        CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (msDS-DeviceRegistrationServiceContainer)
        PASS  registration-service-count       Exactly one msDS-DeviceRegistrationService object in the forest
              query  (objectClass=msDS-DeviceRegistrationService) under CN=Services,CN=Configuration,DC=contoso,DC=lab, subtree
              found  CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
        PASS  registration-service-placement   DeviceRegistrationService object is where the wizard looks for it
              expected  CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
        PASS  registration-service-attributes  DeviceRegistrationService has msDS-DeviceLocation and msDS-IsEnabled
              object               CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
              msDS-DeviceLocation  CN=RegisteredDevices,DC=contoso,DC=lab
              msDS-IsEnabled       TRUE
        PASS  device-location-target           msDS-DeviceLocation names an msDS-DeviceContainer directly under a domain head
              msDS-DeviceLocation  CN=RegisteredDevices,DC=contoso,DC=lab
              objectClass          top, msDS-DeviceContainer
        PASS  connector-account-forest         Connector account exists in this forest
              named      CONTOSO\svc-aadc
              account    CN=svc-aadc,CN=Users,DC=contoso,DC=lab
              objectSid  S-1-5-21-1004336348-1177238915-682003330-1105
              domain     DC=contoso,DC=lab
        SKIP  connector-account-bind           Connector account can bind with its password
              skipped: no connector password given (--connector-password-file)
              named  CONTOSO\svc-aadc
        PASS  device-container-ace             Connector account has 0x000300FF (container inherit) on the device container
              object         CN=RegisteredDevices,DC=contoso,DC=lab
              required       0x000300ff (CCDCLCSWRPWPDTLOSDRC), container inherit
              connector ACE  (A;CI;CCDCLCSWRPWPDTLOSDRC;;;CONTOSO\svc-aadc (S-1-5-21-1004336348-1177238915-682003330-1105))
        PASS  configuration-container-ace      Connector account has 0x000200BC (container inherit) on Device Registration Configuration
              object         CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
              required       0x000200bc (LCSWRPWPLORC), container inherit
              connector ACE  (A;CI;LCSWRPWPLORC;;;CONTOSO\svc-aadc (S-1-5-21-1004336348-1177238915-682003330-1105))
        PASS  connector-account-grant          The account holding the grants is the connector account named
              connector  CONTOSO\svc-aadc (S-1-5-21-1004336348-1177238915-682003330-1105)
        SKIP  devices-match                    Devices in the device container match the Entra export
              skipped: no Entra device export given (--devices)

        all checks passed: 11 passed, 0 failed, 0 warnings, 2 skipped
    "#]].assert_eq(&render(&report, RenderOptions::default()));
}

#[test]
fn human_report_of_a_2008_r2_forest() {
    let report = run(&schema_2008_r2(), &Expected::default());
    expect![[r#"
        forest:    contoso.lab
        domain:    DC=contoso,DC=lab
        connector: CONTOSO\svc-aadc

        FAIL  schema-level                     Forest schema is Windows Server 2012 R2 (objectVersion 69) or later
              schema        CN=Schema,CN=Configuration,DC=contoso,DC=lab
              schema level  Windows Server 2008 R2 (objectVersion 47)
              remedy: Extend the schema to Windows Server 2012 R2 (objectVersion 69) or later: objectVersion 47 has no device classes.
                $ adprep /forestprep   (from Windows Server 2012 R2 or later media, as a Schema Admin on the schema master)
                $ samba-tool domain schemaupgrade --schema=2012_R2   (on a Samba AD DC)
        FAIL  schema-device-container-class    Schema has the msDS-DeviceContainer class
              classSchema  no lDAPDisplayName=msDS-DeviceContainer under CN=Schema,CN=Configuration,DC=contoso,DC=lab
              remedy: Extend the schema to Windows Server 2012 R2 or later: the device classes are missing.
                $ adprep /forestprep   (from Windows Server 2012 R2 or later media, as a Schema Admin on the schema master)
                $ samba-tool domain schemaupgrade --schema=2012_R2   (on a Samba AD DC)
        SKIP  configuration-containers         Device Registration Configuration and Device Registration Services containers exist
              skipped: the schema has no device classes (see schema-level and schema-device-container-class)
        SKIP  registration-service-count       Exactly one msDS-DeviceRegistrationService object in the forest
              skipped: the schema has no device classes (see schema-level and schema-device-container-class)
              query  (objectClass=msDS-DeviceRegistrationService) under CN=Services,CN=Configuration,DC=contoso,DC=lab, subtree
        SKIP  registration-service-placement   DeviceRegistrationService object is where the wizard looks for it
              skipped: the schema has no device classes (see schema-level and schema-device-container-class)
              expected  CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
        SKIP  registration-service-attributes  DeviceRegistrationService has msDS-DeviceLocation and msDS-IsEnabled
              skipped: the schema has no device classes (see schema-level and schema-device-container-class)
        SKIP  device-location-target           msDS-DeviceLocation names an msDS-DeviceContainer directly under a domain head
              skipped: the schema has no device classes (see schema-level and schema-device-container-class)
        PASS  connector-account-forest         Connector account exists in this forest
              named      CONTOSO\svc-aadc
              account    CN=svc-aadc,CN=Users,DC=contoso,DC=lab
              objectSid  S-1-5-21-1004336348-1177238915-682003330-1105
              domain     DC=contoso,DC=lab
        SKIP  connector-account-bind           Connector account can bind with its password
              skipped: no connector password given (--connector-password-file)
              named  CONTOSO\svc-aadc
        SKIP  device-container-ace             Connector account has 0x000300FF (container inherit) on the device container
              skipped: the schema has no device classes (see schema-level and schema-device-container-class)
        SKIP  configuration-container-ace      Connector account has 0x000200BC (container inherit) on Device Registration Configuration
              skipped: the schema has no device classes (see schema-level and schema-device-container-class)
        SKIP  connector-account-grant          The account holding the grants is the connector account named
              skipped: the schema has no device classes (see schema-level and schema-device-container-class)
        SKIP  devices-match                    Devices in the device container match the Entra export
              skipped: no Entra device export given (--devices)

        some checks failed: 1 passed, 2 failed, 0 warnings, 10 skipped
    "#]].assert_eq(&render(&report, RenderOptions::default()));
}

#[test]
fn colour_only_when_asked() {
    let report = run(&schema_2008_r2(), &Expected::default());
    let plain = render(&report, RenderOptions { colour: false });
    let coloured = render(&report, RenderOptions { colour: true });
    assert!(!plain.contains('\u{1b}'));
    assert!(coloured.contains("\u{1b}[1;31mFAIL\u{1b}[0m"));
}

#[test]
fn json_shape_is_stable() {
    let report = run(&schema_2008_r2(), &Expected::default());
    let json = serde_json::to_value(&report).expect("serialises");
    let first = &json["checks"][0];
    assert_eq!(first["id"], "schema-level");
    assert_eq!(first["status"], "fail");
    assert_eq!(first["fixable"], "no");
    assert_eq!(json["checks"][2]["status"], "skipped");
    assert!(json["checks"][2]["why"]
        .as_str()
        .is_some_and(|why| why.contains("schema-level")));
    assert_eq!(json["outcome"], "failed");
    let back: devwb_verify::Report = serde_json::from_value(json).expect("round trip");
    assert_eq!(back, report);
}

// Regression test: values read from the directory went to the terminal as they were.
#[test]
fn control_characters_from_the_directory_are_escaped() {
    let mut report = run(&prepared(), &Expected::default());
    report.domain = "DC=contoso\u{1b}[2J,DC=lab".into();
    report.checks[0].evidence.push(devwb_verify::Evidence::new(
        "displayName",
        "line one\nline two\u{7}\u{9b}",
    ));
    let text = render(&report, RenderOptions { colour: false });
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{9b}'));
    assert!(text.contains(r"domain:    DC=contoso\u{1b}[2J,DC=lab"));
    assert!(text.contains(r"displayName   line one\nline two\u{7}\u{9b}"));
}
