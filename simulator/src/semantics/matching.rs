//! How values compare in filters and compare requests ([`Matching`], by the attribute's schema
//! syntax, or for the rootDSE's operational attributes by a fixed list), and the
//! `objectCategory` names filters and new entries use.

use bytes::Bytes;
use devwb_model::Dn;

use super::Semantics;
use crate::request::Matching;
use crate::schema::Syntax;

/// Operational attributes of the rootDSE and constructed ones the schema does not describe
/// the way filters need: how they compare.
const NON_SCHEMA_INTEGERS: &[&str] = &[
    "highestCommittedUSN",
    "domainFunctionality",
    "forestFunctionality",
    "domainControllerFunctionality",
    "supportedLDAPVersion",
];

const NON_SCHEMA_TIMES: &[&str] = &["currentTime"];

const NON_SCHEMA_BOOLEANS: &[&str] = &["isSynchronized", "isGlobalCatalogReady"];

const NON_SCHEMA_DNS: &[&str] = &[
    "defaultNamingContext",
    "configurationNamingContext",
    "schemaNamingContext",
    "rootDomainNamingContext",
    "namingContexts",
    "dsServiceName",
    "serverName",
];

impl Semantics {
    /// How `attribute`'s values compare: by its schema syntax.
    pub fn matching(&self, attribute: &str) -> Matching {
        let is = |list: &[&str]| list.iter().any(|a| a.eq_ignore_ascii_case(attribute));
        if let Some(definition) = self.schema.attribute(attribute) {
            return match definition.syntax {
                Syntax::Boolean => Matching::Boolean,
                Syntax::Integer | Syntax::LargeInteger => Matching::Integer,
                Syntax::OctetString | Syntax::Sid | Syntax::SecurityDescriptor => {
                    Matching::OctetString
                }
                Syntax::Dn => Matching::DistinguishedName,
                Syntax::Time { .. } => Matching::GeneralizedTime,
                _ => Matching::CaseIgnoreString,
            };
        }
        if is(NON_SCHEMA_INTEGERS) {
            Matching::Integer
        } else if is(NON_SCHEMA_TIMES) {
            Matching::GeneralizedTime
        } else if is(NON_SCHEMA_BOOLEANS) {
            Matching::Boolean
        } else if is(NON_SCHEMA_DNS) {
            Matching::DistinguishedName
        } else {
            Matching::CaseIgnoreString
        }
    }

    /// Whether `attribute` holds binary values (shown base64 in LDIF, never as text).
    pub fn is_binary(&self, attribute: &str) -> bool {
        self.matching(attribute) == Matching::OctetString
    }

    /// The `objectCategory` DN of a new entry of structural class `class`: the DN of its
    /// `defaultObjectCategory` (for `user`, `CN=Person`).
    pub fn object_category(&self, class: &str) -> Dn {
        let cn = self
            .schema
            .class(class)
            .map_or(class, |c| c.default_object_category.as_str());
        match devwb_model::Rdn::new("CN", cn) {
            Ok(rdn) => self.schema_dn.child(rdn),
            Err(_) => self.schema_dn.clone(),
        }
    }

    /// A filter's short `objectCategory` value (`msDS-Device`) as the DN it stands for.
    pub fn expand_object_category(&self, short_name: &str) -> Bytes {
        match self
            .schema
            .object_category_for_filter(short_name, &self.schema_dn)
        {
            Some(dn) => Bytes::from(dn),
            None => Bytes::from(self.object_category(short_name).to_string()),
        }
    }
}
