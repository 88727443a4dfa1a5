//! AD's security model as the simulator enforces it: the token of SIDs a bound account acts
//! with ([`accounts::token_for`]), the security descriptor every entry carries ([`descriptor`]), the access
//! check of each operation ([`access`]) and accounts ([`accounts`]: passwords set through
//! `unicodePwd`, bind names, group memberships).
//!
//! The security descriptor types, SDDL, the access check algorithm and inheritance are
//! `devwb_model::sd`'s; this module applies AD's rules on top (which right each operation
//! needs, over which object type list, with which defaults). There is no administrator bypass:
//! administrators get their rights through the ACEs of the default descriptors, as on a DC.
//!
//! It reads the directory through the small [`Directory`] trait so it can be tested on plain
//! [`Entry`] values and does not depend on how the store indexes them.

pub mod access;
pub mod accounts;
pub mod descriptor;

use devwb_model::{Dn, Sid};

use crate::store::entry::Entry;

/// What the security layer reads from the directory.
pub trait Directory {
    /// The entry at `dn`, if any.
    fn entry(&self, dn: &Dn) -> Option<Entry>;
    /// Every entry with `value` among the values of `attribute` (compared as the schema
    /// compares that attribute's values).
    fn entries_with(&self, attribute: &str, value: &[u8]) -> Vec<Entry>;
}

/// The SIDs the default descriptors name, for one forest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainSids {
    /// The domain SID (`S-1-5-21-a-b-c`).
    pub domain: Sid,
    /// The forest root domain SID (the same in a single-domain forest).
    pub root: Sid,
}

impl DomainSids {
    /// A single-domain forest.
    pub fn single(domain: Sid) -> DomainSids {
        DomainSids {
            domain,
            root: domain,
        }
    }

    /// Domain Admins.
    pub fn domain_admins(&self) -> Sid {
        self.domain.with_rid(devwb_model::sid::rid::DOMAIN_ADMINS)
    }

    /// Domain Users.
    pub fn domain_users(&self) -> Sid {
        self.domain.with_rid(devwb_model::sid::rid::DOMAIN_USERS)
    }

    /// Enterprise Admins (in the root domain).
    pub fn enterprise_admins(&self) -> Sid {
        self.root.with_rid(devwb_model::sid::rid::ENTERPRISE_ADMINS)
    }

    /// The SDDL alias context.
    pub fn sddl(&self) -> devwb_model::sd::SddlContext {
        devwb_model::sd::SddlContext::with_root(self.domain, self.root)
    }
}
