use tracing_subscriber::prelude::*;

/// `eprintln!` that never panics (a standard error that cannot be written loses the line).
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

fn main() {
    // Errors are printed as their plain chain, never with a backtrace; capturing one anyway (as
    // RUST_BACKTRACE=1 would have every error do) costs ~1.3 s and ~330 MB in a debug build, on every
    // refused file. Panics still honour RUST_BACKTRACE.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // SAFETY: the first statement of main: no other thread exists yet to read the environment.
        unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "0") };
    }
    kockpit::mark_start();
    // A file size limit (`ulimit -f`) is a full disk to kockpit: the write fails (EFBIG) and what it
    // was for is refused, instead of SIGXFSZ killing the process in the middle of it.
    // SAFETY: setting a signal's disposition to ignore, before any thread is started.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cli = match kockpit::cli::parse_args() {
        Ok(cli) => cli,
        Err(e) => {
            // help and --version are answers; anything else is a usage error, never a health verdict
            if e.use_stderr() {
                let _ = e.print();
                std::process::exit(kockpit::cli::EXIT_USAGE);
            }
            // help and --version go to stdout, whose failure is an output error like any other
            use std::io::{IsTerminal, Write};
            let mut out = std::io::stdout().lock();
            let text = if out.is_terminal() { e.render().ansi().to_string() } else { e.render().to_string() };
            let code = match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                Ok(()) => 0,
                Err(io) => {
                    // the code and the word of any other output that cannot be written
                    let e = color_eyre::Report::new(kockpit::cli::OutputError(io));
                    let code = kockpit::cli::exit_code_of(&e);
                    if code != kockpit::cli::EXIT_PIPE {
                        eprintln!("kockpit: {e}");
                    }
                    code
                }
            };
            std::process::exit(code);
        }
    };
    if let Err(e) = color_eyre::install() {
        eprintln!("kockpit: {e}");
    }
    let interactive = cli.command.as_ref().is_none_or(|c| matches!(c, kockpit::cli::Cmd::Demo)) && !cli.print_config_paths;
    init_logging(interactive);
    match kockpit::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let code = kockpit::cli::exit_code_of(&e);
            // whoever read the output went away: nothing to say, and no one to say it to
            if code != kockpit::cli::EXIT_PIPE {
                // Config and plan errors already say file:line:column: what was expected. Print the chain plainly.
                // (escaped: an error quotes the file or argument it is about, whose bytes must not
                // drive the terminal)
                eprintln!("kockpit: {}", kockpit::text::printable(&e.to_string()));
                for cause in e.chain().skip(1) {
                    eprintln!("  caused by: {}", kockpit::text::printable(&cause.to_string()));
                }
            }
            std::process::exit(code);
        }
    }
}

/// In the TUI, kockpit's own log goes to tui-logger (key `l`). Elsewhere the output itself says what
/// failed (a status names every failing source with its reason), so the log stays quiet unless
/// `KOCKPIT_LOG` asks for it (`KOCKPIT_LOG=warn`, `=debug`, `=kockpit::probe=debug`); it goes to stderr,
/// in colour only on a terminal.
fn init_logging(interactive: bool) {
    if interactive {
        let _ = tui_logger::init_logger(tui_logger::LevelFilter::Info);
        tui_logger::set_default_level(tui_logger::LevelFilter::Info);
        let _ = tracing_subscriber::registry().with(tui_logger::TuiTracingSubscriberLayer).try_init();
    } else {
        use std::io::IsTerminal;
        let filter =
            tracing_subscriber::EnvFilter::try_from_env("KOCKPIT_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off"));
        let ansi = std::io::stderr().is_terminal();
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
    }
}
