//! Sigmoid and log lookup tables, as fastText's loss uses them.
//!
//! Port of facebookresearch/fastText `src/loss.cc` (`Loss::Loss`, `Loss::sigmoid`,
//! `Loss::log`): 512-entry tables, sigmoid clipped to 0/1 outside [-8, 8], log(x) = 0 for x > 1.

const SIGMOID_TABLE_SIZE: usize = 512;
const MAX_SIGMOID: f32 = 8.0;
const LOG_TABLE_SIZE: usize = 512;

/// Precomputed sigmoid and log tables.
#[derive(Debug, Clone)]
pub struct LossTables {
    sigmoid: Vec<f32>,
    log: Vec<f32>,
}

impl Default for LossTables {
    fn default() -> Self {
        Self::new()
    }
}

impl LossTables {
    /// Builds both tables with fastText's float/double mix.
    pub fn new() -> Self {
        let sigmoid = (0..=SIGMOID_TABLE_SIZE)
            .map(|i| {
                let x =
                    (i * 2 * MAX_SIGMOID as usize) as f32 / SIGMOID_TABLE_SIZE as f32 - MAX_SIGMOID;
                (1.0 / (1.0 + (-x).exp() as f64)) as f32
            })
            .collect();
        let log = (0..=LOG_TABLE_SIZE)
            .map(|i| {
                let x = ((i as f32 as f64 + 1e-5) / LOG_TABLE_SIZE as f64) as f32;
                x.ln()
            })
            .collect();
        Self { sigmoid, log }
    }

    /// Table sigmoid of `x`.
    #[inline]
    pub fn sigmoid(&self, x: f32) -> f32 {
        if x < -MAX_SIGMOID {
            0.0
        } else if x > MAX_SIGMOID {
            1.0
        } else {
            let i = ((x + MAX_SIGMOID) * SIGMOID_TABLE_SIZE as f32 / MAX_SIGMOID / 2.0) as usize;
            self.sigmoid[i]
        }
    }

    /// Table natural log of `x` in [0, 1] (0 above 1).
    #[inline]
    pub fn log(&self, x: f32) -> f32 {
        if x > 1.0 {
            0.0
        } else {
            self.log[(x * LOG_TABLE_SIZE as f32) as usize]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_approximate_the_functions() {
        let t = LossTables::new();
        assert_eq!(t.sigmoid(-9.0), 0.0);
        assert_eq!(t.sigmoid(9.0), 1.0);
        // Index 256 is x = 0 exactly.
        assert_eq!(t.sigmoid(0.0), 0.5);
        for x in [-7.5f32, -1.0, 0.3, 2.0, 7.9] {
            let exact = 1.0 / (1.0 + (-x).exp());
            assert!((t.sigmoid(x) - exact).abs() < 0.02, "{x}");
        }
        assert_eq!(t.log(1.5), 0.0);
        assert!((t.log(0.5) - 0.5f32.ln()).abs() < 1e-4);
        assert!(t.log(0.0) < -11.0);
    }
}
