//! The request vocabulary: what one LDAP request is, in the terms every layer of the request
//! path shares: the [`Operation`], who is bound ([`Identity`]), the request's parsed
//! [`RequestControls`], the [`Modification`]s of a modify, the [`OpContext`] a semantics
//! decision is made in, what the fault layer decided ([`FaultDecision`]) and how values
//! compare ([`Matching`]).
//!
//! The codec and the LDIF reader produce these values, the handler passes them on, the
//! semantics layer, the schema rules, the filters and the fault layer decide on them. This
//! module holds data only and imports no layer of the request path but the store (the
//! directory an [`OpContext`] names), so none of them has to import another to name a
//! request: `cargo test -p devwb-simulator --test it module_cycles` checks that the
//! simulator's modules import each other without a cycle.

use std::time::Duration;

use bytes::Bytes;
use devwb_model::sd::SecurityInformation;
use devwb_model::{Dn, Sid};

use crate::error::OpError;
use crate::store::Store;

/// The bound identity of a connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The account's DN; `None` when anonymous.
    pub dn: Option<Dn>,
    /// The account's SID, when it has one.
    pub sid: Option<Sid>,
}

impl Identity {
    /// The anonymous identity.
    pub fn anonymous() -> Identity {
        Identity::default()
    }

    /// Whether nobody is bound.
    pub fn is_anonymous(&self) -> bool {
        self.dn.is_none()
    }
}

/// The kind of operation being performed, for faults and logging.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    Bind,
    Search,
    Add,
    Modify,
    Delete,
    ModifyDn,
    Compare,
    Extended,
}

impl Operation {
    /// The operation's name as used in logs and fault rules (`add`, `search`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Operation::Bind => "bind",
            Operation::Search => "search",
            Operation::Add => "add",
            Operation::Modify => "modify",
            Operation::Delete => "delete",
            Operation::ModifyDn => "modifyDN",
            Operation::Compare => "compare",
            Operation::Extended => "extended",
        }
    }
}

/// Everything a semantics decision may depend on about the request in flight.
#[derive(Clone, Copy, Debug)]
pub struct OpContext<'a> {
    /// The directory the request is for.
    pub store: &'a Store,
    /// Who is bound on the connection.
    pub identity: &'a Identity,
    /// Whether the connection is protected by TLS.
    pub tls: bool,
    /// The request's controls, parsed.
    pub controls: &'a RequestControls,
    /// The operation.
    pub operation: Operation,
    /// The DN the request names, as sent (an extended-DN form already resolved).
    pub target: &'a Dn,
}

/// What the fault layer decided for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultDecision {
    /// Perform the operation normally.
    Proceed,
    /// Wait, then perform the operation.
    Delay(Duration),
    /// Answer with this error without performing the operation.
    Fail(OpError),
    /// Close the connection without answering.
    Drop,
}

/// How an attribute's values compare in filters and compare requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Matching {
    /// Unicode strings compared ignoring case (most AD string syntaxes).
    CaseIgnoreString,
    /// Bytes compared exactly (`objectGUID`, `objectSid`, `msDS-DeviceID`, ...).
    OctetString,
    /// Signed integers compared as numbers (`uSNChanged`, `userAccountControl`, ...).
    Integer,
    /// `TRUE` / `FALSE`.
    Boolean,
    /// Distinguished names compared as names.
    DistinguishedName,
    /// GeneralizedTime, compared as its text (the format sorts chronologically).
    GeneralizedTime,
}

/// A paged results request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PagedRequest {
    /// Entries wanted per page (AD caps it at MaxPageSize).
    pub size: u32,
    /// Empty on the first page; the server's cookie after.
    pub cookie: Bytes,
}

/// The controls of one request, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestControls {
    pub paged: Option<PagedRequest>,
    /// The parts of `nTSecurityDescriptor` the SD flags control asks for, when it was sent.
    pub sd_flags: Option<SecurityInformation>,
    pub tree_delete: bool,
    pub domain_scope: bool,
    pub permissive_modify: bool,
    pub show_deleted: bool,
}

/// A modification of an attribute, as a modify request (or an LDIF change record) names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Modification {
    /// What to do.
    pub kind: ModificationKind,
    /// The attribute's name as the client wrote it.
    pub attribute: String,
    /// The values given.
    pub values: Vec<Bytes>,
}

/// The kinds of modification (RFC 4511 add/delete/replace, RFC 4525 increment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModificationKind {
    Add,
    Delete,
    Replace,
    Increment,
}
