//! The event log on SQLite and PostgreSQL: optimistic concurrency, a gapless commit-ordered
//! sequence under concurrent appends with rollbacks, and projection rebuilds.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mcpgw_control_plane::domain::workspace::WorkspaceEvent;
use mcpgw_control_plane::store::{AppendRequest, Database, StoreError};
use mcpgw_e2e::db::{Backend, TestDatabase};
use mcpgw_shared::{StreamId, WorkspaceId};

async fn database(backend: Backend) -> (TestDatabase, Database) {
    let test_db = TestDatabase::new(backend).await;
    let db = Database::connect(test_db.url()).await.expect("connect");
    db.migrate().await.expect("migrate");
    (test_db, db)
}

fn workspace_created(stream: &StreamId, expected: i64, name: &str) -> AppendRequest {
    let StreamId::Workspace(workspace) = stream else {
        panic!("test streams are workspace streams");
    };
    AppendRequest {
        stream: stream.clone(),
        expected_version: expected,
        events: vec![
            WorkspaceEvent::Created {
                name: name.to_owned(),
            }
            .into(),
        ],
        audience: vec![(*workspace).into()],
        actor: "test".into(),
    }
}

async fn a_stale_expected_version_is_a_conflict_and_writes_nothing(backend: Backend) {
    let (_guard, db) = database(backend).await;
    let stream = WorkspaceId::new().stream();
    db.append(workspace_created(&stream, 0, "a")).await.unwrap();
    let stale = db.append(workspace_created(&stream, 0, "b")).await;
    assert!(
        matches!(
            stale,
            Err(StoreError::Conflict {
                expected: 0,
                actual: 1,
                ..
            })
        ),
        "{stale:?}"
    );
    assert_eq!(db.load_stream(&stream).await.unwrap().len(), 1);
    assert_eq!(
        db.head().await.unwrap(),
        1,
        "a refused append must not consume a sequence number"
    );
}

#[tokio::test]
async fn sqlite_stale_versions_conflict() {
    a_stale_expected_version_is_a_conflict_and_writes_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_stale_versions_conflict() {
    a_stale_expected_version_is_a_conflict_and_writes_nothing(Backend::Postgres).await;
}

/// Many writers append concurrently, a third of them into streams that conflict (rolled back).
/// A reader polling the log the whole time must never see a sequence number before all smaller
/// ones, and the final log must be 1..=N without holes.
async fn concurrent_appends_keep_the_sequence_gapless_and_in_commit_order(backend: Backend) {
    const WRITERS: usize = 8;
    const APPENDS_PER_WRITER: usize = 40;
    let (_guard, db) = database(backend).await;
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let db = db.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut seen = 0i64;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let events = db.read_log(seen, 500, None).await.unwrap();
                for event in &events {
                    assert_eq!(
                        event.seq,
                        seen + 1,
                        "reader saw {} right after {seen}",
                        event.seq
                    );
                    seen = event.seq;
                }
                if finished && events.is_empty() {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };

    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let db = db.clone();
        writers.push(tokio::spawn(async move {
            let mut committed = 0;
            for n in 0..APPENDS_PER_WRITER {
                let stream = WorkspaceId::new().stream();
                if n % 3 == 0 {
                    // Expecting version 5 of a new stream: a conflict, rolled back after the
                    // sequence row was taken.
                    let refused = db.append(workspace_created(&stream, 5, "x")).await;
                    assert!(matches!(refused, Err(StoreError::Conflict { .. })));
                } else {
                    db.append(workspace_created(&stream, 0, &format!("w{writer}-{n}")))
                        .await
                        .unwrap();
                    committed += 1;
                }
            }
            committed
        }));
    }
    let mut committed = 0;
    for writer in writers {
        committed += tokio::time::timeout(Duration::from_secs(120), writer)
            .await
            .expect("writers finish")
            .unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let seen = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, committed as i64);
    let all = db.read_log(0, 10_000, None).await.unwrap();
    let seqs: Vec<i64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=committed as i64).collect::<Vec<_>>());
    assert_eq!(db.head().await.unwrap(), committed as i64);
    let streams: BTreeSet<_> = all.iter().map(|e| e.stream.clone()).collect();
    assert_eq!(streams.len(), committed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_sequence_is_gapless_under_concurrency() {
    concurrent_appends_keep_the_sequence_gapless_and_in_commit_order(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_sequence_is_gapless_under_concurrency() {
    concurrent_appends_keep_the_sequence_gapless_and_in_commit_order(Backend::Postgres).await;
}

async fn a_scoped_read_returns_only_the_workspaces_events(backend: Backend) {
    let (_guard, db) = database(backend).await;
    let a = WorkspaceId::new().stream();
    let workspace_b = WorkspaceId::new();
    let b = workspace_b.stream();
    db.append(workspace_created(&a, 0, "a")).await.unwrap();
    db.append(workspace_created(&b, 0, "b")).await.unwrap();
    let only_b = [workspace_b];
    let events = db.read_log(0, 10, Some(&only_b)).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].stream, b);
    assert_eq!(events[0].audience, vec![workspace_b.into()]);
}

#[tokio::test]
async fn sqlite_scoped_reads() {
    a_scoped_read_returns_only_the_workspaces_events(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_scoped_reads() {
    a_scoped_read_returns_only_the_workspaces_events(Backend::Postgres).await;
}
