//! RFC 7662 token introspection: a bearer the gateway cannot check itself (an opaque token, or
//! a JWT of an issuer whose keys it is not given) is sent to the identity provider's
//! introspection endpoint (client_secret_basic, through the egress policy, bounded), and its
//! answer checked as a JWT's claims would be: `active`, `iss`, `aud`, `exp` and `nbf`, and the
//! required claims. Answers are kept per SHA-256 of the token for at most a minute, never
//! past the token's `exp`; the token itself is never logged.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use mcpgw_shared::model::{Introspection, JwtValidation, claim_matches};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::egress::EgressPolicy;
use crate::errors::GatewayError;
use crate::oauth::http::call;

/// Longest an answer is kept.
const KEPT_FOR: Duration = Duration::from_secs(60);
/// Most answers kept.
const MAX_ANSWERS: u64 = 10_000;

/// Asks introspection endpoints about tokens, keeping their answers; cheap to clone.
#[derive(Clone)]
pub struct Introspector {
    /// Answers by endpoint and SHA-256 of the token, with when each stops being used.
    answers: moka::future::Cache<(String, [u8; 32]), (Instant, Value)>,
}

impl Default for Introspector {
    fn default() -> Self {
        Self {
            answers: moka::future::Cache::builder()
                .max_capacity(MAX_ANSWERS)
                .time_to_live(KEPT_FOR)
                .build(),
        }
    }
}

impl std::fmt::Debug for Introspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspector")
            .field("answers", &self.answers.entry_count())
            .finish()
    }
}

impl Introspector {
    /// The claims `rules`' introspection endpoint answers for `token`, checked: active, of the
    /// issuer, for `audience` (or one the rules list), not expired, carrying the required
    /// claims.
    pub async fn claims(
        &self,
        client: &reqwest::Client,
        egress: &EgressPolicy,
        rules: &JwtValidation,
        token: &str,
        audience: &str,
    ) -> Result<Value, GatewayError> {
        let endpoint = rules
            .introspection
            .as_ref()
            .expect("only rules with introspection are asked");
        let key = (
            endpoint.endpoint.clone(),
            Sha256::digest(token.as_bytes()).into(),
        );
        let answer = match self.answers.get(&key).await {
            Some((until, answer)) if Instant::now() < until => answer,
            _ => {
                let answer = ask(client, egress, endpoint, token).await?;
                self.answers
                    .insert(key, (Instant::now() + kept_for(&answer), answer.clone()))
                    .await;
                answer
            }
        };
        check(rules, &answer, audience)?;
        Ok(answer)
    }
}

/// How long an answer is kept: a minute, less when the token expires sooner.
fn kept_for(answer: &Value) -> Duration {
    let left = answer
        .get("exp")
        .and_then(Value::as_i64)
        .map(|exp| Duration::from_secs(u64::try_from(exp - Utc::now().timestamp()).unwrap_or(0)));
    left.map_or(KEPT_FOR, |left| left.min(KEPT_FOR))
}

/// The endpoint's answer for `token`.
async fn ask(
    client: &reqwest::Client,
    egress: &EgressPolicy,
    endpoint: &Introspection,
    token: &str,
) -> Result<Value, GatewayError> {
    let unavailable = |why: String| {
        tracing::warn!(endpoint = %endpoint.endpoint, error = %why, "token introspection failed");
        GatewayError::TokenCheckUnavailable(format!(
            "the identity provider's introspection endpoint could not be asked about it ({why})"
        ))
    };
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let secret = endpoint
        .client_secret
        .as_ref()
        .map(|s| s.expose().as_str())
        .unwrap_or_default();
    let basic = STANDARD.encode(format!(
        "{}:{}",
        encode(&endpoint.client_id),
        encode(secret)
    ));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .append_pair("token_type_hint", "access_token")
        .finish();
    let mut authorization = http::HeaderValue::try_from(format!("Basic {basic}"))
        .map_err(|_| unavailable("the client id or secret cannot be sent".into()))?;
    authorization.set_sensitive(true);
    let request = http::Request::post(endpoint.endpoint.as_str())
        .header(http::header::AUTHORIZATION, authorization)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json")
        .body(body.into_bytes())
        .map_err(|e| unavailable(format!("invalid endpoint: {e}")))?;
    let response = call(client, egress, request)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if !response.status().is_success() {
        return Err(unavailable(format!("HTTP {}", response.status().as_u16())));
    }
    match serde_json::from_slice::<Value>(response.body()) {
        Ok(answer @ Value::Object(_)) => Ok(answer),
        _ => Err(unavailable("its answer is not a JSON object".into())),
    }
}

/// Whether an introspection `answer` admits a caller of the server at `audience`.
pub(super) fn check(
    rules: &JwtValidation,
    answer: &Value,
    audience: &str,
) -> Result<(), GatewayError> {
    let refused = |why: String| Err(GatewayError::InvalidToken(why));
    if answer.get("active") != Some(&Value::Bool(true)) {
        return refused(
            "the identity provider says it is not active (expired, revoked or unknown)".into(),
        );
    }
    if let Some(iss) = answer.get("iss")
        && iss.as_str() != Some(rules.issuer.as_str())
    {
        return refused("its issuer is not the workspace's".into());
    }
    if let Some(aud) = answer.get("aud") {
        let accepted = |a: &str| a == audience || rules.audiences.iter().any(|x| x == a);
        let ok = match aud {
            Value::String(a) => accepted(a),
            Value::Array(all) => all.iter().filter_map(Value::as_str).any(accepted),
            _ => false,
        };
        if !ok {
            return refused(format!("its audience is not {audience}"));
        }
    }
    let now = Utc::now().timestamp();
    let tolerance = i64::from(rules.clock_tolerance_seconds);
    if answer
        .get("exp")
        .and_then(Value::as_i64)
        .is_some_and(|exp| exp + tolerance <= now)
    {
        return refused("it has expired".into());
    }
    if answer
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf - tolerance > now)
    {
        return refused("it is not valid yet (`nbf`)".into());
    }
    for (claim, wanted) in &rules.required_claims {
        if !answer
            .get(claim)
            .is_some_and(|got| claim_matches(got, wanted))
        {
            return refused(format!(
                "its `{claim}` claim does not carry what the workspace requires ({wanted})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
