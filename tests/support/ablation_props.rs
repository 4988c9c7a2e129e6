//! Property-tested ablations: declare an invariant over the configuration space of an
//! ablation file's axes, let proptest draw configurations from the axes, and on a
//! failure get the *minimal* failing configuration proptest shrank it to.
//!
//! Each axis draws one of its listed values and shrinks toward the values listed first,
//! so list the simplest value (smallest model, fewest modalities) first. [`subsets`]
//! adds an axis whose value is any subset of a list (e.g. the modalities to drop), which
//! shrinks toward fewer elements.
//!
//! ```ignore
//! let spec = load_axes(Path::new("experiments/lr.ablation.yaml"));
//! check_invariant(&spec, 8, |c| if finite_loss(c) { Ok(()) } else { Err("NaN loss".into()) });
//! ```
use std::fmt;
use std::path::Path;

use plexus::ablate::AblationSpec;
use proptest::strategy::{BoxedStrategy, Strategy};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::Value;

/// One point of the configuration space: a value for every axis, in the spec's order.
#[derive(Debug, Clone, PartialEq)]
pub struct Configuration(pub Vec<(String, Value)>);

impl Configuration {
    /// `key=value` overrides for `plexus run`, as the ablation runner writes them.
    pub fn overrides(&self) -> Vec<String> {
        self.0.iter().map(|(k, v)| plexus::ablate::spec::axis_override(k, v)).collect()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl fmt::Display for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        write!(f, "{}", parts.join(", "))
    }
}

/// The ablation file's axes (validated against its base config, as `plexus ablate` does).
pub fn load_axes(file: &Path) -> AblationSpec {
    AblationSpec::load(file).unwrap_or_else(|e| panic!("{e}"))
}

/// Configurations drawn from the axes; each axis shrinks toward its first listed value.
pub fn configurations(spec: &AblationSpec) -> BoxedStrategy<Configuration> {
    axes_strategy(spec.axes.clone())
}

/// Like [`configurations`], plus an axis `key` whose value is any subset (in order) of
/// `items`; it shrinks toward the empty subset.
pub fn with_subsets(spec: &AblationSpec, key: &str, items: Vec<Value>) -> BoxedStrategy<Configuration> {
    let key = key.to_string();
    (axes_strategy(spec.axes.clone()), subsets(items))
        .prop_map(move |(mut c, subset)| {
            c.0.push((key.clone(), subset));
            c
        })
        .boxed()
}

/// Any subset of `items`, kept in order, as a JSON list.
pub fn subsets(items: Vec<Value>) -> BoxedStrategy<Value> {
    let n = items.len();
    proptest::sample::subsequence(items, 0..=n).prop_map(Value::Array).boxed()
}

fn axes_strategy(axes: Vec<(String, Vec<Value>)>) -> BoxedStrategy<Configuration> {
    let keys: Vec<String> = axes.iter().map(|(k, _)| k.clone()).collect();
    let values: Vec<BoxedStrategy<Value>> = axes.into_iter().map(|(_, vs)| proptest::sample::select(vs).boxed()).collect();
    values.prop_map(move |vs| Configuration(keys.iter().cloned().zip(vs).collect())).boxed()
}

/// Runs `invariant` on `cases` configurations (a fixed RNG, so a failure reproduces) and
/// returns the minimal failing configuration with its message, or `None` if all held.
pub fn find_counterexample(
    strategy: BoxedStrategy<Configuration>,
    cases: u32,
    invariant: impl Fn(&Configuration) -> Result<(), String>,
) -> Option<(Configuration, String)> {
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    match runner.run(&strategy, |c| invariant(&c).map_err(TestCaseError::fail)) {
        Ok(()) => None,
        Err(TestError::Fail(reason, minimal)) => Some((minimal, reason.to_string())),
        Err(TestError::Abort(reason)) => panic!("property test aborted: {reason}"),
    }
}

/// Panics with the minimal failing configuration when `invariant` does not hold.
pub fn check_invariant(strategy: BoxedStrategy<Configuration>, cases: u32, invariant: impl Fn(&Configuration) -> Result<(), String>) {
    if let Some((minimal, reason)) = find_counterexample(strategy, cases, invariant) {
        panic!("invariant fails; minimal failing configuration: {minimal}\n{reason}");
    }
}
