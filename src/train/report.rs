//! One rendering of the training event stream, shared by the stages (node bar and status
//! line) and the plain commands (an indicatif bar): what to log, how far the epoch is, and
//! the status line beside the bar.

use super::scaffold::TrainEvent;

/// Where a training run's events go.
pub trait TrainSink {
    /// A line for the log.
    fn log(&mut self, line: &str);
    /// Progress of the current epoch (`epoch` is 1-based).
    fn progress(&mut self, epoch: usize, done: u64, total: u64, status: &str);
    /// An epoch ended; the next one starts.
    fn epoch_done(&mut self, epoch: usize);
}

/// Routes events to a sink, tracking the epoch number for progress lines.
pub struct Reporter<S> {
    sink: S,
    epoch: usize,
}

impl<S: TrainSink> Reporter<S> {
    /// A reporter starting at epoch 1 (a resumed run's first event says otherwise).
    pub fn new(sink: S) -> Self {
        Self { sink, epoch: 1 }
    }

    /// Renders one event.
    pub fn event(&mut self, e: TrainEvent) {
        match e {
            TrainEvent::Log(line) => {
                if let Some(done) = resumed_after(&line) {
                    self.epoch = done + 1;
                }
                self.sink.log(&line);
            }
            TrainEvent::Progress {
                done,
                total,
                loss,
                tokens_per_s,
            } => {
                let status = status_line(loss, tokens_per_s);
                self.sink.progress(self.epoch, done, total, &status);
            }
            TrainEvent::Epoch { epoch, .. } => {
                self.epoch = epoch + 1;
                self.sink.epoch_done(epoch);
            }
        }
    }

    /// The sink back.
    pub fn into_sink(self) -> S {
        self.sink
    }
}

/// The one-line training status shown beside progress bars.
pub fn status_line(loss: f64, tokens_per_s: f64) -> String {
    format!("loss {loss:.3}  {tokens_per_s:.0} tokens/s")
}

fn resumed_after(line: &str) -> Option<usize> {
    line.strip_prefix("resuming after epoch ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Record(Vec<String>);
    impl TrainSink for &mut Record {
        fn log(&mut self, line: &str) {
            self.0.push(format!("log {line}"));
        }
        fn progress(&mut self, epoch: usize, done: u64, total: u64, status: &str) {
            self.0.push(format!("{epoch}: {done}/{total} {status}"));
        }
        fn epoch_done(&mut self, epoch: usize) {
            self.0.push(format!("done {epoch}"));
        }
    }

    #[test]
    fn epochs_are_numbered_from_a_resume() {
        let mut rec = Record::default();
        let mut r = Reporter::new(&mut rec);
        r.event(TrainEvent::Log(
            "resuming after epoch 2 (40 updates)".into(),
        ));
        let progress = TrainEvent::Progress {
            done: 8,
            total: 16,
            loss: 1.5,
            tokens_per_s: 100.0,
        };
        r.event(progress.clone());
        r.event(TrainEvent::Epoch {
            epoch: 3,
            metrics: Default::default(),
        });
        r.event(progress);
        assert_eq!(
            rec.0,
            [
                "log resuming after epoch 2 (40 updates)",
                "3: 8/16 loss 1.500  100 tokens/s",
                "done 3",
                "4: 8/16 loss 1.500  100 tokens/s",
            ]
        );
    }
}
