//! SDDL (MS-DTYP 2.5.1), the subset AD's `defaultSecurityDescriptor` strings use.
//!
//! Grammar accepted: `O:<sid>`, `G:<sid>`, `D:<flags><aces>`, `S:<flags><aces>` in any order,
//! each at most once; flags `P`, `AI`, `AR` (and `NO_ACCESS_CONTROL` for a NULL ACL); ACEs
//! `(type;flags;rights;object_guid;inherit_object_guid;sid)` with types `A D OA OD AU OU`
//! (in either ACL: the binary form allows it, and SDDL must carry whatever it decodes), flags `OI CI NP IO ID SA FA` (or `0x..`), rights as two-letter codes
//! (repeats allowed, as some schema strings have `LCLOLO`) or a number (`0x..` hex or decimal),
//! and SIDs as an alias from [`SID_ALIASES`] or `S-1-...`. Whitespace is skipped between
//! components and ACEs (two schema strings have `D: (`), not inside an ACE. No conditional or
//! resource-attribute ACEs.
//!
//! A GUID on `A`, `D` or `AU` is an error (use `OA`, `OD`, `OU`): nothing is dropped silently.
//! Errors give the byte position and the offending token.
//!
//! Formatting writes rights codes in ascending bit order (as Windows does), or the whole mask in
//! hex when some bit has no code; GUIDs lowercase; aliases wherever one applies in the context.

use super::{AccessMask, Ace, AceFlags, AceType, Acl, Control, SdError, SecurityDescriptor};
use crate::guid::{shorten, Guid};
use crate::sid::{rid, Sid};

/// What the SDDL aliases that depend on the forest resolve against.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SddlContext {
    /// The SID of the object's domain: `DA`, `DU`, `DC`, `DD`, `CA`, `PA`, ... are RIDs in it.
    pub domain_sid: Option<Sid>,
    /// The SID of the forest root domain: `EA`, `SA`, `EK`, `RO` are RIDs in it.
    pub root_domain_sid: Option<Sid>,
}

impl SddlContext {
    /// No domain: only the fixed aliases (`WD`, `AU`, `BA`, ...) resolve.
    pub fn without_domain() -> SddlContext {
        SddlContext::default()
    }

    /// A single-domain forest: the domain is also the root domain.
    pub fn new(domain_sid: Sid) -> SddlContext {
        SddlContext {
            domain_sid: Some(domain_sid),
            root_domain_sid: Some(domain_sid),
        }
    }

    /// A domain in a forest whose root domain is `root_domain_sid`.
    pub fn with_root(domain_sid: Sid, root_domain_sid: Sid) -> SddlContext {
        SddlContext {
            domain_sid: Some(domain_sid),
            root_domain_sid: Some(root_domain_sid),
        }
    }
}

/// What an alias stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliasTarget {
    /// A fixed, well-known SID.
    Fixed(Sid),
    /// A RID in the object's domain.
    Domain(u32),
    /// A RID in the forest root domain.
    RootDomain(u32),
}

use AliasTarget::{Domain, Fixed, RootDomain};

/// Every SID alias of MS-DTYP 2.5.1.1 with what it stands for.
pub const SID_ALIASES: &[(&str, AliasTarget)] = &[
    ("AA", Fixed(Sid::from_parts(5, &[32, 579]))),
    ("AC", Fixed(Sid::from_parts(15, &[2, 1]))),
    ("AN", Fixed(Sid::ANONYMOUS)),
    ("AO", Fixed(Sid::ACCOUNT_OPERATORS)),
    ("AP", Domain(rid::PROTECTED_USERS)),
    ("AS", Fixed(Sid::from_parts(18, &[1]))),
    ("AU", Fixed(Sid::AUTHENTICATED_USERS)),
    ("BA", Fixed(Sid::BUILTIN_ADMINISTRATORS)),
    ("BG", Fixed(Sid::BUILTIN_GUESTS)),
    ("BO", Fixed(Sid::BACKUP_OPERATORS)),
    ("BU", Fixed(Sid::BUILTIN_USERS)),
    ("CA", Domain(rid::CERT_PUBLISHERS)),
    ("CD", Fixed(Sid::from_parts(5, &[32, 574]))),
    ("CG", Fixed(Sid::CREATOR_GROUP)),
    ("CN", Domain(rid::CLONEABLE_DOMAIN_CONTROLLERS)),
    ("CO", Fixed(Sid::CREATOR_OWNER)),
    ("CY", Fixed(Sid::from_parts(5, &[32, 569]))),
    ("DA", Domain(rid::DOMAIN_ADMINS)),
    ("DC", Domain(rid::DOMAIN_COMPUTERS)),
    ("DD", Domain(rid::DOMAIN_CONTROLLERS)),
    ("DG", Domain(rid::DOMAIN_GUESTS)),
    ("DU", Domain(rid::DOMAIN_USERS)),
    ("EA", RootDomain(rid::ENTERPRISE_ADMINS)),
    ("ED", Fixed(Sid::ENTERPRISE_DOMAIN_CONTROLLERS)),
    ("EK", RootDomain(rid::ENTERPRISE_KEY_ADMINS)),
    ("ER", Fixed(Sid::from_parts(5, &[32, 573]))),
    ("ES", Fixed(Sid::from_parts(5, &[32, 576]))),
    ("HA", Fixed(Sid::from_parts(5, &[32, 578]))),
    ("HI", Fixed(Sid::from_parts(16, &[12288]))),
    ("IS", Fixed(Sid::from_parts(5, &[32, 568]))),
    ("IU", Fixed(Sid::INTERACTIVE)),
    ("KA", Domain(rid::KEY_ADMINS)),
    ("LA", Domain(rid::ADMINISTRATOR)),
    ("LG", Domain(rid::GUEST)),
    ("LS", Fixed(Sid::LOCAL_SERVICE)),
    ("LU", Fixed(Sid::from_parts(5, &[32, 559]))),
    ("LW", Fixed(Sid::from_parts(16, &[4096]))),
    ("ME", Fixed(Sid::from_parts(16, &[8192]))),
    ("MP", Fixed(Sid::from_parts(16, &[8448]))),
    ("MS", Fixed(Sid::from_parts(5, &[32, 577]))),
    ("MU", Fixed(Sid::from_parts(5, &[32, 558]))),
    ("NO", Fixed(Sid::from_parts(5, &[32, 556]))),
    ("NS", Fixed(Sid::NETWORK_SERVICE)),
    ("NU", Fixed(Sid::NETWORK)),
    ("OW", Fixed(Sid::OWNER_RIGHTS)),
    ("PA", Domain(rid::GROUP_POLICY_CREATOR_OWNERS)),
    ("PO", Fixed(Sid::PRINT_OPERATORS)),
    ("PS", Fixed(Sid::PRINCIPAL_SELF)),
    ("PU", Fixed(Sid::from_parts(5, &[32, 547]))),
    ("RA", Fixed(Sid::from_parts(5, &[32, 575]))),
    ("RC", Fixed(Sid::RESTRICTED_CODE)),
    ("RD", Fixed(Sid::from_parts(5, &[32, 555]))),
    ("RE", Fixed(Sid::from_parts(5, &[32, 552]))),
    ("RM", Fixed(Sid::from_parts(5, &[32, 580]))),
    (
        "RO",
        RootDomain(rid::ENTERPRISE_READONLY_DOMAIN_CONTROLLERS),
    ),
    ("RS", Domain(rid::RAS_AND_IAS_SERVERS)),
    ("RU", Fixed(Sid::PRE_WINDOWS_2000_COMPATIBLE_ACCESS)),
    ("SA", RootDomain(rid::SCHEMA_ADMINS)),
    ("SI", Fixed(Sid::from_parts(16, &[16384]))),
    ("SO", Fixed(Sid::SERVER_OPERATORS)),
    ("SS", Fixed(Sid::from_parts(18, &[2]))),
    ("SU", Fixed(Sid::SERVICE)),
    ("SY", Fixed(Sid::LOCAL_SYSTEM)),
    ("UD", Fixed(Sid::from_parts(5, &[84, 0, 0, 0, 0, 0]))),
    ("WD", Fixed(Sid::EVERYONE)),
    ("WR", Fixed(Sid::from_parts(5, &[33]))),
];

/// Rights codes in ascending bit order (the order they are formatted in).
const RIGHTS_CODES: &[(&str, u32)] = &[
    ("CC", 0x1),
    ("DC", 0x2),
    ("LC", 0x4),
    ("SW", 0x8),
    ("RP", 0x10),
    ("WP", 0x20),
    ("DT", 0x40),
    ("LO", 0x80),
    ("CR", 0x100),
    ("SD", 0x1_0000),
    ("RC", 0x2_0000),
    ("WD", 0x4_0000),
    ("WO", 0x8_0000),
    ("GA", 0x1000_0000),
    ("GX", 0x2000_0000),
    ("GW", 0x4000_0000),
    ("GR", 0x8000_0000),
];

/// ACE flag codes in ascending bit order.
const FLAG_CODES: &[(&str, u8)] = &[
    ("OI", 0x01),
    ("CI", 0x02),
    ("NP", 0x04),
    ("IO", 0x08),
    ("ID", 0x10),
    ("SA", 0x40),
    ("FA", 0x80),
];

/// The SID an alias stands for in `context`, or `None` when the alias is unknown or needs a
/// domain the context lacks.
pub fn resolve_alias(alias: &str, context: &SddlContext) -> Option<Sid> {
    let (_, target) = SID_ALIASES.iter().find(|(name, _)| *name == alias)?;
    match target {
        Fixed(sid) => Some(*sid),
        Domain(rid) => context.domain_sid.map(|domain| domain.with_rid(*rid)),
        RootDomain(rid) => context.root_domain_sid.map(|root| root.with_rid(*rid)),
    }
}

/// The alias SDDL writes for `sid` in `context`, if there is one.
pub fn sid_alias(sid: &Sid, context: &SddlContext) -> Option<&'static str> {
    let sid_domain = sid.domain();
    let rid = sid.rid();
    SID_ALIASES.iter().find_map(|(name, target)| {
        let matches = match target {
            Fixed(fixed) => fixed == sid,
            Domain(r) => {
                rid == Some(*r) && sid_domain.is_some() && sid_domain == context.domain_sid
            }
            RootDomain(r) => {
                rid == Some(*r) && sid_domain.is_some() && sid_domain == context.root_domain_sid
            }
        };
        matches.then_some(*name)
    })
}

/// The SDDL rights string of `mask`: codes in ascending bit order, or `0x...` when a bit has
/// no code.
pub fn format_rights(mask: AccessMask) -> String {
    let known: u32 = RIGHTS_CODES
        .iter()
        .map(|(_, bit)| bit)
        .fold(0, |a, b| a | b);
    if mask.0 & !known != 0 {
        return format!("{:#x}", mask.0);
    }
    RIGHTS_CODES
        .iter()
        .filter(|(_, bit)| mask.0 & bit != 0)
        .map(|(code, _)| *code)
        .collect()
}

/// Parses an SDDL rights string (codes, `0x` hex or decimal). `None` when it is not one.
pub fn parse_rights(text: &str) -> Option<AccessMask> {
    if let Some(number) = parse_number(text) {
        return Some(AccessMask(number));
    }
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    let mut mask = 0u32;
    for pair in bytes.chunks_exact(2) {
        let code = std::str::from_utf8(pair).ok()?;
        let (_, bit) = RIGHTS_CODES.iter().find(|(name, _)| *name == code)?;
        mask |= bit;
    }
    Some(AccessMask(mask))
}

fn parse_number(text: &str) -> Option<u32> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        return u32::from_str_radix(hex, 16).ok();
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    None
}

/// The SDDL flags string of an ACE.
pub(super) fn format_ace_flags(flags: AceFlags) -> String {
    let known: u8 = FLAG_CODES.iter().map(|(_, bit)| bit).fold(0, |a, b| a | b);
    if flags.0 & !known != 0 {
        return format!("{:#x}", flags.0);
    }
    FLAG_CODES
        .iter()
        .filter(|(_, bit)| flags.0 & bit != 0)
        .map(|(code, _)| *code)
        .collect()
}

fn parse_ace_flags(text: &str) -> Option<AceFlags> {
    if let Some(number) = parse_number(text) {
        return u8::try_from(number).ok().map(AceFlags);
    }
    let bytes = text.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    let mut flags = 0u8;
    for pair in bytes.chunks_exact(2) {
        let code = std::str::from_utf8(pair).ok()?;
        let (_, bit) = FLAG_CODES.iter().find(|(name, _)| *name == code)?;
        flags |= bit;
    }
    Some(AceFlags(flags))
}

fn ace_type_code(ace_type: AceType) -> &'static str {
    match ace_type {
        AceType::AccessAllowed => "A",
        AceType::AccessDenied => "D",
        AceType::SystemAudit => "AU",
        AceType::AccessAllowedObject => "OA",
        AceType::AccessDeniedObject => "OD",
        AceType::SystemAuditObject => "OU",
    }
}

fn format_sid(sid: &Sid, context: &SddlContext, out: &mut String) {
    match sid_alias(sid, context) {
        Some(alias) => out.push_str(alias),
        None => out.push_str(&sid.to_string()),
    }
}

/// Formats `sd` as SDDL in `context`.
pub(super) fn format(sd: &SecurityDescriptor, context: &SddlContext) -> String {
    let mut out = String::new();
    if let Some(owner) = &sd.owner {
        out.push_str("O:");
        format_sid(owner, context, &mut out);
    }
    if let Some(group) = &sd.group {
        out.push_str("G:");
        format_sid(group, context, &mut out);
    }
    format_acl(
        "D:",
        sd.dacl.as_ref(),
        sd.control,
        DACL_FLAGS,
        context,
        &mut out,
    );
    format_acl(
        "S:",
        sd.sacl.as_ref(),
        sd.control,
        SACL_FLAGS,
        context,
        &mut out,
    );
    out
}

/// The control bits SDDL writes after `D:`: protected, auto-inherit request, auto-inherited.
const DACL_FLAGS: [Control; 3] = [
    Control::DACL_PROTECTED,
    Control::DACL_AUTO_INHERIT_REQ,
    Control::DACL_AUTO_INHERITED,
];

/// The control bits SDDL writes after `S:`.
const SACL_FLAGS: [Control; 3] = [
    Control::SACL_PROTECTED,
    Control::SACL_AUTO_INHERIT_REQ,
    Control::SACL_AUTO_INHERITED,
];

/// Writes one ACL part. A missing ACL whose control flags are set is written as
/// `NO_ACCESS_CONTROL` so that the flags survive the round trip.
fn format_acl(
    prefix: &str,
    acl: Option<&Acl>,
    control: Control,
    flags: [Control; 3],
    context: &SddlContext,
    out: &mut String,
) {
    let any_flag = flags.iter().any(|flag| control.contains(*flag));
    match acl {
        Some(acl) => {
            out.push_str(prefix);
            format_acl_flags(control, flags, out);
            format_aces(acl, context, out);
        }
        None if any_flag => {
            out.push_str(prefix);
            format_acl_flags(control, flags, out);
            out.push_str("NO_ACCESS_CONTROL");
        }
        None => {}
    }
}

fn format_acl_flags(
    control: Control,
    [protected, request, inherited]: [Control; 3],
    out: &mut String,
) {
    if control.contains(protected) {
        out.push('P');
    }
    if control.contains(request) {
        out.push_str("AR");
    }
    if control.contains(inherited) {
        out.push_str("AI");
    }
}

fn format_aces(acl: &Acl, context: &SddlContext, out: &mut String) {
    for ace in &acl.aces {
        write_ace(ace, out, |out| format_sid(&ace.sid, context, out));
    }
}

/// One ACE in SDDL's shape with `trustee` written in the SID's place, for evidence that names
/// the trustee: `(A;CI;CCDC;;;CONTOSO\svc (S-1-5-21-...))`. The type, flags, rights and GUIDs
/// are exactly what [`SecurityDescriptor::to_sddl`](super::SecurityDescriptor::to_sddl) writes.
pub fn format_ace_with_trustee(ace: &Ace, trustee: &str) -> String {
    let mut out = String::new();
    write_ace(ace, &mut out, |out| out.push_str(trustee));
    out
}

fn write_ace(ace: &Ace, out: &mut String, trustee: impl FnOnce(&mut String)) {
    out.push('(');
    out.push_str(ace_type_code(ace.encoded_type()));
    out.push(';');
    out.push_str(&format_ace_flags(ace.flags));
    out.push(';');
    out.push_str(&format_rights(ace.mask));
    out.push(';');
    if let Some(guid) = &ace.object_type {
        out.push_str(&guid.to_string());
    }
    out.push(';');
    if let Some(guid) = &ace.inherited_object_type {
        out.push_str(&guid.to_string());
    }
    out.push(';');
    trustee(out);
    out.push(')');
}

/// A cursor over the SDDL text that builds errors naming the position.
struct Parser<'a> {
    text: &'a str,
    position: usize,
    context: &'a SddlContext,
}

impl<'a> Parser<'a> {
    fn error(&self, position: usize, token: &str, reason: impl Into<String>) -> SdError {
        SdError::Sddl {
            position,
            token: shorten(token),
            reason: reason.into(),
        }
    }

    /// Skips whitespace between components and ACEs (some schema strings have a space after
    /// `D:`, and Windows accepts it).
    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.position += rest.len() - rest.trim_start().len();
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.position..).unwrap_or("")
    }

    /// True when the text at `at` starts a component (`O:`, `G:`, `D:`, `S:`).
    fn component_starts_at(&self, at: usize) -> bool {
        let bytes = self.text.as_bytes();
        matches!(
            (bytes.get(at), bytes.get(at + 1)),
            (Some(b'O' | b'G' | b'D' | b'S'), Some(b':'))
        )
    }

    fn parse_sid(&self, token: &str, position: usize) -> Result<Sid, SdError> {
        if token.starts_with("S-") || token.starts_with("s-") {
            return Sid::parse(token)
                .map_err(|error| self.error(position, token, error.to_string()));
        }
        if let Some(sid) = resolve_alias(token, self.context) {
            return Ok(sid);
        }
        match SID_ALIASES.iter().find(|(name, _)| *name == token) {
            Some((_, Domain(_))) => Err(self.error(
                position,
                token,
                "this alias is a domain group and no domain SID was given",
            )),
            Some((_, _)) => Err(self.error(
                position,
                token,
                "this alias is a forest root domain group and no root domain SID was given",
            )),
            None => Err(self.error(position, token, "not a SID alias nor an S-1-... SID")),
        }
    }

    /// Reads the owner or group SID that follows `O:` or `G:`.
    fn owner_or_group(&mut self) -> Result<Sid, SdError> {
        let start = self.position;
        let bytes = self.text.as_bytes();
        let mut end = start;
        if self.rest().starts_with("S-") || self.rest().starts_with("s-") {
            end += 2;
            while let Some(&byte) = bytes.get(end) {
                let sid_char =
                    byte.is_ascii_hexdigit() || byte == b'-' || byte == b'x' || byte == b'X';
                if !sid_char || self.component_starts_at(end) {
                    break;
                }
                end += 1;
            }
        } else {
            end = (start + 2).min(self.text.len());
        }
        let token = self.text.get(start..end).unwrap_or("");
        if token.is_empty() {
            return Err(self.error(start, token, "expected a SID"));
        }
        self.position = end;
        self.parse_sid(token, start)
    }

    /// Reads ACL flags and ACEs after `D:` or `S:`.
    fn acl(&mut self, is_dacl: bool, control: &mut Control) -> Result<Option<Acl>, SdError> {
        let [protected, request, inherited] = if is_dacl { DACL_FLAGS } else { SACL_FLAGS };
        let mut null_acl = false;
        loop {
            self.skip_whitespace();
            let rest = self.rest();
            if rest.is_empty() || rest.starts_with('(') || self.component_starts_at(self.position) {
                break;
            }
            let (flag, length) = if rest.starts_with("NO_ACCESS_CONTROL") {
                null_acl = true;
                (Control(0), "NO_ACCESS_CONTROL".len())
            } else if rest.starts_with('P') {
                (protected, 1)
            } else if rest.starts_with("AI") {
                (inherited, 2)
            } else if rest.starts_with("AR") {
                (request, 2)
            } else {
                let token: String = rest.chars().take_while(|c| *c != '(').collect();
                return Err(self.error(
                    self.position,
                    &token,
                    "unknown ACL flag (expected P, AI, AR)",
                ));
            };
            *control = control.with(flag);
            self.position += length;
        }
        let mut aces = Vec::new();
        while self.rest().starts_with('(') {
            aces.push(self.ace()?);
            self.skip_whitespace();
        }
        if null_acl {
            if !aces.is_empty() {
                return Err(self.error(
                    self.position,
                    "NO_ACCESS_CONTROL",
                    "a NULL ACL cannot have ACEs",
                ));
            }
            return Ok(None);
        }
        Ok(Some(Acl { aces }))
    }

    fn ace(&mut self) -> Result<Ace, SdError> {
        let start = self.position;
        let rest = self.rest();
        let close = rest
            .find(')')
            .ok_or_else(|| self.error(start, rest, "ACE without closing ')'"))?;
        let whole = rest.get(..=close).unwrap_or(rest);
        let inner = rest.get(1..close).unwrap_or("");
        let fields: Vec<&str> = inner.split(';').collect();
        let [type_text, flags_text, rights_text, object_text, inherited_text, sid_text] =
            fields[..]
        else {
            return Err(self.error(
                start,
                whole,
                format!(
                    "an ACE has 6 fields separated by ';', this one has {}",
                    fields.len()
                ),
            ));
        };
        // Positions of the fields, for errors.
        let mut field_positions = [0usize; 6];
        let mut at = start + 1;
        for (slot, field) in field_positions.iter_mut().zip(fields.iter()) {
            *slot = at;
            at += field.len() + 1;
        }
        let ace_type = match type_text {
            "A" => AceType::AccessAllowed,
            "D" => AceType::AccessDenied,
            "AU" => AceType::SystemAudit,
            "OA" => AceType::AccessAllowedObject,
            "OD" => AceType::AccessDeniedObject,
            "OU" => AceType::SystemAuditObject,
            _ => {
                return Err(self.error(
                    field_positions[0],
                    type_text,
                    "unsupported ACE type (expected A, D, OA, OD, AU, OU)",
                ))
            }
        };
        let flags = parse_ace_flags(flags_text).ok_or_else(|| {
            self.error(
                field_positions[1],
                flags_text,
                "unknown ACE flags (expected OI CI NP IO ID SA FA)",
            )
        })?;
        let mask = parse_rights(rights_text).ok_or_else(|| {
            self.error(
                field_positions[2],
                rights_text,
                "unknown rights (two-letter codes or 0x hex)",
            )
        })?;
        let guid = |text: &str, index: usize| -> Result<Option<Guid>, SdError> {
            if text.is_empty() {
                return Ok(None);
            }
            if !ace_type.is_object() {
                return Err(self.error(
                    field_positions[index],
                    text,
                    format!(
                        "a GUID needs the object ACE type {}, not {type_text}",
                        ace_type_code(ace_type.to_object())
                    ),
                ));
            }
            Guid::parse(text)
                .map(Some)
                .map_err(|error| self.error(field_positions[index], text, error.to_string()))
        };
        let object_type = guid(object_text, 3)?;
        let inherited_object_type = guid(inherited_text, 4)?;
        let sid = self.parse_sid(sid_text, field_positions[5])?;
        self.position = start + close + 1;
        Ok(Ace {
            ace_type,
            flags,
            mask,
            object_type,
            inherited_object_type,
            sid,
        })
    }
}

/// Parses SDDL into a descriptor.
pub(super) fn parse(text: &str, context: &SddlContext) -> Result<SecurityDescriptor, SdError> {
    let mut parser = Parser {
        text,
        position: 0,
        context,
    };
    let mut sd = SecurityDescriptor::default();
    let mut seen = [false; 4];
    loop {
        parser.skip_whitespace();
        if parser.rest().is_empty() {
            break;
        }
        let start = parser.position;
        let rest = parser.rest();
        let (index, name) = match rest.as_bytes() {
            [b'O', b':', ..] => (0, "O:"),
            [b'G', b':', ..] => (1, "G:"),
            [b'D', b':', ..] => (2, "D:"),
            [b'S', b':', ..] => (3, "S:"),
            _ => {
                let token: String = rest.chars().take(20).collect();
                return Err(parser.error(start, &token, "expected O:, G:, D: or S:"));
            }
        };
        if seen[index] {
            return Err(parser.error(start, name, "this part appears twice"));
        }
        seen[index] = true;
        parser.position += 2;
        match index {
            0 => sd.owner = Some(parser.owner_or_group()?),
            1 => sd.group = Some(parser.owner_or_group()?),
            2 => sd.dacl = parser.acl(true, &mut sd.control)?,
            _ => sd.sacl = parser.acl(false, &mut sd.control)?,
        }
    }
    Ok(sd)
}
