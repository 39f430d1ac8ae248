//! Tests of `apply`.

use serde_json::json;

use super::*;

const FILE: &str = "
servers:
  - workspace: team
    slug: github
    name: GitHub
    url: https://github.example/mcp
    auth: {type: headers, headers: {Authorization: Bearer abc}}
  - workspace: team
    slug: jira
    name: Jira
    url: https://jira.example/mcp
";

fn current() -> (Vec<Value>, Vec<Value>) {
    let workspaces = vec![json!({"id": "w1", "name": "team"})];
    let servers = vec![
        json!({"id": "s1", "workspace_id": "w1", "slug": "github", "name": "GitHub",
               "url": "https://old.example/mcp", "description": "", "enabled": true, "tools": {},
               "auth": {"type": "headers", "headers": {"Authorization": {"set": true}}},
               "request_logging": {"arguments": false, "results": false, "max_bytes": 4096}, "version": 4}),
        json!({"id": "s2", "workspace_id": "w1", "slug": "legacy", "name": "Legacy",
               "url": "https://legacy.example/mcp", "description": "", "enabled": true, "tools": {},
               "auth": {"type": "none"},
               "request_logging": {"arguments": false, "results": false, "max_bytes": 4096}, "version": 1}),
    ];
    (servers, workspaces)
}

#[test]
fn a_plan_creates_what_is_missing_and_updates_only_changed_fields() {
    let (servers, workspaces) = current();
    let plan = plan(&parse(FILE).unwrap(), &servers, &workspaces, false).unwrap();
    assert_eq!(plan.len(), 2, "{plan:?}");
    let Change::Update { fields, body, .. } = &plan[0] else {
        panic!("{plan:?}")
    };
    assert_eq!(
        fields.len(),
        1,
        "the secret header compares equal: {fields:?}"
    );
    assert_eq!(fields[0].0, "url");
    assert_eq!(
        body,
        &json!({"version": 4, "url": "https://github.example/mcp"})
    );
    assert!(
        matches!(&plan[1], Change::Create { slug, body } if slug == "jira" && body["workspace_id"] == "w1")
    );
}

#[test]
fn prune_deletes_servers_of_the_files_workspaces_it_does_not_name() {
    let (servers, workspaces) = current();
    let plan = plan(&parse(FILE).unwrap(), &servers, &workspaces, true).unwrap();
    assert!(plan.contains(&Change::Delete {
        slug: "legacy".into(),
        id: "s2".into()
    }));
}

#[test]
fn an_unknown_workspace_or_field_is_refused() {
    let (servers, workspaces) = current();
    let other = FILE.replace(
        "workspace: team\n    slug: jira",
        "workspace: nope\n    slug: jira",
    );
    assert!(plan(&parse(&other).unwrap(), &servers, &workspaces, false).is_err());
    assert!(parse("servers: [{workspace: team, slug: x, name: x, url: y, colour: red}]").is_err());
}

#[test]
fn a_request_logging_policy_compares_over_the_defaults() {
    let (servers, workspaces) = current();
    let keeps_arguments = FILE.replace(
        "    url: https://github.example/mcp\n",
        "    url: https://old.example/mcp\n    request_logging: {arguments: true}\n",
    );
    let plan = plan(
        &parse(&keeps_arguments).unwrap(),
        &servers,
        &workspaces,
        false,
    )
    .unwrap();
    let Change::Update { fields, body, .. } = &plan[0] else {
        panic!("{plan:?}")
    };
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(
        body["request_logging"],
        json!({"arguments": true, "results": false, "max_bytes": 4096})
    );
}

#[test]
fn rate_limits_are_planned_as_the_file_gives_them() {
    let (servers, workspaces) = current();
    let limited = FILE.replace(
        "    url: https://github.example/mcp\n",
        "    url: https://old.example/mcp\n    rate_limits: [{by: key, per_minute: 60}]\n",
    );
    let plan = plan(&parse(&limited).unwrap(), &servers, &workspaces, false).unwrap();
    let Change::Update { fields, body, .. } = &plan[0] else {
        panic!("{plan:?}")
    };
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(fields[0].0, "rate_limits");
    assert_eq!(
        body["rate_limits"],
        json!([{"by": "key", "per_minute": 60}])
    );
}

#[test]
fn identity_forwarding_compares_over_the_defaults_and_is_off_when_not_shown() {
    let (servers, workspaces) = current();
    let unchanged = plan(&parse(FILE).unwrap(), &servers, &workspaces, false).unwrap();
    let Change::Update { fields, .. } = &unchanged[0] else {
        panic!("{unchanged:?}")
    };
    assert!(
        fields
            .iter()
            .all(|(field, ..)| field != "identity_forwarding"),
        "a server shown without it forwards nothing: {fields:?}"
    );
    let forwarding = FILE.replace(
        "    url: https://github.example/mcp\n",
        "    url: https://old.example/mcp\n    identity_forwarding: {mode: jwt}\n",
    );
    let plan = plan(&parse(&forwarding).unwrap(), &servers, &workspaces, false).unwrap();
    let Change::Update { fields, body, .. } = &plan[0] else {
        panic!("{plan:?}")
    };
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(
        body["identity_forwarding"],
        json!({"mode": "jwt", "header": "X-User-JWT", "ttl_seconds": 300})
    );
}
