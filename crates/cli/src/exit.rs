//! Exit codes, documented here, in `--help` and in docs/cli.md, and the mapping of errors to them.
//!
//! A subcommand returns `Ok(Exit)` when it ran to a verdict (all passed, a check failed, a
//! refusal) and `Err` when it could not run; [`code_for_error`] then walks the cause chain to
//! tell a connection or authentication problem (3) from everything else (2).

use devwb_ldap::{ErrorKind, Operation};

/// Success: the plan was applied or was empty, every check passed.
pub const OK: u8 = 0;
/// A check failed, prepare refused, or a change was not confirmed.
pub const FAILED: u8 = 1;
/// Usage error, or the command could not run (bad input file, unreadable forest).
pub const COULD_NOT_RUN: u8 = 2;
/// Cannot connect or authenticate (TCP, TLS, bind).
pub const CONNECTION: u8 = 3;
/// The directory refused a change while applying; the steps before it were applied and running
/// the command again continues from there.
pub const APPLY_FAILED: u8 = 4;
/// writeback: everything but the deletes was applied; the deletes were withheld because there
/// were more than --max-deletes or the export could not be the whole tenant (the output says
/// which). Nothing was lost; fix the export, or allow the deletes, and run again.
pub const DELETES_WITHHELD: u8 = 5;

/// The text of the exit codes for `--help`.
pub const HELP: &str = "\
Exit status:
  0  success: the plan was applied (or there was nothing to do), every check passed
  1  a check failed, prepare refused, or a change was not confirmed
  2  usage error, or the command could not run (unreadable file, forest not readable)
  3  cannot connect or authenticate (TCP, TLS, bind)
  4  the directory refused a change while applying (run again to continue)
  5  writeback: deletes withheld (over --max-deletes, or an export that cannot be the
     whole tenant); everything else was applied";

/// What a subcommand concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything went as asked.
    Ok,
    /// A verdict of failure: a failed check, a refusal, an unconfirmed change.
    Failed,
    /// Applying stopped at a change the directory refused.
    ApplyFailed,
    /// Everything but the deletes was applied; the deletes were withheld by a guard.
    DeletesWithheld,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => OK,
            Exit::Failed => FAILED,
            Exit::ApplyFailed => APPLY_FAILED,
            Exit::DeletesWithheld => DELETES_WITHHELD,
        }
    }
}

/// The exit code for an error that stopped a subcommand.
pub fn code_for_error(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if let Some(ldap) = cause.downcast_ref::<devwb_ldap::Error>() {
            if is_connection_or_auth(ldap) {
                return CONNECTION;
            }
        }
    }
    COULD_NOT_RUN
}

fn is_connection_or_auth(error: &devwb_ldap::Error) -> bool {
    match error.kind() {
        ErrorKind::Connect { .. } | ErrorKind::Tls { .. } => true,
        ErrorKind::Ldap {
            operation: Operation::Bind,
            ..
        } => true,
        ErrorKind::Timeout { operation, .. } | ErrorKind::ConnectionLost { operation, .. } => {
            matches!(operation, Operation::Connect | Operation::Bind)
        }
        _ => false,
    }
}
