//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Warden: a runtime security gateway for AI agents.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a starter configuration, Cedar schema, policies and policy tests.
    Init(InitArgs),
    /// Run an MCP server behind Warden on stdio: `warden mcp -- npx -y @modelcontextprotocol/server-filesystem ~/docs`.
    Mcp(McpArgs),
    /// Check and test policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Read and check the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Scan text or JSON for prompt injection, PII and secrets.
    Scan(ScanArgs),
    /// Measure the detectors on labelled JSONL corpora.
    Eval(EvalArgs),
    /// Train the prompt-injection classifier and write its weights.
    Train(TrainArgs),
    /// Serve MCP over Streamable HTTP to many agents, in front of many upstream servers.
    Serve(ServeArgs),
    /// Manage agent identities.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Issue, delegate, list and revoke agent tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Store upstream credentials, sealed at rest.
    #[command(subcommand)]
    Secret(SecretCommand),
    /// List, inspect, approve and deny calls held for a human's approval.
    #[command(subcommand)]
    Approvals(ApprovalsCommand),
    /// Manage the people who approve held calls in the console.
    #[command(subcommand)]
    Approver(ApproverCommand),
    /// Prove that the sandbox profiles really confine (`warden sandbox check`).
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// The tools Warden has pinned: capability labels, changes, findings; approve a change.
    Tools(ToolsArgs),
    /// Load documents into the encrypted document store of `[data.docs]` (redacted and
    /// sanitized first), for `docs.search` and `resources/read`.
    Ingest(IngestArgs),
    /// Show Warden at work against a built-in demo tool server.
    Demo(DemoArgs),
    /// The built-in demo tool server (stdio MCP).
    #[command(hide = true)]
    DemoServer(DemoServerArgs),
}

/// Where the configuration comes from.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// Configuration file (default: $WARDEN_CONFIG, else ./warden.toml if present, else built-in defaults).
    #[arg(long, short = 'c', global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to write into.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The upstream server command and its arguments, after `--` (none with `[upstream] exec`).
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Parse and validate the schema and every policy; errors name file and line.
    Validate(ConfigArg),
    /// Run a file of test cases (requests with expected decisions).
    Test(PolicyTestArgs),
}

#[derive(Debug, Args)]
pub struct PolicyTestArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The cases file (TOML, see `warden init`'s policy-tests.toml).
    pub cases: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Show the newest records.
    Tail(AuditTailArgs),
    /// Check the hash chain; names the first bad record.
    Verify(AuditVerifyArgs),
    /// Write every record out.
    Export(AuditExportArgs),
}

/// Which audit file.
#[derive(Debug, Args)]
pub struct AuditFile {
    #[command(flatten)]
    pub config: ConfigArg,
    /// The audit database (default: from the configuration).
    #[arg(long)]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AuditTailArgs {
    #[command(flatten)]
    pub file: AuditFile,
    /// How many records.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub lines: i64,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    #[command(flatten)]
    pub file: AuditFile,
    /// A head seen earlier, `SEQ:HASH`: fails if that record is gone or changed (truncation).
    #[arg(long)]
    pub anchor: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// JSON lines.
    Jsonl,
}

#[derive(Debug, Args)]
pub struct AuditExportArgs {
    #[command(flatten)]
    pub file: AuditFile,
    /// Output format.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: ExportFormat,
    /// Output file (default: standard output).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to put the demo's config and audit log (default: a new temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoServerArgs {
    /// Serve Streamable HTTP on this address (`127.0.0.1:0` picks a port) instead of stdio.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    /// Append every received line to this file.
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Change `echo`'s description after the first listing (a rug pull, for tests).
    #[arg(long)]
    pub rug_pull: bool,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// File to scan (default: standard input).
    pub file: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also print the input with PII and secrets replaced by placeholders.
    #[arg(long)]
    pub redact: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Labelled JSONL files (injection, PII or secrets records).
    #[arg(required = true)]
    pub corpora: Vec<PathBuf>,
    /// Extra benign texts (JSONL with `text`) pooled in when setting the 1%-FPR threshold.
    #[arg(long)]
    pub benign: Vec<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also print figures per label.
    #[arg(long)]
    pub labels: bool,
    /// Injection weights to evaluate instead of the shipped ones (from `warden train`).
    #[arg(long)]
    pub model: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Injection corpora (JSONL with `text`, `label`, optional `payload`).
    #[arg(required = true)]
    pub corpora: Vec<PathBuf>,
    /// Benign texts (JSONL with `text`).
    #[arg(long)]
    pub benign: Vec<PathBuf>,
    /// Leave these attack families out of training.
    #[arg(long)]
    pub exclude_family: Vec<String>,
    /// Where to write the weights.
    #[arg(long, short = 'o', default_value = "crates/detect/model/injection.bin")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArg,
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Register an agent: `warden agent add support-bot --attr team=support --attr environment=prod`.
    Add {
        #[command(flatten)]
        config: ConfigArg,
        /// Agent name (the `Agent::"<name>"` of policies).
        name: String,
        /// Attribute for policy, `key=value` (repeatable).
        #[arg(long = "attr", value_name = "KEY=VALUE")]
        attributes: Vec<String>,
    },
    /// List agents.
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Refuse every call of an agent from its next request.
    Suspend {
        #[command(flatten)]
        config: ConfigArg,
        name: String,
    },
    /// Let a suspended agent act again.
    Resume {
        #[command(flatten)]
        config: ConfigArg,
        name: String,
    },
    /// Remove an agent and revoke its tokens.
    Remove {
        #[command(flatten)]
        config: ConfigArg,
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a short-lived token: `warden token issue support-bot --ttl 15m --scope mcp:fs`.
    Issue {
        #[command(flatten)]
        config: ConfigArg,
        /// Agent name.
        agent: String,
        /// Lifetime (`90s`, `15m`, `2h`, `1d`; at most 24 h).
        #[arg(long, default_value = "15m")]
        ttl: String,
        /// Scope (repeatable): `mcp`, `mcp:<server>`, `mcp:<server>/<tool>`, `decide`, `scan`.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
    },
    /// Exchange a token for a narrower one for a sub-agent (scopes and lifetime only shrink).
    Exchange {
        #[command(flatten)]
        config: ConfigArg,
        /// The sub-agent's name.
        #[arg(long)]
        actor: String,
        /// Lifetime (default: what the subject token has left).
        #[arg(long)]
        ttl: Option<String>,
        /// Scope (repeatable; default: the subject token's).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// The subject token (default: read from stdin).
        #[arg(long)]
        token: Option<String>,
    },
    /// List tokens (unexpired ones unless --all).
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// Only this agent's.
        #[arg(long)]
        agent: Option<String>,
        /// Include expired tokens.
        #[arg(long)]
        all: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Sign new tokens with a new key (earlier tokens stay valid until they expire).
    RotateKey {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Revoke a token (by id) and every token exchanged from it.
    Revoke {
        #[command(flatten)]
        config: ConfigArg,
        /// Token id (`jti`; ids are base64url and may start with `-`).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store a credential read from stdin: `printf %s "$TOKEN" | warden secret set github`.
    Set {
        #[command(flatten)]
        config: ConfigArg,
        name: String,
    },
    /// List stored credentials (names only).
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Delete a stored credential.
    Remove {
        #[command(flatten)]
        config: ConfigArg,
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// Approval requests, newest first.
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// Only those with this status: pending, approved, denied, expired, used.
        #[arg(long)]
        status: Option<String>,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// One request: the full call, its hash, the policies and findings, the decision.
    Show {
        #[command(flatten)]
        config: ConfigArg,
        id: String,
    },
    /// Approve a pending request (the held call then goes ahead, once).
    Approve {
        #[command(flatten)]
        config: ConfigArg,
        id: String,
        /// Why (recorded in the audit log).
        #[arg(long, default_value = "")]
        reason: String,
        /// The call hash you reviewed (`show` prints it; 8 or more leading hex digits): the
        /// decision lands only if the held call has it.
        #[arg(long)]
        hash: Option<String>,
    },
    /// Deny a pending request (the agent is told who denied it and why).
    Deny {
        #[command(flatten)]
        config: ConfigArg,
        id: String,
        /// Why (recorded in the audit log and told to the agent).
        #[arg(long, default_value = "")]
        reason: String,
        /// The call hash you reviewed.
        #[arg(long)]
        hash: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ApproverCommand {
    /// Add an approver (or change one's groups and password); the password is read from
    /// stdin: `printf %s "$PW" | warden approver add alice --group finance`.
    Add {
        #[command(flatten)]
        config: ConfigArg,
        name: String,
        /// An approver group named by `@approval("...")` policies (repeatable; `*` for all).
        #[arg(long = "group", required = true)]
        groups: Vec<String>,
    },
    /// List approvers and their groups.
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Remove an approver.
    Remove {
        #[command(flatten)]
        config: ConfigArg,
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct ToolsArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// As JSON.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<ToolsCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// Show what changed in a tool that waits for review and approve its new definition.
    Approve {
        #[command(flatten)]
        config: ConfigArg,
        /// `SERVER/TOOL`.
        tool: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Run escape probes inside each profile (or one) and report what each mechanism enforces;
    /// exits 3 when a profile cannot be proved.
    Check {
        #[command(flatten)]
        config: ConfigArg,
        /// Check only this profile.
        #[arg(long)]
        profile: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Files or directories: `.txt` and `.md` (one document each, the id is the path), `.jsonl`
    /// (one document per line: `{"id", "title", "text", "acl", "tags"}`).
    #[arg(required = true)]
    pub paths: Vec<std::path::PathBuf>,
    /// Who may read documents that do not say (repeatable): `user:alice`, `group:finance`,
    /// `agent:support-bot`, `public`.
    #[arg(long = "acl")]
    pub acl: Vec<String>,
    /// Metadata for every document (repeatable): `key=value`.
    #[arg(long = "tag", value_parser = parse_tag)]
    pub tags: Vec<(String, String)>,
    /// As JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}`: a tag is key=value")),
    }
}
