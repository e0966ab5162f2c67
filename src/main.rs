use clap::Parser;

fn main() {
    let cli = codex_shim::cli::Cli::parse();
    match codex_shim::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("codex-shim: {e:#}");
            std::process::exit(1);
        }
    }
}
