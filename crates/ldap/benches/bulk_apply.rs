//! Bulk apply throughput against the in-process simulator: msDS-Device adds into
//! CN=RegisteredDevices over LDAPS, several connections with pipelining. The writeback hot path
//! needs 100k adds in under 10 s, that is at least 10k adds per second.
//!
//! Run: `cargo bench -p devwb-ldap --bench bulk_apply`.

// A bench's set-up panics on failure: there is nothing to measure then.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use devwb_ldap::{ApplyOptions, Change};
use devwb_model::{Dn, Rdn, SchemaLevel};
use devwb_test_support::Lab;

const BATCH: usize = 20_000;

fn devices(container: &Dn, start: usize, count: usize) -> Vec<Change> {
    (start..start + count)
        .map(|i| {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&(i as u64).to_le_bytes());
            Change::Add {
                dn: container.child(
                    Rdn::new("CN", &format!("{i:08x}-0000-4000-8000-000000000000")).unwrap(),
                ),
                attrs: vec![
                    ("objectClass".into(), vec![b"msDS-Device".to_vec()]),
                    ("msDS-DeviceID".into(), vec![id.to_vec()]),
                    ("msDS-IsEnabled".into(), vec![b"TRUE".to_vec()]),
                    (
                        "displayName".into(),
                        vec![format!("DESKTOP-{i:06}").into_bytes()],
                    ),
                    (
                        "altSecurityIdentities".into(),
                        vec![format!(
                            "X509:<SHA1-TP-PUBKEY>{i:040x}c2hhMjU2LW9mLXRoZS1wdWJsaWMta2V5"
                        )
                        .into_bytes()],
                    ),
                    ("msDS-DeviceOSType".into(), vec![b"Windows".to_vec()]),
                    (
                        "msDS-DeviceOSVersion".into(),
                        vec![b"10.0.22631.4317".to_vec()],
                    ),
                ],
            }
        })
        .collect()
}

fn bulk_apply(c: &mut Criterion) {
    let lab = Lab::builder().schema_level(SchemaLevel::W2016).start();
    let client = lab.admin_client();
    let container = lab.device_container.clone();
    client
        .add(
            &container,
            vec![("objectClass".into(), vec![b"msDS-DeviceContainer".to_vec()])],
        )
        .unwrap();

    let next = AtomicUsize::new(0);
    let mut group = c.benchmark_group("bulk_apply");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(BATCH as u64));
    for (connections, in_flight) in [(1, 1), (4, 32), (8, 64)] {
        let apply = ApplyOptions {
            connections,
            in_flight_per_connection: in_flight,
            ..ApplyOptions::default()
        };
        group.bench_with_input(
            BenchmarkId::new("msDS-Device adds", format!("{connections}x{in_flight}")),
            &apply,
            |b, apply| {
                b.iter_custom(|iterations| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let start = next.fetch_add(BATCH, Ordering::Relaxed);
                        let batch = devices(&container, start, BATCH);
                        let began = Instant::now();
                        let report = client.apply_changes(batch, apply, &mut |_| {});
                        total += began.elapsed();
                        assert_eq!(report.applied, BATCH, "{:?}", report.failures().next());
                    }
                    total
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bulk_apply);
criterion_main!(benches);
