//! The inner loops of the similarity passes (CSLS statistics, stochastic argmax), written so
//! that LLVM vectorises them, and compiled three times: for AVX-512, for AVX2 + FMA, and for
//! the baseline target (SSE2 on x86-64), the best one picked at run time. The release build
//! targets baseline x86-64, so without this dispatch these loops run 4 lanes wide while faer's
//! GEMM beside them runs 16; at a 5000-word cutoff they took as long as the GEMM itself.
//!
//! Every kernel computes exactly what the scalar loop it replaces did (same comparisons in
//! the same order per element, ties to the first index), so results are bit-identical across
//! instruction sets; the unit tests compare each against a scalar reference.

/// Lanes of the chunked loops (one AVX-512 register of f32).
const LANES: usize = 16;

/// Generates `pub fn $name` that calls `$generic` compiled for the best instruction set.
macro_rules! dispatch {
    ($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? => $generic:ident) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $generic($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $generic($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                {
                    // SAFETY: the CPU supports every feature the function is compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: as above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $generic($($arg),*)
        }
    };
}

/// Inserts `v` into the descending buffer `buf` if it beats the last entry (NaN never does).
#[inline(always)]
pub fn insert_desc(buf: &mut [f32], v: f32) {
    let k = buf.len();
    if k == 0 || v.is_nan() || v <= buf[k - 1] {
        return;
    }
    let mut p = k - 1;
    while p > 0 && buf[p - 1] < v {
        buf[p] = buf[p - 1];
        p -= 1;
    }
    buf[p] = v;
}

#[inline(always)]
fn row_topk_generic(row: &[f32], buf: &mut [f32]) {
    let Some(&last) = buf.last() else { return };
    let mut thr = last;
    let mut chunks = row.chunks_exact(LANES);
    for chunk in &mut chunks {
        let mut hit = false;
        for &v in chunk {
            hit |= v > thr;
        }
        if hit {
            for &v in chunk {
                insert_desc(buf, v);
            }
            thr = buf[buf.len() - 1];
        }
    }
    for &v in chunks.remainder() {
        insert_desc(buf, v);
    }
}

dispatch! {
    /// Folds `row` into the descending top-k buffer `buf` (`insert_desc` on every value; a
    /// chunk is only visited element by element when one of its values beats the k-th best).
    pub fn row_topk_into(row: &[f32], buf: &mut [f32]) => row_topk_generic
}

#[inline(always)]
fn column_topk_generic(row: &[f32], kth: &mut [f32], bufs: &mut [f32], kk: usize) {
    let n = row.len().min(kth.len());
    let (row, kth) = (&row[..n], &mut kth[..n]);
    let full = n / LANES * LANES;
    let mut insert = |j: usize, v: f32, kth: &mut f32| {
        let b = &mut bufs[j * kk..(j + 1) * kk];
        insert_desc(b, v);
        *kth = b[kk - 1];
    };
    for (c, (vs, ks)) in row[..full]
        .chunks_exact(LANES)
        .zip(kth[..full].chunks_exact_mut(LANES))
        .enumerate()
    {
        let mut hit = false;
        for l in 0..LANES {
            hit |= vs[l] > ks[l];
        }
        if hit {
            for l in 0..LANES {
                if vs[l] > ks[l] {
                    insert(c * LANES + l, vs[l], &mut ks[l]);
                }
            }
        }
    }
    for j in full..n {
        if row[j] > kth[j] {
            insert(j, row[j], &mut kth[j]);
        }
    }
}

dispatch! {
    /// Folds one row into per-column top-k buffers: column j's descending buffer is
    /// `bufs[j*kk..(j+1)*kk]` and `kth[j]` mirrors its last entry (the value to beat), kept
    /// contiguous so that the comparison runs on whole registers.
    pub fn column_topk_update(row: &[f32], kth: &mut [f32], bufs: &mut [f32], kk: usize)
        => column_topk_generic
}

/// SplitMix64's finaliser: the counter-based generator of the dropout masks.
#[inline(always)]
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[inline(always)]
fn fill_bits_generic(row_key: u64, first_col: usize, out: &mut [u16]) {
    let q0 = first_col / 4;
    // Hashes first (a loop LLVM vectorises), then each spread over four columns.
    const BLOCK: usize = 64;
    let mut hashes = [0u64; BLOCK];
    for (b, cols) in out.chunks_mut(4 * BLOCK).enumerate() {
        let nq = cols.len().div_ceil(4);
        let base = q0 + b * BLOCK;
        for (q, h) in hashes[..nq].iter_mut().enumerate() {
            *h = mix(row_key ^ (base + q) as u64);
        }
        let mut four = cols.chunks_exact_mut(4);
        for (o, &h) in (&mut four).zip(&hashes) {
            o[0] = h as u16;
            o[1] = (h >> 16) as u16;
            o[2] = (h >> 32) as u16;
            o[3] = (h >> 48) as u16;
        }
        let rest = four.into_remainder();
        let h = hashes[nq - 1];
        for (l, o) in rest.iter_mut().enumerate() {
            *o = (h >> (16 * l)) as u16;
        }
    }
}

dispatch! {
    /// The 16 random bits of columns `first_col..first_col + out.len()` of one mask row:
    /// column c takes bits `16 (c mod 4)..` of `mix(row_key ^ c / 4)`. `first_col` must be a
    /// multiple of 4.
    pub fn fill_bits(row_key: u64, first_col: usize, out: &mut [u16]) => fill_bits_generic
}

/// The dropout of one pass: column c of a row is kept when its bits are below `threshold`
/// (`round(keep_prob · 65536)`); `bits` is `None` without dropout.
#[derive(Clone, Copy)]
pub struct Dropout<'a> {
    /// The row's mask bits (see [`fill_bits`]), or `None` when every entry is kept.
    pub bits: Option<&'a [u16]>,
    /// Keep threshold.
    pub threshold: u32,
}

#[inline(always)]
fn keep_or_zero(sc: f32, bits: u16, threshold: u32) -> f32 {
    if u32::from(bits) < threshold { sc } else { 0.0 }
}

#[inline(always)]
fn row_argmax_generic(row: &[f32], half: &[f32], drop: Dropout<'_>) -> usize {
    let n = row.len().min(half.len());
    let mut best = [f32::NEG_INFINITY; LANES];
    let mut arg = [0u32; LANES];
    let full = n / LANES * LANES;
    let mut c0 = 0;
    while c0 < full {
        let (vs, hs) = (&row[c0..c0 + LANES], &half[c0..c0 + LANES]);
        let mut sc = [0.0f32; LANES];
        for l in 0..LANES {
            sc[l] = vs[l] - hs[l];
        }
        if let Some(bits) = drop.bits {
            let bs = &bits[c0..c0 + LANES];
            for l in 0..LANES {
                sc[l] = keep_or_zero(sc[l], bs[l], drop.threshold);
            }
        }
        for l in 0..LANES {
            let better = sc[l] > best[l];
            best[l] = if better { sc[l] } else { best[l] };
            arg[l] = if better { (c0 + l) as u32 } else { arg[l] };
        }
        c0 += LANES;
    }
    // Lane winners, then the tail in order: the first index of the maximum wins, as in a
    // scalar left-to-right argmax with `>`.
    let mut b = f32::NEG_INFINITY;
    let mut a = 0usize;
    for l in 0..LANES {
        if best[l] > b || (best[l] == b && (arg[l] as usize) < a && best[l] > f32::NEG_INFINITY) {
            b = best[l];
            a = arg[l] as usize;
        }
    }
    for j in full..n {
        let mut sc = row[j] - half[j];
        if let Some(bits) = drop.bits {
            sc = keep_or_zero(sc, bits[j], drop.threshold);
        }
        if sc > b {
            b = sc;
            a = j;
        }
    }
    a
}

dispatch! {
    /// `argmax_j drop(row[j] − half[j])`, the first index on ties (0 when nothing beats −∞).
    pub fn row_argmax(row: &[f32], half: &[f32], drop: Dropout<'_>) -> usize => row_argmax_generic
}

#[inline(always)]
fn column_argmax_generic(
    row: &[f32],
    half: f32,
    drop: Dropout<'_>,
    best: &mut [f32],
    arg: &mut [u32],
    row_index: u32,
) {
    let n = row.len().min(best.len()).min(arg.len());
    let (row, best, arg) = (&row[..n], &mut best[..n], &mut arg[..n]);
    let mut step = |j: usize, sc: f32| {
        let better = sc > best[j];
        best[j] = if better { sc } else { best[j] };
        arg[j] = if better { row_index } else { arg[j] };
    };
    // Two loops rather than a per-element `Option` test, so each vectorises on its own.
    match drop.bits {
        None => (0..n).for_each(|j| step(j, row[j] - half)),
        Some(bits) => {
            let bits = &bits[..n];
            (0..n).for_each(|j| step(j, keep_or_zero(row[j] - half, bits[j], drop.threshold)));
        }
    }
}

dispatch! {
    /// One row's step of a column-wise argmax: column j takes `row_index` when
    /// `drop(row[j] − half)` beats `best[j]` (rows visited in order, so the first wins ties).
    pub fn column_argmax(
        row: &[f32],
        half: f32,
        drop: Dropout<'_>,
        best: &mut [f32],
        arg: &mut [u32],
        row_index: u32,
    ) => column_argmax_generic
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        // Coarse values so that ties occur.
        (0..n)
            .map(|i| ((mix(seed ^ i as u64) % 23) as f32 - 11.0) / 4.0)
            .collect()
    }

    fn bits_scalar(row_key: u64, cols: std::ops::Range<usize>) -> Vec<u16> {
        cols.map(|c| (mix(row_key ^ (c as u64 >> 2)) >> (16 * (c & 3))) as u16)
            .collect()
    }

    #[test]
    fn fill_bits_matches_the_per_column_formula() {
        for (first, n) in [(0, 37), (512, 512), (8, 3)] {
            let mut out = vec![0u16; n];
            fill_bits(99, first, &mut out);
            assert_eq!(out, bits_scalar(99, first..first + n));
        }
    }

    #[test]
    fn row_argmax_equals_a_scalar_scan_with_and_without_dropout() {
        for n in [1, 15, 16, 17, 100, 1000] {
            let row = values(n, 1);
            let half = values(n, 2);
            let bits = bits_scalar(5, 0..n);
            for threshold in [0u32, 20000, 65536] {
                for with_bits in [false, true] {
                    let drop = Dropout {
                        bits: with_bits.then_some(&bits[..]),
                        threshold,
                    };
                    let mut best = f32::NEG_INFINITY;
                    let mut want = 0;
                    for j in 0..n {
                        let mut sc = row[j] - half[j];
                        if with_bits && u32::from(bits[j]) >= threshold {
                            sc = 0.0;
                        }
                        if sc > best {
                            best = sc;
                            want = j;
                        }
                    }
                    assert_eq!(row_argmax(&row, &half, drop), want, "n {n} thr {threshold}");
                }
            }
        }
    }

    #[test]
    fn column_argmax_keeps_the_first_row_on_ties() {
        let rows: Vec<Vec<f32>> = (0..7).map(|r| values(40, r)).collect();
        let bits = bits_scalar(3, 0..40);
        let drop = Dropout {
            bits: Some(&bits),
            threshold: 30000,
        };
        let mut best = vec![f32::NEG_INFINITY; 40];
        let mut arg = vec![0u32; 40];
        for (r, row) in rows.iter().enumerate() {
            column_argmax(row, 0.25, drop, &mut best, &mut arg, r as u32);
        }
        for j in 0..40 {
            let mut b = f32::NEG_INFINITY;
            let mut a = 0;
            for (r, row) in rows.iter().enumerate() {
                let sc = if u32::from(bits[j]) < 30000 {
                    row[j] - 0.25
                } else {
                    0.0
                };
                if sc > b {
                    b = sc;
                    a = r as u32;
                }
            }
            assert_eq!((arg[j], best[j]), (a, b), "column {j}");
        }
    }

    #[test]
    fn topk_kernels_equal_insertion_into_sorted_buffers() {
        let k = 4;
        let rows: Vec<Vec<f32>> = (0..9).map(|r| values(53, r + 10)).collect();
        let mut kth = vec![f32::NEG_INFINITY; 53];
        let mut bufs = vec![f32::NEG_INFINITY; 53 * k];
        let mut want = vec![f32::NEG_INFINITY; 53 * k];
        for row in &rows {
            column_topk_update(row, &mut kth, &mut bufs, k);
            for (j, &v) in row.iter().enumerate() {
                insert_desc(&mut want[j * k..(j + 1) * k], v);
            }
            let mut got = vec![f32::NEG_INFINITY; k];
            row_topk_into(row, &mut got);
            let mut exp = vec![f32::NEG_INFINITY; k];
            for &v in row {
                insert_desc(&mut exp, v);
            }
            assert_eq!(got, exp);
        }
        assert_eq!(bufs, want);
        for j in 0..53 {
            assert_eq!(kth[j], want[j * k + k - 1]);
        }
    }
}
