//! Inputs that cannot be the whole truth delete nothing, large deletions need a limit, and what is
//! deleted or overwritten can be restored: issue 13's reproductions, each against 1,000 devices
//! already written back, over LDAPS.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use devwb_writeback::synthetic::{write_export, write_pages, ExportLayout, SyntheticDevice};
use devwb_writeback::undo::write_undo_file;
use devwb_writeback::{apply, plan};
use devwb_writeback::{
    DeleteLimit, DeletesWithheld, DeviceSource, PlanOptions, WritebackOptions, WritebackPlan,
};

use crate::harness::{ids_of, WritebackLab};

/// A forest holding 1,000 written-back devices, and those devices.
fn forest_with_1000() -> (WritebackLab, Vec<SyntheticDevice>) {
    let forest = WritebackLab::start();
    let devices = forest.devices(1_000, 13);
    let (_, source) = forest.export("all.json", devices.iter().map(|d| d.to_json()));
    let (_, report) = forest.writeback(&source, PlanOptions::default());
    assert_eq!(report.added, 1_000);
    (forest, devices)
}

/// The one check: a writeback of `source` deletes nothing, says why, and keeps every device.
fn check_deletes_nothing(
    forest: &WritebackLab,
    all: &[SyntheticDevice],
    source: &DeviceSource,
    expected: impl Fn(&DeletesWithheld) -> bool,
) -> WritebackPlan {
    let (plan, report) = forest.writeback(source, PlanOptions::default());
    assert!(report.succeeded());
    assert_eq!(report.deleted, 0);
    let why = plan.deletes_withheld.as_ref().expect("deletes withheld");
    assert!(expected(why), "unexpected reason: {why:?}");
    assert!(why.is_guard());
    assert_eq!(forest.devices_in_directory(), ids_of(all), "{why}");
    plan
}

fn write(path: &Path, text: &str) {
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap();
}

#[test]
fn empty_partial_unexpanded_and_truncated_exports_delete_nothing() {
    let (forest, devices) = forest_with_1000();
    let work = forest.work_dir();

    // An export of 100 of them: 900 deletes are over the default limit (10% of 1,000).
    let (_, hundred) = forest.export("hundred.json", devices[..100].iter().map(|d| d.to_json()));
    let plan = check_deletes_nothing(&forest, &devices, &hundred, |w| {
        *w == DeletesWithheld::OverLimit {
            planned: 900,
            limit: 100,
        }
    });
    assert_eq!(plan.counts.deletes_withheld, 900);

    // Empty exports in every shape.
    for (name, text) in [
        ("empty-page.json", "{\"value\": []}"),
        ("empty-array.json", "[]"),
        ("empty.jsonl", ""),
        ("empty-with-end.jsonl", "{\"@odata.count\":0}\n"),
    ] {
        let path = work.join(name);
        write(&path, text);
        let source = DeviceSource::open(&path).unwrap();
        check_deletes_nothing(&forest, &devices, &source, |w| {
            matches!(
                w,
                DeletesWithheld::EmptyExport | DeletesWithheld::IncompleteExport { .. }
            )
        });
    }

    // An export made without $expand=registeredOwners.
    let unexpanded = devices.iter().map(|d| {
        let mut v = d.to_json();
        v.as_object_mut().unwrap().remove("registeredOwners");
        v
    });
    let (_, source) = forest.export("unexpanded.json", unexpanded);
    check_deletes_nothing(&forest, &devices, &source, |w| {
        *w == DeletesWithheld::OwnersNotExpanded {
            devices: 1_000,
            of: 1_000,
        }
    });

    // A pages directory missing a middle page.
    let pages = work.join("pages");
    let count = write_pages(devices.iter().map(|d| d.to_json()), 100, &pages).unwrap();
    assert_eq!(count, 10);
    std::fs::remove_file(pages.join("page-0005.json")).unwrap();
    let source = DeviceSource::open(&pages).unwrap();
    let plan = check_deletes_nothing(&forest, &devices, &source, |w| {
        matches!(w, DeletesWithheld::IncompleteExport { detail }
            if detail.contains("no page numbered 5 between page-0004.json and page-0006.json"))
    });
    assert_eq!(plan.counts.deletes_withheld, 100);

    // A JSON Lines file cut at a line boundary: its end line is gone.
    let path = work.join("cut.jsonl");
    let mut text = Vec::new();
    write_export(
        devices.iter().map(|d| d.to_json()),
        ExportLayout::JsonLines,
        &mut text,
    )
    .unwrap();
    let text = String::from_utf8(text).unwrap();
    let cut: String = text.lines().take(600).map(|l| format!("{l}\n")).collect();
    write(&path, &cut);
    let source = DeviceSource::open(&path).unwrap();
    check_deletes_nothing(
        &forest,
        &devices,
        &source,
        |w| matches!(w, DeletesWithheld::IncompleteExport { detail } if detail.contains("no end line")),
    );
    // The whole file, end line included, is complete: nothing to delete, nothing withheld.
    write(&path, &text);
    let source = DeviceSource::open(&path).unwrap();
    let (plan, _) = forest.writeback(&source, PlanOptions::default());
    assert_eq!(plan.deletes_withheld, None);
    assert!(plan.is_empty());
}

#[test]
fn deletes_within_the_limit_go_through_and_the_undo_file_restores_them_with_ldapmodify() {
    let (forest, devices) = forest_with_1000();
    let client = forest.connector_client();
    let target = forest.target(&client);

    // 50 devices leave, one is renamed.
    let mut kept = devices[50..].to_vec();
    kept[0].display_name.push_str("-renamed");
    let (_, source) = forest.export("kept.json", kept.iter().map(|d| d.to_json()));
    let plan = plan(&client, &target, &source, PlanOptions::default()).unwrap();
    assert_eq!((plan.counts.deletes, plan.counts.modifies), (50, 1));
    let undo_dir = forest.work_dir().join("undo");
    let undo = write_undo_file(&client, &plan, &undo_dir, std::time::SystemTime::now())
        .unwrap()
        .expect("an undo file");
    assert_eq!((undo.deletes, undo.modifies), (50, 1));
    let report = apply(&client, &plan, &WritebackOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(report.deleted, 50);
    assert_eq!(forest.devices_in_directory(), ids_of(&kept));

    let text = std::fs::read_to_string(&undo.path).unwrap();
    assert!(text.contains("changetype: add"), "{text}");
    assert!(text.contains(&format!(
        "replace: displayName\ndisplayName: {}\n-",
        devices[50].display_name
    )));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&undo_dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "the undo directory is private");
    }

    // The real restore, as an admin would run it: OpenLDAP's ldapmodify over LDAPS.
    let Some(ldapmodify) = which("ldapmodify") else {
        eprintln!("ldapmodify (Debian: ldap-utils) is not installed: the restore was not run");
        return;
    };
    let output = Command::new(ldapmodify)
        .env("LDAPTLS_CACERT", forest.write_ca_file())
        .args(["-a", "-x", "-H"])
        .arg(forest.url())
        .arg("-D")
        .arg(forest.sim.admin_dn())
        .arg("-w")
        .arg(forest.sim.admin_password())
        .arg("-f")
        .arg(&undo.path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "ldapmodify: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(forest.devices_in_directory(), ids_of(&devices));
    // Restored as they were: the original export plans nothing for them.
    let (_, all) = forest.export("all-again.json", devices.iter().map(|d| d.to_json()));
    let again = devwb_writeback::plan(&client, &target, &all, PlanOptions::default()).unwrap();
    assert!(again.is_empty(), "{:?}", again.counts);
}

#[test]
fn an_explicit_limit_allows_exactly_what_it_says() {
    let (forest, devices) = forest_with_1000();
    let (_, source) = forest.export("half.json", devices[..500].iter().map(|d| d.to_json()));
    let with = |max_deletes| PlanOptions {
        max_deletes,
        ..PlanOptions::default()
    };
    let (plan, _) = forest.writeback(&source, with(DeleteLimit::AtMost(499)));
    assert_eq!(
        (plan.counts.deletes, plan.counts.deletes_withheld),
        (0, 500)
    );
    assert_eq!(forest.devices_in_directory().len(), 1_000);
    let (plan, report) = forest.writeback(&source, with(DeleteLimit::AtMost(500)));
    assert_eq!((plan.counts.deletes, report.deleted), (500, 500));
    assert_eq!(forest.devices_in_directory(), ids_of(&devices[..500]));
}

fn which(program: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// A domain of the forest whose DC cannot be reached: its SID is unknown, so its users' devices
/// cannot be told from another forest's. Writeback stops before planning, naming the domain,
/// rather than delete those devices as out of scope; with the global catalog named it runs.
#[test]
fn a_domain_whose_sid_cannot_be_read_stops_the_run_before_anything_is_deleted() {
    let lab = devwb_test_support::Lab::builder()
        .domain("emea.contoso.lab")
        .connector("svc-scope", "Scope-Connector-1!")
        .start();
    lab.sim
        .apply_ldif(&devwb_test_support::preparation_ldif(
            &lab.sim.domain_dn(),
            &lab.sim.config_dn(),
        ))
        .expect("prepared");
    let connector = lab.connector_client();
    devwb_writeback::discover(&connector, None).expect("every DC up: the target is found");
    assert!(lab.sim.set_dc_refusing("emea.contoso.lab", true));
    let connector = lab.connector_client();
    let error = devwb_writeback::discover(&connector, None)
        .expect_err("the child's SID is unknown")
        .to_string();
    assert!(
        error.contains("emea.contoso.lab") && error.contains("--gc-url"),
        "{error}"
    );
    let with_gc = lab
        .options()
        .with_global_catalog(&lab.sim.gc_ldaps_url())
        .unwrap();
    let connector = devwb_ldap::Client::connect(
        &with_gc,
        Some(&devwb_ldap::Credentials::new(
            "svc-scope@contoso.lab",
            devwb_ldap::Password::new("Scope-Connector-1!"),
        )),
    )
    .expect("the connector binds on the root's DC");
    let target = devwb_writeback::discover(&connector, None).expect("the GC knows the child's SID");
    assert_eq!(target.scope.domain_sids.len(), 2);
}
