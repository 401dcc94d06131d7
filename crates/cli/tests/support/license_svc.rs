//! A real `dev-health license-svc serve` process next to localstripe, for the SaaS flow tests.

use std::path::Path;
use std::process::{Child, Stdio};

use license_service::testing::localstripe;

use super::binary;

/// A running license-svc.
pub struct LicenseSvc {
    pub child: Child,
    pub base: String,
    pub config: std::path::PathBuf,
}

impl LicenseSvc {
    /// Writes its configuration into `dir` (receiver `ops_base`, the localstripe team monthly
    /// price `team`, database `database_url`) and starts `license-svc serve --listen
    /// 127.0.0.1:PORT`.
    pub fn start(
        dir: &Path,
        port: u16,
        ops_base: &str,
        database_url: &str,
        team: &str,
    ) -> LicenseSvc {
        LicenseSvc::start_with(dir, port, ops_base, database_url, team, "")
    }

    /// [`LicenseSvc::start`] with more configuration appended (more prices).
    pub fn start_with(
        dir: &Path,
        port: u16,
        ops_base: &str,
        database_url: &str,
        team: &str,
        extra: &str,
    ) -> LicenseSvc {
        let receiver = format!("{ops_base}/api/v1/license/webhook");
        let toml =
            license_service::testing::config_toml(dir, &localstripe(), &receiver, team, extra);
        LicenseSvc::start_config(dir, port, database_url, &toml, "info")
    }

    /// Writes `toml` as the configuration in `dir` and starts `license-svc serve --listen
    /// 127.0.0.1:PORT` with `RUST_LOG=log`.
    pub fn start_config(
        dir: &Path,
        port: u16,
        database_url: &str,
        toml: &str,
        log: &str,
    ) -> LicenseSvc {
        let config = dir.join("license-svc.toml");
        std::fs::write(&config, toml).unwrap();
        let mut child = binary()
            .current_dir(dir)
            .args([
                "license-svc",
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .env("LICENSE_SVC_CONFIG", &config)
            .env("LICENSE_SVC_DATABASE_URL", database_url)
            .env("RUST_LOG", log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        match super::listening_on(&mut child, "license-svc listening on ") {
            Some(base) => LicenseSvc {
                child,
                base,
                config,
            },
            None => {
                let _ = child.kill();
                panic!("license-svc did not start: {:?}", child.wait());
            }
        }
    }

    /// Runs a `license-svc` subcommand against the same config and database.
    pub fn run(&self, dir: &Path, database_url: &str, args: &[&str]) -> std::process::Output {
        let mut full = vec!["license-svc"];
        full.extend_from_slice(args);
        binary()
            .current_dir(dir)
            .args(full)
            .env("LICENSE_SVC_CONFIG", &self.config)
            .env("LICENSE_SVC_DATABASE_URL", database_url)
            .output()
            .unwrap()
    }
}

impl Drop for LicenseSvc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The password of the test owners.
pub const PASSWORD: &str = "correct horse battery staple";

/// ops in SaaS mode on SQLite in `dir`, on `port` (its public URL known up front: billing
/// builds Stripe's return URLs from it), asking license-svc at `svc_port`.
pub fn saas_ops(dir: &Path, port: u16, svc_port: u16) -> super::Server {
    let url = format!("http://127.0.0.1:{svc_port}");
    let addr = format!("127.0.0.1:{port}");
    let public = format!("http://{addr}");
    super::Server::start_at(
        dir,
        &addr,
        &[],
        &[
            ("DEV_HEALTH_SERVER__PUBLIC_URL", &public),
            ("DEV_HEALTH_MODE", "saas"),
            (
                "DEV_HEALTH_DEPLOYMENT_ID",
                license_service::testing::DEPLOYMENT,
            ),
            ("DEV_HEALTH_BILLING__LICENSE_SVC_URL", &url),
            (
                "DEV_HEALTH_BILLING__KEY_ID",
                license_service::testing::OPS_KID,
            ),
            (
                "DEV_HEALTH_BILLING_KEY_SECRET",
                license_service::testing::OPS_SECRET,
            ),
        ],
    )
}

/// The first owner (`owner@example.com`) and org `Acme`; returns `(access token, org id)`.
pub async fn setup_owner(server: &super::Server) -> (String, String) {
    let r = super::http()
        .post(server.url("/api/v1/setup"))
        .json(&serde_json::json!({"email": "owner@example.com", "password": PASSWORD, "name": "Owner", "org_name": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let body: serde_json::Value = r.json().await.unwrap();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["org"]["id"].as_str().unwrap().to_owned(),
    )
}
