//! AD's schema as the simulator enforces it: classes and attributes of a schema level, lookups
//! by name and OID, class chains, effective must/may and possible superiors, and the content
//! rules of add and modify (in [`rules`]) with AD's result codes.
//!
//! The definitions come from Microsoft's published schema LDFs through the committed table
//! `ad-schema.txt` (see [`table`]). [`Schema::for_level`] builds a level's schema once per
//! process and hands out cheap clones (an `Arc`). Levels 2019 and 2025 use the 2016 definitions
//! with their own `objectVersion`: Microsoft's 2019 update (objectVersion 88) adds nothing device
//! writeback uses, and the published LDFs stop at 2016.
//!
//! What this module deliberately does not do: it knows nothing about access control (see
//! `security`) or the store; callers pass in what it needs (the parent entry, the schema NC's
//! DN, whether a DN names an existing object).

pub mod diag;
pub mod nc;
pub mod rules;
pub mod subschema;
pub mod syntax;
pub mod table;
pub mod values;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use devwb_model::{Dn, Guid, SchemaLevel};

pub use syntax::Syntax;
use table::{ObjectKind, RawObject};

/// `objectClassCategory`: how a class may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassCategory {
    /// 0: an X.500 1988 class (no category).
    Type88,
    /// 1: a structural class, instantiable.
    Structural,
    /// 2: an abstract class, only a superclass.
    Abstract,
    /// 3: an auxiliary class, mixed into others.
    Auxiliary,
}

/// `systemFlags` bit of a constructed attribute (FLAG_ATTR_IS_CONSTRUCTED).
pub const FLAG_ATTR_IS_CONSTRUCTED: u32 = 0x4;

/// One `attributeSchema` object.
#[derive(Clone, Debug)]
pub struct AttributeDef {
    /// lDAPDisplayName.
    pub name: String,
    /// The `cn` (its RDN under the schema NC).
    pub cn: String,
    /// attributeID.
    pub oid: String,
    /// schemaIDGUID.
    pub guid: Guid,
    /// attributeSyntax + oMSyntax.
    pub syntax: Syntax,
    /// The raw attributeSyntax.
    pub attribute_syntax: String,
    /// The raw oMSyntax.
    pub om_syntax: u32,
    /// isSingleValued.
    pub single_valued: bool,
    /// rangeLower.
    pub range_lower: Option<i64>,
    /// rangeUpper.
    pub range_upper: Option<i64>,
    /// systemOnly: only the system may write it after creation.
    pub system_only: bool,
    /// attributeSecurityGUID: the property set it belongs to.
    pub security_guid: Option<Guid>,
    /// linkID: even for a forward link, odd for its back link.
    pub link_id: Option<i32>,
    /// systemFlags.
    pub system_flags: u32,
    /// searchFlags.
    pub search_flags: u32,
    /// The level at which this definition appears.
    pub level: SchemaLevel,
    /// Every attribute of the `attributeSchema` object, for the schema NC.
    pub raw: RawObject,
}

impl AttributeDef {
    /// Whether AD computes the attribute on read (it cannot be written).
    pub fn is_constructed(&self) -> bool {
        self.system_flags & FLAG_ATTR_IS_CONSTRUCTED != 0
    }

    /// Whether the global catalog holds this attribute for the entries of every domain
    /// (`isMemberOfPartialAttributeSet`, as Microsoft's schema files set it).
    pub fn in_partial_attribute_set(&self) -> bool {
        self.raw
            .first("isMemberOfPartialAttributeSet")
            .is_some_and(|v| v.eq_ignore_ascii_case("TRUE"))
    }

    /// Whether this is the back link of a linked pair (`memberOf`): never written directly.
    pub fn is_back_link(&self) -> bool {
        self.link_id.is_some_and(|id| id % 2 != 0)
    }
}

/// One `classSchema` object and what follows from the class hierarchy.
#[derive(Clone, Debug)]
pub struct ClassDef {
    /// lDAPDisplayName.
    pub name: String,
    /// The `cn`.
    pub cn: String,
    /// governsID.
    pub oid: String,
    /// schemaIDGUID.
    pub guid: Guid,
    /// objectClassCategory.
    pub category: ClassCategory,
    /// subClassOf (lDAPDisplayName).
    pub sub_class_of: String,
    /// rDNAttID: the attribute naming instances (`cn`, `ou`, `dc`).
    pub rdn_attribute: String,
    /// systemOnly: only the system creates instances.
    pub system_only: bool,
    /// defaultSecurityDescriptor (SDDL), unresolved.
    pub default_security_descriptor: Option<String>,
    /// The `cn` of the class whose `classSchema` object is `defaultObjectCategory`.
    pub default_object_category: String,
    /// defaultHidingValue.
    pub default_hiding: bool,
    /// systemMustContain + mustContain.
    pub must: Vec<String>,
    /// systemMayContain + mayContain.
    pub may: Vec<String>,
    /// systemPossSuperiors + possSuperiors.
    pub poss_superiors: Vec<String>,
    /// systemAuxiliaryClass + auxiliaryClass.
    pub auxiliary: Vec<String>,
    /// The level at which this definition appears.
    pub level: SchemaLevel,
    /// Every attribute of the `classSchema` object, for the schema NC.
    pub raw: RawObject,
}

/// Derived facts of a class, computed once when the schema is built.
#[derive(Clone, Debug, Default)]
struct ClassFacts {
    /// Superclass chain, `top` first, the class itself last.
    chain: Vec<usize>,
    /// Every mandatory attribute, inherited and from auxiliary classes (attribute indexes).
    must: Vec<usize>,
    /// Every allowed attribute (must included).
    allowed: Vec<usize>,
    /// Lowercase names of every class an instance may be created under.
    poss_superiors: Vec<String>,
}

/// Schema names (lDAPDisplayNames, OIDs, cns) to indexes, looked up in any case without
/// allocating: every request looks up each of its attribute names here.
#[derive(Debug, Default)]
struct NameIndex(HashMap<String, usize, rustc_hash::FxBuildHasher>);

impl NameIndex {
    fn insert(&mut self, name: &str, index: usize) {
        self.0.insert(name.to_ascii_lowercase(), index);
    }

    fn insert_if_absent(&mut self, name: &str, index: usize) {
        self.0.entry(name.to_ascii_lowercase()).or_insert(index);
    }

    fn get(&self, name: &str) -> Option<usize> {
        with_ascii_lowercase(name, |lower| self.0.get(lower).copied())
    }
}

/// Calls `f` with `name` in ASCII lower case, lowercased on the stack when it is short (schema
/// names are: looking one up on every request, or for every attribute returned, allocates nothing).
pub(crate) fn with_ascii_lowercase<R>(name: &str, f: impl FnOnce(&str) -> R) -> R {
    let mut buffer = [0u8; 96];
    match buffer.get_mut(..name.len()) {
        Some(bytes) => {
            bytes.copy_from_slice(name.as_bytes());
            bytes.make_ascii_lowercase();
            // ASCII lowercasing keeps UTF-8 valid; the fallback is never taken.
            match std::str::from_utf8(bytes) {
                Ok(lower) => f(lower),
                Err(_) => f(&name.to_ascii_lowercase()),
            }
        }
        None => f(&name.to_ascii_lowercase()),
    }
}

#[derive(Debug)]
struct Inner {
    level: SchemaLevel,
    attributes: Vec<AttributeDef>,
    classes: Vec<ClassDef>,
    facts: Vec<ClassFacts>,
    /// lDAPDisplayName and OID, any case -> attribute index.
    attribute_index: NameIndex,
    /// lDAPDisplayName, OID and cn, any case -> class index.
    class_index: NameIndex,
    /// Lowercase cn -> attribute index (schema NC names).
    attribute_cn_index: HashMap<String, usize>,
}

/// The schema of one level. Cloning is cheap.
#[derive(Clone, Debug)]
pub struct Schema {
    inner: Arc<Inner>,
}

impl Schema {
    /// The schema of `level`, built on first use and shared afterwards.
    pub fn for_level(level: SchemaLevel) -> Schema {
        static CACHE: [OnceLock<Schema>; 6] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        let slot = SchemaLevel::ALL
            .iter()
            .position(|l| *l == level)
            .unwrap_or(0);
        match CACHE.get(slot) {
            Some(cell) => cell.get_or_init(|| Schema::build(level)).clone(),
            None => Schema::build(level),
        }
    }

    /// Builds a level's schema from the committed table. A malformed table line (which a unit
    /// test rules out for the committed table) is logged and skipped.
    fn build(level: SchemaLevel) -> Schema {
        let mut latest: HashMap<(ObjectKind, String), RawObject> = HashMap::new();
        let mut order: Vec<(ObjectKind, String)> = Vec::new();
        for (index, line) in table::TABLE.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let object = match table::parse(line) {
                Ok(mut objects) => match objects.pop() {
                    Some(object) => object,
                    None => continue,
                },
                Err(error) => {
                    tracing::error!(line = index + 1, %error, "skipping a malformed schema table line");
                    continue;
                }
            };
            if object.level > level {
                continue;
            }
            let key = (
                object.kind,
                object
                    .first("lDAPDisplayName")
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
            );
            if !latest.contains_key(&key) {
                order.push(key.clone());
            }
            latest.insert(key, object);
        }
        let mut attributes = Vec::new();
        let mut classes = Vec::new();
        for key in order {
            let Some(raw) = latest.remove(&key) else {
                continue;
            };
            match key.0 {
                ObjectKind::Attribute => attributes.push(attribute_def(raw)),
                ObjectKind::Class => classes.push(class_def(raw)),
            }
        }
        let mut attribute_index = NameIndex::default();
        let mut attribute_cn_index = HashMap::new();
        for (index, attribute) in attributes.iter().enumerate() {
            attribute_index.insert(&attribute.name, index);
            attribute_index.insert(&attribute.oid, index);
            attribute_cn_index.insert(attribute.cn.to_ascii_lowercase(), index);
        }
        let mut class_index = NameIndex::default();
        for (index, class) in classes.iter().enumerate() {
            class_index.insert(&class.name, index);
            class_index.insert(&class.oid, index);
            class_index.insert_if_absent(&class.cn, index);
        }
        let mut inner = Inner {
            level,
            attributes,
            classes,
            facts: Vec::new(),
            attribute_index,
            class_index,
            attribute_cn_index,
        };
        inner.facts = (0..inner.classes.len())
            .map(|index| class_facts(&inner, index))
            .collect();
        Schema {
            inner: Arc::new(inner),
        }
    }

    /// The level this schema is for.
    pub fn level(&self) -> SchemaLevel {
        self.inner.level
    }

    /// The schema NC head's `objectVersion` at this level.
    pub fn object_version(&self) -> u32 {
        self.inner.level.object_version()
    }

    /// The attribute named `name` (lDAPDisplayName or OID, any case).
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        let index = self.inner.attribute_index.get(name)?;
        self.inner.attributes.get(index)
    }

    /// Whether the global catalog returns the attribute `name` (see
    /// [`AttributeDef::in_partial_attribute_set`]); an attribute the schema does not know is
    /// not returned.
    pub fn in_partial_attribute_set(&self, name: &str) -> bool {
        self.attribute(name)
            .is_some_and(AttributeDef::in_partial_attribute_set)
    }

    /// The class named `name` (lDAPDisplayName, OID or cn, any case).
    pub fn class(&self, name: &str) -> Option<&ClassDef> {
        let index = self.class_index(name)?;
        self.inner.classes.get(index)
    }

    /// Every attribute of this level.
    pub fn attributes(&self) -> &[AttributeDef] {
        &self.inner.attributes
    }

    /// Every class of this level.
    pub fn classes(&self) -> &[ClassDef] {
        &self.inner.classes
    }

    fn class_index(&self, name: &str) -> Option<usize> {
        self.inner.class_index.get(name)
    }

    fn facts(&self, class: &ClassDef) -> Option<&ClassFacts> {
        self.class_index(&class.name)
            .and_then(|index| self.inner.facts.get(index))
    }

    /// The superclass chain of `class`, `top` first and `class` last: the order of AD's
    /// `objectClass` values.
    pub fn chain(&self, class: &ClassDef) -> Vec<&ClassDef> {
        self.facts(class)
            .map(|facts| {
                facts
                    .chain
                    .iter()
                    .filter_map(|&i| self.inner.classes.get(i))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every mandatory attribute of an instance of `class` (inherited ones and those of
    /// auxiliary classes included).
    pub fn must(&self, class: &ClassDef) -> Vec<&AttributeDef> {
        self.facts(class)
            .map(|facts| {
                facts
                    .must
                    .iter()
                    .filter_map(|&i| self.inner.attributes.get(i))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether an instance of `class` may hold `attribute` (mandatory or optional).
    pub fn allows(&self, class: &ClassDef, attribute: &AttributeDef) -> bool {
        let Some(index) = self.inner.attribute_index.get(&attribute.name) else {
            return false;
        };
        self.facts(class)
            .is_some_and(|facts| facts.allowed.binary_search(&index).is_ok())
    }

    /// Every attribute an instance of `class` may hold (mandatory included).
    pub fn allowed(&self, class: &ClassDef) -> Vec<&AttributeDef> {
        self.facts(class)
            .map(|facts| {
                facts
                    .allowed
                    .iter()
                    .filter_map(|&i| self.inner.attributes.get(i))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether an instance of `class` may be created under an entry whose `objectClass` values
    /// are `parent_classes` (possSuperiors of the class and its superclasses).
    pub fn may_be_child_of<'a>(
        &self,
        class: &ClassDef,
        parent_classes: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        let Some(facts) = self.facts(class) else {
            return false;
        };
        parent_classes.into_iter().any(|parent| {
            let parent = self.class(parent).map_or_else(
                || parent.to_ascii_lowercase(),
                |c| c.name.to_ascii_lowercase(),
            );
            facts.poss_superiors.contains(&parent)
        })
    }

    /// The DN of the `classSchema` object a new instance of `class` gets as `objectCategory`.
    pub fn default_object_category(&self, class: &ClassDef, schema_nc: &Dn) -> String {
        format!("CN={},{}", class.default_object_category, schema_nc)
    }

    /// The objectCategory DN a filter value stands for: AD lets filters name a category by a
    /// class's lDAPDisplayName (`(objectCategory=msDS-Device)`, `(objectCategory=user)`, which
    /// means `CN=Person`). `None` when `value` is already a DN or names no class.
    pub fn object_category_for_filter(&self, value: &str, schema_nc: &Dn) -> Option<String> {
        if value.contains('=') {
            return None;
        }
        let class = self.class(value)?;
        Some(self.default_object_category(class, schema_nc))
    }

    /// The attribute whose `cn` is `cn` (the RDN of its `attributeSchema` object).
    pub fn attribute_by_cn(&self, cn: &str) -> Option<&AttributeDef> {
        let index = *self
            .inner
            .attribute_cn_index
            .get(&cn.to_ascii_lowercase())?;
        self.inner.attributes.get(index)
    }
}

fn guid_field(raw: &RawObject, name: &str) -> Option<Guid> {
    raw.first(name).and_then(|text| Guid::parse(text).ok())
}

fn number_field<T: std::str::FromStr>(raw: &RawObject, name: &str) -> Option<T> {
    raw.first(name).and_then(|text| text.parse().ok())
}

fn bool_field(raw: &RawObject, name: &str) -> bool {
    raw.first(name) == Some("TRUE")
}

fn attribute_def(raw: RawObject) -> AttributeDef {
    let attribute_syntax = raw.first("attributeSyntax").unwrap_or_default().to_string();
    let om_syntax = number_field(&raw, "oMSyntax").unwrap_or(0);
    AttributeDef {
        name: raw.first("lDAPDisplayName").unwrap_or_default().to_string(),
        cn: raw.first("cn").unwrap_or_default().to_string(),
        oid: raw.first("attributeID").unwrap_or_default().to_string(),
        guid: guid_field(&raw, "schemaIDGUID").unwrap_or(Guid::NIL),
        syntax: Syntax::from_schema(&attribute_syntax, om_syntax),
        attribute_syntax,
        om_syntax,
        single_valued: bool_field(&raw, "isSingleValued"),
        range_lower: number_field(&raw, "rangeLower"),
        range_upper: number_field(&raw, "rangeUpper"),
        system_only: bool_field(&raw, "systemOnly"),
        security_guid: guid_field(&raw, "attributeSecurityGUID"),
        link_id: number_field(&raw, "linkID"),
        system_flags: number_field::<i64>(&raw, "systemFlags").map_or(0, |flags| flags as u32),
        search_flags: number_field::<i64>(&raw, "searchFlags").map_or(0, |flags| flags as u32),
        level: raw.level,
        raw,
    }
}

fn class_def(raw: RawObject) -> ClassDef {
    let list = |system: &str, other: &str| -> Vec<String> {
        raw.all(system)
            .chain(raw.all(other))
            .map(str::to_string)
            .collect()
    };
    let cn = raw.first("cn").unwrap_or_default().to_string();
    ClassDef {
        name: raw.first("lDAPDisplayName").unwrap_or_default().to_string(),
        oid: raw.first("governsID").unwrap_or_default().to_string(),
        guid: guid_field(&raw, "schemaIDGUID").unwrap_or(Guid::NIL),
        category: match raw.first("objectClassCategory") {
            Some("1") => ClassCategory::Structural,
            Some("2") => ClassCategory::Abstract,
            Some("3") => ClassCategory::Auxiliary,
            _ => ClassCategory::Type88,
        },
        sub_class_of: raw.first("subClassOf").unwrap_or("top").to_string(),
        rdn_attribute: raw.first("rDNAttID").unwrap_or("cn").to_string(),
        system_only: bool_field(&raw, "systemOnly"),
        default_security_descriptor: raw.first("defaultSecurityDescriptor").map(str::to_string),
        default_object_category: raw
            .first("defaultObjectCategory")
            .and_then(|rdn| rdn.strip_prefix("CN="))
            .map_or_else(|| cn.clone(), str::to_string),
        default_hiding: bool_field(&raw, "defaultHidingValue"),
        must: list("systemMustContain", "mustContain"),
        may: list("systemMayContain", "mayContain"),
        poss_superiors: list("systemPossSuperiors", "possSuperiors"),
        auxiliary: list("systemAuxiliaryClass", "auxiliaryClass"),
        level: raw.level,
        cn,
        raw,
    }
}

/// Computes the chain, effective must/may and possible superiors of class `index`.
fn class_facts(inner: &Inner, index: usize) -> ClassFacts {
    let class_at = |name: &str| inner.class_index.get(name);
    // The superclass chain, most specific first while walking, then reversed.
    let mut chain = vec![index];
    let mut current = index;
    while let Some(class) = inner.classes.get(current) {
        if class.name.eq_ignore_ascii_case("top") {
            break;
        }
        match class_at(&class.sub_class_of) {
            Some(parent) if !chain.contains(&parent) => {
                chain.push(parent);
                current = parent;
            }
            _ => break,
        }
    }
    chain.reverse();
    // Every class contributing attributes: the chain and, transitively, auxiliary classes and
    // their own superclasses.
    let mut contributing: Vec<usize> = Vec::new();
    let mut pending: Vec<usize> = chain.clone();
    while let Some(next) = pending.pop() {
        if contributing.contains(&next) {
            continue;
        }
        contributing.push(next);
        if let Some(class) = inner.classes.get(next) {
            for name in class
                .auxiliary
                .iter()
                .chain(std::iter::once(&class.sub_class_of))
            {
                if let Some(other) = class_at(name) {
                    pending.push(other);
                }
            }
        }
    }
    let attribute_at = |name: &str| inner.attribute_index.get(name);
    let mut must: Vec<usize> = Vec::new();
    let mut allowed: Vec<usize> = Vec::new();
    for class in contributing.iter().filter_map(|&i| inner.classes.get(i)) {
        must.extend(class.must.iter().filter_map(|name| attribute_at(name)));
        allowed.extend(
            class
                .must
                .iter()
                .chain(&class.may)
                .filter_map(|name| attribute_at(name)),
        );
    }
    must.sort_unstable();
    must.dedup();
    allowed.sort_unstable();
    allowed.dedup();
    let mut poss_superiors: Vec<String> = chain
        .iter()
        .filter_map(|&i| inner.classes.get(i))
        .flat_map(|class| {
            class
                .poss_superiors
                .iter()
                .map(|name| name.to_ascii_lowercase())
        })
        .collect();
    poss_superiors.sort_unstable();
    poss_superiors.dedup();
    ClassFacts {
        chain,
        must,
        allowed,
        poss_superiors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_classes_exist_from_2012_r2() {
        assert!(Schema::for_level(SchemaLevel::W2008R2)
            .class("msDS-Device")
            .is_none());
        assert!(Schema::for_level(SchemaLevel::W2012)
            .class("msDS-Device")
            .is_none());
        let schema = Schema::for_level(SchemaLevel::W2012R2);
        let device = schema.class("msds-device").expect("msDS-Device at 2012 R2");
        assert_eq!(device.oid, "1.2.840.113556.1.5.286");
        assert_eq!(
            device.guid.to_string(),
            "5df2b673-6d41-4774-b3e8-d52e8ee9ff99"
        );
        assert_eq!(device.rdn_attribute, "cn");
        assert!(schema.attribute("msDS-IsCompliant").is_none());
        let schema_2016 = Schema::for_level(SchemaLevel::W2016);
        let compliant = schema_2016
            .attribute("msDS-IsCompliant")
            .expect("2016 attribute");
        let device_2016 = schema_2016.class("msDS-Device").expect("msDS-Device");
        assert!(schema_2016.allows(device_2016, compliant));
        assert_eq!(schema.object_version(), 69);
        assert_eq!(Schema::for_level(SchemaLevel::W2019).object_version(), 88);
    }

    #[test]
    fn names_are_found_in_any_case_and_odd_names_are_not_found() {
        let schema = Schema::for_level(SchemaLevel::W2016);
        for name in ["msDS-DeviceID", "MSDS-DEVICEID", "msds-deviceid"] {
            assert_eq!(
                schema.attribute(name).map(|a| a.name.as_str()),
                Some("msDS-DeviceID")
            );
        }
        assert_eq!(
            schema.class("MSDS-DEVICE").map(|c| c.name.as_str()),
            Some("msDS-Device")
        );
        // Longer than the lookup's stack buffer, non-ASCII, empty: not found, no panic.
        assert!(schema.attribute(&"a".repeat(500)).is_none());
        assert!(schema.attribute("displayNäme").is_none());
        assert!(schema.attribute("").is_none());
        assert!(schema.class(&"msDS-Device".repeat(20)).is_none());
    }

    #[test]
    fn device_attributes_have_their_published_syntax() {
        let schema = Schema::for_level(SchemaLevel::W2016);
        let id = schema.attribute("msDS-DeviceID").expect("msDS-DeviceID");
        assert_eq!(
            (id.syntax, id.single_valued, id.range_lower, id.range_upper),
            (Syntax::OctetString, true, Some(16), Some(16))
        );
        let enabled = schema
            .attribute("1.2.840.113556.1.4.2248")
            .expect("msDS-IsEnabled by OID");
        assert_eq!(enabled.name, "msDS-IsEnabled");
        assert_eq!(enabled.syntax, Syntax::Boolean);
        let location = schema
            .attribute("msDS-DeviceLocation")
            .expect("msDS-DeviceLocation");
        assert_eq!(location.syntax, Syntax::Dn);
        let display = schema.attribute("displayName").expect("displayName");
        assert_eq!(
            (display.syntax, display.range_upper),
            (Syntax::Unicode, Some(256))
        );
        assert!(schema
            .attribute("memberOf")
            .expect("memberOf")
            .is_back_link());
        assert!(schema
            .attribute("tokenGroups")
            .expect("tokenGroups")
            .is_constructed());
    }

    #[test]
    fn chains_must_may_and_superiors() {
        let schema = Schema::for_level(SchemaLevel::W2016);
        let user = schema.class("user").expect("user");
        let chain: Vec<&str> = schema.chain(user).iter().map(|c| c.name.as_str()).collect();
        assert_eq!(chain, ["top", "person", "organizationalPerson", "user"]);
        let must: Vec<&str> = schema.must(user).iter().map(|a| a.name.as_str()).collect();
        for name in [
            "objectClass",
            "objectCategory",
            "nTSecurityDescriptor",
            "instanceType",
            "objectSid",
            "sAMAccountName",
            "cn",
        ] {
            assert!(
                must.contains(&name),
                "{name} is mandatory for user: {must:?}"
            );
        }
        let device = schema.class("msDS-Device").expect("msDS-Device");
        let must: Vec<&str> = schema
            .must(device)
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        for name in [
            "msDS-DeviceID",
            "msDS-IsEnabled",
            "altSecurityIdentities",
            "displayName",
        ] {
            assert!(must.contains(&name), "{name}");
        }
        let container = schema
            .class("msDS-DeviceContainer")
            .expect("container class");
        assert!(schema.may_be_child_of(container, ["top", "domain", "domainDNS"]));
        assert!(!schema.may_be_child_of(container, ["top", "container"]));
        assert!(schema.may_be_child_of(device, ["top", "msDS-DeviceContainer"]));
        assert!(!schema.may_be_child_of(device, ["top", "container"]));
        let nc = Dn::parse("CN=Schema,CN=Configuration,DC=contoso,DC=lab").expect("dn");
        assert_eq!(
            schema.object_category_for_filter("user", &nc).as_deref(),
            Some("CN=Person,CN=Schema,CN=Configuration,DC=contoso,DC=lab")
        );
        assert_eq!(
            schema
                .object_category_for_filter("msDS-Device", &nc)
                .as_deref(),
            Some("CN=ms-DS-Device,CN=Schema,CN=Configuration,DC=contoso,DC=lab")
        );
    }
}
