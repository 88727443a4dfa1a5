use devwb_ldap::ErrorKind;

use crate::support::lab;

#[test]
fn every_name_form_resolves_to_the_same_dn_and_sid() {
    let lab = lab();
    let (dn, sid) = lab.sim.add_user("svc-aadc", "Passw0rd!").unwrap();
    let root = lab.client.root_dse().unwrap();
    let forest = lab.client.forest_domains(&root).unwrap();
    assert_eq!(forest.domains.len(), 1);
    assert_eq!(forest.domains[0].sid, Some(lab.sim.domain_sid()));
    for name in [
        dn.to_string(),
        "svc-aadc@contoso.lab".to_string(),
        format!("{}\\svc-aadc", lab.sim.netbios_name()),
        "svc-aadc".to_string(),
    ] {
        let account = lab
            .client
            .resolve_account(&name, &forest)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(account.dn, dn, "{name}");
        assert_eq!(account.sid, sid, "{name}");
        assert!(forest.contains_sid(&account.sid));
        assert_eq!(
            account.down_level_name(),
            format!("{}\\svc-aadc", lab.sim.netbios_name())
        );
    }
}

#[test]
fn names_from_another_forest_or_unknown_accounts_are_told_apart() {
    let lab = lab();
    let root = lab.client.root_dse().unwrap();
    let forest = lab.client.forest_domains(&root).unwrap();
    for name in [
        "FABRIKAM\\svc",
        "CN=svc,CN=Users,DC=fabrikam,DC=lab",
        "svc@fabrikam.lab",
    ] {
        let error = lab.client.resolve_account(name, &forest).unwrap_err();
        assert!(
            matches!(error.kind(), ErrorKind::NotInForest { .. }),
            "{name}: {error}"
        );
    }
    let error = lab
        .client
        .resolve_account(&format!("{}\\nobody", lab.sim.netbios_name()), &forest)
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::AccountNotFound { .. }),
        "{error}"
    );
}
