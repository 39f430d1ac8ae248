//! `mcpgw`: see `mcpgw --help`.

use std::process::ExitCode;

use clap::Parser;
use mcpgw_cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match mcpgw_cli::run::run(cli, &mut std::io::stdout().lock()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
