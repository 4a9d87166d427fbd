//! The `relay` command line: `serve` (default), `migrate`, `admin`, `demo`,
//! `sla`, `mailgate`.

use crate::app::{Application, Build};
use crate::auth;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Database;
use crate::domain::Role;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "relay",
    version,
    about = "Help-desk ticketing for outsourced, multi-vendor support"
)]
pub struct Cli {
    /// Folder holding default.toml and $RELAY_ENV.toml.
    #[arg(
        long,
        global = true,
        env = "RELAY_CONFIG_DIR",
        default_value = "config"
    )]
    pub config_dir: PathBuf,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API, the web form and the customer pages (the default).
    Serve {
        /// Listen address, overriding `server.bind`.
        #[arg(long)]
        bind: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Administrative tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Fill the database with a realistic demo data set.
    Demo,
    /// SLA tasks.
    Sla {
        #[command(subcommand)]
        command: SlaCommand,
    },
    /// Deliver one raw message from standard input to a running Relay (for an
    /// MTA pipe such as Postfix `pipe` or an alias). Needs no configuration
    /// file or database. Exit status per sysexits: 0 delivered, 75 try again
    /// later (Relay down, 5xx, 429), 65 refused for good (other 4xx).
    Mailgate {
        /// Relay's base URL, e.g. https://relay.example.com
        #[arg(long)]
        url: String,
        /// An intake token (or set RELAY_MAILGATE_TOKEN, which keeps it out
        /// of the process list).
        #[arg(long, env = "RELAY_MAILGATE_TOKEN", hide_env_values = true)]
        token: String,
        /// Queue (slug or id) for tickets this message opens.
        #[arg(long)]
        queue: Option<String>,
        /// Seconds to wait for Relay before giving up (exit 75).
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
        timeout: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Print a new bearer token (only its hash is stored).
    CreateToken {
        #[arg(long)]
        role: Role,
        #[arg(long)]
        name: String,
        /// Email of the agent the token acts for (required for agent and lead).
        #[arg(long)]
        agent: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SlaCommand {
    /// Compute every ticket's clocks again from its history under the
    /// current policies (as `POST /api/v1/sla/recompute` does).
    Recompute {
        /// Closed tickets too.
        #[arg(long)]
        include_closed: bool,
    },
    /// Run one pass of the breach scanner (what the background worker does
    /// every `sla.scan_seconds`) and print what it announced.
    Scan {
        /// Run this many passes back to back in this process, one line
        /// each: after the first, a pass runs as the service's scanner
        /// does, on connections and caches that are already warm.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        passes: u32,
    },
}

impl clap::ValueEnum for Role {
    fn value_variants<'a>() -> &'a [Self] {
        Role::ALL
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.as_str()))
    }
}

pub type CliResult = Result<(), String>;

/// How many connections a one-shot command (migrate, admin, demo) needs:
/// the pool opens all of them at once, and `serve` is the only command that
/// works in parallel.
const ONE_SHOT_POOL_SIZE: u32 = 1;
/// A connection for each worker of a job that runs side by side
/// (`db::workers`: the recompute, the scanner's pass).
const SIDE_BY_SIDE_POOL_SIZE: u32 = 4;

fn open_database(settings: &Settings, max_size: u32) -> Result<Database, String> {
    crate::app::open_database(settings, max_size, Clock::system()).map(|(db, _)| db)
}

pub fn run(cli: Cli) -> CliResult {
    let command = match cli.command {
        // No settings, no database: it only speaks HTTP to a running Relay.
        Some(Command::Mailgate {
            url,
            token,
            queue,
            timeout,
        }) => {
            let code = crate::mailgate::run(&crate::mailgate::MailgateArgs {
                url,
                token,
                queue,
                timeout: Duration::from_secs(timeout),
            });
            if code == crate::mailgate::EX_OK {
                return Ok(());
            }
            // The MTA reads the exit status; the reason is already on stderr.
            std::process::exit(code);
        }
        other => other,
    };
    let mut settings = Settings::load(&cli.config_dir).map_err(|e| e.to_string())?;
    crate::telemetry::init(settings.server.log_format);
    match command.unwrap_or(Command::Serve { bind: None }) {
        Command::Serve { bind } => {
            if let Some(bind) = bind {
                settings.server.bind = bind;
                settings
                    .validate()
                    .map_err(|e| format!("{e} (from --bind)"))?;
            }
            serve(settings)
        }
        Command::Migrate => {
            open_database(&settings, ONE_SHOT_POOL_SIZE).map(|_| println!("database is up to date"))
        }
        Command::Admin {
            command: AdminCommand::CreateToken { role, name, agent },
        } => {
            let db = open_database(&settings, ONE_SHOT_POOL_SIZE)?;
            let mut conn = db.get().map_err(|e| e.to_string())?;
            let issued = crate::db::write_tx(&mut conn, |w| {
                auth::issue_token(w, role, &name, agent.as_deref())
            })
            .map_err(|e| match e {
                crate::error::AppError::Validation(errors) => errors
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; "),
                other => other.to_string(),
            })?;
            println!("{}", issued.secret);
            Ok(())
        }
        Command::Demo => {
            let db = open_database(&settings, ONE_SHOT_POOL_SIZE)?;
            let mut conn = db.get().map_err(|e| e.to_string())?;
            let summary = crate::demo::seed(&mut conn, &settings).map_err(|e| e.to_string())?;
            println!("{summary}");
            Ok(())
        }
        Command::Sla {
            command: SlaCommand::Recompute { include_closed },
        } => {
            let db = open_database(&settings, SIDE_BY_SIDE_POOL_SIZE)?;
            let started = std::time::Instant::now();
            let report =
                crate::tickets::recompute::run(&db, include_closed).map_err(|e| e.to_string())?;
            println!(
                "recomputed {} ticket(s), {} changed, in {:.1} s",
                report.tickets,
                report.changed,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Sla {
            command: SlaCommand::Scan { passes },
        } => {
            let db = open_database(&settings, SIDE_BY_SIDE_POOL_SIZE)?;
            for _ in 0..passes {
                let started = std::time::Instant::now();
                let report = crate::jobs::sla_scanner::run_once(&db, &settings)
                    .map_err(|e| e.to_string())?;
                println!(
                    "scanned {} ticket(s): {} warning(s), {} breach(es), {} escalation(s), in {:.1} ms",
                    report.tickets,
                    report.warnings,
                    report.breaches,
                    report.escalations,
                    started.elapsed().as_secs_f64() * 1000.0
                );
            }
            Ok(())
        }
        Command::Mailgate { .. } => unreachable!("mailgate runs before settings are loaded"),
    }
}

fn serve(settings: Settings) -> CliResult {
    let app = Application::build(settings, Build::production())?;
    actix_web::rt::System::new()
        .block_on(async move { app.start()?.await })
        .map_err(|e| e.to_string())
}
