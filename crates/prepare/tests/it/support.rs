//! Simulated forests, clients and the prepare flow.

use std::io::Write as _;

use devwb_ldap::{Client, ConnectOptions, Credentials, ForestObservation, Password};
use devwb_model::SchemaLevel;
use devwb_prepare::{plan, Plan, PlanOptions, PrepareRequest};
use devwb_simulator::{SimHandle, Simulator};

pub const CONNECTOR: &str = "svc-aadc";
pub const CONNECTOR_PASSWORD: &str = "Conn3ctor!pass";

/// A simulated forest with the connector account, its CA file and an admin client.
pub struct Forest {
    pub sim: SimHandle,
    pub ca: tempfile::NamedTempFile,
    pub admin: Client,
}

impl Forest {
    pub fn options(&self) -> ConnectOptions {
        ConnectOptions::new(&self.sim.ldaps_url())
            .unwrap()
            .with_ca_file(self.ca.path())
    }

    /// A client bound as `name`.
    pub fn client_as(&self, name: &str, password: &str) -> Client {
        Client::connect(
            &self.options(),
            Some(&Credentials::new(name, Password::new(password))),
        )
        .unwrap()
    }

    /// The request prepare gets from the command line: the connector as `DOMAIN\name`.
    pub fn request(&self) -> PrepareRequest {
        PrepareRequest {
            domain: None,
            connector: format!("{}\\{CONNECTOR}", self.sim.netbios_name()),
        }
    }

    pub fn observe(&self) -> ForestObservation {
        devwb_prepare::observe(&self.admin, &self.request()).unwrap()
    }

    pub fn plan(&self) -> Plan {
        plan(&self.observe(), &PlanOptions::default())
            .unwrap_or_else(|refusal| panic!("refused: {refusal}"))
    }

    /// observe, plan, apply; returns the plan applied.
    pub fn prepare(&self) -> Plan {
        let plan = self.plan();
        devwb_prepare::apply(&self.admin, &plan).unwrap_or_else(|e| panic!("apply: {}", chain(&e)));
        plan
    }
}

pub fn forest_with(name: &str, level: SchemaLevel, seed: u64) -> Forest {
    let sim = Simulator::builder()
        .forest(name)
        .schema_level(level)
        .seed(seed)
        .start_blocking()
        .expect("simulator");
    sim.add_user(CONNECTOR, CONNECTOR_PASSWORD)
        .expect("connector account");
    let mut ca = tempfile::NamedTempFile::new().unwrap();
    ca.write_all(sim.certificate_pem().as_bytes()).unwrap();
    let options = ConnectOptions::new(&sim.ldaps_url())
        .unwrap()
        .with_ca_file(ca.path());
    let admin = Client::connect(
        &options,
        Some(&Credentials::new(
            sim.admin_dn(),
            Password::new(sim.admin_password()),
        )),
    )
    .unwrap();
    Forest { sim, ca, admin }
}

pub fn fresh_2012r2() -> Forest {
    forest_with("contoso.lab", SchemaLevel::W2012R2, 7)
}

/// An error and its causes, one line.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The parts of an observation that preparation decides, as text to compare two forests by.
pub fn prepared_state(observation: &ForestObservation) -> String {
    let context = observation.sddl_context();
    let config_context = observation.configuration_sddl_context();
    let mut out = String::new();
    for (object, context) in [
        (&observation.device_container, &context),
        (
            &observation.device_registration_configuration,
            &config_context,
        ),
        (&observation.device_registration_services, &config_context),
    ] {
        let sddl = object
            .security_descriptor
            .as_ref()
            .map(|sd| sd.to_sddl(context))
            .unwrap_or_default();
        out.push_str(&format!(
            "{} exists={} class={:?}\n  {}\n",
            object.dn,
            object.exists,
            object.structural_class(),
            sddl
        ));
    }
    for service in &observation.registration_services {
        out.push_str(&format!(
            "{} location={:?} enabled={:?} inactivity={:?} marker={:?}\n",
            service.dn,
            service.device_location,
            service.is_enabled,
            service.maximum_inactivity_period,
            service.admin_description
        ));
    }
    out
}
