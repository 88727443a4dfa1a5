//! Security descriptors, one module per concern, with the shared fixtures here.

mod access; // The access check: DACL walk, object type lists, owner, PS.
mod acl; // DACL helpers prepare and verify use: grants, insert_explicit, canonical order.
mod binary; // Self-relative binary form: golden bytes, round trips, hostile input.
mod inherit; // A new object's descriptor from the explicit one and the parent's.
mod oracle; // Differential tests against the win-sd crate.
mod sddl; // SDDL: every default descriptor of Microsoft's schema, errors, round trips.

use devwb_model::sd::{SddlContext, SecurityDescriptor};
use devwb_model::{Guid, Sid};

/// The domain the fixtures live in.
pub fn domain() -> Sid {
    Sid::parse("S-1-5-21-1004336348-1177238915-682003330").expect("valid")
}

/// A forest root domain distinct from [`domain`], so `EA` and `DA` resolve differently.
pub fn root_domain() -> Sid {
    Sid::parse("S-1-5-21-11-22-33").expect("valid")
}

/// The context of a child domain in a two-domain forest.
pub fn context() -> SddlContext {
    SddlContext::with_root(domain(), root_domain())
}

/// The AD connector account.
pub fn connector() -> Sid {
    domain().with_rid(1105)
}

/// Parses SDDL in [`context`]; panics with the error for fixtures that must be valid.
pub fn sd(sddl: &str) -> SecurityDescriptor {
    SecurityDescriptor::from_sddl(sddl, &context())
        .unwrap_or_else(|error| panic!("{sddl}: {error}"))
}

/// A GUID fixture.
pub fn guid(text: &str) -> Guid {
    Guid::parse(text).expect("valid GUID")
}

/// schemaIDGUIDs used by the fixtures.
pub const MS_DS_DEVICE: &str = "5df2b673-6d41-4774-b3e8-d52e8ee9ff99";
pub const MS_DS_DEVICE_CONTAINER: &str = "7c9e8c58-901b-4ea8-b6ec-4eb9e9fc0e11";
pub const CONTAINER: &str = "bf967a8b-0de6-11d0-a285-00aa003049e2";
pub const USER: &str = "bf967aba-0de6-11d0-a285-00aa003049e2";
pub const GROUP: &str = "bf967a9c-0de6-11d0-a285-00aa003049e2";

/// The default descriptors of Microsoft's schema: (class, SDDL).
pub fn default_descriptors() -> Vec<(&'static str, &'static str)> {
    include_str!("data/default_security_descriptors.tsv")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| line.split_once('\t').expect("class<TAB>SDDL"))
        .collect()
}
