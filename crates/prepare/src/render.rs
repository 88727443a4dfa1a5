//! A plan written out for someone else to apply: LDIF for OpenLDAP's `ldapmodify`, or a
//! PowerShell script for an enterprise admin (ActiveDirectory module and dsacls), as the
//! wizard's "Download PowerShell script" option does.
//!
//! Both are renderings of the same [`Plan`]: same objects, same attributes, same ACEs. Neither
//! is applied here. The plan's own text (`Display`, what `--dry-run` prints) lives here too, so
//! the plan module builds plans and this one says them.

use std::fmt::{self, Write as _};

use base64::Engine as _;
use devwb_ldap::controls::{encode_sd_flags_value, SD_FLAGS_OID};
use devwb_model::powershell::single_quoted;
use devwb_model::sd::{AccessMask, Ace, Acl, SddlContext, SecurityDescriptor, SecurityInformation};
use devwb_model::{ldif, Dn};

use crate::plan::{Plan, Step};

/// The plan as LDIF change records (RFC 2849) that `ldapmodify -f` applies.
///
/// A created container that needs the connector's ACE is added with its `nTSecurityDescriptor`
/// (the class default DACL plus the ACE; the server adds the inherited ACEs). An ACE added to an
/// existing object is a replace of `nTSecurityDescriptor` carrying the owner, group and DACL as
/// observed plus the ACE, sent with the SD flags control as an LDIF `control:` line (DACL only).
/// A server or tool that ignores the control gets a value whose owner and group are the ones it
/// already has, so the result is the same.
pub fn render_ldif(plan: &Plan) -> String {
    let mut out = String::new();
    write_header(&mut out, plan);
    let _ = writeln!(
        out,
        "# Apply with: ldapmodify -H ldaps://<dc> -D <enterprise admin> -W -f <this file>"
    );
    let _ = writeln!(out, "# Generated from the forest as observed; run `devwb prepare --dry-run` afterwards: it should plan nothing.");
    if plan.steps.is_empty() {
        let _ = writeln!(out, "# Nothing to do: the forest is prepared.");
    }
    let sd_flags = base64::engine::general_purpose::STANDARD
        .encode(encode_sd_flags_value(SecurityInformation::DACL));
    for (index, step) in plan.steps.iter().enumerate() {
        out.push('\n');
        match step {
            Step::Create {
                dn,
                object_class,
                attributes,
                security_descriptor,
                ace,
            } => {
                let _ = writeln!(out, "# {}. create {} ({})", index + 1, dn, object_class);
                if let Some(ace) = ace {
                    let _ = writeln!(
                        out,
                        "#    with the connector's ACE {}",
                        ace_sddl(ace, &plan.sddl_context)
                    );
                }
                ldif_add(
                    &mut out,
                    dn,
                    object_class,
                    attributes,
                    security_descriptor.as_ref(),
                );
            }
            Step::Recreate {
                dn,
                object_class,
                attributes,
                changes,
            } => {
                write_recreate_comment(&mut out, index + 1, dn, object_class, changes);
                ldif_line(&mut out, "dn", dn.to_string().as_bytes());
                let _ = writeln!(out, "changetype: delete");
                out.push('\n');
                ldif_add(&mut out, dn, object_class, attributes, None);
            }
            Step::SetAttributes { dn, changes } => {
                let _ = writeln!(out, "# {}. set attributes of {}", index + 1, dn);
                ldif_line(&mut out, "dn", dn.to_string().as_bytes());
                let _ = writeln!(out, "changetype: modify");
                for change in changes {
                    let _ = writeln!(
                        out,
                        "# {} was {}",
                        change.attribute,
                        one_line(change.found.as_deref().unwrap_or("absent"))
                    );
                    let _ = writeln!(out, "replace: {}", change.attribute);
                    ldif_line(&mut out, &change.attribute, change.wanted.as_bytes());
                    let _ = writeln!(out, "-");
                }
            }
            Step::GrantAce {
                dn,
                ace,
                security_descriptor,
            } => {
                let _ = writeln!(
                    out,
                    "# {}. add ACE {} to the DACL of {}",
                    index + 1,
                    ace_sddl(ace, &plan.sddl_context),
                    dn
                );
                let _ = writeln!(
                    out,
                    "#    new DACL: {}",
                    security_descriptor.to_sddl(&plan.sddl_context)
                );
                ldif_line(&mut out, "dn", dn.to_string().as_bytes());
                let _ = writeln!(out, "control: {SD_FLAGS_OID} true:: {sd_flags}");
                let _ = writeln!(out, "changetype: modify");
                let _ = writeln!(out, "replace: nTSecurityDescriptor");
                match security_descriptor.to_bytes() {
                    Ok(bytes) => ldif_line(&mut out, "nTSecurityDescriptor", &bytes),
                    Err(e) => {
                        let _ = writeln!(
                            out,
                            "# ERROR: the security descriptor cannot be encoded: {e}"
                        );
                    }
                }
                let _ = writeln!(out, "-");
            }
        }
    }
    out
}

/// An add record: dn, objectClass, the attributes and the security descriptor.
fn ldif_add(
    out: &mut String,
    dn: &Dn,
    object_class: &str,
    attributes: &[(String, String)],
    descriptor: Option<&devwb_model::sd::SecurityDescriptor>,
) {
    ldif_line(out, "dn", dn.to_string().as_bytes());
    let _ = writeln!(out, "changetype: add");
    ldif_line(out, "objectClass", object_class.as_bytes());
    for (name, value) in attributes {
        ldif_line(out, name, value.as_bytes());
    }
    if let Some(descriptor) = descriptor {
        match descriptor.to_bytes() {
            Ok(bytes) => ldif_line(out, "nTSecurityDescriptor", &bytes),
            Err(e) => {
                let _ = writeln!(
                    out,
                    "# ERROR: the security descriptor cannot be encoded: {e}"
                );
            }
        }
    }
}

/// `New-ADObject` for `dn` with its class and attributes.
fn ps_new_object(dn: &Dn, object_class: &str, attributes: &[(String, String)]) -> String {
    let (name, path) = split_dn(dn);
    let mut command = format!(
        "New-ADObject -Name {} -Path {} -Type {}",
        single_quoted(&name),
        single_quoted(&path),
        single_quoted(object_class)
    );
    if !attributes.is_empty() {
        let pairs: Vec<String> = attributes
            .iter()
            .map(|(k, v)| format!("{} = {}", single_quoted(k), ps_value(v)))
            .collect();
        let _ = write!(command, " -OtherAttributes @{{ {} }}", pairs.join("; "));
    }
    command
}

/// The comment both renderings put before a re-creation: why, and what was found.
fn write_recreate_comment(
    out: &mut String,
    number: usize,
    dn: &Dn,
    object_class: &str,
    changes: &[crate::plan::AttributeChange],
) {
    let _ = writeln!(
        out,
        "# {number}. re-create {dn} ({object_class}): msDS-DeviceLocation is system-only, so the object is deleted and added again"
    );
    for change in changes {
        let found = one_line(change.found.as_deref().unwrap_or("absent"));
        let _ = writeln!(out, "#    {} was {}", change.attribute, found);
    }
}

/// The two comment lines both renderings open with: where, and for whom.
fn write_header(out: &mut String, plan: &Plan) {
    let _ = writeln!(
        out,
        "# devwb prepare: forest {}, devices in {}",
        one_line(&plan.forest),
        plan.domain
    );
    let _ = writeln!(
        out,
        "# connector account {} ({})",
        plan.connector.down_level_name, plan.connector.sid
    );
}

/// The plan as text for `--dry-run`: one numbered line a step, with the attributes, values
/// and ACEs it writes.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "forest {}, devices in {}, connector {} ({})",
            self.forest, self.domain, self.connector.down_level_name, self.connector.sid
        )?;
        if self.steps.is_empty() {
            return writeln!(f, "nothing to do: the forest is prepared");
        }
        for (number, step) in self.steps.iter().enumerate() {
            write!(f, "{}. ", number + 1)?;
            match step {
                Step::Create {
                    dn,
                    object_class,
                    attributes,
                    security_descriptor,
                    ace,
                } => {
                    writeln!(f, "create {dn} ({object_class})")?;
                    for (name, value) in attributes {
                        writeln!(f, "   {name}: {value}")?;
                    }
                    if let Some(ace) = ace {
                        writeln!(
                            f,
                            "   with the connector's ACE {}",
                            ace_sddl(ace, &self.sddl_context)
                        )?;
                    }
                    if let Some(descriptor) = security_descriptor {
                        writeln!(f, "   DACL: {}", descriptor.to_sddl(&self.sddl_context))?;
                    }
                }
                Step::Recreate {
                    dn,
                    object_class,
                    changes,
                    ..
                } => {
                    writeln!(f, "re-create {dn} ({object_class}): delete it and add it again, because msDS-DeviceLocation is system-only and cannot be modified")?;
                    for change in changes {
                        let found = one_line(change.found.as_deref().unwrap_or("(absent)"));
                        writeln!(f, "   {}: {} -> {}", change.attribute, found, change.wanted)?;
                    }
                }
                Step::SetAttributes { dn, changes } => {
                    writeln!(f, "set attributes of {dn}")?;
                    for change in changes {
                        let found = one_line(change.found.as_deref().unwrap_or("(absent)"));
                        writeln!(f, "   {}: {} -> {}", change.attribute, found, change.wanted)?;
                    }
                }
                Step::GrantAce { dn, ace, .. } => {
                    writeln!(
                        f,
                        "add ACE {} to the DACL of {dn}",
                        ace_sddl(ace, &self.sddl_context)
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// One ACE in SDDL, `(A;CI;...;;;S-1-5-...)`.
pub fn ace_sddl(ace: &Ace, context: &SddlContext) -> String {
    let descriptor = SecurityDescriptor {
        dacl: Some(Acl::from_aces(vec![*ace])),
        ..SecurityDescriptor::default()
    };
    let text = descriptor.to_sddl(context);
    text.strip_prefix("D:").unwrap_or(&text).to_string()
}

/// Text read from the directory, made safe to put on one comment line: control characters
/// (a line break above all) are written as escapes. Otherwise a value such as
/// `msDS-DeviceLocation`, which anyone with write access to the service object can set, could
/// end the comment and add its own LDIF records or PowerShell commands to what an enterprise
/// admin runs. DNs need no such care: their text form escapes control characters already.
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// One `name: value` line (`name:: base64` unless the value is a safe string), as model's LDIF
/// writer words it.
fn ldif_line(out: &mut String, name: &str, value: &[u8]) {
    let _ = writeln!(out, "{}", ldif::value_line(name, value));
}

/// The dsacls permission letters of a mask: `GR` and `GW` for the mapped generic read and write
/// groups, then the single rights (`GRGWCCDCSDDT` for 0x300FF, `GRGW` for 0x200BC).
pub fn dsacls_rights(mask: AccessMask) -> String {
    let mut remaining = mask.0;
    let mut out = String::new();
    for (bits, letters) in [
        (AccessMask::DS_GENERIC_READ.0, "GR"),
        (AccessMask::DS_GENERIC_WRITE.0, "GW"),
    ] {
        if mask.0 & bits == bits {
            out.push_str(letters);
            remaining &= !bits;
        }
    }
    // The order of the reference's grant (`GRGWCCDCSDDT`); dsacls accepts any order.
    for (bit, letters) in [
        (0x1, "CC"),
        (0x2, "DC"),
        (0x4, "LC"),
        (0x8, "WS"),
        (0x10, "RP"),
        (0x20, "WP"),
        (0x1_0000, "SD"),
        (0x40, "DT"),
        (0x80, "LO"),
        (0x100, "CA"),
        (0x2_0000, "RC"),
        (0x4_0000, "WD"),
        (0x8_0000, "WO"),
    ] {
        if remaining & bit != 0 {
            out.push_str(letters);
        }
    }
    out
}

/// A PowerShell value for an attribute: `$true`/`$false` for booleans, digits as numbers.
fn ps_value(value: &str) -> String {
    if value.eq_ignore_ascii_case("TRUE") {
        "$true".to_string()
    } else if value.eq_ignore_ascii_case("FALSE") {
        "$false".to_string()
    } else if !value.is_empty() && value.len() < 10 && value.bytes().all(|b| b.is_ascii_digit()) {
        value.to_string()
    } else {
        single_quoted(value)
    }
}

/// The plan as a PowerShell script for an enterprise admin of the forest: the ActiveDirectory
/// module for objects and attributes, dsacls for the ACEs, and the forest check of Microsoft's
/// `CreateDeviceContainer.ps1` (abort unless the current forest is the one planned for).
///
/// The grants are written `dsacls "<dn>" /G "<DOMAIN\account>:<rights>" /I:T`; Microsoft's
/// script writes `/ G ... / I:T` (with spaces) in one branch, so its ACE on a freshly created
/// Device Registration Configuration container is likely never applied.
pub fn render_ps1(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "#Requires -Modules ActiveDirectory");
    write_header(&mut out, plan);
    let _ = writeln!(
        out,
        "# Run as an Enterprise Admin of {} on a machine of that forest.",
        one_line(&plan.forest)
    );
    let _ = writeln!(
        out,
        "# Generated from the forest as observed; objects found existing at run time are kept."
    );
    let _ = writeln!(out, "$ErrorActionPreference = 'Stop'");
    let _ = writeln!(out, "Import-Module ActiveDirectory");
    let _ = writeln!(out);
    let _ = writeln!(out, "$expectedForest = {}", single_quoted(&plan.forest));
    let _ = writeln!(
        out,
        "$expectedConfigurationNC = {}",
        single_quoted(&plan.configuration_nc.to_string())
    );
    let _ = writeln!(out, "$currentForest = (Get-ADForest).Name");
    let _ = writeln!(
        out,
        "$configurationNC = (Get-ADRootDSE).configurationNamingContext"
    );
    let _ = writeln!(out, "if ($currentForest -ne $expectedForest -or $configurationNC -ne $expectedConfigurationNC) {{");
    let _ = writeln!(
        out,
        "    throw \"This script prepares forest $expectedForest ($expectedConfigurationNC) but this machine is in forest $currentForest ($configurationNC). Run it in $expectedForest.\""
    );
    let _ = writeln!(out, "}}");
    let _ = writeln!(out);
    let _ = writeln!(out, "function Test-DevwbObject([string]$Dn) {{");
    let _ = writeln!(
        out,
        "    try {{ $null = Get-ADObject -Identity $Dn; return $true }}"
    );
    let _ = writeln!(out, "    catch [Microsoft.ActiveDirectory.Management.ADIdentityNotFoundException] {{ return $false }}");
    let _ = writeln!(out, "}}");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "function Grant-DevwbAce([string]$Dn, [string]$Grant) {{"
    );
    let _ = writeln!(out, "    # /G <account>:<rights> grants, /I:T makes the ACE apply to this object and all descendants.");
    let _ = writeln!(out, "    & dsacls.exe $Dn /G $Grant /I:T | Out-Null");
    let _ = writeln!(out, "    if ($LASTEXITCODE -ne 0) {{ throw \"dsacls failed ($LASTEXITCODE) granting $Grant on $Dn\" }}");
    let _ = writeln!(out, "}}");
    if plan.steps.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "Write-Host 'Nothing to do: the forest is prepared.'");
    }
    let account = &plan.connector.down_level_name;
    for (index, step) in plan.steps.iter().enumerate() {
        let _ = writeln!(out);
        let number = index + 1;
        match step {
            Step::Create {
                dn,
                object_class,
                attributes,
                ace,
                ..
            } => {
                let _ = writeln!(out, "# {number}. create {dn} ({object_class})");
                let _ = writeln!(
                    out,
                    "if (-not (Test-DevwbObject {})) {{",
                    single_quoted(&dn.to_string())
                );
                let _ = writeln!(out, "    {}", ps_new_object(dn, object_class, attributes));
                let _ = writeln!(out, "}}");
                if let Some(ace) = ace {
                    let grant = format!("{account}:{}", dsacls_rights(ace.mask));
                    let _ = writeln!(
                        out,
                        "Grant-DevwbAce {} {}",
                        single_quoted(&dn.to_string()),
                        single_quoted(&grant)
                    );
                }
            }
            Step::Recreate {
                dn,
                object_class,
                attributes,
                changes,
            } => {
                write_recreate_comment(&mut out, number, dn, object_class, changes);
                let _ = writeln!(
                    out,
                    "Remove-ADObject -Identity {} -Confirm:$false",
                    single_quoted(&dn.to_string())
                );
                let _ = writeln!(out, "{}", ps_new_object(dn, object_class, attributes));
            }
            Step::SetAttributes { dn, changes } => {
                let _ = writeln!(out, "# {number}. set attributes of {dn}");
                let pairs: Vec<String> = changes
                    .iter()
                    .map(|c| format!("{} = {}", single_quoted(&c.attribute), ps_value(&c.wanted)))
                    .collect();
                let _ = writeln!(
                    out,
                    "Set-ADObject -Identity {} -Replace @{{ {} }}",
                    single_quoted(&dn.to_string()),
                    pairs.join("; ")
                );
            }
            Step::GrantAce { dn, ace, .. } => {
                let _ = writeln!(
                    out,
                    "# {number}. add ACE {} to the DACL of {dn}",
                    ace_sddl(ace, &plan.sddl_context)
                );
                let grant = format!("{account}:{}", dsacls_rights(ace.mask));
                let _ = writeln!(
                    out,
                    "Grant-DevwbAce {} {}",
                    single_quoted(&dn.to_string()),
                    single_quoted(&grant)
                );
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Write-Host {}",
        single_quoted(&format!(
            "Device writeback preparation of {} done.",
            one_line(&plan.forest)
        ))
    );
    out
}

/// The RDN value (the object's name) and the parent DN.
fn split_dn(dn: &Dn) -> (String, String) {
    let name = dn
        .rdn()
        .map(|rdn| rdn.value().to_string())
        .unwrap_or_default();
    let path = dn.parent().map(|p| p.to_string()).unwrap_or_default();
    (name, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsacls_letters_of_the_two_connector_masks() {
        assert_eq!(dsacls_rights(AccessMask(0x0003_00FF)), "GRGWCCDCSDDT");
        assert_eq!(dsacls_rights(AccessMask(0x0002_00BC)), "GRGW");
    }
}
