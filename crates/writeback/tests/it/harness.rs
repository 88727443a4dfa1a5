//! The one helper of these tests: devwb-test-support's lab, prepared for device writeback (the
//! objects of the reference's section 1 seeded as LDIF, the connector's ACE written over LDAP),
//! with writeback's steps on it as the connector account.

use std::path::PathBuf;

use devwb_ldap::Client;
use devwb_model::{SchemaLevel, Sid};
use devwb_writeback::{apply, discover, plan, Target};
use devwb_writeback::{
    DeviceSource, PlanOptions, WritebackOptions, WritebackPlan, WritebackReport,
};

pub use devwb_test_support::ids_of;

pub const CONNECTOR: &str = "svc-devwb";
pub const CONNECTOR_PASSWORD: &str = "Connector-Passw0rd!";

/// A prepared lab and writeback's steps on it.
pub struct WritebackLab {
    lab: devwb_test_support::Lab,
}

impl std::ops::Deref for WritebackLab {
    type Target = devwb_test_support::Lab;

    fn deref(&self) -> &devwb_test_support::Lab {
        &self.lab
    }
}

impl WritebackLab {
    /// A fresh forest at 2012 R2, prepared, with the connector account.
    pub fn start() -> WritebackLab {
        let lab = devwb_test_support::Lab::builder()
            .schema_level(SchemaLevel::W2012R2)
            .prepared(true)
            .connector(CONNECTOR, CONNECTOR_PASSWORD)
            // Generous: the tests of this binary run in parallel on two cores against debug builds.
            .timeout(std::time::Duration::from_secs(300))
            .start();
        WritebackLab { lab }
    }

    /// The connection line a child process needs: url (and the CA file, [`Self::write_ca_file`]).
    pub fn url(&self) -> String {
        self.sim.ldaps_url()
    }

    pub fn domain_sid(&self) -> Sid {
        self.sim.domain_sid()
    }

    /// Writes an export file of JSON objects and opens it as a source.
    pub fn export(
        &self,
        name: &str,
        devices: impl Iterator<Item = serde_json::Value>,
    ) -> (PathBuf, DeviceSource) {
        let path = self.write_export(name, devices);
        let source = DeviceSource::open(&path).unwrap();
        (path, source)
    }

    pub fn target(&self, client: &Client) -> Target {
        discover(client, None).expect("target discovered")
    }

    /// Plans and applies as the connector; returns both.
    pub fn writeback(
        &self,
        source: &DeviceSource,
        options: PlanOptions,
    ) -> (WritebackPlan, WritebackReport) {
        let client = self.connector_client();
        let target = self.target(&client);
        let plan = plan(&client, &target, source, options).expect("plan");
        let report =
            apply(&client, &plan, &WritebackOptions::default(), &mut |_| {}).expect("apply");
        (plan, report)
    }

    /// Plans only (a dry run) as the connector.
    pub fn dry_run(&self, source: &DeviceSource) -> WritebackPlan {
        let client = self.connector_client();
        let target = self.target(&client);
        plan(&client, &target, source, PlanOptions::default()).expect("plan")
    }
}
