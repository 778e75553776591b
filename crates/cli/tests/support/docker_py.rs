//! docker-py scripts against `berth daemon`: each test writes a Python
//! script (a prelude that makes a client from `DOCKER_HOST` and a `put`
//! that records results) to the store's temp dir, runs it with the python
//! that has docker-py, and asserts on the one JSON line of results it
//! prints. An exception in the script fails the test with the script, its
//! output and the daemon's log.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Store;
use super::berth_daemon::BerthDaemon;

/// How long one script may run before it is killed.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// Marks the script's line of results on its stdout.
const RESULTS_MARK: &str = "BERTH-TEST-RESULTS ";

/// What every script starts with: a client from `DOCKER_HOST` and `put`,
/// which records a result for the test.
const PRELUDE: &str = r#"
import io, json, os, socket, struct, sys, tarfile, time
import docker

client = docker.from_env(timeout=120)
results = {}

def put(key, value):
    """Records a result: bytes and tuples as their repr, the rest as JSON."""
    if isinstance(value, (bytes, tuple)):
        value = repr(value)
    results[key] = value
    print(f"{key}: {value!r}", flush=True)

def until(what, check, timeout=20):
    """Polls `check` until it is true; raises after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")

# ---- the test's script ----
"#;

/// What every script ends with: the results as one JSON line.
const EPILOGUE: &str = r#"
# ---- end of the test's script ----
print("BERTH-TEST-RESULTS " + json.dumps(results), flush=True)
"#;

/// The venv scripts/install-test-deps.sh puts docker-py in.
const TEST_VENV_PYTHON: &str = "/opt/berth-test/python/bin/python3";

/// The python that has docker-py: the test venv when it exists (what CI
/// installs), else `python3` on PATH (a developer's own pip install).
pub fn python() -> &'static str {
    if Path::new(TEST_VENV_PYTHON).exists() {
        TEST_VENV_PYTHON
    } else {
        "python3"
    }
}

/// A container store, when docker-py is installed for [`python`].
pub fn prerequisites(test: &str) -> Option<Store> {
    let store = super::container_store(test)?;
    let found = Command::new(python())
        .args(["-c", "import docker; print(docker.__version__)"])
        .stdin(Stdio::null())
        .output();
    match found {
        Ok(out) if out.status.success() => Some(store),
        Ok(out) => {
            super::skip(
                test,
                &format!(
                    "docker-py is not installed for {} (scripts/install-test-deps.sh): {}",
                    python(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            );
            None
        }
        Err(e) => {
            super::skip(test, &format!("no python3 ({e}); then pip install docker"));
            None
        }
    }
}

/// What a script recorded, with its transcript for failure messages.
pub struct Script {
    pub results: Value,
    pub transcript: String,
}

impl std::ops::Index<&str> for Script {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.results[key]
    }
}

/// Runs `body` (after [`PRELUDE`]) with python3 against the daemon; panics
/// with the script, its stdout and stderr and the daemon's log when it
/// fails, times out or prints no results.
pub fn run_script(daemon: &BerthDaemon, store: &Store, name: &str, body: &str) -> Script {
    let script = store.dir().join(format!("{name}.py"));
    std::fs::write(&script, format!("{PRELUDE}{body}{EPILOGUE}")).expect("write the script");
    let stdout_path = store.dir().join(format!("{name}.stdout"));
    let stderr_path = store.dir().join(format!("{name}.stderr"));
    // docker-py reads config.json (proxies, detach keys): a private, empty one.
    let config = store.dir().join("docker-py-config");
    std::fs::create_dir_all(&config).expect("docker-py config dir");
    let mut child = Command::new(python())
        .arg("-u")
        .arg(&script)
        .env("DOCKER_HOST", daemon.host())
        .env("DOCKER_CONFIG", &config)
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .env_remove("DOCKER_API_VERSION")
        .env_remove("DOCKER_CONTEXT")
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("script stdout file"))
        .stderr(File::create(&stderr_path).expect("script stderr file"))
        .spawn()
        .expect("spawn python3");
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for python3") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let transcript = format!(
        "docker-py script {name}:\n{body}\n--- its stdout:\n{stdout}\n--- its stderr:\n{stderr}\n--- berth daemon log (tail):\n{}",
        daemon.log_tail()
    );
    match status {
        None => panic!("timed out after {SCRIPT_TIMEOUT:?}\n{transcript}"),
        Some(s) if !s.success() => panic!("failed ({s})\n{transcript}"),
        Some(_) => {}
    }
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(RESULTS_MARK))
        .unwrap_or_else(|| panic!("no results line\n{transcript}"));
    let results = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("results are not JSON ({e})\n{transcript}"));
    Script {
        results,
        transcript,
    }
}
