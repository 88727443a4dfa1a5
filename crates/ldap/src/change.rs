//! What a write is: one [`Change`] (an add, a modify with its [`Modification`]s, a delete) as
//! plain data, and sending one change on a connection. The single writes of [`crate::Client`] and
//! the bulk writes of [`crate::apply`] both build on this module; it knows nothing of retries,
//! concurrency or what a change means to its caller.

use std::collections::HashSet;
use std::time::Duration;

use devwb_model::Dn;
use ldap3::Ldap;

use crate::error::{code, Error, Operation, Result};

/// One modification of a modify request. Values are bytes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Modification {
    /// Add values to an attribute.
    Add(String, Vec<Vec<u8>>),
    /// Delete the given values, or the whole attribute when no value is given.
    Delete(String, Vec<Vec<u8>>),
    /// Replace all values (remove the attribute when no value is given).
    Replace(String, Vec<Vec<u8>>),
}

impl Modification {
    /// A replace with one text value.
    pub fn replace_str(attribute: &str, value: &str) -> Modification {
        Modification::Replace(attribute.to_string(), vec![value.as_bytes().to_vec()])
    }

    /// The attribute this modification touches.
    pub fn attribute(&self) -> &str {
        match self {
            Modification::Add(a, _) | Modification::Delete(a, _) | Modification::Replace(a, _) => a,
        }
    }
}

/// Attributes of an add request: name and values (bytes), in order.
pub type Attributes = Vec<(String, Vec<Vec<u8>>)>;

/// One change of a batch. Values are bytes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Change {
    /// Add an entry with these attributes.
    Add {
        /// The new entry's DN.
        dn: Dn,
        /// Its attributes (objectClass included).
        attrs: Attributes,
    },
    /// Modify an entry.
    Modify {
        /// The entry.
        dn: Dn,
        /// The modifications, applied in order and atomically by the server.
        mods: Vec<Modification>,
    },
    /// Delete a leaf entry.
    Delete {
        /// The entry.
        dn: Dn,
    },
}

impl Change {
    /// The DN the change targets.
    pub fn dn(&self) -> &Dn {
        match self {
            Change::Add { dn, .. } | Change::Modify { dn, .. } | Change::Delete { dn } => dn,
        }
    }

    /// The LDAP operation it is.
    pub fn operation(&self) -> Operation {
        match self {
            Change::Add { .. } => Operation::Add,
            Change::Modify { .. } => Operation::Modify,
            Change::Delete { .. } => Operation::Delete,
        }
    }
}

/// Sends one change with request controls, borrowing its values (no copy of the bytes per attempt).
pub(crate) async fn execute(
    ldap: &mut Ldap,
    change: &Change,
    controls: Vec<ldap3::controls::RawControl>,
    timeout: Duration,
) -> Result<()> {
    fn set(values: &[Vec<u8>]) -> HashSet<&[u8]> {
        values.iter().map(Vec::as_slice).collect()
    }
    let dn = change.dn().to_string();
    let operation = change.operation();
    let handle = ldap.with_timeout(timeout);
    if !controls.is_empty() {
        handle.with_controls(controls);
    }
    let result = match change {
        Change::Add { attrs, .. } => {
            let attrs: Vec<(&[u8], HashSet<&[u8]>)> =
                attrs.iter().map(|(a, v)| (a.as_bytes(), set(v))).collect();
            handle.add(&dn, attrs).await
        }
        Change::Modify { mods, .. } => {
            let mods: Vec<ldap3::Mod<&[u8]>> = mods
                .iter()
                .map(|m| match m {
                    Modification::Add(a, v) => ldap3::Mod::Add(a.as_bytes(), set(v)),
                    Modification::Delete(a, v) => ldap3::Mod::Delete(a.as_bytes(), set(v)),
                    Modification::Replace(a, v) => ldap3::Mod::Replace(a.as_bytes(), set(v)),
                })
                .collect();
            handle.modify(&dn, mods).await
        }
        Change::Delete { .. } => handle.delete(&dn).await,
    };
    let result = result.map_err(|e| Error::from_ldap3(operation, timeout, e))?;
    if result.rc == code::SUCCESS {
        Ok(())
    } else {
        Err(Error::from_result(operation, &dn, &result))
    }
}
