//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::values::serde_value;
use crate::graph::Format;
use crate::results::render::Format as ReportFormat;

/// Unsupervised machine translation research pipelines from TOML recipes.
#[derive(Debug, Parser)]
#[command(name = "unmt", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a recipe without running anything.
    Check {
        #[command(flatten)]
        recipe: RecipeArg,
    },
    /// Print the recipe as the engine reads it (after `extends`, `[vars]`, `--set` and
    /// `foreach`), each value with the file and line it came from.
    Config {
        #[command(flatten)]
        recipe: RecipeArg,
    },
    /// List every node as reuse / run (with the reason) / blocked.
    Plan {
        #[command(flatten)]
        recipe: RecipeArg,
        #[command(flatten)]
        cache: CacheArg,
        /// `default` (baseline + one sweep change at a time), `baseline`, or a `[plans]` name.
        #[arg(long)]
        plan: Option<String>,
        /// Print a JSON array of {node, stage, action, reason, key}.
        #[arg(long)]
        json: bool,
        /// GPU slots available.
        #[arg(long, default_value_t = default_gpus())]
        gpus: usize,
    },
    /// Run a recipe: execute what the plan says, reuse the rest.
    Run {
        #[command(flatten)]
        recipe: RecipeArg,
        #[command(flatten)]
        cache: CacheArg,
        /// Run only these nodes and what they need (names, or patterns with `*` and `?`:
        /// `'mlm[*]'` is every variant of `mlm`).
        targets: Vec<String>,
        /// Run these nodes again even if cached (names or patterns; repeatable). Their
        /// consumers rerun only if an output changes.
        #[arg(long, value_name = "NODE")]
        force: Vec<String>,
        /// `default` (baseline + one sweep change at a time), `baseline`, or a `[plans]` name.
        #[arg(long)]
        plan: Option<String>,
        /// Nodes executing at once.
        #[arg(long, short = 'j', default_value_t = 1)]
        jobs: usize,
        /// GPU slots: nodes that need a GPU executing at once.
        #[arg(long, default_value_t = default_gpus())]
        gpus: usize,
        /// Go on with independent nodes after a failure.
        #[arg(long)]
        keep_going: bool,
        /// Where nodes run: `threads` of this process, a `subprocess` per node (`unmt
        /// exec-node`; a crash of a stage cannot take the run down), or a `slurm` batch job
        /// per node (the cache must be on storage the compute nodes share).
        #[arg(long, value_parser = serde_value::<ExecutorKind>, default_value = "threads")]
        executor: ExecutorKind,
        /// Slurm partition (`sbatch --partition`) for `--executor slurm`.
        #[arg(long)]
        partition: Option<String>,
        /// Slurm account (`sbatch --account`) for `--executor slurm`.
        #[arg(long)]
        account: Option<String>,
        /// Print events as JSON lines, ending with {"summary": ...}.
        #[arg(long)]
        json: bool,
    },
    /// Why does a node (re)run? A field-level diff of its stored and current key material.
    Explain {
        #[command(flatten)]
        recipe: RecipeArg,
        #[command(flatten)]
        cache: CacheArg,
        /// The node name (variants: `name[axis=value]`).
        node: String,
        /// The plan the node belongs to.
        #[arg(long)]
        plan: Option<String>,
    },
    /// Print the plan's DAG as Graphviz dot or Mermaid, coloured by planned action.
    Graph {
        #[command(flatten)]
        recipe: RecipeArg,
        #[command(flatten)]
        cache: CacheArg,
        /// Output syntax.
        #[arg(long, value_parser = serde_value::<Format>, default_value = "dot")]
        format: Format,
        /// The plan to draw.
        #[arg(long)]
        plan: Option<String>,
    },
    /// Tables and plots of a plan's results from the cache: the recipe's `[report.*]`
    /// tables with paired bootstrap p-values, a variant x metric table per stage, learning
    /// curves. Runs nothing; nodes without a result are listed with the command that runs them.
    Report {
        #[command(flatten)]
        recipe: RecipeArg,
        #[command(flatten)]
        cache: CacheArg,
        /// `default` (baseline + one sweep change at a time), `baseline`, or a `[plans]` name.
        #[arg(long)]
        plan: Option<String>,
        /// What to print (without `--out`).
        #[arg(long, value_parser = serde_value::<ReportFormat>, default_value = "md")]
        format: ReportFormat,
        /// Write every format and the SVG figures into this directory instead
        /// (`report.md`, `report.csv`, `report.json`, `report.html`, `plots/*.svg`).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Show a cached result: paths, record, metrics. NODE is a node name or a key prefix.
    Show {
        #[command(flatten)]
        cache: CacheArg,
        /// Node name (its last result) or key prefix.
        node: String,
        /// The result this recipe last used under that name.
        #[arg(long)]
        recipe: Option<PathBuf>,
        /// Print the record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete cached results that no current recipe reaches.
    Gc {
        #[command(flatten)]
        cache: CacheArg,
        /// Recipes whose results to keep (default: every `recipes/**/*.toml`; one of those
        /// that does not load keeps what its last runs used).
        recipes: Vec<PathBuf>,
        /// Also keep, for each node name, the N most recent results no current plan
        /// reaches (the variants before a config edit).
        #[arg(long, value_name = "N", default_value_t = 0)]
        keep_last: usize,
        /// Keep results that recipes outside the set used in the last D days, and
        /// checkpoints of interrupted runs written in that time.
        #[arg(long, value_name = "D", default_value_t = 7)]
        keep_days: u64,
        /// Only report what would be deleted.
        #[arg(long)]
        dry_run: bool,
        /// Delete also when that is most of the cache (more than half of its objects, over
        /// 10, or more than 10 GiB); without it `gc` then only reports.
        #[arg(long)]
        yes: bool,
        /// Wait for running `unmt run`s to finish instead of refusing.
        #[arg(long)]
        wait: bool,
    },
    /// Check every cached result against its record (re-hashing its outputs), as
    /// `git fsck` does; exits 1 if any fails.
    Verify {
        #[command(flatten)]
        cache: CacheArg,
        /// Move each object that fails to `quarantine/` (its node runs again on the next
        /// `run`, its children reused if it reproduces the recorded bytes).
        #[arg(long)]
        repair: bool,
        /// Re-hash only outputs whose size or modification time changed since publishing
        /// (what every reuse checks) instead of every output.
        #[arg(long)]
        quick: bool,
        /// Print a JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Run one node's unit of work (a job file the scheduler wrote) and report on stdout as
    /// JSON lines; what the subprocess and Slurm runners start.
    #[command(hide = true)]
    ExecNode {
        /// The job file.
        job: PathBuf,
    },
    /// List the stage kinds (or one) with their input slots, outputs and parameters.
    Stages {
        /// Only this stage kind.
        kind: Option<String>,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Moses tokenization (or `--detok`) of stdin to stdout, as XLM preprocesses text.
    Tokenize(super::tokenize::TokenizeArgs),
    /// fastBPE-compatible BPE: `learn`, `apply`, `vocab`.
    Bpe(super::bpe::BpeArgs),
    /// fastText skip-gram subword embeddings (`.vec` + safetensors).
    Skipgram(super::skipgram::SkipgramArgs),
    /// BLEU / chrF / chrF++ like the `sacrebleu` CLI, with paired significance tests.
    Score(super::score::ScoreArgs),
    /// Map two `.vec` files into one space (VecMap `--identical` / `--supervised`).
    Vecmap(super::vecmap::VecmapArgs),
    /// XLM token ids of BPE-segmented text, as the `binarize` stage writes them (the
    /// `--train` / `--valid` files of `unmt train-mlm`).
    Binarize(super::binarize::BinarizeArgs),
    /// Bilingual lexicon induction P@1/5/10 (NN, CSLS) of two `.vec` files on a dictionary.
    Bli(super::bli::BliArgs),
    /// Train one masked LM (XLM's MLM; random or aligned embeddings) outside a recipe.
    TrainMlm(super::train_mlm::TrainMlmArgs),
    /// Train UNMT (denoising + back-translation) from an MLM checkpoint outside a recipe.
    TrainUnmt(super::train_unmt::TrainUnmtArgs),
    /// Translate raw text from stdin with a UNMT model (beam search), line by line.
    Translate(super::translate::TranslateArgs),
    /// Copy a cached `unmt` node's model, vocabulary, BPE codes and tokenization settings
    /// into a new directory that `unmt translate --model DIR` reads on any machine.
    Export {
        #[command(flatten)]
        cache: CacheArg,
        /// The `unmt` node (name or key prefix, as for `unmt show`).
        node: String,
        /// The directory to create (must not exist).
        dir: std::path::PathBuf,
    },
}

/// A recipe file and the variables set for it on the command line.
#[derive(Debug, Clone, clap::Args)]
pub struct RecipeArg {
    /// The recipe file.
    pub recipe: PathBuf,
    /// Set a recipe variable, `vars.NAME=VALUE` (VALUE is TOML, or else a string; repeatable).
    #[arg(long = "set", value_name = "vars.NAME=VALUE")]
    pub set: Vec<String>,
}

/// The cache directory, on the commands that read or write it.
#[derive(Debug, Clone, clap::Args)]
pub struct CacheArg {
    /// The cache directory.
    #[arg(long, env = "UNMT_CACHE", default_value = "cache", value_name = "DIR")]
    pub cache: PathBuf,
}

/// One GPU slot when built with CUDA, none otherwise.
fn default_gpus() -> usize {
    usize::from(cfg!(feature = "cuda"))
}

/// `unmt run --executor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorKind {
    /// Threads of this process.
    Threads,
    /// One `unmt exec-node` process per node.
    Subprocess,
    /// One Slurm batch job per node.
    Slurm,
}
