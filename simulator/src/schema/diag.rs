//! AD-shaped diagnostic texts for the errors the schema and security layers return.
//!
//! AD's diagnosticMessage starts with the Win32 error in hex, then the error family
//! (`AtrErr`, `UpdErr`, `NameErr`, `SecErr`, `SvcErr`, `LdapErr`), a DSID (the source location
//! inside AD's code, fixed here per error) and the problem. Attribute errors name the
//! attribute as AD does: `Att <ATTRTYP in hex> (<lDAPDisplayName>)`, where ATTRTYP is the OID
//! compressed through the default prefix table of MS-DRSR 5.16.4. The result codes are the ones
//! Windows returns (Samba's dsdb modules document where they copy Windows' choice); the DSIDs
//! are representative, not the ones of a particular Windows build. The texts end with `\n`,
//! as SIM1's `OpError` texts do (the NUL AD appends is the encoder's concern).

use crate::error::{OpError, ResultCode};

/// The OID prefixes of MS-DRSR 5.16.4's default prefix table that the AD schema uses most,
/// by their index (the ATTRTYP's upper 16 bits).
const PREFIXES: [(&str, u32); 11] = [
    ("2.5.4.", 0),
    ("2.5.6.", 1),
    ("1.2.840.113556.1.2.", 2),
    ("1.2.840.113556.1.3.", 3),
    ("2.16.840.1.101.2.2.1.", 4),
    ("2.16.840.1.101.2.2.3.", 5),
    ("2.16.840.1.101.2.1.5.", 6),
    ("2.16.840.1.101.2.1.4.", 7),
    ("2.5.5.", 8),
    ("1.2.840.113556.1.4.", 9),
    ("1.2.840.113556.1.5.", 10),
];

/// The ATTRTYP of an OID under the default prefix table, when its prefix is one of the table's
/// first entries and its last arc fits 16 bits; 0 otherwise.
pub fn attrtyp(oid: &str) -> u32 {
    PREFIXES
        .iter()
        .find_map(|(prefix, index)| {
            let last = oid.strip_prefix(prefix)?;
            let arc: u32 = last.parse().ok()?;
            (arc < 0x1_0000).then_some((index << 16) | arc)
        })
        .unwrap_or(0)
}

/// An attribute error: `<win32>: AtrErr: DSID-..., #1:\n\t0: <win32>: DSID-..., problem <n> (<name>), data 0, Att <id> (<attr>)`.
pub fn attribute_error(
    code: ResultCode,
    win32: u32,
    problem: (u32, &str),
    attribute: &str,
    oid: &str,
) -> OpError {
    let dsid = "DSID-03152804";
    OpError::new(
        code,
        format!(
            "{win32:08X}: AtrErr: {dsid}, #1:\n\t0: {win32:08X}: {dsid}, problem {} ({}), data 0, Att {:x} ({attribute})\n",
            problem.0,
            problem.1,
            attrtyp(oid)
        ),
    )
}

/// `constraintViolation` on an attribute (range, single value, system-only, DN target).
pub fn constraint(attribute: &str, oid: &str, win32: u32) -> OpError {
    attribute_error(
        ResultCode::CONSTRAINT_VIOLATION,
        win32,
        (1005, "CONSTRAINT_ATT_TYPE"),
        attribute,
        oid,
    )
}

/// Win32 codes used with [`constraint`].
pub mod win32 {
    /// ERROR_DS_CONSTRAINT_VIOLATION.
    pub const CONSTRAINT_VIOLATION: u32 = 0x202F;
    /// ERROR_DS_SINGLE_VALUE_CONSTRAINT.
    pub const SINGLE_VALUE: u32 = 0x2081;
    /// ERROR_DS_RANGE_CONSTRAINT.
    pub const RANGE: u32 = 0x2082;
    /// ERROR_DS_NO_SUCH_OBJECT, for a DN value naming nothing.
    pub const DN_TARGET_MISSING: u32 = 0x20B5;
}

/// `invalidAttributeSyntax`: AD's generic conversion failure.
pub fn invalid_syntax() -> OpError {
    OpError::new(
        ResultCode::INVALID_ATTRIBUTE_SYNTAX,
        "00000057: LdapErr: DSID-0C090D8A, comment: Error in attribute conversion operation, data 0, v4563\n",
    )
}

/// `noSuchAttribute` for an attribute or objectClass value the schema does not define (what
/// Windows answers, and Samba copies).
pub fn unknown_attribute() -> OpError {
    OpError::new(
        ResultCode::NO_SUCH_ATTRIBUTE,
        "00000057: LdapErr: DSID-0C090D8A, comment: Error in attribute conversion operation, data 0, v4563\n",
    )
}

/// `undefinedAttributeType`: a constructed attribute in an add.
pub fn undefined_attribute(attribute: &str, oid: &str) -> OpError {
    attribute_error(
        ResultCode::UNDEFINED_ATTRIBUTE_TYPE,
        0x200C,
        (1002, "ATT_TYPE_UNDEFINED"),
        attribute,
        oid,
    )
}

/// `objectClassViolation`: a missing mandatory attribute, an attribute the classes do not
/// allow, or no objectClass at all.
pub fn object_class_violation(win32: u32) -> OpError {
    OpError::new(
        ResultCode::OBJECT_CLASS_VIOLATION,
        format!("{win32:08X}: UpdErr: DSID-030F22B2, problem 6002 (OBJ_CLASS_VIOLATION), data 0\n"),
    )
}

/// Win32 codes used with [`object_class_violation`].
pub mod class_win32 {
    /// ERROR_DS_OBJ_CLASS_VIOLATION (no or no structural objectClass).
    pub const OBJ_CLASS_VIOLATION: u32 = 0x2014;
    /// ERROR_DS_MISSING_REQUIRED_ATT.
    pub const MISSING_REQUIRED: u32 = 0x207C;
    /// ERROR_DS_ATT_NOT_DEF_FOR_CLASS.
    pub const NOT_ALLOWED: u32 = 0x207D;
}

/// `namingViolation`: wrong RDN attribute, or a class not allowed under its parent.
pub fn naming_violation(win32: u32, parent: &str) -> OpError {
    OpError::new(
        ResultCode::NAMING_VIOLATION,
        format!("{win32:08X}: NameErr: DSID-0305109C, problem 2005 (NAMING_VIOLATION), data 0, best match of:\n\t'{parent}'\n"),
    )
}

/// Win32 codes used with [`naming_violation`].
pub mod naming_win32 {
    /// ERROR_DS_NAMING_VIOLATION (wrong RDN attribute).
    pub const NAMING: u32 = 0x2037;
    /// ERROR_DS_ILLEGAL_SUPERIOR (class not allowed under the parent).
    pub const ILLEGAL_SUPERIOR: u32 = 0x2099;
}

/// `attributeOrValueExists`.
pub fn value_exists(attribute: &str, oid: &str) -> OpError {
    attribute_error(
        ResultCode::ATTRIBUTE_OR_VALUE_EXISTS,
        0x2083,
        (1006, "ATT_OR_VALUE_EXISTS"),
        attribute,
        oid,
    )
}

/// `noSuchAttribute` for removing a value or attribute that is not there.
pub fn no_such_value(attribute: &str, oid: &str) -> OpError {
    attribute_error(
        ResultCode::NO_SUCH_ATTRIBUTE,
        0x2085,
        (16, "NO_ATTRIBUTE_OR_VAL"),
        attribute,
        oid,
    )
}

/// `notAllowedOnRDN`: a modify of the RDN attribute or `name` (a rename is a modify DN).
pub fn not_allowed_on_rdn() -> OpError {
    OpError::new(
        ResultCode::NOT_ALLOWED_ON_RDN,
        "00002016: UpdErr: DSID-030F1D29, problem 6004 (CANT_ON_RDN), data 0\n",
    )
}

/// `unwillingToPerform` as AD's service layer words it.
pub fn unwilling() -> OpError {
    OpError::new(
        ResultCode::UNWILLING_TO_PERFORM,
        "0000052D: SvcErr: DSID-031A1248, problem 5003 (WILL_NOT_PERFORM), data 0\n",
    )
}

/// `insufficientAccessRights` for any denied operation.
pub fn insufficient_access() -> OpError {
    OpError::new(
        ResultCode::INSUFFICIENT_ACCESS_RIGHTS,
        "00002098: SecErr: DSID-03150F93, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0\n",
    )
}

/// `invalidCredentials` for a wrong name or password (data 52e).
pub fn invalid_credentials() -> OpError {
    OpError::new(
        ResultCode::INVALID_CREDENTIALS,
        "80090308: LdapErr: DSID-0C090447, comment: AcceptSecurityContext error, data 52e, v3839\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attrtyp_follows_the_default_prefix_table() {
        assert_eq!(
            attrtyp("1.2.840.113556.1.4.90"),
            0x9005a,
            "unicodePwd, as AD prints it"
        );
        assert_eq!(attrtyp("2.5.4.3"), 0x3, "cn");
        assert_eq!(attrtyp("1.2.840.113556.1.4.2252"), 0x908cc, "msDS-DeviceID");
        assert_eq!(attrtyp("9.9.9"), 0);
    }

    #[test]
    fn texts_have_ads_shape() {
        let error = constraint("msDS-DeviceID", "1.2.840.113556.1.4.2252", win32::RANGE);
        assert_eq!(error.code, ResultCode::CONSTRAINT_VIOLATION);
        assert_eq!(
            error.message,
            "00002082: AtrErr: DSID-03152804, #1:\n\t0: 00002082: DSID-03152804, problem 1005 (CONSTRAINT_ATT_TYPE), data 0, Att 908cc (msDS-DeviceID)\n"
        );
        assert!(insufficient_access()
            .message
            .starts_with("00002098: SecErr: DSID-03150F93, problem 4003"));
    }
}
