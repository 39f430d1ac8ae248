//! A throwaway certificate authority for tests of TLS links: a CA, a server certificate for
//! `localhost` and 127.0.0.1, and a client certificate, all written as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};

/// The files of a test PKI, removed with it.
pub struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    /// Generates a CA with one server and one client certificate.
    pub fn generate() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "mcpgw test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");
        write(dir.path(), "ca.pem", &ca.pem());
        let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose, stem: &str| {
            let mut params = CertificateParams::new(names).expect("leaf params");
            params.extended_key_usages = vec![usage];
            let key = KeyPair::generate().expect("leaf key");
            let cert = params.signed_by(&key, &ca).expect("leaf certificate");
            write(dir.path(), &format!("{stem}.pem"), &cert.pem());
            write(dir.path(), &format!("{stem}.key"), &key.serialize_pem());
        };
        leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
            "server",
        );
        leaf(
            vec!["data-plane".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
            "client",
        );
        Self { dir }
    }

    /// The CA certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The server certificate and key (`localhost`, 127.0.0.1).
    pub fn server(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().join("server.pem"),
            self.dir.path().join("server.key"),
        )
    }

    /// The client certificate and key.
    pub fn client(&self) -> (PathBuf, PathBuf) {
        (
            self.dir.path().join("client.pem"),
            self.dir.path().join("client.key"),
        )
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write a PEM file");
}
