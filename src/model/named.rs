//! Walking a module's float parameters by name (their Burn module path joined with `.`, as
//! checkpoints name them: `layers.0.attention.q_lin.weight`). Checkpoint loading, the
//! optimiser, gradient masks and trainable filters all need the name of the parameter they
//! see; this is the one place that tracks the path.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// Maps each float parameter, knowing its name.
pub trait NamedMapper<B: Backend> {
    /// Returns the parameter that replaces `param`.
    fn map_named<const D: usize>(
        &mut self,
        name: &str,
        param: Param<Tensor<B, D>>,
    ) -> Param<Tensor<B, D>>;
}

/// Visits each float parameter, knowing its name.
pub trait NamedVisitor<B: Backend> {
    /// Sees `param`.
    fn visit_named<const D: usize>(&mut self, name: &str, param: &Param<Tensor<B, D>>);
}

/// `module` with every float parameter passed through `f` by name.
pub fn map_named<B: Backend, M: Module<B>, F: NamedMapper<B>>(module: M, f: &mut F) -> M {
    module.map(&mut Named {
        path: Vec::new(),
        inner: f,
    })
}

/// Shows every float parameter of `module` to `f` by name.
pub fn visit_named<B: Backend, M: Module<B>, F: NamedVisitor<B>>(module: &M, f: &mut F) {
    module.visit(&mut Named {
        path: Vec::new(),
        inner: f,
    });
}

struct Named<'a, F> {
    path: Vec<String>,
    inner: &'a mut F,
}

impl<B: Backend, F: NamedMapper<B>> ModuleMapper<B> for Named<'_, F> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_owned());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        self.inner.map_named(&self.path.join("."), param)
    }
}

impl<B: Backend, F: NamedVisitor<B>> ModuleVisitor<B> for Named<'_, F> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_owned());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.inner.visit_named(&self.path.join("."), param);
    }
}
