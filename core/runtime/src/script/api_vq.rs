//! Helpers for VQ video tokenizers and masked token modelling (VideoBERT):
//! `psnr(reconstruction, target, data_range)` → mean per-example PSNR in dB;
//! `token_mask(ids, p[, pad_id])` → `[B, L]` bool, each position true with probability
//! `p` (never at `pad_id`), drawn from the run's seeded libtorch generator;
//! `masked_accuracy(logits, targets, mask)` → `#{correct, total}` over the true positions;
//! `tile_rows(x, n)` → `x` stacked `n` times along dim 0; `roll_rows(x, k)` → row i is
//! row (i - k) mod B (e.g. mismatched caption/video pairs); `randperm(n)` → a seeded
//! random order of `0..n` (i64) and `take_rows(x, order)` → those rows of `x`, for
//! shuffling pre-computed token tensors per epoch; `most_frequent(ids)` → the most
//! frequent id, `most_frequent(ids, ignore)` leaving `ignore` (e.g. padding) aside (a
//! majority-class baseline).
use rhai::{Engine, Map};
use tch::{Kind, Tensor};

use super::api_tensor::TensorValue;
use super::convert::{rt, RhaiResult};
use super::Shared;

fn torch<T>(what: &str, r: Result<T, tch::TchError>) -> RhaiResult<T> {
    r.map_err(|e| rt(format!("{what}: {}", e.to_string().lines().next().unwrap_or("libtorch error"))))
}

/// reconstruction, target `[B, ..]` → mean over examples of `10 log10(range² / MSE)`.
fn psnr(reconstruction: &Tensor, target: &Tensor, data_range: f64) -> RhaiResult<f64> {
    if reconstruction.size() != target.size() || reconstruction.dim() < 2 {
        return Err(rt(format!("psnr: reconstruction {:?} and target {:?} must have the same [B, ..] shape", reconstruction.size(), target.size())));
    }
    if !(data_range > 0.0) {
        return Err(rt(format!("psnr: data_range must be > 0, got {data_range}")));
    }
    let b = target.size()[0];
    let diff = torch("psnr", reconstruction.to_kind(Kind::Float).f_sub(&target.to_kind(Kind::Float)))?;
    let mse = diff.square().reshape([b, -1]).mean_dim(1, false, Kind::Float).clamp_min(1e-12); // [B]
    Ok(((mse.reciprocal() * (data_range * data_range)).log10() * 10.0).mean(Kind::Float).double_value(&[]))
}

fn token_mask(ids: &Tensor, p: f64, pad: Option<i64>) -> RhaiResult<TensorValue> {
    if !(0.0..=1.0).contains(&p) || ids.dim() != 2 {
        return Err(rt(format!("token_mask: needs [B, L] ids and p in [0, 1], got {:?} and {p}", ids.size())));
    }
    let drawn = Tensor::rand(ids.size(), (Kind::Float, ids.device())).lt(p); // [B, L]
    Ok(TensorValue(match pad {
        Some(pad) => drawn.logical_and(&ids.ne(pad)),
        None => drawn,
    }))
}

fn masked_accuracy(logits: &Tensor, targets: &Tensor, mask: &Tensor) -> RhaiResult<Map> {
    let size = logits.size();
    if size.len() != 3 || targets.size() != size[..2] || mask.size() != size[..2] {
        return Err(rt(format!(
            "masked_accuracy: needs logits [B, L, V] with targets and mask [B, L], got {size:?}, {:?}, {:?}",
            targets.size(),
            mask.size()
        )));
    }
    let scored = mask.ne(0);
    let hits = logits.argmax(-1, false).eq_tensor(&targets.to_kind(Kind::Int64)).logical_and(&scored);
    let mut out = Map::new();
    out.insert("correct".into(), (hits.sum(Kind::Int64).int64_value(&[])).into());
    out.insert("total".into(), (scored.sum(Kind::Int64).int64_value(&[])).into());
    Ok(out)
}

fn most_frequent(ids: &Tensor, ignore: Option<i64>) -> RhaiResult<i64> {
    let flat = ids.reshape([-1]).to_kind(Kind::Int64);
    if flat.numel() == 0 || ids.is_floating_point() || flat.min().int64_value(&[]) < 0 {
        return Err(rt(format!("most_frequent: needs non-empty non-negative integer ids, got {:?}", ids.size())));
    }
    let counts = flat.bincount::<Tensor>(None, 0); // [max id + 1]
    if let Some(id) = ignore.filter(|&id| id >= 0 && id < counts.size()[0]) {
        let _ = counts.get(id).fill_(0);
    }
    Ok(counts.argmax(0, false).int64_value(&[]))
}

pub fn register(engine: &mut Engine, _session: &Shared) {
    engine
        .register_fn("psnr", |r: TensorValue, t: TensorValue, range: f64| psnr(&r.0, &t.0, range))
        .register_fn("psnr", |r: TensorValue, t: TensorValue, range: i64| psnr(&r.0, &t.0, range as f64))
        .register_fn("token_mask", |ids: TensorValue, p: f64| token_mask(&ids.0, p, None))
        .register_fn("token_mask", |ids: TensorValue, p: f64, pad: i64| token_mask(&ids.0, p, Some(pad)))
        .register_fn("masked_accuracy", |l: TensorValue, t: TensorValue, m: TensorValue| masked_accuracy(&l.0, &t.0, &m.0))
        .register_fn("tile_rows", |x: TensorValue, n: i64| -> RhaiResult<TensorValue> {
            if n < 1 || x.0.dim() < 1 {
                return Err(rt(format!("tile_rows: needs a tensor with a first dimension and n >= 1, got {:?} and {n}", x.0.size())));
            }
            let mut reps = vec![1i64; x.0.dim()];
            reps[0] = n;
            torch("tile_rows", x.0.f_repeat(reps.as_slice())).map(TensorValue)
        })
        .register_fn("randperm", |n: i64| -> RhaiResult<TensorValue> {
            if n < 1 {
                return Err(rt(format!("randperm: n must be >= 1, got {n}")));
            }
            Ok(TensorValue(Tensor::randperm(n, (Kind::Int64, tch::Device::Cpu))))
        })
        .register_fn("take_rows", |x: TensorValue, order: TensorValue| -> RhaiResult<TensorValue> {
            let order = order.0.to_kind(Kind::Int64).to_device(x.0.device());
            torch("take_rows", x.0.f_index_select(0, &order)).map(TensorValue)
        })
        .register_fn("most_frequent", |ids: TensorValue| most_frequent(&ids.0, None))
        .register_fn("most_frequent", |ids: TensorValue, ignore: i64| most_frequent(&ids.0, Some(ignore)))
        .register_fn("roll_rows", |x: TensorValue, k: i64| -> RhaiResult<TensorValue> {
            if x.0.dim() < 1 {
                return Err(rt("roll_rows: needs a tensor with a first dimension, got a scalar"));
            }
            torch("roll_rows", x.0.f_roll([k], [0])).map(TensorValue)
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psnr_matches_its_formula() {
        // example 0: MSE 0.01 → 10 log10(4 / 0.01) = 26.02 dB; example 1: MSE 1 → 6.02 dB
        let target = Tensor::zeros([2, 4], (Kind::Float, tch::Device::Cpu));
        let recon = Tensor::from_slice(&[0.1f32, -0.1, 0.1, -0.1, 1.0, 1.0, -1.0, 1.0]).view([2, 4]);
        let expected = (10.0 * (4.0f64 / 0.01).log10() + 10.0 * 4.0f64.log10()) / 2.0;
        assert!((psnr(&recon, &target, 2.0).unwrap() - expected).abs() < 1e-4);
        assert!(psnr(&recon, &target.narrow(1, 0, 3), 2.0).unwrap_err().to_string().contains("same [B, ..] shape"));
    }

    #[test]
    fn token_mask_rate_and_padding() {
        tch::manual_seed(0);
        let ids = Tensor::from_slice(&[3i64, 4, 0, 0]).view([1, 4]).repeat([500, 1]);
        let mask = token_mask(&ids, 0.15, Some(0)).unwrap().0;
        assert_eq!(mask.narrow(1, 2, 2).sum(Kind::Int64).int64_value(&[]), 0, "padding is never masked");
        let rate = mask.narrow(1, 0, 2).to_kind(Kind::Float).mean(Kind::Float).double_value(&[]);
        assert!((rate - 0.15).abs() < 0.03, "rate {rate}");
    }

    #[test]
    fn masked_accuracy_counts_only_masked_positions() {
        // argmax per position: 1, 0, 1; targets 1, 1, 0; only positions 0 and 1 masked
        let logits = Tensor::from_slice(&[0f32, 1.0, 1.0, 0.0, 0.0, 1.0]).view([1, 3, 2]);
        let out = masked_accuracy(&logits, &Tensor::from_slice(&[1i64, 1, 0]).view([1, 3]), &Tensor::from_slice(&[true, true, false]).view([1, 3])).unwrap();
        assert_eq!((out["correct"].as_int().unwrap(), out["total"].as_int().unwrap()), (1, 2));
    }
}
