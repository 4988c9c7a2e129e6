//! The conformance kit on every module: default configs through the exported declaration
//! (as `plexus plugins --check` does), and a projector → causal LM configuration.
use plexus_generative::*;
use plexus_plugin::tch::{nn, Device};
use plexus_plugin::{conformance, Module};

#[test]
fn registered_modules_pass_with_default_configs() {
    let report = conformance::check_declaration(&plexus_generative::plexus_plugin_declaration);
    report.assert_ok();
    assert_eq!(report.components.len(), 3, "{report}");
    for c in &report.components {
        assert!(c.skipped.is_none(), "{c}");
        assert!(c.passed.len() >= 5, "{c}");
    }
}

#[test]
fn causal_lm_with_a_projected_prefix_passes() {
    let vs = nn::VarStore::new(Device::Cpu);
    let cfg = CausalLmConfig { vocab_size: 11, context_length: 9, width: 8, layers: 1, heads: 2, prefix_dim: Some(6), ..Default::default() };
    let lm = CausalLm::new(&vs.root(), &cfg).unwrap();
    let inputs = lm.example_inputs().unwrap();
    assert_eq!(inputs.get("prefix").unwrap().size()[2], 6);
    conformance::module("causal_lm", &lm, &inputs).assert_ok();
}

/// A module that panics on a misshapen input fails the kit (the check can fail).
struct Careless;
impl Module for Careless {
    fn forward(&self, inputs: &plexus_plugin::TensorMap, _train: bool) -> plexus_plugin::Result<plexus_plugin::TensorMap> {
        let x = inputs.get("x")?;
        let b = x.size()[0]; // panics on a scalar
        Ok(plexus_plugin::TensorMap::new().with("y", &x.view([b, -1])))
    }
}

#[test]
fn a_module_that_panics_on_bad_input_fails() {
    let x = plexus_plugin::tch::Tensor::randn([2, 3], (plexus_plugin::tch::Kind::Float, Device::Cpu));
    let report = conformance::module("careless", &Careless, &plexus_plugin::TensorMap::new().with("x", &x));
    assert!(!report.is_ok(), "{report}");
    assert!(report.to_string().contains("missing or misshapen"), "{report}");
}
