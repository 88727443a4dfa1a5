//! The one error type of the client crate.
//!
//! Every failure carries what a caller needs to act on it: the LDAP result code and its name,
//! the server's diagnostic text, the DN and the operation. Passwords never appear here: no
//! variant holds one, and bind failures name the bind name only.
//!
//! This module maps ldap3's errors and result codes into our kinds; it does not decide policy
//! (what to retry is [`Error::is_retryable`], how often is the caller's retry policy).

use std::fmt;
use std::time::Duration;

/// The LDAP operation an error happened in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Opening the TCP/TLS connection (and StartTLS).
    Connect,
    /// A simple bind.
    Bind,
    /// A search (base, one-level or subtree).
    Search,
    /// An add.
    Add,
    /// A modify.
    Modify,
    /// A delete.
    Delete,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Connect => "connect",
            Operation::Bind => "bind",
            Operation::Search => "search",
            Operation::Add => "add",
            Operation::Modify => "modify",
            Operation::Delete => "delete",
        })
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server answered with a result code other than success.
    #[error(
        "{operation} {dn:?} failed: {code_name} ({code}){}",
        diagnostic_suffix(message)
    )]
    Ldap {
        /// The LDAP result code (RFC 4511 section 4.1.9, AD's codes included).
        code: u32,
        /// Its RFC 4511 name, for example `insufficientAccessRights`.
        code_name: &'static str,
        /// The server's diagnostic text (AD's `00002098: SecErr: ...`), trimmed of the trailing NUL.
        message: String,
        /// The DN the operation named (the bind name for a bind).
        dn: String,
        /// The matched DN the server returned, empty when none.
        matched: String,
        /// The operation.
        operation: Operation,
    },
    /// The object named does not exist (result code 32).
    #[error("no such object {dn:?} ({operation}){}", diagnostic_suffix(message))]
    NoSuchObject {
        /// The DN asked for.
        dn: String,
        /// The operation.
        operation: Operation,
        /// The server's diagnostic text.
        message: String,
    },
    /// Another server holds the object (result code 10, `referral`): in a forest of several
    /// domains, a domain controller holds its own domain's naming context only and refers the
    /// others to their domain's DC.
    #[error(
        "{operation} {dn:?}: this server does not hold it and refers to {}{}",
        if urls.is_empty() { "no server".to_string() } else { urls.join(", ") },
        diagnostic_suffix(message)
    )]
    Referral {
        /// The DN the operation named.
        dn: String,
        /// The LDAP URLs the server referred to (RFC 4511 section 4.1.10).
        urls: Vec<String>,
        /// The server's diagnostic text (AD's `0000202B: RefErr: ...`).
        message: String,
        /// The operation.
        operation: Operation,
    },
    /// A referral was followed and the server it named could not be used.
    #[error(
        "{dn:?} is held by another domain controller, {url}, which could not be used: {detail}; \
         make that server reachable from here, name a global catalog with --gc-url, or run \
         devwb against that server with --url"
    )]
    ReferralFailed {
        /// The DN asked for.
        dn: String,
        /// The URL the referral named.
        url: String,
        /// What went wrong there (connecting, binding or the operation), with its cause.
        detail: String,
    },
    /// The forest's global catalog could not be used.
    #[error(
        "the global catalog {url} could not be used: {detail}; check --gc-url, or leave it out \
         to follow referrals to each domain's domain controller"
    )]
    GlobalCatalogFailed {
        /// The GC's URL.
        url: String,
        /// What went wrong there, with its cause.
        detail: String,
    },
    /// The URL is not one we can connect to.
    #[error("invalid LDAP URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TCP connection, TLS handshake or StartTLS failed.
    ///
    /// The message says only this layer's part; [`Error`]'s `source()` is the cause underneath
    /// (the I/O error, the TLS alert), so a printed chain names each cause once. ldap3's own
    /// wrapper is skipped: its message repeats its source's text ("I/O error: <source>").
    #[error("cannot connect to {url}{}", ldap3_own_text(cause))]
    Connect {
        /// The URL.
        url: String,
        /// What ldap3 reported.
        cause: ldap3::LdapError,
    },
    /// Building the TLS configuration failed (CA file unreadable, no certificate in it...).
    #[error("tls setup: {what}")]
    Tls {
        /// What went wrong, naming the file when there is one.
        what: String,
    },
    /// The connection dropped or its driver stopped while an operation was outstanding.
    #[error("connection lost during {operation}: {detail}")]
    ConnectionLost {
        /// The operation.
        operation: Operation,
        /// What ldap3 reported.
        detail: String,
    },
    /// The operation did not complete in time.
    #[error("{operation} timed out after {after:?}")]
    Timeout {
        /// The operation.
        operation: Operation,
        /// The timeout that expired.
        after: Duration,
    },
    /// The server sent something we could not interpret.
    #[error("invalid response from the server: {what}")]
    InvalidResponse {
        /// What was wrong, naming the DN or attribute when known.
        what: String,
    },
    /// An entry lacks an attribute the caller needs (often: not readable with the bound account's rights).
    #[error("{dn:?} has no readable {attribute}")]
    MissingAttribute {
        /// The entry.
        dn: String,
        /// The attribute.
        attribute: String,
    },
    /// Our own input was invalid (a filter, a DN, an account name).
    #[error("invalid input: {what}")]
    InvalidInput {
        /// What was wrong and where.
        what: String,
    },
    /// No object matched an account name.
    #[error("account {name:?} not found: searched {searched}")]
    AccountNotFound {
        /// The name given.
        name: String,
        /// Where and how we looked.
        searched: String,
    },
    /// An account name matched more than one object.
    #[error("account {name:?} is ambiguous: it matches {}", dns.join("; "))]
    AmbiguousAccount {
        /// The name given.
        name: String,
        /// Every DN that matched.
        dns: Vec<String>,
    },
    /// An account name or DN names a domain that is not part of the connected forest.
    #[error("{name:?} is not in this forest: {reason}")]
    NotInForest {
        /// The name given.
        name: String,
        /// Why we decided so (the domain part that matched no crossRef, the DN outside every domain).
        reason: String,
    },
}

/// `": <text>"` of an ldap3 error that has no source of its own (so its text is all there is
/// to say), `""` when it has one: then its text is `"<what>: <source>"`, and the source is
/// printed as the next link of the chain.
fn ldap3_own_text(error: &ldap3::LdapError) -> String {
    if std::error::Error::source(error).is_some() {
        String::new()
    } else {
        format!(": {error}")
    }
}

/// Why a server's certificate was refused, for a caller to say what to do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// Not signed by a CA this machine trusts (a self-signed or private-CA certificate, or one
    /// whose issuer's name matches a trusted CA but whose signature does not): trust its CA.
    Untrusted,
    /// Does not name the host connected to: connect by a name the certificate has.
    WrongName,
    /// Expired or not yet valid.
    OutOfDate,
    /// Anything else rustls refused it for (revoked, bad encoding, a purpose other than TLS
    /// server...).
    Other,
}

fn diagnostic_suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// The error of every fallible call in this crate.
#[derive(Debug)]
pub struct Error {
    kind: Box<ErrorKind>,
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Consumes the error into its kind.
    pub fn into_kind(self) -> ErrorKind {
        *self.kind
    }

    /// The LDAP result code, when the server answered with one.
    pub fn result_code(&self) -> Option<u32> {
        match &*self.kind {
            ErrorKind::Ldap { code, .. } => Some(*code),
            ErrorKind::NoSuchObject { .. } => Some(code::NO_SUCH_OBJECT),
            ErrorKind::Referral { .. } => Some(code::REFERRAL),
            _ => None,
        }
    }

    /// The URLs of a `referral` answer (empty for any other error).
    pub fn referral_urls(&self) -> &[String] {
        match &*self.kind {
            ErrorKind::Referral { urls, .. } => urls,
            _ => &[],
        }
    }

    /// The server's diagnostic text, when it sent one.
    pub fn server_message(&self) -> Option<&str> {
        match &*self.kind {
            ErrorKind::Ldap { message, .. }
            | ErrorKind::NoSuchObject { message, .. }
            | ErrorKind::Referral { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Whether trying the same operation again later may succeed: the server was busy (51) or
    /// unavailable (52), the connection was lost, or the operation timed out. Everything else
    /// (access denied, schema violations, `unwillingToPerform`) fails the same way again.
    pub fn is_retryable(&self) -> bool {
        match &*self.kind {
            ErrorKind::Ldap { code, .. } => matches!(*code, code::BUSY | code::UNAVAILABLE),
            ErrorKind::ConnectionLost { .. } | ErrorKind::Timeout { .. } => true,
            // A refused or reset TCP connection may work later; a TLS failure (tokio-rustls reports
            // it as InvalidData: an unknown issuer, a wrong name) fails the same way again.
            ErrorKind::Connect { cause, .. } => match cause {
                ldap3::LdapError::Io { source } => source.kind() != std::io::ErrorKind::InvalidData,
                ldap3::LdapError::Timeout { .. } => true,
                _ => false,
            },
            _ => false,
        }
    }

    /// Why the server's certificate was refused, when that is why the connection failed.
    pub fn certificate_problem(&self) -> Option<CertificateProblem> {
        use rustls::CertificateError as C;
        let ErrorKind::Connect {
            cause: ldap3::LdapError::Io { source },
            ..
        } = &*self.kind
        else {
            return None;
        };
        // tokio-rustls reports a refused handshake as an I/O error carrying rustls's error.
        match source.get_ref()?.downcast_ref::<rustls::Error>()? {
            rustls::Error::InvalidCertificate(problem) => Some(match problem {
                C::UnknownIssuer | C::BadSignature => CertificateProblem::Untrusted,
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    CertificateProblem::WrongName
                }
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. } => CertificateProblem::OutOfDate,
                _ => CertificateProblem::Other,
            }),
            _ => None,
        }
    }

    /// Whether the connection this error happened on is unusable and must be reopened.
    pub fn is_connection_lost(&self) -> bool {
        matches!(&*self.kind, ErrorKind::ConnectionLost { .. })
    }

    /// An error for an LDAP result that is not success. Result code 32 becomes `NoSuchObject`.
    pub(crate) fn from_result(operation: Operation, dn: &str, result: &ldap3::LdapResult) -> Error {
        let message = clean_diagnostic(&result.text);
        if result.rc == code::NO_SUCH_OBJECT {
            return ErrorKind::NoSuchObject {
                dn: dn.to_string(),
                operation,
                message,
            }
            .into();
        }
        if result.rc == code::REFERRAL {
            return ErrorKind::Referral {
                dn: dn.to_string(),
                urls: result.refs.clone(),
                message,
                operation,
            }
            .into();
        }
        ErrorKind::Ldap {
            code: result.rc,
            code_name: result_code_name(result.rc),
            message,
            dn: dn.to_string(),
            matched: result.matched.clone(),
            operation,
        }
        .into()
    }

    /// An error for a failure of the ldap3 machinery (not a result code) during `operation`.
    pub(crate) fn from_ldap3(
        operation: Operation,
        timeout: Duration,
        error: ldap3::LdapError,
    ) -> Error {
        use ldap3::LdapError as E;
        match error {
            E::Timeout { .. } => ErrorKind::Timeout {
                operation,
                after: timeout,
            }
            .into(),
            E::FilterParsing => ErrorKind::InvalidInput {
                what: "the search filter does not parse".into(),
            }
            .into(),
            E::LdapResult { result } => Error::from_result(operation, "", &result),
            E::Io { .. }
            | E::OpSend { .. }
            | E::ResultRecv { .. }
            | E::IdScrubSend { .. }
            | E::MiscSend { .. }
            | E::EndOfStream => ErrorKind::ConnectionLost {
                operation,
                detail: error.to_string(),
            }
            .into(),
            other => ErrorKind::InvalidResponse {
                what: format!("{operation}: {other}"),
            }
            .into(),
        }
    }

    pub(crate) fn invalid_response(what: impl Into<String>) -> Error {
        ErrorKind::InvalidResponse { what: what.into() }.into()
    }

    pub(crate) fn invalid_input(what: impl Into<String>) -> Error {
        ErrorKind::InvalidInput { what: what.into() }.into()
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error {
            kind: Box::new(kind),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.kind {
            // ldap3's error repeats its source's text: the chain goes on from that source.
            ErrorKind::Connect { cause, .. } => std::error::Error::source(cause),
            kind => std::error::Error::source(kind),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// AD ends its diagnostic messages with a newline and a NUL; keep the text, drop those.
pub(crate) fn clean_diagnostic(text: &str) -> String {
    text.trim_end_matches(['\0', '\n', '\r', ' ']).to_string()
}

/// LDAP result codes this crate and its callers name.
pub mod code {
    /// success (0)
    pub const SUCCESS: u32 = 0;
    /// sizeLimitExceeded (4)
    pub const SIZE_LIMIT_EXCEEDED: u32 = 4;
    /// referral (10)
    pub const REFERRAL: u32 = 10;
    /// unavailableCriticalExtension (12)
    pub const UNAVAILABLE_CRITICAL_EXTENSION: u32 = 12;
    /// noSuchAttribute (16)
    pub const NO_SUCH_ATTRIBUTE: u32 = 16;
    /// attributeOrValueExists (20)
    pub const ATTRIBUTE_OR_VALUE_EXISTS: u32 = 20;
    /// noSuchObject (32)
    pub const NO_SUCH_OBJECT: u32 = 32;
    /// invalidCredentials (49)
    pub const INVALID_CREDENTIALS: u32 = 49;
    /// insufficientAccessRights (50)
    pub const INSUFFICIENT_ACCESS_RIGHTS: u32 = 50;
    /// busy (51)
    pub const BUSY: u32 = 51;
    /// unavailable (52)
    pub const UNAVAILABLE: u32 = 52;
    /// unwillingToPerform (53)
    pub const UNWILLING_TO_PERFORM: u32 = 53;
    /// entryAlreadyExists (68)
    pub const ENTRY_ALREADY_EXISTS: u32 = 68;
}

/// The RFC 4511 name of a result code (`insufficientAccessRights` for 50); `unknown` otherwise.
pub fn result_code_name(code: u32) -> &'static str {
    match code {
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
        33 => "aliasProblem",
        34 => "invalidDNSyntax",
        36 => "aliasDereferencingProblem",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        54 => "loopDetect",
        64 => "namingViolation",
        65 => "objectClassViolation",
        66 => "notAllowedOnNonLeaf",
        67 => "notAllowedOnRDN",
        68 => "entryAlreadyExists",
        69 => "objectClassModsProhibited",
        71 => "affectsMultipleDSAs",
        80 => "other",
        // RFC 3909 (Cancel): what a canceled operation ends with.
        118 => "canceled",
        119 => "noSuchOperation",
        120 => "tooLate",
        121 => "cannotCancel",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ldap_result(rc: u32, text: &str) -> ldap3::LdapResult {
        ldap3::LdapResult {
            rc,
            matched: String::new(),
            text: text.to_string(),
            refs: vec![],
            ctrls: vec![],
        }
    }

    /// One row per mapping: the result code and text the server sent, the message we show, and
    /// whether it is retryable.
    fn check(rc: u32, text: &str, expected_message: &str, expected_retryable: bool) {
        let error = Error::from_result(
            Operation::Add,
            "CN=x,DC=contoso,DC=lab",
            &ldap_result(rc, text),
        );
        assert_eq!(error.to_string(), expected_message);
        assert_eq!(
            error.is_retryable(),
            expected_retryable,
            "retryable for rc {rc}"
        );
        assert_eq!(error.result_code(), Some(rc));
    }

    #[test]
    fn result_codes_map_to_named_errors() {
        check(
            50,
            "00002098: SecErr: DSID-03150F93, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0\n\0",
            "add \"CN=x,DC=contoso,DC=lab\" failed: insufficientAccessRights (50): 00002098: SecErr: DSID-03150F93, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0",
            false,
        );
        check(
            51,
            "",
            "add \"CN=x,DC=contoso,DC=lab\" failed: busy (51)",
            true,
        );
        check(
            52,
            "try later",
            "add \"CN=x,DC=contoso,DC=lab\" failed: unavailable (52): try later",
            true,
        );
        check(
            53,
            "",
            "add \"CN=x,DC=contoso,DC=lab\" failed: unwillingToPerform (53)",
            false,
        );
        check(
            68,
            "",
            "add \"CN=x,DC=contoso,DC=lab\" failed: entryAlreadyExists (68)",
            false,
        );
        check(
            32,
            "0000208D: NameErr: DSID-03100213, problem 2001 (NO_OBJECT)\n\0",
            "no such object \"CN=x,DC=contoso,DC=lab\" (add): 0000208D: NameErr: DSID-03100213, problem 2001 (NO_OBJECT)",
            false,
        );
        check(
            99,
            "",
            "add \"CN=x,DC=contoso,DC=lab\" failed: unknown (99)",
            false,
        );
    }

    #[test]
    fn connection_loss_and_timeouts_are_retryable() {
        let io = ldap3::LdapError::Io {
            source: std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"),
        };
        let lost = Error::from_ldap3(Operation::Modify, Duration::from_secs(5), io);
        assert!(lost.is_retryable());
        assert!(lost.is_connection_lost());
        assert_eq!(
            lost.to_string(),
            "connection lost during modify: I/O error: reset"
        );
        let filter = Error::from_ldap3(
            Operation::Search,
            Duration::from_secs(5),
            ldap3::LdapError::FilterParsing,
        );
        assert!(!filter.is_retryable());
    }

    /// Every message of the chain, as `{:#}` of anyhow prints them.
    fn chain(error: &Error) -> Vec<String> {
        let mut links = vec![error.to_string()];
        let mut next = std::error::Error::source(error);
        while let Some(cause) = next {
            links.push(cause.to_string());
            next = cause.source();
        }
        links
    }

    #[test]
    fn a_refused_certificate_is_named_once_in_the_chain() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let error: Error = ErrorKind::Connect {
            url: "ldaps://dc1.contoso.lab".into(),
            cause: ldap3::LdapError::Io {
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, tls),
            },
        }
        .into();
        assert_eq!(
            chain(&error),
            [
                "cannot connect to ldaps://dc1.contoso.lab",
                "invalid peer certificate: UnknownIssuer"
            ]
        );
        assert_eq!(
            error.certificate_problem(),
            Some(CertificateProblem::Untrusted)
        );
        assert!(!error.is_retryable());

        let refused: Error = ErrorKind::Connect {
            url: "ldaps://dc1.contoso.lab".into(),
            cause: ldap3::LdapError::Io {
                source: std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused"),
            },
        }
        .into();
        assert_eq!(
            chain(&refused),
            ["cannot connect to ldaps://dc1.contoso.lab", "refused"]
        );
        assert_eq!(refused.certificate_problem(), None);

        // An ldap3 error without a source of its own keeps its text in this layer's message.
        let scheme: Error = ErrorKind::Connect {
            url: "ldapx://dc1".into(),
            cause: ldap3::LdapError::UnknownScheme("ldapx".into()),
        }
        .into();
        assert_eq!(
            chain(&scheme),
            ["cannot connect to ldapx://dc1: unknown LDAP URL scheme: ldapx"]
        );
    }

    #[test]
    fn every_message_is_lowercase_first() {
        let error: Error = ErrorKind::MissingAttribute {
            dn: "CN=a".into(),
            attribute: "objectSid".into(),
        }
        .into();
        assert_eq!(error.to_string(), "\"CN=a\" has no readable objectSid");
    }
}
