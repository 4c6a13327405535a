//! The libcontainer walk on an OCI bundle: `cargo run --example run -- BUNDLE STATE_ROOT ID`.
//! Creates the container, starts it, lets it run, waits for it and removes it.

use lashing::config::CreateOpts;
use lashing::{Config, Container, Process};

fn main() {
    lashing::init();
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: {} BUNDLE STATE_ROOT ID", args[0]);
        std::process::exit(2);
    }
    let code = match walk(&args[1], &args[2], &args[3]) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn walk(bundle: &str, root: &str, id: &str) -> Result<i32, lashing::Error> {
    let bundle = std::fs::canonicalize(bundle).map_err(|e| lashing::Error::Io {
        op: "open bundle",
        path: bundle.into(),
        source: e,
    })?;
    let config = Config::from_bundle(&CreateOpts {
        bundle,
        ..Default::default()
    })?;
    let mut process = Process::from_config(&config.process);
    let mut container = Container::create(root, id, config)?;
    let started = container
        .start(&mut process)
        .and_then(|()| container.release());
    if let Err(e) = started {
        let _ = container.force_destroy();
        return Err(e);
    }
    let status = process.wait()?;
    container.destroy()?;
    Ok(status.code())
}
