//! `lashing`: a drop-in replacement for runc's command line, on top of the `lashing` library.
//!
//! The CLI is thin: it parses the command line ([`cli`]), calls the library (one file per command
//! in [`commands`]) and prints. Errors are logged as one runc/logrus-compatible line
//! ([`logging`]) and give exit status 1, as with runc.

mod cli;
mod commands;
mod error;
mod globals;
mod logging;
mod notify_socket;
mod signals;
mod sys;
mod tty;

/// The musl build's allocator (`sys::alloc` says why).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOC: sys::alloc::Allocator = sys::alloc::Allocator::new();

use clap::error::ErrorKind;

use crate::cli::{Cli, Command};

fn main() {
    // Must come first: when this process was started by lashing as a container's init, this
    // takes over and never returns.
    lashing::init();
    let entry = lashing::waterfall::now();
    std::process::exit(real_main(entry));
}

/// Parses, dispatches and returns the exit status. `entry`: when `main` began (the start
/// waterfall's first stamp, `--debug`).
fn real_main(entry: u64) -> i32 {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::parse_from(argv.iter().cloned()) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                return 0;
            }
            // As runc: an error in the command's options is logged to `--log` too (where
            // containerd's shim reads the runtime's last error).
            if let Some(g) = Cli::global_options(&argv)
                && g.log.is_some()
                && let Ok(format) = g.log_format()
                && logging::init(format, g.log.as_deref(), false).is_ok()
            {
                tracing::error!("{}", cli::usage_error(&e));
            }
            return 1;
        }
    };
    if cli.version {
        print!("{}", cli::version_text());
        return 0;
    }
    let Some(command) = &cli.command else {
        let _ = Cli::full_command().print_help();
        return 0;
    };
    // Before anything is opened: which of the fds the caller passes are really open (a closed
    // one must not be filled by an fd of ours and preserved into the container).
    let passed = match command {
        Command::Create(a) => commands::create::passed_fd_count(a.create.preserve_fds, true),
        Command::Run(a) => commands::create::passed_fd_count(a.create.preserve_fds, true),
        Command::Exec(a) => commands::create::passed_fd_count(a.preserve_fds, false),
        _ => 0,
    };
    if let Err(e) = sys::reserve_inherited_fds(passed) {
        eprintln!(
            "reserve the range of passed fds (3..{}): {e}",
            3 + u64::from(passed)
        );
        // runc's status for any failure of exec is 255.
        return if matches!(command, Command::Exec(_)) {
            255
        } else {
            1
        };
    }
    let format = match cli.log_format() {
        Ok(f) => f,
        Err(v) => {
            // As runc: logrus's default (text lines on stderr) reports it; no log file is made.
            if logging::init(logging::LogFormat::Text, None, cli.debug).is_ok() {
                tracing::error!("invalid log-format: {v}");
            } else {
                eprintln!("invalid log-format: {v}");
            }
            return 1;
        }
    };
    if let Err(e) = logging::init(format, cli.log.as_deref(), cli.debug) {
        eprintln!("{}", e.message());
        return 1;
    }
    // --debug: every phase's time, logged when the command is done (`lashing::waterfall`).
    if cli.debug {
        lashing::waterfall::enable();
        lashing::waterfall::mark_at("lashing main", entry);
        lashing::waterfall::mark("command line parsed, logging set up");
    }
    // Unknown commands and help topics: runc's error line and status 3.
    let help = match command {
        Command::Unknown(words) => Some(cli::HelpOutcome::NoTopic(cli::no_help_topic(
            words.first().map_or("", String::as_str),
        ))),
        Command::Help(h) => Some(cli::help(&h.topic)),
        _ => None,
    };
    match help {
        Some(cli::HelpOutcome::Text(t)) => {
            print!("{t}");
            return 0;
        }
        Some(cli::HelpOutcome::NoTopic(msg)) => {
            tracing::error!("{msg}");
            if cli.log.is_some() {
                // The message ends with a newline already, as runc's.
                eprint!("{msg}");
            }
            return cli::NO_HELP_TOPIC_STATUS;
        }
        None => {}
    }
    if let Err((hint, e)) = cli.prepare_xdg_root() {
        eprintln!("{hint}");
        tracing::error!("{e}");
        return 1;
    }
    let g = cli.globals();
    let result = match command {
        Command::Checkpoint(a) => commands::checkpoint::run(&g, a),
        Command::Create(a) => commands::create::run(&g, a),
        Command::Delete(a) => commands::delete::run(&g, a),
        Command::Events(a) => commands::events::run(&g, a),
        Command::Exec(a) => commands::exec::run(&g, a),
        Command::Kill(a) => commands::kill::run(&g, a),
        Command::List(a) => commands::list::run(&g, a),
        Command::Pause(a) => commands::pause::run(&g, a),
        Command::Ps(a) => commands::ps::run(&g, a),
        Command::Restore(a) => commands::restore::run(&g, a),
        Command::Resume(a) => commands::resume::run(&g, a),
        Command::Run(a) => commands::run::run(&g, a),
        Command::Spec(a) => commands::spec::run(&g, a),
        Command::Start(a) => commands::start::run(&g, a),
        Command::State(a) => commands::state::run(&g, a),
        Command::Update(a) => commands::update::run(&g, a),
        Command::Features(a) => commands::features::run(&g, a),
        Command::Init(a) => commands::init::run(&g, a),
        Command::Help(_) | Command::Unknown(_) => Ok(0),
    };
    if cli.debug {
        lashing::waterfall::mark("command done");
        lashing::waterfall::report();
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            let msg = e.message();
            tracing::error!("{msg}");
            // As runc: with --log, the error also goes to stderr, plain.
            if cli.log.is_some() {
                eprintln!("{msg}");
            }
            e.status()
        }
    }
}
