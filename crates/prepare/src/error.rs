//! The one error type of the prepare crate.

use devwb_model::Dn;

use crate::plan::Refusal;

/// Why preparation did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The plan was refused: the forest is not fit, or the request does not fit it.
    #[error("prepare refused: {0}")]
    Refused(Refusal),
    /// Reading the forest failed.
    #[error("cannot observe the forest")]
    Observe(#[source] devwb_ldap::Error),
    /// The connector account could not be resolved.
    #[error("cannot resolve the connector account {name:?}")]
    Connector {
        /// The name given.
        name: String,
        /// Why.
        #[source]
        source: devwb_ldap::Error,
    },
    /// A security descriptor of the plan could not be encoded.
    #[error("cannot encode the security descriptor for {dn}: {what}")]
    Encode {
        /// The object.
        dn: Dn,
        /// Why.
        what: String,
    },
    /// A step failed; the steps before it were applied. Running prepare again continues from there.
    #[error("step {number} of {total} failed on {dn} (steps before it were applied; run prepare again to continue)")]
    Step {
        /// The step's number, from 1.
        number: usize,
        /// The plan's step count.
        total: usize,
        /// The object.
        dn: Dn,
        /// The server's answer.
        #[source]
        source: devwb_ldap::Error,
    },
}

/// The prepare crate's error.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error {
    kind: Box<ErrorKind>,
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The refusal, when the plan was refused.
    pub fn refusal(&self) -> Option<&Refusal> {
        match &*self.kind {
            ErrorKind::Refused(refusal) => Some(refusal),
            _ => None,
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error {
            kind: Box::new(kind),
        }
    }
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Error {
        ErrorKind::Refused(refusal).into()
    }
}
