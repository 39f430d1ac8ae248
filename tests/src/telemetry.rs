//! What the observability tests read: an OTLP/gRPC trace collector (the receiving side of the
//! OpenTelemetry protocol, from `opentelemetry-proto`), and Prometheus expositions parsed by
//! the Prometheus project's Python parser.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

/// One exported span, flattened.
#[derive(Debug, Clone)]
pub struct ExportedSpan {
    /// The service that exported it (`service.name`).
    pub service: String,
    /// Its name.
    pub name: String,
    /// Its trace id, hex.
    pub trace_id: String,
    /// Its span id, hex.
    pub span_id: String,
    /// Its parent's span id, hex (empty for a root).
    pub parent_span_id: String,
    /// Its attributes, values as text.
    pub attributes: BTreeMap<String, String>,
}

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<ExportedSpan>>>);

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().expect("collector lock");
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref())
                .map(|v| text(v.value.as_ref()))
                .unwrap_or_default();
            for scope in resource.scope_spans {
                for span in scope.spans {
                    spans.push(ExportedSpan {
                        service: service.clone(),
                        name: span.name,
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: hex(&span.parent_span_id),
                        attributes: span
                            .attributes
                            .into_iter()
                            .map(|a| (a.key, text(a.value.and_then(|v| v.value).as_ref())))
                            .collect(),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// An OTLP/gRPC collector on a loopback port, keeping every span it receives.
pub struct OtlpCollector {
    addr: SocketAddr,
    received: Received,
    task: tokio::task::JoinHandle<()>,
}

impl OtlpCollector {
    /// Starts the collector.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the collector");
        let addr = listener.local_addr().expect("collector address");
        let received = Received::default();
        let service = TraceServiceServer::new(received.clone());
        let task = tokio::spawn(async move {
            let incoming = tokio_stream_listener(listener);
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming)
                .await;
        });
        Self {
            addr,
            received,
            task,
        }
    }

    /// The value of `OTEL_EXPORTER_OTLP_ENDPOINT` that reaches it.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ExportedSpan> {
        self.received.0.lock().expect("collector lock").clone()
    }

    /// Waits until a span satisfies `matches`, for up to `within`; returns it.
    pub async fn wait_for(
        &self,
        within: Duration,
        what: &str,
        matches: impl Fn(&ExportedSpan) -> bool,
    ) -> ExportedSpan {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(span) = self.spans().into_iter().find(|s| matches(s)) {
                return span;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no span {what} arrived within {within:?}; got: {:#?}",
                self.spans()
                    .iter()
                    .map(|s| format!("{} {}", s.service, s.name))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for OtlpCollector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn tokio_stream_listener(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| stream);
        Some((accepted, listener))
    })
}

/// One sample of a Prometheus exposition.
#[derive(Debug, Clone, Deserialize)]
pub struct Sample {
    /// The sample's name (`mcpgw_requests_total`, `…_bucket`).
    pub name: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its value.
    pub value: f64,
}

/// Parses `exposition` with the Prometheus Python parser (`tests/peers/parse_metrics.py`);
/// panics if the parser rejects it.
pub async fn parse_prometheus(exposition: &str) -> Vec<Sample> {
    let mut child = tokio::process::Command::new(crate::peers::python())
        .arg(crate::peers::script("parse_metrics.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the Prometheus parser");
    let mut stdin = child.stdin.take().expect("parser stdin");
    stdin
        .write_all(exposition.as_bytes())
        .await
        .expect("feed the parser");
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the parser finishes")
        .expect("parser output");
    assert!(
        output.status.success(),
        "the Prometheus parser rejected the exposition: {}\n{exposition}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a sample"))
        .collect()
}

/// The sum of the samples named `name` whose labels include every pair of `labels`.
pub fn sum(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}
