//! Name resolution for the HTTP client that applies the egress policy to the addresses a name
//! resolves to, at connect time.

use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::EgressPolicy;

/// Resolves with the system resolver, then keeps only the addresses the policy permits.
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: Arc<EgressPolicy>,
}

impl PolicyResolver {
    /// A resolver applying `policy`.
    pub fn new(policy: Arc<EgressPolicy>) -> Self {
        Self { policy }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<_> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitted = policy.filter(&host, resolved)?;
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
}
