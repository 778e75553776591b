//! `POST /build` on `berth daemon`: the classic builder's protocol as
//! Debian's docker 20.10 client speaks it (`DOCKER_BUILDKIT=0 docker
//! build`) and as docker-py's `images.build` does; `POST /build/prune`.
//! Root only; needs the docker CLI and docker-py.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::json;
use support::berth_daemon::BerthDaemon;
use support::docker_py::{prerequisites, run_script};

fn classic(daemon: &BerthDaemon, args: &[&str], buildkit: bool) -> (i32, String, String) {
    let out = Command::new("/usr/bin/docker")
        .args(args)
        .env("DOCKER_HOST", daemon.host())
        .env("DOCKER_BUILDKIT", if buildkit { "1" } else { "0" })
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_API_VERSION")
        .stdin(Stdio::null())
        .output()
        .expect("run /usr/bin/docker");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn context(dir: &Path, dockerfile: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join("file.txt"), "from the context\n").unwrap();
    std::fs::write(dir.join(".dockerignore"), "ignored.txt\n").unwrap();
    std::fs::write(dir.join("ignored.txt"), "never sent\n").unwrap();
    dir.to_str().unwrap().to_string()
}

#[test]
fn the_docker_cli_builds_through_berth_daemon() {
    let test = "the_docker_cli_builds_through_berth_daemon";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let dir = context(
        &store.dir.path().join("ctx"),
        "FROM busybox\nARG X=default\nCOPY . /ctx/\nRUN echo $X > /x && echo building-now\nCMD [\"cat\", \"/x\"]\n",
    );
    let (code, out, err) = classic(
        &daemon,
        &[
            "build",
            "--network",
            "none",
            "-t",
            "apiimg",
            "--build-arg",
            "X=passed",
            &dir,
        ],
        false,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Step 4/5 : RUN echo $X > /x && echo building-now"),
        "{out}"
    );
    assert!(out.contains("building-now"), "{out}");
    assert!(out.contains("Successfully built "), "{out}");
    assert!(out.contains("Successfully tagged apiimg:latest"), "{out}");
    assert_eq!(daemon.ok(&["run", "--rm", "apiimg"]), "passed\n");
    assert_eq!(
        daemon.ok(&["run", "--rm", "apiimg", "ls", "/ctx"]),
        "Dockerfile\nfile.txt\n",
        "the CLI left out what .dockerignore names (and so does berth)"
    );

    // Again: the cache, -q and --iidfile.
    let iid = store.dir.path().join("iid");
    let (code, out, err) = classic(
        &daemon,
        &[
            "build",
            "-q",
            "--network",
            "none",
            "-t",
            "apiimg",
            "--build-arg",
            "X=passed",
            "--iidfile",
            iid.to_str().unwrap(),
            &dir,
        ],
        false,
    );
    assert_eq!(code, 0, "{err}");
    let id = std::fs::read_to_string(&iid).unwrap();
    assert_eq!(out.trim(), id.trim(), "-q prints the ID the iidfile has");
    let (_, out, _) = classic(
        &daemon,
        &[
            "build",
            "--network",
            "none",
            "-t",
            "apiimg",
            "--build-arg",
            "X=passed",
            &dir,
        ],
        false,
    );
    assert_eq!(out.matches("Using cache").count(), 2, "{out}");

    // A failing step: docker's exit code and the step's words.
    let bad = context(
        &store.dir.path().join("bad"),
        "FROM busybox\nRUN echo failing && exit 3\n",
    );
    let (code, out, err) = classic(&daemon, &["build", "--network", "none", &bad], false);
    assert_eq!(code, 1);
    assert!(out.contains("failing"), "{out}");
    assert!(
        err.contains("did not complete successfully: exit code: 3"),
        "{err}"
    );
    assert_eq!(
        daemon.ok(&["ps", "-a", "-q"]),
        "",
        "no build container left"
    );

    // BuildKit's sessions: refused (the CLI shows only the status it got;
    // the body says the way out). Without DOCKER_BUILDKIT the CLI reads
    // Builder-Version: 1 from /_ping and uses the classic protocol.
    let (code, _, err) = classic(&daemon, &["build", "--network", "none", &dir], true);
    assert_ne!(code, 0);
    assert!(err.contains("501"), "{err}");
    let (status, body) = daemon.request("POST", "/session", None);
    assert_eq!(status, 501);
    assert!(String::from_utf8_lossy(&body).contains("DOCKER_BUILDKIT=0"));

    // builder prune through /build/prune.
    let (code, out, err) = classic(&daemon, &["builder", "prune", "-f"], false);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Total reclaimed space:"), "{out}");
    store.assert_check_clean();
}

#[test]
fn docker_py_builds_through_berth_daemon() {
    let test = "docker_py_builds_through_berth_daemon";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let dir = context(
        &store.dir.path().join("ctx"),
        "FROM busybox\nARG X\nLABEL built=by-py\nRUN echo $X > /x\n",
    );
    let bad = context(&store.dir.path().join("bad"), "FROM busybox\nRUN exit 5\n");
    let s = run_script(
        &daemon,
        &store,
        test,
        &format!(
            r#"
image, logs = client.images.build(path={dir:?}, tag="pyimg:1", buildargs={{"X": "from-py"}}, network_mode="none", rm=True)
put("tags", image.tags)
put("labels", image.labels)
put("streamed", any("Successfully built" in l.get("stream", "") for l in logs))
put("x", client.containers.run("pyimg:1", "cat /x", remove=True, network_mode="none"))
try:
    client.images.build(path={bad:?}, network_mode="none")
    put("failed", "no BuildError")
except docker.errors.BuildError as e:
    put("failed", "exit code: 5" in str(e))
"#
        ),
    );
    assert_eq!(s["tags"], json!(["pyimg:1"]), "{}", s.transcript);
    assert_eq!(s["labels"], json!({"built": "by-py"}), "{}", s.transcript);
    assert_eq!(s["streamed"], json!(true), "{}", s.transcript);
    assert_eq!(s["x"], json!("b'from-py\\n'"), "{}", s.transcript);
    assert_eq!(s["failed"], json!(true), "{}", s.transcript);
}
