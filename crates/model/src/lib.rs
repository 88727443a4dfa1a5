//! Value types that every devwb crate shares: distinguished names, GUIDs, SIDs, security
//! descriptors and the schema facts of device writeback; the two renderings more than one
//! crate writes: LDIF attribute lines ([`ldif`]) and PowerShell quoting ([`powershell`]); and
//! the calendar arithmetic of their timestamps ([`civil`]).
//!
//! This crate does no IO and nothing async: it parses at the boundary into types that hold an
//! invariant (a `Dn` is always well formed, a `Sid` always has a valid authority), and it
//! formats them back. Everything here is deterministic and cheap to test.
//!
//! It deliberately knows nothing about LDAP connections, the simulator or the command line.

pub mod civil;
pub mod dn;
pub mod guid;
pub mod ldif;
pub mod powershell;
pub mod schema;
pub mod sd;
pub mod sid;

pub use dn::{Dn, DnError, Rdn};
pub use guid::{Guid, GuidError};
pub use schema::SchemaLevel;
pub use sid::{Sid, SidError};
