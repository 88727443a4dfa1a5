//! Scenarios on a forest of three domains ([`Shape::ThreeDomains`](crate::Shape)): the root
//! `contoso.lab`, its child `emea.contoso.lab` and a second tree `fabrikam.lab`, each with its
//! own DC, and a global catalog. devwb is connected to the root domain's DC throughout, as an
//! admin whose Entra Connect server sits in the root domain would run it.

use std::sync::Arc;

use devwb_ldap::{Client, ErrorKind};
use devwb_model::{Dn, Rdn, SchemaLevel, Sid};
use devwb_verify::{ids, Status};
use devwb_writeback::synthetic::{SyntheticConfig, SyntheticDevices};

use crate::backend::{CHILD, TREE};
use crate::scenarios::Scenario;
use crate::scenarios::{
    always_available, connector_name, devices_in_container, expect, expect_all_pass,
    plan_prepare_in, prepare_in, status_of, verify_with, write_devices, writeback, CONNECTOR,
    CONNECTOR_PASSWORD,
};
use crate::{BackendForest, Outcome, Shape};

/// The three-domain rows of the scenario table, in the order they are reported.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "three_domains_devices_in_the_child_connector_in_the_root_owners_everywhere",
        level: SchemaLevel::W2012R2,
        shape: Shape::ThreeDomains,
        run: devices_in_the_child_connector_in_the_root_owners_everywhere,
        unavailable: always_available,
    },
    Scenario {
        name: "three_domains_accounts_resolve_through_the_global_catalog_while_a_dc_is_down",
        level: SchemaLevel::W2012R2,
        shape: Shape::ThreeDomains,
        run: accounts_resolve_through_the_global_catalog_while_a_dc_is_down,
        unavailable: always_available,
    },
    Scenario {
        name: "three_domains_a_dc_that_is_down_is_named_and_nothing_is_deleted",
        level: SchemaLevel::W2012R2,
        shape: Shape::ThreeDomains,
        run: a_dc_that_is_down_is_named_and_nothing_is_deleted,
        unavailable: always_available,
    },
];

/// Owners of this SID's domain belong to no domain of the forest.
const FOREIGN_DOMAIN: &str = "S-1-5-21-111111111-222222222-333333333";

/// `CN=RegisteredDevices,<domain>`.
fn registered_devices(domain: &Dn) -> Result<Dn, String> {
    Ok(domain.child(Rdn::new("CN", "RegisteredDevices").map_err(|e| e.to_string())?))
}

/// The client that holds `dn`: `client` itself, or the DC its referral names.
fn holder(client: &Client, dn: &Dn) -> Result<Option<Arc<Client>>, String> {
    client
        .holder_of(dn)
        .map_err(|e| format!("reaching the DC that holds {dn}: {e}"))
}

/// prepare and verify for the child domain with the connector in the root; devices whose owners
/// are spread over the three domains are written into the child's container through its DC,
/// and those whose owner is of another forest are left out.
pub fn devices_in_the_child_connector_in_the_root_owners_everywhere(
    forest: &BackendForest,
) -> Outcome {
    forest.create_user(CONNECTOR, CONNECTOR_PASSWORD)?;
    let child = forest.other_domain(CHILD)?.clone();
    let tree = forest.other_domain(TREE)?.clone();
    let steps = prepare_in(forest, Some(child.dn.clone()))?;
    expect(steps > 0, || {
        "prepare for the child domain applied no step".to_string()
    })?;
    let admin = forest.admin_client()?;
    expect_all_pass(
        &verify_with(&admin, forest, Some(child.dn.clone()), None)?,
        "verify for the child domain after prepare",
    )?;
    let again = plan_prepare_in(forest, &admin, Some(child.dn.clone()))?
        .map_err(|refusal| format!("the second prepare was refused: {refusal}"))?;
    expect(again.is_empty(), || {
        format!("the second prepare for the child planned steps:\n{again}")
    })?;

    let root_sid = forest.domain_sid()?;
    let foreign = Sid::parse(FOREIGN_DOMAIN).map_err(|e| e.to_string())?;
    let config = SyntheticConfig {
        owner_domains: vec![root_sid, child.sid, tree.sid],
        foreign_domains: vec![foreign],
        foreign_fraction: 0.2,
        ..SyntheticConfig::new(300, 31, root_sid)
    };
    let devices: Vec<_> = SyntheticDevices::new(config.clone()).collect();
    let in_forest: Vec<_> = devices
        .iter()
        .filter(|device| !device.owner_sid.is_in_domain(&foreign))
        .map(|device| device.device_id)
        .collect();
    for (name, sid) in [("root", root_sid), ("child", child.sid), ("tree", tree.sid)] {
        expect(
            devices
                .iter()
                .any(|device| device.owner_sid.is_in_domain(&sid)),
            || format!("the generated devices have no owner in the {name} domain"),
        )?;
    }
    expect(in_forest.len() < devices.len(), || {
        "the generated devices have no owner of another forest".to_string()
    })?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let export = work.path().join("devices.json");
    write_devices(&export, config, |_, _| true)?;

    let connector = forest.client_as(&connector_name(forest), CONNECTOR_PASSWORD)?;
    let target = devwb_writeback::discover(&connector, None)
        .map_err(|e| format!("writeback discover: {e}"))?;
    let expected_container = registered_devices(&child.dn)?;
    expect(target.container == expected_container, || {
        format!(
            "writeback found the container {}, expected the child's {expected_container}",
            target.container
        )
    })?;
    let referred = holder(&connector, &target.container)?;
    expect(referred.is_some(), || {
        "the root's DC answered for the child's container instead of referring".to_string()
    })?;
    let writer: &Client = referred.as_deref().unwrap_or(&connector);
    let (plan, report) = writeback(writer, &target, &export, "writeback into the child")?;
    expect(
        plan.adds.len() == in_forest.len() && report.added == in_forest.len() as u64,
        || {
            format!(
                "{} adds planned and {} made, expected the {} devices owned in the forest",
                plan.adds.len(),
                report.added,
                in_forest.len()
            )
        },
    )?;
    expect(
        plan.skipped.len() == devices.len() - in_forest.len(),
        || {
            format!(
                "{} devices skipped, expected the {} owned in another forest",
                plan.skipped.len(),
                devices.len() - in_forest.len()
            )
        },
    )?;
    // Read back on the child's own DC.
    let on_child = Client::connect(&forest.options_at(&child.ldaps_url)?, Some(&forest.admin))
        .map_err(|e| format!("bind on the child's DC: {e}"))?;
    let held = devices_in_container(&on_child, &target)?;
    expect(held == in_forest.len(), || {
        format!(
            "the child's DC holds {held} devices, expected {}",
            in_forest.len()
        )
    })?;
    let report = verify_with(&admin, forest, Some(child.dn.clone()), Some(in_forest))?;
    let status = status_of(&report, ids::DEVICES_MATCH)?;
    expect(status == Status::Pass, || {
        format!("verify's device comparison in the child was {status:?}")
    })
}

/// With the global catalog given, accounts and SIDs of every domain resolve while the child's
/// DC is down; without it, the same lookup fails naming that DC and the domain.
pub fn accounts_resolve_through_the_global_catalog_while_a_dc_is_down(
    forest: &BackendForest,
) -> Outcome {
    const PASSWORD: &str = "Forest-User-Pa55!";
    let child = forest.other_domain(CHILD)?.clone();
    let (alice_dn, alice_sid) = forest.create_user_in(CHILD, "alice", PASSWORD)?;
    let (bob_dn, _) = forest.create_user_in(TREE, "bob", PASSWORD)?;
    let gc_url = forest
        .gc_ldaps_url
        .clone()
        .ok_or("the three-domain forest has no global catalog")?;
    forest.set_dc_refusing(CHILD, true)?;

    let with_gc = forest
        .options()?
        .with_global_catalog(&gc_url)
        .map_err(|e| e.to_string())?;
    let admin = Client::connect(&with_gc, Some(&forest.admin))
        .map_err(|e| format!("bind on the root's DC: {e}"))?;
    let root_dse = admin.root_dse().map_err(|e| e.to_string())?;
    let domains = admin
        .forest_domains(&root_dse)
        .map_err(|e| format!("forest domains: {e}"))?;
    let child_sid = domains.by_nc(&child.dn).and_then(|domain| domain.sid);
    expect(child_sid == Some(child.sid), || {
        format!(
            "the child's SID from the global catalog was {child_sid:?}, expected {}",
            child.sid
        )
    })?;
    for name in [
        format!("{}\\alice", child.netbios),
        format!("alice@{CHILD}"),
        alice_dn.to_string(),
    ] {
        let account = admin
            .resolve_account(&name, &domains)
            .map_err(|e| format!("{name} through the global catalog: {e}"))?;
        expect(account.dn == alice_dn && account.sid == alice_sid, || {
            format!("{name} resolved to {} {}", account.dn, account.sid)
        })?;
    }
    let by_sid = admin
        .account_of_sid(&alice_sid, &domains)
        .map_err(|e| format!("alice's SID through the global catalog: {e}"))?;
    expect(
        by_sid
            .as_ref()
            .is_some_and(|account| account.dn == alice_dn),
        || format!("alice's SID resolved to {by_sid:?}"),
    )?;
    let bob = admin
        .resolve_account(&format!("bob@{TREE}"), &domains)
        .map_err(|e| format!("bob@{TREE} through the global catalog: {e}"))?;
    expect(bob.dn == bob_dn, || format!("bob resolved to {}", bob.dn))?;

    // Without the global catalog: the tree's DC is up and answers; the child's is named.
    let admin = forest.admin_client()?;
    let domains = admin
        .forest_domains(&root_dse)
        .map_err(|e| format!("forest domains without a GC: {e}"))?;
    let bob = admin
        .resolve_account(&format!("bob@{TREE}"), &domains)
        .map_err(|e| format!("bob@{TREE} through the tree's referral: {e}"))?;
    expect(bob.dn == bob_dn, || format!("bob resolved to {}", bob.dn))?;
    let name = format!("{}\\alice", child.netbios);
    match admin.resolve_account(&name, &domains) {
        Ok(account) => Err(format!(
            "{name} resolved to {} with its DC down and no global catalog",
            account.dn
        )),
        Err(error) => {
            let text = error.to_string();
            expect(
                matches!(error.kind(), ErrorKind::ReferralFailed { .. })
                    && text.contains(&child.ldaps_url)
                    && text.contains(&child.dn.to_string())
                    && text.contains("--gc-url"),
                || format!("{name} with the child's DC down failed with: {text}"),
            )
        }
    }
}

/// Devices written into the child; then its DC goes down. prepare and writeback stop with an
/// error naming that DC, verify runs and fails the check of the container it cannot reach, and
/// once the DC is back every device is still there.
pub fn a_dc_that_is_down_is_named_and_nothing_is_deleted(forest: &BackendForest) -> Outcome {
    const COUNT: usize = 50;
    forest.create_user(CONNECTOR, CONNECTOR_PASSWORD)?;
    let child = forest.other_domain(CHILD)?.clone();
    prepare_in(forest, Some(child.dn.clone()))?;
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let all = work.path().join("all.json");
    let config = SyntheticConfig::new(COUNT as u64, 41, child.sid);
    write_devices(&all, config.clone(), |_, _| true)?;
    let connector = forest.client_as(&connector_name(forest), CONNECTOR_PASSWORD)?;
    let target = devwb_writeback::discover(&connector, None)
        .map_err(|e| format!("writeback discover: {e}"))?;
    {
        let referred = holder(&connector, &target.container)?;
        let writer: &Client = referred.as_deref().unwrap_or(&connector);
        let (_, report) = writeback(writer, &target, &all, "first writeback")?;
        expect(report.added == COUNT as u64, || {
            format!("first writeback: {report:?}")
        })?;
    }

    forest.set_dc_refusing(CHILD, true)?;
    let names_the_child = |text: &str| text.contains(&child.ldaps_url);
    // prepare: observing the child's container needs its DC.
    let admin = forest.admin_client()?;
    match plan_prepare_in(forest, &admin, Some(child.dn.clone())) {
        Err(text) => expect(names_the_child(&text), || {
            format!("prepare with the child's DC down failed without naming it: {text}")
        })?,
        Ok(_) => return Err("prepare planned for a domain whose DC is down".to_string()),
    }
    // verify for the root domain: the service points at the child's container, which cannot
    // be read; the check says so, naming the DC, and the other checks still run.
    let report = verify_with(&admin, forest, None, None)?;
    let check = report
        .check(ids::DEVICE_LOCATION_TARGET)
        .ok_or("the report has no device-location-target check")?;
    let seen = format!("{:?} {:?}", check.evidence, check.remedy);
    expect(
        check.status == Status::Fail && names_the_child(&seen),
        || {
            format!(
                "device-location-target with the child's DC down: {:?} {seen}",
                check.status
            )
        },
    )?;
    expect(report.checks.len() > 5, || {
        format!("verify ran only {} checks", report.checks.len())
    })?;
    // writeback reaches the container through its DC, which cannot be reached: it stops there.
    let connector = forest.client_as(&connector_name(forest), CONNECTOR_PASSWORD)?;
    match connector.holder_of(&target.container) {
        Err(error) => expect(names_the_child(&error.to_string()), || {
            format!("writeback with the child's DC down failed without naming it: {error}")
        })?,
        Ok(_) => return Err("the child's container was reachable with its DC down".to_string()),
    }

    forest.set_dc_refusing(CHILD, false)?;
    let on_child = Client::connect(&forest.options_at(&child.ldaps_url)?, Some(&forest.admin))
        .map_err(|e| format!("bind on the child's DC once it is back: {e}"))?;
    let held = devices_in_container(&on_child, &target)?;
    expect(held == COUNT, || {
        format!("after the outage the child holds {held} devices, expected {COUNT}")
    })
}
