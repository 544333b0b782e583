//! A real AWS API emulator for the AWS adapters' tests: moto's server mode, from PyPI, which the
//! test command installs into `.venv` (`NEWBORN_MOTO_SERVER` names another binary).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server; killed when dropped.
pub struct Emulator {
    child: Child,
    /// Its endpoint, `http://127.0.0.1:<port>`.
    pub url: String,
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

/// Starts moto's server mode on a free port of 127.0.0.1 and waits until it listens.
pub fn start_emulator() -> Emulator {
    let server = moto_server();
    assert!(
        server.exists(),
        "{} is missing: run ./scripts/test.sh, which installs moto[server] into .venv",
        server.display()
    );
    start_emulator_with(Command::new(server))
}

/// Starts `command` — moto's server, or a launcher taking its arguments — with `-H 127.0.0.1 -p
/// <free port>`, and waits until it listens.
pub fn start_emulator_with(mut command: Command) -> Emulator {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let child = command
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
