//! The up-front check that a model can be trained in the memory this machine has.
//!
//! Burn allocates parameters, gradients and Adam's moments as it goes; on the CPU an allocation
//! that fails aborts the whole process, which `catch_unwind` cannot catch, so a typo such as
//! `dim = 1024000` would kill every node running beside it. The job compares the estimate of
//! [`TransformerConfig::training_bytes`] with `MemAvailable` before building anything, as the
//! `skipgram` stage does for its matrices. GPU memory is not checked here: CUDA reports an
//! out-of-memory error through Burn instead of aborting.

use crate::backend::DeviceSpec;
use crate::io::available_memory_bytes;
use crate::model::TransformerConfig;

/// The models would not fit into the available memory.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error(
    "failed to build the model: training {models} model(s) of {params} parameters needs at least {needed_gb:.1} GB (weights, gradients and Adam's moments), {available_gb:.1} GB available; lower `dim` or `n_layers`, or use a smaller vocabulary"
)]
#[diagnostic(code(unmt::train::out_of_memory))]
pub struct ModelTooLarge {
    /// Copies of the architecture trained together (2 for an encoder-decoder).
    pub models: usize,
    /// Parameters of one model.
    pub params: usize,
    /// The estimate, in GB (1e9 bytes).
    pub needed_gb: f64,
    /// `MemAvailable`, in GB.
    pub available_gb: f64,
}

/// Fails when `models` copies of `config` cannot be trained on `device` in `available` bytes
/// (`None`: unknown, no check). CUDA devices are not checked.
pub fn check_fits(
    config: &TransformerConfig,
    models: usize,
    device: DeviceSpec,
    available: Option<u64>,
) -> Result<(), ModelTooLarge> {
    let (DeviceSpec::Cpu, Some(avail)) = (device, available) else {
        return Ok(());
    };
    let needed = config
        .training_bytes()
        .and_then(|b| b.checked_mul(models as u64));
    match needed {
        Some(n) if n <= avail => Ok(()),
        _ => Err(ModelTooLarge {
            models,
            params: config.n_params(),
            needed_gb: needed.map_or(f64::INFINITY, |n| n as f64 / 1e9),
            available_gb: avail as f64 / 1e9,
        }),
    }
}

/// [`check_fits`] against this machine's `MemAvailable`.
pub fn check_fits_here(
    config: &TransformerConfig,
    models: usize,
    device: DeviceSpec,
) -> Result<(), ModelTooLarge> {
    check_fits(config, models, device, available_memory_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paper_model_needs_gigabytes_and_says_what_to_lower() {
        let c = TransformerConfig::paper(64_139, 2);
        let err = check_fits(&c, 2, DeviceSpec::Cpu, Some(4_000_000_000)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to build the model: training 2 model(s) of 141848203 parameters needs at least 4.5 GB (weights, gradients and Adam's moments), 4.0 GB available; lower `dim` or `n_layers`, or use a smaller vocabulary"
        );
        check_fits(&c, 2, DeviceSpec::Cpu, Some(5_000_000_000)).unwrap();
        check_fits(&c, 2, DeviceSpec::Cpu, None).unwrap();
        check_fits(&c, 2, DeviceSpec::Cuda(0), Some(1)).unwrap();
    }
}
