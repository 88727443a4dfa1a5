//! verify and prepare end to end through the `devwb` binary, against a simulator forest per
//! test: the cases issue 5 lists for verify, and `verify --fix`.

use devwb_ldap::Modification;
use devwb_model::sd::SecurityInformation;
use devwb_model::{Dn, SchemaLevel};
use devwb_verify::{ids, Status};

use crate::support::{assert_success, json_report, statuses, stderr, stdout, CliLab, CONNECTOR};

fn verify_json(lab: &CliLab, extra: &[&str]) -> (Option<i32>, devwb_verify::Report) {
    let mut args = vec!["--connector-account", CONNECTOR, "--json"];
    args.extend_from_slice(extra);
    let output = lab.devwb("verify", &args);
    let report = json_report(&output);
    (output.status.code(), report)
}

fn status_of(report: &devwb_verify::Report, id: &str) -> Status {
    report
        .check(id)
        .map(|check| check.status.clone())
        .unwrap_or_else(|| panic!("no check {id}"))
}

/// Removes every ACE of `sid` from the DACL of `dn`.
fn remove_aces_of(lab: &CliLab, dn: &Dn, sid: devwb_model::Sid) {
    let client = lab.admin_client();
    let mut descriptor = client
        .read_security_descriptor(dn, SecurityInformation::DACL)
        .expect("read SD");
    let dacl = descriptor.dacl.as_mut().expect("a DACL");
    let before = dacl.aces.len();
    dacl.aces.retain(|ace| ace.sid != sid);
    assert!(dacl.aces.len() < before, "{dn} had an ACE for {sid}");
    client
        .write_security_descriptor(dn, &descriptor, SecurityInformation::DACL)
        .expect("write SD");
}

fn connector_sid(lab: &CliLab) -> devwb_model::Sid {
    let client = lab.admin_client();
    let dn = Dn::parse(&format!("CN=svc-aadc,CN=Users,{}", lab.sim.domain_dn())).expect("DN");
    let entry = client
        .read(&dn, &["objectSid"])
        .expect("read")
        .expect("connector exists");
    devwb_model::Sid::from_bytes(entry.first_bytes("objectSid").expect("objectSid")).expect("SID")
}

#[test]
fn fresh_forest_fails_then_prepare_then_verify_passes_and_a_second_prepare_plans_nothing() {
    let lab = CliLab::start(SchemaLevel::W2012R2);
    let (code, report) = verify_json(&lab, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        status_of(&report, ids::REGISTRATION_SERVICE_COUNT),
        Status::Fail
    );

    lab.prepare(CONNECTOR);
    let password_file = lab.connector_password_file.display().to_string();
    let (code, report) = verify_json(&lab, &["--connector-password-file", &password_file]);
    assert_eq!(
        statuses(&report),
        "schema-level: pass\nschema-device-container-class: pass\nconfiguration-containers: pass\n\
         registration-service-count: pass\nregistration-service-placement: pass\n\
         registration-service-attributes: pass\ndevice-location-target: pass\n\
         connector-account-forest: pass\nconnector-account-bind: pass\ndevice-container-ace: pass\n\
         configuration-container-ace: pass\nconnector-account-grant: pass\ndevices-match: skipped\n"
    );
    assert_eq!(code, Some(0));

    // The human report says the same, without colour when not on a terminal.
    let human = lab.devwb("verify", &["--connector-account", CONNECTOR]);
    assert_success(&human, "verify");
    assert!(
        stdout(&human).contains("PASS  device-container-ace"),
        "{}",
        stdout(&human)
    );
    assert!(!stdout(&human).contains('\u{1b}'));

    let again = lab.devwb(
        "prepare",
        &["--connector-account", CONNECTOR, "--dry-run", "--json"],
    );
    assert_success(&again, "second prepare");
    let plan: serde_json::Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_eq!(plan["plan"]["steps"], serde_json::json!([]), "{plan}");
}

#[test]
fn schema_2008_r2_fails_the_schema_check_and_prepare_refuses() {
    let lab = CliLab::start(SchemaLevel::W2008R2);
    let (code, report) = verify_json(&lab, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(status_of(&report, ids::SCHEMA_LEVEL), Status::Fail);
    let evidence = &report.check(ids::SCHEMA_LEVEL).expect("check").evidence;
    assert!(
        evidence
            .iter()
            .any(|e| e.value.contains("objectVersion 47")),
        "{evidence:?}"
    );
    let prepare = lab.devwb("prepare", &["--connector-account", CONNECTOR]);
    assert_eq!(prepare.status.code(), Some(1), "{}", stderr(&prepare));
    assert!(
        stderr(&prepare).contains("prepare refused"),
        "{}",
        stderr(&prepare)
    );
}

/// Text values for an add request.
fn text(values: &[&str]) -> Vec<Vec<u8>> {
    values.iter().map(|v| v.as_bytes().to_vec()).collect()
}

/// Adds an enabled DeviceRegistrationService at `dn` whose `msDS-DeviceLocation` is `location`.
fn add_service(lab: &CliLab, dn: &Dn, location: &Dn) {
    let attributes = vec![
        (
            "objectClass".into(),
            text(&["top", "msDS-DeviceRegistrationService"]),
        ),
        ("msDS-DeviceLocation".into(), text(&[&location.to_string()])),
        ("msDS-IsEnabled".into(), text(&["TRUE"])),
    ];
    lab.admin_client()
        .add(dn, attributes)
        .expect("add the service object");
}

/// Adds a second DeviceRegistrationService under its own service container.
fn add_duplicate_service(lab: &CliLab) -> Dn {
    let container = Dn::parse(&format!(
        "CN=Device Registration Services 2,{}",
        lab.configuration_container()
    ))
    .expect("DN");
    lab.admin_client()
        .add(
            &container,
            vec![(
                "objectClass".into(),
                text(&["top", "msDS-DeviceRegistrationServiceContainer"]),
            )],
        )
        .expect("add the second service container");
    let duplicate = Dn::parse(&format!("CN=DeviceRegistrationService,{container}")).expect("DN");
    add_service(lab, &duplicate, &lab.device_container());
    duplicate
}

#[test]
fn duplicate_registration_service_is_named_and_deleted_only_when_named() {
    let lab = CliLab::start(SchemaLevel::W2016);
    lab.prepare(CONNECTOR);
    let duplicate = add_duplicate_service(&lab);

    let (code, report) = verify_json(&lab, &[]);
    assert_eq!(code, Some(1));
    let check = report
        .check(ids::REGISTRATION_SERVICE_COUNT)
        .expect("check");
    assert_eq!(check.status, Status::Fail);
    let found: Vec<&str> = check
        .evidence
        .iter()
        .filter(|e| e.label == "found")
        .map(|e| e.value.as_str())
        .collect();
    assert_eq!(found.len(), 2, "{found:?}");
    for dn in [lab.service_dn(), duplicate.clone()] {
        assert!(
            found
                .iter()
                .any(|f| Dn::parse(f).ok().as_ref() == Some(&dn)),
            "{dn} not named in {found:?}"
        );
    }
    let remedy = check.remedy.as_ref().expect("remedy");
    assert!(remedy
        .commands
        .iter()
        .any(|c| c.contains("--delete-duplicate") && c.contains("Device Registration Services 2")));

    // --fix without naming it deletes nothing.
    let unnamed = lab.devwb(
        "verify",
        &["--connector-account", CONNECTOR, "--fix", "--yes"],
    );
    assert_eq!(unnamed.status.code(), Some(1), "{}", stderr(&unnamed));
    assert!(
        stderr(&unnamed).contains("never deleted without being named"),
        "{}",
        stderr(&unnamed)
    );
    assert!(
        lab.admin_client()
            .read(&duplicate, &["cn"])
            .expect("read")
            .is_some(),
        "the duplicate is still there"
    );

    // A DN that is not a duplicate is refused.
    let wrong = lab.devwb(
        "verify",
        &[
            "--connector-account",
            CONNECTOR,
            "--fix",
            "--yes",
            "--delete-duplicate",
            &lab.service_dn().to_string(),
        ],
    );
    assert_eq!(wrong.status.code(), Some(2), "{}", stderr(&wrong));

    let named = lab.devwb(
        "verify",
        &[
            "--connector-account",
            CONNECTOR,
            "--fix",
            "--yes",
            "--delete-duplicate",
            &duplicate.to_string(),
        ],
    );
    assert_success(&named, "verify --fix --delete-duplicate");
    assert!(
        lab.admin_client()
            .read(&duplicate, &["cn"])
            .expect("read")
            .is_none(),
        "the duplicate is gone"
    );
}

/// Re-creates the service object with `msDS-DeviceLocation` = `location`: the attribute is
/// system-only, so the directory takes it on add and refuses it on modify.
fn recreate_service_pointing_at(lab: &CliLab, location: &Dn) {
    lab.admin_client()
        .delete(&lab.service_dn())
        .expect("delete the service object");
    add_service(lab, &lab.service_dn(), location);
}

#[test]
fn device_location_pointing_at_an_ou_fails_with_the_repoint_remedy_and_fix_repairs_it() {
    let lab = CliLab::start(SchemaLevel::W2016);
    lab.prepare(CONNECTOR);
    let ou = Dn::parse(&format!("OU=Devices,{}", lab.sim.domain_dn())).expect("DN");
    lab.admin_client()
        .add(
            &ou,
            vec![(
                "objectClass".into(),
                vec![b"top".to_vec(), b"organizationalUnit".to_vec()],
            )],
        )
        .expect("add the OU");
    recreate_service_pointing_at(&lab, &ou);

    let (code, report) = verify_json(&lab, &[]);
    assert_eq!(code, Some(1));
    let check = report.check(ids::DEVICE_LOCATION_TARGET).expect("check");
    assert_eq!(check.status, Status::Fail);
    let remedy = check.remedy.as_ref().expect("remedy");
    assert!(remedy.summary.contains("organizationalUnit"), "{remedy:?}");
    assert!(
        remedy
            .commands
            .iter()
            .any(|c| c.contains("--allow-repoint")),
        "{remedy:?}"
    );
    assert!(
        remedy
            .commands
            .iter()
            .any(|c| c.starts_with("New-ADObject") && c.contains("CN=RegisteredDevices")),
        "{remedy:?}"
    );

    // Not confirmed (no terminal, no --yes): nothing changes.
    let declined = lab.devwb(
        "verify",
        &["--connector-account", CONNECTOR, "--fix", "--allow-repoint"],
    );
    assert_eq!(declined.status.code(), Some(1), "{}", stderr(&declined));
    assert!(
        stderr(&declined).contains("pass --yes"),
        "{}",
        stderr(&declined)
    );

    let fixed = lab.devwb(
        "verify",
        &[
            "--connector-account",
            CONNECTOR,
            "--fix",
            "--allow-repoint",
            "--yes",
        ],
    );
    assert_success(&fixed, "verify --fix");
    let (code, _) = verify_json(&lab, &[]);
    assert_eq!(code, Some(0));
}

#[test]
fn device_location_is_refused_as_a_modify_and_required_on_add() {
    // msDS-DeviceLocation is a system-only must-have of msDS-DeviceRegistrationService: the
    // directory refuses to remove it (constraintViolation, as AD answers for a system-only
    // attribute) and to create the object without it (objectClassViolation). The partial
    // object AD FS leaves behind therefore cannot be made here; the table test
    // `partial_configuration_left_by_ad_fs_fails_attributes` in devwb-verify covers it.
    let lab = CliLab::start(SchemaLevel::W2016);
    lab.prepare(CONNECTOR);
    let client = lab.admin_client();
    let removed = client.modify(
        &lab.service_dn(),
        vec![Modification::Delete("msDS-DeviceLocation".into(), vec![])],
    );
    assert_eq!(removed.err().and_then(|e| e.result_code()), Some(19));
    let other = Dn::parse(&format!(
        "CN=DeviceRegistrationService,CN=Services,{}",
        lab.sim.config_dn()
    ))
    .expect("DN");
    let added = client.add(
        &other,
        vec![(
            "objectClass".into(),
            vec![b"top".to_vec(), b"msDS-DeviceRegistrationService".to_vec()],
        )],
    );
    assert!(
        matches!(added.err().and_then(|e| e.result_code()), Some(65 | 64)),
        "refused without its must-haves"
    );
}

#[test]
fn missing_device_container_ace_fails_that_check_only() {
    let lab = CliLab::start(SchemaLevel::W2016);
    lab.prepare(CONNECTOR);
    remove_aces_of(&lab, &lab.device_container(), connector_sid(&lab));
    let (code, report) = verify_json(&lab, &[]);
    assert_eq!(code, Some(1));
    let failed: Vec<&str> = report.failures().map(|check| check.id.as_str()).collect();
    assert_eq!(failed, vec![ids::DEVICE_CONTAINER_ACE]);
    let remedy = report
        .check(ids::DEVICE_CONTAINER_ACE)
        .and_then(|c| c.remedy.clone())
        .expect("remedy");
    assert!(
        remedy
            .commands
            .iter()
            .any(|c| c.starts_with("dsacls") && c.contains("GRGWCCDCSDDT")),
        "{remedy:?}"
    );

    let fixed = lab.devwb(
        "verify",
        &["--connector-account", CONNECTOR, "--fix", "--yes"],
    );
    assert_success(&fixed, "verify --fix");
}

#[test]
fn missing_configuration_ace_fails_that_check_and_names_the_script_bug() {
    let lab = CliLab::start(SchemaLevel::W2016);
    lab.prepare(CONNECTOR);
    remove_aces_of(&lab, &lab.configuration_container(), connector_sid(&lab));
    let (code, report) = verify_json(&lab, &[]);
    assert_eq!(code, Some(1));
    let failed: Vec<&str> = report.failures().map(|check| check.id.as_str()).collect();
    assert_eq!(failed, vec![ids::CONFIGURATION_CONTAINER_ACE]);
    let check = report
        .check(ids::CONFIGURATION_CONTAINER_ACE)
        .expect("check");
    assert!(check
        .evidence
        .iter()
        .any(|e| e.label == "diagnosis" && e.value.contains("CreateDeviceContainer.ps1")));
}

#[test]
fn wrong_connector_named_fails_and_names_the_account_that_got_the_grants() {
    let lab = CliLab::start(SchemaLevel::W2016);
    lab.prepare(CONNECTOR);
    let output = lab.devwb(
        "verify",
        &["--connector-account", "CONTOSO\\other-admin", "--json"],
    );
    assert_eq!(output.status.code(), Some(1));
    let report = json_report(&output);
    let check = report.check(ids::CONNECTOR_ACCOUNT_GRANT).expect("check");
    assert_eq!(check.status, Status::Fail);
    let remedy = check.remedy.as_ref().expect("remedy");
    assert!(remedy.summary.contains("svc-aadc"), "{remedy:?}");
    assert!(
        remedy
            .summary
            .contains("another account than the connector's"),
        "{remedy:?}"
    );
    assert_eq!(status_of(&report, ids::DEVICE_CONTAINER_ACE), Status::Fail);
}

#[test]
fn connector_with_a_wrong_password_fails_the_bind_check() {
    let lab = CliLab::start(SchemaLevel::W2016);
    lab.prepare(CONNECTOR);
    let wrong = lab.work_dir().join("wrong.pw");
    std::fs::write(&wrong, "not-the-password\n").expect("write");
    let wrong = wrong.display().to_string();
    let (code, report) = verify_json(&lab, &["--connector-password-file", &wrong]);
    assert_eq!(code, Some(1));
    let check = report.check(ids::CONNECTOR_ACCOUNT_BIND).expect("check");
    assert_eq!(check.status, Status::Fail);
    assert!(
        check.evidence.iter().any(|e| e.value.contains("49")),
        "{:?}",
        check.evidence
    );
    assert!(!stdout(&lab.devwb(
        "verify",
        &[
            "--connector-account",
            CONNECTOR,
            "--connector-password-file",
            &wrong
        ]
    ))
    .contains("not-the-password"));
}

#[test]
fn connector_from_another_forest_fails() {
    let lab = CliLab::start(SchemaLevel::W2016);
    lab.prepare(CONNECTOR);
    let output = lab.devwb(
        "verify",
        &["--connector-account", "FABRIKAM\\svc-aadc", "--json"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json_report(&output);
    assert_eq!(
        status_of(&report, ids::CONNECTOR_ACCOUNT_FOREST),
        Status::Fail
    );
    let prepare = lab.devwb("prepare", &["--connector-account", "FABRIKAM\\svc-aadc"]);
    assert_eq!(prepare.status.code(), Some(1), "{}", stderr(&prepare));
}

#[test]
fn an_unknown_connector_account_is_a_refusal_with_status_1() {
    let lab = CliLab::start(SchemaLevel::W2016);
    let prepare = lab.devwb(
        "prepare",
        &[
            "--connector-account",
            "CONTOSO\\no-such-account",
            "--dry-run",
        ],
    );
    assert_eq!(prepare.status.code(), Some(1), "{}", stderr(&prepare));
    let text = stderr(&prepare);
    assert!(
        text.starts_with("prepare refused: the connector account CONTOSO\\no-such-account was not found in this forest"),
        "{text}"
    );
}

#[test]
fn devices_in_the_container_are_compared_with_the_export() {
    use devwb_writeback::synthetic::{
        write_export, ExportLayout, SyntheticConfig, SyntheticDevices,
    };

    let lab = CliLab::start(SchemaLevel::W2016);
    lab.prepare(CONNECTOR);
    let export = lab.work_dir().join("devices.json");
    let devices = SyntheticDevices::new(SyntheticConfig::new(20, 7, lab.sim.domain_sid()));
    let mut file = std::fs::File::create(&export).expect("create export");
    write_export(
        devices.map(|device| device.to_json()),
        ExportLayout::Page,
        &mut file,
    )
    .expect("write export");
    drop(file);
    let export_arg = export.display().to_string();

    // Before writeback: every device of the export is missing from the container.
    let (code, report) = verify_json(&lab, &["--devices", &export_arg]);
    assert_eq!(code, Some(1));
    let check = report.check(ids::DEVICES_MATCH).expect("check");
    assert_eq!(check.status, Status::Fail);
    assert!(
        check
            .evidence
            .iter()
            .any(|e| e.label == "missing in AD" && e.value.starts_with("20:")),
        "{:?}",
        check.evidence
    );

    // The remedy's devwb command, run as printed, writes them back: it names the flags
    // writeback has (`--export`) and the run's URL, bind and CA file.
    let command = check
        .remedy
        .as_ref()
        .and_then(|remedy| remedy.commands.first())
        .expect("a remedy command");
    let words = powershell_words(command);
    assert_eq!(&words[..2], ["devwb", "writeback"], "{command}");
    for expected in [
        ["--url", &lab.sim.ldaps_url()],
        ["--bind", &lab.sim.admin_dn()],
        ["--export", &export_arg],
    ] {
        assert!(words.windows(2).any(|pair| pair == expected), "{command}");
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_devwb"))
        .args(&words[1..])
        .env_remove("DEVWB_PASSWORD")
        .output()
        .expect("devwb runs");
    assert_success(&output, command);
    let (code, report) = verify_json(&lab, &["--devices", &export_arg]);
    assert_eq!(
        status_of(&report, ids::DEVICES_MATCH),
        Status::Pass,
        "{:?}",
        report.check(ids::DEVICES_MATCH)
    );
    assert_eq!(code, Some(0));
}

#[test]
fn fix_prepares_a_fresh_forest_after_confirmation_and_reports_json() {
    let lab = CliLab::start(SchemaLevel::W2016);
    let output = lab.devwb(
        "verify",
        &["--connector-account", CONNECTOR, "--fix", "--yes", "--json"],
    );
    assert_success(&output, "verify --fix --yes --json");
    let outcome: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(outcome["before"]["outcome"], "failed", "{outcome}");
    assert_eq!(outcome["applied"], true, "{outcome}");
    assert_eq!(outcome["after"]["outcome"], "passed", "{outcome}");
    assert!(
        outcome["plan"]["steps"]
            .as_array()
            .is_some_and(|steps| steps.len() >= 4),
        "{outcome}"
    );

    // A second --fix has nothing to do.
    let again = lab.devwb("verify", &["--connector-account", CONNECTOR, "--fix"]);
    assert_success(&again, "second verify --fix");
    assert!(
        stdout(&again).contains("Nothing to fix."),
        "{}",
        stdout(&again)
    );
}

#[test]
fn wrong_bind_password_exits_3_and_does_not_print_the_password() {
    let lab = CliLab::start(SchemaLevel::W2016);
    let wrong = lab.work_dir().join("wrong-admin.pw");
    std::fs::write(&wrong, "Wr0ng-Admin-Password\n").expect("write");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_devwb"))
        .args([
            "verify",
            "--url",
            &lab.sim.ldaps_url(),
            "--ca-file",
            &lab.ca_file.display().to_string(),
        ])
        .args([
            "--bind",
            &lab.sim.admin_dn(),
            "--password-file",
            &wrong.display().to_string(),
        ])
        .env_remove("DEVWB_PASSWORD")
        .output()
        .expect("devwb runs");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains("invalidCredentials") || text.contains("(49)"),
        "{text}"
    );
    assert!(
        !text.contains("Wr0ng-Admin-Password") && !stdout(&output).contains("Wr0ng-Admin-Password")
    );
}

/// The words of a command as PowerShell splits it, for the forms remedies print: bare words and
/// double-quoted strings (which the remedies use only for text in which nothing expands).
fn powershell_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = command.trim_start();
    while !rest.is_empty() {
        assert!(!rest.starts_with('\''), "single-quoted text in {command}");
        let (word, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').expect("closing quote");
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        words.push(word.to_string());
        rest = after.trim_start();
    }
    words
}

#[test]
fn an_untrusted_certificate_is_named_once_with_a_hint_at_the_ca_file() {
    let lab = CliLab::start(SchemaLevel::W2016);
    // The certificate of another simulator: a valid CA file, but not the issuer of this server's
    // (both are rcgen's self-signed certificates with the same issuer name, so rustls says
    // BadSignature where a real private CA gives UnknownIssuer; the advice is the same).
    let other = devwb_simulator::Simulator::builder()
        .forest("fabrikam.lab")
        .start_blocking()
        .expect("second simulator starts");
    let other_ca = lab.work_dir().join("other-ca.pem");
    std::fs::write(&other_ca, other.certificate_pem()).expect("write CA");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_devwb"))
        .args(["verify", "--url", &lab.sim.ldaps_url(), "--ca-file"])
        .arg(&other_ca)
        .args(["--bind", &lab.sim.admin_dn(), "--password-file"])
        .arg(&lab.admin_password_file)
        .env_remove("DEVWB_PASSWORD")
        .env_remove("RUST_LOG")
        .output()
        .expect("devwb runs");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let text = stderr(&output);
    assert_eq!(
        text.matches("invalid peer certificate").count(),
        1,
        "each cause once:\n{text}"
    );
    assert!(
        text.contains(&format!(
            "error: connecting to {url} as {bind}: cannot connect to {url}: invalid peer certificate: BadSignature\n",
            url = lab.sim.ldaps_url(),
            bind = lab.sim.admin_dn()
        )),
        "{text}"
    );
    let hint = text
        .lines()
        .find(|line| line.starts_with("hint: "))
        .unwrap_or_else(|| panic!("no hint:\n{text}"));
    assert!(
        hint.contains("--ca-file FILE") && hint.contains("--insecure-skip-verify"),
        "{hint}"
    );
}

#[test]
fn skipping_certificate_verification_warns_once_however_many_connections() {
    use devwb_writeback::synthetic::{
        write_export, ExportLayout, SyntheticConfig, SyntheticDevices,
    };

    let lab = CliLab::start(SchemaLevel::W2016);
    lab.prepare(CONNECTOR);
    let export = lab.work_dir().join("devices.json");
    let devices = SyntheticDevices::new(SyntheticConfig::new(8, 3, lab.sim.domain_sid()));
    let mut file = std::fs::File::create(&export).expect("create export");
    write_export(
        devices.map(|device| device.to_json()),
        ExportLayout::Page,
        &mut file,
    )
    .expect("write export");
    drop(file);
    // Four connections to apply, plus the one that reads the forest.
    let output = lab.devwb(
        "writeback",
        &[
            "--insecure-skip-verify",
            "--connections",
            "4",
            "--export",
            &export.display().to_string(),
        ],
    );
    assert_success(&output, "writeback --insecure-skip-verify");
    let text = stderr(&output);
    assert_eq!(
        text.matches("verification is OFF").count(),
        1,
        "one warning per process:\n{text}"
    );
}

#[test]
fn writeback_withholds_a_mass_delete_with_exit_5_and_keeps_an_undo_file_of_what_it_deletes() {
    use devwb_writeback::synthetic::{
        write_export, ExportLayout, SyntheticConfig, SyntheticDevices,
    };

    let lab = CliLab::start(SchemaLevel::W2016);
    lab.prepare(CONNECTOR);
    let devices: Vec<_> =
        SyntheticDevices::new(SyntheticConfig::new(30, 11, lab.sim.domain_sid())).collect();
    let export = |name: &str, count: usize| {
        let path = lab.work_dir().join(name);
        let mut file = std::fs::File::create(&path).expect("create export");
        write_export(
            devices[..count].iter().map(|device| device.to_json()),
            ExportLayout::Page,
            &mut file,
        )
        .expect("write export");
        path.display().to_string()
    };
    let undo = lab.work_dir().join("undo");
    let undo_arg = undo.display().to_string();
    let in_directory = || {
        lab.admin_client()
            .search(
                &lab.device_container(),
                devwb_ldap::Scope::OneLevel,
                "(objectClass=msDS-Device)",
                &["cn"],
            )
            .expect("search")
            .len()
    };

    let all = export("all.json", 30);
    let first = lab.devwb("writeback", &["--export", &all, "--undo-dir", &undo_arg]);
    assert_success(&first, "first writeback");
    assert_eq!(in_directory(), 30);

    // 25 of 30 gone from the export: over the default limit (10 for 30 devices), exit 5.
    let five = export("five.json", 5);
    let withheld = lab.devwb("writeback", &["--export", &five, "--undo-dir", &undo_arg]);
    assert_eq!(withheld.status.code(), Some(5), "{}", stderr(&withheld));
    assert!(
        stdout(&withheld).contains("25 deletes withheld: 25 deletes exceed this run's limit of 10"),
        "{}",
        stdout(&withheld)
    );
    assert!(
        stderr(&withheld).contains("--max-deletes 25"),
        "{}",
        stderr(&withheld)
    );
    assert_eq!(in_directory(), 30);
    assert!(!undo.exists(), "nothing deleted or modified, no undo file");

    // The same dry run says so too, with the same status.
    let dry = lab.devwb("writeback", &["--export", &five, "--dry-run"]);
    assert_eq!(dry.status.code(), Some(5), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains("# withheld: delete CN="),
        "{}",
        stdout(&dry)
    );

    // Allowed explicitly: deleted, each kept in the undo file first.
    let allowed = lab.devwb(
        "writeback",
        &[
            "--export",
            &five,
            "--undo-dir",
            &undo_arg,
            "--max-deletes",
            "25",
        ],
    );
    assert_success(&allowed, "allowed writeback");
    assert_eq!(in_directory(), 5);
    let files: Vec<_> = std::fs::read_dir(&undo)
        .expect("undo dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).expect("undo file");
    assert_eq!(text.matches("changetype: add").count(), 25, "{text}");
    assert!(stdout(&allowed).contains(&format!("Undo file: {}", files[0].display())));

    let bad = lab.devwb("writeback", &["--export", &five, "--max-deletes", "lots"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("neither a whole number"),
        "{}",
        stderr(&bad)
    );
}
