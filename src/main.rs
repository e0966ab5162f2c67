use clap::Parser;

// The server allocates and frees many small buffers per streamed event; mimalloc does that with
// less CPU than glibc's allocator under concurrency (see the README's Performance section).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
