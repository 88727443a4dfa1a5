//! The one helper of these tests: a simulator forest prepared for device writeback (the objects
//! of the reference's section 1 seeded as LDIF, the connector ACE written over LDAP), a connector
//! account, and a client bound as it.

use std::io::Write;
use std::path::PathBuf;

use devwb_ldap::{Client, ConnectOptions, Credentials, Password};
use devwb_model::sd::SecurityInformation;
use devwb_model::sd::{AccessMask, Ace, AceFlags};
use devwb_model::{Dn, SchemaLevel, Sid};
use devwb_simulator::{SimHandle, Simulator};
use devwb_writeback::apply::{apply, discover, plan, Target};
use devwb_writeback::synthetic::{
    write_export, ExportLayout, SyntheticConfig, SyntheticDevice, SyntheticDevices,
};
use devwb_writeback::{
    DeviceSource, PlanOptions, WritebackOptions, WritebackPlan, WritebackReport,
};

pub const CONNECTOR: &str = "svc-devwb";
pub const CONNECTOR_PASSWORD: &str = "Connector-Passw0rd!";

/// A prepared forest and what a test needs to talk to it.
pub struct Forest {
    pub sim: SimHandle,
    pub ca_file: tempfile::NamedTempFile,
    pub container: Dn,
    pub work: tempfile::TempDir,
}

impl Forest {
    /// A fresh forest at 2012 R2, prepared, with the connector account.
    pub fn start() -> Forest {
        Forest::start_with(
            Simulator::builder()
                .forest("contoso.lab")
                .schema_level(SchemaLevel::W2012R2),
        )
    }

    pub fn start_with(builder: devwb_simulator::SimulatorBuilder) -> Forest {
        let sim = builder.start_blocking().expect("simulator starts");
        let mut ca_file = tempfile::NamedTempFile::new().unwrap();
        ca_file.write_all(sim.certificate_pem().as_bytes()).unwrap();
        let domain = sim.domain_dn();
        let config = sim.config_dn();
        sim.apply_ldif(&prepare_ldif(&domain, &config))
            .expect("preparation seeds");
        let (_, connector_sid) = sim
            .add_user(CONNECTOR, CONNECTOR_PASSWORD)
            .expect("connector account");
        let container = Dn::parse(&format!("CN=RegisteredDevices,{domain}")).unwrap();
        let forest = Forest {
            sim,
            ca_file,
            container,
            work: tempfile::tempdir().unwrap(),
        };
        // The grant of the reference's section 2, written the way prepare writes it.
        let admin = forest.admin_client();
        match admin.read_security_descriptor(&forest.container, SecurityInformation::DACL) {
            Ok(mut sd) => {
                let dacl = sd.dacl.get_or_insert_with(Default::default);
                dacl.insert_explicit(Ace::allow(
                    connector_sid,
                    AccessMask(0x0003_00FF),
                    AceFlags::CONTAINER_INHERIT,
                ));
                admin
                    .write_security_descriptor(&forest.container, &sd, SecurityInformation::DACL)
                    .expect("write DACL");
            }
            Err(error)
                if matches!(error.kind(), devwb_ldap::ErrorKind::MissingAttribute { .. }) =>
            {
                // The simulator of this build keeps no security descriptors (its access rules are
                // permissive): the connector can write without the grant.
                eprintln!(
                    "note: the simulator has no nTSecurityDescriptor on {}: no ACE written",
                    forest.container
                );
            }
            Err(error) => panic!("read DACL: {error}"),
        }
        forest
    }

    fn options(&self) -> ConnectOptions {
        // Generous: the tests of this binary run in parallel on two cores against debug builds.
        ConnectOptions::new(&self.sim.ldaps_url())
            .unwrap()
            .with_ca_file(self.ca_file.path())
            .with_timeout(std::time::Duration::from_secs(300))
    }

    pub fn admin_client(&self) -> Client {
        let credentials = Credentials::new(
            self.sim.admin_dn(),
            Password::new(self.sim.admin_password()),
        );
        Client::connect(&self.options(), Some(&credentials)).expect("admin binds")
    }

    /// A client bound as the connector account (UPN form).
    pub fn connector_client(&self) -> Client {
        let credentials = Credentials::new(
            format!("{CONNECTOR}@contoso.lab"),
            Password::new(CONNECTOR_PASSWORD),
        );
        Client::connect(&self.options(), Some(&credentials)).expect("connector binds")
    }

    /// The connection line a child process needs: url, CA file.
    pub fn url(&self) -> String {
        self.sim.ldaps_url()
    }

    pub fn domain_sid(&self) -> Sid {
        self.sim.domain_sid()
    }

    /// `n` generated devices owned by users of this forest.
    pub fn devices(&self, n: u64, seed: u64) -> Vec<SyntheticDevice> {
        SyntheticDevices::new(SyntheticConfig::new(n, seed, self.domain_sid())).collect()
    }

    /// Writes an export file of JSON objects and opens it as a source.
    pub fn export(
        &self,
        name: &str,
        devices: impl Iterator<Item = serde_json::Value>,
    ) -> (PathBuf, DeviceSource) {
        let path = self.work.path().join(name);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        write_export(devices, ExportLayout::Page, &mut out).unwrap();
        out.flush().unwrap();
        drop(out);
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

    /// Every msDS-Device in the container: (CN value, msDS-DeviceID as text), sorted.
    pub fn devices_in_directory(&self) -> Vec<String> {
        let client = self.admin_client();
        let entries = client
            .search(
                &self.container,
                devwb_ldap::Scope::OneLevel,
                "(objectClass=msDS-Device)",
                &["msDS-DeviceID"],
            )
            .expect("search");
        let mut ids: Vec<String> = entries
            .iter()
            .map(|e| {
                let id = devwb_model::Guid::from_ad_bytes(
                    e.values("msDS-DeviceID")
                        .first()
                        .map(Vec::as_slice)
                        .unwrap_or(&[]),
                )
                .expect("16 bytes");
                let cn =
                    e.dn.rdn()
                        .map(|r| r.value().to_string())
                        .unwrap_or_default();
                assert_eq!(cn, id.to_string(), "CN is the device id");
                cn
            })
            .collect();
        ids.sort();
        ids
    }
}

/// The sorted device ids of generated devices.
pub fn ids_of(devices: &[SyntheticDevice]) -> Vec<String> {
    let mut ids: Vec<String> = devices.iter().map(|d| d.device_id.to_string()).collect();
    ids.sort();
    ids
}

/// The objects `prepare` creates (device-writeback.md section 1), as LDIF.
pub fn prepare_ldif(domain: &str, config: &str) -> String {
    let services = format!("CN=Services,{config}");
    format!(
        "dn: CN=RegisteredDevices,{domain}\nobjectClass: msDS-DeviceContainer\n\n\
         dn: CN=Device Registration Configuration,{services}\nobjectClass: container\n\n\
         dn: CN=Device Registration Services,CN=Device Registration Configuration,{services}\nobjectClass: msDS-DeviceRegistrationServiceContainer\n\n\
         dn: CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,{services}\nobjectClass: msDS-DeviceRegistrationService\nmsDS-DeviceLocation: CN=RegisteredDevices,{domain}\nmsDS-IsEnabled: TRUE\nmsDS-MaximumRegistrationInactivityPeriod: 0\n\n"
    )
}
