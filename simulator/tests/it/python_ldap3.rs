//! Python's ldap3 package (pip install ldap3) against the simulator over LDAPS and StartTLS.
//! When python3 or the package is missing the test says so and does nothing else.

use std::process::Command;

use crate::support::start;

const SCRIPT: &str = r#"
import sys, ssl
from ldap3 import Server, Connection, Tls, SUBTREE, LEVEL, MODIFY_REPLACE, NONE, SCHEMA
url, admin, password, domain, starttls = sys.argv[1:6]
tls = Tls(validate=ssl.CERT_NONE)
# ldap3's default get_info=SCHEMA: after the bind it reads CN=Aggregate, which the rootDSE names.
# Over StartTLS ldap3 reads it right after start_tls, before the bind: AD refuses that to an
# anonymous connection (operationsError 000004DC), and with raise_exceptions so does ldap3.
server = Server(url, use_ssl=url.startswith("ldaps"), tls=tls, get_info=NONE if starttls == "1" else SCHEMA)
conn = Connection(server, user=admin, password=password, auto_bind=False, raise_exceptions=True)
conn.open()
if starttls == "1":
    conn.start_tls()
conn.bind()
if starttls != "1":
    assert server.schema is not None, "the subschema entry was read"
    assert "sAMAccountName" in server.schema.attribute_types, list(server.schema.attribute_types)[:5]
    assert server.schema.attribute_types["sAMAccountName"].single_value
    assert "organizationalPerson" in server.schema.object_classes["user"].superior, server.schema.object_classes["user"]
dn = "CN=py-test,CN=Users," + domain
conn.add(dn, ["top", "container"], {"description": "from python"})
conn.modify(dn, {"description": [(MODIFY_REPLACE, ["changed"])]})
conn.search("CN=Users," + domain, "(cn=py-test)", LEVEL, attributes=["description", "objectGUID", "objectClass"])
entry = conn.entries[0]
assert str(entry.description) == "changed", entry
assert len(entry.objectGUID.raw_values[0]) == 16
assert list(entry.objectClass.values) == ["top", "container"], entry.objectClass.values
assert conn.compare(dn, "description", "changed")
conn.search(domain, "(objectClass=group)", SUBTREE, attributes=["cn"], paged_size=2)
assert len(conn.entries) == 2
cookie = conn.result["controls"]["1.2.840.113556.1.4.319"]["value"]["cookie"]
assert cookie
total = 0
for _ in conn.extend.standard.paged_search(domain, "(objectClass=group)", SUBTREE, attributes=["cn"], paged_size=2, generator=True):
    total += 1
assert total >= 6, total
who = conn.extend.standard.who_am_i()
assert who == "u:CONTOSO\\Administrator", who
conn.modify_dn(dn, "CN=py-renamed")
conn.delete("CN=py-renamed,CN=Users," + domain)
conn.unbind()
print("ok")
"#;

fn python_ldap3_present() -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import ldap3"])
        .output();
    match probe {
        Ok(output) if output.status.success() => true,
        _ => {
            #[allow(clippy::print_stderr)] // The skip message a test without its tools prints.
            {
                eprintln!(
                    "skipped: python3 with the ldap3 package is not available (pip install ldap3)"
                );
            }
            false
        }
    }
}

/// Runs `script` with `args` and expects it to print `ok`.
fn run_script(script: &str, args: &[&str]) {
    let output = Command::new("python3")
        .args(["-c", script])
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python ldap3 failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "ok");
}

fn run(starttls: bool) {
    if !python_ldap3_present() {
        return;
    }
    let sim = start();
    let url = if starttls { sim.url() } else { sim.ldaps_url() };
    run_script(
        SCRIPT,
        &[
            &url,
            &sim.admin_dn(),
            sim.admin_password(),
            &sim.domain_dn(),
            if starttls { "1" } else { "0" },
        ],
    );
}

#[test]
fn python_ldap3_over_ldaps() {
    run(false);
}

#[test]
fn python_ldap3_over_starttls() {
    run(true);
}

const FOREST_SCRIPT: &str = r#"
import sys, ssl
from ldap3 import Server, Connection, Tls, SUBTREE, BASE, NONE
child_url, child_admin, password, child_domain, root_domain = sys.argv[1:6]
tls = Tls(validate=ssl.CERT_NONE)
server = Server(child_url, use_ssl=True, tls=tls, get_info=NONE, allowed_referral_hosts=[("*", True)])
# Without following referrals: the child's DC answers its own NC and refers the root's.
conn = Connection(server, user=child_admin, password=password, auto_bind=True, auto_referrals=False)
conn.search(child_domain, "(sAMAccountName=Administrator)", SUBTREE, attributes=["objectSid"])
assert len(conn.entries) == 1, conn.entries
assert conn.entries[0].entry_dn == child_admin, conn.entries[0].entry_dn
conn.search(root_domain, "(objectClass=*)", BASE, attributes=["objectSid"])
assert conn.result["result"] == 10, conn.result
assert conn.result["referrals"][0].startswith("ldaps://127.0.0.1:"), conn.result
assert conn.result["referrals"][0].endswith("/" + root_domain), conn.result
conn.unbind()
# Following them: ldap3 binds on the root domain's DC with the same account and gets the entry.
conn = Connection(server, user=child_admin, password=password, auto_bind=True, auto_referrals=True)
conn.search(root_domain, "(objectClass=*)", BASE, attributes=["objectSid"])
assert len(conn.entries) == 1, conn.result
assert conn.entries[0].entry_dn == root_domain, conn.entries[0].entry_dn
conn.unbind()
print("ok")
"#;

#[test]
fn python_ldap3_against_a_child_domain_s_dc_gets_and_follows_referrals() {
    if !python_ldap3_present() {
        return;
    }
    let sim = devwb_simulator::Simulator::builder()
        .domain("emea.contoso.lab")
        .admin_password("Forest-Py-1!")
        .seed(7)
        .start_blocking()
        .unwrap();
    let emea = sim.domain("emea.contoso.lab").unwrap();
    run_script(
        FOREST_SCRIPT,
        &[
            &sim.domain_ldaps_url("emea.contoso.lab"),
            &emea.admin_dn.to_string(),
            "Forest-Py-1!",
            &emea.domain_dn.to_string(),
            &sim.domain_dn(),
        ],
    );
}
