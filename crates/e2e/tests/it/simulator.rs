#[test]
fn scenario_table_on_the_simulator() {
    super::run_table(devwb_e2e::Backend::Simulator);
}
