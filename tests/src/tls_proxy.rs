//! A TLS-terminating proxy, as a load balancer in front of a data plane is: it answers https
//! with the test PKI's `localhost` certificate and passes the plain bytes to a local port.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::pki::TestPki;

/// The proxy; it stops when dropped.
pub struct TlsProxy {
    task: tokio::task::JoinHandle<()>,
    target: Arc<AtomicU16>,
    /// The port it listens on.
    pub port: u16,
}

impl TlsProxy {
    /// Listens on a free port; forwards each connection to the port [`TlsProxy::forward_to`]
    /// names (the proxy's URL is known first, so the data plane can be told it).
    pub async fn start(pki: &TestPki) -> Self {
        let (cert, key) = pki.server();
        let certs = CertificateDer::pem_file_iter(&cert)
            .expect("the server certificate")
            .collect::<Result<Vec<_>, _>>()
            .expect("PEM certificates");
        let key = PrivateKeyDer::from_pem_file(&key).expect("the server key");
        let config = ServerConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("a TLS configuration");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("bound").port();
        let target = Arc::new(AtomicU16::new(0));
        let forward = target.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                let target = forward.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(client).await else {
                        return;
                    };
                    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                });
            }
        });
        Self { task, target, port }
    }

    /// Forwards connections to `127.0.0.1:<port>` from now on.
    pub fn forward_to(&self, port: u16) {
        self.target.store(port, Ordering::SeqCst);
    }

    /// `https://localhost:<port>`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.port)
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
