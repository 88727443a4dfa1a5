//! The request vocabulary: what one LDAP request is, in the terms every layer of the request
//! path shares. The codec produces these values, the handler passes them on, the semantics
//! layer and the schema rules decide on them. This module depends on no other layer of the
//! request path, so that none of them has to import another to name a request.

use bytes::Bytes;

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
