//! Prepares a forest for device writeback: plans, as data, the objects and ACEs of the
//! reference's table (device-writeback.md sections 1 and 2), then applies the plan through the
//! client crate, or writes it out as LDIF (`ldapmodify`) or a PowerShell script.
//!
//! The flow is [`observe()`] (read the forest, resolve the connector account) → [`plan()`] (pure: an
//! observation in, a [`Plan`] or a [`Refusal`] out) → [`apply()`] or [`render_ldif`] /
//! [`render_ps1`]. Applying converges: a second run plans nothing, and a partial state is
//! repaired in place. Unlike Microsoft's script, which deletes and re-creates the
//! DeviceRegistrationService object on every run, prepare keeps it; it re-creates it only when
//! its `msDS-DeviceLocation` must change, because that attribute is system-only in Microsoft's
//! schema and AD refuses to modify it (see [`Step::Recreate`]).
//!
//! This crate does not check a prepared forest for the user (that is `verify`), and deletes
//! nothing but that one object in that one case.

pub mod apply;
pub mod error;
pub mod plan;
pub mod render;

pub use apply::{apply, observe, Applied, PrepareRequest};
pub use error::{Error, ErrorKind};
pub use plan::{
    connector_ace, plan, AttributeChange, Connector, Plan, PlanOptions, Refusal, Step,
    CREATED_BY_MARKER, DEVICE_CONTAINER_MASK, REGISTRATION_CONFIGURATION_MASK,
};
pub use render::{dsacls_rights, render_ldif, render_ps1};

#[cfg(test)]
mod plan_tests;
