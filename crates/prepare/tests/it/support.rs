//! The lab of these tests (devwb-test-support's simulated forest with the connector account)
//! and prepare's flow on it.

use devwb_ldap::{Client, ForestObservation};
use devwb_model::SchemaLevel;
use devwb_prepare::{plan, Plan, PlanOptions, PrepareRequest};

pub const CONNECTOR: &str = "svc-aadc";
pub const CONNECTOR_PASSWORD: &str = "Conn3ctor!pass";

/// A simulated forest with the connector account and an admin client, and prepare's steps on it.
pub struct PrepareLab {
    lab: devwb_test_support::Lab,
    pub admin: Client,
}

impl std::ops::Deref for PrepareLab {
    type Target = devwb_test_support::Lab;

    fn deref(&self) -> &devwb_test_support::Lab {
        &self.lab
    }
}

impl PrepareLab {
    /// The request prepare gets from the command line: the connector as `DOMAIN\name`.
    pub fn request(&self) -> PrepareRequest {
        PrepareRequest {
            domain: None,
            connector: self.connector_down_level_name(),
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
        devwb_prepare::apply(&self.admin, &plan)
            .unwrap_or_else(|e| panic!("apply: {}", devwb_test_support::error_chain(&e)));
        plan
    }
}

pub fn forest_with(name: &str, level: SchemaLevel, seed: u64) -> PrepareLab {
    let lab = devwb_test_support::Lab::builder()
        .forest(name)
        .schema_level(level)
        .seed(seed)
        .connector(CONNECTOR, CONNECTOR_PASSWORD)
        .start();
    let admin = lab.admin_client();
    PrepareLab { lab, admin }
}

pub fn fresh_2012r2() -> PrepareLab {
    forest_with("contoso.lab", SchemaLevel::W2012R2, 7)
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
