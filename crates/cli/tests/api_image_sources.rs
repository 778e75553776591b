//! Images from outside the store without a pull, through `berth daemon`
//! and the berth CLI: `import` of a URL (dockerd's `fromSrc=<url>`, which
//! the docker CLI sends for an http(s) source) and distribution inspect
//! (`GET /distribution/{name}/json`, docker-py's `get_registry_data`).
//! The archive is served by a server on 127.0.0.1 the test starts; the
//! registry is a local `docker-registry`. Root only (the daemon runs
//! containers).

mod support;

use std::io::Write;
use std::sync::Arc;

use serde_json::json;
use support::berth_daemon::BerthDaemon;
use support::docker_py::{prerequisites, run_script};
use support::mini_http::{self, Server};
use support::registry::{Registry, RegistryAuth};

/// Serves `archive` at `/bb.tar` (404 elsewhere), one request a connection.
fn archive_server(archive: Vec<u8>) -> Server {
    let archive = Arc::new(archive);
    Server::start(move |mut conn, _| {
        let Ok(Some(req)) = mini_http::read_request(&conn) else {
            return;
        };
        let _ = if req.path == "/bb.tar" {
            mini_http::respond(
                &mut conn,
                200,
                &[("Content-Type", "application/x-tar".into())],
                &archive,
                req.method == "HEAD",
            )
        } else {
            mini_http::respond(&mut conn, 404, &[], b"not here\n", false)
        };
        let _ = conn.flush();
    })
}

#[test]
fn import_of_a_url_through_the_docker_cli_and_the_berth_cli() {
    let test = "import_of_a_url_through_the_docker_cli_and_the_berth_cli";
    let Some(store) = support::container_store(test) else {
        return;
    };
    let Some(archive) = support::busybox_tar() else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let server = archive_server(archive);
    let url = format!("http://127.0.0.1:{}/bb.tar", server.port());

    // The docker CLI hands an http(s) source to the daemon, which
    // downloads it and says so first (as dockerd).
    let out = daemon.ok(&["import", "-c", "CMD [\"sh\"]", &url, "fromurl:docker"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&format!("Downloading from {url}").as_str()),
        "{out}"
    );
    assert!(
        lines.last().is_some_and(|l| l.starts_with("sha256:")),
        "the last line is the new image's ID:\n{out}"
    );
    assert_eq!(
        daemon.ok(&["run", "--rm", "fromurl:docker", "echo", "imported"]),
        "imported\n"
    );
    let comment = daemon.ok(&["history", "--format", "{{.Comment}}", "fromurl:docker"]);
    assert_eq!(comment.trim(), format!("Imported from {url}"));

    // The berth CLI downloads it itself.
    let id = store.ok(&["import", &url, "fromurl:berth"]);
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(
        store.ok(&["run", "--rm", "fromurl:berth", "echo", "imported"]),
        "imported\n"
    );

    // A refused download names the URL and the status, and changes nothing.
    let before = store.image_ids();
    let missing = format!("http://127.0.0.1:{}/nothere.tar", server.port());
    let err = daemon.fails(&["import", &missing, "never:1"]);
    assert!(
        err.contains(&missing) && err.contains("404"),
        "the error names the URL and the 404:\n{err}"
    );
    let err = store.fails(&["import", &missing, "never:1"]);
    assert!(err.contains(&missing) && err.contains("404"), "{err}");
    // Nobody listening: the connection error, with the URL.
    let closed = "http://127.0.0.1:1/bb.tar";
    let err = daemon.fails(&["import", closed, "never:1"]);
    assert!(
        err.contains(closed) && err.contains("refused"),
        "the error names the URL and the refusal:\n{err}"
    );
    // A bad tag is refused before anything is downloaded.
    let err = store.fails(&["import", &url, "Bad:Tag"]);
    assert!(err.contains("Bad"), "{err}");
    assert_eq!(store.image_ids(), before, "a failed import added an image");
    store.assert_check_clean();
}

#[test]
fn distribution_inspect_through_docker_py() {
    let test = "distribution_inspect_through_docker_py";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(registry) = Registry::start(test, None, RegistryAuth::None) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let image = format!("{}/lib/busybox:1", registry.host());
    store.ok(&["tag", "busybox", &image]);
    let pushed = store.ok(&["push", &image]);
    let digest = pushed
        .split_whitespace()
        .find(|w| w.starts_with("sha256:"))
        .unwrap_or_else(|| panic!("push printed no digest:\n{pushed}"))
        .to_string();
    let before = store.image_ids();

    let s = run_script(
        &daemon,
        &store,
        test,
        &format!(
            r#"
data = client.images.get_registry_data("{image}")
put("id", data.id)
put("has_amd64", data.has_platform("linux/amd64"))
put("has_s390x", data.has_platform("linux/s390x"))
raw = client.api.inspect_distribution("{image}")
put("keys", sorted(raw.keys()))
put("media_type", raw["Descriptor"]["mediaType"])
put("size_positive", raw["Descriptor"]["size"] > 0)
put("platforms", raw["Platforms"])
try:
    client.api.inspect_distribution("{host}/lib/nothere:1")
    put("missing", "found")
except docker.errors.APIError as e:
    put("missing", [e.status_code, str(e.explanation)])
"#,
            host = registry.host()
        ),
    );
    assert_eq!(s["id"], json!(digest), "{}", s.transcript);
    assert_eq!(s["has_amd64"], true, "{}", s.transcript);
    assert_eq!(s["has_s390x"], false, "{}", s.transcript);
    assert_eq!(
        s["keys"],
        json!(["Descriptor", "Platforms"]),
        "{}",
        s.transcript
    );
    assert_eq!(
        s["media_type"], "application/vnd.oci.image.manifest.v1+json",
        "{}",
        s.transcript
    );
    assert_eq!(s["size_positive"], true, "{}", s.transcript);
    assert_eq!(
        s["platforms"],
        json!([{"architecture": "amd64", "os": "linux"}]),
        "{}",
        s.transcript
    );
    assert_eq!(s["missing"][0], 404, "{}", s.transcript);
    assert!(
        s["missing"][1]
            .as_str()
            .is_some_and(|m| m.contains("lib/nothere")),
        "{}",
        s.transcript
    );
    // Inspecting pulls nothing.
    assert_eq!(store.image_ids(), before);
    store.assert_check_clean();
}
