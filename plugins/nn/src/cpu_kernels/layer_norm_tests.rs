use super::*;
use plexus_plugin::tch::{Device, Kind};

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// Output and the three gradients of ours and libtorch's on `x` of `shape`.
fn compare(x: &Tensor) -> [f64; 4] {
    let width = *x.size().last().unwrap();
    let f = (Kind::Float, Device::Cpu);
    let (weight, bias) = (Tensor::randn([width], f) + 1.0, Tensor::randn([width], f));
    let upstream = Tensor::randn(x.size(), f);
    let run = |ours: bool| {
        let (x, w, b) = (x.copy().set_requires_grad(true), weight.copy().set_requires_grad(true), bias.copy().set_requires_grad(true));
        let y = if ours { layer_norm(&x, &w, &b, 1e-5) } else { x.layer_norm([width], Some(&w), Some(&b), 1e-5, true) };
        (&y * &upstream).sum(Kind::Float).backward();
        [y.detach(), x.grad(), w.grad(), b.grad()]
    };
    let (ours, theirs) = (run(true), run(false));
    std::array::from_fn(|i| max_abs_diff(&ours[i], &theirs[i]))
}

#[test]
fn matches_libtorch_layer_norm_in_output_and_gradients() {
    if !super::super::enabled() {
        eprintln!("skipped: this CPU lacks AVX2/FMA or PLEXUS_CPU_KERNELS=libtorch");
        return;
    }
    let f = (Kind::Float, Device::Cpu);
    let shapes: [&[i64]; 4] = [&[3, 17, 96], &[5, 64], &[300, 16], &[2, 3, 4, 8]]; // 300 rows: three gradient blocks
    for shape in shapes {
        let x = Tensor::randn(shape, f) * 3.0 + 0.5;
        let [y, dx, dw, db] = compare(&x);
        assert!(y < 1e-5 && dx < 1e-4, "{shape:?}: output differs by {y}, input gradient by {dx}");
        assert!(dw < 1e-3 && db < 1e-3, "{shape:?}: weight gradient differs by {dw}, bias gradient by {db}");
    }
    // A constant row: σ = 0, normalised to zero rather than NaN.
    let [y, dx, dw, db] = compare(&Tensor::ones([4, 32], f));
    assert!(y < 1e-5 && dx < 1e-2 && dw < 1e-4 && db < 1e-4, "constant rows: {y} {dx} {dw} {db}");
}

#[test]
fn weight_gradients_do_not_depend_on_the_thread_count() {
    if !super::super::enabled() {
        return;
    }
    let f = (Kind::Float, Device::Cpu);
    let x = Tensor::randn([1000, 64], f);
    let (w, b) = (Tensor::ones([64], f).set_requires_grad(true), Tensor::zeros([64], f).set_requires_grad(true));
    let grads = |threads: i32| {
        let before = plexus_plugin::tch::get_num_threads();
        plexus_plugin::tch::set_num_threads(threads);
        let _ = (w.grad().defined()).then(|| w.grad().zero_());
        let _ = (b.grad().defined()).then(|| b.grad().zero_());
        layer_norm(&x, &w, &b, 1e-5).square().sum(Kind::Float).backward();
        plexus_plugin::tch::set_num_threads(before);
        (w.grad().copy(), b.grad().copy())
    };
    let (one, two) = (grads(1), grads(2));
    assert_eq!(max_abs_diff(&one.0, &two.0), 0.0);
    assert_eq!(max_abs_diff(&one.1, &two.1), 0.0);
}

#[test]
fn other_dtypes_and_widths_give_libtorch_results() {
    let d = (Kind::Double, Device::Cpu);
    let x = Tensor::randn([4, 16], d);
    let (w, b) = (Tensor::ones([16], d), Tensor::zeros([16], d));
    assert_eq!(max_abs_diff(&layer_norm(&x, &w, &b, 1e-5), &x.layer_norm([16], Some(&w), Some(&b), 1e-5, true)), 0.0);
    let f = (Kind::Float, Device::Cpu);
    let x = Tensor::randn([4, 12], f); // width not a multiple of 8
    let (w, b) = (Tensor::ones([12], f), Tensor::zeros([12], f));
    assert_eq!(max_abs_diff(&layer_norm(&x, &w, &b, 1e-5), &x.layer_norm([12], Some(&w), Some(&b), 1e-5, true)), 0.0);
}
