//! Named parameter tensors <-> safetensors files.
//!
//! A module's float parameters are named by their Burn module path joined with `.`
//! (`layers.0.attention.q_lin.weight`). Linear weights are stored as Burn keeps them,
//! `[d_input, d_output]` (the transpose of PyTorch's `[out, in]`). Files are written to a
//! temporary name and renamed, so a crash never leaves a truncated checkpoint.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::module::{Module, Param};

use super::named::{NamedMapper, NamedVisitor, map_named, visit_named};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use safetensors::Dtype;
use safetensors::tensor::{SafeTensors, TensorView};

/// Errors of reading or writing checkpoints. Messages follow the crate convention (ARCHITECTURE.md, "Errors").
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("failed to {action} checkpoint `{path}`")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid checkpoint for this module.
    #[error("failed to load checkpoint `{path}`: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A float tensor on the host: shape and row-major values.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

impl HostTensor {
    /// Copies a device tensor to the host.
    pub fn from_tensor<B: Backend, const D: usize>(t: &Tensor<B, D>) -> Self {
        let data = t.clone().into_data().convert::<f32>();
        Self {
            shape: data.shape.clone().to_vec(),
            values: data.to_vec::<f32>().unwrap_or_default(),
        }
    }

    /// Uploads to a device tensor of rank `D`.
    pub fn to_tensor<B: Backend, const D: usize>(&self, device: &B::Device) -> Tensor<B, D> {
        Tensor::from_data(
            TensorData::new(self.values.clone(), self.shape.clone()),
            device,
        )
    }
}

/// Every float parameter of `module` by name.
pub fn named_parameters<B: Backend, M: Module<B>>(module: &M) -> BTreeMap<String, HostTensor> {
    struct Collect {
        out: BTreeMap<String, HostTensor>,
    }
    impl<B: Backend> NamedVisitor<B> for Collect {
        fn visit_named<const D: usize>(&mut self, name: &str, param: &Param<Tensor<B, D>>) {
            self.out
                .insert(name.to_owned(), HostTensor::from_tensor(&param.val()));
        }
    }
    let mut c = Collect {
        out: BTreeMap::new(),
    };
    visit_named(module, &mut c);
    c.out
}

/// Replaces every float parameter of `module` by the tensor of the same name. Parameter ids
/// and `require_grad` flags are kept. Fails when a name is missing or a shape differs, or when
/// `tensors` has names the module lacks.
pub fn load_parameters<B: Backend, M: Module<B>>(
    module: M,
    tensors: &BTreeMap<String, HostTensor>,
) -> Result<M, String> {
    struct Load<'a> {
        tensors: &'a BTreeMap<String, HostTensor>,
        used: usize,
        error: Option<String>,
    }
    impl<B: Backend> NamedMapper<B> for Load<'_> {
        fn map_named<const D: usize>(
            &mut self,
            name: &str,
            param: Param<Tensor<B, D>>,
        ) -> Param<Tensor<B, D>> {
            let (id, tensor, mapper) = param.consume();
            let dims = tensor.dims().to_vec();
            let tensor = match self.tensors.get(name) {
                Some(t) if t.shape == dims => {
                    self.used += 1;
                    let fresh = t.to_tensor::<B, D>(&tensor.device());
                    if tensor.is_require_grad() {
                        fresh.require_grad()
                    } else {
                        fresh
                    }
                }
                Some(t) => {
                    self.error.get_or_insert(format!(
                        "`{name}` has shape {:?}, the model expects {dims:?}",
                        t.shape
                    ));
                    tensor
                }
                None => {
                    self.error
                        .get_or_insert(format!("no tensor `{name}` in the checkpoint"));
                    tensor
                }
            };
            Param::from_mapped_value(id, tensor, mapper)
        }
    }
    let mut l = Load {
        tensors,
        used: 0,
        error: None,
    };
    let module = map_named(module, &mut l);
    if let Some(e) = l.error {
        return Err(e);
    }
    if l.used != tensors.len() {
        return Err(format!(
            "the checkpoint has {} tensors, the model {}",
            tensors.len(),
            l.used
        ));
    }
    Ok(module)
}

/// Writes named tensors (plus string metadata) as a safetensors file, atomically.
pub fn write_safetensors(
    path: &Path,
    tensors: &BTreeMap<String, HostTensor>,
    metadata: HashMap<String, String>,
) -> Result<(), CheckpointError> {
    let invalid = |reason: String| CheckpointError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = tensors
        .iter()
        .map(|(k, t)| {
            let b = t.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (k.clone(), b, t.shape.clone())
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(k, b, s)| {
            TensorView::new(Dtype::F32, s.clone(), b)
                .map(|v| (k.as_str(), v))
                .map_err(|e| invalid(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let buf = safetensors::serialize(views, Some(metadata)).map_err(|e| invalid(e.to_string()))?;
    let buf = crate::io::safetensors_sorted_metadata(buf).map_err(invalid)?;
    crate::io::write_atomic(path, &buf).map_err(|source| CheckpointError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })
}

/// Named host tensors.
pub type NamedTensors = BTreeMap<String, HostTensor>;

/// Reads every tensor and the metadata of a safetensors file of f32 tensors.
pub fn read_safetensors(
    path: &Path,
) -> Result<(NamedTensors, HashMap<String, String>), CheckpointError> {
    let invalid = |reason: String| CheckpointError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let buf = std::fs::read(path).map_err(|source| CheckpointError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let (_, meta) = SafeTensors::read_metadata(&buf).map_err(|e| invalid(e.to_string()))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(&buf).map_err(|e| invalid(e.to_string()))?;
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(invalid(format!(
                "`{name}` is {:?}, expected F32",
                view.dtype()
            )));
        }
        let values = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.insert(
            name,
            HostTensor {
                shape: view.shape().to_vec(),
                values,
            },
        );
    }
    Ok((out, metadata))
}

/// Reads only the string metadata of a safetensors file (its header), not the tensors.
pub fn read_metadata(path: &Path) -> Result<HashMap<String, String>, CheckpointError> {
    use std::io::Read;
    let io = |source| CheckpointError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    };
    let invalid = |reason: String| CheckpointError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(io)?;
    let len = usize::try_from(u64::from_le_bytes(len))
        .ok()
        .filter(|&n| n <= 100 << 20)
        .ok_or_else(|| invalid("the header length is not plausible".into()))?;
    let mut header = vec![0u8; len];
    file.read_exact(&mut header).map_err(io)?;
    let value: serde_json::Value =
        serde_json::from_slice(&header).map_err(|e| invalid(format!("header: {e}")))?;
    let Some(meta) = value.get("__metadata__") else {
        return Ok(HashMap::new());
    };
    serde_json::from_value(meta.clone()).map_err(|e| invalid(format!("metadata: {e}")))
}

/// Saves a module's parameters.
pub fn save_module<B: Backend, M: Module<B>>(
    module: &M,
    path: &Path,
    metadata: HashMap<String, String>,
) -> Result<(), CheckpointError> {
    write_safetensors(path, &named_parameters(module), metadata)
}

/// Loads a module's parameters saved by [`save_module`].
pub fn load_module<B: Backend, M: Module<B>>(module: M, path: &Path) -> Result<M, CheckpointError> {
    let (tensors, _) = read_safetensors(path)?;
    load_parameters(module, &tensors).map_err(|reason| CheckpointError::Invalid {
        path: path.to_path_buf(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_content_gives_equal_bytes_whatever_the_metadata_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tensors = NamedTensors::from([
            (
                "b".to_owned(),
                HostTensor {
                    shape: vec![3],
                    values: vec![1.0, 2.0, 3.0],
                },
            ),
            (
                "a".to_owned(),
                HostTensor {
                    shape: vec![1, 2],
                    values: vec![-1.0, 0.5],
                },
            ),
        ]);
        let keys: Vec<String> = (0..12).map(|i| format!("key{i}")).collect();
        let forward: HashMap<String, String> =
            keys.iter().map(|k| (k.clone(), format!("v{k}"))).collect();
        let backward: HashMap<String, String> = keys
            .iter()
            .rev()
            .map(|k| (k.clone(), format!("v{k}")))
            .collect();
        let (p1, p2) = (dir.path().join("1"), dir.path().join("2"));
        write_safetensors(&p1, &tensors, forward.clone()).expect("write");
        write_safetensors(&p2, &tensors, backward).expect("write");
        let bytes = std::fs::read(&p1).expect("read");
        assert_eq!(bytes, std::fs::read(&p2).expect("read"));
        assert_eq!(
            bytes[..8],
            ((bytes.len() - 8 - 3 * 4 - 2 * 4) as u64).to_le_bytes()
        );
        let (back, meta) = read_safetensors(&p1).expect("readable");
        assert_eq!(read_metadata(&p1).expect("header"), meta);
        assert_eq!((back, meta), (tensors, forward));
    }

    #[test]
    fn read_metadata_refuses_a_file_that_is_not_safetensors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("x");
        std::fs::write(&p, b"\xff\xff\xff\xff\xff\xff\xff\x7fjunk").expect("write");
        let e = read_metadata(&p).expect_err("not a header");
        assert!(e.to_string().contains("not plausible"), "{e}");
    }
}
