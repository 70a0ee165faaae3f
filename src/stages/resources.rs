//! What a node needs from the machine that runs it, and where the scheduler put it.
//!
//! Stages declare [`Resources`]; the scheduler (`exec`) counts them against its slots, picks
//! a GPU index and a thread count, and hands the stage a [`Placement`] through its context.
//! Placement is never part of a node key: `cuda:0` and `cuda:1` compute the same result, so a
//! stage names its placement fields in [`super::Stage::PLACEMENT`] and the key sees only the
//! device class. CPU and CUDA stay distinct in the key: their kernels sum in different orders,
//! so their weights differ in the last bits and a CUDA result is not a CPU result.

use serde::{Deserialize, Serialize};

use crate::backend::DeviceSpec;

/// What one node needs: counted by the scheduler, turned into `sbatch` options by the Slurm
/// runner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// GPUs the node uses (0 or 1 today).
    pub gpus: usize,
    /// CPU cores; `None`: the executor's share (cores / `--jobs`).
    pub cpus: Option<usize>,
}

impl Resources {
    /// One GPU when `device` is CUDA, none on the CPU.
    pub fn for_device(device: DeviceSpec) -> Self {
        Self {
            gpus: usize::from(matches!(device, DeviceSpec::Cuda(_))),
            cpus: None,
        }
    }
}

/// Where the scheduler placed a running node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    /// Threads the node may use.
    pub threads: usize,
    /// The GPU index assigned to a node whose resources ask for a GPU.
    pub gpu: Option<usize>,
}

impl Default for Placement {
    fn default() -> Self {
        Self {
            threads: 1,
            gpu: None,
        }
    }
}

impl Placement {
    /// The device a stage that asked for `requested` runs on: a CUDA request runs on the GPU
    /// the scheduler assigned (the index in the recipe only says "a GPU"); the CPU stays the
    /// CPU.
    pub fn device(&self, requested: DeviceSpec) -> DeviceSpec {
        match (requested, self.gpu) {
            (DeviceSpec::Cuda(_), Some(g)) => DeviceSpec::Cuda(g),
            (other, _) => other,
        }
    }
}

/// Replaces each placement field of `canonical` by its device class (`cuda:3` -> `cuda`), so
/// that where a node runs does not enter its key.
pub(super) fn placement_free(
    canonical: &mut std::collections::BTreeMap<String, serde_json::Value>,
    fields: &[&str],
) {
    for field in fields {
        if let Some(serde_json::Value::String(s)) = canonical.get_mut(*field)
            && let Ok(DeviceSpec::Cuda(_)) = s.parse::<DeviceSpec>()
        {
            *s = "cuda".to_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cuda_request_runs_on_the_assigned_gpu_and_the_cpu_stays() {
        let p = Placement {
            threads: 4,
            gpu: Some(1),
        };
        assert_eq!(p.device(DeviceSpec::Cuda(0)), DeviceSpec::Cuda(1));
        assert_eq!(p.device(DeviceSpec::Cpu), DeviceSpec::Cpu);
        let unplaced = Placement::default();
        assert_eq!(unplaced.device(DeviceSpec::Cuda(2)), DeviceSpec::Cuda(2));
    }

    #[test]
    fn placement_fields_keep_only_the_device_class() {
        let mut c = std::collections::BTreeMap::new();
        c.insert("device".to_owned(), serde_json::json!("cuda:3"));
        c.insert("other".to_owned(), serde_json::json!("cuda:3"));
        placement_free(&mut c, &["device"]);
        assert_eq!(c["device"], serde_json::json!("cuda"));
        assert_eq!(c["other"], serde_json::json!("cuda:3"));
        let mut cpu = std::collections::BTreeMap::new();
        cpu.insert("device".to_owned(), serde_json::json!("cpu"));
        placement_free(&mut cpu, &["device"]);
        assert_eq!(cpu["device"], serde_json::json!("cpu"));
    }
}
