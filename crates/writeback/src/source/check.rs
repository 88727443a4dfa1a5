//! The checks of one record: every field that is present parsed and within AD's limits, every
//! problem collected so that one report names them all.

use base64::Engine as _;
use devwb_model::{Guid, Sid};
use serde_json_borrow::{ObjectAsVec, Value};

use super::{
    AlternativeSecurityId, EntraDevice, OwnerIndex, RawRecord, RegisteredOwner,
    MAX_DISPLAY_NAME_CHARS, MAX_OS_TYPE_CHARS, MAX_OS_VERSION_CHARS, MAX_PHYSICAL_IDS,
    MAX_PHYSICAL_ID_CHARS,
};
use crate::error::{FieldProblem, RecordError};

/// serde_json's message without its " at line L column C" suffix (positions inside one record
/// mean little to a reader of the whole file).
pub(super) fn strip_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// Collects the problems of one record while its fields are read.
struct Checker<'a> {
    object: Option<&'a ObjectAsVec<'a>>,
    problems: Vec<FieldProblem>,
}

impl<'a> Checker<'a> {
    /// A checker of `value`, which must be a JSON object (a Graph `what`); the problem list
    /// when it is not.
    fn of_object(value: &'a Value<'a>, what: &str) -> Result<Checker<'a>, Vec<FieldProblem>> {
        let mut c = Checker {
            object: value.as_object(),
            problems: Vec::new(),
        };
        if c.object.is_none() {
            c.problem(
                "(record)",
                format!("expected a {what} object, found {}", kind(value)),
            );
            return Err(c.problems);
        }
        Ok(c)
    }

    fn problem(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.problems.push(FieldProblem {
            field: field.into(),
            problem: problem.into(),
        });
    }

    fn get(&self, field: &str) -> Option<&'a Value<'a>> {
        self.object
            .and_then(|o| o.get(field))
            .filter(|v| !v.is_null())
    }

    fn required_str(&mut self, field: &str) -> Option<&'a str> {
        match self.get(field) {
            None => {
                self.problem(field, "missing");
                None
            }
            Some(Value::Str(s)) => Some(s.as_ref()),
            Some(other) => {
                self.problem(field, format!("expected a string, found {}", kind(other)));
                None
            }
        }
    }

    fn optional_str(&mut self, field: &str, max_chars: usize) -> Option<String> {
        match self.get(field) {
            None => None,
            Some(Value::Str(s)) => {
                let chars = s.chars().count();
                if chars > max_chars {
                    self.problem(
                        field,
                        format!("{chars} characters, AD allows at most {max_chars}"),
                    );
                    None
                } else {
                    Some(s.to_string())
                }
            }
            Some(other) => {
                self.problem(field, format!("expected a string, found {}", kind(other)));
                None
            }
        }
    }

    fn optional_bool(&mut self, field: &str) -> Option<bool> {
        match self.get(field) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.problem(
                    field,
                    format!("expected true or false, found {}", kind(other)),
                );
                None
            }
        }
    }

    /// An optional SID string at `field` (null or absent: none).
    fn sid(&mut self, value: Option<&Value<'_>>, field: &str) -> Option<Sid> {
        match value {
            None | Some(Value::Null) => None,
            Some(Value::Str(text)) => match Sid::parse(text) {
                Ok(sid) => Some(sid),
                Err(error) => {
                    self.problem(field, error.to_string());
                    None
                }
            },
            Some(other) => {
                self.problem(field, format!("expected a string, found {}", kind(other)));
                None
            }
        }
    }

    fn guid(&mut self, field: &str) -> Option<Guid> {
        let text = self.required_str(field)?;
        match Guid::parse(text) {
            Ok(guid) => Some(guid),
            Err(error) => {
                self.problem(field, error.to_string());
                None
            }
        }
    }
}

fn kind(value: &Value<'_>) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::Str(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks one device record. Every problem is collected, so one report names them all.
pub(super) fn check_device(
    raw: RawRecord<'_>,
    owners: Option<&OwnerIndex>,
) -> Result<EntraDevice, RecordError> {
    let parsed = raw.parse();
    let record = raw.record;
    let value = match parsed {
        Ok(value) => value,
        Err(problem) => {
            return Err(RecordError {
                record,
                device_id: None,
                problems: vec![problem],
            })
        }
    };
    let mut c = Checker::of_object(&value, "device").map_err(|problems| RecordError {
        record: record.clone(),
        device_id: None,
        problems,
    })?;
    let raw_device_id = c.get("deviceId").and_then(Value::as_str).map(str::to_owned);
    let device_id = c.guid("deviceId");
    let object_id = c.guid("id");
    let display_name = c.required_str("displayName").map(str::to_owned);
    if let Some(name) = &display_name {
        let chars = name.chars().count();
        if chars > MAX_DISPLAY_NAME_CHARS {
            c.problem(
                "displayName",
                format!("{chars} characters, AD allows at most {MAX_DISPLAY_NAME_CHARS}"),
            );
        }
    }
    let account_enabled = c.optional_bool("accountEnabled");
    if c.object.is_some() && c.get("accountEnabled").is_none() {
        c.problem("accountEnabled", "missing");
    }
    let operating_system = c.optional_str("operatingSystem", MAX_OS_TYPE_CHARS);
    let operating_system_version = c.optional_str("operatingSystemVersion", MAX_OS_VERSION_CHARS);
    let physical_ids = check_physical_ids(&mut c);
    let device_version = match c.get("deviceVersion") {
        None => None,
        Some(v) => match v.as_i64() {
            Some(n) => Some(n),
            None => {
                c.problem(
                    "deviceVersion",
                    format!("expected an integer, found {}", kind(v)),
                );
                None
            }
        },
    };
    let alternative_security_ids = check_alternative_security_ids(&mut c);
    let is_managed = c.optional_bool("isManaged");
    let is_compliant = c.optional_bool("isCompliant");
    // Nothing is written from trustType: it is kept as given, whatever its length.
    let trust_type = c
        .get("trustType")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let registered_owners_listed = c.get("registeredOwners").is_some();
    let owner = check_owner(&mut c, owners);

    match (device_id, object_id, display_name, account_enabled) {
        (Some(device_id), Some(object_id), Some(display_name), Some(account_enabled))
            if c.problems.is_empty() =>
        {
            Ok(EntraDevice {
                record,
                object_id,
                device_id,
                display_name,
                account_enabled,
                operating_system,
                operating_system_version,
                physical_ids,
                device_version,
                alternative_security_ids,
                is_managed,
                is_compliant,
                trust_type,
                owner,
                registered_owners_listed,
            })
        }
        _ => Err(RecordError {
            record,
            device_id: raw_device_id,
            problems: c.problems,
        }),
    }
}

fn check_physical_ids(c: &mut Checker<'_>) -> Vec<String> {
    let mut ids = Vec::new();
    match c.get("physicalIds") {
        None => {}
        Some(Value::Array(items)) if items.len() > MAX_PHYSICAL_IDS => c.problem(
            "physicalIds",
            format!(
                "{} values, more than the {MAX_PHYSICAL_IDS} writeback writes (AD keeps about \
                 1,200 values of such an attribute per object)",
                items.len()
            ),
        ),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let field = format!("physicalIds[{i}]");
                match item.as_str() {
                    Some("") => c.problem(field, "empty, AD needs 1 to 1024 characters"),
                    Some(s) if s.chars().count() > MAX_PHYSICAL_ID_CHARS => c.problem(
                        field,
                        format!("{} characters, AD allows at most 1024", s.chars().count()),
                    ),
                    Some(s) => ids.push(s.to_owned()),
                    None => c.problem(field, format!("expected a string, found {}", kind(item))),
                }
            }
        }
        Some(other) => c.problem(
            "physicalIds",
            format!("expected an array, found {}", kind(other)),
        ),
    }
    ids
}

fn check_alternative_security_ids(c: &mut Checker<'_>) -> Vec<AlternativeSecurityId> {
    let mut ids = Vec::new();
    let items = match c.get("alternativeSecurityIds") {
        None => return ids,
        Some(Value::Array(items)) => items,
        Some(other) => {
            let problem = format!("expected an array, found {}", kind(other));
            c.problem("alternativeSecurityIds", problem);
            return ids;
        }
    };
    for (i, item) in items.iter().enumerate() {
        let field = |name: &str| format!("alternativeSecurityIds[{i}].{name}");
        let Some(entry) = item.as_object() else {
            let problem = format!("expected an object, found {}", kind(item));
            c.problem(format!("alternativeSecurityIds[{i}]"), problem);
            continue;
        };
        let kind_value = entry.get("type").and_then(Value::as_i64);
        if kind_value.is_none() {
            c.problem(field("type"), "missing or not an integer");
        }
        let identity_provider = entry
            .get("identityProvider")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let key = match entry.get("key") {
            Some(Value::Str(text)) => {
                match base64::engine::general_purpose::STANDARD.decode(text.as_bytes()) {
                    Ok(bytes) => Some(bytes),
                    Err(error) => {
                        c.problem(field("key"), format!("not base64: {error}"));
                        None
                    }
                }
            }
            None | Some(Value::Null) => {
                c.problem(field("key"), "missing");
                None
            }
            Some(other) => {
                let problem = format!("expected a base64 string, found {}", kind(other));
                c.problem(field("key"), problem);
                None
            }
        };
        if let (Some(kind), Some(key)) = (kind_value, key) {
            ids.push(AlternativeSecurityId {
                kind,
                identity_provider,
                key,
            });
        }
    }
    ids
}

fn check_owner(c: &mut Checker<'_>, owners: Option<&OwnerIndex>) -> Option<RegisteredOwner> {
    let first = match c.get("registeredOwners") {
        None => return None,
        Some(Value::Array(items)) => items.first()?,
        Some(other) => {
            let problem = format!("expected an array, found {}", kind(other));
            c.problem("registeredOwners", problem);
            return None;
        }
    };
    let Some(owner) = first.as_object() else {
        let problem = format!("expected an object, found {}", kind(first));
        c.problem("registeredOwners[0]", problem);
        return None;
    };
    let id = match owner.get("id").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => match v.as_str().map(Guid::parse) {
            Some(Ok(id)) => Some(id),
            Some(Err(error)) => {
                c.problem("registeredOwners[0].id", error.to_string());
                None
            }
            None => {
                let problem = format!("expected a string, found {}", kind(v));
                c.problem("registeredOwners[0].id", problem);
                None
            }
        },
    };
    let field = "registeredOwners[0].onPremisesSecurityIdentifier";
    let mut on_premises_sid = c.sid(owner.get("onPremisesSecurityIdentifier"), field);
    if on_premises_sid.is_none() {
        if let (Some(index), Some(id)) = (owners, id) {
            on_premises_sid = index.sid_of(&id);
        }
    }
    Some(RegisteredOwner {
        id,
        on_premises_sid,
    })
}

/// Reads one user of a users export: `Ok(None)` for a cloud-only user (no on-premises SID).
pub(super) fn parse_user(raw: &RawRecord<'_>) -> Result<Option<(Guid, Sid)>, Vec<FieldProblem>> {
    let value = &raw.parse().map_err(|problem| vec![problem])?;
    let mut c = Checker::of_object(value, "user")?;
    let id = c.guid("id");
    let field = "onPremisesSecurityIdentifier";
    let sid = c.sid(c.get(field), field);
    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    Ok(id.zip(sid))
}
