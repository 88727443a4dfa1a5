//! Checklist items 2 and 3: the configuration objects, exactly one DeviceRegistrationService
//! where the wizard puts it, with all its required attributes, and an `msDS-DeviceLocation`
//! that names an existing `msDS-DeviceContainer` directly under a domain head.

use devwb_model::schema::{DEVICE_CONTAINER, DEVICE_REGISTRATION_SERVICE_CONTAINER};
use devwb_model::Dn;

use super::{ids, schema_blocks, CheckBuilder};
use crate::observed::{class_name, Observed, RegistrationService};
use crate::remedies;
use crate::report::{Check, Fixable, Remedy};

fn connector_name(observed: &Observed) -> Option<&str> {
    observed
        .connector
        .as_ref()
        .map(|connector| connector.named.as_str())
}

/// The remedy "run prepare", with Microsoft's equivalent.
pub(super) fn prepare_remedy(observed: &Observed, summary: &str, extra: &str) -> Remedy {
    Remedy::new(summary)
        .command(remedies::devwb_prepare(
            observed.domain(),
            connector_name(observed),
            extra,
        ))
        .command(remedies::initialize_adsync_device_writeback(
            observed.domain(),
            connector_name(observed),
        ))
}

/// `configuration-containers`: `CN=Device Registration Configuration` (a `container`) and
/// `CN=Device Registration Services` (an `msDS-DeviceRegistrationServiceContainer`) exist.
pub(super) fn configuration_containers(observed: &Observed) -> Check {
    let mut check = CheckBuilder::new(
        ids::CONFIGURATION_CONTAINERS,
        "Device Registration Configuration and Device Registration Services containers exist",
    );
    if let Some(why) = schema_blocks(observed) {
        return check.skip(why);
    }
    let mut problems = Vec::new();
    match observed.configuration_container() {
        Some(object) => {
            check.push_evidence(
                "configuration container",
                format!("{} ({})", object.dn, class_name(object)),
            );
            if !object.is_a("container") {
                problems.push(format!(
                    "{} is a {}, not a container",
                    object.dn,
                    class_name(object)
                ));
            }
        }
        None => {
            let dn = observed.configuration_container_dn();
            check.push_evidence("configuration container", format!("{dn} does not exist"));
            problems.push(format!("{dn} does not exist"));
        }
    }
    match observed.service_container() {
        Some(object) => {
            check.push_evidence(
                "service container",
                format!("{} ({})", object.dn, class_name(object)),
            );
            if !object.is_a(DEVICE_REGISTRATION_SERVICE_CONTAINER.name) {
                problems.push(format!(
                    "{} is a {}, not an {}",
                    object.dn,
                    class_name(object),
                    DEVICE_REGISTRATION_SERVICE_CONTAINER.name
                ));
            }
        }
        None => {
            let dn = observed.service_container_dn();
            check.push_evidence("service container", format!("{dn} does not exist"));
            problems.push(format!("{dn} does not exist"));
        }
    }
    if problems.is_empty() {
        check.pass()
    } else {
        let summary = format!(
            "Prepare the forest for device writeback: {}.",
            problems.join("; ")
        );
        check.fail(prepare_remedy(observed, &summary, ""), Fixable::ByPrepare)
    }
}

/// `registration-service-count`: the wizard's query finds exactly one object; duplicates are
/// named, with the one to keep.
pub(super) fn count(observed: &Observed) -> Check {
    let mut check = CheckBuilder::new(
        ids::REGISTRATION_SERVICE_COUNT,
        "Exactly one msDS-DeviceRegistrationService object in the forest",
    )
    .evidence(
        "query",
        format!(
            "(objectClass=msDS-DeviceRegistrationService) under {}, subtree",
            observed.services_dn()
        ),
    );
    if let Some(why) = schema_blocks(observed) {
        return check.skip(why);
    }
    let services = observed.registration_services();
    for service in services {
        check.push_evidence("found", &service.dn);
    }
    match services.len() {
        0 => check.evidence("found", "nothing").fail(
            prepare_remedy(
                observed,
                "Prepare the forest: no DeviceRegistrationService object exists.",
                "",
            ),
            Fixable::ByPrepare,
        ),
        1 => check.pass(),
        n => {
            let keep = observed.primary_service().map(|service| service.dn.clone());
            let mut remedy = Remedy::new(format!(
                "Only one device registration configuration object may exist per forest; {n} were found. Keep {} and delete the others after checking they are not in use.",
                keep.as_ref().map(Dn::to_string).unwrap_or_default()
            ));
            for service in services
                .iter()
                .filter(|service| Some(&service.dn) != keep.as_ref())
            {
                for command in remedies::delete_duplicate(&service.dn) {
                    remedy = remedy.command(command);
                }
            }
            check.fail(remedy, Fixable::ByDeletingDuplicates)
        }
    }
}

/// `registration-service-placement`: the service object is at
/// `CN=DeviceRegistrationService,CN=Device Registration Services,CN=Device Registration Configuration,CN=Services,<config>`.
pub(super) fn placement(observed: &Observed) -> Check {
    let expected = observed.expected_service_dn();
    let check = CheckBuilder::new(
        ids::REGISTRATION_SERVICE_PLACEMENT,
        "DeviceRegistrationService object is where the wizard looks for it",
    )
    .evidence("expected", &expected);
    if let Some(why) = schema_blocks(observed) {
        return check.skip(why);
    }
    if observed.registration_services().is_empty() {
        return check.skip(format!(
            "no service object exists (see {})",
            ids::REGISTRATION_SERVICE_COUNT
        ));
    }
    if observed
        .registration_services()
        .iter()
        .any(|service| service.dn == expected)
    {
        check.pass()
    } else {
        let found: Vec<String> = observed
            .registration_services()
            .iter()
            .map(|s| s.dn.to_string())
            .collect();
        check.evidence("found", found.join("; ")).fail(
            prepare_remedy(
                observed,
                &format!("Create the service object at {expected}; the objects found elsewhere are not the wizard's."),
                "",
            ),
            Fixable::ByPrepare,
        )
    }
}

/// The service object the later checks examine, or why they are skipped.
fn service_or_skip(observed: &Observed) -> Result<&RegistrationService, String> {
    if let Some(why) = schema_blocks(observed) {
        return Err(why);
    }
    observed.primary_service().ok_or_else(|| {
        format!(
            "no service object exists (see {})",
            ids::REGISTRATION_SERVICE_COUNT
        )
    })
}

/// `registration-service-attributes`: the service object has `msDS-DeviceLocation` and
/// `msDS-IsEnabled` (AD FS can leave one without them), and is enabled.
pub(super) fn attributes(observed: &Observed) -> Check {
    let mut check = CheckBuilder::new(
        ids::REGISTRATION_SERVICE_ATTRIBUTES,
        "DeviceRegistrationService has msDS-DeviceLocation and msDS-IsEnabled",
    );
    let service = match service_or_skip(observed) {
        Ok(service) => service,
        Err(why) => return check.skip(why),
    };
    check.push_evidence("object", &service.dn);
    check.push_evidence(
        "msDS-DeviceLocation",
        service.device_location.as_deref().unwrap_or("(absent)"),
    );
    check.push_evidence(
        "msDS-IsEnabled",
        service.is_enabled.as_deref().unwrap_or("(absent)"),
    );
    let container = observed.expected_device_container_dn();
    let mut missing = Vec::new();
    let mut remedy_commands = Vec::new();
    if service.device_location.is_none() {
        missing.push("msDS-DeviceLocation");
        remedy_commands.extend(remedies::recreate_service(&service.dn, &container));
    } else if service.is_enabled.is_none() {
        remedy_commands.push(remedies::set_is_enabled(&service.dn));
    }
    if service.is_enabled.is_none() {
        missing.push("msDS-IsEnabled");
    }
    if !missing.is_empty() {
        check.push_evidence(
            "diagnosis",
            "a DeviceRegistrationService object without all the required attributes: the partial configuration AD FS leaves behind",
        );
        let mut remedy = prepare_remedy(
            observed,
            &format!(
                "Set {} on {}, pointing it at {container}{}.",
                missing.join(" and "),
                service.dn,
                if service.device_location.is_none() {
                    " (msDS-DeviceLocation is system-only: it can only be set when the object is created, so the object is deleted and created again)"
                } else {
                    ""
                }
            ),
            "",
        );
        remedy.commands.extend(remedy_commands);
        return check.fail(remedy, Fixable::ByPrepare);
    }
    match service.is_enabled.as_deref() {
        Some(value) if value.eq_ignore_ascii_case("TRUE") => check.pass(),
        _ => check.warn(
            Remedy::new("Enable the device registration configuration.")
                .command(remedies::set_is_enabled(&service.dn)),
        ),
    }
}

/// `device-location-target`: `msDS-DeviceLocation` names an existing `msDS-DeviceContainer`
/// directly under a domain head (its only possible superior) of a domain of this forest, in the
/// domain named. A container in another domain of the forest was read on that domain's DC; one
/// that could not be reached fails this check, naming it.
pub(super) fn location_target(observed: &Observed) -> Check {
    let mut check = CheckBuilder::new(
        ids::DEVICE_LOCATION_TARGET,
        "msDS-DeviceLocation names an msDS-DeviceContainer directly under a domain head",
    );
    let service = match service_or_skip(observed) {
        Ok(service) => service,
        Err(why) => return check.skip(why),
    };
    let Some(location) = service.device_location.as_deref() else {
        return check.skip(format!(
            "msDS-DeviceLocation is absent (see {})",
            ids::REGISTRATION_SERVICE_ATTRIBUTES
        ));
    };
    check.push_evidence("msDS-DeviceLocation", location);
    let container = observed.expected_device_container_dn();
    let repoint = |observed: &Observed, problem: String| {
        let mut remedy = prepare_remedy(
            observed,
            &format!("{problem}. Point msDS-DeviceLocation at {container}: the attribute is system-only, so the service object is deleted and created again pointing there (--allow-repoint lets prepare do that to an object it did not create)."),
            " --allow-repoint",
        );
        remedy
            .commands
            .extend(remedies::recreate_service(&service.dn, &container));
        remedy
    };
    let location_dn = match Dn::parse(location) {
        Ok(dn) => dn,
        Err(error) => {
            return check.fail(
                repoint(
                    observed,
                    format!("msDS-DeviceLocation is not a DN ({error})"),
                ),
                Fixable::ByPrepare,
            );
        }
    };
    let heads = observed.domain_heads();
    if !heads.iter().any(|head| location_dn.is_within(head)) {
        check.push_evidence("domain", "none of this forest");
        let domains: Vec<String> = heads.iter().map(|head| head.to_string()).collect();
        let problem = format!(
            "{location_dn} is in no domain of this forest ({}): device writeback writes devices into one domain of the forest the connector belongs to",
            domains.join("; ")
        );
        return check.fail(repoint(observed, problem), Fixable::ByPrepare);
    }
    let target = observed
        .location_target()
        .filter(|target| target.dn == location_dn);
    if let Some(why) = observed.location_target_unreachable() {
        check.push_evidence("target", "its domain's DC cannot be reached");
        return check.fail(
            Remedy::new(format!(
                "{location_dn} could not be read: {why}. Devices are written there, so the connector must reach that domain's DC; check that domain's DCs and the network between them and this host."
            )),
            Fixable::No,
        );
    }
    let Some(target) = target else {
        check.push_evidence("target", "does not exist");
        return check.fail(
            repoint(observed, format!("{location_dn} does not exist")),
            Fixable::ByPrepare,
        );
    };
    check.push_evidence("objectClass", target.object_classes.join(", "));
    if !target.is_a(DEVICE_CONTAINER.name) {
        let problem = format!(
            "{location_dn} is of class {}, not {}: devices cannot be created there",
            class_name(target),
            DEVICE_CONTAINER.name
        );
        return check.fail(repoint(observed, problem), Fixable::ByPrepare);
    }
    let parent = location_dn.parent();
    match parent.as_ref() {
        Some(parent) if observed.is_domain_head(parent) => {}
        _ => {
            let parent_text = parent
                .map(|p| p.to_string())
                .unwrap_or_else(|| "(none)".to_string());
            check.push_evidence("parent", &parent_text);
            let problem = format!(
                "{location_dn} is not directly under a domain head (its parent is {parent_text})"
            );
            return check.fail(repoint(observed, problem), Fixable::ByPrepare);
        }
    }
    if location_dn != container && !location_dn.is_within(observed.domain()) {
        check.push_evidence("domain named", observed.domain());
        return check.warn(
            Remedy::new(format!(
                "The devices go to another domain than the one named ({}); run prepare for the domain you want if this is not intended.",
                observed.domain()
            ))
            .command(remedies::devwb_prepare(observed.domain(), connector_name(observed), " --allow-repoint")),
        );
    }
    check.pass()
}
