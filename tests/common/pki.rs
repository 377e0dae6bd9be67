//! A test CA and a server certificate it signed (names: localhost, 127.0.0.1), as PEM files in a
//! temporary directory. Made with rcgen for each test; nothing is checked in.

use std::path::PathBuf;

use ferrite_config::Config;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

use super::test_config;

pub struct TestPki {
    pub dir: tempfile::TempDir,
    pub ca_pem: String,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// The CA's own key, PEM: a valid key that does not match the server certificate.
    pub ca_key_file: PathBuf,
}

impl TestPki {
    pub fn new() -> TestPki {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "Ferrite test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();

        let mut leaf =
            CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "ferrite test server");
        let leaf_key = KeyPair::generate().unwrap();
        let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let cert_file = dir.path().join("server.pem");
        let key_file = dir.path().join("server-key.pem");
        let ca_key_file = dir.path().join("ca-key.pem");
        std::fs::write(&cert_file, leaf_cert.pem()).unwrap();
        std::fs::write(&key_file, leaf_key.serialize_pem()).unwrap();
        std::fs::write(&ca_key_file, ca_key.serialize_pem()).unwrap();
        TestPki {
            dir,
            ca_pem: ca_cert.pem(),
            cert_file,
            key_file,
            ca_key_file,
        }
    }

    /// The test config with TLS from this PKI's files.
    pub fn config(&self) -> Config {
        let mut c = test_config();
        self.apply(&mut c);
        c
    }

    /// Point `cfg`'s TLS at this PKI's files.
    pub fn apply(&self, cfg: &mut Config) {
        cfg.tls.cert_file = self.cert_file.to_string_lossy().into_owned();
        cfg.tls.key_file = self.key_file.to_string_lossy().into_owned();
    }
}
