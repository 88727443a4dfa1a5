//! The subschema entry, `CN=Aggregate,<schema NC>`: the schema in RFC 4512's form, as AD
//! publishes it there for clients that read a schema the standard way (the rootDSE's and every
//! entry's `subschemaSubentry` name it): `attributeTypes` and `objectClasses` in AD's
//! spelling, the syntax OIDs quoted, each class with its own (not inherited) MUST and MAY.
//!
//! It is computed from the schema of the forest's level when read, not stored: it names
//! every class and attribute of that level, and a search below the schema NC does not return
//! it (AD's does). `dITContentRules`, `extendedAttributeInfo` and `extendedClassInfo` are not
//! published.

use bytes::Bytes;

use super::{AttributeDef, ClassCategory, ClassDef, Schema};

/// The RDN value of the subschema entry below the schema NC.
pub const AGGREGATE_CN: &str = "Aggregate";

/// The LDAP syntax OID AD publishes for an `attributeSyntax` / `oMSyntax` pair (MS-ADTS
/// 3.1.1.2.2.2).
fn ldap_syntax(attribute_syntax: &str, om_syntax: u32) -> &'static str {
    match (attribute_syntax, om_syntax) {
        ("2.5.5.1", _) => "1.3.6.1.4.1.1466.115.121.1.12",
        ("2.5.5.2", _) => "1.3.6.1.4.1.1466.115.121.1.38",
        ("2.5.5.3", _) => "1.2.840.113556.1.4.1362",
        ("2.5.5.4", _) => "1.2.840.113556.1.4.905",
        ("2.5.5.5", 22) => "1.3.6.1.4.1.1466.115.121.1.26",
        ("2.5.5.5", _) => "1.3.6.1.4.1.1466.115.121.1.44",
        ("2.5.5.6", _) => "1.3.6.1.4.1.1466.115.121.1.36",
        ("2.5.5.7", _) => "1.2.840.113556.1.4.903",
        ("2.5.5.8", _) => "1.3.6.1.4.1.1466.115.121.1.7",
        ("2.5.5.9", _) => "1.3.6.1.4.1.1466.115.121.1.27",
        ("2.5.5.11", 23) => "1.3.6.1.4.1.1466.115.121.1.53",
        ("2.5.5.11", _) => "1.3.6.1.4.1.1466.115.121.1.24",
        ("2.5.5.12", _) => "1.3.6.1.4.1.1466.115.121.1.15",
        ("2.5.5.13", _) => "1.3.6.1.4.1.1466.115.121.1.43",
        ("2.5.5.14", _) => "1.2.840.113556.1.4.904",
        ("2.5.5.15", _) => "1.2.840.113556.1.4.907",
        ("2.5.5.16", _) => "1.2.840.113556.1.4.906",
        // 2.5.5.10 (octet string), 2.5.5.17 (SID) and anything else: octets.
        _ => "1.3.6.1.4.1.1466.115.121.1.40",
    }
}

/// One `attributeTypes` value: `( <oid> NAME '<name>' SYNTAX '<oid>' [SINGLE-VALUE]
/// [NO-USER-MODIFICATION] )`.
pub fn attribute_type(attribute: &AttributeDef) -> String {
    let mut text = format!(
        "( {} NAME '{}' SYNTAX '{}'",
        attribute.oid,
        attribute.name,
        ldap_syntax(&attribute.attribute_syntax, attribute.om_syntax)
    );
    if attribute.single_valued {
        text.push_str(" SINGLE-VALUE");
    }
    if attribute.system_only || attribute.is_constructed() || attribute.is_back_link() {
        text.push_str(" NO-USER-MODIFICATION");
    }
    text.push_str(" )");
    text
}

/// ` MUST (a $ b )`, AD's spelling of a list (a space before the closing parenthesis).
fn list(keyword: &str, names: &[String]) -> String {
    if names.is_empty() {
        return String::new();
    }
    format!(" {keyword} ({} )", names.join(" $ "))
}

/// One `objectClasses` value: `( <oid> NAME '<name>' SUP <superclass> <kind> MUST (...) MAY
/// (...) )`, the class's own MUST and MAY.
pub fn object_class(class: &ClassDef) -> String {
    let mut text = format!("( {} NAME '{}'", class.oid, class.name);
    if !class.sub_class_of.is_empty() && !class.sub_class_of.eq_ignore_ascii_case(&class.name) {
        text.push_str(&format!(" SUP {}", class.sub_class_of));
    }
    match class.category {
        ClassCategory::Structural => text.push_str(" STRUCTURAL"),
        ClassCategory::Abstract => text.push_str(" ABSTRACT"),
        ClassCategory::Auxiliary => text.push_str(" AUXILIARY"),
        ClassCategory::Type88 => {}
    }
    text.push_str(&list("MUST", &class.must));
    text.push_str(&list("MAY", &class.may));
    text.push_str(" )");
    text
}

impl Schema {
    /// The subschema entry's `attributeTypes` and `objectClasses` values, in schema order.
    pub fn subschema_values(&self) -> (Vec<Bytes>, Vec<Bytes>) {
        let attributes = self
            .attributes()
            .iter()
            .map(|a| Bytes::from(attribute_type(a)))
            .collect();
        let classes = self
            .classes()
            .iter()
            .map(|c| Bytes::from(object_class(c)))
            .collect();
        (attributes, classes)
    }
}

#[cfg(test)]
mod tests {
    use devwb_model::SchemaLevel;

    use super::*;

    /// The published value of the attribute or class `name`.
    fn check(name: &str, expected: &str) {
        let schema = Schema::for_level(SchemaLevel::W2016);
        let shown = match (schema.attribute(name), schema.class(name)) {
            (Some(attribute), _) => attribute_type(attribute),
            (None, Some(class)) => object_class(class),
            (None, None) => panic!("{name} is not in the schema"),
        };
        assert_eq!(shown, expected);
    }

    #[test]
    fn values_are_spelled_as_ad_publishes_them() {
        check(
            "sAMAccountName",
            "( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' SYNTAX '1.3.6.1.4.1.1466.115.121.1.15' SINGLE-VALUE )",
        );
        check(
            "objectSid",
            "( 1.2.840.113556.1.4.146 NAME 'objectSid' SYNTAX '1.3.6.1.4.1.1466.115.121.1.40' SINGLE-VALUE NO-USER-MODIFICATION )",
        );
        check(
            "member",
            "( 2.5.4.31 NAME 'member' SYNTAX '1.3.6.1.4.1.1466.115.121.1.12' )",
        );
        let schema = Schema::for_level(SchemaLevel::W2016);
        let top = object_class(schema.class("top").expect("top"));
        assert!(
            top.starts_with("( 2.5.6.0 NAME 'top' ABSTRACT MUST ("),
            "{top}"
        );
        let user = object_class(schema.class("user").expect("user"));
        assert!(
            user.starts_with(
                "( 1.2.840.113556.1.5.9 NAME 'user' SUP organizationalPerson STRUCTURAL"
            ),
            "{user}"
        );
        let (attributes, classes) = schema.subschema_values();
        assert_eq!(attributes.len(), schema.attributes().len());
        assert_eq!(classes.len(), schema.classes().len());
    }
}
