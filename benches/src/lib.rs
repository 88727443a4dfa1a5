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

use std::io::Write;
use std::path::PathBuf;

use devwb_ldap::{Change, Client, ConnectOptions, Credentials, Password};
use devwb_model::sd::{AccessMask, Ace, AceFlags, SecurityInformation};
use devwb_model::{Dn, SchemaLevel};
use devwb_simulator::{SimHandle, Simulator};
use devwb_writeback::synthetic::{
    write_export, ExportLayout, SyntheticConfig, SyntheticDevice, SyntheticDevices,
};
use devwb_writeback::{discover, Target};
use devwb_writeback::{DeviceSource, ObservedDevices, PlanOptions, Planner};

/// The connector account's name and password.
pub const CONNECTOR: (&str, &str) = ("svc-bench", "Bench-Connector-1!");

/// A prepared forest.
pub struct Lab {
    /// The running simulator.
    pub sim: SimHandle,
    /// Its certificate, for the clients.
    pub ca: tempfile::NamedTempFile,
    /// The device container.
    pub container: Dn,
    /// Where exports are written.
    pub dir: tempfile::TempDir,
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lab({})", self.sim.ldaps_url())
    }
}

impl Lab {
    /// A 2016 forest, prepared, with the connector account granted on the container.
    pub fn start() -> Lab {
        let sim = Simulator::builder()
            .forest("contoso.lab")
            .schema_level(SchemaLevel::W2016)
            .start_blocking()
            .expect("simulator");
        let mut ca = tempfile::NamedTempFile::new().unwrap();
        ca.write_all(sim.certificate_pem().as_bytes()).unwrap();
        let (domain, config) = (sim.domain_dn(), sim.config_dn());
        let services = format!("CN=Services,{config}");
        sim.apply_ldif(&format!(
            "dn: CN=RegisteredDevices,{domain}\nobjectClass: msDS-DeviceContainer\n\n\
             dn: CN=Device Registration Configuration,{services}\nobjectClass: container\n\n\
             dn: CN=Device Registration Services,CN=Device Registration Configuration,{services}\nobjectClass: msDS-DeviceRegistrationServiceContainer\n\n\
             dn: CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,{services}\nobjectClass: msDS-DeviceRegistrationService\nmsDS-DeviceLocation: CN=RegisteredDevices,{domain}\nmsDS-IsEnabled: TRUE\n\n"
        ))
        .expect("preparation");
        let (_, connector_sid) = sim.add_user(CONNECTOR.0, CONNECTOR.1).expect("connector");
        let container = Dn::parse(&format!("CN=RegisteredDevices,{domain}")).unwrap();
        let lab = Lab {
            sim,
            ca,
            container,
            dir: tempfile::tempdir().unwrap(),
        };
        let admin = lab.admin();
        if let Ok(mut sd) =
            admin.read_security_descriptor(&lab.container, SecurityInformation::DACL)
        {
            sd.dacl
                .get_or_insert_with(Default::default)
                .insert_explicit(Ace::allow(
                    connector_sid,
                    AccessMask(0x0003_00FF),
                    AceFlags::CONTAINER_INHERIT,
                ));
            admin
                .write_security_descriptor(&lab.container, &sd, SecurityInformation::DACL)
                .expect("grant");
        }
        lab
    }

    /// The client options (LDAPS, the simulator's certificate).
    pub fn options(&self) -> ConnectOptions {
        ConnectOptions::new(&self.sim.ldaps_url())
            .unwrap()
            .with_ca_file(self.ca.path())
    }

    /// A client bound as the Administrator.
    pub fn admin(&self) -> Client {
        let credentials = Credentials::new(
            self.sim.admin_dn(),
            Password::new(self.sim.admin_password()),
        );
        Client::connect(&self.options(), Some(&credentials)).expect("admin")
    }

    /// A client bound as the connector account.
    pub fn connector(&self) -> Client {
        let credentials = Credentials::new(
            format!("{}@contoso.lab", CONNECTOR.0),
            Password::new(CONNECTOR.1),
        );
        Client::connect(&self.options(), Some(&credentials)).expect("connector")
    }

    /// The writeback target as the connector sees it.
    pub fn target(&self, client: &Client) -> Target {
        discover(client, None).expect("target")
    }

    /// `count` devices owned by users of this forest.
    pub fn devices(&self, count: u64, seed: u64) -> Vec<SyntheticDevice> {
        SyntheticDevices::new(SyntheticConfig::new(count, seed, self.sim.domain_sid())).collect()
    }

    /// Writes devices as one Graph page and opens it.
    pub fn export(&self, name: &str, devices: &[SyntheticDevice]) -> (PathBuf, DeviceSource) {
        let path = self.dir.path().join(name);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        write_export(
            devices.iter().map(SyntheticDevice::to_json),
            ExportLayout::Page,
            &mut out,
        )
        .unwrap();
        out.flush().unwrap();
        drop(out);
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
