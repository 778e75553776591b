//! `berth daemon -H tcp://` behind TLS with client verification, driven by
//! the real docker CLI (v28) with `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`
//! as a Docker user sets them: run (hijacked attach), exec with stdin
//! (half-close over TLS), the same daemon on its unix socket; clients
//! without a certificate, or with one another CA signed, are refused; TCP
//! without `--tlsverify` and unreadable TLS files are refused at start,
//! leaving no socket behind. Certificates come from a throwaway CA the
//! test makes (rcgen). Traffic to 127.0.0.1 only. Root only.

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::Store;
use support::berth_daemon::BerthDaemon;
use support::registry::TestCa;

/// A port on 127.0.0.1 nobody listens on (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A docker CLI cert dir as `DOCKER_CERT_PATH` expects it: ca.pem, and
/// cert.pem + key.pem when a client certificate is given.
fn cert_dir(dir: &Path, ca_pem: &str, client: Option<(&str, &str)>) {
    std::fs::create_dir_all(dir).expect("cert dir");
    std::fs::write(dir.join("ca.pem"), ca_pem).expect("ca.pem");
    if let Some((cert, key)) = client {
        std::fs::write(dir.join("cert.pem"), cert).expect("cert.pem");
        std::fs::write(dir.join("key.pem"), key).expect("key.pem");
    }
}

/// The docker CLI against `tcp://127.0.0.1:port` with TLS verification
/// and the certificates in `certs`.
fn docker_tls(daemon: &BerthDaemon, port: u16, certs: &Path, args: &[&str]) -> Command {
    let mut cmd = daemon.command(args);
    cmd.env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
        .env("DOCKER_TLS_VERIFY", "1")
        .env("DOCKER_CERT_PATH", certs);
    cmd
}

fn output(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn docker");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(input).expect("write stdin");
    }
    child.wait_with_output().expect("wait for docker")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn docker_cli_over_tcp_with_client_certificates() {
    let test = "docker_cli_over_tcp_with_client_certificates";
    let Some(store) = support::container_store(test) else {
        return;
    };
    let ca = TestCa::new();
    let tls = store.dir().join("daemon-tls");
    std::fs::create_dir_all(&tls).expect("daemon tls dir");
    std::fs::write(tls.join("ca.pem"), &ca.ca_pem).unwrap();
    std::fs::write(tls.join("server-cert.pem"), &ca.cert_pem).unwrap();
    std::fs::write(tls.join("server-key.pem"), &ca.key_pem).unwrap();
    let port = free_port();
    let tcp = format!("tcp://127.0.0.1:{port}");
    let flag = |name: &str| tls.join(name).display().to_string();
    let (ca_flag, cert_flag, key_flag) = (
        flag("ca.pem"),
        flag("server-cert.pem"),
        flag("server-key.pem"),
    );
    let Some(daemon) = BerthDaemon::start_with_args(
        &store,
        test,
        &[
            "-H",
            &tcp,
            "--tlsverify",
            "--tlscacert",
            &ca_flag,
            "--tlscert",
            &cert_flag,
            "--tlskey",
            &key_flag,
        ],
    ) else {
        return;
    };
    assert!(
        daemon.log().contains(&format!(
            "listening on tcp://127.0.0.1:{port} (TLS, client certificates verified)"
        )),
        "{}",
        daemon.log()
    );

    let good = store.dir().join("client-good");
    cert_dir(
        &good,
        &ca.ca_pem,
        Some((&ca.client_cert_pem, &ca.client_key_pem)),
    );

    // The server's version over TLS: the CLI negotiated and verified us.
    let out = output(
        docker_tls(
            &daemon,
            port,
            &good,
            &["version", "--format", "{{.Server.APIVersion}}"],
        ),
        None,
    );
    assert!(
        out.status.success(),
        "docker version over TLS: {}\n{}",
        text(&out.stderr),
        daemon.log_tail()
    );
    assert_eq!(text(&out.stdout).trim(), "1.50");

    // run: create, hijacked attach and wait, all over the TLS connection.
    let out = output(
        docker_tls(
            &daemon,
            port,
            &good,
            &[
                "run",
                "--rm",
                "busybox",
                "sh",
                "-c",
                "echo over-tls; exit 3",
            ],
        ),
        None,
    );
    assert_eq!(
        (out.status.code(), text(&out.stdout).as_str()),
        (Some(3), "over-tls\n"),
        "stderr: {}\n{}",
        text(&out.stderr),
        daemon.log_tail()
    );

    // exec -i: stdin crosses TLS and its end (close_notify, the CLI's
    // CloseWrite) reaches cat, which then exits.
    let out = output(
        docker_tls(
            &daemon,
            port,
            &good,
            &["run", "-d", "--name", "t1", "busybox", "sleep", "60"],
        ),
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = output(
        docker_tls(&daemon, port, &good, &["exec", "-i", "t1", "cat"]),
        Some(b"line one\nline two\n"),
    );
    assert_eq!(
        (out.status.code(), text(&out.stdout).as_str()),
        (Some(0), "line one\nline two\n"),
        "stderr: {}\n{}",
        text(&out.stderr),
        daemon.log_tail()
    );

    // One daemon, two doors: the unix socket sees the TLS client's container.
    let ps = daemon.ok(&["ps", "--format", "{{.Names}}"]);
    assert_eq!(ps.trim(), "t1");

    // A client certificate another CA signed: refused in the handshake.
    let other = TestCa::new();
    let forged = store.dir().join("client-forged");
    cert_dir(
        &forged,
        &ca.ca_pem,
        Some((&other.client_cert_pem, &other.client_key_pem)),
    );
    let out = output(docker_tls(&daemon, port, &forged, &["ps"]), None);
    assert!(
        !out.status.success(),
        "a certificate of another CA was let in: {}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("tls") || text(&out.stderr).contains("certificate"),
        "{}",
        text(&out.stderr)
    );

    // No client certificate at all (the CLI drops missing cert.pem/key.pem).
    let bare = store.dir().join("client-bare");
    cert_dir(&bare, &ca.ca_pem, None);
    let out = output(docker_tls(&daemon, port, &bare, &["ps"]), None);
    assert!(
        !out.status.success(),
        "a client without a certificate was let in: {}",
        text(&out.stdout)
    );

    // Plain HTTP to the TLS port.
    let mut plain = daemon.command(&["ps"]);
    plain.env("DOCKER_HOST", &tcp);
    let out = output(plain, None);
    assert!(
        !out.status.success(),
        "plain HTTP was let in: {}",
        text(&out.stdout)
    );

    let log = daemon.log();
    let refusals = log.matches("TLS handshake with 127.0.0.1:").count();
    assert!(
        refusals >= 3,
        "each refused client is logged (3 expected):\n{log}"
    );

    // The good client still works after the refusals.
    let out = output(docker_tls(&daemon, port, &good, &["rm", "-f", "t1"]), None);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// `berth daemon` with `args`, which must fail to start: (exit code,
/// stderr). A daemon that starts serving instead is killed after 10 s and
/// the test fails.
fn daemon_start_fails(store: &Store, args: &[&str]) -> (i32, String) {
    let mut child = store
        .command(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn berth daemon");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().expect("wait for berth daemon").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("reap berth daemon");
            panic!(
                "berth {args:?} started serving instead of refusing: {}",
                text(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("reap berth daemon");
    (out.status.code().unwrap_or(-1), text(&out.stderr))
}

#[test]
fn tcp_without_client_verification_is_refused() {
    let test = "tcp_without_client_verification_is_refused";
    if !support::is_root() {
        support::skip(test, "berth daemon needs root");
        return;
    }
    let store = Store::new();
    let sock = store.dir().join("refused.sock");
    let unix = format!("unix://{}", sock.display());
    let tcp = format!("tcp://127.0.0.1:{}", free_port());

    for extra in [&[][..], &["--tls"][..]] {
        let mut args = vec!["daemon", "-H", &unix, "-H", &tcp];
        args.extend_from_slice(extra);
        let (code, err) = daemon_start_fails(&store, &args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.contains("serves TCP only with client certificates") && err.contains("--tlsverify"),
            "{args:?}: {err}"
        );
        assert!(!sock.exists(), "{args:?} left its unix socket behind");
    }

    // A TLS file that is not there is named, with the flag that gave it.
    let missing = store.dir().join("no-such-ca.pem");
    let missing_flag = missing.display().to_string();
    let (code, err) = daemon_start_fails(
        &store,
        &[
            "daemon",
            "-H",
            &unix,
            "-H",
            &tcp,
            "--tlsverify",
            "--tlscacert",
            &missing_flag,
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("--tlscacert {missing_flag}")) && err.contains("No such file"),
        "{err}"
    );
    assert!(!sock.exists(), "a failed start left its unix socket behind");

    // A file that is not PEM.
    let junk = store.dir().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let junk_flag = junk.display().to_string();
    let (code, err) = daemon_start_fails(
        &store,
        &[
            "daemon",
            "-H",
            &tcp,
            "--tlsverify",
            "--tlscacert",
            &junk_flag,
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("--tlscacert {junk_flag}: no CERTIFICATE")),
        "{err}"
    );

    let (code, err) = daemon_start_fails(&store, &["daemon", "-H", "tcp://127.0.0.1:notaport"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bad port \"notaport\""), "{err}");
}
