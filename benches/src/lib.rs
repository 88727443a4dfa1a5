//! Shared setup of the benches: a simulator forest prepared for device writeback (as in the
//! writeback crate's tests), a connector account with its grant, generated exports, and the
//! "peer" the writeback figures are compared with: the simulator's raw pipelined add rate
//! (devwb-ldap's bulk apply of prebuilt adds of the same devices, no export, no diff).
//!
//! Benches may panic on setup failures: a bench that cannot set up has nothing to measure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The allocator the `devwb` binary uses, so the benches measure what it does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

use devwb_ldap::{Change, Client};
use devwb_model::SchemaLevel;
use devwb_writeback::synthetic::SyntheticDevice;
use devwb_writeback::{discover, Target};
use devwb_writeback::{DeviceSource, ObservedDevices, PlanOptions, Planner};

/// The connector account's name and password.
pub const CONNECTOR: (&str, &str) = ("svc-bench", "Bench-Connector-1!");

/// A prepared forest (devwb-test-support's lab) and the benches' steps on it.
#[derive(Debug)]
pub struct BenchLab {
    lab: devwb_test_support::Lab,
}

impl std::ops::Deref for BenchLab {
    type Target = devwb_test_support::Lab;

    fn deref(&self) -> &devwb_test_support::Lab {
        &self.lab
    }
}

impl BenchLab {
    /// A 2016 forest, prepared, with the connector account granted on the container.
    pub fn start() -> BenchLab {
        BenchLab {
            lab: devwb_test_support::Lab::builder()
                .schema_level(SchemaLevel::W2016)
                .prepared(true)
                .connector(CONNECTOR.0, CONNECTOR.1)
                .start(),
        }
    }

    /// A client bound as the connector account.
    pub fn connector(&self) -> Client {
        self.connector_client()
    }

    /// The writeback target as the connector sees it.
    pub fn target(&self, client: &Client) -> Target {
        discover(client, None).expect("target")
    }

    /// Writes devices as one Graph page and opens it.
    pub fn export(&self, name: &str, devices: &[SyntheticDevice]) -> (PathBuf, DeviceSource) {
        let path = self.write_export(name, devices.iter().map(SyntheticDevice::to_json));
        let source = DeviceSource::open(&path).unwrap();
        (path, source)
    }

    /// The peer's workload: the same adds writeback would send for `source` into an empty
    /// container, prebuilt as bulk-apply changes.
    pub fn raw_adds(&self, target: &Target, source: &DeviceSource) -> Vec<Change> {
        let observed = ObservedDevices::new(target.container.clone(), target.scope.schema_level);
        let mut planner = Planner::new(observed, target.scope.clone(), PlanOptions::default());
        let summary = source.for_each(&mut |r| planner.push(r)).unwrap();
        let plan = planner.finish(&summary);
        plan.adds
            .iter()
            .map(|add| Change::Add {
                dn: add.dn(&plan.container),
                attrs: add
                    .attributes()
                    .into_iter()
                    .map(|(name, values)| (name.to_owned(), values))
                    .collect(),
            })
            .collect()
    }
}
