use clap::Parser;

fn main() -> std::process::ExitCode {
    match relay::cli::run(relay::cli::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("relay: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
