//! What a stage consumes and produces, as the graph builder and executor see it.

pub use crate::cache::{OutputDecl, OutputKind};

/// How many references an input slot takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Exactly one.
    One,
    /// Zero or one.
    Optional,
    /// One or more, in order.
    Many,
    /// May be wired, but is not read with these parameters (`vectors` of an MLM with
    /// `init = "random"`, so that a sweep variant of an aligned node can keep the wiring):
    /// the graph leaves it out of the node's inputs and key.
    Unused,
}

/// A named input slot.
#[derive(Debug, Clone)]
pub struct InputSlot {
    /// Slot name, as written under `inputs`.
    pub name: String,
    /// How many references it takes.
    pub arity: Arity,
}

/// A stage's inputs and outputs for given parameters.
#[derive(Debug, Clone, Default)]
pub struct Signature {
    /// Input slots.
    pub inputs: Vec<InputSlot>,
    /// Outputs.
    pub outputs: Vec<OutputDecl>,
    /// Accepts input slots of any name (each taking any number of references), for stages
    /// like `command` whose inputs are whatever the recipe binds.
    pub any_inputs: bool,
}

impl Signature {
    /// Adds an input slot.
    #[must_use]
    pub fn input(mut self, name: &str, arity: Arity) -> Self {
        self.inputs.push(InputSlot {
            name: name.to_owned(),
            arity,
        });
        self
    }

    /// Adds a file output.
    #[must_use]
    pub fn file(mut self, name: &str) -> Self {
        self.outputs.push(OutputDecl {
            name: name.to_owned(),
            kind: OutputKind::File,
        });
        self
    }

    /// Adds a directory output.
    #[must_use]
    pub fn dir(mut self, name: &str) -> Self {
        self.outputs.push(OutputDecl {
            name: name.to_owned(),
            kind: OutputKind::Dir,
        });
        self
    }

    /// The slot called `name` (any name when [`Self::any_inputs`]).
    pub fn slot(&self, name: &str) -> Option<InputSlot> {
        match self.inputs.iter().find(|s| s.name == name) {
            Some(slot) => Some(slot.clone()),
            None if self.any_inputs => Some(InputSlot {
                name: name.to_owned(),
                arity: Arity::Many,
            }),
            None => None,
        }
    }

    /// The output called `name`.
    pub fn output(&self, name: &str) -> Option<&OutputDecl> {
        self.outputs.iter().find(|o| o.name == name)
    }
}
