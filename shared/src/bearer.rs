//! Bearer credentials in an `Authorization` header (RFC 6750): the scheme is matched without
//! regard to case, and the token is what follows it.

/// The token of an `Authorization: Bearer <token>` value; `None` for another scheme or an
/// empty token.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests;
