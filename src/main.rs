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
    // stopping at any instant is safe: say so and leave at once.
    // SIGINT, SIGTERM and SIGHUP (ctrlc's `termination`): the external programs of
    // `command` nodes end with unmt, so none writes into the cache after it is gone.
    let _ = ctrlc::set_handler(|| {
        unmt::stages::children::terminate_all();
        eprintln!("\ninterrupted: nothing partial was published; rerun to continue");
        std::process::exit(130);
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
