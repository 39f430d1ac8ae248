//! Carrying out a command: one admin call (or a few, for `apply`), its answer printed.

use std::io::Write;

use clap::CommandFactory;
use mcpgw_shared::document::from_struct;
use mcpgw_shared::proto::{
    BodyRequest, ConnectionRequest, CreateWorkspaceRequest, GetServerRequest, IdBodyRequest,
    IdRequest, ListEventsRequest, ListRequest, UpdateRequest,
};
use serde_json::{Value, json};

use crate::apply::{self, Change};
use crate::client::{Admin, CliError, body, json};
use crate::command::{
    ApplyArgs, Cli, Command, DataPlaneCommand, DoctorArgs, EventCommand, Format, KeyCommand,
    ServerCommand, WorkspaceCommand,
};
use crate::output::render;

/// Runs `cli`, printing to `out`.
pub async fn run(cli: Cli, out: &mut impl Write) -> Result<(), CliError> {
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(shell, &mut Cli::command(), "mcpgw", out);
        return Ok(());
    }
    let admin = Admin::connect(&cli.connection).await?;
    let format = cli.output;
    let document = match cli.command {
        Command::Workspaces(command) => workspaces(&admin, command).await?,
        Command::Servers(command) => servers(&admin, command).await?,
        Command::Keys(command) => keys(&admin, command).await?,
        Command::DataPlanes(command) => match data_planes(&admin, command).await? {
            Answer::Document(document) => document,
            Answer::Text(text) => return write(out, &text),
        },
        Command::Events(EventCommand::List { after, limit }) => json(
            admin
                .client()
                .list_events(admin.request(ListEventsRequest {
                    after,
                    limit: Some(limit),
                }))
                .await?,
        ),
        Command::Events(EventCommand::Tail { after }) => {
            return tail(&admin, after, format, out).await;
        }
        Command::Apply(args) => return apply(&admin, &args, out).await,
        Command::Doctor(args) => return doctor(&admin, args, format, out).await,
        Command::TestAuth { server } => return test_auth(&admin, server, format, out).await,
        Command::Completions { .. } => unreachable!("answered above"),
    };
    write(out, &render(&document, format))
}

/// `mcpgw doctor`: the report as a table of steps and its summary (or as the document); a
/// failed step is an error, so scripts can stop on it.
async fn doctor(
    admin: &Admin,
    args: DoctorArgs,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut request = json!({});
    if let Some(key) = args.key {
        request["key_id"] = json!(key);
    }
    if let Some(user) = args.user {
        request["user"] = json!(user);
    }
    let report = json(
        admin
            .client()
            .diagnose_server(admin.request(IdBodyRequest {
                id: args.server,
                body: body(request),
            }))
            .await?,
    );
    print_report(&report, format, out)
}

/// `mcpgw test-auth`: the doctor's report of the sign-in steps alone.
async fn test_auth(
    admin: &Admin,
    server: String,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let report = json(
        admin
            .client()
            .test_server_auth(admin.request(IdRequest { id: server }))
            .await?,
    );
    print_report(&report, format, out)
}

/// A doctor's report as a table of steps and its summary (or as the document); a failed step
/// is an error, so scripts can stop on it.
fn print_report(report: &Value, format: Format, out: &mut impl Write) -> Result<(), CliError> {
    write(out, &render(report, format))?;
    let summary = report["summary"].as_str().unwrap_or_default().to_owned();
    if format == Format::Table {
        write(out, &summary)?;
    }
    if report["ok"] == Value::Bool(true) {
        Ok(())
    } else {
        Err(CliError::Unhealthy(summary))
    }
}

fn write(out: &mut impl Write, text: &str) -> Result<(), CliError> {
    writeln!(out, "{}", text.trim_end()).map_err(|e| CliError::Usage(format!("cannot print: {e}")))
}

/// What a data-plane command answers.
enum Answer {
    Document(Value),
    Text(String),
}

async fn workspaces(admin: &Admin, command: WorkspaceCommand) -> Result<Value, CliError> {
    let mut client = admin.client();
    Ok(json(match command {
        WorkspaceCommand::List => {
            client
                .list_workspaces(admin.request(ListRequest {}))
                .await?
        }
        WorkspaceCommand::Get { id } => {
            client
                .get_workspace(admin.request(IdRequest { id }))
                .await?
        }
        WorkspaceCommand::Create { name } => {
            client
                .create_workspace(admin.request(CreateWorkspaceRequest { name }))
                .await?
        }
        WorkspaceCommand::Update { id, name, version } => {
            client
                .update_workspace(admin.request(UpdateRequest {
                    id,
                    body: body(json!({"name": name})),
                    if_match: version,
                }))
                .await?
        }
    }))
}

async fn servers(admin: &Admin, command: ServerCommand) -> Result<Value, CliError> {
    let mut client = admin.client();
    Ok(match command {
        ServerCommand::List => json(client.list_servers(admin.request(ListRequest {})).await?),
        ServerCommand::Get { id, at } => json(
            client
                .get_server(admin.request(GetServerRequest { id, at }))
                .await?,
        ),
        ServerCommand::History { id } => json(
            client
                .server_history(admin.request(IdRequest { id }))
                .await?,
        ),
        ServerCommand::Create(fields) => {
            let mut headers = serde_json::Map::new();
            for header in &fields.headers {
                let (name, value) = header.split_once('=').ok_or_else(|| {
                    CliError::Usage(format!("--header `{header}` is not NAME=VALUE"))
                })?;
                headers.insert(name.to_owned(), json!(value));
            }
            let auth = if headers.is_empty() {
                json!({"type": "none"})
            } else {
                json!({"type": "headers", "headers": headers})
            };
            let mut document = json!({
                "workspace_id": fields.workspace, "slug": fields.slug, "name": fields.name,
                "url": fields.url, "auth": auth,
            });
            if let Some(description) = fields.description {
                document["description"] = json!(description);
            }
            json(
                client
                    .create_server(admin.request(BodyRequest {
                        body: body(document),
                    }))
                    .await?,
            )
        }
        ServerCommand::Update { id, fields } => {
            let mut document = json!({});
            for (field, value) in [
                ("name", fields.name.map(Value::from)),
                ("url", fields.url.map(Value::from)),
                ("enabled", fields.enabled.map(Value::from)),
            ] {
                if let Some(value) = value {
                    document[field] = value;
                }
            }
            json(
                client
                    .update_server(admin.request(UpdateRequest {
                        id,
                        body: body(document),
                        if_match: fields.version,
                    }))
                    .await?,
            )
        }
        ServerCommand::Delete { id } => {
            client
                .delete_server(admin.request(IdRequest { id: id.clone() }))
                .await?;
            json!({"id": id, "deleted": true})
        }
        ServerCommand::Connections { id } => json(
            client
                .list_connections(admin.request(IdRequest { id }))
                .await?,
        ),
        ServerCommand::Disconnect { id, user } => {
            client
                .revoke_connection(admin.request(ConnectionRequest {
                    server_id: id.clone(),
                    user_id: user.clone(),
                }))
                .await?;
            json!({"server_id": id, "user_id": user, "disconnected": true})
        }
    })
}

async fn keys(admin: &Admin, command: KeyCommand) -> Result<Value, CliError> {
    let mut client = admin.client();
    Ok(json(match command {
        KeyCommand::List => client.list_api_keys(admin.request(ListRequest {})).await?,
        KeyCommand::Get { id } => client.get_api_key(admin.request(IdRequest { id })).await?,
        KeyCommand::Create {
            workspace,
            name,
            key_type,
            user,
            permissions,
            expires_at,
        } => {
            let mut document = json!({"name": name, "type": key_type, "permissions": permissions});
            for (field, value) in [
                ("workspace_id", workspace),
                ("user_id", user),
                ("expires_at", expires_at),
            ] {
                if let Some(value) = value {
                    document[field] = json!(value);
                }
            }
            client
                .issue_api_key(admin.request(BodyRequest {
                    body: body(document),
                }))
                .await?
        }
        KeyCommand::Revoke { id } => {
            client
                .revoke_api_key(admin.request(IdRequest { id }))
                .await?
        }
    }))
}

async fn data_planes(admin: &Admin, command: DataPlaneCommand) -> Result<Answer, CliError> {
    let mut client = admin.client();
    let document = match command {
        DataPlaneCommand::List => {
            client
                .list_data_planes(admin.request(ListRequest {}))
                .await?
        }
        DataPlaneCommand::Get { id } => {
            client
                .get_data_plane(admin.request(IdRequest { id }))
                .await?
        }
        DataPlaneCommand::Create { name, workspaces } => {
            let mut document = json!({"name": name});
            if !workspaces.is_empty() {
                document["workspaces"] = json!(workspaces);
            }
            client
                .register_data_plane(admin.request(BodyRequest {
                    body: body(document),
                }))
                .await?
        }
        DataPlaneCommand::RotateToken { id, overlap } => {
            let document =
                overlap.map_or_else(|| json!({}), |o| json!({"overlap_seconds": o.as_secs()}));
            client
                .rotate_data_plane_token(admin.request(IdBodyRequest {
                    id,
                    body: body(document),
                }))
                .await?
        }
        DataPlaneCommand::Revoke { id, token_id } => {
            let document = token_id.map_or_else(|| json!({}), |t| json!({"token_id": t}));
            client
                .revoke_data_plane(admin.request(IdBodyRequest {
                    id,
                    body: body(document),
                }))
                .await?
        }
        DataPlaneCommand::Delete { id } => {
            client
                .delete_data_plane(admin.request(IdRequest { id: id.clone() }))
                .await?;
            return Ok(Answer::Document(json!({"id": id, "deleted": true})));
        }
        DataPlaneCommand::NatsAuthorization => {
            let text = client
                .nats_authorization(admin.request(ListRequest {}))
                .await?;
            return Ok(Answer::Text(text.into_inner().text));
        }
    };
    Ok(Answer::Document(json(document)))
}

/// Prints each event as it comes, until the stream ends (Ctrl-C ends the process).
async fn tail(
    admin: &Admin,
    after: i64,
    format: Format,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut events = admin
        .client()
        .watch_events(admin.request(ListEventsRequest { after, limit: None }))
        .await?
        .into_inner();
    while let Some(document) = events.message().await? {
        let event = document.body.map(from_struct).unwrap_or(Value::Null);
        let line = match format {
            Format::Table => format!(
                "{:>8}  {}  {:<24} {}  {}",
                event["seq"],
                event["at"].as_str().unwrap_or_default(),
                event["type"].as_str().unwrap_or_default(),
                event["stream"].as_str().unwrap_or_default(),
                event["actor"].as_str().unwrap_or_default()
            ),
            Format::Json => event.to_string(),
            Format::Yaml => format!("---\n{}", render(&event, Format::Yaml)),
        };
        write(out, &line)?;
        out.flush()
            .map_err(|e| CliError::Usage(format!("cannot print: {e}")))?;
    }
    Ok(())
}

async fn apply(admin: &Admin, args: &ApplyArgs, out: &mut impl Write) -> Result<(), CliError> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", args.file.display())))?;
    let desired = apply::parse(&text)?;
    let mut client = admin.client();
    let servers = json(client.list_servers(admin.request(ListRequest {})).await?);
    let workspaces = json(
        client
            .list_workspaces(admin.request(ListRequest {}))
            .await?,
    );
    let items =
        |document: &Value, field: &str| document[field].as_array().cloned().unwrap_or_default();
    let plan = apply::plan(
        &desired,
        &items(&servers, "servers"),
        &items(&workspaces, "workspaces"),
        args.prune,
    )?;
    for change in &plan {
        write(out, &change.to_string())?;
    }
    let count = |f: fn(&Change) -> bool| plan.iter().filter(|c| f(c)).count();
    let summary = format!(
        "{} to create, {} to update, {} to delete",
        count(|c| matches!(c, Change::Create { .. })),
        count(|c| matches!(c, Change::Update { .. })),
        count(|c| matches!(c, Change::Delete { .. })),
    );
    if args.dry_run {
        return write(out, &format!("{summary} (dry run: nothing changed)"));
    }
    for change in plan {
        match change {
            Change::Create { body: document, .. } => {
                client
                    .create_server(admin.request(BodyRequest {
                        body: body(document),
                    }))
                    .await?;
            }
            Change::Update {
                id, body: document, ..
            } => {
                client
                    .update_server(admin.request(UpdateRequest {
                        id,
                        body: body(document),
                        if_match: None,
                    }))
                    .await?;
            }
            Change::Delete { id, .. } => {
                client
                    .delete_server(admin.request(IdRequest { id }))
                    .await?;
            }
        }
    }
    write(out, &format!("applied: {summary}"))
}
