//! A scripted browser for sign-in flows: follows redirects by hand, keeps cookies, and
//! submits `oidc-provider`'s development login and consent forms (or the gateway's own sign-in
//! and consent pages, with a user API key), until it lands on a page that is none of them (a
//! callback page, or an error page).

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// Most pages one sign-in may visit.
const MAX_STEPS: usize = 20;

/// Where a sign-in ended: the last page's URL, status and text.
#[derive(Debug)]
pub struct Landing {
    /// Its URL.
    pub url: String,
    /// Its status.
    pub status: StatusCode,
    /// Its body.
    pub text: String,
}

/// Opens `url` and signs in as `login` (any name: the development login takes any; on the
/// gateway's own sign-in page, a user API key), giving consent when asked.
pub async fn sign_in(url: &str, login: &str) -> Landing {
    sign_in_trusting(url, login, None).await
}

/// [`sign_in`] where the gateway's own sign-in page gets `api_key` and `oidc-provider`'s login
/// page `login` (a flow that passes both).
pub async fn sign_in_with_key(url: &str, api_key: &str, login: &str) -> Landing {
    browse(url, api_key, login, None).await
}

/// [`sign_in`], trusting the CA certificate at `ca` (PEM) for https pages too.
pub async fn sign_in_trusting(url: &str, login: &str, ca: Option<&std::path::Path>) -> Landing {
    browse(url, login, login, ca).await
}

async fn browse(url: &str, api_key: &str, login: &str, ca: Option<&std::path::Path>) -> Landing {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20));
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).expect("the CA certificate");
        builder = builder
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("a PEM certificate"));
    }
    let http = builder.build().expect("HTTP client");
    let mut cookies = BTreeMap::<String, String>::new();
    let mut url = reqwest::Url::parse(url).expect("a sign-in URL");
    let mut form: Option<Vec<(&str, String)>> = None;
    for _ in 0..MAX_STEPS {
        let mut request = match form.take() {
            Some(fields) => {
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields)
                    .finish();
                http.post(url.clone())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
            }
            None => http.get(url.clone()),
        };
        if !cookies.is_empty() {
            let header = cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request = request.header(COOKIE, header);
        }
        let response = request.send().await.expect("the page answers");
        for set in response.headers().get_all(SET_COOKIE) {
            let text = set.to_str().unwrap_or_default();
            if let Some((name, value)) = text.split(';').next().and_then(|c| c.split_once('=')) {
                cookies.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
        let status = response.status();
        if status.is_redirection() {
            let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
            url = url.join(&location).expect("a redirect target");
            continue;
        }
        let text = response.text().await.unwrap_or_default();
        let action = form_action(&text);
        match action {
            Some(action) if text.contains(r#"name="login""#) => {
                url = url.join(&action).expect("a form action");
                form = Some(vec![
                    ("prompt", "login".to_owned()),
                    ("login", login.to_owned()),
                    ("password", "any".to_owned()),
                ]);
            }
            Some(action) if text.contains(r#"value="consent""#) => {
                url = url.join(&action).expect("a form action");
                form = Some(vec![("prompt", "consent".to_owned())]);
            }
            // The gateway's own sign-in page: `login` is a user API key.
            Some(action) if text.contains(r#"name="api_key""#) => {
                url = url.join(&action).expect("a form action");
                form = Some(vec![
                    ("request", hidden_request(&text)),
                    ("api_key", api_key.to_owned()),
                ]);
            }
            // The gateway's consent page.
            Some(action) if text.contains(r#"value="allow""#) => {
                url = url.join(&action).expect("a form action");
                form = Some(vec![
                    ("request", hidden_request(&text)),
                    ("decision", "allow".to_owned()),
                ]);
            }
            _ => {
                return Landing {
                    url: url.to_string(),
                    status,
                    text,
                };
            }
        }
    }
    panic!("the sign-in did not end within {MAX_STEPS} pages");
}

/// The sealed request a gateway page's form carries.
fn hidden_request(page: &str) -> String {
    let marker = r#"name="request" value=""#;
    let at = page.find(marker).expect("a sealed request field") + marker.len();
    let end = page[at..].find('"').expect("a closing quote");
    page[at..at + end].replace("&amp;", "&")
}

/// The `action` of the page's form, unescaped.
fn form_action(page: &str) -> Option<String> {
    let start = page.find("<form")?;
    let rest = &page[start..];
    let at = rest.find("action=\"")? + "action=\"".len();
    let end = rest[at..].find('"')?;
    Some(rest[at..at + end].replace("&amp;", "&"))
}
