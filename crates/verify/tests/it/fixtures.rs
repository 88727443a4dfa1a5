//! Observation fixtures: `prepared()` is a forest that `devwb prepare` left in order; tests
//! change one thing and look at the report.

use std::collections::BTreeMap;

use devwb_model::sd::{AccessMask, Ace, AceFlags, Acl};
use devwb_model::{Dn, Sid};
use devwb_verify::{
    BindAttempt, ConnectorAccount, ConnectorObservation, ForestNames, Observed, ObservedObject,
    RegistrationService, SchemaObservation,
};

pub const CONNECTOR: &str = "CONTOSO\\svc-aadc";

pub fn dn(text: &str) -> Dn {
    Dn::parse(text).expect("fixture DN")
}

pub fn sid(text: &str) -> Sid {
    Sid::parse(text).expect("fixture SID")
}

pub fn connector_sid() -> Sid {
    sid("S-1-5-21-1004336348-1177238915-682003330-1105")
}

pub fn admin_sid() -> Sid {
    sid("S-1-5-21-1004336348-1177238915-682003330-1104")
}

pub fn domain_admins() -> Sid {
    sid("S-1-5-21-1004336348-1177238915-682003330-512")
}

/// The ACEs a fresh container has on a DC before anyone grants anything.
fn default_aces() -> Vec<Ace> {
    vec![
        Ace::allow(
            Sid::AUTHENTICATED_USERS,
            AccessMask(0x0002_0094),
            AceFlags::NONE,
        ),
        Ace::allow(domain_admins(), AccessMask(0x000F_01FF), AceFlags::NONE),
        Ace::allow(Sid::LOCAL_SYSTEM, AccessMask(0x000F_01FF), AceFlags::NONE),
    ]
}

pub fn acl_with(extra: Vec<Ace>) -> Option<Acl> {
    let mut aces = extra;
    aces.extend(default_aces());
    Some(Acl::from_aces(aces))
}

pub fn device_ace(trustee: Sid) -> Ace {
    Ace::allow(
        trustee,
        AccessMask(0x0003_00FF),
        AceFlags::CONTAINER_INHERIT,
    )
}

pub fn configuration_ace(trustee: Sid) -> Ace {
    Ace::allow(
        trustee,
        AccessMask(0x0002_00BC),
        AceFlags::CONTAINER_INHERIT,
    )
}

/// contoso.lab after `devwb prepare --connector-account CONTOSO\svc-aadc`, on a 2016 schema.
pub fn prepared() -> Observed {
    let forest = ForestNames::single_domain(dn("DC=contoso,DC=lab"));
    let domain = forest.root_domain.clone();
    let mut observed = Observed {
        domain: domain.clone(),
        schema: SchemaObservation {
            object_version: Some(87),
            device_container_class: true,
        },
        configuration_container: None,
        service_container: None,
        registration_services: Vec::new(),
        location_target: None,
        registered_devices: None,
        connector: Some(ConnectorObservation {
            named: CONNECTOR.to_string(),
            account: Some(ConnectorAccount {
                dn: dn("CN=svc-aadc,CN=Users,DC=contoso,DC=lab"),
                sid: connector_sid(),
            }),
            lookup_note: None,
            bind: BindAttempt::NotTried,
        }),
        account_names: BTreeMap::from([
            (connector_sid(), CONNECTOR.to_string()),
            (admin_sid(), "CONTOSO\\admin".to_string()),
        ]),
        devices: None,
        forest,
    };
    let devices = observed.expected_device_container_dn();
    observed.configuration_container = Some(ObservedObject {
        dn: observed.configuration_container_dn(),
        object_classes: vec!["top".into(), "container".into()],
        dacl: acl_with(vec![configuration_ace(connector_sid())]),
    });
    observed.service_container = Some(ObservedObject {
        dn: observed.service_container_dn(),
        object_classes: vec![
            "top".into(),
            "msDS-DeviceRegistrationServiceContainer".into(),
        ],
        dacl: acl_with(vec![]),
    });
    observed.registration_services = vec![RegistrationService {
        dn: observed.expected_service_dn(),
        device_location: Some(devices.to_string()),
        is_enabled: Some("TRUE".into()),
        maximum_inactivity_period: Some("0".into()),
    }];
    let container = ObservedObject {
        dn: devices,
        object_classes: vec!["top".into(), "msDS-DeviceContainer".into()],
        dacl: acl_with(vec![device_ace(connector_sid())]),
    };
    observed.location_target = Some(container.clone());
    observed.registered_devices = Some(container);
    observed
}

/// A forest whose schema is 2008 R2: no device classes, nothing prepared.
pub fn schema_2008_r2() -> Observed {
    let mut observed = prepared();
    observed.schema = SchemaObservation {
        object_version: Some(47),
        device_container_class: false,
    };
    observed.configuration_container = None;
    observed.service_container = None;
    observed.registration_services.clear();
    observed.location_target = None;
    observed.registered_devices = None;
    observed
}
