use super::*;
use plexus_plugin::tch::{Device, Kind};
use crate::cpu_kernels::enabled;

/// libtorch's attention on the same packed input: `[B, L, 3W]` → `[B, L, W]`.
fn reference(qkv: &Tensor, heads: i64, causal: bool) -> Tensor {
    let (b, l, packed) = qkv.size3().unwrap();
    let w = packed / 3;
    let split = |t: &Tensor| t.view([b, l, heads, w / heads]).transpose(1, 2);
    let chunks = qkv.chunk(3, -1);
    let o = Tensor::scaled_dot_product_attention(&split(&chunks[0]), &split(&chunks[1]), &split(&chunks[2]), None::<Tensor>, 0.0, causal, None, false);
    o.transpose(1, 2).contiguous().view([b, l, w])
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// Output and input gradient of both implementations on one random problem.
fn compare(b: i64, l: i64, heads: i64, head_dim: i64, causal: bool) -> (f64, f64) {
    let w = heads * head_dim;
    let base = Tensor::randn([b, l, 3 * w], (Kind::Float, Device::Cpu));
    let upstream = Tensor::randn([b, l, w], (Kind::Float, Device::Cpu));
    let ours_in = base.copy().set_requires_grad(true);
    let theirs_in = base.copy().set_requires_grad(true);
    assert!(applies(&ours_in, heads), "the kernels should take {b}x{l}x{} with {heads} heads", 3 * w);
    let ours = attention(&ours_in, heads, causal).unwrap();
    let theirs = reference(&theirs_in, heads, causal);
    assert_eq!(ours.size(), vec![b, l, w]);
    (&ours * &upstream).sum(Kind::Float).backward();
    (&theirs * &upstream).sum(Kind::Float).backward();
    (max_abs_diff(&ours, &theirs), max_abs_diff(&ours_in.grad(), &theirs_in.grad()))
}

#[test]
fn matches_libtorch_attention_in_output_and_gradient() {
    if !enabled() {
        eprintln!("skipped: this CPU lacks AVX2/FMA or PLEXUS_CPU_KERNELS=libtorch");
        return;
    }
    for &(b, l, heads, head_dim, causal) in &[
        (4, 17, 3, 32, false), // the default ViT: 16 patches + class token
        (3, 16, 2, 32, true),  // the default text tower: causal
        (2, 1, 1, 8, false),   // a single position
        (2, 9, 4, 8, true),    // rows shorter than one vector
        (2, 64, 2, 16, false), // the longest sequence taken
        (2, 33, 1, 128, true), // the widest head taken
        (1, 24, 2, 40, false), // head width not a power of two
    ] {
        let (out, grad) = compare(b, l, heads, head_dim, causal);
        assert!(out < 1e-5, "{b}x{l}, {heads} heads of {head_dim}, causal {causal}: output differs by {out}");
        assert!(grad < 1e-4, "{b}x{l}, {heads} heads of {head_dim}, causal {causal}: gradient differs by {grad}");
    }
}

#[test]
fn a_causal_row_ignores_later_positions() {
    if !enabled() {
        return;
    }
    let qkv = Tensor::randn([2, 10, 3 * 16], (Kind::Float, Device::Cpu));
    let changed = qkv.copy();
    let _ = changed.narrow(1, 6, 4).fill_(7.0); // positions 6.. differ
    let a = attention(&qkv, 2, true).unwrap();
    let b = attention(&changed, 2, true).unwrap();
    assert_eq!(max_abs_diff(&a.narrow(1, 0, 6), &b.narrow(1, 0, 6)), 0.0);
    assert!(max_abs_diff(&a.narrow(1, 6, 4), &b.narrow(1, 6, 4)) > 0.1);
}

#[test]
fn shapes_outside_the_kernels_fall_back_and_direct_calls_say_why() {
    let f = (Kind::Float, Device::Cpu);
    assert!(!applies(&Tensor::zeros([2, 65, 96], f), 2), "longer than 64");
    assert!(!applies(&Tensor::zeros([2, 16, 36], f), 2), "head width 6");
    assert!(!applies(&Tensor::zeros([2, 16, 96], (Kind::Double, Device::Cpu)), 2), "float64");
    assert!(!applies(&Tensor::zeros([2, 16, 96], f), 5), "96 is not 3 x 5 x D");
    assert!(!applies(&Tensor::zeros([16, 96], f), 2), "not [B, L, 3W]");
    let err = attention(&Tensor::zeros([2, 16, 96], (Kind::Double, Device::Cpu)), 2, false).unwrap_err().to_string();
    assert!(err.contains("float32 CPU tensor"), "{err}");
    assert!(!err.contains("Exception raised from") && !err.contains("frame #"), "libtorch's C++ backtrace leaked into: {err}");
    let err = attention(&Tensor::zeros([2, 70, 96], f), 2, false).unwrap_err().to_string();
    assert!(err.contains("sequence length 70"), "{err}");
}

#[test]
fn a_non_contiguous_input_gives_the_same_result() {
    if !enabled() {
        return;
    }
    let wide = Tensor::randn([3, 17, 2 * 96], (Kind::Float, Device::Cpu));
    let view = wide.narrow(2, 0, 96); // strided rows
    let a = attention(&view, 1, false).unwrap();
    let b = attention(&view.contiguous(), 1, false).unwrap();
    assert_eq!(max_abs_diff(&a, &b), 0.0);
}

#[test]
fn a_create_graph_backward_is_refused_not_silently_wrong() {
    if !enabled() {
        return;
    }
    let x = Tensor::randn([2, 5, 3 * 16], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    let y = attention(&x, 2, false).unwrap().square().sum(Kind::Float);
    let err = Tensor::f_run_backward(&[y], &[&x], true, true).unwrap_err().to_string();
    assert!(err.contains("double backward"), "{err}");
    let y = attention(&x, 2, false).unwrap().square().sum(Kind::Float);
    assert!(Tensor::f_run_backward(&[y], &[&x], false, false).is_ok(), "a plain backward still works");
}
