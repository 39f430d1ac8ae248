//! The command line: global options and every subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The MCP gateway's admin command line (over the gRPC admin API).
#[derive(Debug, Parser)]
#[command(name = "mcpgw", version, about)]
pub struct Cli {
    /// Where and as whom to connect.
    #[command(flatten)]
    pub connection: Connection,
    /// How to print answers.
    #[arg(long, short, global = true, value_enum, default_value = "table")]
    pub output: Format,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The control plane's admin endpoint and the key to present.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The control plane's gRPC URL (`https://…` with TLS).
    #[arg(
        long,
        global = true,
        env = "MCPGW_ADMIN_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub admin_url: String,
    /// An admin API key (`mcpgw_<id>_<secret>`).
    #[arg(long, global = true, env = "MCPGW_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// PEM CA that signs the control plane's certificate (else the system's roots).
    #[arg(long, global = true, env = "MCPGW_ADMIN_CA")]
    pub admin_ca: Option<PathBuf>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Columns for people.
    Table,
    /// The API's JSON documents.
    Json,
    /// The same documents as YAML.
    Yaml,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Workspaces.
    #[command(subcommand)]
    Workspaces(WorkspaceCommand),
    /// MCP servers.
    #[command(subcommand)]
    Servers(ServerCommand),
    /// API keys.
    #[command(subcommand)]
    Keys(KeyCommand),
    /// Data planes, their tokens and NATS users.
    #[command(subcommand, name = "data-planes")]
    DataPlanes(DataPlaneCommand),
    /// The audit log.
    #[command(subcommand)]
    Events(EventCommand),
    /// Runs the doctor on a server: key, provisioning, DNS, egress, TLS, the MCP handshake
    /// and, for OAuth servers, their metadata, each step with its fix. Exits 1 when a step
    /// failed.
    Doctor(DoctorArgs),
    /// Tests how the gateway signs in to a server's upstream, step by step (the 401's
    /// challenge, protected resource and authorization server metadata, client registration,
    /// scope; or a client-credentials token). Exits 1 when a step failed.
    #[command(name = "test-auth")]
    TestAuth {
        /// The server's id or slug.
        server: String,
    },
    /// Makes the servers of a YAML file exist as written: reports the difference, then
    /// applies it (unless `--dry-run`).
    Apply(ApplyArgs),
    /// Prints a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `mcpgw doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The server's id or slug.
    pub server: String,
    /// Also check that this API key (its id) can use the server.
    #[arg(long)]
    pub key: Option<String>,
    /// Also check that this user's keys can use the server.
    #[arg(long)]
    pub user: Option<String>,
}

/// `mcpgw workspaces …`.
#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Every workspace you may see.
    List,
    /// One workspace.
    Get {
        /// Its id.
        id: String,
    },
    /// Creates a workspace (global admins).
    Create {
        /// Its name.
        name: String,
    },
    /// Renames a workspace.
    Update {
        /// Its id.
        id: String,
        /// The new name.
        #[arg(long)]
        name: String,
        /// The version you read (refused if it changed since).
        #[arg(long)]
        version: Option<i64>,
    },
}

/// `mcpgw servers …`.
#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Every server you may see.
    List,
    /// One server, as it is or as it was at a sequence or RFC 3339 time.
    Get {
        /// Its id.
        id: String,
        /// A sequence or a time.
        #[arg(long)]
        at: Option<String>,
    },
    /// Every version of a server with what changed.
    History {
        /// Its id.
        id: String,
    },
    /// Registers a server.
    Create(ServerFields),
    /// Changes a server (only the options given).
    Update {
        /// Its id.
        id: String,
        /// The fields to change.
        #[command(flatten)]
        fields: ServerChanges,
    },
    /// Deletes a server.
    Delete {
        /// Its id.
        id: String,
    },
    /// The users signed in to a per-user OAuth server.
    Connections {
        /// Its id.
        id: String,
    },
    /// Ends a user's connection to a per-user OAuth server: their tokens are deleted, their
    /// streams closed, and their next call asks them to sign in.
    Disconnect {
        /// Its id.
        id: String,
        /// The user.
        user: String,
    },
}

/// A new server's fields.
#[derive(Debug, Args)]
pub struct ServerFields {
    /// The workspace it belongs to.
    #[arg(long)]
    pub workspace: String,
    /// Its slug, the `/{slug}/mcp` path.
    #[arg(long)]
    pub slug: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// The upstream MCP URL.
    #[arg(long)]
    pub url: String,
    /// A header sent upstream, `Name=value` (repeatable; a secret, stored encrypted).
    #[arg(long = "header", value_name = "NAME=VALUE")]
    pub headers: Vec<String>,
    /// A description.
    #[arg(long)]
    pub description: Option<String>,
}

/// The fields `servers update` may change.
#[derive(Debug, Args)]
pub struct ServerChanges {
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// The upstream MCP URL.
    #[arg(long)]
    pub url: Option<String>,
    /// Whether clients may use it.
    #[arg(long)]
    pub enabled: Option<bool>,
    /// The version you read (refused if it changed since).
    #[arg(long)]
    pub version: Option<i64>,
}

/// `mcpgw keys …`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Every key you may see (never the secrets).
    List,
    /// One key.
    Get {
        /// Its id.
        id: String,
    },
    /// Issues a key; the key is printed once.
    Create {
        /// The workspace it is limited to (omit for a global admin key).
        #[arg(long)]
        workspace: Option<String>,
        /// Its name.
        #[arg(long)]
        name: String,
        /// `service` or `user`.
        #[arg(long = "type", default_value = "service")]
        key_type: String,
        /// The user it stands for (user keys).
        #[arg(long)]
        user: Option<String>,
        /// A permission: `mcp.invoke` or `admin` (repeatable).
        #[arg(long = "permission", default_value = "mcp.invoke")]
        permissions: Vec<String>,
        /// When it stops working (RFC 3339).
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// Revokes a key at once, on every pod.
    Revoke {
        /// Its id.
        id: String,
    },
}

/// `mcpgw data-planes …`.
#[derive(Debug, Subcommand)]
pub enum DataPlaneCommand {
    /// Every data plane with its tokens and instances.
    List,
    /// One data plane.
    Get {
        /// Its id.
        id: String,
    },
    /// Registers a data plane; its token and NATS seed are printed once.
    Create {
        /// Its name.
        #[arg(long)]
        name: String,
        /// A workspace it serves (repeatable; omit for all).
        #[arg(long = "workspace")]
        workspaces: Vec<String>,
    },
    /// Issues a new token; the current ones keep working for the overlap.
    RotateToken {
        /// Its id.
        id: String,
        /// How long the current tokens keep working, such as `1h` (at most 7 days).
        #[arg(long, value_parser = humantime::parse_duration)]
        overlap: Option<std::time::Duration>,
    },
    /// Revokes one token (`--token-id`), or every usable one.
    Revoke {
        /// Its id.
        id: String,
        /// The token to revoke.
        #[arg(long)]
        token_id: Option<String>,
    },
    /// Deletes a registration.
    Delete {
        /// Its id.
        id: String,
    },
    /// Prints the NATS authorization block of the cluster's users.
    NatsAuthorization,
}

/// `mcpgw events …`.
#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// A page of the audit log.
    List {
        /// Events after this sequence.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// The audit log, then each event as it is committed, until interrupted.
    Tail {
        /// Start after this sequence (0: the whole log).
        #[arg(long, default_value_t = 0)]
        after: i64,
    },
}

/// `mcpgw apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The YAML file of servers (`servers: [{workspace, slug, name, url, auth, …}]`).
    #[arg(long, short)]
    pub file: PathBuf,
    /// Report the difference only.
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete servers of the file's workspaces that the file does not name.
    #[arg(long)]
    pub prune: bool,
}
