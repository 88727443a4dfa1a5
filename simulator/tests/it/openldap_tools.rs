//! OpenLDAP's command line tools (ldap-utils) against the simulator, over LDAPS and StartTLS.
//! When the tools are not installed the tests say so and do nothing else.

use std::process::{Command, Output};

use devwb_simulator::SimHandle;

use crate::support::{have_program, start};

const TOOLS: &[&str] = &[
    "ldapsearch",
    "ldapadd",
    "ldapmodify",
    "ldapdelete",
    "ldapmodrdn",
    "ldapcompare",
    "ldapwhoami",
];

#[allow(clippy::print_stderr)] // The skip message a test without its tools prints.
fn tools_present() -> bool {
    let missing: Vec<&str> = TOOLS.iter().copied().filter(|t| !have_program(t)).collect();
    if missing.is_empty() {
        return true;
    }
    eprintln!(
        "skipped: OpenLDAP tools not installed ({}); install the Debian package ldap-utils",
        missing.join(", ")
    );
    false
}

/// Runs a tool bound as the Administrator; `url` picks LDAPS or (with `-ZZ`) StartTLS.
fn tool(
    sim: &SimHandle,
    program: &str,
    starttls: bool,
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    let url = if starttls { sim.url() } else { sim.ldaps_url() };
    let mut command = Command::new(program);
    command
        .env("LDAPTLS_REQCERT", "never")
        .env("LDAPCONF", "/dev/null")
        .args([
            "-x",
            "-H",
            &url,
            "-D",
            &sim.admin_dn(),
            "-w",
            sim.admin_password(),
        ]);
    if starttls {
        command.arg("-ZZ");
    }
    command.args(args);
    let output = match stdin {
        Some(text) => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("input.ldif");
            std::fs::write(&path, text).unwrap();
            command.arg("-f").arg(&path);
            command.output().unwrap()
        }
        None => command.output().unwrap(),
    };
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn assert_ok(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed: {:?}\nstdout: {}\nstderr: {}",
        output.status,
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn every_tool_over(starttls: bool) {
    if !tools_present() {
        return;
    }
    let sim = start();
    let domain = sim.domain_dn();
    let dn = format!("CN=tools-test,CN=Users,{domain}");

    let root = tool(
        &sim,
        "ldapsearch",
        starttls,
        &[
            "-b",
            "",
            "-s",
            "base",
            "(objectClass=*)",
            "defaultNamingContext",
        ],
        None,
    );
    assert_ok(&root, "ldapsearch rootDSE");
    assert!(
        stdout(&root).contains(&format!("defaultNamingContext: {domain}")),
        "{}",
        stdout(&root)
    );

    let add = tool(
        &sim,
        "ldapadd",
        starttls,
        &[],
        Some(&format!(
            "dn: {dn}\nobjectClass: top\nobjectClass: container\ndescription: first\n\n"
        )),
    );
    assert_ok(&add, "ldapadd");

    let modify = tool(
        &sim,
        "ldapmodify",
        starttls,
        &[],
        Some(&format!(
            "dn: {dn}\nchangetype: modify\nreplace: description\ndescription: second\n-\n\n"
        )),
    );
    assert_ok(&modify, "ldapmodify");

    let compare = tool(
        &sim,
        "ldapcompare",
        starttls,
        &[&dn, "description:second"],
        None,
    );
    assert_eq!(
        compare.status.code(),
        Some(6),
        "compareTrue is exit code 6: {}",
        stdout(&compare)
    );
    assert!(stdout(&compare).contains("TRUE"));
    let compare = tool(
        &sim,
        "ldapcompare",
        starttls,
        &[&dn, "description:first"],
        None,
    );
    assert_eq!(
        compare.status.code(),
        Some(5),
        "compareFalse is exit code 5"
    );

    let search = tool(
        &sim,
        "ldapsearch",
        starttls,
        &[
            "-LLL",
            "-b",
            &format!("CN=Users,{domain}"),
            "-s",
            "one",
            "-E",
            "pr=2/noprompt",
            "(cn=tools-test)",
            "description",
            "objectClass",
        ],
        None,
    );
    assert_ok(&search, "ldapsearch with paged results");
    let text = stdout(&search);
    assert!(text.contains("description: second"), "{text}");
    let top = text.find("objectClass: top").unwrap();
    let container = text.find("objectClass: container").unwrap();
    assert!(top < container, "objectClass order kept: {text}");

    let rename = tool(
        &sim,
        "ldapmodrdn",
        starttls,
        &["-r", &dn, "CN=tools-renamed"],
        None,
    );
    assert_ok(&rename, "ldapmodrdn");
    let renamed = format!("CN=tools-renamed,CN=Users,{domain}");

    // RFC 4525 increment, which rasn-ldap cannot decode and the codec reads by hand.
    let (user, _) = sim.add_user("inc-test", "Passw0rd!1").unwrap();
    let increment = tool(&sim, "ldapmodify", starttls, &[], Some(&format!("dn: {user}\nchangetype: modify\nincrement: userAccountControl\nuserAccountControl: 2\n-\n\n")));
    assert_ok(&increment, "ldapmodify increment");
    let after = tool(
        &sim,
        "ldapsearch",
        starttls,
        &[
            "-LLL",
            "-b",
            &user.to_string(),
            "-s",
            "base",
            "(objectClass=*)",
            "userAccountControl",
        ],
        None,
    );
    assert!(
        stdout(&after).contains("userAccountControl: 514"),
        "{}",
        stdout(&after)
    );

    let who = tool(&sim, "ldapwhoami", starttls, &[], None);
    assert_ok(&who, "ldapwhoami");
    assert_eq!(stdout(&who).trim(), "u:CONTOSO\\Administrator");

    let delete = tool(&sim, "ldapdelete", starttls, &[&renamed], None);
    assert_ok(&delete, "ldapdelete");
    let gone = tool(
        &sim,
        "ldapsearch",
        starttls,
        &["-b", &renamed, "-s", "base"],
        None,
    );
    assert_eq!(gone.status.code(), Some(32), "noSuchObject after delete");
}

#[test]
fn every_tool_over_ldaps() {
    every_tool_over(false);
}

#[test]
fn every_tool_over_starttls() {
    every_tool_over(true);
}

#[test]
fn plain_simple_bind_is_refused_like_ad() {
    if !tools_present() {
        return;
    }
    let sim = start();
    let output = Command::new("ldapsearch")
        .env("LDAPCONF", "/dev/null")
        .args([
            "-x",
            "-H",
            &sim.url(),
            "-D",
            &sim.admin_dn(),
            "-w",
            sim.admin_password(),
            "-b",
            "",
            "-s",
            "base",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(8), "strongerAuthRequired");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("00002028"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// ldapsearch against a child domain's DC: its own NC, a referral for the root's, and the
/// root DC's continuation reference to the child.
#[test]
fn ldapsearch_against_a_child_domain_s_dc() {
    if !have_program("ldapsearch") {
        #[allow(clippy::print_stderr)] // The skip message a test without its tools prints.
        {
            eprintln!("skipped: ldapsearch not installed; install the Debian package ldap-utils");
        }
        return;
    }
    let sim = devwb_simulator::Simulator::builder()
        .domain("emea.contoso.lab")
        .admin_password("Forest-Tools-1!")
        .seed(7)
        .start_blocking()
        .unwrap();
    let emea = sim.domain("emea.contoso.lab").unwrap();
    let search = |url: &str, base: &str, scope: &str, filter: &str| {
        Command::new("ldapsearch")
            .env("LDAPTLS_REQCERT", "never")
            .env("LDAPCONF", "/dev/null")
            .args([
                "-x",
                "-H",
                url,
                "-D",
                &emea.admin_dn.to_string(),
                "-w",
                "Forest-Tools-1!",
            ])
            .args(["-b", base, "-s", scope, filter, "1.1"])
            .output()
            .unwrap()
    };
    let child_url = sim.domain_ldaps_url("emea.contoso.lab");
    let own = search(
        &child_url,
        &emea.domain_dn.to_string(),
        "sub",
        "(sAMAccountName=Administrator)",
    );
    assert_ok(&own, "ldapsearch of the child's own NC");
    assert!(
        stdout(&own).contains(&format!("dn: {}", emea.admin_dn)),
        "{}",
        stdout(&own)
    );
    let other = search(&child_url, &sim.domain_dn(), "base", "(objectClass=*)");
    assert_eq!(other.status.code(), Some(10), "{}", stdout(&other));
    let root_ldaps = sim.ldaps_addr().unwrap();
    assert!(
        stdout(&other).contains(&format!("ldaps://{root_ldaps}/DC=contoso,DC=lab")),
        "{}",
        stdout(&other)
    );
    // The root's DC: a subtree search refers to the child's NC on the child's DC.
    let from_root = search(&sim.ldaps_url(), &sim.domain_dn(), "sub", "(cn=nothing)");
    assert_ok(&from_root, "ldapsearch of the root NC");
    let child_ldaps = sim.dc("emea.contoso.lab").unwrap().ldaps.unwrap();
    assert!(
        stdout(&from_root).contains(&format!(
            "ref: ldaps://{child_ldaps}/DC=emea,DC=contoso,DC=lab"
        )),
        "{}",
        stdout(&from_root)
    );
}

/// The subschema entry the rootDSE names, read the standard way.
#[test]
fn ldapsearch_reads_the_subschema_entry() {
    if !tools_present() {
        return;
    }
    let sim = start();
    let aggregate = format!("CN=Aggregate,{}", sim.schema_dn());
    // The rootDSE and every entry name it, when asked.
    for base in [String::new(), format!("CN=Users,{}", sim.domain_dn())] {
        let named = tool(
            &sim,
            "ldapsearch",
            false,
            &[
                "-b",
                &base,
                "-s",
                "base",
                "(objectClass=*)",
                "subschemaSubentry",
            ],
            None,
        );
        // The rootDSE spells it as RFC 4512 does; entries as AD's schema does.
        let spelling = if base.is_empty() {
            "subschemaSubentry"
        } else {
            "subSchemaSubEntry"
        };
        assert!(
            stdout(&named).contains(&format!("{spelling}: {aggregate}")),
            "{base:?}: {}",
            stdout(&named)
        );
    }
    let schema = tool(
        &sim,
        "ldapsearch",
        false,
        &[
            "-o",
            "ldif-wrap=no",
            "-b",
            &aggregate,
            "-s",
            "base",
            "(objectClass=*)",
            "attributeTypes",
            "objectClasses",
        ],
        None,
    );
    assert_ok(&schema, "ldapsearch of CN=Aggregate");
    let text = stdout(&schema);
    assert!(
        text.contains("attributeTypes: ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' SYNTAX '1.3.6.1.4.1.1466.115.121.1.15' SINGLE-VALUE )"),
        "{}",
        &text[..text.len().min(2000)]
    );
    assert!(text.contains(
        "objectClasses: ( 1.2.840.113556.1.5.9 NAME 'user' SUP organizationalPerson STRUCTURAL"
    ));
    assert!(!text.contains(";range="), "the schema's values come whole");
}

/// Attribute selection through ldapsearch, as a Windows DC answers it: `+` is no selector,
/// constructed attributes come when named, names come back in the schema's spelling, and a
/// base-only attribute fails a subtree search.
#[test]
fn ldapsearch_selects_attributes_as_a_windows_dc() {
    if !tools_present() {
        return;
    }
    let sim = start();
    let users = format!("CN=Users,{}", sim.domain_dn());
    let administrator = sim.admin_dn();
    let read = |base: &str, scope: &str, attributes: &[&str]| {
        let mut args = vec!["-o", "ldif-wrap=no", "-LLL", "-b", base, "-s", scope];
        args.push("(objectClass=*)");
        args.extend_from_slice(attributes);
        tool(&sim, "ldapsearch", false, &args, None)
    };
    let names = |output: &Output| -> Vec<String> {
        stdout(output)
            .lines()
            .filter_map(|line| line.split_once(':').map(|(name, _)| name.to_string()))
            .filter(|name| name != "dn")
            .collect()
    };

    let all = read(&administrator, "base", &["*", "+"]);
    assert_ok(&all, "ldapsearch * +");
    let all = names(&all);
    assert!(all.iter().any(|n| n == "sAMAccountName"), "{all:?}");
    for absent in ["createTimeStamp", "canonicalName", "nTSecurityDescriptor"] {
        assert!(!all.iter().any(|n| n == absent), "{absent} in {all:?}");
    }
    let plus = read(&administrator, "base", &["+"]);
    assert_ok(&plus, "ldapsearch +");
    assert_eq!(names(&plus), Vec::<String>::new());

    let named = read(
        &administrator,
        "base",
        &["SAMACCOUNTNAME", "samaccountname", "canonicalname", "1.1"],
    );
    assert_ok(&named, "ldapsearch of named attributes");
    assert_eq!(names(&named), ["sAMAccountName", "canonicalName"]);

    let subtree = read(&users, "sub", &["cn", "tokenGroups"]);
    assert_eq!(subtree.status.code(), Some(1), "{}", stdout(&subtree));
    assert!(
        String::from_utf8_lossy(&subtree.stderr).contains("00002120"),
        "{}",
        String::from_utf8_lossy(&subtree.stderr)
    );
}
