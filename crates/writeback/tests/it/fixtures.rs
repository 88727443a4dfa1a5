//! The export fixtures of testdata/graph/: each `<case>.jsonl` or `<case>.json` planned against an
//! empty container beside `<case>.expected` (bad records, skipped devices, counts). Run with
//! `UPDATE_EXPECT=1` to rewrite the expected files after a deliberate change.

use std::path::{Path, PathBuf};

use devwb_model::{Dn, SchemaLevel};
use devwb_writeback::synthetic::default_owner_domain;
use devwb_writeback::{
    DeviceSource, ForestScope, ObservedDevices, PlanOptions, Planner, SourceFormat,
};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/graph")
}

/// The one helper: plans the fixture and compares the rendering with `<case>.expected`.
fn check(fixture: &str) {
    let path = testdata().join(fixture);
    let bytes = std::fs::read(&path).unwrap();
    let format = SourceFormat::detect(&path);
    let source = DeviceSource::bundled(fixture, bytes, format);
    let container = Dn::parse("CN=RegisteredDevices,DC=contoso,DC=lab").unwrap();
    let scope = ForestScope {
        domain_sids: vec![default_owner_domain()],
        schema_level: SchemaLevel::W2016,
    };
    let mut planner = Planner::new(
        ObservedDevices::new(container, SchemaLevel::W2016),
        scope,
        PlanOptions::default(),
    );
    let summary = planner.push_source(&source).unwrap();
    let plan = planner.finish(&summary);
    let mut actual = String::new();
    let c = &plan.counts;
    actual.push_str(&format!(
        "records {} adds {} skipped {} bad {}\n",
        c.source_records, c.adds, c.skipped, c.bad_records
    ));
    for bad in &plan.bad_records {
        actual.push_str(&format!("bad {bad}\n"));
    }
    for skipped in &plan.skipped {
        actual.push_str(&format!(
            "skipped {} {}: {}\n",
            skipped.record, skipped.device_id, skipped.reason
        ));
    }
    if let Some(why) = &plan.deletes_withheld {
        actual.push_str(&format!("deletes withheld: {why}\n"));
    }
    let expected_path = path.with_extension("expected");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expected_path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_EXPECT=1 to create it)",
            expected_path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "{fixture} differs from {} (UPDATE_EXPECT=1 rewrites it)",
        expected_path.display()
    );
}

#[test]
fn bad_records_each_name_file_line_and_field() {
    check("bad-records.jsonl");
}

#[test]
fn the_demo_sample_has_two_kinds_of_skips_and_no_bad_record() {
    check("sample-devices.json");
}
