//! The Burn backends training stages run on: `flex` on the CPU always, CUDA when built with
//! `--features cuda` (which needs no CUDA toolkit at build time, only the driver at run time).

use std::fmt;
use std::str::FromStr;

/// The CPU backend (Burn's `flex`, multithreaded with rayon, SIMD kernels).
pub type Cpu = burn::backend::Flex;

/// The CUDA backend.
#[cfg(feature = "cuda")]
pub type Cuda = burn::backend::Cuda;

/// Where a training stage runs, as written in a recipe or `--device`: `cpu` or `cuda:N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceSpec {
    /// The CPU.
    Cpu,
    /// CUDA device N.
    Cuda(usize),
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl FromStr for DeviceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|i| i.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| format!("unknown device `{s}`: expected `cpu`, `cuda` or `cuda:N`")),
        }
    }
}

impl TryFrom<String> for DeviceSpec {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<DeviceSpec> for String {
    fn from(d: DeviceSpec) -> String {
        d.to_string()
    }
}

impl DeviceSpec {
    /// Whether this build can run on it.
    pub fn available(self) -> bool {
        match self {
            DeviceSpec::Cpu => true,
            DeviceSpec::Cuda(_) => cfg!(feature = "cuda"),
        }
    }
}

/// Keeps freed tensor buffers in glibc's heap instead of returning them to the kernel.
///
/// Why: a training step allocates and frees the same large buffers (activations, attention
/// scores, gradients) every update. With glibc's defaults, buffers above the dynamic mmap
/// threshold are `mmap`ed and `munmap`ed each time and the heap top is trimmed, so every step
/// pays page faults and kernel page zeroing: the profile of `bench_mlm` charged ~10% of an MLM
/// step to `clear_page_erms` and first-touch `memmove`. A fixed mmap threshold of 32 MiB (the
/// largest `mallopt` accepts on 64-bit glibc) and no trimming reuse that memory; measured
/// +7-9% MLM tokens/s on the quickstart config and +2-8% on the small one (CHANGELOG), for
/// ~1-2% more peak RSS. Setting only the trim threshold is
/// much slower (it also freezes the mmap threshold at 128 KiB), so both are set together.
///
/// Call once at process start, before threads allocate. `UNMT_GLIBC_MALLOC=default` leaves
/// glibc's defaults (to measure the difference). A no-op off glibc.
pub fn tune_cpu_allocator() {
    if std::env::var_os("UNMT_GLIBC_MALLOC").is_some_and(|v| v == "default") {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes allocator parameters; it is called before other threads
    // exist, and glibc serialises it with allocation anyway.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tensor;

    #[test]
    fn device_specs_parse_and_print() {
        assert_eq!("cpu".parse(), Ok(DeviceSpec::Cpu));
        assert_eq!("cuda:1".parse(), Ok(DeviceSpec::Cuda(1)));
        assert_eq!(DeviceSpec::Cuda(2).to_string(), "cuda:2");
        assert!("gpu".parse::<DeviceSpec>().is_err());
        assert!(DeviceSpec::Cpu.available());
    }

    #[test]
    fn the_cpu_backend_multiplies_matrices() {
        let device = Default::default();
        let a = Tensor::<Cpu, 2>::from_floats([[1.0, 2.0], [3.0, 4.0]], &device);
        let b = Tensor::<Cpu, 2>::from_floats([[0.5, -1.0], [2.0, 0.0]], &device);
        let c: Vec<f32> = a.matmul(b).into_data().to_vec().expect("f32 data");
        assert_eq!(c, vec![4.5, -1.0, 9.5, -3.0]);
    }
}
