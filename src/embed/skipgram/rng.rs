//! The random number generator fastText trains with, bit for bit.
//!
//! fastText (src/model.h `Model::State::rng`, src/densematrix.cc `uniformThread`) draws from
//! `std::minstd_rand` through libstdc++'s `uniform_int_distribution` and
//! `uniform_real_distribution<double>`. This module ports those three pieces of libstdc++
//! (bits/random.h `linear_congruential_engine`, bits/uniform_int_dist.h downscaling branch,
//! bits/random.tcc `generate_canonical`) so that a thread seeded like fastText's sees the same
//! stream of window sizes, subsampling decisions and negatives.

/// `std::minstd_rand`: x <- 48271 x mod (2^31 - 1).
#[derive(Debug, Clone)]
pub struct MinStd {
    state: u64,
}

const M: u64 = 2_147_483_647;
/// Smallest value `MinStd::next_u32` returns.
const MIN: u64 = 1;
/// Largest value `MinStd::next_u32` returns.
const MAX: u64 = M - 1;

impl MinStd {
    /// Seeds like `std::minstd_rand(seed)`: the seed is converted to the engine's
    /// `uint_fast32_t` (64-bit on Linux, so negatives wrap), reduced mod m, and 0 becomes 1.
    pub fn new(seed: i64) -> Self {
        let s = (seed as u64) % M;
        Self {
            state: if s == 0 { 1 } else { s },
        }
    }

    /// Next raw value in [1, 2^31 - 2].
    #[inline]
    pub fn next_raw(&mut self) -> u64 {
        self.state = (self.state * 48_271) % M;
        self.state
    }

    /// `std::uniform_int_distribution<>(lo, hi)(rng)` for `hi - lo < 2^31 - 3`
    /// (libstdc++'s downscaling branch: rejection, then integer division).
    #[inline]
    pub fn uniform_int(&mut self, lo: u64, hi: u64) -> u64 {
        let urngrange = MAX - MIN;
        let urange = hi - lo;
        debug_assert!(urngrange > urange);
        let uerange = urange + 1;
        let scaling = urngrange / uerange;
        let past = uerange * scaling;
        loop {
            let r = self.next_raw() - MIN;
            if r < past {
                return r / scaling + lo;
            }
        }
    }

    /// `std::generate_canonical<double, 53>(rng)`: two draws combined, in [0, 1).
    #[inline]
    pub fn canonical(&mut self) -> f64 {
        let r = (MAX - MIN + 1) as f64;
        let mut sum = 0.0f64;
        let mut tmp = 1.0f64;
        for _ in 0..2 {
            sum += (self.next_raw() - MIN) as f64 * tmp;
            tmp *= r;
        }
        let ret = sum / tmp;
        if ret >= 1.0 { 1.0f64.next_down() } else { ret }
    }

    /// `std::uniform_real_distribution<double>(a, b)(rng)`.
    #[inline]
    pub fn uniform_real(&mut self, a: f64, b: f64) -> f64 {
        self.canonical() * (b - a) + a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minstd_matches_the_cpp_standard() {
        // [rand.predef]: the 10000th consecutive invocation of a default-constructed
        // minstd_rand (seed 1) produces 399268537.
        let mut r = MinStd::new(1);
        let mut v = 0;
        for _ in 0..10_000 {
            v = r.next_raw();
        }
        assert_eq!(v, 399_268_537);
        // seed 0 is mapped to 1, like libstdc++.
        assert_eq!(MinStd::new(0).next_raw(), 48_271);
    }

    #[test]
    fn uniform_int_is_downscaled_rejection() {
        // First raw value from seed 1 is 48271; range [1,5]: scaling = (2^31-3)/5.
        let mut r = MinStd::new(1);
        let scaling = (MAX - MIN) / 5;
        assert_eq!(r.uniform_int(1, 5), (48_271 - 1) / scaling + 1);
        let mut r = MinStd::new(7);
        for _ in 0..1000 {
            let v = r.uniform_int(1, 5);
            assert!((1..=5).contains(&v));
        }
    }

    #[test]
    fn canonical_combines_two_draws() {
        let mut r = MinStd::new(1);
        let a = 48_271f64 - 1.0;
        let b = ((48_271u64 * 48_271) % M) as f64 - 1.0;
        let rr = (M - 1) as f64;
        let expected = (a + b * rr) / (rr * rr);
        assert_eq!(r.canonical(), expected);
    }
}
