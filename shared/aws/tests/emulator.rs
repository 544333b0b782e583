//! The DynamoDB store against a real AWS API emulator (moto's server mode, from PyPI; the test
//! command installs it into `.venv`), through the real AWS SDK over HTTP, in a China region.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use newborn_aws::{DynamoStore, create_table};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Emulator {
    child: Child,
    url: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server() -> PathBuf {
    std::env::var_os("NEWBORN_MOTO_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../.venv/bin/moto_server"
            ))
        })
}

fn start_emulator() -> Emulator {
    let server = moto_server();
    assert!(
        server.exists(),
        "{} is missing: run ./scripts/test.sh, which installs moto[server] into .venv",
        server.display()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start moto: {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Emulator {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

fn client(url: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("cn-northwest-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new("test", "test", None, None, "emulator"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

#[tokio::test]
async fn the_dynamodb_store_obeys_the_same_store_contract_as_sqlite() {
    let emulator = start_emulator();
    let client = client(&emulator.url);
    create_table(&client, "newborn")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    newborn_contract::store_contract(&DynamoStore::new(client, "newborn"), "D").await;
}
