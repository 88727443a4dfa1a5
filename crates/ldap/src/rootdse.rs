//! rootDSE discovery: the naming contexts, functional levels and controls a server announces,
//! the schema level from the schema head's `objectVersion`, and whether a class exists.

use devwb_model::{Dn, SchemaLevel};
use ldap3::Scope;

use crate::client::Client;
use crate::entry::Entry;
use crate::error::{Error, ErrorKind, Result};

/// What the rootDSE says about the server and its forest (MS-ADTS 3.1.1.3.2).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RootDse {
    /// `defaultNamingContext`: the DC's own domain.
    pub default_nc: Dn,
    /// `configurationNamingContext`.
    pub configuration_nc: Dn,
    /// `schemaNamingContext`.
    pub schema_nc: Dn,
    /// `rootDomainNamingContext`: the forest root domain.
    pub root_domain_nc: Dn,
    /// `namingContexts`.
    pub naming_contexts: Vec<Dn>,
    /// `dnsHostName`, when announced.
    pub dns_host_name: Option<String>,
    /// `forestFunctionality`, when announced.
    pub forest_functionality: Option<i64>,
    /// `domainFunctionality`, when announced.
    pub domain_functionality: Option<i64>,
    /// `supportedControl` OIDs.
    pub supported_controls: Vec<String>,
    /// `isGlobalCatalogReady`: this DC also serves the global catalog (ports 3268/3269 of the
    /// same host on Windows).
    #[serde(default)]
    pub is_global_catalog_ready: bool,
}

impl RootDse {
    /// The attributes read from the rootDSE.
    pub const ATTRIBUTES: [&'static str; 10] = [
        "defaultNamingContext",
        "configurationNamingContext",
        "schemaNamingContext",
        "rootDomainNamingContext",
        "namingContexts",
        "dnsHostName",
        "forestFunctionality",
        "domainFunctionality",
        "supportedControl",
        "isGlobalCatalogReady",
    ];

    /// Builds it from the rootDSE entry; an error names the first missing naming context.
    pub fn from_entry(entry: &Entry) -> Result<RootDse> {
        let required = |name: &str| -> Result<Dn> {
            entry.first_dn(name)?.ok_or_else(|| {
                Error::from(ErrorKind::MissingAttribute {
                    dn: "rootDSE".into(),
                    attribute: name.to_string(),
                })
            })
        };
        let mut naming_contexts = Vec::new();
        for text in entry.strs("namingContexts") {
            naming_contexts
                .push(Dn::parse(text).map_err(|e| {
                    Error::invalid_response(format!("rootDSE namingContexts: {e}"))
                })?);
        }
        Ok(RootDse {
            default_nc: required("defaultNamingContext")?,
            configuration_nc: required("configurationNamingContext")?,
            schema_nc: required("schemaNamingContext")?,
            root_domain_nc: required("rootDomainNamingContext")?,
            naming_contexts,
            dns_host_name: entry.first_str("dnsHostName").map(str::to_string),
            forest_functionality: entry.first_i64("forestFunctionality")?,
            domain_functionality: entry.first_i64("domainFunctionality")?,
            supported_controls: entry
                .strs("supportedControl")
                .into_iter()
                .map(str::to_string)
                .collect(),
            is_global_catalog_ready: entry
                .first_str("isGlobalCatalogReady")
                .is_some_and(|value| value.eq_ignore_ascii_case("TRUE")),
        })
    }

    /// Whether the server announces a control.
    pub fn supports_control(&self, oid: &str) -> bool {
        self.supported_controls.iter().any(|c| c == oid)
    }
}

/// The schema head's `objectVersion` and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchemaVersion {
    /// The raw `objectVersion`.
    pub object_version: u32,
}

impl SchemaVersion {
    /// The known level this version is at (`None` below 2008 R2).
    pub fn level(self) -> Option<SchemaLevel> {
        SchemaLevel::from_object_version(self.object_version)
    }

    /// Whether the version is at least Windows Server 2012 R2 (69), the minimum for device writeback.
    pub fn supports_device_writeback(self) -> bool {
        self.object_version >= SchemaLevel::MINIMUM_FOR_DEVICE_WRITEBACK.object_version()
    }
}

impl Client {
    /// Reads the rootDSE (anonymous reads are allowed by AD).
    pub fn root_dse(&self) -> Result<RootDse> {
        let entry = self.read_root_dse_entry(&RootDse::ATTRIBUTES)?;
        RootDse::from_entry(&entry)
    }

    /// Reads the schema head's `objectVersion`.
    pub fn schema_version(&self, schema_nc: &Dn) -> Result<SchemaVersion> {
        let entry = self.read(schema_nc, &["objectVersion"])?.ok_or_else(|| {
            Error::from(ErrorKind::NoSuchObject {
                dn: schema_nc.to_string(),
                operation: crate::error::Operation::Search,
                message: String::new(),
            })
        })?;
        let version = entry.first_i64("objectVersion")?.ok_or_else(|| {
            Error::from(ErrorKind::MissingAttribute {
                dn: schema_nc.to_string(),
                attribute: "objectVersion".into(),
            })
        })?;
        let object_version = u32::try_from(version).map_err(|_| {
            Error::invalid_response(format!(
                "objectVersion of {schema_nc} out of range: {version}"
            ))
        })?;
        Ok(SchemaVersion { object_version })
    }

    /// The classSchema object whose `lDAPDisplayName` is `class`, when it exists (Microsoft's wizard
    /// checks `msDS-DeviceContainer` this way). Reads `defaultSecurityDescriptor` and `schemaIDGUID` too.
    pub fn class_schema(&self, schema_nc: &Dn, class: &str) -> Result<Option<Entry>> {
        let mut found = self.class_schemas(schema_nc, &[class])?;
        Ok(if found.is_empty() {
            None
        } else {
            Some(found.swap_remove(0))
        })
    }

    /// The classSchema objects whose `lDAPDisplayName` is one of `classes`, in one search (those
    /// that exist, in the server's order), with the attributes [`Client::class_schema`] reads.
    pub fn class_schemas(&self, schema_nc: &Dn, classes: &[&str]) -> Result<Vec<Entry>> {
        let names: String = classes
            .iter()
            .map(|class| format!("(lDAPDisplayName={})", escape_filter_value(class)))
            .collect();
        let filter = format!("(&(objectClass=classSchema)(|{names}))");
        self.search(
            schema_nc,
            Scope::OneLevel,
            &filter,
            &[
                "lDAPDisplayName",
                "defaultSecurityDescriptor",
                "schemaIDGUID",
                "governsID",
            ],
        )
    }
}

/// Escapes a value for an LDAP filter (RFC 4515): `*`, `(`, `)`, `\` and NUL.
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            other => out.push(other),
        }
    }
    out
}

/// Escapes bytes for an LDAP filter: every byte as `\xx` (binary-safe, for objectSid and GUIDs).
pub fn escape_filter_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn entry(pairs: &[(&str, &[&str])]) -> Entry {
        let mut attrs = BTreeMap::new();
        for (name, values) in pairs {
            attrs.insert(
                name.to_ascii_lowercase(),
                values.iter().map(|v| v.as_bytes().to_vec()).collect(),
            );
        }
        Entry {
            dn: Dn::root(),
            attrs,
        }
    }

    #[test]
    fn root_dse_from_an_ad_shaped_entry() {
        let e = entry(&[
            ("defaultNamingContext", &["DC=contoso,DC=lab"]),
            (
                "configurationNamingContext",
                &["CN=Configuration,DC=contoso,DC=lab"],
            ),
            (
                "schemaNamingContext",
                &["CN=Schema,CN=Configuration,DC=contoso,DC=lab"],
            ),
            ("rootDomainNamingContext", &["DC=contoso,DC=lab"]),
            (
                "namingContexts",
                &["DC=contoso,DC=lab", "CN=Configuration,DC=contoso,DC=lab"],
            ),
            ("forestFunctionality", &["6"]),
            (
                "supportedControl",
                &["1.2.840.113556.1.4.319", "1.2.840.113556.1.4.801"],
            ),
        ]);
        let root = RootDse::from_entry(&e).unwrap();
        assert_eq!(
            root.schema_nc.to_string(),
            "CN=Schema,CN=Configuration,DC=contoso,DC=lab"
        );
        assert_eq!(root.forest_functionality, Some(6));
        assert_eq!(root.domain_functionality, None);
        assert!(root.supports_control("1.2.840.113556.1.4.801"));
        let missing =
            RootDse::from_entry(&entry(&[("defaultNamingContext", &["DC=a"])])).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "\"rootDSE\" has no readable configurationNamingContext"
        );
    }

    #[test]
    fn schema_versions() {
        assert!(!SchemaVersion { object_version: 47 }.supports_device_writeback());
        assert!(!SchemaVersion { object_version: 56 }.supports_device_writeback());
        assert!(SchemaVersion { object_version: 69 }.supports_device_writeback());
        assert_eq!(
            SchemaVersion { object_version: 88 }.level(),
            Some(SchemaLevel::W2019)
        );
        assert_eq!(SchemaVersion { object_version: 30 }.level(), None);
    }

    #[test]
    fn filter_escaping() {
        assert_eq!(escape_filter_value("a*b(c)\\d"), "a\\2ab\\28c\\29\\5cd");
        assert_eq!(escape_filter_bytes(&[0x01, 0xff]), "\\01\\ff");
    }
}
