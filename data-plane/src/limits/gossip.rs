//! The pods' exchange of counts on the bus: every [`SYNC_INTERVAL`] a pod reports the counts
//! that changed (all of its counts every tenth interval, which is also its heartbeat), and it
//! takes every other pod's reports into its table.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::StreamExt;
use mcpgw_shared::DataPlaneId;
use mcpgw_shared::bus::{Bus, BusMessage};
use mcpgw_shared::subjects::Subjects;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::table::{CounterKey, PodId, Report, Window};
use super::{RateLimiter, SYNC_INTERVAL};

/// Every this many intervals a pod reports all its counts, changed or not.
const FULL_REPORT_EVERY: u32 = 10;
/// Most counts in one message.
const MAX_COUNTS_PER_MESSAGE: usize = 5_000;
/// Largest message taken from the bus.
const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

/// One message: a pod's counts.
#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    /// The reporting pod (32 hex digits).
    pod: String,
    /// `[counter id (32 hex digits), window letter, window start, count]`.
    counts: Vec<(String, char, u64, u64)>,
}

/// The gossip task of one pod.
pub struct Gossip {
    /// The pod's counters.
    pub limiter: RateLimiter,
    /// The bus.
    pub bus: Arc<dyn Bus>,
    /// The cluster's subjects.
    pub subjects: Subjects,
    /// This data plane's id, once the control plane said it (reports are published under it).
    pub identity: watch::Receiver<Option<DataPlaneId>>,
}

impl Gossip {
    /// Runs until `shutdown` fires.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut reports = None;
        let mut ticks = tokio::time::interval(SYNC_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut count = 0u32;
        loop {
            if reports.is_none() {
                match self.bus.subscribe(self.subjects.all_limits()).await {
                    Ok(stream) => reports = Some(stream),
                    Err(error) => {
                        tracing::warn!(%error, "cannot hear other pods' rate-limit counts; retrying");
                    }
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = ticks.tick() => {
                    count = count.wrapping_add(1);
                    self.report(count.is_multiple_of(FULL_REPORT_EVERY)).await;
                }
                message = next(&mut reports) => match message {
                    Some(message) => self.absorb(&message),
                    None => {
                        tracing::warn!("the rate-limit subscription ended; resubscribing");
                        reports = None;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
            }
        }
    }

    /// Ends an interval and publishes what changed (everything, when `full`).
    async fn report(&self, full: bool) {
        let reports = self.limiter.table().tick(Instant::now(), unix_now(), full);
        let Some(data_plane) = *self.identity.borrow() else {
            return;
        };
        if reports.is_empty() && !full {
            return;
        }
        let subject = self.subjects.limits_of(data_plane);
        let pod = format!("{:032x}", self.limiter.inner.pod);
        let mut messages: Vec<BusMessage> = reports
            .chunks(MAX_COUNTS_PER_MESSAGE)
            .map(|chunk| encode(&subject, &pod, chunk))
            .collect();
        if messages.is_empty() {
            // The heartbeat: this pod is part of the fleet's shares.
            messages.push(encode(&subject, &pod, &[]));
        }
        if let Err(error) = self.bus.publish(messages).await {
            tracing::debug!(%error, "rate-limit counts not published; the next interval sends them");
        }
    }

    /// Takes another pod's report.
    fn absorb(&self, message: &BusMessage) {
        if message.payload.len() > MAX_MESSAGE_BYTES {
            return;
        }
        let Some((pod, reports)) = decode(&message.payload) else {
            tracing::debug!(subject = %message.subject, "ignored a malformed rate-limit report");
            return;
        };
        if pod == self.limiter.inner.pod {
            return;
        }
        self.limiter
            .table()
            .absorb(pod, &reports, Instant::now(), unix_now());
    }
}

async fn next<S: futures::Stream + Unpin>(stream: &mut Option<S>) -> Option<S::Item> {
    match stream {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn encode(subject: &str, pod: &str, reports: &[Report]) -> BusMessage {
    let wire = Wire {
        pod: pod.to_owned(),
        counts: reports
            .iter()
            .map(|r| (hex(&r.key.id), r.key.window.code(), r.key.start, r.count))
            .collect(),
    };
    BusMessage {
        subject: subject.to_owned(),
        message_id: None,
        payload: Bytes::from(serde_json::to_vec(&wire).unwrap_or_default()),
    }
}

/// A report from the bus; `None` when it is not one (every field is checked, bad entries
/// make the whole message void).
fn decode(payload: &[u8]) -> Option<(PodId, Vec<Report>)> {
    let wire: Wire = serde_json::from_slice(payload).ok()?;
    let pod = u128::from_str_radix(&wire.pod, 16).ok()?;
    if wire.counts.len() > MAX_COUNTS_PER_MESSAGE {
        return None;
    }
    let reports = wire
        .counts
        .into_iter()
        .map(|(id, window, start, count)| {
            Some(Report {
                key: CounterKey {
                    id: unhex(&id)?,
                    window: Window::from_code(window)?,
                    start,
                },
                count,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some((pod, reports))
}

fn hex(bytes: &[u8; 16]) -> String {
    format!("{:032x}", u128::from_be_bytes(*bytes))
}

fn unhex(text: &str) -> Option<[u8; 16]> {
    (text.len() == 32)
        .then(|| u128::from_str_radix(text, 16).ok())
        .flatten()
        .map(u128::to_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_survives_the_wire_and_garbage_is_refused() {
        let report = Report {
            key: CounterKey {
                id: [7; 16],
                window: Window::Hour,
                start: 3600,
            },
            count: 42,
        };
        let message = encode("s", &format!("{:032x}", 9u128), &[report]);
        assert_eq!(decode(&message.payload), Some((9, vec![report])));
        for bad in [
            &b"{}"[..],
            b"not json",
            br#"{"pod":"zz","counts":[]}"#,
            br#"{"pod":"01","counts":[["00","m",0,1]]}"#,
            br#"{"pod":"01","counts":[["0000000000000000000000000000000a","x",0,1]]}"#,
        ] {
            assert_eq!(decode(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
