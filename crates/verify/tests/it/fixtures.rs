//! Observation fixtures: `prepared()` is a forest that `devwb prepare` left in order; tests
//! change one thing and look at the report.

use std::collections::BTreeMap;

use devwb_ldap::observe::PreparationDns;
use devwb_ldap::{Account, ForestDomain, ForestDomains, RootDse};
use devwb_model::sd::{AccessMask, Ace, AceFlags, Acl, SecurityDescriptor};
use devwb_model::{Dn, Sid};
use devwb_verify::{
    BindAttempt, ConnectorObservation, ForestObservation, Observed, ObservedObject,
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

/// An object that exists, with this DACL (no owner or group read).
pub fn object(dn_text: &str, classes: &[&str], dacl: Option<Acl>) -> ObservedObject {
    let mut object = ObservedObject::absent(dn(dn_text));
    object.exists = true;
    object.object_classes = classes.iter().map(|class| class.to_string()).collect();
    set_dacl(&mut object, dacl);
    object
}

/// Replaces an object's DACL (`None`: the descriptor could not be read).
pub fn set_dacl(object: &mut ObservedObject, dacl: Option<Acl>) {
    object.security_descriptor = dacl.map(|dacl| SecurityDescriptor {
        dacl: Some(dacl),
        ..SecurityDescriptor::default()
    });
}

/// A DeviceRegistrationService object with the three attributes verify checks.
pub fn service(
    dn: Dn,
    device_location: Option<&str>,
    is_enabled: Option<&str>,
    maximum_inactivity_period: Option<&str>,
) -> RegistrationService {
    RegistrationService {
        dn,
        device_location: device_location.map(str::to_string),
        is_enabled: is_enabled.map(str::to_string),
        maximum_inactivity_period: maximum_inactivity_period.map(str::to_string),
        name: None,
        display_name: None,
        admin_description: None,
        when_created: None,
        object_classes: vec!["top".into(), "msDS-DeviceRegistrationService".into()],
    }
}

/// A domain of the forest, known by its naming context only.
pub fn forest_domain(nc: Dn) -> ForestDomain {
    ForestDomain {
        nc,
        netbios_name: None,
        dns_root: None,
        sid: None,
    }
}

/// contoso.lab after `devwb prepare --connector-account CONTOSO\svc-aadc`, on a 2016 schema.
pub fn prepared() -> Observed {
    let root = dn("DC=contoso,DC=lab");
    let configuration = dn("CN=Configuration,DC=contoso,DC=lab");
    let dns = PreparationDns::new(&configuration, &root).expect("preparation DNs");
    let mut device_container = object(
        &dns.device_container.to_string(),
        &["top", "msDS-DeviceContainer"],
        acl_with(vec![device_ace(connector_sid())]),
    );
    device_container.parent_object_classes =
        vec!["top".into(), "domain".into(), "domainDNS".into()];
    let forest = ForestObservation {
        root_dse: RootDse {
            default_nc: root.clone(),
            configuration_nc: configuration.clone(),
            schema_nc: dn("CN=Schema,CN=Configuration,DC=contoso,DC=lab"),
            root_domain_nc: root.clone(),
            naming_contexts: Vec::new(),
            dns_host_name: None,
            forest_functionality: None,
            domain_functionality: None,
            supported_controls: Vec::new(),
            is_global_catalog_ready: false,
        },
        schema: SchemaObservation {
            object_version: Some(87),
            device_container_class: true,
            registration_service_class: true,
            default_security_descriptors: BTreeMap::new(),
        },
        forest: ForestDomains {
            global_catalog: None,
            domains: vec![forest_domain(root.clone())],
        },
        domain: root.clone(),
        domain_sid: None,
        root_domain_sid: None,
        registration_services: vec![service(
            dns.registration_service.clone(),
            Some(&dns.device_container.to_string()),
            Some("TRUE"),
            Some("0"),
        )],
        device_registration_configuration: object(
            &dns.device_registration_configuration.to_string(),
            &["top", "container"],
            acl_with(vec![configuration_ace(connector_sid())]),
        ),
        device_registration_services: object(
            &dns.device_registration_services.to_string(),
            &["top", "msDS-DeviceRegistrationServiceContainer"],
            acl_with(vec![]),
        ),
        device_container,
        location_targets: Vec::new(),
        connector: Some(Account {
            name: CONNECTOR.to_string(),
            dn: dn("CN=svc-aadc,CN=Users,DC=contoso,DC=lab"),
            sid: connector_sid(),
            sam_account_name: Some("svc-aadc".into()),
            domain_nc: root,
            domain_netbios_name: Some("CONTOSO".into()),
        }),
    };
    let mut observed = Observed::new(forest);
    observed.connector = Some(ConnectorObservation {
        named: CONNECTOR.to_string(),
        lookup_note: None,
        bind: BindAttempt::NotTried,
    });
    observed.account_names = BTreeMap::from([
        (connector_sid(), CONNECTOR.to_string()),
        (admin_sid(), "CONTOSO\\admin".to_string()),
    ]);
    observed
}

/// A forest whose schema is 2008 R2: no device classes, nothing prepared.
pub fn schema_2008_r2() -> Observed {
    let mut observed = prepared();
    let forest = &mut observed.forest;
    forest.schema.object_version = Some(47);
    forest.schema.device_container_class = false;
    forest.schema.registration_service_class = false;
    forest.registration_services.clear();
    for object in [
        &mut forest.device_registration_configuration,
        &mut forest.device_registration_services,
        &mut forest.device_container,
    ] {
        *object = ObservedObject::absent(object.dn.clone());
    }
    forest.location_targets.clear();
    observed
}
