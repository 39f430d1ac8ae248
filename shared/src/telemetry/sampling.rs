//! Head sampling at the edge of each request. The OpenTelemetry layer costs a few microseconds
//! per span whether or not the span is exported later, so the gateway decides before a
//! request's span exists, with the policy `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`
//! name, and runs an unsampled request where the tracing layer does not see its spans at all
//! ([`SampledOnly`]). What reaches the SDK is then exported as is.

use std::sync::OnceLock;

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter};

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

/// The OpenTelemetry layer's filter: spans and events at info level and above, unless they
/// belong to an unsampled request's task. Outside any request (start-up, background tasks)
/// those levels pass.
#[derive(Debug, Clone, Copy)]
pub struct SampledOnly;

impl<S: Subscriber> Filter<S> for SampledOnly {
    fn enabled(&self, metadata: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        *metadata.level() <= Level::INFO && SAMPLED.try_with(|sampled| *sampled).unwrap_or(true)
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
