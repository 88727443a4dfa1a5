//! The content rules of add and modify (MS-ADTS 3.1.1.5.2 and 3.1.1.5.3 as far as device
//! writeback tooling can tell), with the result codes Windows returns:
//!
//! | rule | code |
//! |---|---|
//! | no `objectClass` on add, no structural class | 65 objectClassViolation |
//! | unknown attribute or `objectClass` value | 16 noSuchAttribute (what Windows answers) |
//! | constructed attribute written | 17 undefinedAttributeType on add, 19 on modify |
//! | back link (`memberOf`) written | 53 unwillingToPerform |
//! | value not of the syntax | 21 invalidAttributeSyntax |
//! | value outside rangeLower..rangeUpper, several values for a single-valued attribute in an add, system-only attribute modified, DN value naming nothing | 19 constraintViolation |
//! | a value twice, or added when present, a modify leaving a single-valued attribute with several values | 20 attributeOrValueExists |
//! | a value or attribute removed that is not there | 16 noSuchAttribute |
//! | attribute not allowed by the classes, mandatory attribute missing | 65 objectClassViolation |
//! | RDN attribute not the class's rDNAttID, class not allowed under the parent | 64 namingViolation |
//! | RDN attribute or `name` modified | 67 notAllowedOnRDN |
//! | instance of a system-only class, structural `objectClass` change | 53 unwillingToPerform |
//!
//! Add also normalises the entry as AD stores it: attribute names in their schema spelling,
//! `objectClass` as the class chain from `top` to the most specific class, the RDN value as an
//! attribute, `objectCategory`, `instanceType` and `showInAdvancedViewOnly` defaults.
//! Generated attributes that depend on the store (objectGUID, USNs, times) and the security
//! descriptor are added by other layers; the mandatory-attribute check counts on them.

use bytes::Bytes;
use devwb_model::Dn;

use super::diag::{self, class_win32, naming_win32, win32};
use super::syntax::{check_value, Syntax, ValueProblem};
use super::values::{first_duplicate, IndexedValues};
use super::{AttributeDef, ClassCategory, ClassDef, Schema};
use crate::error::OpError;
use crate::request::{Modification, ModificationKind};
use crate::store::entry::{Attribute, Entry};

/// Mandatory attributes another layer provides after the content rules run (the security
/// descriptor, and the account attributes generated for security principals).
const PROVIDED_LATER: [&str; 5] = [
    "nTSecurityDescriptor",
    "objectSid",
    "sAMAccountName",
    "objectGUID",
    "groupType",
];

/// System-only attributes a modify may still name: AD handles these elsewhere (MS-ADTS
/// 3.1.1.5.3.2 and Samba's objectclass_attrs list the same exceptions).
const SYSTEM_ONLY_WRITABLE: [&str; 5] = [
    "objectClass",
    "name",
    "distinguishedName",
    "msDS-AdditionalDnsHostName",
    "wellKnownObjects",
];

/// What the content rules need to know about the directory.
pub struct DirectoryContext<'a> {
    /// The forest's schema NC (for `objectCategory` values).
    pub schema_nc: &'a Dn,
    /// Whether an entry exists (DN-syntax values must name one).
    pub exists: &'a dyn Fn(&Dn) -> bool,
}

impl std::fmt::Debug for DirectoryContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryContext")
            .field("schema_nc", &self.schema_nc)
            .finish_non_exhaustive()
    }
}

/// Attributes only the directory writes: a modify naming one answers `constraintViolation`
/// (`name`, the RDN's twin, answers `notAllowedOnRDN`), and an add may name only `name`.
pub const GENERATED: &[&str] = &[
    "objectGUID",
    "uSNCreated",
    "uSNChanged",
    "whenCreated",
    "whenChanged",
    "distinguishedName",
    "instanceType",
    "objectSid",
    "name",
];

impl Schema {
    /// The most specific structural class of an existing entry (the last `objectClass` value
    /// the schema knows as structural), if any.
    pub fn structural_class(&self, entry: &Entry) -> Option<&ClassDef> {
        let values = entry.attrs.get("objectClass")?;
        values
            .values
            .iter()
            .rev()
            .filter_map(|value| std::str::from_utf8(value).ok())
            .filter_map(|name| self.class(name))
            .find(|class| class.category == ClassCategory::Structural)
    }

    /// Checks and normalises an entry about to be added under `parent` (None for a naming
    /// context head). Returns the new entry's most specific structural class.
    pub fn check_add(
        &self,
        context: &DirectoryContext<'_>,
        parent: Option<&Entry>,
        entry: &mut Entry,
    ) -> Result<&ClassDef, OpError> {
        let Some(classes) = entry
            .attrs
            .get("objectClass")
            .filter(|a| !a.values.is_empty())
        else {
            return Err(diag::object_class_violation(
                class_win32::OBJ_CLASS_VIOLATION,
            ));
        };
        // The classes named, each known.
        let mut named: Vec<&ClassDef> = Vec::new();
        for value in &classes.values {
            let class = std::str::from_utf8(value)
                .ok()
                .and_then(|name| self.class(name))
                .ok_or_else(diag::unknown_attribute)?;
            if !named.iter().any(|c| c.name == class.name) {
                named.push(class);
            }
        }
        // The most specific structural class: the one with the longest chain; every other
        // structural or abstract class named must be in its chain.
        let structural = named
            .iter()
            .filter(|c| c.category == ClassCategory::Structural)
            .max_by_key(|c| self.chain(c).len())
            .copied()
            .ok_or_else(|| diag::object_class_violation(class_win32::OBJ_CLASS_VIOLATION))?;
        let chain: Vec<&ClassDef> = self.chain(structural);
        let auxiliary: Vec<&ClassDef> = named
            .iter()
            .filter(|c| c.category == ClassCategory::Auxiliary)
            .copied()
            .collect();
        for class in &named {
            if !chain.iter().any(|c| c.name == class.name)
                && class.category != ClassCategory::Auxiliary
            {
                return Err(diag::object_class_violation(
                    class_win32::OBJ_CLASS_VIOLATION,
                ));
            }
        }
        if structural.system_only {
            return Err(diag::unwilling());
        }
        // AD's order: top .. the most specific class, auxiliary classes before the last so that
        // clients taking the last value get the structural class.
        let mut ordered: Vec<Bytes> = chain.iter().map(|c| Bytes::from(c.name.clone())).collect();
        if let Some(last) = ordered.pop() {
            ordered.extend(auxiliary.iter().map(|c| Bytes::from(c.name.clone())));
            ordered.push(last);
        }

        // Attribute names: known, writable, in their schema spelling.
        let mut normalised = crate::store::entry::Attributes::new();
        for attribute in entry.attrs.iter() {
            let definition = self
                .attribute(attribute.name)
                .ok_or_else(diag::unknown_attribute)?;
            if definition.is_constructed() {
                return Err(diag::undefined_attribute(&definition.name, &definition.oid));
            }
            if definition.is_back_link() {
                return Err(diag::unwilling());
            }
            if normalised.contains(&definition.name) {
                return Err(diag::value_exists(&definition.name, &definition.oid));
            }
            normalised.set_values(&definition.name, attribute.values);
        }
        normalised.set("objectClass", ordered);

        // The RDN: the class's naming attribute, its value present as an attribute.
        let rdn = entry.dn.rdn().ok_or_else(diag::unwilling)?;
        let parent_text = entry.dn.parent().map(|p| p.to_string()).unwrap_or_default();
        if !rdn.attr().eq_ignore_ascii_case(&structural.rdn_attribute) || rdn.avas().len() != 1 {
            return Err(diag::naming_violation(naming_win32::NAMING, &parent_text));
        }
        let rdn_definition = self
            .attribute(&structural.rdn_attribute)
            .ok_or_else(diag::unknown_attribute)?;
        match normalised.get(&rdn_definition.name) {
            None => normalised.set(
                &rdn_definition.name,
                vec![Bytes::from(rdn.value().to_string())],
            ),
            Some(values) => {
                let matches = values.values.len() == 1
                    && values
                        .values
                        .first()
                        .is_some_and(|v| values_equal(Syntax::Unicode, v, rdn.value().as_bytes()));
                if !matches {
                    return Err(diag::naming_violation(naming_win32::NAMING, &parent_text));
                }
            }
        }

        // The parent's class must be a possible superior.
        if let Some(parent) = parent {
            let parent_classes: Vec<&str> = parent
                .attrs
                .get("objectClass")
                .map(|a| {
                    a.values
                        .iter()
                        .filter_map(|v| std::str::from_utf8(v).ok())
                        .collect()
                })
                .unwrap_or_default();
            if !self.may_be_child_of(structural, parent_classes) {
                return Err(diag::naming_violation(
                    naming_win32::ILLEGAL_SUPERIOR,
                    &parent.dn.to_string(),
                ));
            }
        }

        // Defaults AD fills in.
        if !normalised.contains("objectCategory") {
            normalised.set(
                "objectCategory",
                vec![Bytes::from(
                    self.default_object_category(structural, context.schema_nc),
                )],
            );
        }
        if !normalised.contains("instanceType") {
            normalised.set("instanceType", vec![Bytes::from_static(b"4")]);
        }
        if structural.default_hiding && !normalised.contains("showInAdvancedViewOnly") {
            normalised.set("showInAdvancedViewOnly", vec![Bytes::from_static(b"TRUE")]);
        }

        // Values, single-valuedness, allowed and mandatory attributes.
        let mut classes_for_content: Vec<&ClassDef> = vec![&structural];
        classes_for_content.extend(auxiliary.iter().copied());
        for attribute in normalised.iter() {
            let definition = self
                .attribute(attribute.name)
                .ok_or_else(diag::unknown_attribute)?;
            self.check_values(context, definition, &attribute.values.to_vec())?;
            if definition.single_valued && attribute.values.len() > 1 {
                return Err(diag::constraint(
                    &definition.name,
                    &definition.oid,
                    win32::SINGLE_VALUE,
                ));
            }
            if !classes_for_content
                .iter()
                .any(|class| self.allows(class, definition))
            {
                return Err(diag::object_class_violation(class_win32::NOT_ALLOWED));
            }
        }
        for class in &classes_for_content {
            for required in self.must(class) {
                if !normalised.contains(&required.name)
                    && !PROVIDED_LATER
                        .iter()
                        .any(|n| n.eq_ignore_ascii_case(&required.name))
                {
                    return Err(diag::object_class_violation(class_win32::MISSING_REQUIRED));
                }
            }
        }
        entry.attrs = normalised;
        Ok(structural)
    }

    /// Checks each value of `definition`: syntax, range, no duplicates, DN targets exist.
    fn check_values(
        &self,
        context: &DirectoryContext<'_>,
        definition: &AttributeDef,
        values: &[Bytes],
    ) -> Result<(), OpError> {
        // Found in one pass: comparing every pair made 100,000 values take minutes.
        let duplicate = first_duplicate(definition.syntax, values);
        for (index, value) in values.iter().enumerate() {
            match check_value(
                definition.syntax,
                value,
                definition.range_lower,
                definition.range_upper,
            ) {
                Ok(()) => {}
                Err(ValueProblem::Syntax(reason)) => {
                    tracing::debug!(attribute = %definition.name, %reason, "invalid attribute syntax");
                    return Err(diag::invalid_syntax());
                }
                Err(ValueProblem::Range(reason)) => {
                    tracing::debug!(attribute = %definition.name, %reason, "value out of range");
                    return Err(diag::constraint(
                        &definition.name,
                        &definition.oid,
                        win32::RANGE,
                    ));
                }
            }
            if duplicate == Some(index) {
                return Err(diag::value_exists(&definition.name, &definition.oid));
            }
            if definition.syntax == Syntax::Dn
                && !definition.name.eq_ignore_ascii_case("objectCategory")
            {
                let target = std::str::from_utf8(value)
                    .ok()
                    .and_then(|text| Dn::parse(text).ok());
                if !target.is_some_and(|dn| (context.exists)(&dn)) {
                    return Err(diag::constraint(
                        &definition.name,
                        &definition.oid,
                        win32::DN_TARGET_MISSING,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Applies `modifications` to a copy of `entry` under the content rules and returns the
    /// result. `permissive` is the permissive-modify control: adding a present value or
    /// removing a missing one is then not an error. The caller has checked access first (AD's
    /// order): these rules only ever run for a caller allowed to write what it names.
    ///
    /// Each modification is checked in this order: the attribute exists; it is not one the
    /// directory generates; its values change as the kind says (a value added twice, a missing
    /// value removed, an increment of something that is not an integer); then the attribute's
    /// own rules (RDN, `objectClass`, constructed, back link, system-only, value syntax and
    /// range, single value). The classes' allowed and mandatory attributes are checked on the
    /// result.
    pub fn apply_modify(
        &self,
        context: &DirectoryContext<'_>,
        entry: &Entry,
        modifications: &[Modification],
        permissive: bool,
    ) -> Result<Entry, OpError> {
        if modifications.is_empty() {
            return Err(diag::unwilling());
        }
        let structural = self.structural_class(entry).cloned();
        let rdn_attribute = entry
            .dn
            .rdn()
            .map(|rdn| rdn.attr().to_string())
            .unwrap_or_default();
        let mut result = entry.clone();
        for modification in modifications {
            let definition = self
                .attribute(&modification.attribute)
                .ok_or_else(diag::unknown_attribute)?;
            let name = definition.name.as_str();
            let oid = definition.oid.as_str();
            if name.eq_ignore_ascii_case("name") {
                return Err(diag::not_allowed_on_rdn());
            }
            if GENERATED.iter().any(|g| g.eq_ignore_ascii_case(name)) {
                return Err(diag::constraint(name, oid, win32::CONSTRAINT_VIOLATION));
            }
            let current: Vec<Bytes> = result
                .attrs
                .get(name)
                .map(|a| a.values.to_vec())
                .unwrap_or_default();
            let updated = changed_values(definition, current, modification, permissive)?;
            if name.eq_ignore_ascii_case(&rdn_attribute) {
                return Err(diag::not_allowed_on_rdn());
            }
            if name.eq_ignore_ascii_case("objectClass") {
                if updated.is_empty() {
                    return Err(diag::object_class_violation(
                        class_win32::OBJ_CLASS_VIOLATION,
                    ));
                }
                // Changing the structural class is refused; AD allows only auxiliary classes
                // to come and go, which device writeback never does.
                return Err(diag::unwilling());
            }
            if definition.is_constructed() {
                return Err(diag::constraint(name, oid, win32::CONSTRAINT_VIOLATION));
            }
            if definition.is_back_link() {
                return Err(diag::unwilling());
            }
            if definition.system_only
                && !SYSTEM_ONLY_WRITABLE
                    .iter()
                    .any(|n| n.eq_ignore_ascii_case(name))
            {
                return Err(diag::constraint(name, oid, win32::CONSTRAINT_VIOLATION));
            }
            match modification.kind {
                ModificationKind::Delete => {}
                ModificationKind::Add | ModificationKind::Replace => {
                    self.check_values(context, definition, &modification.values)?;
                }
                ModificationKind::Increment => {
                    if !matches!(definition.syntax, Syntax::Integer | Syntax::LargeInteger) {
                        return Err(diag::invalid_syntax());
                    }
                    self.check_values(context, definition, &updated)?;
                }
            }
            // A modify that leaves a single-valued attribute with several values answers
            // attributeOrValueExists (an add request with several values: constraintViolation);
            // Samba's replmd codes this after Windows.
            if definition.single_valued && updated.len() > 1 {
                return Err(diag::value_exists(name, oid));
            }
            // Keep the attribute's position when it stays; AD's attribute order is not
            // meaningful, but a stable one keeps dumps readable.
            result.attrs.set(name, updated);
        }
        if let Some(structural) = structural {
            for attribute in result.attrs.iter() {
                let allowed = self
                    .attribute(attribute.name)
                    .is_none_or(|definition| self.allows(&structural, definition));
                if !allowed {
                    return Err(diag::object_class_violation(class_win32::NOT_ALLOWED));
                }
            }
            for required in self.must(&structural) {
                if !result.attrs.contains(&required.name) && entry.attrs.contains(&required.name) {
                    return Err(diag::object_class_violation(class_win32::MISSING_REQUIRED));
                }
            }
        }
        Ok(result)
    }

    /// The schema spelling of an attribute name, or the name as given when unknown.
    pub fn canonical_attribute_name<'a>(&'a self, name: &'a str) -> &'a str {
        self.attribute(name)
            .map_or(name, |definition| definition.name.as_str())
    }

    /// Whether two values of `attribute` are equal under its syntax (bytes for binary syntaxes,
    /// case-insensitively for strings, normalised for DNs). Unknown attributes compare as text.
    pub fn values_equal(&self, attribute: &str, a: &[u8], b: &[u8]) -> bool {
        let syntax = self
            .attribute(attribute)
            .map_or(Syntax::Unicode, |d| d.syntax);
        values_equal(syntax, a, b)
    }
}

/// Value equality under a syntax.
pub fn values_equal(syntax: Syntax, a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    if syntax.is_binary() {
        return false;
    }
    let (Ok(a), Ok(b)) = (std::str::from_utf8(a), std::str::from_utf8(b)) else {
        return false;
    };
    match syntax {
        Syntax::Dn => match (Dn::parse(a), Dn::parse(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        },
        Syntax::Boolean | Syntax::Integer | Syntax::LargeInteger => false,
        _ => a.to_lowercase() == b.to_lowercase(),
    }
}

/// The values of `definition`'s attribute after `modification`, from its `current` values:
/// what the modification's kind does, and the errors of the kind itself (an empty add, a
/// present value added or a missing one removed without `permissive`, an increment that is
/// not of one integer by one integer).
fn changed_values(
    definition: &AttributeDef,
    current: Vec<Bytes>,
    modification: &Modification,
    permissive: bool,
) -> Result<Vec<Bytes>, OpError> {
    let name = definition.name.as_str();
    let oid = definition.oid.as_str();
    let values = &modification.values;
    Ok(match modification.kind {
        ModificationKind::Add => {
            if values.is_empty() {
                return Err(diag::constraint(name, oid, win32::CONSTRAINT_VIOLATION));
            }
            let mut indexed = IndexedValues::new(definition.syntax, current);
            for value in values {
                if indexed.contains(value) {
                    if permissive {
                        continue;
                    }
                    return Err(diag::value_exists(name, oid));
                }
                indexed.push(value.clone());
            }
            indexed.into_values()
        }
        ModificationKind::Delete if values.is_empty() => {
            if current.is_empty() && !permissive {
                return Err(diag::no_such_value(name, oid));
            }
            Vec::new()
        }
        ModificationKind::Delete => {
            let mut indexed = IndexedValues::new(definition.syntax, current);
            for value in values {
                if !indexed.remove(value) && !permissive {
                    return Err(diag::no_such_value(name, oid));
                }
            }
            indexed.into_values()
        }
        ModificationKind::Replace => values.clone(),
        ModificationKind::Increment => {
            let constraint = || diag::constraint(name, oid, win32::CONSTRAINT_VIOLATION);
            let [delta] = values.as_slice() else {
                return Err(constraint());
            };
            let delta = integer(delta).ok_or_else(constraint)?;
            if current.is_empty() {
                return Err(diag::no_such_value(name, oid));
            }
            let [present] = current.as_slice() else {
                // Several values: an integer attribute is single-valued.
                return match current.iter().all(|v| integer(v).is_some()) {
                    true => Err(diag::no_such_value(name, oid)),
                    false => Err(constraint()),
                };
            };
            let present = integer(present).ok_or_else(constraint)?;
            let sum = present
                .checked_add(delta)
                .ok_or_else(|| diag::constraint(name, oid, win32::RANGE))?;
            vec![Bytes::from(sum.to_string())]
        }
    })
}

/// An integer value (surrounding blanks allowed).
fn integer(value: &[u8]) -> Option<i64> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

/// An attribute with text values, for tests and seeds.
pub fn text_attribute(name: &str, values: &[&str]) -> Attribute {
    Attribute::new(
        name,
        values.iter().map(|v| Bytes::from(v.to_string())).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::entry::Attributes;
    use devwb_model::SchemaLevel;

    fn schema_nc() -> Dn {
        Dn::parse("CN=Schema,CN=Configuration,DC=contoso,DC=lab").expect("dn")
    }

    fn entry(dn: &str, attributes: &[(&str, &[&[u8]])]) -> Entry {
        let mut attrs = Attributes::new();
        for (name, values) in attributes {
            attrs.set(
                name,
                values.iter().map(|v| Bytes::copy_from_slice(v)).collect(),
            );
        }
        Entry {
            dn: Dn::parse(dn).expect("dn"),
            attrs,
        }
    }

    fn device_container() -> Entry {
        entry(
            "CN=RegisteredDevices,DC=contoso,DC=lab",
            &[("objectClass", &[b"top", b"msDS-DeviceContainer"])],
        )
    }

    fn device(extra: &[(&str, &[&[u8]])]) -> Entry {
        let mut attributes: Vec<(&str, &[&[u8]])> = vec![
            ("objectClass", &[b"msDS-Device"]),
            ("msDS-DeviceID", &[&[7u8; 16]]),
            ("msDS-IsEnabled", &[b"TRUE"]),
            ("altSecurityIdentities", &[b"X509:<SHA1-TP-PUBKEY>00"]),
            ("displayName", &[b"laptop"]),
        ];
        for (name, values) in extra {
            attributes.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            attributes.push((name, values));
        }
        entry(
            "CN=dev1,CN=RegisteredDevices,DC=contoso,DC=lab",
            &attributes,
        )
    }

    /// Runs an add of `new` under `parent` at `level`; the code, or 0 for success.
    fn add_code(level: SchemaLevel, parent: &Entry, mut new: Entry) -> u32 {
        let schema = Schema::for_level(level);
        let nc = schema_nc();
        let exists = |dn: &Dn| dn.to_string().ends_with("DC=contoso,DC=lab");
        let context = DirectoryContext {
            schema_nc: &nc,
            exists: &exists,
        };
        match schema.check_add(&context, Some(parent), &mut new) {
            Ok(_) => 0,
            Err(error) => error.code.0,
        }
    }

    #[test]
    fn add_rules_answer_ads_codes() {
        let level = SchemaLevel::W2016;
        let parent = device_container();
        let cases: Vec<(&str, Entry, u32)> = vec![
            ("a valid device", device(&[]), 0),
            (
                "device id of 15 bytes",
                device(&[("msDS-DeviceID", &[&[1u8; 15]])]),
                19,
            ),
            (
                "boolean in lower case",
                device(&[("msDS-IsEnabled", &[b"true"])]),
                21,
            ),
            (
                "two display names",
                device(&[("displayName", &[b"a", b"b"])]),
                19,
            ),
            (
                "display name of 257 characters",
                device(&[("displayName", &["x".repeat(257).as_bytes()])]),
                19,
            ),
            ("an unknown attribute", device(&[("fooBar", &[b"1"])]), 16),
            (
                "an attribute the class does not allow",
                device(&[("sAMAccountName", &[b"x"])]),
                65,
            ),
            (
                "a mandatory attribute missing",
                {
                    let mut d = device(&[]);
                    d.attrs.remove("msDS-IsEnabled");
                    d
                },
                65,
            ),
            (
                "an unknown class",
                device(&[("objectClass", &[b"noSuchClass"])]),
                16,
            ),
            (
                "no objectClass",
                {
                    let mut d = device(&[]);
                    d.attrs.remove("objectClass");
                    d
                },
                65,
            ),
            (
                "a constructed attribute",
                device(&[("tokenGroups", &[b"x"])]),
                17,
            ),
            (
                "a back link",
                device(&[("memberOf", &[b"CN=x,DC=contoso,DC=lab"])]),
                53,
            ),
            (
                "a registered owner SID",
                device(&[(
                    "msDS-RegisteredOwner",
                    &[&[1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]],
                )]),
                0,
            ),
            (
                "an integer that is not one",
                device(&[("msDS-DeviceObjectVersion", &[b"two"])]),
                21,
            ),
            (
                "a duplicate value",
                device(&[("msDS-DevicePhysicalIDs", &[b"a", b"A"])]),
                20,
            ),
        ];
        for (name, new, expected) in cases {
            assert_eq!(add_code(level, &parent, new), expected, "{name}");
        }
    }

    #[test]
    fn naming_and_superiors() {
        let level = SchemaLevel::W2016;
        let container = entry(
            "CN=Users,DC=contoso,DC=lab",
            &[("objectClass", &[b"top", b"container"])],
        );
        let mut misplaced = device(&[]);
        misplaced.dn = Dn::parse("CN=dev1,CN=Users,DC=contoso,DC=lab").expect("dn");
        assert_eq!(
            add_code(level, &container, misplaced),
            64,
            "msDS-Device only under msDS-DeviceContainer"
        );
        let mut wrong_rdn = device(&[]);
        wrong_rdn.dn = Dn::parse("OU=dev1,CN=RegisteredDevices,DC=contoso,DC=lab").expect("dn");
        assert_eq!(add_code(level, &device_container(), wrong_rdn), 64);
        assert_eq!(
            add_code(level, &device_container(), device(&[("cn", &[b"other"])])),
            64
        );
        assert_eq!(
            add_code(SchemaLevel::W2008R2, &device_container(), device(&[])),
            16,
            "no msDS-Device on 2008 R2"
        );
        assert_eq!(
            add_code(
                SchemaLevel::W2012R2,
                &device_container(),
                device(&[("msDS-IsCompliant", &[b"TRUE"])])
            ),
            16,
            "msDS-IsCompliant only from 2016"
        );
    }

    #[test]
    fn add_normalises_like_ad() {
        let schema = Schema::for_level(SchemaLevel::W2016);
        let nc = schema_nc();
        let exists = |_: &Dn| true;
        let context = DirectoryContext {
            schema_nc: &nc,
            exists: &exists,
        };
        let mut new = device(&[("msds-deviceid", &[&[7u8; 16]])]);
        new.attrs.remove("msDS-DeviceID");
        new.attrs
            .set("MSDS-DEVICEID", vec![Bytes::from_static(&[7u8; 16])]);
        let class = schema
            .check_add(&context, Some(&device_container()), &mut new)
            .expect("valid");
        assert_eq!(class.name, "msDS-Device");
        let classes: Vec<&str> = new
            .attrs
            .get("objectClass")
            .expect("objectClass")
            .values
            .iter()
            .map(|v| std::str::from_utf8(v).expect("utf8"))
            .collect();
        assert_eq!(classes, ["top", "msDS-Device"]);
        assert!(new.attrs.iter().any(|a| a.name == "msDS-DeviceID"));
        assert_eq!(new.attrs.first_str("cn"), Some("dev1"));
        assert_eq!(
            new.attrs.first_str("objectCategory"),
            Some("CN=ms-DS-Device,CN=Schema,CN=Configuration,DC=contoso,DC=lab")
        );
        assert_eq!(new.attrs.first_str("instanceType"), Some("4"));
        assert_eq!(new.attrs.first_str("showInAdvancedViewOnly"), Some("TRUE"));

        let user = entry(
            "CN=Ann,CN=Users,DC=contoso,DC=lab",
            &[("objectClass", &[b"user"])],
        );
        let users = entry(
            "CN=Users,DC=contoso,DC=lab",
            &[("objectClass", &[b"top", b"container"])],
        );
        let mut user = user;
        schema
            .check_add(&context, Some(&users), &mut user)
            .expect("user");
        let classes: Vec<&str> = user
            .attrs
            .get("objectClass")
            .expect("objectClass")
            .values
            .iter()
            .map(|v| std::str::from_utf8(v).expect("utf8"))
            .collect();
        assert_eq!(classes, ["top", "person", "organizationalPerson", "user"]);
        assert_eq!(
            user.attrs.first_str("objectCategory"),
            Some("CN=Person,CN=Schema,CN=Configuration,DC=contoso,DC=lab")
        );
    }

    #[test]
    fn modify_rules() {
        let schema = Schema::for_level(SchemaLevel::W2016);
        let nc = schema_nc();
        let exists = |dn: &Dn| dn.to_string() != "CN=missing,DC=contoso,DC=lab";
        let context = DirectoryContext {
            schema_nc: &nc,
            exists: &exists,
        };
        let mut stored = device(&[]);
        schema
            .check_add(&context, Some(&device_container()), &mut stored)
            .expect("valid");
        let change = |kind, attribute: &str, values: &[&[u8]]| Modification {
            kind,
            attribute: attribute.to_string(),
            values: values.iter().map(|v| Bytes::copy_from_slice(v)).collect(),
        };
        let code = |mods: Vec<Modification>, permissive: bool| match schema
            .apply_modify(&context, &stored, &mods, permissive)
        {
            Ok(_) => 0,
            Err(error) => error.code.0,
        };
        assert_eq!(
            code(
                vec![change(ModificationKind::Replace, "displayname", &[b"new"])],
                false
            ),
            0
        );
        assert_eq!(
            code(
                vec![change(ModificationKind::Add, "displayName", &[b"second"])],
                false
            ),
            20
        );
        assert_eq!(
            code(
                vec![change(ModificationKind::Delete, "msDS-IsEnabled", &[])],
                false
            ),
            65
        );
        assert_eq!(
            code(
                vec![
                    change(ModificationKind::Add, "msDS-DevicePhysicalIDs", &[b"a"]),
                    change(ModificationKind::Add, "msDS-DevicePhysicalIDs", &[b"a"])
                ],
                false
            ),
            20
        );
        assert_eq!(
            code(
                vec![
                    change(ModificationKind::Add, "msDS-DevicePhysicalIDs", &[b"a"]),
                    change(ModificationKind::Add, "msDS-DevicePhysicalIDs", &[b"a"])
                ],
                true
            ),
            0
        );
        assert_eq!(
            code(
                vec![change(
                    ModificationKind::Delete,
                    "msDS-DeviceOSType",
                    &[b"x"]
                )],
                false
            ),
            16
        );
        assert_eq!(
            code(
                vec![change(
                    ModificationKind::Delete,
                    "msDS-DeviceOSType",
                    &[b"x"]
                )],
                true
            ),
            0
        );
        assert_eq!(
            code(
                vec![change(ModificationKind::Replace, "cn", &[b"x"])],
                false
            ),
            67
        );
        assert_eq!(
            code(
                vec![change(
                    ModificationKind::Replace,
                    "objectGUID",
                    &[&[0u8; 16]]
                )],
                false
            ),
            19,
            "system-only"
        );
        assert_eq!(
            code(
                vec![change(ModificationKind::Replace, "noSuch", &[b"x"])],
                false
            ),
            16
        );
        assert_eq!(
            code(
                vec![change(ModificationKind::Replace, "sAMAccountName", &[b"x"])],
                false
            ),
            65
        );
        assert_eq!(
            code(
                vec![change(
                    ModificationKind::Replace,
                    "manager",
                    &[b"CN=missing,DC=contoso,DC=lab"]
                )],
                false
            ),
            19
        );
        assert_eq!(
            code(
                vec![
                    change(
                        ModificationKind::Replace,
                        "msDS-DeviceObjectVersion",
                        &[b"1"]
                    ),
                    change(
                        ModificationKind::Increment,
                        "msDS-DeviceObjectVersion",
                        &[b"2"]
                    )
                ],
                false
            ),
            0
        );
        assert_eq!(code(vec![], false), 53);
        let updated = schema
            .apply_modify(
                &context,
                &stored,
                &[
                    change(
                        ModificationKind::Replace,
                        "msDS-DeviceObjectVersion",
                        &[b"1"],
                    ),
                    change(
                        ModificationKind::Increment,
                        "msDS-DeviceObjectVersion",
                        &[b"2"],
                    ),
                ],
                false,
            )
            .expect("increment");
        assert_eq!(
            updated.attrs.first_str("msDS-DeviceObjectVersion"),
            Some("3")
        );
    }
}
