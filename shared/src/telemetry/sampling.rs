//! Head sampling at the edge of each request. The OpenTelemetry layer costs a few microseconds
//! per span whether or not the span is exported later, so the gateway decides before a
//! request's span exists, with the policy `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`
//! name, and runs an unsampled request where the tracing layer does not see its spans at all
//! ([`SampledOnly`]). What reaches the SDK is then exported as is.

use std::sync::OnceLock;

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

use super::traceparent;

tokio::task_local! {
    /// Whether the request this task runs for is sampled.
    static SAMPLED: bool;
}

/// The configured policy; unset (no export) samples nothing.
static POLICY: OnceLock<Policy> = OnceLock::new();

/// A sampling policy, as the OpenTelemetry environment variables name them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Follow a caller's sampled flag when it sent one.
    pub parent_based: bool,
    /// The share of traces without a parent (or of all, when not parent-based) that are kept.
    pub ratio: f64,
}

impl Default for Policy {
    /// `parentbased_always_on`, the specification's default.
    fn default() -> Self {
        Self {
            parent_based: true,
            ratio: 1.0,
        }
    }
}

impl Policy {
    /// The policy of `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
    pub fn from_env() -> Self {
        let sampler = std::env::var("OTEL_TRACES_SAMPLER").unwrap_or_default();
        let argument = std::env::var("OTEL_TRACES_SAMPLER_ARG").ok();
        Self::parse(&sampler, argument.as_deref())
    }

    /// The policy of a sampler name and its argument; an unknown name is the default, said on
    /// stderr (logging may not be set up yet).
    pub fn parse(sampler: &str, argument: Option<&str>) -> Self {
        let ratio = || {
            argument
                .and_then(|a| a.trim().parse::<f64>().ok())
                .filter(|r| (0.0..=1.0).contains(r))
                .unwrap_or(1.0)
        };
        let (parent_based, ratio) = match sampler.trim() {
            "" | "parentbased_always_on" => (true, 1.0),
            "always_on" => (false, 1.0),
            "always_off" => (false, 0.0),
            "parentbased_always_off" => (true, 0.0),
            "traceidratio" => (false, ratio()),
            "parentbased_traceidratio" => (true, ratio()),
            other => {
                eprintln!(
                    "OTEL_TRACES_SAMPLER={other} is not supported: using parentbased_always_on"
                );
                (true, 1.0)
            }
        };
        Self {
            parent_based,
            ratio,
        }
    }

    /// Whether a request whose `traceparent` header is `parent` is sampled.
    pub fn decide(&self, parent: Option<&str>) -> bool {
        if self.parent_based
            && let Some(parent) = parent.and_then(traceparent)
        {
            return parent.sampled;
        }
        self.ratio >= 1.0 || (self.ratio > 0.0 && rand::random::<f64>() < self.ratio)
    }
}

/// Sets the policy (once, at start-up, when spans are exported).
pub(super) fn configure(policy: Policy) {
    let _ = POLICY.set(policy);
}

/// Whether a request whose `traceparent` header is `parent` is sampled under the configured
/// policy; `false` when spans are not exported.
pub fn decide(parent: Option<&str>) -> bool {
    POLICY.get().is_some_and(|policy| policy.decide(parent))
}

/// Runs `work` (a request, or a unit of background work that starts a trace) as sampled or
/// not: its spans reach the tracing layer only when sampled.
pub async fn scope<F: Future>(sampled: bool, work: F) -> F::Output {
    SAMPLED.scope(sampled, work).await
}

/// Whether spans and events at `metadata`'s level belong in traces from the current task: at
/// info level and above, unless the task serves an unsampled request. Outside any request
/// (start-up, background tasks) those levels pass.
fn traced(metadata: &Metadata<'_>) -> bool {
    *metadata.level() <= Level::INFO && SAMPLED.try_with(|sampled| *sampled).unwrap_or(true)
}

/// The OpenTelemetry layer's filter: what [`traced`] lets through.
#[derive(Debug, Clone, Copy)]
pub struct SampledOnly;

impl<S: Subscriber> Filter<S> for SampledOnly {
    fn enabled(&self, metadata: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        traced(metadata)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if *metadata.level() > Level::INFO {
            // Debug and trace callsites (the HTTP stack has many) are never traced.
            Interest::never()
        } else {
            // Decided per span, by the task it is created in: not cached per callsite.
            Interest::sometimes()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::INFO)
    }
}

/// A global filter in front of the per-layer ones: a span or event exists only when the log
/// filter (`RUST_LOG`) or the trace ([`traced`]) wants it. Per-layer filters alone decide who
/// sees a span, not whether it is made: without this gate every span of an unsampled request
/// would still be allocated and entered, at a few microseconds a request.
pub struct Gate {
    log: EnvFilter,
}

impl Gate {
    /// A gate admitting what `log` (the same filter as the log layer's) or the trace wants.
    pub fn new(log: EnvFilter) -> Self {
        Self { log }
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").field("log", &self.log).finish()
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Gate {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        let log = Filter::<S>::callsite_enabled(&self.log, metadata);
        let trace = Filter::<S>::callsite_enabled(&SampledOnly, metadata);
        if log.is_always() {
            Interest::always()
        } else if log.is_never() && trace.is_never() {
            Interest::never()
        } else {
            Interest::sometimes()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, cx: Context<'_, S>) -> bool {
        traced(metadata) || Filter::<S>::enabled(&self.log, metadata, &cx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let log = Filter::<S>::max_level_hint(&self.log).unwrap_or(LevelFilter::TRACE);
        Some(log.max(LevelFilter::INFO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLED_PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const UNSAMPLED_PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

    #[test]
    fn the_environment_names_the_policy() {
        assert_eq!(Policy::parse("", None), Policy::default());
        let ratio = Policy::parse("parentbased_traceidratio", Some("0.01"));
        assert!(ratio.parent_based && (ratio.ratio - 0.01).abs() < 1e-9);
        assert_eq!(Policy::parse("traceidratio", Some("7")).ratio, 1.0);
        assert_eq!(Policy::parse("always_off", None).ratio, 0.0);
        assert!(!Policy::parse("always_on", None).parent_based);
    }

    #[test]
    fn a_parent_decides_when_the_policy_follows_it() {
        let never = Policy::parse("parentbased_always_off", None);
        assert!(never.decide(Some(SAMPLED_PARENT)));
        assert!(!never.decide(None));
        let always = Policy::parse("parentbased_always_on", None);
        assert!(!always.decide(Some(UNSAMPLED_PARENT)));
        assert!(Policy::parse("always_on", None).decide(Some(UNSAMPLED_PARENT)));
    }

    #[test]
    fn a_ratio_keeps_about_that_share() {
        let policy = Policy::parse("traceidratio", Some("0.1"));
        let kept = (0..20_000).filter(|_| policy.decide(None)).count();
        assert!((1_500..2_500).contains(&kept), "{kept}");
    }
}

#[cfg(test)]
mod filter_tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    fn disabled_in(sampled: bool) -> bool {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(scope(sampled, async {
            tracing::info_span!("request").is_disabled()
        }))
    }

    /// The stack `init` builds, with a log filter of `log`.
    fn stack(log: &str) -> impl Subscriber + Send + Sync {
        tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_filter(EnvFilter::new(log)))
            .with(tracing_subscriber::fmt::layer().with_filter(SampledOnly))
            .with(Gate::new(EnvFilter::new(log)))
    }

    #[test]
    fn an_unsampled_request_makes_no_span_unless_logs_want_it() {
        tracing::subscriber::with_default(stack("warn"), || {
            assert!(disabled_in(false), "unsampled, logs at warn: no span");
            assert!(!disabled_in(true), "sampled: a span");
        });
        tracing::subscriber::with_default(stack("info"), || {
            assert!(!disabled_in(false), "logs at info want the request's span");
        });
    }
}
