//! The simulator's errors: [`OpError`], the answer to one LDAP operation that did not
//! succeed (a result code, AD-shaped diagnostic text and the matched DN), and [`SimError`],
//! what can go wrong starting or running the simulator itself.
//!
//! `OpError` is not a Rust failure: it is data sent to the client. Every layer of the request
//! path (faults, access checks, content rules, the store) reports through it so the handler
//! turns any of them into the same LDAP result.

use std::fmt;

use devwb_model::Dn;

/// An LDAP result code (RFC 4511 section 4.1.9), kept as a number so any code, including
/// ones a fault injects, can be sent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResultCode(pub u32);

impl ResultCode {
    pub const SUCCESS: ResultCode = ResultCode(0);
    pub const OPERATIONS_ERROR: ResultCode = ResultCode(1);
    pub const PROTOCOL_ERROR: ResultCode = ResultCode(2);
    pub const TIME_LIMIT_EXCEEDED: ResultCode = ResultCode(3);
    pub const SIZE_LIMIT_EXCEEDED: ResultCode = ResultCode(4);
    pub const COMPARE_FALSE: ResultCode = ResultCode(5);
    pub const COMPARE_TRUE: ResultCode = ResultCode(6);
    pub const AUTH_METHOD_NOT_SUPPORTED: ResultCode = ResultCode(7);
    pub const STRONGER_AUTH_REQUIRED: ResultCode = ResultCode(8);
    pub const REFERRAL: ResultCode = ResultCode(10);
    pub const ADMIN_LIMIT_EXCEEDED: ResultCode = ResultCode(11);
    pub const UNAVAILABLE_CRITICAL_EXTENSION: ResultCode = ResultCode(12);
    pub const CONFIDENTIALITY_REQUIRED: ResultCode = ResultCode(13);
    pub const NO_SUCH_ATTRIBUTE: ResultCode = ResultCode(16);
    pub const UNDEFINED_ATTRIBUTE_TYPE: ResultCode = ResultCode(17);
    pub const INAPPROPRIATE_MATCHING: ResultCode = ResultCode(18);
    pub const CONSTRAINT_VIOLATION: ResultCode = ResultCode(19);
    pub const ATTRIBUTE_OR_VALUE_EXISTS: ResultCode = ResultCode(20);
    pub const INVALID_ATTRIBUTE_SYNTAX: ResultCode = ResultCode(21);
    pub const NO_SUCH_OBJECT: ResultCode = ResultCode(32);
    pub const INVALID_DN_SYNTAX: ResultCode = ResultCode(34);
    pub const INAPPROPRIATE_AUTHENTICATION: ResultCode = ResultCode(48);
    pub const INVALID_CREDENTIALS: ResultCode = ResultCode(49);
    pub const INSUFFICIENT_ACCESS_RIGHTS: ResultCode = ResultCode(50);
    pub const BUSY: ResultCode = ResultCode(51);
    pub const UNAVAILABLE: ResultCode = ResultCode(52);
    pub const UNWILLING_TO_PERFORM: ResultCode = ResultCode(53);
    pub const NAMING_VIOLATION: ResultCode = ResultCode(64);
    pub const OBJECT_CLASS_VIOLATION: ResultCode = ResultCode(65);
    pub const NOT_ALLOWED_ON_NON_LEAF: ResultCode = ResultCode(66);
    pub const NOT_ALLOWED_ON_RDN: ResultCode = ResultCode(67);
    pub const ENTRY_ALREADY_EXISTS: ResultCode = ResultCode(68);
    pub const AFFECTS_MULTIPLE_DSAS: ResultCode = ResultCode(71);
    pub const OTHER: ResultCode = ResultCode(80);
    /// RFC 3909's result of a successfully abandoned operation is not sent; this is used
    /// internally for an operation the client abandoned.
    pub const CANCELED: ResultCode = ResultCode(118);

    /// The RFC 4511 name of the code, `unknown` when it has none.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "success",
            1 => "operationsError",
            2 => "protocolError",
            3 => "timeLimitExceeded",
            4 => "sizeLimitExceeded",
            5 => "compareFalse",
            6 => "compareTrue",
            7 => "authMethodNotSupported",
            8 => "strongerAuthRequired",
            10 => "referral",
            11 => "adminLimitExceeded",
            12 => "unavailableCriticalExtension",
            13 => "confidentialityRequired",
            14 => "saslBindInProgress",
            16 => "noSuchAttribute",
            17 => "undefinedAttributeType",
            18 => "inappropriateMatching",
            19 => "constraintViolation",
            20 => "attributeOrValueExists",
            21 => "invalidAttributeSyntax",
            32 => "noSuchObject",
            34 => "invalidDNSyntax",
            48 => "inappropriateAuthentication",
            49 => "invalidCredentials",
            50 => "insufficientAccessRights",
            51 => "busy",
            52 => "unavailable",
            53 => "unwillingToPerform",
            64 => "namingViolation",
            65 => "objectClassViolation",
            66 => "notAllowedOnNonLeaf",
            67 => "notAllowedOnRDN",
            68 => "entryAlreadyExists",
            71 => "affectsMultipleDSAs",
            80 => "other",
            118 => "canceled",
            _ => "unknown",
        }
    }
}

impl fmt::Debug for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// An operation's failure as the client will see it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct OpError {
    /// The LDAP result code.
    pub code: ResultCode,
    /// The diagnostic message, shaped like AD's (`0000208D: NameErr: ...`).
    pub message: String,
    /// The deepest existing ancestor, for `noSuchObject`.
    pub matched: Option<Dn>,
    /// The LDAP URLs of a `referral` (10): the DC that holds the target's naming context.
    pub referral: Vec<String>,
}

impl OpError {
    /// An error with a code and a message.
    pub fn new(code: ResultCode, message: impl Into<String>) -> OpError {
        OpError {
            code,
            message: message.into(),
            matched: None,
            referral: Vec::new(),
        }
    }

    /// AD's `referral` (10) to the domain `dns_name`, whose DC holds the target, at `url` (an
    /// LDAP URL naming that DC and the target's DN).
    pub fn referral(dns_name: &str, url: String) -> OpError {
        OpError {
            code: ResultCode::REFERRAL,
            message: format!(
                "0000202B: RefErr: DSID-0310082F, data 0, 1 access points\n\tref 1: '{dns_name}'\n\0"
            ),
            matched: None,
            referral: vec![url],
        }
    }

    /// Sets the matched DN.
    pub fn with_matched(mut self, matched: Dn) -> OpError {
        self.matched = Some(matched);
        self
    }

    /// AD's `noSuchObject` for `dn`, with the deepest existing ancestor as matched DN.
    pub fn no_such_object(dn: &Dn, matched: Option<Dn>) -> OpError {
        OpError {
            code: ResultCode::NO_SUCH_OBJECT,
            message: format!(
                "0000208D: NameErr: DSID-0310028B, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'{}'\n",
                matched.as_ref().map(ToString::to_string).unwrap_or_default()
            ),
            matched: matched.or_else(|| Some(Dn::root())).filter(|_| dn.depth() > 0),
            referral: Vec::new(),
        }
    }

    /// `protocolError` with a concrete reason.
    pub fn protocol(message: impl Into<String>) -> OpError {
        OpError::new(ResultCode::PROTOCOL_ERROR, message)
    }

    /// `unwillingToPerform` with a concrete reason.
    pub fn unwilling(message: impl Into<String>) -> OpError {
        OpError::new(ResultCode::UNWILLING_TO_PERFORM, message)
    }

    /// `invalidDNSyntax` for text that is not a DN.
    pub fn invalid_dn(text: &str, reason: impl fmt::Display) -> OpError {
        OpError::new(
            ResultCode::INVALID_DN_SYNTAX,
            format!("00002081: NameErr: DSID-03050F42, problem 2003 (BAD_ATT_SYNTAX), data 0, {text:?}: {reason}"),
        )
    }
}

/// What can go wrong starting, loading or dumping a simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// A listener could not bind, or another socket error at start.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// The forest's DNS name is not a valid domain name.
    #[error("invalid forest name {name:?}: {reason}")]
    ForestName { name: String, reason: String },
    /// A domain given for the forest (`SimulatorBuilder::domain`) cannot be one of it, or a
    /// seed holds a domain the forest was not built with.
    #[error("domain {name:?}: {reason}")]
    DomainName { name: String, reason: String },
    /// The TLS certificate or key could not be generated or read.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// An LDIF seed is malformed.
    #[error("{path}:{line}: {reason}")]
    Ldif {
        path: String,
        line: usize,
        reason: String,
    },
    /// An LDIF record was well formed but the directory refused it.
    #[error("{path}:{line}: {dn}: {error}")]
    LdifApply {
        path: String,
        line: usize,
        dn: String,
        error: Box<OpError>,
    },
    /// The background runtime of a blocking simulator could not start.
    #[error("cannot start the simulator's runtime: {0}")]
    Runtime(std::io::Error),
    /// A direct change through the handle was refused.
    #[error("{0}")]
    Operation(#[from] Box<OpError>),
}

impl From<OpError> for SimError {
    fn from(error: OpError) -> SimError {
        SimError::Operation(Box::new(error))
    }
}
