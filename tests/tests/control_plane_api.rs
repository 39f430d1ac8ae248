//! The control plane's REST API as an admin uses it, on SQLite and PostgreSQL, with events
//! published to the real NATS server.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use mcpgw_e2e::admin_api::{invoke_key_request, revoke_path};
use mcpgw_e2e::control_plane::TestControlPlane;
use mcpgw_e2e::db::Backend;
use mcpgw_shared::bus::NatsBus;
use mcpgw_shared::wire::ConfigEvent;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn control_plane(backend: Backend) -> TestControlPlane {
    let nats = mcpgw_e2e::nats::connect().await;
    TestControlPlane::start(backend, Arc::new(NatsBus::new(nats))).await
}

fn server_body(workspace: &str, slug: &str) -> Value {
    json!({
        "workspace_id": workspace,
        "slug": slug,
        "name": "Upstream",
        "url": "https://mcp.example.com/mcp",
        "auth": {"type": "headers", "headers": {"X-Api-Key": "sk-top-secret-value"}},
        "tools": {"deny": ["delete_everything"]}
    })
}

async fn creating_a_server_and_a_key_and_revoking_it_is_audited_and_published_in_order(
    backend: Backend,
) {
    let mut cp = control_plane(backend).await;
    let workspace = cp.create_workspace("team-a").await;
    let nats = mcpgw_e2e::nats::connect().await;
    let mut published = nats
        .subscribe(format!("mcpgw.default.config.{workspace}.>"))
        .await
        .expect("subscribe");
    nats.flush().await.expect("flush the subscription");

    let server = cp
        .post_ok(
            "/v1/servers",
            server_body(&workspace, "github"),
            StatusCode::CREATED,
        )
        .await;
    let key = cp
        .post_ok(
            "/v1/api-keys",
            invoke_key_request(&workspace, "ci"),
            StatusCode::CREATED,
        )
        .await;
    let key_id = key["id"].as_str().unwrap();
    assert!(
        key["key"]
            .as_str()
            .unwrap()
            .starts_with(&format!("mcpgw_{key_id}_"))
    );
    let (status, revoked) = cp.call(Method::POST, &revoke_path(key_id), None).await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["revoked"], true);
    assert!(
        revoked.get("key").is_none(),
        "the key is shown only at creation"
    );

    let (status, log) = cp
        .call(Method::GET, "/v1/events?after=0&limit=100", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let events = log["events"].as_array().unwrap();
    let ours: Vec<&Value> = events
        .iter()
        .filter(|e| {
            ["ServerRegistered", "ApiKeyIssued", "ApiKeyRevoked"]
                .contains(&e["type"].as_str().unwrap())
        })
        .filter(|e| {
            e["workspaces"]
                .as_array()
                .unwrap()
                .contains(&json!(workspace))
        })
        .collect();
    let types: Vec<&str> = ours.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ServerRegistered", "ApiKeyIssued", "ApiKeyRevoked"]);
    assert_eq!(
        ours[0]["stream"],
        format!("server:{}", server["id"].as_str().unwrap())
    );
    assert!(ours[0]["actor"].as_str().unwrap().starts_with("api_key:"));
    assert_eq!(log["head"], events.last().unwrap()["seq"]);
    let audited: Vec<i64> = ours.iter().map(|e| e["seq"].as_i64().unwrap()).collect();

    let mut seen = Vec::new();
    while seen.len() < 3 {
        let message = tokio::time::timeout(Duration::from_secs(10), published.next())
            .await
            .expect("every event is published within 10 s")
            .expect("subscription open");
        let event: ConfigEvent = serde_json::from_slice(&message.payload).expect("a wire event");
        assert!(
            !String::from_utf8_lossy(&message.payload).contains("sk-top-secret-value"),
            "no secret on the bus"
        );
        if event.change != "WorkspaceCreated" {
            seen.push((event.seq, event.change));
        }
    }
    let published_seqs: Vec<i64> = seen.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(
        published_seqs, audited,
        "published in sequence order: {seen:?}"
    );
    cp.running.stop().await;
}

#[tokio::test]
async fn sqlite_changes_are_audited_and_published_in_order() {
    creating_a_server_and_a_key_and_revoking_it_is_audited_and_published_in_order(Backend::Sqlite)
        .await;
}

#[tokio::test]
async fn postgres_changes_are_audited_and_published_in_order() {
    creating_a_server_and_a_key_and_revoking_it_is_audited_and_published_in_order(
        Backend::Postgres,
    )
    .await;
}

async fn bad_input_gets_a_clear_4xx_and_writes_nothing(backend: Backend) {
    let mut cp = control_plane(backend).await;
    let workspace = cp.create_workspace("team-b").await;
    let (_, before) = cp.call(Method::GET, "/v1/events", None).await;

    let malformed = cp
        .request(Method::POST, "/v1/servers")
        .header("content-type", "application/json")
        .body("{\"slug\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "malformed_json");
    assert!(
        body["error"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    let cases = [
        ("bad slug", json!({"slug": "Bad_Slug"}), "slug"),
        (
            "ftp url",
            json!({"url": "ftp://files.example.com/mcp"}),
            "url",
        ),
        ("unknown top-level field", json!({"colour": "blue"}), ""),
        (
            "unknown oauth_metadata field",
            json!({"auth": {"type": "oauth2", "oauth_metadata": {"issuer": "https://as.example.com", "client_secret_typo": "x"}}}),
            "auth",
        ),
        (
            "misnested oauth field",
            json!({"auth": {"type": "oauth2", "client_id": "c"}}),
            "auth",
        ),
        ("wrong type", json!({"name": 42}), "name"),
        (
            "unknown auth type",
            json!({"auth": {"type": "kerberos"}}),
            "auth",
        ),
        (
            "header with newline",
            json!({"auth": {"type": "headers", "headers": {"X-Key": "a\nb"}}}),
            "auth.headers.X-Key",
        ),
        (
            "unknown workspace",
            json!({"workspace_id": "0190e3c4-0000-7000-8000-000000000000"}),
            "workspace_id",
        ),
    ];
    for (case, patch, field) in cases {
        let mut body = server_body(&workspace, "valid-slug");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, json) = cp.call(Method::POST, "/v1/servers", Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{case}: {json}");
        assert_eq!(json["error"]["code"], "invalid_field", "{case}: {json}");
        let reported = json["error"]["field"].as_str().unwrap_or_default();
        assert!(
            reported.starts_with(field),
            "{case}: field {reported:?} should name {field:?}: {json}"
        );
        assert!(
            !json["error"]["message"].as_str().unwrap().is_empty(),
            "{case}"
        );
    }
    let unknown_field = cp
        .call(
            Method::POST,
            "/v1/servers",
            Some({
                let mut body = server_body(&workspace, "x1");
                body["auth"] = json!({"type": "oauth2", "oauth_metadata": {"bogus_field": 1}});
                body
            }),
        )
        .await;
    assert!(
        unknown_field.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bogus_field"),
        "{}",
        unknown_field.1
    );

    let huge = cp
        .request(Method::POST, "/v1/servers")
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{}\"}}", "x".repeat(300 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let not_json = cp
        .request(Method::POST, "/v1/workspaces")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let anonymous = reqwest::Client::new()
        .get(format!("{}/v1/servers", cp.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    assert!(anonymous.headers().contains_key("x-request-id"));
    let (status, _) = cp
        .call_as(
            "mcpgw_abcdefgh_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            Method::GET,
            "/v1/servers",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (_, after) = cp.call(Method::GET, "/v1/events", None).await;
    assert_eq!(
        before["head"], after["head"],
        "no failed request wrote anything"
    );
    cp.running.stop().await;
}

#[tokio::test]
async fn sqlite_bad_input_is_refused_cleanly() {
    bad_input_gets_a_clear_4xx_and_writes_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_bad_input_is_refused_cleanly() {
    bad_input_gets_a_clear_4xx_and_writes_nothing(Backend::Postgres).await;
}

async fn updates_are_versioned_and_secrets_write_only(backend: Backend) {
    let mut cp = control_plane(backend).await;
    let workspace = cp.create_workspace("team-c").await;
    let server = cp
        .post_ok(
            "/v1/servers",
            server_body(&workspace, "versioned"),
            StatusCode::CREATED,
        )
        .await;
    let id = server["id"].as_str().unwrap();
    assert_eq!(
        server["auth"],
        json!({"type": "headers", "headers": {"X-Api-Key": {"set": true}}})
    );
    let version = server["version"].as_i64().unwrap();
    let connection_version = server["connection_version"].as_i64().unwrap();

    let (status, renamed) = cp
        .call(
            Method::PATCH,
            &format!("/v1/servers/{id}"),
            Some(json!({"name": "Renamed", "version": version})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(
        renamed["connection_version"], connection_version,
        "a rename keeps connections"
    );

    let stale = cp
        .request(Method::PATCH, &format!("/v1/servers/{id}"))
        .header("if-match", format!("\"{version}\""))
        .json(&json!({"url": "https://other.example.com/mcp"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    let body: Value = stale.json().await.unwrap();
    assert_eq!(body["error"]["code"], "version_conflict");

    let (status, moved) = cp
        .call(
            Method::PATCH,
            &format!("/v1/servers/{id}"),
            Some(json!({"url": "https://other.example.com/mcp"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        moved["connection_version"],
        connection_version + 1,
        "a URL change bumps the connection version"
    );

    let (status, taken) = cp
        .call(
            Method::POST,
            "/v1/servers",
            Some(server_body(&workspace, "versioned")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(taken["error"]["field"], "slug");

    for path in [
        "/v1/servers",
        &format!("/v1/servers/{id}"),
        "/v1/events?limit=1000",
    ] {
        let (_, json) = cp.call(Method::GET, path, None).await;
        assert!(
            !json.to_string().contains("sk-top-secret-value"),
            "{path} leaks the secret"
        );
    }

    let (status, _) = cp
        .call(Method::DELETE, &format!("/v1/servers/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = cp
        .call(Method::GET, &format!("/v1/servers/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    cp.running.stop().await;
}

#[tokio::test]
async fn sqlite_updates_are_versioned_and_secrets_write_only() {
    updates_are_versioned_and_secrets_write_only(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_updates_are_versioned_and_secrets_write_only() {
    updates_are_versioned_and_secrets_write_only(Backend::Postgres).await;
}

async fn rebuilt_projections_equal_the_live_ones(backend: Backend) {
    let mut cp = control_plane(backend).await;
    let a = cp.create_workspace("alpha").await;
    let b = cp.create_workspace("beta").await;
    let server = cp
        .post_ok(
            "/v1/servers",
            server_body(&a, "shared-one"),
            StatusCode::CREATED,
        )
        .await;
    let id = server["id"].as_str().unwrap();
    let (status, _) = cp
        .call(
            Method::PATCH,
            &format!("/v1/servers/{id}"),
            Some(
                json!({"provisioned_workspaces": [b], "enabled": false, "tools": {"allow": ["x"]}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    cp.post_ok(
        "/v1/servers",
        server_body(&b, "deleted-one"),
        StatusCode::CREATED,
    )
    .await;
    let (_, list) = cp.call(Method::GET, "/v1/servers", None).await;
    let deleted = list["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slug"] == "deleted-one")
        .unwrap()["id"]
        .clone();
    cp.call(
        Method::DELETE,
        &format!("/v1/servers/{}", deleted.as_str().unwrap()),
        None,
    )
    .await;
    let key = cp
        .post_ok("/v1/api-keys", json!({"workspace_id": b, "name": "u", "type": "user", "user_id": "alice", "permissions": ["mcp.invoke"], "expires_at": "2099-01-01T00:00:00Z"}), StatusCode::CREATED)
        .await;
    cp.call(
        Method::POST,
        &revoke_path(key["id"].as_str().unwrap()),
        None,
    )
    .await;
    cp.post_ok(
        "/v1/data-planes",
        json!({"name": "edge", "workspaces": [a]}),
        StatusCode::CREATED,
    )
    .await;
    cp.call(
        Method::PATCH,
        &format!("/v1/workspaces/{a}"),
        Some(json!({"name": "alpha-2"})),
    )
    .await;

    let db = &cp.db;
    let live = db.reader().await.unwrap().dump_projections().await.unwrap();
    let replayed = db.rebuild_projections().await.unwrap();
    assert!(replayed >= 10, "replayed {replayed} events");
    let rebuilt = db.reader().await.unwrap().dump_projections().await.unwrap();
    assert_eq!(live, rebuilt);
    assert!(live.iter().any(|row| row.contains("shared-one")));
    cp.running.stop().await;
}

#[tokio::test]
async fn sqlite_rebuilt_projections_equal_live_ones() {
    rebuilt_projections_equal_the_live_ones(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_rebuilt_projections_equal_live_ones() {
    rebuilt_projections_equal_the_live_ones(Backend::Postgres).await;
}

#[tokio::test]
async fn a_workspace_admin_sees_and_changes_only_its_workspace() {
    let mut cp = control_plane(Backend::Sqlite).await;
    let mine = cp.create_workspace("mine").await;
    let theirs = cp.create_workspace("theirs").await;
    cp.post_ok(
        "/v1/servers",
        server_body(&theirs, "their-server"),
        StatusCode::CREATED,
    )
    .await;
    let scoped = cp
        .post_ok("/v1/api-keys", json!({"workspace_id": mine, "name": "ws admin", "type": "service", "permissions": ["admin"]}), StatusCode::CREATED)
        .await;
    let key = scoped["key"].as_str().unwrap();

    let (status, servers) = cp.call_as(key, Method::GET, "/v1/servers", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(servers["servers"], json!([]));
    let (status, _) = cp
        .call_as(
            key,
            Method::POST,
            "/v1/servers",
            Some(server_body(&theirs, "sneaky")),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = cp
        .call_as(
            key,
            Method::POST,
            "/v1/servers",
            Some(server_body(&mine, "allowed")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = cp
        .call_as(
            key,
            Method::POST,
            "/v1/workspaces",
            Some(json!({"name": "new"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, events) = cp.call_as(key, Method::GET, "/v1/events", None).await;
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["workspaces"].as_array().unwrap().contains(&json!(mine))),
        "a workspace admin's audit log holds only its workspace: {events}"
    );
    let invoke_only = cp
        .post_ok(
            "/v1/api-keys",
            invoke_key_request(&mine, "client"),
            StatusCode::CREATED,
        )
        .await;
    let (status, _) = cp
        .call_as(
            invoke_only["key"].as_str().unwrap(),
            Method::GET,
            "/v1/servers",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "mcp.invoke is not admin");
    cp.running.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint() {
    let mut cp = control_plane(Backend::Sqlite).await;
    let doc: Value = reqwest::get(format!("{}/openapi.json", cp.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/workspaces",
        "/v1/servers",
        "/v1/servers/{id}",
        "/v1/api-keys",
        "/v1/api-keys/{id}/revoke",
        "/v1/events",
        "/v1/data-planes",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from /openapi.json"
        );
    }
    cp.running.stop().await;
}

/// SQL-meaningful and very long text in every admin field, path and query: each is stored and
/// read back verbatim or refused with a 4xx, and the database stays whole.
async fn hostile_text_in_every_admin_field_is_stored_verbatim_or_refused(backend: Backend) {
    let cp = control_plane(backend).await;
    let workspace = cp.create_workspace("team-hostile").await;
    let hostile = [
        "'; DROP TABLE events; --",
        "\" OR 1=1 --",
        "x') OR ('1'='1",
        "100% _wild_ \\ cards",
        "ｄｅｍｏ \u{202e}evil\u{202c} 😀",
    ];
    let (_, before) = cp.call(Method::GET, "/v1/events?limit=1", None).await;
    let mut accepted = 0;
    for text in hostile {
        let cases = [
            ("/v1/workspaces", json!({"name": text}), "name"),
            (
                "/v1/servers",
                json!({"workspace_id": workspace, "slug": format!("s{accepted}"), "name": text, "description": text,
                "url": "https://mcp.example.com/mcp", "auth": {"type": "headers", "headers": {"X-Key": text}}}),
                "name",
            ),
            (
                "/v1/api-keys",
                json!({"workspace_id": workspace, "name": text, "type": "user", "user_id": text, "permissions": ["mcp.invoke"]}),
                "name",
            ),
            ("/v1/data-planes", json!({"name": text}), "name"),
        ];
        for (path, body, field) in cases {
            let (status, answer) = cp.call(Method::POST, path, Some(body)).await;
            if status == StatusCode::CREATED {
                accepted += 1;
                assert_eq!(
                    answer[field], text,
                    "{path} keeps `{text}` verbatim: {answer}"
                );
            } else {
                assert!(
                    status.is_client_error(),
                    "{path} with `{text}`: {status} {answer}"
                );
                assert!(answer["error"]["message"].is_string(), "{answer}");
            }
        }
        for path in [
            format!("/v1/servers/{}", urlencode(text)),
            format!(
                "/v1/requests?server={}&tool={}",
                urlencode(text),
                urlencode(text)
            ),
            format!("/v1/requests/{}", urlencode(text)),
            format!("/v1/events?after={}", urlencode(text)),
        ] {
            let (status, answer) = cp.call(Method::GET, &path, None).await;
            assert!(
                status == StatusCode::OK || status.is_client_error(),
                "{path}: {status} {answer}"
            );
        }
    }
    assert!(accepted >= 15, "ordinary text is accepted: {accepted}");
    // Very long text: refused with a 4xx, never stored.
    for (path, body) in [
        ("/v1/workspaces", json!({"name": "w".repeat(10_000)})),
        ("/v1/data-planes", json!({"name": "d".repeat(10_000)})),
        ("/v1/workspaces", json!({"name": "w".repeat(300 * 1024)})),
    ] {
        let (status, answer) = cp.call(Method::POST, path, Some(body)).await;
        assert!(status.is_client_error(), "{path}: {status} {answer}");
    }
    let (status, after) = cp.call(Method::GET, "/v1/events?limit=1", None).await;
    assert_eq!(status, StatusCode::OK, "the event log reads: {after}");
    assert!(after["head"].as_i64() > before["head"].as_i64());
    let (status, listed) = cp.call(Method::GET, "/v1/workspaces", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        listed["workspaces"].as_array().unwrap().len() >= 2,
        "{listed}"
    );
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn sqlite_hostile_text_is_stored_verbatim_or_refused() {
    hostile_text_in_every_admin_field_is_stored_verbatim_or_refused(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_hostile_text_is_stored_verbatim_or_refused() {
    hostile_text_in_every_admin_field_is_stored_verbatim_or_refused(Backend::Postgres).await;
}
