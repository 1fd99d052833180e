//! The `packyard` command: serve, migrate, bootstrap administration, export the schema.
use std::{
    io::{IsTerminal, Read},
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
};

use clap::{Parser, Subcommand};
use packyard::{
    auth::Actor,
    config::Config,
    domain::{Domain, OwnerName, tokens::TokenRequest},
};

#[derive(Parser)]
#[command(name = "packyard", version, about = "A self-hosted package registry")]
struct Cli {
    /// A TOML file with settings; PACKYARD_* environment variables override it.
    #[arg(long, global = true, env = "PACKYARD_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrations run first).
    Serve,
    /// Run pending database migrations and exit.
    Migrate,
    /// Bootstrap users, organizations and tokens.
    #[command(subcommand)]
    Admin(Admin),
    /// Purge deletions past the restore period and unreferenced blobs.
    Gc {
        /// Hours an unreferenced blob is kept before it is removed.
        #[arg(long, default_value_t = 24)]
        grace_hours: i64,
        /// The grace period in seconds instead (tests of collections racing publishes).
        #[arg(long, conflicts_with = "grace_hours")]
        grace_secs: Option<i64>,
    },
    /// Print the GraphQL schema (SDL).
    ExportSchema,
}

#[derive(Subcommand)]
enum Admin {
    /// Create a user. A password (needed only for `npm login`) is read from standard input
    /// when it is piped in (`echo secret | packyard admin create-user alice`).
    CreateUser {
        login: String,
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        email: Option<String>,
    },
    /// Create an organization owned by a user.
    CreateOrg {
        login: String,
        #[arg(long)]
        owner: String,
    },
    /// Create a repository OWNER/NAME (a user's or an organization's); Maven packages are
    /// deployed into one (`/maven/OWNER/NAME`). Private unless `--public`.
    CreateRepository {
        repository: String,
        #[arg(long)]
        public: bool,
        #[arg(long)]
        description: Option<String>,
    },
    /// Create an access token for a user and print it (shown once).
    CreateToken {
        user: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "read:packages,write:packages,delete:packages")]
        scopes: String,
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
    /// Print an owner's storage, this month's transfer, the last 30 days and its quotas.
    Usage { owner: String },
    /// Set an owner's quotas in bytes (storage; transfer per month). Omitted or
    /// `unlimited`: no limit; 0 allows nothing.
    SetQuota {
        owner: String,
        #[arg(long)]
        storage: Option<String>,
        #[arg(long)]
        transfer: Option<String>,
    },
    /// Apply the retention policies now (every owner's, or OWNER's) and list what they
    /// deleted (softly: restorable for the restore period).
    ApplyRetention { owner: Option<String> },
}

#[tokio::main]
async fn main() -> ExitCode {
    packyard::telemetry::init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    if let Command::ExportSchema = cli.command {
        print!("{}", packyard::graphql::schema_sdl());
        return Ok(());
    }
    let config = Config::load(cli.config.as_deref()).map_err(|e| e.to_string())?;
    match cli.command {
        Command::Serve => packyard::serve(config).await,
        Command::Migrate => {
            Domain::open(Arc::new(config)).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Gc {
            grace_hours,
            grace_secs,
        } => {
            let domain = Domain::open(Arc::new(config)).await?;
            let grace = grace_secs.map_or(chrono::Duration::hours(grace_hours), |s| {
                chrono::Duration::seconds(s)
            });
            let report = domain
                .collect_garbage(grace)
                .await
                .map_err(|e| e.to_string())?;
            if report.skipped {
                println!("another collection is running (a replica's): nothing done");
                return Ok(());
            }
            println!(
                "purged {} packages and {} versions; removed {} blobs and {} stale uploads",
                report.packages_purged,
                report.versions_purged,
                report.blobs_removed,
                report.uploads_removed
            );
            Ok(())
        }
        Command::Admin(admin) => {
            let domain = Domain::open(Arc::new(config)).await?;
            run_admin(&domain, admin).await.map_err(|e| e.to_string())
        }
        Command::ExportSchema => Ok(()),
    }
}

async fn run_admin(domain: &Domain, admin: Admin) -> Result<(), packyard::error::DomainError> {
    match admin {
        Admin::CreateUser {
            login,
            admin,
            email,
        } => {
            let login = OwnerName::parse(&login)?;
            // A piped password is read; an interactive terminal means "no password".
            let password = if std::io::stdin().is_terminal() {
                None
            } else {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                Some(text.trim_end_matches(['\r', '\n']).to_string()).filter(|p| !p.is_empty())
            };
            let user = domain
                .create_user(&login, email, password.as_deref(), admin)
                .await?;
            println!(
                "created user {} (id {}){}",
                user.login,
                user.id,
                if user.site_admin { ", site admin" } else { "" }
            );
        }
        Admin::CreateOrg { login, owner } => {
            let login = OwnerName::parse(&login)?;
            let owner = OwnerName::parse(&owner)?;
            let owner_info = domain.find_account(&owner).await?;
            // The CLI acts as the owner with every scope: it is the bootstrap path.
            let actor = Actor::User {
                id: owner_info.id,
                login: owner_info.login.clone(),
                site_admin: true,
                token: None,
            };
            let org = domain.create_organization(&actor, &login, &owner).await?;
            println!(
                "created organization {} (id {}) owned by {}",
                org.login, org.id, owner
            );
        }
        Admin::CreateRepository {
            repository,
            public,
            description,
        } => {
            let (owner, name) = repository.split_once('/').ok_or_else(|| {
                packyard::error::DomainError::invalid("name the repository as OWNER/NAME")
            })?;
            let owner = OwnerName::parse(owner)?;
            let owner_info = domain.find_account(&owner).await?;
            // The CLI acts as a site admin: it is the bootstrap path.
            let actor = Actor::User {
                id: owner_info.id,
                login: owner_info.login.clone(),
                site_admin: true,
                token: None,
            };
            let visibility = if public {
                packyard::domain::Visibility::Public
            } else {
                packyard::domain::Visibility::Private
            };
            let repo = domain
                .create_repository(&actor, &owner, name, visibility, description)
                .await?;
            println!(
                "created repository {}/{} (id {}, {})",
                repo.owner_login, repo.name, repo.id, repo.visibility
            );
        }
        Admin::CreateToken {
            user,
            name,
            scopes,
            expires_in_days,
        } => {
            let login = OwnerName::parse(&user)?;
            let request = TokenRequest {
                name,
                scopes,
                expires_in_days,
                ..Default::default()
            };
            let (info, secret) = domain.issue_user_token(&login, &request).await?;
            eprintln!(
                "created token {} for {} with scopes {}",
                info.display_prefix,
                login,
                info.scopes.join(",")
            );
            println!("{secret}");
        }
        Admin::Usage { owner } => {
            let owner = domain.find_account(&OwnerName::parse(&owner)?).await?;
            print!(
                "{}",
                packyard::domain::usage::render_report(&domain.usage_report(&owner).await?)
            );
        }
        Admin::SetQuota {
            owner,
            storage,
            transfer,
        } => {
            let login = OwnerName::parse(&owner)?;
            let account = domain.find_account(&login).await?;
            // The CLI acts with a site admin's rights, as the owner (the bootstrap path).
            let actor = Actor::User {
                id: account.id,
                login: account.login.clone(),
                site_admin: true,
                token: None,
            };
            let quota = packyard::domain::usage::Quota {
                storage_bytes: packyard::domain::usage::parse_quota(storage.as_deref())?,
                transfer_bytes: packyard::domain::usage::parse_quota(transfer.as_deref())?,
            };
            let report = domain.set_quota(&actor, &login, quota).await?;
            print!("{}", packyard::domain::usage::render_report(&report));
        }
        Admin::ApplyRetention { owner } => {
            let owner = owner.as_deref().map(OwnerName::parse).transpose()?;
            let report = domain.apply_retention_by_operator(owner.as_ref()).await?;
            print!("{}", packyard::domain::retention::render_report(&report));
        }
    }
    Ok(())
}
