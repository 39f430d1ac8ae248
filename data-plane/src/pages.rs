//! The small HTML pages the gateway shows a user's browser (sign-in, consent, errors): never
//! cached, never framed, no scripts, every interpolated text escaped.

use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

/// Marks `response` as not to be cached or referred from.
pub fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, "no-store".parse().expect("static"));
    headers.insert(
        header::REFERRER_POLICY,
        "no-referrer".parse().expect("static"),
    );
}

/// A page with a title and one paragraph of text.
pub fn page(status: StatusCode, title: &str, text: &str) -> Response {
    html(status, title, &format!("<p>{}</p>", escape(text)))
}

/// A page with a title and `body`, which must already be escaped HTML. No script, style or
/// frame may load (`default-src 'none'`, inline styles aside); forms post back to the gateway.
pub fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width\"></head>\
         <body style=\"font-family:sans-serif;max-width:36em;margin:3em auto\"><h1>{title}</h1>{body}</body></html>",
        title = escape(title),
    );
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    no_store(&mut response);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
            .parse()
            .expect("static"),
    );
    headers.insert(header::X_FRAME_OPTIONS, "DENY".parse().expect("static"));
    response
}

/// `text` safe to place in HTML text or a quoted attribute.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
