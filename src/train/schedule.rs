//! The two schedules of XLM's UNMT training: loss coefficients by iteration (`--lambda_ae
//! 0:1,100000:0.1,300000:0`) and the inverse-square-root learning rate by update
//! (`--optimizer adam_inverse_sqrt,...`).
//!
//! Follows facebookresearch/XLM `xlm/utils.py` (`parse_lambda_config`, `get_lambda_value`,
//! `update_lambdas`) and `xlm/optim.py` (`AdamInverseSqrtWithWarmup.get_lr_for_step` and its
//! `step`), as ported in `examples/xlm_reference.py` (`parse_lambda_config`,
//! `get_lambda_value`, `lambda_value`, `AdamInverseSqrtWithWarmup.lr_of_update`).
//!
//! Why two counters: XLM indexes the lambda schedule by *iterations* (`n_total_iter`, one pass
//! over every AE and BT step) but the learning rate by *optimizer updates* (one per step, so
//! 4 per iteration for `--ae_steps en,mk` and two BT directions). The values here are computed
//! with XLM's float operations in XLM's order, so they agree with the Python bit for bit.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a schedule could not be parsed or is out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The schedule string is empty.
    #[error("failed to parse lambda schedule: empty string")]
    Empty,
    /// A value (the constant, or the part after `:`) is not a finite number.
    #[error("failed to parse lambda schedule `{text}`: `{piece}` is not a finite number")]
    NotANumber {
        /// The whole schedule.
        text: String,
        /// The offending value.
        piece: String,
    },
    /// A comma-separated piece is not `iteration:value`.
    #[error("failed to parse lambda schedule `{text}`: `{piece}` is not `iteration:value`")]
    NotAPoint {
        /// The whole schedule.
        text: String,
        /// The offending piece.
        piece: String,
    },
    /// An iteration is not a non-negative integer (XLM: `k.isdigit()`).
    #[error("failed to parse lambda schedule `{text}`: iteration `{piece}` is not a whole number")]
    NotAnIteration {
        /// The whole schedule.
        text: String,
        /// The offending iteration.
        piece: String,
    },
    /// Iterations do not strictly increase.
    #[error(
        "failed to parse lambda schedule `{text}`: `{piece}` does not come after iteration {previous}"
    )]
    NotIncreasing {
        /// The whole schedule.
        text: String,
        /// The offending piece.
        piece: String,
        /// The iteration before it.
        previous: u64,
    },
    /// The first point is not at iteration 0: XLM starts at its value but fails (assert in
    /// `get_lambda_value`) at every iteration before it, so such a schedule cannot run.
    #[error(
        "failed to parse lambda schedule `{text}`: the first point `{piece}` is not at iteration 0 (XLM cannot evaluate the iterations before it)"
    )]
    FirstNotZero {
        /// The whole schedule.
        text: String,
        /// The first piece.
        piece: String,
    },
    /// A learning-rate parameter is out of range.
    #[error("invalid parameter `{field}`: {message}")]
    InvalidParam {
        /// `lr`, `warmup_updates` or `warmup_init_lr`.
        field: &'static str,
        /// Lowercase fragment, e.g. "must be at least 1".
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Constant(f64),
    /// Strictly increasing iterations, the first 0, at least two points.
    Linear(Vec<(u64, f64)>),
}

/// A loss coefficient over iterations, parsed from XLM's string: `"1"` (a constant) or
/// `"0:1,100000:0.1,300000:0"` (piecewise linear between `iteration:value` points, the last
/// value from the last iteration on). (De)serializes as that string; a bare number is also
/// accepted as a constant. `Default` is XLM's `"1"`.
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaSchedule {
    text: String,
    shape: Shape,
}

impl Default for LambdaSchedule {
    fn default() -> Self {
        Self {
            text: "1".to_owned(),
            shape: Shape::Constant(1.0),
        }
    }
}

fn finite(text: &str, piece: &str) -> Result<f64, ScheduleError> {
    // Python's float() also takes surrounding spaces and `1_000`; nothing XLM's README uses.
    match piece.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(ScheduleError::NotANumber {
            text: text.to_owned(),
            piece: piece.to_owned(),
        }),
    }
}

impl LambdaSchedule {
    /// Parses XLM's syntax (`parse_lambda_config`): no comma means a constant (`"0:1"` alone
    /// is therefore not a number, as in XLM); otherwise every comma-separated piece is
    /// `iteration:value`, iterations ASCII digits, strictly increasing, the first one 0.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        if text.is_empty() {
            return Err(ScheduleError::Empty);
        }
        if !text.contains(',') {
            return Ok(Self {
                text: text.to_owned(),
                shape: Shape::Constant(finite(text, text)?),
            });
        }
        let mut points: Vec<(u64, f64)> = Vec::new();
        for piece in text.split(',') {
            let Some((iter, value)) = piece.split_once(':').filter(|(_, v)| !v.contains(':'))
            else {
                return Err(ScheduleError::NotAPoint {
                    text: text.to_owned(),
                    piece: piece.to_owned(),
                });
            };
            let iteration = iter
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| iter.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| ScheduleError::NotAnIteration {
                    text: text.to_owned(),
                    piece: iter.to_owned(),
                })?;
            let value = finite(text, value)?;
            match points.last() {
                None if iteration != 0 => {
                    return Err(ScheduleError::FirstNotZero {
                        text: text.to_owned(),
                        piece: piece.to_owned(),
                    });
                }
                Some(&(previous, _)) if iteration <= previous => {
                    return Err(ScheduleError::NotIncreasing {
                        text: text.to_owned(),
                        piece: piece.to_owned(),
                        previous,
                    });
                }
                _ => points.push((iteration, value)),
            }
        }
        Ok(Self {
            text: text.to_owned(),
            shape: Shape::Linear(points),
        })
    }

    /// The string this schedule was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the value never changes (XLM: `lambda_X_config` is `None`).
    pub fn is_constant(&self) -> bool {
        matches!(self.shape, Shape::Constant(_))
    }

    /// The coefficient XLM uses during the iteration that starts at `n_total_iter ==
    /// n_iter` (XLM increments `n_total_iter` and then calls `update_lambdas`; the initial
    /// value, used at 0, is the first point's). Between two points `(x_a, y_a)`, `(x_b, y_b)`
    /// with `x_a <= n_iter < x_b`: XLM's `y_a + (n_iter - x_a) * (y_b - y_a) / (x_b - x_a)`;
    /// from the last point on, its value. Counts iterations, not updates. XLM skips an AE or
    /// BT step entirely (no update) while its coefficient is 0.
    pub fn value(&self, n_iter: u64) -> f64 {
        match &self.shape {
            Shape::Constant(v) => *v,
            Shape::Linear(points) => {
                // the first point is at 0 <= n_iter (`parse`), so `next` is at least 1
                let next = points.partition_point(|&(x, _)| x <= n_iter);
                let previous = next.checked_sub(1).and_then(|i| points.get(i));
                match (previous, points.get(next)) {
                    (Some(&(x_a, y_a)), Some(&(x_b, y_b))) => {
                        let (dn, dx) = ((n_iter - x_a) as f64, (x_b - x_a) as f64);
                        y_a + dn * (y_b - y_a) / dx
                    }
                    (Some(&(_, y)), None) => y,
                    (None, _) => points.first().map_or(0.0, |&(_, y)| y),
                }
            }
        }
    }
}

impl FromStr for LambdaSchedule {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for LambdaSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for LambdaSchedule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for LambdaSchedule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;

        impl serde::de::Visitor<'_> for Visitor {
            type Value = LambdaSchedule;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a lambda schedule such as \"1\" or \"0:1,100000:0.1,300000:0\"")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                LambdaSchedule::parse(v).map_err(E::custom)
            }

            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                LambdaSchedule::parse(&v.to_string()).map_err(E::custom)
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
                LambdaSchedule::parse(&v.to_string()).map_err(E::custom)
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
                LambdaSchedule::parse(&v.to_string()).map_err(E::custom)
            }
        }

        deserializer.deserialize_any(Visitor)
    }
}

/// XLM's `AdamInverseSqrtWithWarmup` learning rate (`exp_factor` 0.5, XLM's default): linear
/// warm-up from `warmup_init_lr` to `lr` over `warmup_updates` updates, then
/// `lr * sqrt(warmup_updates / step)`. `Default`: XLM's `lr 1e-4`, `warmup_updates 4000`,
/// `warmup_init_lr 1e-7`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InverseSqrt {
    /// Peak learning rate, reached after the warm-up.
    pub lr: f64,
    /// Number of warm-up updates (at least 1).
    pub warmup_updates: u64,
    /// Learning rate of the first update.
    pub warmup_init_lr: f64,
}

impl Default for InverseSqrt {
    fn default() -> Self {
        Self {
            lr: 1e-4,
            warmup_updates: 4000,
            warmup_init_lr: 1e-7,
        }
    }
}

impl InverseSqrt {
    /// Checks the ranges XLM needs (it divides by `warmup_updates`): `lr` positive and
    /// finite, `warmup_init_lr` non-negative and finite, `warmup_updates` at least 1.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(ScheduleError::InvalidParam {
                field: "lr",
                message: format!("must be a positive number, got {}", self.lr),
            });
        }
        if self.warmup_updates == 0 {
            return Err(ScheduleError::InvalidParam {
                field: "warmup_updates",
                message: "must be at least 1".to_owned(),
            });
        }
        if !(self.warmup_init_lr.is_finite() && self.warmup_init_lr >= 0.0) {
            return Err(ScheduleError::InvalidParam {
                field: "warmup_init_lr",
                message: format!("must be a non-negative number, got {}", self.warmup_init_lr),
            });
        }
        Ok(())
    }

    /// XLM's `get_lr_for_step(num_updates)`, the learning rate set after `num_updates`
    /// updates: `warmup_init_lr + num_updates * (lr - warmup_init_lr) / warmup_updates`
    /// while `num_updates < warmup_updates`, then `lr * warmup_updates^0.5 *
    /// num_updates^-0.5` (XLM's `decay_factor * num_updates ** -exp_factor`). Meaningful
    /// only for a configuration that passes [`InverseSqrt::validate`].
    pub fn lr_for_step(&self, num_updates: u64) -> f64 {
        let (n, warmup) = (num_updates as f64, self.warmup_updates as f64);
        if num_updates < self.warmup_updates {
            let lr_step = (self.lr - self.warmup_init_lr) / warmup;
            self.warmup_init_lr + n * lr_step
        } else {
            let decay_factor = self.lr * warmup.powf(0.5);
            decay_factor * n.powf(-0.5)
        }
    }

    /// The learning rate update `n` (1-based: the n-th optimizer step) is made with. XLM
    /// starts at `warmup_init_lr` and resets the rate after each step from the incremented
    /// counter, so update `n` uses `get_lr_for_step(n - 1)`: update 1 uses `warmup_init_lr`,
    /// update `warmup_updates + 1` the peak. `n = 0` is taken as 1.
    pub fn lr_of_update(&self, n: u64) -> f64 {
        self.lr_for_step(n.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAPER: &str = "0:1,100000:0.1,300000:0";

    #[test]
    fn paper_lambda_points() {
        // brief / selfcheck-unmt values; exact reprs from xlm_reference.lambda_value
        let s = LambdaSchedule::parse(PAPER).unwrap();
        assert!(!s.is_constant());
        let want = [
            (0, 1.0),
            (1, 0.999991),
            (50_000, 0.55),
            (99_999, 0.100_008_999_999_999_9),
            (100_000, 0.1),
            (150_000, 0.075_000_000_000_000_01),
            (200_000, 0.05),
            (299_999, 5.000_000_000_005e-7),
            (300_000, 0.0),
            (400_000, 0.0),
            (u64::MAX, 0.0),
        ];
        for (n, v) in want {
            assert_eq!(s.value(n).to_bits(), f64::to_bits(v), "iteration {n}");
        }
    }

    #[test]
    fn constant_lambda() {
        let s: LambdaSchedule = "1".parse().unwrap();
        assert!(s.is_constant());
        for n in [0, 1, 100_000, u64::MAX] {
            assert_eq!(s.value(n), 1.0);
        }
        assert_eq!(LambdaSchedule::parse("2.5e-1").unwrap().value(7), 0.25);
        assert_eq!(LambdaSchedule::default(), s);
    }

    #[test]
    fn rising_and_flat_segments() {
        // XLM's docstring example: 0 for 1000 iterations, then up to 1 by 2000
        let s = LambdaSchedule::parse("0:0,1000:0,2000:1").unwrap();
        assert_eq!(s.value(500), 0.0);
        assert_eq!(s.value(1500), 0.5);
        assert_eq!(s.value(2000), 1.0);
        assert_eq!(s.value(10_000), 1.0);
    }

    #[test]
    fn lambda_parse_errors_quote_the_piece() {
        let err = |s: &str| LambdaSchedule::parse(s).unwrap_err().to_string();
        assert_eq!(err(""), "failed to parse lambda schedule: empty string");
        assert_eq!(
            err("one"),
            "failed to parse lambda schedule `one`: `one` is not a finite number"
        );
        assert_eq!(
            err("0:1"),
            "failed to parse lambda schedule `0:1`: `0:1` is not a finite number"
        );
        assert_eq!(
            err("nan"),
            "failed to parse lambda schedule `nan`: `nan` is not a finite number"
        );
        assert_eq!(
            err("0:1,100:x"),
            "failed to parse lambda schedule `0:1,100:x`: `x` is not a finite number"
        );
        assert_eq!(
            err("0:1,100"),
            "failed to parse lambda schedule `0:1,100`: `100` is not `iteration:value`"
        );
        assert_eq!(
            err("0:1,"),
            "failed to parse lambda schedule `0:1,`: `` is not `iteration:value`"
        );
        assert_eq!(
            err("0:1,1:2:3"),
            "failed to parse lambda schedule `0:1,1:2:3`: `1:2:3` is not `iteration:value`"
        );
        assert_eq!(
            err("0:1,+5:0"),
            "failed to parse lambda schedule `0:1,+5:0`: iteration `+5` is not a whole number"
        );
        assert_eq!(
            err("0:1, 5:0"),
            "failed to parse lambda schedule `0:1, 5:0`: iteration ` 5` is not a whole number"
        );
        assert_eq!(
            err("0:1,100:0.5,100:0"),
            "failed to parse lambda schedule `0:1,100:0.5,100:0`: `100:0` does not come after iteration 100"
        );
        assert_eq!(
            err("0:1,200:0.5,100:0"),
            "failed to parse lambda schedule `0:1,200:0.5,100:0`: `100:0` does not come after iteration 200"
        );
        assert_eq!(
            err("10:1,200:0"),
            "failed to parse lambda schedule `10:1,200:0`: the first point `10:1` is not at iteration 0 (XLM cannot evaluate the iterations before it)"
        );
    }

    #[test]
    fn lambda_serde_is_the_original_string() {
        let s = LambdaSchedule::parse(PAPER).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, format!("\"{PAPER}\""));
        let back: LambdaSchedule = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.as_str(), PAPER);
        assert_eq!(back.to_string(), PAPER);
        let n: LambdaSchedule = serde_json::from_str("1").unwrap();
        assert_eq!((n.as_str(), n.value(9)), ("1", 1.0));
        let n: LambdaSchedule = serde_json::from_str("0.5").unwrap();
        assert_eq!(n.value(9), 0.5);
        let e = serde_json::from_str::<LambdaSchedule>("\"0:1,0:0\"").unwrap_err();
        assert!(
            e.to_string().contains("does not come after iteration 0"),
            "{e}"
        );
        assert!(serde_json::from_str::<LambdaSchedule>("[1]").is_err());
    }

    #[test]
    fn inverse_sqrt_matches_xlm() {
        let s = InverseSqrt::default();
        s.validate().unwrap();
        // the brief's rounded values
        for (n, v) in [
            (1, 1e-7),
            (2000, 5.002_502_5e-5),
            (4000, 9.997_502_5e-5),
            (4001, 1e-4),
            (16000, 5.000_156_257e-5),
        ] {
            assert!((s.lr_of_update(n) - v).abs() <= 1e-9 * v, "update {n}");
        }
        // exact reprs from xlm_reference.AdamInverseSqrtWithWarmup.lr_of_update
        for (n, v) in [
            (1, 1e-07),
            (2, 1.24975e-07),
            (2000, 5.002_502_500_000_000_5e-5),
            (3999, 9.995_005_000_000_001e-5),
            (4000, 9.997_502_5e-5),
            (4001, 9.999_999_999_999_999e-5),
            (4002, 9.998_750_234_326_183e-5),
            (16000, 5.000_156_257_324_6e-5),
            (16001, 4.999_999_999_999_999_6e-5),
            (1_000_000, 6.324_558_482_616_791e-6),
        ] {
            assert_eq!(s.lr_of_update(n).to_bits(), f64::to_bits(v), "update {n}");
        }
        assert_eq!(s.lr_of_update(0), s.lr_of_update(1));
        assert_eq!(s.lr_for_step(4000), s.lr_of_update(4001));
    }

    #[test]
    fn inverse_sqrt_validate_and_serde() {
        let d = InverseSqrt::default();
        let field = |s: InverseSqrt| match s.validate() {
            Err(ScheduleError::InvalidParam { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(InverseSqrt { lr: 0.0, ..d }), "lr");
        assert_eq!(
            field(InverseSqrt {
                warmup_updates: 0,
                ..d
            }),
            "warmup_updates"
        );
        assert_eq!(
            field(InverseSqrt {
                warmup_init_lr: -1.0,
                ..d
            }),
            "warmup_init_lr"
        );
        let s: InverseSqrt = serde_json::from_str(r#"{"lr": 0.0002}"#).unwrap();
        assert_eq!(
            (s.lr, s.warmup_updates, s.warmup_init_lr),
            (2e-4, 4000, 1e-7)
        );
        assert!(serde_json::from_str::<InverseSqrt>(r#"{"warmup": 1}"#).is_err());
    }
}
