//! Streaming and checking a Graph export of 100,000 devices, and planning it against an empty
//! container (no directory involved): the client-side share of a writeback run, for the three
//! export shapes (one big page, JSON Lines, a directory of 999-device pages).
//!
//! Run: `cargo bench -p devwb-benches --bench source_stream`.

// A bench that cannot set up has nothing to measure: failing loudly is right.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::time::Duration;

// The benches' global allocator (mimalloc, as the `devwb` binary has) lives in the library.
use devwb_benches as _;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use devwb_model::{Dn, SchemaLevel};
use devwb_writeback::synthetic::{
    default_owner_domain, write_export, write_pages, ExportLayout, SyntheticConfig,
    SyntheticDevice, SyntheticDevices,
};
use devwb_writeback::{DeviceSource, ForestScope, ObservedDevices, PlanOptions, Planner};

const COUNT: u64 = 100_000;

fn source_stream(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let devices = || {
        SyntheticDevices::new(SyntheticConfig::new(COUNT, 1, default_owner_domain()))
            .map(|d: SyntheticDevice| d.to_json())
    };
    let page = dir.path().join("devices.json");
    let lines = dir.path().join("devices.jsonl");
    let pages = dir.path().join("pages");
    for (path, layout) in [
        (&page, ExportLayout::Page),
        (&lines, ExportLayout::JsonLines),
    ] {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        write_export(devices(), layout, &mut out).unwrap();
        out.flush().unwrap();
    }
    write_pages(devices(), 999, &pages).unwrap();
    let scope = ForestScope {
        domain_sids: vec![default_owner_domain()],
        schema_level: SchemaLevel::W2016,
    };
    let container = Dn::parse("CN=RegisteredDevices,DC=contoso,DC=lab").unwrap();

    let mut group = c.benchmark_group("source_stream");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(COUNT));
    for (name, path) in [
        ("one page", &page),
        ("json lines", &lines),
        ("999-device pages", &pages),
    ] {
        let source = DeviceSource::open(path).unwrap();
        group.bench_function(BenchmarkId::new("stream + check", name), |b| {
            b.iter(|| {
                let mut n = 0u64;
                source.for_each(&mut |_| n += 1).unwrap();
                assert_eq!(n, COUNT);
            })
        });
        group.bench_function(BenchmarkId::new("stream + check + map + diff", name), |b| {
            b.iter(|| {
                let observed = ObservedDevices::new(container.clone(), SchemaLevel::W2016);
                let mut planner = Planner::new(observed, scope.clone(), PlanOptions::default());
                let summary = planner.push_source(&source).unwrap();
                let plan = planner.finish(&summary);
                assert_eq!(plan.counts.adds, COUNT);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, source_stream);
criterion_main!(benches);
