//! The conformance kit on this plugin: the embedding metrics on the evaluation's inputs,
//! and every registered component with its default config (metrics that need inputs
//! the evaluation does not pass, e.g. token ids, are reported as not fully checked).
use plexus_metrics::{Retrieval, RetrievalConfig, ZeroShot, ZeroShotConfig};
use plexus_plugin::conformance;

#[test]
fn zero_shot_and_retrieval_pass() {
    let inputs = conformance::evaluation_inputs(12, 6, 2, 8);
    conformance::metric("zero_shot", &ZeroShot::new(&ZeroShotConfig::default()), &inputs).assert_ok();
    conformance::metric("retrieval", &Retrieval::new(&RetrievalConfig::default()).unwrap(), &inputs).assert_ok();
}

#[test]
fn registered_components_pass_with_default_configs() {
    let report = conformance::check_declaration(&plexus_metrics::plexus_plugin_declaration);
    report.assert_ok();
    let checked: Vec<&str> = report.components.iter().filter(|c| c.skipped.is_none()).map(|c| c.component.as_str()).collect();
    assert!(checked.contains(&"zero_shot") && checked.contains(&"retrieval"), "{report}");
}
