//! Plan tests as data: an observation fixture (a fresh 2012 R2 forest, changed by each case)
//! and the expected plan or refusal as text. Update the snapshots with `UPDATE_EXPECT=1`.

use std::collections::BTreeMap;

use devwb_ldap::observe::{
    ForestObservation, ObservedObject, PreparationDns, RegistrationService, SchemaObservation,
};
use devwb_ldap::{Account, ForestDomain, ForestDomains, RootDse};
use devwb_model::sd::{AccessMask, Ace, AceFlags, Acl, SecurityDescriptor};
use devwb_model::{Dn, Sid};
use expect_test::{expect, Expect};

use crate::plan::{plan, PlanOptions, Step, CREATED_BY_MARKER};
use crate::render::{render_ldif, render_ps1};

const DOMAIN_SID: &str = "S-1-5-21-1000-2000-3000";
const DEVICE_CONTAINER_DEFAULT: &str =
    "D:(A;;RPLCLORC;;;AU)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)";
const CONTAINER_DEFAULT: &str =
    "D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPLCLORC;;;AU)";

fn dn(text: &str) -> Dn {
    Dn::parse(text).unwrap()
}

fn sid(text: &str) -> Sid {
    Sid::parse(text).unwrap()
}

fn dns() -> PreparationDns {
    PreparationDns::new(
        &dn("CN=Configuration,DC=contoso,DC=lab"),
        &dn("DC=contoso,DC=lab"),
    )
    .unwrap()
}

fn connector() -> Account {
    Account {
        name: "CONTOSO\\svc-aadc".into(),
        dn: dn("CN=svc-aadc,CN=Users,DC=contoso,DC=lab"),
        sid: sid(&format!("{DOMAIN_SID}-1105")),
        sam_account_name: Some("svc-aadc".into()),
        domain_nc: dn("DC=contoso,DC=lab"),
        domain_netbios_name: Some("CONTOSO".into()),
    }
}

/// A freshly installed 2012 R2 forest `contoso.lab`, nothing prepared.
fn fresh() -> ForestObservation {
    let dns = dns();
    let mut default_security_descriptors = BTreeMap::new();
    default_security_descriptors.insert(
        "msDS-DeviceContainer".to_string(),
        DEVICE_CONTAINER_DEFAULT.to_string(),
    );
    default_security_descriptors.insert("container".to_string(), CONTAINER_DEFAULT.to_string());
    ForestObservation {
        root_dse: RootDse {
            default_nc: dn("DC=contoso,DC=lab"),
            configuration_nc: dn("CN=Configuration,DC=contoso,DC=lab"),
            schema_nc: dn("CN=Schema,CN=Configuration,DC=contoso,DC=lab"),
            root_domain_nc: dn("DC=contoso,DC=lab"),
            naming_contexts: vec![],
            dns_host_name: Some("dc1.contoso.lab".into()),
            forest_functionality: Some(6),
            domain_functionality: Some(6),
            supported_controls: vec![],
            is_global_catalog_ready: false,
        },
        schema: SchemaObservation {
            object_version: Some(69),
            device_container_class: true,
            registration_service_class: true,
            default_security_descriptors,
        },
        forest: ForestDomains {
            global_catalog: None,
            domains: vec![ForestDomain {
                nc: dn("DC=contoso,DC=lab"),
                netbios_name: Some("CONTOSO".into()),
                dns_root: Some("contoso.lab".into()),
                sid: Some(sid(DOMAIN_SID)),
            }],
        },
        domain: dn("DC=contoso,DC=lab"),
        domain_sid: Some(sid(DOMAIN_SID)),
        root_domain_sid: Some(sid(DOMAIN_SID)),
        registration_services: vec![],
        device_registration_configuration: ObservedObject::absent(
            dns.device_registration_configuration,
        ),
        device_registration_services: ObservedObject::absent(dns.device_registration_services),
        device_container: ObservedObject::absent(dns.device_container),
        location_targets: vec![],
        connector: Some(connector()),
    }
}

/// An existing object of `classes` with a DACL of the class default (explicit) plus `extra`.
fn existing(dn: Dn, classes: &[&str], extra: &[Ace]) -> ObservedObject {
    let domain_admins = sid(&format!("{DOMAIN_SID}-512"));
    let mut dacl = Acl::from_aces(vec![
        Ace::allow(
            Sid::AUTHENTICATED_USERS,
            AccessMask(0x20094),
            AceFlags::NONE,
        ),
        Ace::allow(domain_admins, AccessMask(0xF01FF), AceFlags::NONE),
        Ace::allow(Sid::LOCAL_SYSTEM, AccessMask(0xF01FF), AceFlags::NONE),
        Ace::allow(
            sid(&format!("{DOMAIN_SID}-519")),
            AccessMask(0xF01FF),
            AceFlags::CONTAINER_INHERIT.with(AceFlags::INHERITED),
        ),
    ]);
    for ace in extra {
        dacl.insert_explicit(*ace);
    }
    ObservedObject {
        dn,
        exists: true,
        object_classes: std::iter::once("top")
            .chain(classes.iter().copied())
            .map(str::to_string)
            .collect(),
        parent_object_classes: vec!["top".into(), "domain".into(), "domainDNS".into()],
        security_descriptor: Some(SecurityDescriptor {
            owner: Some(domain_admins),
            group: Some(domain_admins),
            dacl: Some(dacl),
            ..SecurityDescriptor::default()
        }),
        security_descriptor_error: None,
        unreachable: None,
    }
}

fn service(location: Option<&str>, enabled: Option<&str>, marker: bool) -> RegistrationService {
    RegistrationService {
        dn: dns().registration_service,
        device_location: location.map(str::to_string),
        is_enabled: enabled.map(str::to_string),
        maximum_inactivity_period: Some("0".into()),
        name: Some("DeviceRegistrationService".into()),
        display_name: None,
        admin_description: marker.then(|| CREATED_BY_MARKER.to_string()),
        when_created: None,
        object_classes: vec!["top".into(), "msDS-DeviceRegistrationService".into()],
    }
}

fn connector_ace(mask: u32) -> Ace {
    Ace::allow(
        connector().sid,
        AccessMask(mask),
        AceFlags::CONTAINER_INHERIT,
    )
}

/// A forest prepared as devwb leaves it.
fn prepared() -> ForestObservation {
    let mut o = fresh();
    let dns = dns();
    o.device_container = existing(
        dns.device_container,
        &["msDS-DeviceContainer"],
        &[connector_ace(0x300FF)],
    );
    o.device_registration_configuration = existing(
        dns.device_registration_configuration,
        &["container"],
        &[connector_ace(0x200BC)],
    );
    o.device_registration_services = existing(
        dns.device_registration_services,
        &["msDS-DeviceRegistrationServiceContainer"],
        &[],
    );
    o.registration_services = vec![service(
        Some("CN=RegisteredDevices,DC=contoso,DC=lab"),
        Some("TRUE"),
        true,
    )];
    o
}

fn check_with(observation: ForestObservation, options: PlanOptions, expected: Expect) {
    let actual = match plan(&observation, &options) {
        Ok(plan) => plan.to_string(),
        Err(refusal) => format!("refused: {refusal}\n"),
    };
    expected.assert_eq(&actual);
}

fn check(observation: ForestObservation, expected: Expect) {
    check_with(observation, PlanOptions::default(), expected);
}

#[test]
fn fresh_forest_gets_the_four_objects_and_both_aces() {
    check(
        fresh(),
        expect![[r#"
            forest contoso.lab, devices in DC=contoso,DC=lab, connector CONTOSO\svc-aadc (S-1-5-21-1000-2000-3000-1105)
            1. create CN=RegisteredDevices,DC=contoso,DC=lab (msDS-DeviceContainer)
               with the connector's ACE (A;CI;CCDCLCSWRPWPDTLOSDRC;;;S-1-5-21-1000-2000-3000-1105)
               DACL: D:(A;;LCRPLORC;;;AU)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;DA)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)(A;CI;CCDCLCSWRPWPDTLOSDRC;;;S-1-5-21-1000-2000-3000-1105)
            2. create CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (container)
               with the connector's ACE (A;CI;LCSWRPWPLORC;;;S-1-5-21-1000-2000-3000-1105)
               DACL: D:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;DA)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)(A;;LCRPLORC;;;AU)(A;CI;LCSWRPWPLORC;;;S-1-5-21-1000-2000-3000-1105)
            3. create CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (msDS-DeviceRegistrationServiceContainer)
            4. create CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (msDS-DeviceRegistrationService)
               msDS-DeviceLocation: CN=RegisteredDevices,DC=contoso,DC=lab
               msDS-IsEnabled: TRUE
               msDS-MaximumRegistrationInactivityPeriod: 0
               adminDescription: created by devwb prepare
        "#]],
    );
}

#[test]
fn prepared_forest_plans_nothing() {
    check(
        prepared(),
        expect![[r#"
            forest contoso.lab, devices in DC=contoso,DC=lab, connector CONTOSO\svc-aadc (S-1-5-21-1000-2000-3000-1105)
            nothing to do: the forest is prepared
        "#]],
    );
}

#[test]
fn ace_granted_with_generic_bits_counts_as_granted() {
    let mut o = prepared();
    // dsacls "GRGWCCDCSDDT" may be stored with the generic bits: GR|GW plus CC DC SD DT.
    let generic = connector_ace(0x8000_0000 | 0x4000_0000 | 0x1 | 0x2 | 0x1_0000 | 0x40);
    o.device_container = existing(
        dns().device_container,
        &["msDS-DeviceContainer"],
        &[generic],
    );
    check(
        o,
        expect![[r#"
            forest contoso.lab, devices in DC=contoso,DC=lab, connector CONTOSO\svc-aadc (S-1-5-21-1000-2000-3000-1105)
            nothing to do: the forest is prepared
        "#]],
    );
}

#[test]
fn missing_aces_are_added_in_place() {
    let mut o = prepared();
    o.device_container = existing(dns().device_container, &["msDS-DeviceContainer"], &[]);
    o.device_registration_configuration =
        existing(dns().device_registration_configuration, &["container"], &[]);
    check(
        o,
        expect![[r#"
            forest contoso.lab, devices in DC=contoso,DC=lab, connector CONTOSO\svc-aadc (S-1-5-21-1000-2000-3000-1105)
            1. add ACE (A;CI;CCDCLCSWRPWPDTLOSDRC;;;S-1-5-21-1000-2000-3000-1105) to the DACL of CN=RegisteredDevices,DC=contoso,DC=lab
            2. add ACE (A;CI;LCSWRPWPLORC;;;S-1-5-21-1000-2000-3000-1105) to the DACL of CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
        "#]],
    );
}

#[test]
fn granted_ace_goes_after_explicit_denies_and_before_inherited_aces() {
    let mut o = prepared();
    let deny = Ace::deny(Sid::EVERYONE, AccessMask(0x40), AceFlags::NONE);
    o.device_container = existing(dns().device_container, &["msDS-DeviceContainer"], &[deny]);
    let planned = plan(&o, &PlanOptions::default()).unwrap();
    let Step::GrantAce {
        security_descriptor,
        ..
    } = &planned.steps[0]
    else {
        panic!("expected a grant: {planned}")
    };
    let dacl = security_descriptor.dacl.as_ref().unwrap();
    assert!(dacl.is_canonical());
    expect!["O:DAG:DAD:(D;;DT;;;WD)(A;;LCRPLORC;;;AU)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;DA)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)(A;CI;CCDCLCSWRPWPDTLOSDRC;;;S-1-5-21-1000-2000-3000-1105)(A;CIID;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;EA)"]
        .assert_eq(&security_descriptor.to_sddl(&o.sddl_context()));
}

#[test]
fn partial_state_repairs_the_acl_in_place_and_re_creates_a_service_without_location() {
    let mut o = prepared();
    o.device_registration_configuration =
        existing(dns().device_registration_configuration, &["container"], &[]);
    o.registration_services = vec![service(None, Some("FALSE"), false)];
    o.registration_services[0].maximum_inactivity_period = None;
    check(
        o,
        expect![[r#"
            forest contoso.lab, devices in DC=contoso,DC=lab, connector CONTOSO\svc-aadc (S-1-5-21-1000-2000-3000-1105)
            1. add ACE (A;CI;LCSWRPWPLORC;;;S-1-5-21-1000-2000-3000-1105) to the DACL of CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
            2. re-create CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (msDS-DeviceRegistrationService): delete it and add it again, because msDS-DeviceLocation is system-only and cannot be modified
               msDS-DeviceLocation: (absent) -> CN=RegisteredDevices,DC=contoso,DC=lab
        "#]],
    );
}

#[test]
fn a_disabled_service_is_repaired_in_place() {
    let mut o = prepared();
    o.registration_services = vec![service(
        Some("CN=RegisteredDevices,DC=contoso,DC=lab"),
        Some("FALSE"),
        false,
    )];
    o.registration_services[0].maximum_inactivity_period = None;
    check(
        o,
        expect![[r#"
        forest contoso.lab, devices in DC=contoso,DC=lab, connector CONTOSO\svc-aadc (S-1-5-21-1000-2000-3000-1105)
        1. set attributes of CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
           msDS-IsEnabled: FALSE -> TRUE
           msDS-MaximumRegistrationInactivityPeriod: (absent) -> 0
    "#]],
    );
}

#[test]
fn location_pointing_at_an_ou_is_repaired() {
    let mut o = prepared();
    o.registration_services = vec![service(
        Some("OU=Devices,DC=contoso,DC=lab"),
        Some("TRUE"),
        false,
    )];
    o.location_targets = vec![existing(
        dn("OU=Devices,DC=contoso,DC=lab"),
        &["organizationalUnit"],
        &[],
    )];
    check(
        o,
        expect![[r#"
            forest contoso.lab, devices in DC=contoso,DC=lab, connector CONTOSO\svc-aadc (S-1-5-21-1000-2000-3000-1105)
            1. re-create CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (msDS-DeviceRegistrationService): delete it and add it again, because msDS-DeviceLocation is system-only and cannot be modified
               msDS-DeviceLocation: OU=Devices,DC=contoso,DC=lab -> CN=RegisteredDevices,DC=contoso,DC=lab
        "#]],
    );
}

fn pointing_at_another_device_container(marker: bool) -> ForestObservation {
    let mut o = prepared();
    let elsewhere = "CN=RegisteredDevices,DC=emea,DC=contoso,DC=lab";
    o.registration_services = vec![service(Some(elsewhere), Some("TRUE"), marker)];
    o.location_targets = vec![existing(dn(elsewhere), &["msDS-DeviceContainer"], &[])];
    o
}

#[test]
fn service_pointing_at_another_device_container_is_refused_unless_allowed_or_ours() {
    check(
        pointing_at_another_device_container(false),
        expect![[r#"
            refused: CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab points msDS-DeviceLocation at CN=RegisteredDevices,DC=emea,DC=contoso,DC=lab, an existing device container, and was not created by devwb; devices already registered there would be orphaned: pass --allow-repoint to point it at CN=RegisteredDevices,DC=contoso,DC=lab, or prepare the domain of CN=RegisteredDevices,DC=emea,DC=contoso,DC=lab instead
        "#]],
    );
    check_with(
        pointing_at_another_device_container(false),
        PlanOptions {
            allow_repoint: true,
        },
        expect![[r#"
            forest contoso.lab, devices in DC=contoso,DC=lab, connector CONTOSO\svc-aadc (S-1-5-21-1000-2000-3000-1105)
            1. re-create CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (msDS-DeviceRegistrationService): delete it and add it again, because msDS-DeviceLocation is system-only and cannot be modified
               msDS-DeviceLocation: CN=RegisteredDevices,DC=emea,DC=contoso,DC=lab -> CN=RegisteredDevices,DC=contoso,DC=lab
        "#]],
    );
    check(
        pointing_at_another_device_container(true),
        expect![[r#"
            forest contoso.lab, devices in DC=contoso,DC=lab, connector CONTOSO\svc-aadc (S-1-5-21-1000-2000-3000-1105)
            1. re-create CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (msDS-DeviceRegistrationService): delete it and add it again, because msDS-DeviceLocation is system-only and cannot be modified
               msDS-DeviceLocation: CN=RegisteredDevices,DC=emea,DC=contoso,DC=lab -> CN=RegisteredDevices,DC=contoso,DC=lab
        "#]],
    );
}

#[test]
fn schema_2008_r2_is_refused_with_the_version_found() {
    let mut o = fresh();
    o.schema.object_version = Some(47);
    o.schema.device_container_class = false;
    check(
        o,
        expect![[r#"
            refused: the forest schema is at objectVersion 47 (Windows Server 2008 R2), without the msDS-DeviceContainer class; device writeback needs objectVersion 69 (Windows Server 2012 R2) or later with the msDS-DeviceContainer class: extend the schema with adprep /forestprep from Windows Server 2012 R2 or later, then run prepare again
        "#]],
    );
}

#[test]
fn duplicate_services_are_refused_naming_each() {
    let mut o = prepared();
    let mut adfs = service(
        Some("CN=RegisteredDevices,DC=contoso,DC=lab"),
        Some("TRUE"),
        false,
    );
    adfs.dn = dn("CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab")
        .parent()
        .unwrap()
        .child(devwb_model::Rdn::new("CN", "DRS-ADFS").unwrap());
    o.registration_services.push(adfs);
    check(
        o,
        expect![[r#"
            refused: found 2 msDS-DeviceRegistrationService objects where only one is supported per forest: CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab; CN=DRS-ADFS,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab; delete all but the one at CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (after checking nothing else, such as AD FS, still uses them), then run prepare again
        "#]],
    );
}

#[test]
fn connector_from_another_forest_is_refused() {
    let mut o = fresh();
    o.connector = Some(Account {
        name: "FABRIKAM\\svc".into(),
        dn: dn("CN=svc,CN=Users,DC=fabrikam,DC=lab"),
        sid: sid("S-1-5-21-7-8-9-1105"),
        sam_account_name: Some("svc".into()),
        domain_nc: dn("DC=fabrikam,DC=lab"),
        domain_netbios_name: Some("FABRIKAM".into()),
    });
    check(
        o,
        expect![[r#"
            refused: the connector account FABRIKAM\svc (S-1-5-21-7-8-9-1105) is not in this forest (its domains: contoso.lab); devices must be written back into the forest of the users and the connector account must belong to it: use that forest's AD connector account
        "#]],
    );
}

#[test]
fn domain_outside_the_forest_is_refused() {
    let mut o = fresh();
    o.domain = dn("DC=fabrikam,DC=lab");
    check(
        o,
        expect![[r#"
            refused: the domain DC=fabrikam,DC=lab is not a domain of this forest (its domains: contoso.lab); device writeback targets one forest: name one of its domains, or connect to the forest that holds DC=fabrikam,DC=lab
        "#]],
    );
}

#[test]
fn an_ou_named_registered_devices_is_refused() {
    let mut o = fresh();
    o.device_container = existing(dns().device_container, &["organizationalUnit"], &[]);
    check(
        o,
        expect![[r#"
            refused: CN=RegisteredDevices,DC=contoso,DC=lab exists with objectClass organizationalUnit instead of msDS-DeviceContainer: rename or delete it, then run prepare again
        "#]],
    );
}

#[test]
fn plans_round_trip_through_json() {
    let planned = plan(&fresh(), &PlanOptions::default()).unwrap();
    let json = serde_json::to_string(&planned).unwrap();
    let back: crate::plan::Plan = serde_json::from_str(&json).unwrap();
    assert_eq!(back.steps, planned.steps);
}

#[test]
fn ldif_of_a_partial_forest() {
    let mut o = prepared();
    o.device_container = existing(dns().device_container, &["msDS-DeviceContainer"], &[]);
    o.registration_services = vec![service(None, Some("TRUE"), false)];
    let planned = plan(&o, &PlanOptions::default()).unwrap();
    expect![[r#"
        # devwb prepare: forest contoso.lab, devices in DC=contoso,DC=lab
        # connector account CONTOSO\svc-aadc (S-1-5-21-1000-2000-3000-1105)
        # Apply with: ldapmodify -H ldaps://<dc> -D <enterprise admin> -W -f <this file>
        # Generated from the forest as observed; run `devwb prepare --dry-run` afterwards: it should plan nothing.

        # 1. add ACE (A;CI;CCDCLCSWRPWPDTLOSDRC;;;S-1-5-21-1000-2000-3000-1105) to the DACL of CN=RegisteredDevices,DC=contoso,DC=lab
        #    new DACL: O:DAG:DAD:(A;;LCRPLORC;;;AU)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;DA)(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)(A;CI;CCDCLCSWRPWPDTLOSDRC;;;S-1-5-21-1000-2000-3000-1105)(A;CIID;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;EA)
        dn: CN=RegisteredDevices,DC=contoso,DC=lab
        control: 1.2.840.113556.1.4.801 true:: MAMCAQQ=
        changetype: modify
        replace: nTSecurityDescriptor
        nTSecurityDescriptor:: AQAEgLAAAADMAAAAAAAAABQAAAACAJwABQAAAAAAFACUAAIAAQEAAAAAAAULAAAAAAAkAP8BDwABBQAAAAAABRUAAADoAwAA0AcAALgLAAAAAgAAAAAUAP8BDwABAQAAAAAABRIAAAAAAiQA/wADAAEFAAAAAAAFFQAAAOgDAADQBwAAuAsAAFEEAAAAEiQA/wEPAAEFAAAAAAAFFQAAAOgDAADQBwAAuAsAAAcCAAABBQAAAAAABRUAAADoAwAA0AcAALgLAAAAAgAAAQUAAAAAAAUVAAAA6AMAANAHAAC4CwAAAAIAAA==
        -

        # 2. re-create CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (msDS-DeviceRegistrationService): msDS-DeviceLocation is system-only, so the object is deleted and added again
        #    msDS-DeviceLocation was absent
        dn: CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
        changetype: delete

        dn: CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
        changetype: add
        objectClass: msDS-DeviceRegistrationService
        msDS-DeviceLocation: CN=RegisteredDevices,DC=contoso,DC=lab
        msDS-IsEnabled: TRUE
        msDS-MaximumRegistrationInactivityPeriod: 0
        adminDescription: created by devwb prepare
    "#]]
    .assert_eq(&render_ldif(&planned));
}

#[test]
fn powershell_of_a_fresh_forest() {
    let planned = plan(&fresh(), &PlanOptions::default()).unwrap();
    expect![[r##"
        #Requires -Modules ActiveDirectory
        # devwb prepare: forest contoso.lab, devices in DC=contoso,DC=lab
        # connector account CONTOSO\svc-aadc (S-1-5-21-1000-2000-3000-1105)
        # Run as an Enterprise Admin of contoso.lab on a machine of that forest.
        # Generated from the forest as observed; objects found existing at run time are kept.
        $ErrorActionPreference = 'Stop'
        Import-Module ActiveDirectory

        $expectedForest = 'contoso.lab'
        $expectedConfigurationNC = 'CN=Configuration,DC=contoso,DC=lab'
        $currentForest = (Get-ADForest).Name
        $configurationNC = (Get-ADRootDSE).configurationNamingContext
        if ($currentForest -ne $expectedForest -or $configurationNC -ne $expectedConfigurationNC) {
            throw "This script prepares forest $expectedForest ($expectedConfigurationNC) but this machine is in forest $currentForest ($configurationNC). Run it in $expectedForest."
        }

        function Test-DevwbObject([string]$Dn) {
            try { $null = Get-ADObject -Identity $Dn; return $true }
            catch [Microsoft.ActiveDirectory.Management.ADIdentityNotFoundException] { return $false }
        }

        function Grant-DevwbAce([string]$Dn, [string]$Grant) {
            # /G <account>:<rights> grants, /I:T makes the ACE apply to this object and all descendants.
            & dsacls.exe $Dn /G $Grant /I:T | Out-Null
            if ($LASTEXITCODE -ne 0) { throw "dsacls failed ($LASTEXITCODE) granting $Grant on $Dn" }
        }

        # 1. create CN=RegisteredDevices,DC=contoso,DC=lab (msDS-DeviceContainer)
        if (-not (Test-DevwbObject 'CN=RegisteredDevices,DC=contoso,DC=lab')) {
            New-ADObject -Name 'RegisteredDevices' -Path 'DC=contoso,DC=lab' -Type 'msDS-DeviceContainer'
        }
        Grant-DevwbAce 'CN=RegisteredDevices,DC=contoso,DC=lab' 'CONTOSO\svc-aadc:GRGWCCDCSDDT'

        # 2. create CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (container)
        if (-not (Test-DevwbObject 'CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab')) {
            New-ADObject -Name 'Device Registration Configuration' -Path 'CN=Services,CN=Configuration,DC=contoso,DC=lab' -Type 'container'
        }
        Grant-DevwbAce 'CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab' 'CONTOSO\svc-aadc:GRGW'

        # 3. create CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (msDS-DeviceRegistrationServiceContainer)
        if (-not (Test-DevwbObject 'CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab')) {
            New-ADObject -Name 'Device Registration Services' -Path 'CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab' -Type 'msDS-DeviceRegistrationServiceContainer'
        }

        # 4. create CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (msDS-DeviceRegistrationService)
        if (-not (Test-DevwbObject 'CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab')) {
            New-ADObject -Name 'DeviceRegistrationService' -Path 'CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab' -Type 'msDS-DeviceRegistrationService' -OtherAttributes @{ 'msDS-DeviceLocation' = 'CN=RegisteredDevices,DC=contoso,DC=lab'; 'msDS-IsEnabled' = $true; 'msDS-MaximumRegistrationInactivityPeriod' = 0; 'adminDescription' = 'created by devwb prepare' }
        }

        Write-Host 'Device writeback preparation of contoso.lab done.'
    "##]].assert_eq(&render_ps1(&planned));
}

#[test]
fn powershell_of_a_partial_forest() {
    let mut o = prepared();
    o.device_registration_configuration =
        existing(dns().device_registration_configuration, &["container"], &[]);
    o.registration_services = vec![service(
        Some("CN=Users,DC=contoso,DC=lab"),
        Some("TRUE"),
        false,
    )];
    o.location_targets = vec![existing(
        dn("CN=Users,DC=contoso,DC=lab"),
        &["container"],
        &[],
    )];
    let planned = plan(&o, &PlanOptions::default()).unwrap();
    let script = render_ps1(&planned);
    let steps = script
        .split("\n\n")
        .filter(|block| block.starts_with("# 1.") || block.starts_with("# 2."))
        .collect::<Vec<_>>()
        .join("\n\n");
    expect![[r#"
        # 1. add ACE (A;CI;LCSWRPWPLORC;;;S-1-5-21-1000-2000-3000-1105) to the DACL of CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab
        Grant-DevwbAce 'CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab' 'CONTOSO\svc-aadc:GRGW'

        # 2. re-create CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab (msDS-DeviceRegistrationService): msDS-DeviceLocation is system-only, so the object is deleted and added again
        #    msDS-DeviceLocation was CN=Users,DC=contoso,DC=lab
        Remove-ADObject -Identity 'CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab' -Confirm:$false
        New-ADObject -Name 'DeviceRegistrationService' -Path 'CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,CN=Configuration,DC=contoso,DC=lab' -Type 'msDS-DeviceRegistrationService' -OtherAttributes @{ 'msDS-DeviceLocation' = 'CN=RegisteredDevices,DC=contoso,DC=lab'; 'msDS-IsEnabled' = $true; 'msDS-MaximumRegistrationInactivityPeriod' = 0; 'adminDescription' = 'created by devwb prepare' }"#]].assert_eq(&steps);
}

#[test]
fn a_line_break_in_a_value_read_from_the_directory_cannot_add_commands_or_records() {
    let injected = "CN=Users,DC=contoso,DC=lab\nRemove-ADObject -Identity 'DC=contoso,DC=lab'\r\ndn: DC=contoso,DC=lab";
    let mut o = prepared();
    o.registration_services = vec![service(Some(injected), Some("TRUE"), false)];
    o.forest.domains[0].dns_root = Some("contoso.lab\nRemove-Item C:\\".into());
    let planned = plan(&o, &PlanOptions::default()).unwrap();
    let script = render_ps1(&planned);
    let ldif = render_ldif(&planned);
    for rendered in [&script, &ldif, &planned.to_string()] {
        for line in rendered.lines() {
            assert!(
                !line.starts_with("Remove-ADObject -Identity 'DC=")
                    && !line.starts_with("dn: DC=contoso,DC=lab"),
                "the device location escaped its comment: {line:?}\n{rendered}"
            );
        }
    }
    assert!(
        script
            .contains("#    msDS-DeviceLocation was CN=Users,DC=contoso,DC=lab\\nRemove-ADObject"),
        "the value is still shown, escaped:\n{script}"
    );
    // The forest's DNS name (dnsRoot) in the comments; in the script's string literals a line
    // break is only text.
    assert!(
        !ldif.lines().any(|line| line.starts_with("Remove-Item")),
        "{ldif}"
    );
    assert!(
        script.contains("# Run as an Enterprise Admin of contoso.lab\\nRemove-Item C:\\ on"),
        "{script}"
    );
}

#[test]
fn every_kind_of_single_quote_from_the_directory_stays_inside_its_powershell_string() {
    // dnsRoot and sAMAccountName are directory text. In PowerShell U+2018 to U+201B end a
    // single-quoted string as `'` does, so each is doubled like it.
    let mut o = fresh();
    o.forest.domains[0].dns_root =
        Some("contoso\u{2019}; Remove-Item C:\\ -Recurse; \u{2018}.lab".into());
    let mut account = connector();
    account.sam_account_name = Some("svc\u{201A}x'\u{201B}".into());
    o.connector = Some(account);
    let planned = plan(&o, &PlanOptions::default()).unwrap();
    let script = render_ps1(&planned);
    let lines: String = script
        .lines()
        .filter(|line| {
            line.starts_with("$expectedForest")
                || line.starts_with("Grant-DevwbAce 'CN=RegisteredDevices")
                || line.starts_with("Write-Host")
        })
        .map(|line| format!("{line}\n"))
        .collect();
    expect![[r#"
        $expectedForest = 'contoso’’; Remove-Item C:\ -Recurse; ‘‘.lab'
        Grant-DevwbAce 'CN=RegisteredDevices,DC=contoso,DC=lab' 'CONTOSO\svc‚‚x''‛‛:GRGWCCDCSDDT'
        Write-Host 'Device writeback preparation of contoso’’; Remove-Item C:\ -Recurse; ‘‘.lab done.'
    "#]]
    .assert_eq(&lines);
}
