//! XLM's Adam (facebookresearch/XLM `xlm/optim.py`, class `Adam`) with global gradient-norm
//! clipping (`torch.nn.utils.clip_grad_norm_`, XLM `--clip_grad_norm 5`).
//!
//! Burn's own optimizers clip each parameter's gradient separately and key their state by
//! `ParamId`, which does not survive a save/load; XLM clips by the norm over **all**
//! gradients, and resuming needs state keyed by parameter name. So the update is written
//! here, on Burn tensors, as a [`ModuleMapper`].

use std::collections::BTreeMap;

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor};

use crate::model::checkpoint::HostTensor;
use crate::model::named::{NamedMapper, NamedVisitor, map_named, visit_named};

/// Adam hyperparameters. Defaults: XLM's `adam,lr=0.0001` (betas 0.9/0.999, eps 1e-8, no
/// weight decay, constant learning rate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to `sqrt(v)` (after it, as XLM and PyTorch do, not inside the root).
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

/// Adam state: the step count and each parameter's moments (flattened), by parameter name.
#[derive(Debug)]
pub struct Adam<B: Backend> {
    config: AdamConfig,
    step: u64,
    moments: BTreeMap<String, (Tensor<B, 1>, Tensor<B, 1>)>,
}

impl<B: Backend> Adam<B> {
    /// A fresh optimizer.
    pub fn new(config: AdamConfig) -> Self {
        Self {
            config,
            step: 0,
            moments: BTreeMap::new(),
        }
    }

    /// Updates so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Sets the learning rate of the next updates (a schedule calls this before each).
    pub fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// One update of every parameter that has a gradient in `grads`, each gradient first
    /// multiplied by `grad_scale` (the clipping coefficient). Parameters without a gradient
    /// (frozen ones) are left bit-identical.
    pub fn step<AB, M>(&mut self, module: M, grads: &mut GradientsParams, grad_scale: f64) -> M
    where
        AB: AutodiffBackend<InnerBackend = B>,
        M: AutodiffModule<AB>,
    {
        self.step += 1;
        let t = self.step as i32;
        let c = self.config;
        let bias1 = 1.0 - c.beta1.powi(t);
        let bias2 = 1.0 - c.beta2.powi(t);
        // XLM: step_size = lr * sqrt(bias_correction2) / bias_correction1.
        let step_size = c.lr * bias2.sqrt() / bias1;
        let mut mapper = Update::<B> {
            grads,
            moments: &mut self.moments,
            config: c,
            step_size,
            grad_scale,
        };
        map_named(module, &mut mapper)
    }

    /// The state as host tensors (`m.<name>`, `v.<name>`) and the step count, for checkpoints.
    pub fn to_host(&self) -> (BTreeMap<String, HostTensor>, u64) {
        let mut out = BTreeMap::new();
        for (name, (m, v)) in &self.moments {
            out.insert(format!("m.{name}"), HostTensor::from_tensor(m));
            out.insert(format!("v.{name}"), HostTensor::from_tensor(v));
        }
        (out, self.step)
    }

    /// Restores state written by [`Adam::to_host`].
    pub fn from_host(
        config: AdamConfig,
        tensors: &BTreeMap<String, HostTensor>,
        step: u64,
        device: &B::Device,
    ) -> Result<Self, String> {
        let mut moments = BTreeMap::new();
        for (key, m) in tensors {
            let Some(name) = key.strip_prefix("m.") else {
                continue;
            };
            let v = tensors
                .get(&format!("v.{name}"))
                .ok_or_else(|| format!("optimizer state has `m.{name}` but no `v.{name}`"))?;
            moments.insert(
                name.to_owned(),
                (m.to_tensor::<B, 1>(device), v.to_tensor::<B, 1>(device)),
            );
        }
        Ok(Self {
            config,
            step,
            moments,
        })
    }
}

struct Update<'a, B: Backend> {
    grads: &'a mut GradientsParams,
    moments: &'a mut BTreeMap<String, (Tensor<B, 1>, Tensor<B, 1>)>,
    config: AdamConfig,
    step_size: f64,
    grad_scale: f64,
}

impl<AB, B> NamedMapper<AB> for Update<'_, B>
where
    AB: AutodiffBackend<InnerBackend = B>,
    B: Backend,
{
    fn map_named<const D: usize>(
        &mut self,
        name: &str,
        param: Param<Tensor<AB, D>>,
    ) -> Param<Tensor<AB, D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<B, D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let require_grad = tensor.is_require_grad();
        let dims = tensor.dims();
        let n = dims.iter().product::<usize>();
        let c = self.config;
        let g = grad.reshape([n]).mul_scalar(self.grad_scale);
        let device = g.device();
        let (m, v) = self
            .moments
            .remove(name)
            .unwrap_or_else(|| (Tensor::zeros([n], &device), Tensor::zeros([n], &device)));
        let m = m.mul_scalar(c.beta1) + g.clone().mul_scalar(1.0 - c.beta1);
        let v = v.mul_scalar(c.beta2) + (g.clone() * g).mul_scalar(1.0 - c.beta2);
        let update = m.clone() / v.clone().sqrt().add_scalar(c.eps);
        let new = tensor.inner() - update.mul_scalar(self.step_size).reshape(dims);
        self.moments.insert(name.to_owned(), (m, v));
        let mut new = Tensor::from_inner(new);
        if require_grad {
            new = new.require_grad();
        }
        Param::from_mapped_value(id, new, mapper)
    }
}

/// Every gradient in `grads` by parameter name (frozen parameters have none), for checks
/// against a reference implementation.
pub fn named_gradients<AB, M>(module: &M, grads: &GradientsParams) -> BTreeMap<String, HostTensor>
where
    AB: AutodiffBackend,
    M: AutodiffModule<AB>,
{
    struct Collect<'a> {
        grads: &'a GradientsParams,
        out: BTreeMap<String, HostTensor>,
    }
    impl<AB: AutodiffBackend> NamedVisitor<AB> for Collect<'_> {
        fn visit_named<const D: usize>(&mut self, name: &str, param: &Param<Tensor<AB, D>>) {
            if let Some(g) = self.grads.get::<AB::InnerBackend, D>(param.id) {
                self.out
                    .insert(name.to_owned(), HostTensor::from_tensor(&g));
            }
        }
    }
    let mut c = Collect {
        grads,
        out: BTreeMap::new(),
    };
    visit_named(module, &mut c);
    c.out
}

/// Rows of one parameter that train: the gradient of every other row (along the first
/// dimension) is zeroed before clipping and Adam, so only these rows move (RE-LM's
/// "new rows only": the token embedding and output bias of tokens new to a reloaded model).
#[derive(Debug, Clone, PartialEq)]
pub struct RowMask {
    /// The parameter's name (`embeddings.weight`).
    pub param: String,
    /// Per row, whether it trains.
    pub rows: Vec<bool>,
}

/// Applies `masks` to `grads` (parameters found by name in `module`).
pub fn mask_rows<AB, M>(module: &M, grads: &mut GradientsParams, masks: &[RowMask])
where
    AB: AutodiffBackend,
    M: AutodiffModule<AB>,
{
    struct Mask<'a> {
        grads: &'a mut GradientsParams,
        masks: &'a [RowMask],
    }
    impl<AB: AutodiffBackend> NamedVisitor<AB> for Mask<'_> {
        fn visit_named<const D: usize>(&mut self, name: &str, param: &Param<Tensor<AB, D>>) {
            let Some(mask) = self.masks.iter().find(|m| m.param == name) else {
                return;
            };
            let Some(g) = self.grads.remove::<AB::InnerBackend, D>(param.id) else {
                return;
            };
            let dims = g.dims();
            let n = dims[0];
            let width = dims.iter().skip(1).product::<usize>();
            let keep: Vec<f32> = (0..n)
                .map(|i| {
                    if mask.rows.get(i).copied().unwrap_or(true) {
                        1.0
                    } else {
                        0.0
                    }
                })
                .collect();
            let device = g.device();
            let m = Tensor::<AB::InnerBackend, 2>::from_data(
                burn::tensor::TensorData::new(keep, [n, 1]),
                &device,
            );
            let masked = (g.reshape([n, width]) * m).reshape(dims);
            self.grads.register::<AB::InnerBackend, D>(param.id, masked);
        }
    }
    let mut visitor = Mask { grads, masks };
    visit_named(module, &mut visitor);
}

/// The L2 norm over all gradients of `module`'s parameters (one host sync).
pub fn global_grad_norm<AB, M>(module: &M, grads: &GradientsParams) -> f64
where
    AB: AutodiffBackend,
    M: AutodiffModule<AB>,
{
    struct Norm<'a, B: Backend> {
        grads: &'a GradientsParams,
        total: Option<Tensor<B, 1>>,
    }
    impl<AB: AutodiffBackend> ModuleVisitor<AB> for Norm<'_, AB::InnerBackend> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<AB, D>>) {
            if let Some(g) = self.grads.get::<AB::InnerBackend, D>(param.id) {
                let s = (g.clone() * g).sum();
                self.total = Some(match self.total.take() {
                    Some(t) => t + s,
                    None => s,
                });
            }
        }
    }
    let mut norm = Norm::<AB::InnerBackend> { grads, total: None };
    module.visit(&mut norm);
    norm.total
        .map_or(0.0, |t| f64::from(t.into_scalar().elem::<f32>()).sqrt())
}

/// `torch.nn.utils.clip_grad_norm_`'s factor: `max_norm / (norm + 1e-6)` when that is below 1,
/// else 1 (no clipping). `max_norm <= 0` disables clipping (XLM: `clip_grad_norm 0`).
pub fn clip_coefficient(norm: f64, max_norm: f64) -> f64 {
    if max_norm <= 0.0 {
        return 1.0;
    }
    let coef = max_norm / (norm + 1e-6);
    coef.min(1.0)
}
