//! The AD semantics layer: the per-forest decisions the request path asks for between
//! resolving the target and touching the store (faults, authentication, access checks,
//! content rules, extra generated attributes, what a search may show).
//!
//! The handler calls these methods in the order the simulator plan fixes: (1) faults,
//! (2) resolve entries, (3) access check, (4) content rules and normalisation, (5) generated
//! attributes, (6) store mutation. This first version is permissive: it injects no faults,
//! checks passwords against the accounts the forest holds, allows every operation to a bound
//! client, accepts every entry as written, and shows everything. Part 2 of the simulator
//! (schema, security descriptors, faults) replaces the bodies, not the signatures.

use std::time::Duration;

use bytes::Bytes;
use devwb_model::{Dn, SchemaLevel, Sid};

use crate::error::{OpError, ResultCode};
use crate::forest::{Forest, ForestNames};
use crate::handler::RequestControls;
use crate::store::Entry;

/// The bound identity of a connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// The account's DN; `None` when anonymous.
    pub dn: Option<Dn>,
    /// The account's SID, when it has one.
    pub sid: Option<Sid>,
}

impl Identity {
    /// The anonymous identity.
    pub fn anonymous() -> Identity {
        Identity::default()
    }

    /// Whether nobody is bound.
    pub fn is_anonymous(&self) -> bool {
        self.dn.is_none()
    }
}

/// The kind of operation being performed, for faults and logging.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    Bind,
    Search,
    Add,
    Modify,
    Delete,
    ModifyDn,
    Compare,
    Extended,
}

impl Operation {
    /// The operation's name as used in logs and fault rules (`add`, `search`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Operation::Bind => "bind",
            Operation::Search => "search",
            Operation::Add => "add",
            Operation::Modify => "modify",
            Operation::Delete => "delete",
            Operation::ModifyDn => "modifyDN",
            Operation::Compare => "compare",
            Operation::Extended => "extended",
        }
    }
}

/// Everything a semantics decision may depend on about the request in flight.
#[derive(Clone, Copy, Debug)]
pub struct OpContext<'a> {
    /// The forest the request is for (names, store, clock).
    pub forest: &'a Forest,
    /// Who is bound on the connection.
    pub identity: &'a Identity,
    /// Whether the connection is protected by TLS.
    pub tls: bool,
    /// The request's controls, parsed.
    pub controls: &'a RequestControls,
    /// The operation.
    pub operation: Operation,
    /// The DN the request names, as sent (an extended-DN form already resolved).
    pub target: &'a Dn,
}

/// What the fault layer decided for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultDecision {
    /// Perform the operation normally.
    Proceed,
    /// Wait, then perform the operation.
    Delay(Duration),
    /// Answer with this error without performing the operation.
    Fail(OpError),
    /// Close the connection without answering.
    Drop,
}

/// How an attribute's values compare in filters and compare requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Matching {
    /// Unicode strings compared ignoring case (most AD string syntaxes).
    CaseIgnoreString,
    /// Bytes compared exactly (`objectGUID`, `objectSid`, `msDS-DeviceID`, ...).
    OctetString,
    /// Signed integers compared as numbers (`uSNChanged`, `userAccountControl`, ...).
    Integer,
    /// `TRUE` / `FALSE`.
    Boolean,
    /// Distinguished names compared as names.
    DistinguishedName,
    /// GeneralizedTime, compared as its text (the format sorts chronologically).
    GeneralizedTime,
}

/// A modification of an attribute, as the handler applies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Modification {
    /// What to do.
    pub kind: ModificationKind,
    /// The attribute's name as the client wrote it.
    pub attribute: String,
    /// The values given.
    pub values: Vec<Bytes>,
}

/// The kinds of modification (RFC 4511 add/delete/replace, RFC 4525 increment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModificationKind {
    Add,
    Delete,
    Replace,
    Increment,
}

const OCTET_STRING_ATTRIBUTES: &[&str] = &[
    "objectGUID",
    "objectSid",
    "msDS-DeviceID",
    "nTSecurityDescriptor",
    "msDS-RegisteredOwner",
    "msDS-RegisteredUsers",
    "msDS-CloudAnchor",
    "msDS-KeyCredentialLink",
    "userCertificate",
    "schemaIDGUID",
    "attributeSecurityGUID",
    "invocationId",
    "tokenGroups",
    "sIDHistory",
    "securityIdentifier",
    "unicodePwd",
    "msDS-IssuerCertificates",
    "msDS-IssuerPublicCertificates",
    "msDS-CloudIssuerPublicCertificates",
];

const INTEGER_ATTRIBUTES: &[&str] = &[
    "uSNCreated",
    "uSNChanged",
    "instanceType",
    "userAccountControl",
    "groupType",
    "sAMAccountType",
    "systemFlags",
    "objectVersion",
    "msDS-DeviceObjectVersion",
    "msDS-MaximumRegistrationInactivityPeriod",
    "msDS-RegistrationQuota",
    "msDS-ApproximateLastLogonTimeStamp",
    "msDS-DeviceTrustType",
    "primaryGroupID",
    "adminCount",
    "msDS-Behavior-Version",
    "highestCommittedUSN",
    "domainFunctionality",
    "forestFunctionality",
    "domainControllerFunctionality",
    "pwdLastSet",
    "lastLogonTimestamp",
    "accountExpires",
    "badPwdCount",
    "logonCount",
];

const BOOLEAN_ATTRIBUTES: &[&str] = &[
    "msDS-IsEnabled",
    "msDS-IsManaged",
    "msDS-CloudIsManaged",
    "msDS-IsCompliant",
    "msDS-CloudIsEnabled",
    "isSynchronized",
];

const DN_ATTRIBUTES: &[&str] = &[
    "distinguishedName",
    "objectCategory",
    "member",
    "memberOf",
    "manager",
    "msDS-DeviceLocation",
    "nCName",
    "defaultObjectCategory",
    "serverReference",
    "dsServiceName",
    "defaultNamingContext",
    "wellKnownObjects",
];

const TIME_ATTRIBUTES: &[&str] = &["whenCreated", "whenChanged", "currentTime"];

/// The per-forest semantics. Built once with the forest.
#[derive(Debug)]
pub struct Semantics {
    schema_dn: Dn,
    schema_level: SchemaLevel,
}

impl Semantics {
    /// The semantics of a forest with these names at this schema level.
    pub fn new(names: &ForestNames, schema_level: SchemaLevel) -> Semantics {
        Semantics {
            schema_dn: names.schema_dn.clone(),
            schema_level,
        }
    }

    /// The forest's schema level.
    pub fn schema_level(&self) -> SchemaLevel {
        self.schema_level
    }

    /// Entries the semantics layer adds to a new forest after the simulator's own shape (the
    /// schema's classSchema and attributeSchema entries, in part 2). Parents come first.
    pub fn seed_entries(&self, _names: &ForestNames) -> Vec<Entry> {
        Vec::new()
    }

    /// Step 1: whether to delay, fail or drop this request.
    pub fn fault(&self, _ctx: &OpContext<'_>) -> FaultDecision {
        FaultDecision::Proceed
    }

    /// A simple bind: checks `password` for the account `name` (a DN, `user@domain`,
    /// `DOMAIN\user` or a bare sAMAccountName) and returns the identity it binds as.
    pub fn authenticate(
        &self,
        ctx: &OpContext<'_>,
        name: &str,
        password: &[u8],
    ) -> Result<Identity, OpError> {
        let forest = ctx.forest;
        let invalid = || {
            OpError::new(
                ResultCode::INVALID_CREDENTIALS,
                "80090308: LdapErr: DSID-0C090447, comment: AcceptSecurityContext error, data 52e, v3839\n\0",
            )
        };
        let account = forest.find_account(name).ok_or_else(invalid)?;
        let secret = forest.store.secret(&account.dn).ok_or_else(invalid)?;
        if !secret.matches(password) {
            return Err(invalid());
        }
        let sid = account
            .attrs
            .values("objectSid")
            .first()
            .and_then(|v| Sid::from_bytes(v).ok());
        Ok(Identity {
            dn: Some(account.dn.clone()),
            sid,
        })
    }

    /// Step 3 and 4 of an add: may the client create `new` below `parent`, and is the entry
    /// valid? May normalise `new` (attribute spelling, objectClass order, objectCategory).
    pub fn check_add(
        &self,
        _ctx: &OpContext<'_>,
        _parent: &Entry,
        _new: &mut Entry,
    ) -> Result<(), OpError> {
        Ok(())
    }

    /// Step 5 of an add, after the simulator's generated attributes: attributes this layer
    /// computes (the security descriptor in part 2).
    pub fn complete_add(
        &self,
        _ctx: &OpContext<'_>,
        _parent: &Entry,
        _new: &mut Entry,
    ) -> Result<(), OpError> {
        Ok(())
    }

    /// Steps 3 and 4 of a modify: `after` is `before` with `changes` applied.
    pub fn check_modify(
        &self,
        _ctx: &OpContext<'_>,
        _before: &Entry,
        _changes: &[Modification],
        _after: &mut Entry,
    ) -> Result<(), OpError> {
        Ok(())
    }

    /// Step 3 of a delete (`tree` for a tree delete).
    pub fn check_delete(
        &self,
        _ctx: &OpContext<'_>,
        _entry: &Entry,
        _parent: Option<&Entry>,
        _tree: bool,
    ) -> Result<(), OpError> {
        Ok(())
    }

    /// Steps 3 and 4 of a modify DN: `renamed` is the entry with its new DN and RDN value.
    pub fn check_modify_dn(
        &self,
        _ctx: &OpContext<'_>,
        _entry: &Entry,
        _new_parent: &Entry,
        _renamed: &mut Entry,
    ) -> Result<(), OpError> {
        Ok(())
    }

    /// Whether a search may return `entry` at all.
    pub fn can_see(&self, _ctx: &OpContext<'_>, _entry: &Entry) -> bool {
        true
    }

    /// Whether a search or compare may read `attribute` of `entry` (also in filters).
    pub fn can_read(&self, _ctx: &OpContext<'_>, _entry: &Entry, _attribute: &str) -> bool {
        true
    }

    /// How `attribute`'s values compare.
    pub fn matching(&self, attribute: &str) -> Matching {
        let is = |list: &[&str]| list.iter().any(|a| a.eq_ignore_ascii_case(attribute));
        if is(OCTET_STRING_ATTRIBUTES) {
            Matching::OctetString
        } else if is(INTEGER_ATTRIBUTES) {
            Matching::Integer
        } else if is(BOOLEAN_ATTRIBUTES) {
            Matching::Boolean
        } else if is(DN_ATTRIBUTES) {
            Matching::DistinguishedName
        } else if is(TIME_ATTRIBUTES) {
            Matching::GeneralizedTime
        } else {
            Matching::CaseIgnoreString
        }
    }

    /// Whether `attribute` holds binary values (shown base64 in LDIF, never as text).
    pub fn is_binary(&self, attribute: &str) -> bool {
        self.matching(attribute) == Matching::OctetString
    }

    /// The `objectCategory` DN of a new entry of structural class `class`.
    pub fn object_category(&self, class: &str) -> Dn {
        match devwb_model::Rdn::new("CN", class) {
            Ok(rdn) => self.schema_dn.child(rdn),
            Err(_) => self.schema_dn.clone(),
        }
    }

    /// A filter's short `objectCategory` value (`msDS-Device`) as the DN it stands for.
    pub fn expand_object_category(&self, short_name: &str) -> Bytes {
        Bytes::from(self.object_category(short_name).to_string())
    }
}
