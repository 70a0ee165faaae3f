//! Backend dispatch, written once: a training job names its device (`cpu`, `cuda:N`) and
//! gets run with the matching autodiff backend type.

use burn::backend::Autodiff;
use burn::tensor::backend::AutodiffBackend;

use crate::backend::DeviceSpec;

/// Work that runs on any autodiff backend.
pub trait OnDevice {
    /// What it returns.
    type Output;
    /// Runs on backend `B` and its `device`.
    fn run<B: AutodiffBackend>(self, device: &B::Device) -> Self::Output;
}

/// `device = "cuda:N"` in a build without the CUDA backend.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("failed to use device `{device}`: this build has no CUDA backend")]
#[diagnostic(help("rebuild with `cargo build --release --features cuda`"))]
pub struct NoCuda {
    /// The requested device.
    pub device: DeviceSpec,
}

/// Runs `work` on the backend `spec` names: CPU (`flex`) or, with `--features cuda`, CUDA.
pub fn dispatch<W: OnDevice>(spec: DeviceSpec, work: W) -> Result<W::Output, NoCuda> {
    match spec {
        DeviceSpec::Cpu => Ok(work.run::<Autodiff<crate::backend::Cpu>>(&Default::default())),
        #[cfg(feature = "cuda")]
        DeviceSpec::Cuda(i) => Ok(
            work.run::<Autodiff<crate::backend::Cuda>>(&burn::backend::cuda::CudaDevice::new(i))
        ),
        #[cfg(not(feature = "cuda"))]
        device @ DeviceSpec::Cuda(_) => Err(NoCuda { device }),
    }
}
