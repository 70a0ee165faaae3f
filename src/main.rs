//! The `unmt` binary: parse arguments, run, render any error once.

use clap::Parser;

fn main() {
    // Rust ignores SIGPIPE, so printing into a closed pipe (`unmt stages | head`) panicked
    // with "Broken pipe"; the default action ends the process quietly, as for any Unix tool.
    // SAFETY: `signal` with `SIG_DFL` is async-signal-safe and runs before any thread starts.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    unmt::backend::tune_cpu_allocator();
    let cli = unmt::cli::Cli::parse();
    let _ = miette::set_hook(Box::new(|_| {
        use std::io::IsTerminal;
        let tty = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Box::new(
            miette::MietteHandlerOpts::new()
                .terminal_links(false)
                .unicode(true)
                .color(tty)
                .width(100)
                .build(),
        )
    }));
    // Every published result is complete and every attempt lives in a partial directory, so
    // stopping at any instant is safe. SIGINT, SIGTERM and SIGHUP (ctrlc's `termination`):
    // the external programs of `command` nodes end with unmt, so none writes into the cache
    // after it is gone; training loops first finish their step and write a checkpoint (a
    // second signal leaves at once, losing at most the work since the last checkpoint).
    let _ = ctrlc::set_handler(|| {
        static AGAIN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if AGAIN.swap(true, std::sync::atomic::Ordering::SeqCst) {
            eprintln!(
                "\ninterrupted again: leaving now; training resumes from its last checkpoint"
            );
            std::process::exit(130);
        }
        // Node processes (`--executor subprocess`) get SIGTERM and stop as this one does.
        let processes = unmt::stages::children::terminate_all();
        unmt::exec::runner::slurm::cancel_all();
        let training = unmt::train::stop::request();
        if training + processes == 0 {
            eprintln!("\ninterrupted: nothing partial was published; rerun to continue");
            std::process::exit(130);
        }
        let what = match (training, processes) {
            (t, 0) => format!("{t} training run(s)"),
            (0, p) => format!("{p} node process(es)"),
            (t, p) => format!("{t} training run(s) and {p} node process(es)"),
        };
        eprintln!(
            "\ninterrupted: {what} stop after the current step and write a checkpoint \
             (interrupt again to leave now)"
        );
        std::thread::spawn(|| {
            let limit = std::time::Duration::from_secs(600);
            let t0 = std::time::Instant::now();
            if unmt::train::stop::wait_idle(limit)
                && unmt::stages::children::wait_graceful(limit.saturating_sub(t0.elapsed()))
            {
                eprintln!("interrupted: checkpoint written; rerun to continue from it");
            } else {
                eprintln!("interrupted: no checkpoint after 10 minutes; leaving without one");
            }
            std::process::exit(130);
        });
    });
    let code = match unmt::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            let code = e.exit_code();
            eprintln!("{:?}", miette::Report::new(e));
            code
        }
    };
    std::process::exit(code);
}
