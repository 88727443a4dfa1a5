//! The delta, end to end: what each run plans and what the directory holds afterwards.

use std::collections::BTreeSet;

use devwb_model::Guid;
use devwb_test_support::Lab;
use devwb_writeback::synthetic::{SyntheticConfig, SyntheticDevices};
use devwb_writeback::DeleteReason;
use devwb_writeback::{DeletesWithheld, PlanOptions, SkipReason};

use crate::harness::{ids_of, WritebackLab};

#[test]
fn ten_thousand_devices_then_no_change_then_ten_percent_changed_then_removals() {
    let forest = WritebackLab::start();
    let devices = forest.devices(10_000, 1);

    // 1. A fresh container: every device is added.
    let (_, source) = forest.export("v1.json", devices.iter().map(|d| d.to_json()));
    let (plan, report) = forest.writeback(&source, PlanOptions::default());
    assert_eq!(
        (
            plan.counts.adds,
            plan.counts.skipped,
            plan.counts.bad_records
        ),
        (10_000, 0, 0)
    );
    assert!(
        report.succeeded(),
        "{:?}",
        &report.failures[..report.failures.len().min(5)]
    );
    assert_eq!(report.added, 10_000);
    assert_eq!(forest.devices_in_directory(), ids_of(&devices));

    // 2. The same export again: nothing to do.
    let again = forest.dry_run(&source);
    assert!(again.is_empty(), "{:?}", again.counts);
    assert_eq!(again.counts.unchanged, 10_000);

    // 3. 10% changed (every tenth device, each a different way): exactly those modifies.
    let mut changed = devices.clone();
    let mut expected_modified = BTreeSet::new();
    for (n, device) in changed.iter_mut().enumerate().filter(|(n, _)| n % 10 == 0) {
        match (n / 10) % 4 {
            0 => device.display_name.push_str("-renamed"),
            1 => device.account_enabled = !device.account_enabled,
            2 => device.operating_system_version = "10.0.99999.1".into(),
            _ => device.physical_ids.push(format!("[ZDID]:z:{n}")),
        }
        expected_modified.insert(device.device_id);
    }
    let (_, source) = forest.export("v2.json", changed.iter().map(|d| d.to_json()));
    let (plan, report) = forest.writeback(&source, PlanOptions::default());
    let modified: BTreeSet<Guid> = plan.modifies.iter().map(|m| m.device_id).collect();
    assert_eq!(modified, expected_modified);
    assert!(
        plan.modifies.iter().all(|m| m.changes.len() == 1),
        "only the changed attribute"
    );
    assert_eq!(
        (plan.counts.adds, plan.counts.deletes, plan.counts.unchanged),
        (0, 0, 9_000)
    );
    assert!(report.succeeded());
    assert_eq!(report.modified, 1_000);
    assert!(forest.dry_run(&source).is_empty(), "the modifies converged");

    // 4. 500 devices removed from the export: exactly those deletes (and --no-delete keeps them).
    let kept = &changed[500..];
    let (_, source) = forest.export("v3.json", kept.iter().map(|d| d.to_json()));
    let dry = forest.dry_run(&source);
    let deleted: BTreeSet<Guid> = dry.deletes.iter().map(|d| d.device_id).collect();
    let expected_deleted: BTreeSet<Guid> = changed[..500].iter().map(|d| d.device_id).collect();
    assert_eq!(deleted, expected_deleted);
    assert!(dry
        .deletes
        .iter()
        .all(|d| d.reason == DeleteReason::LeftEntra));
    let (kept_plan, _) = forest.writeback(
        &source,
        PlanOptions {
            no_delete: true,
            ..PlanOptions::default()
        },
    );
    assert!(kept_plan.is_empty());
    assert_eq!(forest.devices_in_directory().len(), 10_000);
    let (_, report) = forest.writeback(&source, PlanOptions::default());
    assert_eq!(report.deleted, 500);
    assert_eq!(forest.devices_in_directory(), ids_of(kept));
}

#[test]
fn owners_in_a_second_forest_are_skipped_with_the_reason_and_leave_scope_as_deletes() {
    let forest = WritebackLab::start();
    let other = Lab::builder().forest("fabrikam.lab").start();
    let config = SyntheticConfig {
        count: 400,
        seed: 9,
        owner_domains: vec![forest.domain_sid()],
        foreign_domains: vec![other.sim.domain_sid()],
        foreign_fraction: 0.25,
    };
    let devices: Vec<_> = SyntheticDevices::new(config).collect();
    let foreign: BTreeSet<Guid> = devices
        .iter()
        .filter(|d| d.owner_sid.is_in_domain(&other.sim.domain_sid()))
        .map(|d| d.device_id)
        .collect();
    assert!(
        foreign.len() > 50 && foreign.len() < 150,
        "{} foreign owners",
        foreign.len()
    );

    let (_, source) = forest.export("devices.json", devices.iter().map(|d| d.to_json()));
    let (plan, report) = forest.writeback(&source, PlanOptions::default());
    assert!(report.succeeded());
    let skipped: BTreeSet<Guid> = plan.skipped.iter().map(|s| s.device_id).collect();
    assert_eq!(skipped, foreign);
    for s in &plan.skipped {
        assert!(
            matches!(s.reason, SkipReason::OwnerNotInThisForest { .. }),
            "{:?}",
            s.reason
        );
        assert!(s.reason.to_string().starts_with("owner not in this forest"));
    }
    assert_eq!(plan.counts.adds as usize, devices.len() - foreign.len());

    // A device whose owner moves to the other forest leaves scope: its object is deleted.
    let mut moved = devices.clone();
    let victim = moved
        .iter_mut()
        .find(|d| !foreign.contains(&d.device_id))
        .expect("a local device");
    victim.owner_sid = other.sim.domain_sid().with_rid(4242);
    let victim_id = victim.device_id;
    let (_, source) = forest.export("moved.json", moved.iter().map(|d| d.to_json()));
    let plan = forest.dry_run(&source);
    assert_eq!(plan.deletes.len(), 1);
    assert_eq!(plan.deletes[0].device_id, victim_id);
    assert!(matches!(
        &plan.deletes[0].reason,
        DeleteReason::LeftScope {
            reason: SkipReason::OwnerNotInThisForest { .. }
        }
    ));
}

#[test]
fn bad_records_are_reported_and_skipped_and_nothing_is_written_for_them() {
    let forest = WritebackLab::start();
    let devices = forest.devices(50, 3);
    let mut values: Vec<serde_json::Value> = devices.iter().map(|d| d.to_json()).collect();
    values[3].as_object_mut().unwrap().remove("deviceId");
    values[7]["deviceId"] = "not-a-guid".into();
    values[11]["alternativeSecurityIds"][0]["key"] = "%%%".into();
    values[13]["displayName"] = "D".repeat(257).into();
    values[17]["registeredOwners"][0]["onPremisesSecurityIdentifier"] = "S-1-5-21-x".into();
    values[19]["alternativeSecurityIds"] = serde_json::json!([]);
    let (path, source) = forest.export("bad.json", values.into_iter());
    let (plan, report) = forest.writeback(&source, PlanOptions::default());
    assert!(report.succeeded());
    let file = path.display().to_string();
    let bad: Vec<String> = plan.bad_records.iter().map(|e| e.to_string()).collect();
    let expect_prefix = [
        (3, "field deviceId: missing"),
        (7, "field deviceId: invalid GUID"),
        (11, "field alternativeSecurityIds[0].key: not base64"),
        (
            13,
            "field displayName: 257 characters, AD allows at most 256",
        ),
        (
            17,
            "field registeredOwners[0].onPremisesSecurityIdentifier: invalid SID",
        ),
    ];
    assert_eq!(bad.len(), expect_prefix.len(), "{bad:#?}");
    for (line, (index, field)) in bad.iter().zip(expect_prefix) {
        assert!(
            // Records are numbered from 1, as lines are.
            line.starts_with(&format!("{file}: record {}", index + 1)),
            "{line}"
        );
        assert!(line.contains(field), "{line} lacks {field}");
    }
    assert_eq!(plan.skipped.len(), 1);
    assert_eq!(plan.skipped[0].device_id, devices[19].device_id);
    assert!(matches!(
        plan.skipped[0].reason,
        SkipReason::NoUsableAlternativeSecurityId { .. }
    ));
    // 50 - 5 bad - 1 skipped.
    assert_eq!(report.added, 44);
    let written = forest.devices_in_directory();
    for n in [3usize, 7, 11, 13, 17, 19] {
        assert!(
            !written.contains(&devices[n].device_id.to_string()),
            "device {n} was written"
        );
    }
    // A bad record without a readable deviceId withholds deletes: it might be any device.
    assert!(matches!(
        plan.deletes_withheld,
        Some(DeletesWithheld::UnidentifiedBadRecords { count: 2 })
    ));
}

#[test]
fn an_add_that_meets_an_existing_device_re_reads_it_and_converges() {
    use devwb_writeback::WritebackOptions;
    use devwb_writeback::{apply, plan};
    let forest = WritebackLab::start();
    let devices = forest.devices(30, 21);
    let (_, source) = forest.export("devices.json", devices.iter().map(|d| d.to_json()));
    let client = forest.connector_client();
    let target = forest.target(&client);
    let planned = plan(&client, &target, &source, PlanOptions::default()).unwrap();
    assert_eq!(planned.adds.len(), 30);
    // Between plan and apply another run (or our own lost attempt) created five of them, two
    // with stale values.
    let admin = forest.admin_client();
    for (n, add) in planned.adds.iter().take(5).enumerate() {
        let mut attrs: Vec<(String, Vec<Vec<u8>>)> = add
            .attributes()
            .into_iter()
            .map(|(a, v)| (a.to_owned(), v))
            .collect();
        if n < 2 {
            for (name, values) in &mut attrs {
                if name == "displayName" {
                    *values = vec![b"stale name".to_vec()];
                }
            }
        }
        admin.add(&add.dn(&planned.container), attrs).unwrap();
    }
    // Without an undo directory the two objects that differ are left as they are: nothing is
    // overwritten without a record of what it held.
    let report = apply(&client, &planned, &WritebackOptions::default(), &mut |_| {}).unwrap();
    assert_eq!((report.added, report.converged_existing), (25, 3));
    assert_eq!(report.failures.len(), 2, "{:?}", report.failures);
    assert!(report.failures[0].message.contains("no undo directory"));
    assert_eq!(report.converge_undo_file, None);
    assert_eq!(forest.dry_run(&source).modifies.len(), 2);

    // With one, they converge, and what they held is in the undo file first.
    let undo_dir = tempfile::tempdir().unwrap();
    let options = WritebackOptions {
        undo_dir: Some(undo_dir.path().to_owned()),
        ..WritebackOptions::default()
    };
    let report = apply(&client, &planned, &options, &mut |_| {}).unwrap();
    assert!(report.succeeded(), "{:?}", report.failures);
    assert_eq!((report.added, report.converged_existing), (0, 30));
    let undo = report.converge_undo_file.expect("an undo file");
    let text = std::fs::read_to_string(&undo).unwrap();
    assert_eq!(text.matches("changetype: modify").count(), 2, "{text}");
    assert_eq!(text.matches("displayName: stale name").count(), 2, "{text}");
    assert!(text.ends_with("# end of undo file\n"), "{text}");
    assert_eq!(forest.devices_in_directory(), ids_of(&devices));
    assert!(
        forest.dry_run(&source).is_empty(),
        "the stale names were corrected"
    );
}
