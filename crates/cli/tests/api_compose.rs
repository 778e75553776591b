//! docker-compose against `berth daemon`: Debian's docker-compose 1.29
//! (Python, which speaks the Engine API through docker-py at API 1.30 and
//! older, so it also exercises the old-version paths) brings a two-service
//! project with a named volume up, lists it, reads its logs, execs in it
//! and takes it down with its volume.
//!
//! The daemon runs in a network namespace the test made (playing the
//! host): the project's default network and its bridge live there, and the
//! services reach each other by name through it. Root only; needs
//! `docker-compose` (apt-get install docker-compose).

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::berth_daemon::BerthDaemon;
use support::{Store, skip};

const COMPOSE: &str = "/usr/bin/docker-compose";

/// `web` serves a page from the named volume; `client` fetches it by the
/// service's name.
const PROJECT: &str = r#"version: "3"
services:
  web:
    image: busybox
    command: sh -c "echo web-up; echo hello-from-web > /www/index.html; exec httpd -f -p 80 -h /www"
    volumes: [data:/www]
  client:
    image: busybox
    command: sh -c "echo client-up; exec sleep 300"
    volumes: [data:/data]
volumes:
  data:
"#;

/// Root (namespaces, overlayfs, cgroups) and docker-compose; says which
/// is missing.
fn prerequisites(test: &str) -> bool {
    if !support::is_root() {
        skip(test, "needs root for namespaces, overlayfs and cgroups");
        return false;
    }
    if !Path::new(COMPOSE).is_file() {
        skip(
            test,
            "docker-compose is not installed (apt-get install docker-compose)",
        );
        return false;
    }
    true
}

/// berth daemon on `store` with a busybox image, or None (said why).
fn daemon_with_busybox<'s>(test: &str, store: &'s Store) -> Option<BerthDaemon<'s>> {
    if store.busybox("busybox:latest").is_none() {
        skip(test, "no busybox image (busybox-static missing)");
        return None;
    }
    BerthDaemon::start(store, test)
}

fn compose(daemon: &BerthDaemon, dir: &Path, args: &[&str]) -> Output {
    Command::new(COMPOSE)
        .args(["--no-ansi", "-p", "bproj"])
        .args(args)
        .current_dir(dir)
        .env("DOCKER_HOST", daemon.host())
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_API_VERSION")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROJECT_NAME")
        .output()
        .expect("run docker-compose")
}

fn ok(daemon: &BerthDaemon, dir: &Path, args: &[&str]) -> String {
    let out = compose(daemon, dir, args);
    assert!(
        out.status.success(),
        "docker-compose {args:?} failed ({}):\nstdout: {}\nstderr: {}\nberth daemon log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        daemon.log_tail()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn compose_up_ps_logs_exec_down() {
    let test = "compose_up_ps_logs_exec_down";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    let Some(daemon) = daemon_with_busybox(test, &store) else {
        return;
    };
    let project = store.dir().join("project");
    std::fs::create_dir_all(&project).expect("project dir");
    std::fs::write(project.join("docker-compose.yml"), PROJECT).expect("compose file");

    ok(&daemon, &project, &["up", "-d"]);

    // Both services run, under compose's names, in berth's own listing too.
    let ps = ok(&daemon, &project, &["ps"]);
    for name in ["bproj_web_1", "bproj_client_1"] {
        let line = ps.lines().find(|l| l.starts_with(name));
        assert!(
            line.is_some_and(|l| l.contains(" Up")),
            "docker-compose ps does not show {name} up:\n{ps}"
        );
    }
    let berth_ps = store.ok(&["ps", "--format", "{{.Names}}"]);
    for name in ["bproj_web_1", "bproj_client_1"] {
        assert!(
            berth_ps.lines().any(|l| l == name),
            "berth ps lacks {name}:\n{berth_ps}"
        );
    }

    // The client reaches web by its service name, and the page it serves
    // came through the shared named volume.
    let mut fetched = String::new();
    for _ in 0..50 {
        let out = compose(
            &daemon,
            &project,
            &["exec", "-T", "client", "wget", "-qO-", "http://web/"],
        );
        fetched = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && fetched.contains("hello-from-web") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        fetched.trim(),
        "hello-from-web",
        "client could not fetch http://web/"
    );
    let shared = ok(
        &daemon,
        &project,
        &["exec", "-T", "client", "cat", "/data/index.html"],
    );
    assert_eq!(shared.trim(), "hello-from-web");

    // exec's exit code comes back through compose.
    let failed = compose(
        &daemon,
        &project,
        &["exec", "-T", "client", "sh", "-c", "exit 4"],
    );
    assert_eq!(
        failed.status.code(),
        Some(4),
        "exec exit code through compose"
    );

    // logs of both services, prefixed by compose.
    let logs = ok(&daemon, &project, &["logs"]);
    assert!(
        logs.lines()
            .any(|l| l.starts_with("web_1") && l.ends_with("web-up")),
        "logs lack web's line:\n{logs}"
    );
    assert!(
        logs.lines()
            .any(|l| l.starts_with("client_1") && l.ends_with("client-up")),
        "logs lack client's line:\n{logs}"
    );

    // down -v: containers, the project's network and its volume gone.
    ok(&daemon, &project, &["down", "-v", "-t", "1"]);
    let left = store.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    assert!(
        left.trim().is_empty(),
        "containers left after down:\n{left}"
    );
    let volumes = store.ok(&["volume", "ls", "-q"]);
    assert!(
        !volumes.contains("bproj_data"),
        "volume left after down -v:\n{volumes}"
    );
    let networks = store.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        !networks.contains("bproj_default"),
        "network left after down:\n{networks}"
    );
    store.assert_check_clean();
}

/// Two services that print and exit: `up` without `-d` attaches to both
/// (with `logs=1`), prints their lines under compose's prefixes and
/// returns when both have exited.
const ONE_SHOTS: &str = r#"version: "3"
services:
  one:
    image: busybox
    command: sh -c "echo hello-from-one"
  two:
    image: busybox
    command: sh -c "echo hello-from-two >&2; exit 3"
"#;

#[test]
fn compose_up_attached_prints_each_services_output() {
    let test = "compose_up_attached_prints_each_services_output";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    let Some(daemon) = daemon_with_busybox(test, &store) else {
        return;
    };
    let project = store.dir().join("project");
    std::fs::create_dir_all(&project).expect("project dir");
    std::fs::write(project.join("docker-compose.yml"), ONE_SHOTS).expect("compose file");

    let out = ok(&daemon, &project, &["up"]);
    for (service, line) in [("one_1", "hello-from-one"), ("two_1", "hello-from-two")] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(service) && l.ends_with(line)),
            "up printed no {line:?} under {service}:\n{out}"
        );
    }
    assert!(
        out.contains("bproj_two_1 exited with code 3"),
        "up reports two's exit code:\n{out}"
    );
    ok(&daemon, &project, &["down", "-t", "1"]);
    store.assert_check_clean();
}

/// A service built from a Dockerfile: `up --build` sends the context to
/// `POST /build` (docker-py's classic protocol) and runs the image.
const BUILT: &str = r#"version: "3"
services:
  app:
    build:
      context: ./app
      args:
        GREETING: hello-from-a-build
    network_mode: none
"#;

#[test]
fn compose_builds_a_service_through_berth_daemon() {
    let test = "compose_builds_a_service_through_berth_daemon";
    if !prerequisites(test) {
        return;
    }
    let store = Store::new();
    let Some(daemon) = daemon_with_busybox(test, &store) else {
        return;
    };
    let project = store.dir().join("project");
    std::fs::create_dir_all(project.join("app")).expect("project dir");
    std::fs::write(project.join("docker-compose.yml"), BUILT).expect("compose file");
    std::fs::write(
        project.join("app/Dockerfile"),
        "FROM busybox\nARG GREETING\nRUN echo $GREETING > /greeting\nCMD [\"cat\", \"/greeting\"]\n",
    )
    .expect("Dockerfile");
    ok(&daemon, &project, &["build"]);
    let out = ok(&daemon, &project, &["up", "--no-color"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("app_1") && l.ends_with("hello-from-a-build")),
        "the built service printed its build arg:\n{out}"
    );
    let images = daemon.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(images.lines().any(|l| l == "bproj_app"), "{images}");
    ok(&daemon, &project, &["down", "-t", "1"]);
    store.assert_check_clean();
}
