//! The trip of one run in one place: observe the container, stream the source through the diff
//! into a plan, apply it. Each stage is its own module; these functions only chain them.

use devwb_ldap::Client;

use crate::apply::{apply, WritebackOptions, WritebackProgress, WritebackReport};
use crate::diff::{PlanOptions, Planner};
use crate::error::WritebackError;
use crate::mapping::ForestScope;
use crate::observe::{observe, observe_listed, ObservedDevices, RemovedDevice};
use crate::plan::WritebackPlan;
use crate::source::DeviceSource;
use crate::target::Target;

/// Reads the container and streams the source into a plan.
pub fn plan(
    client: &Client,
    target: &Target,
    source: &DeviceSource,
    options: PlanOptions,
) -> Result<WritebackPlan, WritebackError> {
    plan_observed(observe(client, target)?, target, source, options)
}

/// Streams the source into a plan against a container already read with [`observe`] (a caller
/// that reads the source from elsewhere meanwhile, as `sync` does, observes first).
pub fn plan_observed(
    observed: ObservedDevices,
    target: &Target,
    source: &DeviceSource,
    options: PlanOptions,
) -> Result<WritebackPlan, WritebackError> {
    let mut planner = Planner::new(observed, target.scope.clone(), options);
    let summary = planner.push_source(source)?;
    Ok(planner.finish(&summary))
}

/// Plans a partial round (a Graph delta round): reads only the objects of the devices `source`
/// lists and of `removed_object_ids` (see [`observe_listed`]), and plans with
/// [`Planner::partial`]. The source is read into memory: a round is its changes, not the tenant.
pub fn plan_partial(
    client: &Client,
    target: &Target,
    source: &DeviceSource,
    removed: &[RemovedDevice],
    options: PlanOptions,
    owned_in_container: u64,
) -> Result<WritebackPlan, WritebackError> {
    let (records, summary) = source.read_all()?;
    let mut listed: Vec<devwb_model::Guid> = records
        .iter()
        .filter_map(|record| match record {
            crate::source::SourceRecord::Device(device) => Some(device.device_id),
            crate::source::SourceRecord::Bad(error) => error
                .device_id
                .as_deref()
                .and_then(|id| devwb_model::Guid::parse(id).ok()),
        })
        .collect();
    listed.sort();
    listed.dedup();
    let (observed, removed) = observe_listed(client, target, &listed, removed)?;
    let mut planner = Planner::partial(observed, target.scope.clone(), options, owned_in_container);
    for record in records {
        planner.push(record);
    }
    for id in removed {
        planner.remove(id);
    }
    Ok(planner.finish(&summary))
}

/// Discovers, plans and applies in one call (what `devwb writeback` does without `--dry-run`).
pub fn run(
    client: &Client,
    target: &Target,
    source: &DeviceSource,
    plan_options: PlanOptions,
    options: &WritebackOptions,
    progress: &mut dyn FnMut(&WritebackProgress),
) -> Result<(WritebackPlan, WritebackReport), WritebackError> {
    let plan = plan(client, target, source, plan_options)?;
    let report = apply(client, &plan, options, progress)?;
    Ok((plan, report))
}

/// The device ids the export wants in the container: records that pass their checks and are in
/// scope, the first of repeated ids. What verify's device comparison expects after a run.
pub fn desired_device_ids(
    source: &DeviceSource,
    scope: &ForestScope,
) -> Result<Vec<devwb_model::Guid>, WritebackError> {
    let mut ids = Vec::new();
    let mut seen = std::collections::HashSet::new();
    source.for_each(&mut |record| {
        if let crate::source::SourceRecord::Device(device) = record {
            if crate::mapping::map_device(&device, scope).is_ok() && seen.insert(device.device_id) {
                ids.push(device.device_id);
            }
        }
    })?;
    Ok(ids)
}
