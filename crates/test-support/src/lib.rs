//! Dev-only support for devwb's tests and benches, in the shape of cargo's
//! `cargo-test-support`: a [`Lab`] is a simulated AD forest built by a [`LabBuilder`] (schema
//! level, prepared for device writeback or not, a connector account with its grant), with the
//! clients a test needs (the administrator, the connector, any account), an export writer for
//! generated devices, and a way to read the devices back from the directory. Dropping the lab
//! stops the simulator and removes its work directory.
//!
//! Clients trust the simulator's certificate in memory ([`Lab::options`]); only a test that runs
//! a process needs the certificate as a file ([`Lab::write_ca_file`]).
//!
//! This crate is a dev-dependency only: production code (the demo included) uses the
//! simulator's own API. It may panic: a test that cannot set up its lab has nothing to test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// The simulator itself, for what a test asks of it beyond the lab (faults, snapshots): the
/// client crates reach the simulator only through this crate.
pub use devwb_simulator as simulator;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use devwb_ldap::{Client, ConnectOptions, Credentials, Password};
use devwb_model::schema::connector_rights;
use devwb_model::sd::SecurityInformation;
use devwb_model::sd::{Ace, AceFlags};
use devwb_model::{Dn, Guid, Rdn, SchemaLevel, Sid};
use devwb_simulator::{SimHandle, Simulator, SimulatorBuilder};
use devwb_synthetic::{
    write_export, ExportLayout, SyntheticConfig, SyntheticDevice, SyntheticDevices,
};

/// The DNS name of every lab's forest unless the builder says otherwise.
pub const DEFAULT_FOREST: &str = "contoso.lab";

/// How to build a [`Lab`]. The defaults: `contoso.lab` at 2012 R2, not prepared, no connector
/// account, the simulator's default seed, 30 s client timeouts.
#[derive(Debug)]
pub struct LabBuilder {
    simulator: SimulatorBuilder,
    prepared: bool,
    connector: Option<(String, String)>,
    timeout: Duration,
}

impl Default for LabBuilder {
    fn default() -> LabBuilder {
        LabBuilder {
            simulator: Simulator::builder()
                .forest(DEFAULT_FOREST)
                .schema_level(SchemaLevel::W2012R2),
            prepared: false,
            connector: None,
            timeout: ConnectOptions::DEFAULT_TIMEOUT,
        }
    }
}

impl LabBuilder {
    /// The forest's DNS name (`contoso.lab` by default).
    pub fn forest(mut self, dns_name: &str) -> LabBuilder {
        self.simulator = self.simulator.forest(dns_name);
        self
    }

    /// Adds a domain to the forest (a child such as `emea.contoso.lab` or a new tree such as
    /// `fabrikam.lab`), its DC on ports of its own; the forest then has a global catalog too.
    /// Reach them with [`Lab::options_for`], [`Lab::client_on`] and [`Lab::gc_options`].
    pub fn domain(mut self, dns_name: &str) -> LabBuilder {
        self.simulator = self.simulator.domain(dns_name);
        self
    }

    /// The schema level (2012 R2 by default).
    pub fn schema_level(mut self, level: SchemaLevel) -> LabBuilder {
        self.simulator = self.simulator.schema_level(level);
        self
    }

    /// The simulator's seed (its GUIDs, SIDs and generated passwords).
    pub fn seed(mut self, seed: u64) -> LabBuilder {
        self.simulator = self.simulator.seed(seed);
        self
    }

    /// Anything else of the simulator (faults, limits, a clock), on its builder.
    pub fn simulator(
        mut self,
        change: impl FnOnce(SimulatorBuilder) -> SimulatorBuilder,
    ) -> LabBuilder {
        self.simulator = change(self.simulator);
        self
    }

    /// Whether the forest starts prepared for device writeback: the objects of the reference's
    /// section 1 seeded as LDIF and, with a connector account, its grant on the device
    /// container written over LDAP the way prepare writes it. Not prepared by default.
    pub fn prepared(mut self, prepared: bool) -> LabBuilder {
        self.prepared = prepared;
        self
    }

    /// A connector account (`sAMAccountName` and password) in the domain's Users container.
    pub fn connector(mut self, name: &str, password: &str) -> LabBuilder {
        self.connector = Some((name.to_string(), password.to_string()));
        self
    }

    /// The clients' connect and per-operation timeout.
    pub fn timeout(mut self, timeout: Duration) -> LabBuilder {
        self.timeout = timeout;
        self
    }

    /// Starts the simulator and sets the forest up.
    pub fn start(self) -> Lab {
        let sim = self.simulator.start_blocking().expect("simulator starts");
        let domain = Dn::parse(&sim.domain_dn()).expect("domain DN");
        let device_container = domain.child(Rdn::new("CN", "RegisteredDevices").expect("RDN"));
        if self.prepared {
            sim.apply_ldif(&preparation_ldif(&sim.domain_dn(), &sim.config_dn()))
                .expect("preparation seeds");
        }
        let connector = self.connector.map(|(name, password)| {
            let (dn, sid) = sim.add_user(&name, &password).expect("connector account");
            Connector {
                name,
                password,
                dn,
                sid,
            }
        });
        let lab = Lab {
            sim,
            domain,
            device_container,
            connector,
            timeout: self.timeout,
            work: tempfile::tempdir().expect("work directory"),
        };
        if let (true, Some(connector)) = (self.prepared, &lab.connector) {
            lab.grant_device_container(connector.sid);
        }
        lab
    }
}

/// The connector account of a lab.
#[derive(Clone, Debug)]
pub struct Connector {
    /// Its `sAMAccountName`.
    pub name: String,
    /// Its password.
    pub password: String,
    /// Its DN.
    pub dn: Dn,
    /// Its `objectSid`.
    pub sid: Sid,
}

/// A running simulated forest and what a test needs to talk to it. The simulator stops when
/// the lab is dropped.
#[derive(Debug)]
pub struct Lab {
    /// The running simulator.
    pub sim: SimHandle,
    /// The domain head (the forest root domain).
    pub domain: Dn,
    /// `CN=RegisteredDevices,<domain>`, whether it exists or not.
    pub device_container: Dn,
    /// The connector account, when the builder made one.
    pub connector: Option<Connector>,
    timeout: Duration,
    work: tempfile::TempDir,
}

impl Lab {
    /// A builder with the defaults of [`LabBuilder`].
    pub fn builder() -> LabBuilder {
        LabBuilder::default()
    }

    /// LDAPS to the simulator (the forest root domain's DC), trusting its certificate (given
    /// in memory).
    pub fn options(&self) -> ConnectOptions {
        self.options_at(&self.sim.ldaps_url())
    }

    /// LDAPS to the DC of the domain `domain` (DNS or NetBIOS name), trusting the simulator's
    /// certificate. Panics for a name that is no domain of the lab's forest.
    pub fn options_for(&self, domain: &str) -> ConnectOptions {
        let url = self.sim.domain_ldaps_url(domain);
        assert!(!url.is_empty(), "{domain} is no domain of the lab's forest");
        self.options_at(&url)
    }

    /// LDAPS to the global catalog, trusting the simulator's certificate. Panics when the
    /// forest has none (a lab of one domain).
    pub fn gc_options(&self) -> ConnectOptions {
        let url = self.sim.gc_ldaps_url();
        assert!(!url.is_empty(), "the lab's forest has no global catalog");
        self.options_at(&url)
    }

    fn options_at(&self, url: &str) -> ConnectOptions {
        ConnectOptions::new(url)
            .expect("LDAPS URL")
            .with_ca_pem(self.sim.certificate_pem().as_bytes())
            .expect("the simulator's certificate")
            .with_timeout(self.timeout)
    }

    /// A client of the DC of `domain` bound as `name` (a DN, a UPN or `DOMAIN\name` of any
    /// domain of the forest).
    pub fn client_on(&self, domain: &str, name: &str, password: &str) -> Client {
        Client::connect(
            &self.options_for(domain),
            Some(&Credentials::new(name, Password::new(password))),
        )
        .unwrap_or_else(|error| panic!("{name} binds on {domain}'s DC: {error}"))
    }

    /// The Administrator's credentials.
    pub fn admin_credentials(&self) -> Credentials {
        Credentials::new(
            self.sim.admin_dn(),
            Password::new(self.sim.admin_password()),
        )
    }

    /// A client bound as the Administrator.
    pub fn admin_client(&self) -> Client {
        Client::connect(&self.options(), Some(&self.admin_credentials())).expect("admin binds")
    }

    /// A client bound as the connector account, by its UPN.
    pub fn connector_client(&self) -> Client {
        let connector = self
            .connector
            .as_ref()
            .expect("the lab has a connector account");
        let realm = self
            .domain
            .to_dns_domain()
            .expect("the domain head has a DNS name");
        self.client_as(&format!("{}@{realm}", connector.name), &connector.password)
    }

    /// A client bound as `name` (a DN, a UPN or `DOMAIN\name`).
    pub fn client_as(&self, name: &str, password: &str) -> Client {
        Client::connect(
            &self.options(),
            Some(&Credentials::new(name, Password::new(password))),
        )
        .unwrap_or_else(|error| panic!("{name} binds: {error}"))
    }

    /// The connector account as `DOMAIN\name`.
    pub fn connector_down_level_name(&self) -> String {
        let connector = self
            .connector
            .as_ref()
            .expect("the lab has a connector account");
        format!("{}\\{}", self.sim.netbios_name(), connector.name)
    }

    /// A directory that lives as long as the lab, for exports, state files and the like.
    pub fn work_dir(&self) -> &Path {
        self.work.path()
    }

    /// Writes the simulator's certificate as a PEM file in the work directory, for a process
    /// (the `devwb` binary, `ldapsearch`) that takes a CA file.
    pub fn write_ca_file(&self) -> PathBuf {
        let path = self.work.path().join("ca.pem");
        std::fs::write(&path, self.sim.certificate_pem()).expect("write the CA file");
        path
    }

    /// `n` generated devices owned by users of this forest's domain.
    pub fn devices(&self, n: u64, seed: u64) -> Vec<SyntheticDevice> {
        SyntheticDevices::new(SyntheticConfig::new(n, seed, self.sim.domain_sid())).collect()
    }

    /// Writes devices (Graph JSON objects) as one Graph page, the export format, in the work
    /// directory; returns its path.
    pub fn write_export(
        &self,
        name: &str,
        devices: impl Iterator<Item = serde_json::Value>,
    ) -> PathBuf {
        let path = self.work.path().join(name);
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create export"));
        write_export(devices, ExportLayout::Page, &mut out).expect("write export");
        out.flush().expect("flush export");
        path
    }

    /// Every `msDS-Device` in the device container, read back as the Administrator: the
    /// `msDS-DeviceID`s as text, sorted. Asserts that each device's CN is its id.
    pub fn devices_in_directory(&self) -> Vec<String> {
        let entries = self
            .admin_client()
            .search(
                &self.device_container,
                devwb_ldap::Scope::OneLevel,
                "(objectClass=msDS-Device)",
                &["msDS-DeviceID"],
            )
            .expect("search the device container");
        let mut ids: Vec<String> = entries
            .iter()
            .map(|entry| {
                let id = Guid::from_ad_bytes(entry.first_bytes("msDS-DeviceID").unwrap_or(&[]))
                    .expect("a 16-byte msDS-DeviceID");
                let cn = entry
                    .dn
                    .rdn()
                    .map(|rdn| rdn.value().to_string())
                    .unwrap_or_default();
                assert_eq!(cn, id.to_string(), "CN is the device id");
                cn
            })
            .collect();
        ids.sort();
        ids
    }

    /// The connector's grant of the reference's section 2 on the device container, written the
    /// way prepare writes it.
    fn grant_device_container(&self, connector: Sid) {
        let admin = self.admin_client();
        let mut descriptor = admin
            .read_security_descriptor(&self.device_container, SecurityInformation::DACL)
            .expect("read the device container's DACL");
        descriptor
            .dacl
            .get_or_insert_with(Default::default)
            .insert_explicit(Ace::allow(
                connector,
                connector_rights::DEVICE_CONTAINER,
                AceFlags::CONTAINER_INHERIT,
            ));
        admin
            .write_security_descriptor(
                &self.device_container,
                &descriptor,
                SecurityInformation::DACL,
            )
            .expect("write the device container's DACL");
    }
}

/// The sorted device ids of generated devices, to compare with [`Lab::devices_in_directory`].
pub fn ids_of(devices: &[SyntheticDevice]) -> Vec<String> {
    let mut ids: Vec<String> = devices.iter().map(|d| d.device_id.to_string()).collect();
    ids.sort();
    ids
}

/// The objects `prepare` creates (device-writeback.md section 1), as LDIF.
pub fn preparation_ldif(domain: &str, config: &str) -> String {
    let services = format!("CN=Services,{config}");
    format!(
        "dn: CN=RegisteredDevices,{domain}\nobjectClass: msDS-DeviceContainer\n\n\
         dn: CN=Device Registration Configuration,{services}\nobjectClass: container\n\n\
         dn: CN=Device Registration Services,CN=Device Registration Configuration,{services}\nobjectClass: msDS-DeviceRegistrationServiceContainer\n\n\
         dn: CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,{services}\nobjectClass: msDS-DeviceRegistrationService\nmsDS-DeviceLocation: CN=RegisteredDevices,{domain}\nmsDS-IsEnabled: TRUE\nmsDS-MaximumRegistrationInactivityPeriod: 0\n\n"
    )
}

/// An error and its causes, one line, for a test's panic message.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
