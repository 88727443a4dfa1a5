//! Reading and writing `nTSecurityDescriptor` with AD's SD flags control.
//!
//! The control chooses which parts (owner, group, DACL, SACL) a read returns and a write
//! changes, so a DACL update never touches the owner or the SACL. The binary form is decoded
//! and encoded by `devwb_model::sd`; this module only moves bytes.

use devwb_model::sd::SecurityDescriptor;
use devwb_model::Dn;

use crate::change::Modification;
use crate::client::Client;
use crate::controls::sd_flags_control;
use crate::error::{Error, ErrorKind, Operation, Result};
use devwb_model::sd::SecurityInformation;

/// The attribute holding the security descriptor.
pub const NT_SECURITY_DESCRIPTOR: &str = "nTSecurityDescriptor";

impl Client {
    /// Reads the parts of `dn`'s security descriptor chosen by `flags`.
    pub fn read_security_descriptor(
        &self,
        dn: &Dn,
        flags: SecurityInformation,
    ) -> Result<SecurityDescriptor> {
        let entry = self
            .read_with_controls(dn, &[NT_SECURITY_DESCRIPTOR], vec![sd_flags_control(flags)])?
            .ok_or_else(|| {
                Error::from(ErrorKind::NoSuchObject {
                    dn: dn.to_string(),
                    operation: Operation::Search,
                    message: String::new(),
                })
            })?;
        let bytes = entry.first_bytes(NT_SECURITY_DESCRIPTOR).ok_or_else(|| {
            Error::from(ErrorKind::MissingAttribute {
                dn: dn.to_string(),
                attribute: NT_SECURITY_DESCRIPTOR.into(),
            })
        })?;
        SecurityDescriptor::from_bytes(bytes)
            .map_err(|e| Error::invalid_response(format!("{NT_SECURITY_DESCRIPTOR} of {dn}: {e}")))
    }

    /// Writes the parts of `descriptor` chosen by `flags` (a modify-replace with the SD flags
    /// control; the server leaves the other parts as they are).
    pub fn write_security_descriptor(
        &self,
        dn: &Dn,
        descriptor: &SecurityDescriptor,
        flags: SecurityInformation,
    ) -> Result<()> {
        let bytes = descriptor.to_bytes().map_err(|e| {
            Error::invalid_input(format!(
                "security descriptor for {dn} cannot be encoded: {e}"
            ))
        })?;
        self.modify_with_controls(
            dn,
            vec![Modification::Replace(
                NT_SECURITY_DESCRIPTOR.to_string(),
                vec![bytes],
            )],
            vec![sd_flags_control(flags)],
        )
    }
}
