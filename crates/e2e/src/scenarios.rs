//! The scenario table: each scenario gets a fresh forest at the schema level it names and
//! drives prepare, verify and writeback as a user would, over LDAPS.

use std::path::Path;

use devwb_ldap::{Change, Client};
use devwb_model::schema::attr;
use devwb_model::{Dn, Guid, SchemaLevel};
use devwb_prepare::{PlanOptions, PrepareRequest, Refusal};
use devwb_verify::{CollectOptions, Expected, Report, Status};
use devwb_writeback::synthetic::{
    write_export, ExportLayout, SyntheticConfig, SyntheticDevice, SyntheticDevices,
};
use devwb_writeback::Target;
use devwb_writeback::{DeviceSource, WritebackOptions, WritebackPlan, WritebackReport};

use crate::{BackendForest, Outcome, Shape};

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// A name that says what is proved, used as the test's label.
    pub name: &'static str,
    /// The schema level of the fresh forest it runs on.
    pub level: SchemaLevel,
    /// The domains of that forest.
    pub shape: Shape,
    /// The scenario.
    pub run: fn(&BackendForest) -> Outcome,
    /// Why it cannot run here, when it needs something the machine lacks.
    pub unavailable: fn() -> Option<String>,
}

/// For scenarios that need nothing beyond a backend.
pub(crate) fn always_available() -> Option<String> {
    None
}

/// For scenarios that drive OpenLDAP's `ldapsearch` (Debian's ldap-utils, which .ci/run installs).
fn without_ldapsearch() -> Option<String> {
    match std::process::Command::new("ldapsearch").arg("-VV").output() {
        Ok(_) => None,
        Err(why) => Some(format!("ldapsearch (ldap-utils) cannot be run: {why}")),
    }
}

/// Every scenario on a forest of one domain, in the order they are reported (those on three
/// domains are [`crate::forest::ALL`]).
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "prepare_then_verify_passes_and_a_second_prepare_plans_nothing",
        level: SchemaLevel::W2012R2,
        shape: Shape::OneDomain,
        run: prepare_then_verify_passes_and_a_second_prepare_plans_nothing,
        unavailable: always_available,
    },
    Scenario {
        name: "connector_writes_devices_only_after_prepare",
        level: SchemaLevel::W2012R2,
        shape: Shape::OneDomain,
        run: connector_writes_devices_only_after_prepare,
        unavailable: always_available,
    },
    Scenario {
        name: "old_schema_is_refused_and_fails_verify",
        level: SchemaLevel::W2008R2,
        shape: Shape::OneDomain,
        run: old_schema_is_refused_and_fails_verify,
        unavailable: always_available,
    },
    Scenario {
        name: "duplicate_registration_service_is_named",
        level: SchemaLevel::W2012R2,
        shape: Shape::OneDomain,
        run: duplicate_registration_service_is_named,
        unavailable: always_available,
    },
    Scenario {
        name: "prepared_forest_reads_back_with_ldapsearch",
        level: SchemaLevel::W2012R2,
        shape: Shape::OneDomain,
        run: prepared_forest_reads_back_with_ldapsearch,
        unavailable: without_ldapsearch,
    },
    Scenario {
        name: "writeback_of_1000_devices_then_no_change_then_delta",
        level: SchemaLevel::W2012R2,
        shape: Shape::OneDomain,
        run: writeback_of_1000_devices_then_no_change_then_delta,
        unavailable: always_available,
    },
    Scenario {
        name: "bad_exports_delete_nothing_and_the_undo_file_restores_deletes",
        level: SchemaLevel::W2012R2,
        shape: Shape::OneDomain,
        run: bad_exports_delete_nothing_and_the_undo_file_restores_deletes,
        unavailable: without_ldapsearch,
    },
];

pub(crate) const CONNECTOR: &str = "svc-devwb";
pub(crate) const CONNECTOR_PASSWORD: &str = "Connector-Passw0rd!1";

pub(crate) fn connector_name(forest: &BackendForest) -> String {
    format!("{}\\{CONNECTOR}", forest.netbios)
}

/// Runs prepare as the administrator: observe, plan, apply. Returns the number of steps applied.
pub(crate) fn prepare(forest: &BackendForest) -> Result<usize, String> {
    prepare_in(forest, None)
}

/// [`prepare`] for the domain `domain` (the forest root's when `None`).
pub(crate) fn prepare_in(forest: &BackendForest, domain: Option<Dn>) -> Result<usize, String> {
    let admin = forest.admin_client()?;
    let plan = plan_prepare_in(forest, &admin, domain)?
        .map_err(|refusal| format!("prepare refused: {refusal}"))?;
    let applied = devwb_prepare::apply(&admin, &plan).map_err(|e| format!("prepare apply: {e}"))?;
    Ok(applied.steps)
}

pub(crate) fn plan_prepare(
    forest: &BackendForest,
    admin: &Client,
) -> Result<Result<devwb_prepare::Plan, Refusal>, String> {
    plan_prepare_in(forest, admin, None)
}

pub(crate) fn plan_prepare_in(
    forest: &BackendForest,
    admin: &Client,
    domain: Option<Dn>,
) -> Result<Result<devwb_prepare::Plan, Refusal>, String> {
    let request = PrepareRequest {
        domain,
        connector: connector_name(forest),
    };
    let observation = match devwb_prepare::observe(admin, &request) {
        Ok(observation) => observation,
        Err(error) => {
            return match error.kind() {
                devwb_prepare::ErrorKind::Refused(refusal) => Ok(Err(refusal.clone())),
                // The LDAP error under "cannot observe the forest" names what could not be read.
                _ => Err(match std::error::Error::source(&error) {
                    Some(cause) => format!("prepare observe: {error}: {cause}"),
                    None => format!("prepare observe: {error}"),
                }),
            };
        }
    };
    Ok(devwb_prepare::plan(&observation, &PlanOptions::default()))
}

pub(crate) fn verify(forest: &BackendForest, devices: Option<Vec<Guid>>) -> Result<Report, String> {
    verify_with(&forest.admin_client()?, forest, None, devices)
}

/// [`verify`] through `admin`, for the domain `domain` (the forest root's when `None`).
pub(crate) fn verify_with(
    admin: &Client,
    forest: &BackendForest,
    domain: Option<Dn>,
    devices: Option<Vec<Guid>>,
) -> Result<Report, String> {
    let options = CollectOptions {
        domain,
        connector_account: Some(connector_name(forest)),
        connector_password: Some(devwb_ldap::Password::new(CONNECTOR_PASSWORD)),
        read_devices: devices.is_some(),
    };
    let observed =
        devwb_verify::collect(admin, &options).map_err(|e| format!("verify collect: {e}"))?;
    Ok(devwb_verify::run(
        &observed,
        &Expected {
            devices,
            invocation: None,
        },
    ))
}

pub(crate) fn status_of(report: &Report, id: &str) -> Result<Status, String> {
    report
        .check(id)
        .map(|check| check.status.clone())
        .ok_or_else(|| format!("the report has no check {id}"))
}

pub(crate) fn expect_all_pass(report: &Report, when: &str) -> Outcome {
    let failed: Vec<String> = report
        .checks
        .iter()
        .filter(|check| !matches!(check.status, Status::Pass | Status::Skipped { .. }))
        .map(|check| format!("{} ({:?}): {:?}", check.id, check.status, check.evidence))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{when}: checks did not pass: {}",
            failed.join("; ")
        ))
    }
}

pub(crate) fn expect(condition: bool, what: impl FnOnce() -> String) -> Outcome {
    if condition {
        Ok(())
    } else {
        Err(what())
    }
}

fn prepare_then_verify_passes_and_a_second_prepare_plans_nothing(
    forest: &BackendForest,
) -> Outcome {
    forest.create_user(CONNECTOR, CONNECTOR_PASSWORD)?;
    let steps = prepare(forest)?;
    expect(steps > 0, || {
        "the first prepare of a fresh forest applied no step".to_string()
    })?;
    expect_all_pass(&verify(forest, None)?, "verify after prepare")?;
    let admin = forest.admin_client()?;
    let again = plan_prepare(forest, &admin)?
        .map_err(|refusal| format!("second prepare refused: {refusal}"))?;
    expect(again.is_empty(), || {
        format!("the second prepare planned steps:\n{again}")
    })
}

/// An `msDS-Device` entry as the connector would write it.
fn device_change(container: &Dn, id: Guid) -> Result<Change, String> {
    let dn = Dn::parse(&format!("CN={id},{container}")).map_err(|e| e.to_string())?;
    let attrs = vec![
        ("objectClass".to_string(), vec![b"msDS-Device".to_vec()]),
        (attr::DEVICE_ID.to_string(), vec![id.to_ad_bytes().to_vec()]),
        (attr::IS_ENABLED.to_string(), vec![b"TRUE".to_vec()]),
        (attr::DISPLAY_NAME.to_string(), vec![b"e2e-laptop".to_vec()]),
        (
            attr::ALT_SECURITY_IDENTITIES.to_string(),
            vec![b"X509:<SHA1-TP-PUBKEY>0123456789abcdef0123456789abcdef01234567ZmFrZSBrZXkgaGFzaA==".to_vec()],
        ),
    ];
    Ok(Change::Add { dn, attrs })
}

fn result_code(result: Result<(), devwb_ldap::Error>) -> Option<u32> {
    match result {
        Ok(()) => None,
        Err(error) => Some(error.result_code().unwrap_or(u32::MAX)),
    }
}

fn connector_writes_devices_only_after_prepare(forest: &BackendForest) -> Outcome {
    const INSUFFICIENT_ACCESS_RIGHTS: u32 = 50;
    forest.create_user(CONNECTOR, CONNECTOR_PASSWORD)?;
    let container =
        Dn::parse(&format!("CN=RegisteredDevices,{}", forest.domain)).map_err(|e| e.to_string())?;
    // The container exists but carries no grant yet: an admin made it, as an AD FS setup would.
    let admin = forest.admin_client()?;
    admin
        .add(
            &container,
            vec![(
                "objectClass".to_string(),
                vec![b"msDS-DeviceContainer".to_vec()],
            )],
        )
        .map_err(|e| format!("admin creates {container}: {e}"))?;
    let connector = forest.client_as(&connector_name(forest), CONNECTOR_PASSWORD)?;
    let first = Guid::from_u128(0x1111_2222_3333_4444_5555_6666_7777_8888);
    let before = result_code(connector.send(device_change(&container, first)?, Vec::new()));
    expect(before == Some(INSUFFICIENT_ACCESS_RIGHTS), || {
        format!("before prepare the connector's device add gave {before:?}, expected insufficientAccessRights (50)")
    })?;

    prepare(forest)?;
    let connector = forest.client_as(&connector_name(forest), CONNECTOR_PASSWORD)?;
    let Change::Add { dn, .. } = device_change(&container, first)? else {
        return Err("device_change makes adds".to_string());
    };
    connector
        .send(device_change(&container, first)?, Vec::new())
        .map_err(|e| format!("after prepare the connector cannot add a device: {e}"))?;
    connector
        .modify(
            &dn,
            vec![devwb_ldap::Modification::replace_str(
                attr::DISPLAY_NAME,
                "e2e-renamed",
            )],
        )
        .map_err(|e| format!("after prepare the connector cannot modify its device: {e}"))?;
    connector
        .delete(&dn)
        .map_err(|e| format!("after prepare the connector cannot delete its device: {e}"))?;
    // The grant covers the device container only.
    let users = Dn::parse(&format!("CN=Users,{}", forest.domain)).map_err(|e| e.to_string())?;
    let outside = result_code(connector.send(device_change(&users, first)?, Vec::new()));
    expect(outside.is_some(), || {
        "the connector could create an object in CN=Users".to_string()
    })
}

fn old_schema_is_refused_and_fails_verify(forest: &BackendForest) -> Outcome {
    forest.create_user(CONNECTOR, CONNECTOR_PASSWORD)?;
    let admin = forest.admin_client()?;
    match plan_prepare(forest, &admin)? {
        Err(Refusal::SchemaTooOld { object_version, .. }) => {
            expect(object_version == Some(47), || {
                format!("prepare refused the old schema but reported objectVersion {object_version:?}, expected 47")
            })?
        }
        Err(other) => return Err(format!("prepare refused for another reason: {other}")),
        Ok(plan) => return Err(format!("prepare planned on a 2008 R2 schema:\n{plan}")),
    }
    let report = verify(forest, None)?;
    let status = status_of(&report, devwb_verify::ids::SCHEMA_LEVEL)?;
    expect(status == Status::Fail, || {
        format!("verify's schema-level check was {status:?} on a 2008 R2 forest")
    })
}

fn duplicate_registration_service_is_named(forest: &BackendForest) -> Outcome {
    forest.create_user(CONNECTOR, CONNECTOR_PASSWORD)?;
    prepare(forest)?;
    let admin = forest.admin_client()?;
    let configuration = admin
        .root_dse()
        .map_err(|e| e.to_string())?
        .configuration_nc;
    let services = format!("CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,{configuration}");
    let duplicate = Dn::parse(&format!("CN=DeviceRegistrationService2,{services}"))
        .map_err(|e| e.to_string())?;
    let location = format!("CN=RegisteredDevices,{}", forest.domain);
    admin
        .add(
            &duplicate,
            vec![
                (
                    "objectClass".to_string(),
                    vec![b"msDS-DeviceRegistrationService".to_vec()],
                ),
                (
                    attr::DEVICE_LOCATION.to_string(),
                    vec![location.into_bytes()],
                ),
                (attr::IS_ENABLED.to_string(), vec![b"TRUE".to_vec()]),
            ],
        )
        .map_err(|e| format!("admin adds a second DeviceRegistrationService: {e}"))?;
    let report = verify(forest, None)?;
    let check = report
        .check(devwb_verify::ids::REGISTRATION_SERVICE_COUNT)
        .ok_or("the report has no registration-service-count check")?;
    expect(check.status == Status::Fail, || {
        format!(
            "registration-service-count was {:?} with two objects",
            check.status
        )
    })?;
    let evidence = format!("{:?}", check.evidence).to_lowercase();
    expect(evidence.contains("deviceregistrationservice2"), || {
        format!("verify did not name the duplicate: {:?}", check.evidence)
    })?;
    match plan_prepare(forest, &admin)? {
        Err(Refusal::DuplicateRegistrationServices { .. }) => Ok(()),
        Err(other) => Err(format!("prepare refused for another reason: {other}")),
        Ok(plan) => Err(format!(
            "prepare planned despite two configuration objects:\n{plan}"
        )),
    }
}

/// Writes the generated devices as one Graph page; `edit` may change a device and returns
/// whether it stays in the export. Returns the ids of the devices written.
pub(crate) fn write_devices(
    path: &Path,
    config: SyntheticConfig,
    edit: impl Fn(usize, &mut SyntheticDevice) -> bool,
) -> Result<Vec<Guid>, String> {
    let mut ids = Vec::new();
    let mut values = Vec::new();
    for (index, mut device) in SyntheticDevices::new(config).enumerate() {
        if edit(index, &mut device) {
            ids.push(device.device_id);
            values.push(device.to_json());
        }
    }
    let mut file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    write_export(values.into_iter(), ExportLayout::Page, &mut file)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(ids)
}

/// Plans and applies a writeback of the export at `path` as the connector.
pub(crate) fn writeback(
    connector: &Client,
    target: &Target,
    path: &Path,
    what: &str,
) -> Result<(WritebackPlan, WritebackReport), String> {
    let source = DeviceSource::open(path).map_err(|e| format!("{what}: {e}"))?;
    devwb_writeback::run(
        connector,
        target,
        &source,
        Default::default(),
        &WritebackOptions::default(),
        &mut |_| {},
    )
    .map_err(|e| format!("{what}: {e}"))
}

fn writeback_of_1000_devices_then_no_change_then_delta(forest: &BackendForest) -> Outcome {
    const COUNT: usize = 1000;
    forest.create_user(CONNECTOR, CONNECTOR_PASSWORD)?;
    prepare(forest)?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let export = work.path().join("devices.json");
    let config = SyntheticConfig::new(COUNT as u64, 7, forest.domain_sid()?);
    write_devices(&export, config.clone(), |_, _| true)?;

    let connector = forest.client_as(&connector_name(forest), CONNECTOR_PASSWORD)?;
    let target = devwb_writeback::discover(&connector, None)
        .map_err(|e| format!("writeback discover: {e}"))?;
    let (plan, report) = writeback(&connector, &target, &export, "first writeback")?;
    expect(plan.adds.len() == COUNT, || {
        format!("first plan has {} adds, expected {COUNT}", plan.adds.len())
    })?;
    expect(report.succeeded() && report.added == COUNT as u64, || {
        format!("first writeback: {report:?}")
    })?;

    let source = DeviceSource::open(&export).map_err(|e| e.to_string())?;
    let again = devwb_writeback::plan(&connector, &target, &source, Default::default())
        .map_err(|e| e.to_string())?;
    expect(
        again.adds.is_empty() && again.modifies.is_empty() && again.deletes.is_empty(),
        || format!("the no-change rerun planned {:?}", again.counts),
    )?;

    // Every tenth device renamed, the last ten gone from Entra.
    let changed = work.path().join("changed.json");
    let kept = write_devices(&changed, config, |index, device| {
        if index % 10 == 0 {
            device.display_name = format!("{}-renamed", device.display_name);
        }
        index < COUNT - 10
    })?;
    let (delta, report) = writeback(&connector, &target, &changed, "delta writeback")?;
    expect(delta.adds.is_empty(), || {
        format!("the delta planned {} adds", delta.adds.len())
    })?;
    expect(delta.modifies.len() == 99, || {
        format!(
            "the delta planned {} modifies, expected 99 (every tenth of the 990 kept)",
            delta.modifies.len()
        )
    })?;
    expect(delta.deletes.len() == 10, || {
        format!(
            "the delta planned {} deletes, expected 10",
            delta.deletes.len()
        )
    })?;
    expect(report.succeeded(), || {
        format!("delta writeback failures: {:?}", report.failures)
    })?;

    let report = verify(forest, Some(kept))?;
    let status = status_of(&report, devwb_verify::ids::DEVICES_MATCH)?;
    expect(status == Status::Pass, || {
        format!("verify's device comparison was {status:?} after the delta")
    })
}

/// How many device objects the container holds.
pub(crate) fn devices_in_container(connector: &Client, target: &Target) -> Result<usize, String> {
    connector
        .search(
            &target.container,
            devwb_ldap::Scope::OneLevel,
            "(objectClass=msDS-Device)",
            &["cn"],
        )
        .map(|entries| entries.len())
        .map_err(|e| format!("counting devices: {e}"))
}

/// Issue 13's reproductions on a real directory: exports that cannot be the whole tenant delete
/// nothing, a mass delete is withheld, and what a run deletes comes back with `ldapmodify -a`.
fn bad_exports_delete_nothing_and_the_undo_file_restores_deletes(
    forest: &BackendForest,
) -> Outcome {
    use devwb_writeback::PlanOptions;
    const COUNT: usize = 200;
    forest.create_user(CONNECTOR, CONNECTOR_PASSWORD)?;
    prepare(forest)?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = SyntheticConfig::new(COUNT as u64, 21, forest.domain_sid()?);
    let all = work.path().join("all.json");
    write_devices(&all, config.clone(), |_, _| true)?;
    let connector = forest.client_as(&connector_name(forest), CONNECTOR_PASSWORD)?;
    let target = devwb_writeback::discover(&connector, None)
        .map_err(|e| format!("writeback discover: {e}"))?;
    let (_, report) = writeback(&connector, &target, &all, "first writeback")?;
    expect(report.succeeded() && report.added == COUNT as u64, || {
        format!("first writeback: {report:?}")
    })?;

    let empty = work.path().join("empty.json");
    std::fs::write(&empty, "{\"value\": []}").map_err(|e| e.to_string())?;
    let few = work.path().join("few.json");
    write_devices(&few, config.clone(), |index, _| index < 20)?;
    let cut = work.path().join("cut.jsonl");
    let mut lines = Vec::new();
    let devices: Vec<SyntheticDevice> = SyntheticDevices::new(config.clone()).collect();
    write_export(
        devices[..150].iter().map(SyntheticDevice::to_json),
        ExportLayout::JsonLines,
        &mut lines,
    )
    .map_err(|e| e.to_string())?;
    let text = String::from_utf8(lines).map_err(|e| e.to_string())?;
    let without_end: String = text
        .lines()
        .filter(|line| !line.contains("@odata.count"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&cut, without_end).map_err(|e| e.to_string())?;
    for (path, what) in [
        (&empty, "an empty export"),
        (&few, "an export of 20 of 200"),
        (&cut, "JSON Lines cut at a line boundary"),
    ] {
        let (plan, report) = writeback(&connector, &target, path, what)?;
        expect(
            report.deleted == 0 && plan.deletes_withheld.is_some(),
            || {
                format!(
                    "{what} deleted {}: {:?}",
                    report.deleted, plan.deletes_withheld
                )
            },
        )?;
        let held = devices_in_container(&connector, &target)?;
        expect(held == COUNT, || {
            format!("after {what}: {held} devices, expected {COUNT}")
        })?;
    }

    // 10 devices leave: within the limit (20 for 200). The undo file first, then the deletes.
    let most = work.path().join("most.json");
    write_devices(&most, config, |index, _| index >= 10)?;
    let source = DeviceSource::open(&most).map_err(|e| e.to_string())?;
    let plan = devwb_writeback::plan(&connector, &target, &source, PlanOptions::default())
        .map_err(|e| e.to_string())?;
    expect(
        plan.deletes.len() == 10 && plan.deletes_withheld.is_none(),
        || format!("the plan: {:?}, {:?}", plan.counts, plan.deletes_withheld),
    )?;
    let undo = devwb_writeback::undo::write_undo_file(
        &connector,
        &plan,
        &work.path().join("undo"),
        std::time::SystemTime::now(),
    )
    .map_err(|e| format!("undo file: {e}"))?
    .ok_or("no undo file for 10 deletes")?;
    let report =
        devwb_writeback::apply(&connector, &plan, &WritebackOptions::default(), &mut |_| {})
            .map_err(|e| e.to_string())?;
    expect(report.deleted == 10, || {
        format!("deleted {}", report.deleted)
    })?;
    ldap_tool(
        forest,
        "ldapmodify",
        &["-a", "-f", &undo.path.to_string_lossy()],
    )?;
    let held = devices_in_container(&connector, &target)?;
    expect(held == COUNT, || {
        format!("after ldapmodify -a of the undo file: {held} devices, expected {COUNT}")
    })?;
    // Restored as they were: the whole export plans nothing.
    let source = DeviceSource::open(&all).map_err(|e| e.to_string())?;
    let again = devwb_writeback::plan(&connector, &target, &source, PlanOptions::default())
        .map_err(|e| e.to_string())?;
    expect(again.is_empty(), || {
        format!(
            "after the restore the export still plans {:?}",
            again.counts
        )
    })?;
    Ok(())
}

/// Runs one of OpenLDAP's tools against the forest as the administrator over LDAPS (the password
/// through a file, not the command line); returns its standard output.
fn ldap_tool(forest: &BackendForest, tool: &str, args: &[&str]) -> Result<String, String> {
    use std::io::Write as _;
    let mut password = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    password
        .write_all(forest.admin.password.expose().as_bytes())
        .map_err(|e| e.to_string())?;
    let password_path = password.path().to_string_lossy().into_owned();
    let mut command = std::process::Command::new(tool);
    command
        .args(["-x", "-H", &forest.ldaps_url])
        .args(["-D", &forest.admin.bind_name, "-y", &password_path])
        .args(args);
    match forest.ca_pem_path() {
        Some(path) => command.env("LDAPTLS_CACERT", path),
        // Samba's certificate is self-signed: the test skips verification, explicitly.
        None => command.env("LDAPTLS_REQCERT", "never"),
    };
    let output = command.output().map_err(|e| format!("{tool}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{tool} {args:?} exited {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("{tool} output: {e}"))
}

/// Runs OpenLDAP's `ldapsearch` against the forest as the administrator, with AD's SD flags
/// control asking for the DACL, and returns its LDIF output.
fn ldapsearch(forest: &BackendForest, base: &str, attrs: &[&str]) -> Result<String, String> {
    let mut args = vec!["-LLL", "-o", "ldif-wrap=no"];
    // SD flags (1.2.840.113556.1.4.801) = SEQUENCE { INTEGER 4 }: the DACL only.
    args.extend([
        "-E",
        "!1.2.840.113556.1.4.801=::MAMCAQQ=",
        "-s",
        "base",
        "-b",
        base,
    ]);
    args.extend(attrs);
    ldap_tool(forest, "ldapsearch", &args)
}

/// The first value of `name` in single-entry LDIF, base64 values decoded.
fn ldif_value(ldif: &str, name: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    ldif.lines().find_map(|line| {
        let (key, rest) = line.split_once(':')?;
        if !key.eq_ignore_ascii_case(name) {
            return None;
        }
        match rest.strip_prefix(':') {
            Some(encoded) => base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok(),
            None => Some(rest.trim_start().as_bytes().to_vec()),
        }
    })
}

/// What issue 7 asks to see with a real client: after prepare, `ldapsearch` shows the objects of
/// the reference's section 1 and the connector's two ACEs of section 2.
fn prepared_forest_reads_back_with_ldapsearch(forest: &BackendForest) -> Outcome {
    use devwb_model::sd::{AccessMask, AceFlags, SecurityDescriptor};
    let (_, connector_sid) = forest.create_user(CONNECTOR, CONNECTOR_PASSWORD)?;
    prepare(forest)?;
    let configuration = forest
        .admin_client()?
        .root_dse()
        .map_err(|e| e.to_string())?
        .configuration_nc;
    let devices = format!("CN=RegisteredDevices,{}", forest.domain);
    let registration = format!("CN=Device Registration Configuration,CN=Services,{configuration}");
    let service =
        format!("CN=DeviceRegistrationService,CN=Device Registration Services,{registration}");

    let ldif = ldapsearch(
        forest,
        &service,
        &["objectClass", "msDS-DeviceLocation", "msDS-IsEnabled"],
    )?;
    let location =
        ldif_value(&ldif, "msDS-DeviceLocation").map(|v| String::from_utf8_lossy(&v).into_owned());
    let location = location.and_then(|text| Dn::parse(&text).ok());
    expect(location == Dn::parse(&devices).ok(), || {
        format!("{service} read back as:\n{ldif}")
    })?;
    expect(
        ldif_value(&ldif, "msDS-IsEnabled").as_deref() == Some(b"TRUE".as_slice()),
        || format!("msDS-IsEnabled is not TRUE:\n{ldif}"),
    )?;

    for (dn, class, mask) in [
        (&devices, "msDS-DeviceContainer", AccessMask(0x0003_00FF)),
        (&registration, "container", AccessMask(0x0002_00BC)),
    ] {
        let ldif = ldapsearch(forest, dn, &["objectClass", "nTSecurityDescriptor"])?;
        let classes: Vec<&str> = ldif
            .lines()
            .filter_map(|l| l.strip_prefix("objectClass: "))
            .collect();
        expect(classes.last() == Some(&class), || {
            format!("{dn} has classes {classes:?}, expected {class} last")
        })?;
        let bytes = ldif_value(&ldif, "nTSecurityDescriptor")
            .ok_or_else(|| format!("no nTSecurityDescriptor on {dn}:\n{ldif}"))?;
        let sd = SecurityDescriptor::from_bytes(&bytes).map_err(|e| format!("{dn}: {e}"))?;
        let dacl = sd.dacl.ok_or_else(|| format!("{dn} has no DACL"))?;
        expect(
            dacl.grants(&connector_sid, mask, AceFlags::CONTAINER_INHERIT),
            || {
                format!(
                    "the DACL of {dn} does not grant {connector_sid} {mask:?} container-inherit"
                )
            },
        )?;
    }
    Ok(())
}
