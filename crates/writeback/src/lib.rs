//! Device writeback: Entra devices (a Microsoft Graph `/devices` export) into `msDS-Device`
//! objects of an AD device container, in bulk, by delta, resumably.
//!
//! The pipeline, one module a step, in the order a device travels:
//! - [`source`]: stream the export (one page, a directory of pages, JSON Lines, or Graph pages
//!   held in memory or arriving live) and check each record; bad records are reported with file,
//!   record and field, and skipped; [`graph_delta`] turns one Graph delta round into a source of
//!   the changed devices and the ids of the removed ones;
//! - [`mapping`]: the Graph-to-AD table in one place, with its inferred choices named, and scope
//!   (the same-forest rule, a usable key);
//! - [`target`] finds the device container and the forest's scope; [`observe`] reads the
//!   container's device objects (or only those a delta round names) into a compact index;
//! - [`diff`]: the export against that index, device by device ([`Planner`]; a partial planner
//!   covers only the devices a delta round names);
//! - [`plan`]: the result as plain data (adds, minimal modifies, deletes of owned objects that
//!   left, or why they were withheld), with its report and LDIF;
//! - [`undo`]: before anything is deleted or modified, the objects as they were, in an LDIF file
//!   that `ldapmodify -a` replays;
//! - [`apply`]: the plan through devwb-ldap's bulk apply, with convergence on
//!   `entryAlreadyExists`.
//!
//! [`run`] chains them ([`run::plan`], [`run::plan_partial`], [`run::run`]).
//!
//! Deletes are guarded: an export that cannot be the whole tenant, or more deletes than the run's
//! limit, withholds them all (see [`DeletesWithheld`]), and what is deleted can be restored.
//!
//! Resumability is a property of the design, not of a journal: every run recomputes the delta from
//! the directory, and a device's DN is fixed (`CN=<deviceId>,<container>`), so a run killed at any
//! point leaves a directory from which the next run plans exactly what is still missing, with no
//! duplicate and no lost device.
//!
//! [`synthetic`] (the devwb-synthetic crate, re-exported) generates realistic exports for tests,
//! benches and `cargo xtask gen-devices`.
//!
//! This crate does not print, read the environment, or prepare the forest (that is
//! devwb-prepare); it logs through `tracing`.

pub mod apply;
pub mod diff;
pub mod error;
pub mod graph_delta;
pub mod mapping;
pub mod observe;
mod page;
pub mod plan;
mod reads;
pub mod run;
pub mod source;
pub mod target;
pub mod undo;

/// The synthetic device generator, which moved to its own crate so the simulator's fake tenant
/// can use it without depending on this one; re-exported so existing paths keep working.
pub use devwb_synthetic as synthetic;

pub use apply::{apply, WritebackOptions, WritebackProgress, WritebackReport};
pub use diff::{DeleteLimit, PlanOptions, Planner, PreparedRecord};
pub use error::{RecordError, WritebackError};
pub use graph_delta::{page_id_pairs, DeltaChanges};
pub use mapping::{ForestScope, SkipReason};
pub use observe::{ObservedDevices, RemovedDevice};
pub use plan::{DeleteReason, DeletesWithheld, PlanReport, WritebackPlan};
pub use run::{desired_device_ids, plan, plan_observed, plan_partial, run};
pub use source::{DeviceSource, SourceFormat, SourceRecord};
pub use target::{discover, Target};
