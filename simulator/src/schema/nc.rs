//! The schema naming context's entries: one `attributeSchema` or `classSchema` object per
//! definition, with the attributes Microsoft's files give it, so that clients can search the
//! schema as they do on a DC (`(lDAPDisplayName=msDS-DeviceContainer)` under `CN=Schema`).
//!
//! The NC head itself (with `objectVersion`) is the forest builder's; [`head_attributes`]
//! gives the schema-specific attributes it carries. Generated attributes (objectGUID, USNs,
//! times, the security descriptor) are added by the store and security layers like for any
//! other entry.

use bytes::Bytes;
use devwb_model::{Dn, DnError, Guid, Rdn};

use super::table::{ObjectKind, RawObject, RawValue};
use super::Schema;
use crate::store::entry::{Attributes, Entry};

/// Fields holding a GUID, written as text in the table and stored as 16 bytes.
const GUID_FIELDS: [&str; 2] = ["schemaIDGUID", "attributeSecurityGUID"];

impl Schema {
    /// The `attributeSchema` and `classSchema` entries under `schema_nc`, attributes first.
    pub fn schema_nc_entries(&self, schema_nc: &Dn) -> Result<Vec<Entry>, DnError> {
        let mut entries = Vec::with_capacity(self.attributes().len() + self.classes().len());
        for attribute in self.attributes() {
            entries.push(schema_entry(&attribute.raw, &attribute.cn, schema_nc)?);
        }
        for class in self.classes() {
            entries.push(schema_entry(&class.raw, &class.cn, schema_nc)?);
        }
        Ok(entries)
    }

    /// The attributes of the schema NC head that depend on the level: `objectVersion`, and the
    /// `objectClass` of a DMD.
    pub fn head_attributes(&self) -> Vec<(&'static str, Vec<Bytes>)> {
        vec![
            (
                "objectClass",
                vec![Bytes::from_static(b"top"), Bytes::from_static(b"dMD")],
            ),
            (
                "objectVersion",
                vec![Bytes::from(self.object_version().to_string())],
            ),
        ]
    }
}

fn schema_entry(raw: &RawObject, cn: &str, schema_nc: &Dn) -> Result<Entry, DnError> {
    let dn = schema_nc.child(Rdn::new("CN", cn)?);
    let (class, category) = match raw.kind {
        ObjectKind::Attribute => ("attributeSchema", "Attribute-Schema"),
        ObjectKind::Class => ("classSchema", "Class-Schema"),
    };
    let mut attrs = Attributes::new();
    attrs.set(
        "objectClass",
        vec![Bytes::from_static(b"top"), Bytes::from(class)],
    );
    for (name, value) in &raw.fields {
        let bytes = match value {
            RawValue::Text(text) if GUID_FIELDS.contains(&name.as_str()) => match Guid::parse(text)
            {
                Ok(guid) => Bytes::copy_from_slice(&guid.to_ad_bytes()),
                Err(_) => Bytes::from(text.clone()),
            },
            RawValue::Text(text) if name == "defaultObjectCategory" => {
                Bytes::from(format!("{text},{schema_nc}"))
            }
            other => Bytes::copy_from_slice(other.as_bytes()),
        };
        attrs.add_values(name, [bytes]);
    }
    if !attrs.contains("adminDisplayName") {
        attrs.set("adminDisplayName", vec![Bytes::from(cn.to_string())]);
    }
    if !attrs.contains("showInAdvancedViewOnly") {
        attrs.set("showInAdvancedViewOnly", vec![Bytes::from_static(b"TRUE")]);
    }
    if raw.kind == ObjectKind::Class && !attrs.contains("defaultObjectCategory") {
        attrs.set("defaultObjectCategory", vec![Bytes::from(dn.to_string())]);
    }
    attrs.set(
        "objectCategory",
        vec![Bytes::from(format!("CN={category},{schema_nc}"))],
    );
    Ok(Entry { dn, attrs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use devwb_model::SchemaLevel;

    #[test]
    fn device_container_class_is_searchable_in_the_schema_nc() {
        let nc = Dn::parse("CN=Schema,CN=Configuration,DC=contoso,DC=lab").expect("dn");
        let entries = Schema::for_level(SchemaLevel::W2012R2)
            .schema_nc_entries(&nc)
            .expect("entries");
        let container = entries
            .iter()
            .find(|e| e.attrs.first_str("lDAPDisplayName") == Some("msDS-DeviceContainer"))
            .expect("classSchema msDS-DeviceContainer");
        assert_eq!(
            container.dn.to_string(),
            "CN=ms-DS-Device-Container,CN=Schema,CN=Configuration,DC=contoso,DC=lab"
        );
        assert_eq!(
            container.attrs.first_str("governsID"),
            Some("1.2.840.113556.1.5.289")
        );
        assert_eq!(
            container.attrs.first_str("systemPossSuperiors"),
            Some("domainDNS")
        );
        let guid = container
            .attrs
            .get("schemaIDGUID")
            .expect("guid")
            .values
            .first()
            .expect("value");
        assert_eq!(
            Guid::from_ad_bytes(guid).expect("16 bytes").to_string(),
            "7c9e8c58-901b-4ea8-b6ec-4eb9e9fc0e11"
        );
        let user = entries
            .iter()
            .find(|e| e.attrs.first_str("lDAPDisplayName") == Some("user"))
            .expect("user");
        assert_eq!(
            user.attrs.first_str("defaultObjectCategory"),
            Some("CN=Person,CN=Schema,CN=Configuration,DC=contoso,DC=lab")
        );
        let old = Schema::for_level(SchemaLevel::W2008R2)
            .schema_nc_entries(&nc)
            .expect("entries");
        assert!(old
            .iter()
            .all(|e| e.attrs.first_str("lDAPDisplayName") != Some("msDS-DeviceContainer")));
        assert!(old.len() > 1500);
    }
}
