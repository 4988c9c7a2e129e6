//! The checks for masking schedules.
use tch::{Device, Kind as DType, Tensor};

use super::{call, Report};
use crate::{Kind, Masking, MaskingContext, Modality, Presence};

/// Presence maps of `batch` examples for the first `modalities` modalities; example `b`
/// has modality `i` unless bit `i` of `b % 16` is clear, and example 0 has none.
fn patterns(modalities: usize, batch: i64) -> Presence {
    Modality::ALL[..modalities]
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let bits: Vec<bool> = (0..batch).map(|b| b != 0 && ((b % 16) >> i) & 1 == 1 || b >= 16).collect();
            (*m, Tensor::from_slice(&bits))
        })
        .collect()
}

/// Masking schedule. Checks, over several training positions and presence patterns: the
/// same modalities and `[B]` bool shapes come back; nothing absent becomes present; no
/// example that had a modality loses all of them; the same context gives the same masks;
/// presence of the wrong shape is refused with an error.
pub fn masking(name: &str, masking: &dyn Masking) -> Report {
    let mut r = Report::new(Kind::Masking, name);
    let contexts: Vec<MaskingContext> =
        [(0, 0.0), (3, 0.25), (17, 0.5), (40, 0.9), (63, 1.0)].iter().map(|&(step, progress)| MaskingContext::new(step / 16, 4, step, progress, 11)).collect();
    r.step("subset of the given presence, never empties an example, reproducible", || {
        for ctx in &contexts {
            for modalities in 1..=Modality::ALL.len() {
                let given = patterns(modalities, 24);
                let out = call(|| masking.mask(ctx, &given)).ok().map_err(|e| format!("{ctx:?}: {e}"))?;
                if out.keys().ne(given.keys()) {
                    return Err(format!("returned modalities {:?} for {:?}", out.keys().collect::<Vec<_>>(), given.keys().collect::<Vec<_>>()));
                }
                let stack = |p: &Presence| Tensor::stack(&p.values().map(|t| t.to_kind(DType::Int64)).collect::<Vec<_>>(), 1); // [B, M]
                for (m, t) in &out {
                    if t.size() != [24] || t.kind() != DType::Bool || t.device() != Device::Cpu {
                        return Err(format!("`{m}` mask is {:?} {:?}, expected [24] Bool", t.size(), t.kind()));
                    }
                }
                let (before, after) = (stack(&given), stack(&out));
                if after.gt_tensor(&before).any().int64_value(&[]) != 0 {
                    return Err(format!("made an absent modality present ({ctx:?})"));
                }
                let emptied = before.sum_dim_intlist(1, false, DType::Int64).gt(0).logical_and(&after.sum_dim_intlist(1, false, DType::Int64).eq(0));
                if emptied.any().int64_value(&[]) != 0 {
                    return Err(format!("removed every modality of an example ({ctx:?}, {modalities} modalities)"));
                }
                let again = call(|| masking.mask(ctx, &given)).ok()?;
                if !stack(&again).equal(&after) {
                    return Err(format!("two calls with the same context gave different masks ({ctx:?})"));
                }
            }
        }
        Ok(())
    });
    r.step("presence of the wrong shape is an error", || {
        let mut bad = patterns(2, 4);
        bad.insert(Modality::Image, Tensor::ones([3], (DType::Bool, Device::Cpu)));
        call(|| masking.mask(&contexts[0], &bad)).must_fail("masks of different lengths")?;
        let float: Presence = patterns(2, 4).into_iter().map(|(m, t)| (m, t.to_kind(DType::Float))).collect();
        call(|| masking.mask(&contexts[0], &float)).must_fail("float masks")
    });
    r
}
