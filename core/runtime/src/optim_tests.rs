//! The optimisers against hand computation, and the threaded and flat-moment paths
//! against the one-thread, per-parameter ones.
use super::*;
use tch::Device;

fn settings(kind: OptimizerKind) -> OptimSettings {
    OptimSettings { kind, weight_decay: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, momentum: 0.9, nesterov: false }
}

/// One AdamW step on w = [[1, 2]] with grad [[0.5, -1]], checked by hand:
/// m̂ = g, v̂ = g², so the update is lr·sign(g) (up to eps) after decay.
#[test]
fn adamw_first_step_matches_hand_computation() {
    let vs = nn::VarStore::new(Device::Cpu);
    let w = vs.root().var_copy("w", &Tensor::from_slice2(&[[1.0f32, 2.0]]));
    let mut opt = Optimizer::new(&vs, settings(OptimizerKind::Adamw));
    (&w * Tensor::from_slice2(&[[0.5f32, -1.0]])).sum(Kind::Float).backward();
    opt.step(0.01);
    let got: Vec<f32> = Vec::try_from(w.view([-1])).unwrap();
    let expect = [1.0 * (1.0 - 0.001) - 0.01, 2.0 * (1.0 - 0.001) + 0.01];
    for (g, e) in got.iter().zip(expect) {
        assert!((*g as f64 - e).abs() < 1e-6, "{got:?} vs {expect:?}");
    }
}

/// Parameters of several sizes, one frozen, with fixed gradients. Values come from a
/// formula, not the global generator: tests run in parallel and draw from it too.
fn toy_problem(kind: OptimizerKind) -> (nn::VarStore, Optimizer) {
    let vs = nn::VarStore::new(Device::Cpu);
    for (i, shape) in [vec![7, 5], vec![5], vec![300, 4], vec![1], vec![3, 3, 2]].into_iter().enumerate() {
        let n: i64 = shape.iter().product();
        let ramp = Tensor::arange(n, (Kind::Float, Device::Cpu)) + i as f64;
        let w = vs.root().var_copy(&format!("p{i}"), &(&ramp * 0.37).sin().view(&shape[..]));
        (&w * (&ramp * 1.3).cos().view(&shape[..])).sum(Kind::Float).backward();
    }
    let mut opt = Optimizer::new(&vs, settings(kind));
    opt.set_frozen("p3", true);
    (vs, opt)
}

#[test]
fn a_step_on_threads_is_the_one_thread_step_bit_for_bit() {
    for kind in [OptimizerKind::Adamw, OptimizerKind::Sgd] {
        let (one_vs, mut one) = toy_problem(kind);
        let (split_vs, mut split) = toy_problem(kind);
        for step in 0..3 {
            one.step(0.01);
            split.step_on_threads(0.01, 3);
            for ((name, a), (_, b)) in sorted(&one_vs).iter().zip(sorted(&split_vs)) {
                assert!(a.equal(&b), "{kind:?} step {step}: {name} differs");
            }
            for ((name, a), (_, b)) in one.state().iter().zip(split.state()) {
                assert!(a.equal(&b), "{kind:?} step {step}: {name} differs");
            }
        }
    }
}

#[test]
fn adamw_over_flat_moments_matches_the_per_parameter_update() {
    let (flat_vs, mut flat) = toy_problem(OptimizerKind::Adamw);
    let (per_vs, mut per) = toy_problem(OptimizerKind::Adamw);
    let before = sorted(&flat_vs).into_iter().map(|(_, t)| t.copy()).collect::<Vec<_>>();
    let s = settings(OptimizerKind::Adamw);
    let _guard = tch::no_grad_guard();
    for (step, t) in [1.0, 2.0, 3.0].into_iter().enumerate() {
        let mut run: Vec<&mut Param> = flat.params.iter_mut().collect();
        let moments = moments_of(&run, flat.flat.as_ref().unwrap());
        assert!(moments.is_some(), "neighbouring parameters make one run");
        update_group(&mut run, moments, &s, t, 0.01);
        let mut each: Vec<&mut Param> = per.params.iter_mut().collect();
        update_group(&mut each, None, &s, t, 0.01);
        for (((name, a), (_, b)), start) in sorted(&flat_vs).iter().zip(sorted(&per_vs)).zip(&before) {
            let diff = (a - &b).abs().max().double_value(&[]);
            assert!(diff <= 1e-7, "step {step}: {name} differs by {diff}");
            assert!(!a.equal(start), "step {step}: {name} did not move");
        }
    }
}

#[test]
fn a_frozen_parameter_breaks_the_run_of_flat_moments() {
    let (_vs, mut opt) = toy_problem(OptimizerKind::Adamw); // p3 is frozen
    let flat = opt.flat.as_ref().unwrap().0.shallow_clone();
    let live: Vec<&mut Param> = opt.params.iter_mut().filter(|p| !p.frozen).collect();
    assert!(moments_of(&live, &(flat.shallow_clone(), flat.shallow_clone())).is_none());
    let (first, _) = moments_of(&live[..3], &(flat.shallow_clone(), flat.shallow_clone())).unwrap();
    assert_eq!(first.size(), [35 + 5 + 1200]);
}

fn sorted(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
    let mut vars: Vec<_> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

#[test]
fn balanced_groups_cover_every_parameter_once() {
    assert_eq!(balanced_groups(&[35, 5, 1200, 1, 18], 3), vec![3, 2]);
    assert_eq!(balanced_groups(&[10, 10, 10, 10], 2), vec![2, 2]);
    assert_eq!(balanced_groups(&[10, 10, 10], 8), vec![1, 1, 1]);
    assert_eq!(balanced_groups(&[], 2), Vec::<usize>::new());
    assert_eq!(balanced_groups(&[4, 4], 1), vec![2]);
}

#[test]
fn frozen_parameters_do_not_move_and_state_round_trips() {
    let vs = nn::VarStore::new(Device::Cpu);
    let a = (vs.root() / "a").var_copy("w", &Tensor::ones([2, 2], (Kind::Float, Device::Cpu)));
    let b = (vs.root() / "b").var_copy("w", &Tensor::ones([2, 2], (Kind::Float, Device::Cpu)));
    let mut opt = Optimizer::new(&vs, settings(OptimizerKind::Sgd));
    assert_eq!(opt.set_frozen("a.", true), 1);
    (&a.sum(Kind::Float) + b.sum(Kind::Float)).backward();
    opt.step(0.1);
    assert_eq!(a.double_value(&[0, 0]), 1.0);
    assert!(b.double_value(&[0, 0]) < 1.0);
    let state: HashMap<String, Tensor> = opt.state().into_iter().map(|(k, t)| (k, t.copy())).collect();
    let mut fresh = Optimizer::new(&vs, settings(OptimizerKind::Sgd));
    fresh.load_state(&state, "test").unwrap();
    assert_eq!(fresh.steps(), 1);
    let mut broken: HashMap<String, Tensor> = state.iter().map(|(k, t)| (k.clone(), t.shallow_clone())).collect();
    broken.remove("optim.first.b.w");
    let err = fresh.load_state(&broken, "ckpt.safetensors").unwrap_err().to_string();
    assert!(err.contains("ckpt.safetensors") && err.contains("optim.first.b.w"), "{err}");
}
