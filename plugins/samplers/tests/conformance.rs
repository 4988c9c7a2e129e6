//! The conformance kit on this plugin's samplers, directly and as registered.
use plexus_plugin::conformance;
use plexus_samplers::{Sequential, Shuffle};

#[test]
fn samplers_pass() {
    conformance::sampler("shuffle", &Shuffle).assert_ok();
    conformance::sampler("sequential", &Sequential).assert_ok();
}

#[test]
fn registered_components_pass_with_default_configs() {
    conformance::check_declaration(&plexus_samplers::plexus_plugin_declaration).assert_ok();
}
