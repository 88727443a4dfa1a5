#[test]
fn scenario_table_on_samba() {
    super::run_table(devwb_e2e::Backend::Samba);
}
