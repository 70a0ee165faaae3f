//! The random numbers of `numpy.random.default_rng(seed)` (numpy >= 1.17, checked against
//! numpy 2.4), bit for bit, for the parts sacrebleu's significance tests use:
//! `Generator.choice(n, size, replace=True)` (= `integers(0, n, size, dtype=int64)`) and
//! `Generator.integers(2, size, dtype=bool)`.
//!
//! Ported from numpy's sources:
//! - `numpy/random/bit_generator.pyx`: `SeedSequence` (`_int_to_uint32_array`,
//!   `mix_entropy`, `hashmix`, `mix`, `generate_state`) and its constants;
//! - `numpy/random/_pcg64.pyx` (`_seed_seq`: `generate_state(4, uint64)`, words 0-1 the
//!   state, 2-3 the increment, high word first) and `numpy/random/src/pcg64/pcg64.h`
//!   (`pcg_setseq_128_srandom_r`, `pcg_setseq_128_step_r`, `pcg_output_xsl_rr_128_64`,
//!   `pcg64_next32`, which hands out the low then the high half of one 64-bit output);
//! - `numpy/random/_bounded_integers.pyx` (`_rand_int64`, `_rand_bool`: range
//!   `rng = high - 1 - low`, `use_masked=False`) and
//!   `numpy/random/src/distributions/distributions.c` (`random_bounded_uint64_fill`,
//!   `buffered_bounded_lemire_uint32`, `bounded_lemire_uint64`, `random_bounded_bool_fill`,
//!   `buffered_bounded_bool`).
//!
//! `default_rng(None)` seeds a `SeedSequence` with 128 bits of OS entropy; so does
//! [`Pcg64::new`] with `None` (through `rand::random`).

const MASK32: u64 = 0xFFFF_FFFF;
const INIT_A: u32 = 0x43b0_d7e5;
const MULT_A: u32 = 0x931e_8875;
const INIT_B: u32 = 0x8b51_f9dd;
const MULT_B: u32 = 0x58f3_8ded;
const MIX_MULT_L: u32 = 0xca01_f9dd;
const MIX_MULT_R: u32 = 0x4973_f715;
const XSHIFT: u32 = 16;
const POOL_SIZE: usize = 4;

/// `PCG_DEFAULT_MULTIPLIER_128`.
const PCG_MULT: u128 = (2_549_297_995_355_413_924u128 << 64) | 4_865_540_595_714_422_341u128;

/// numpy's `SeedSequence` (no spawn key, pool size 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedSequence {
    pool: [u32; POOL_SIZE],
}

fn hashmix(value: u32, hash_const: &mut u32) -> u32 {
    let mut v = value ^ *hash_const;
    *hash_const = hash_const.wrapping_mul(MULT_A);
    v = v.wrapping_mul(*hash_const);
    v ^ (v >> XSHIFT)
}

fn mix(x: u32, y: u32) -> u32 {
    let r = MIX_MULT_L
        .wrapping_mul(x)
        .wrapping_sub(MIX_MULT_R.wrapping_mul(y));
    r ^ (r >> XSHIFT)
}

impl SeedSequence {
    /// `SeedSequence(entropy)` for a non-negative integer (`_int_to_uint32_array`: 32-bit
    /// words, least significant first; 0 is one zero word).
    pub fn new(entropy: u128) -> Self {
        let mut words = Vec::new();
        let mut e = entropy;
        if e == 0 {
            words.push(0);
        }
        while e > 0 {
            words.push((e as u64 & MASK32) as u32);
            e >>= 32;
        }
        Self::from_words(&words)
    }

    /// `mix_entropy` over an assembled entropy array.
    pub fn from_words(entropy: &[u32]) -> Self {
        let mut hash_const = INIT_A;
        let mut pool = [0u32; POOL_SIZE];
        for (i, p) in pool.iter_mut().enumerate() {
            *p = hashmix(entropy.get(i).copied().unwrap_or(0), &mut hash_const);
        }
        for i_src in 0..POOL_SIZE {
            for i_dst in 0..POOL_SIZE {
                if i_src != i_dst {
                    let h = hashmix(pool[i_src], &mut hash_const);
                    pool[i_dst] = mix(pool[i_dst], h);
                }
            }
        }
        for &e in entropy.iter().skip(POOL_SIZE) {
            for p in pool.iter_mut() {
                let h = hashmix(e, &mut hash_const);
                *p = mix(*p, h);
            }
        }
        Self { pool }
    }

    /// `generate_state(n_words, np.uint32)`.
    pub fn generate_state_u32(&self, n_words: usize) -> Vec<u32> {
        let mut hash_const = INIT_B;
        (0..n_words)
            .map(|i| {
                let mut v = self.pool[i % POOL_SIZE] ^ hash_const;
                hash_const = hash_const.wrapping_mul(MULT_B);
                v = v.wrapping_mul(hash_const);
                v ^ (v >> XSHIFT)
            })
            .collect()
    }

    /// `generate_state(n_words, np.uint64)`: pairs of 32-bit words, low word first.
    pub fn generate_state_u64(&self, n_words: usize) -> Vec<u64> {
        self.generate_state_u32(2 * n_words)
            .chunks_exact(2)
            .map(|w| u64::from(w[0]) | (u64::from(w[1]) << 32))
            .collect()
    }
}

/// numpy's `PCG64` bit generator (PCG XSL-RR 128/64) with its 32-bit output buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pcg64 {
    state: u128,
    inc: u128,
    has_uint32: bool,
    uinteger: u32,
}

impl Pcg64 {
    /// The bit generator of `np.random.default_rng(seed)`; `None` draws the seed entropy
    /// from the OS, as numpy does.
    pub fn new(seed: Option<u64>) -> Self {
        let entropy = seed.map_or_else(rand::random::<u128>, u128::from);
        Self::from_seed_sequence(&SeedSequence::new(entropy))
    }

    /// `PCG64(seed_seq)`.
    pub fn from_seed_sequence(ss: &SeedSequence) -> Self {
        let v = ss.generate_state_u64(4);
        let initstate = (u128::from(v[0]) << 64) | u128::from(v[1]);
        let initseq = (u128::from(v[2]) << 64) | u128::from(v[3]);
        let mut g = Self {
            state: 0,
            inc: (initseq << 1) | 1,
            has_uint32: false,
            uinteger: 0,
        };
        g.step();
        g.state = g.state.wrapping_add(initstate);
        g.step();
        g
    }

    /// The raw 128-bit state and increment (`bit_generator.state['state']`).
    pub fn state(&self) -> (u128, u128) {
        (self.state, self.inc)
    }

    fn step(&mut self) {
        self.state = self.state.wrapping_mul(PCG_MULT).wrapping_add(self.inc);
    }

    /// `pcg64_next64` (= `bit_generator.random_raw()`): step, then XSL-RR output.
    pub fn next_u64(&mut self) -> u64 {
        self.step();
        let s = self.state;
        let x = ((s >> 64) as u64) ^ (s as u64);
        x.rotate_right((s >> 122) as u32)
    }

    /// `pcg64_next32`: the low half of a fresh 64-bit output, then its high half.
    pub fn next_u32(&mut self) -> u32 {
        if self.has_uint32 {
            self.has_uint32 = false;
            return self.uinteger;
        }
        let next = self.next_u64();
        self.has_uint32 = true;
        self.uinteger = (next >> 32) as u32;
        (next & MASK32) as u32
    }

    /// `buffered_bounded_lemire_uint32`: uniform in `0..=rng`, `rng < u32::MAX`.
    fn bounded_lemire_u32(&mut self, rng: u32) -> u32 {
        let rng_excl = rng + 1;
        let mut m = u64::from(self.next_u32()) * u64::from(rng_excl);
        let mut leftover = (m & MASK32) as u32;
        if leftover < rng_excl {
            let threshold = (u32::MAX - rng) % rng_excl;
            while leftover < threshold {
                m = u64::from(self.next_u32()) * u64::from(rng_excl);
                leftover = (m & MASK32) as u32;
            }
        }
        (m >> 32) as u32
    }

    /// `bounded_lemire_uint64`: uniform in `0..=rng`, `rng < u64::MAX`.
    fn bounded_lemire_u64(&mut self, rng: u64) -> u64 {
        let rng_excl = rng + 1;
        let mut m = u128::from(self.next_u64()) * u128::from(rng_excl);
        let mut leftover = m as u64;
        if leftover < rng_excl {
            let threshold = (u64::MAX - rng) % rng_excl;
            while leftover < threshold {
                m = u128::from(self.next_u64()) * u128::from(rng_excl);
                leftover = m as u64;
            }
        }
        (m >> 64) as u64
    }

    /// `random_bounded_uint64_fill(off, rng, cnt, use_masked=False)`: `out[i]` uniform in
    /// `off..=off + rng`.
    pub fn bounded_u64_fill(&mut self, off: u64, rng: u64, out: &mut [u64]) {
        if rng == 0 {
            out.fill(off);
        } else if rng <= MASK32 {
            if rng == MASK32 {
                for o in out.iter_mut() {
                    *o = off.wrapping_add(u64::from(self.next_u32()));
                }
            } else {
                for o in out.iter_mut() {
                    *o = off.wrapping_add(u64::from(self.bounded_lemire_u32(rng as u32)));
                }
            }
        } else if rng == u64::MAX {
            for o in out.iter_mut() {
                *o = off.wrapping_add(self.next_u64());
            }
        } else {
            for o in out.iter_mut() {
                *o = off.wrapping_add(self.bounded_lemire_u64(rng));
            }
        }
    }

    /// `Generator.integers(0, high, size=cnt)` (int64, `high >= 1`), which is also
    /// `Generator.choice(high, size=cnt, replace=True)`; the values in C order of `size`.
    pub fn integers(&mut self, high: u64, cnt: usize) -> Vec<u64> {
        let mut out = vec![0u64; cnt];
        self.bounded_u64_fill(0, high.saturating_sub(1), &mut out);
        out
    }

    /// `Generator.integers(2, size=cnt, dtype=bool)` (`random_bounded_bool_fill`): one
    /// 32-bit draw gives 32 values, least significant bit first, across the whole fill.
    pub fn bools(&mut self, cnt: usize) -> Vec<bool> {
        let mut buf = 0u32;
        let mut bcnt = 0u32;
        (0..cnt)
            .map(|_| {
                if bcnt == 0 {
                    buf = self.next_u32();
                    bcnt = 31;
                } else {
                    buf >>= 1;
                    bcnt -= 1;
                }
                buf & 1 != 0
            })
            .collect()
    }

    /// [`bools`](Self::bools) packed 64 to a word: value `i` is bit `i % 64` of word
    /// `i / 64`.
    /// `i / 32` is the 32-bit draw value `i` comes from and `i % 32` its bit, so the
    /// words are pairs of draws (bits past `cnt` are zero).
    pub fn bool_bits(&mut self, cnt: usize) -> Vec<u64> {
        let mut words = vec![0u64; cnt.div_ceil(64)];
        for j in 0..cnt.div_ceil(32) {
            words[j / 2] |= u64::from(self.next_u32()) << (32 * (j % 2));
        }
        let tail = cnt % 64;
        if tail != 0 {
            let last = words.len() - 1;
            words[last] &= (1u64 << tail) - 1;
        }
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by numpy 2.4.6 (`np.random.default_rng(seed)`).

    #[test]
    fn seed_sequence_and_state_match_numpy() {
        // SeedSequence(12345).generate_state(4, np.uint64)
        assert_eq!(
            SeedSequence::new(12345).generate_state_u64(4),
            vec![
                13091511679009522556,
                13538552136045918767,
                7269824232120749972,
                4520223790601600371
            ]
        );
        // default_rng(12345).bit_generator.state
        assert_eq!(
            Pcg64::new(Some(12345)).state(),
            (
                33261208707367790463622745601869196757,
                268209174141567072605526753992732310247
            )
        );
    }

    #[test]
    fn random_raw_matches_numpy() {
        let raw = |seed: u64, n: usize| {
            let mut g = Pcg64::new(Some(seed));
            (0..n).map(|_| g.next_u64()).collect::<Vec<_>>()
        };
        // default_rng(s).bit_generator.random_raw(n)
        assert_eq!(
            raw(12345, 3),
            vec![
                4193609425186963869,
                5843160025838961886,
                14708796524633321433
            ]
        );
        assert_eq!(raw(0, 2), vec![11749869230777074271, 4976686463289251617]);
        // A seed of two 32-bit words.
        assert_eq!(
            raw((1 << 40) + 3, 2),
            vec![14271435802380633900, 18370326226487632705]
        );
    }

    #[test]
    fn integers_and_choice_match_numpy() {
        // default_rng(12345).integers(0, 3000, 10) == .choice(3000, size=(2, 5)).ravel()
        assert_eq!(
            Pcg64::new(Some(12345)).integers(3000, 10),
            vec![2097, 682, 2365, 950, 612, 2392, 1928, 2028, 2965, 1173]
        );
        // 64-bit range: default_rng(7).integers(0, 2**40 + 7, 5)
        assert_eq!(
            Pcg64::new(Some(7)).integers((1 << 40) + 7, 5),
            vec![
                687299734006,
                986497006773,
                852875435929,
                247617924054,
                330036320528
            ]
        );
        // The 32-bit half buffer survives across calls: integers(0, 5, 3),
        // random_raw(1), integers(0, 5, 2).
        let mut g = Pcg64::new(Some(12345));
        assert_eq!(g.integers(5, 3), vec![3, 1, 3]);
        assert_eq!(g.next_u64(), 14708796524633321433);
        assert_eq!(g.integers(5, 2), vec![1, 3]);
    }

    #[test]
    fn bools_match_numpy() {
        // default_rng(12345).integers(2, size=(2, 40), dtype=bool).ravel()
        let expected =
            "10111001100000111111111101001101101100011000110101001100010111000111101100100011";
        let got: String = Pcg64::new(Some(12345))
            .bools(80)
            .iter()
            .map(|&b| if b { '1' } else { '0' })
            .collect();
        assert_eq!(got, expected);
        let bits = Pcg64::new(Some(12345)).bool_bits(80);
        let packed: String = (0..80)
            .map(|i| {
                if bits[i / 64] >> (i % 64) & 1 == 1 {
                    '1'
                } else {
                    '0'
                }
            })
            .collect();
        assert_eq!(packed, expected);
        for cnt in [1, 31, 32, 33, 64, 65, 100] {
            let bits = Pcg64::new(Some(3)).bool_bits(cnt);
            let want = Pcg64::new(Some(3)).bools(cnt);
            assert_eq!(bits.len(), cnt.div_ceil(64));
            for (i, &b) in want.iter().enumerate() {
                assert_eq!(bits[i / 64] >> (i % 64) & 1 == 1, b, "{cnt} {i}");
            }
            assert_eq!(
                bits.iter().map(|w| w.count_ones() as usize).sum::<usize>(),
                want.iter().filter(|&&b| b).count()
            );
        }
    }
}
