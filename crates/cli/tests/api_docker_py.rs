//! `berth daemon` driven by docker-py (the Python SDK, 7.1), the second
//! client after the docker CLI: it negotiates its version from `/version`,
//! demultiplexes logs and exec output itself, hijacks attach sockets with
//! `requests`, and reads fields of inspect, stats, events and image JSON
//! that the CLI never looks at, so it finds gaps the CLI tests cannot.
//! One test per area, each a script run by support/docker_py.rs; the
//! script records what docker-py returned (bytes and tuples as their
//! Python `repr`). Real namespaces, overlayfs and cgroups; root only.

mod support;

use serde_json::json;
use support::berth_daemon::BerthDaemon;
use support::docker_py::{prerequisites, run_script};

#[test]
fn docker_py_run_with_remove() {
    let test = "docker_py_run_with_remove";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let s = run_script(
        &daemon,
        &store,
        test,
        r#"
put("out", client.containers.run("busybox", "echo hello", remove=True))
put("left", [c.name for c in client.containers.list(all=True)])

# A failing command: its exit code and stderr in ContainerError.
try:
    client.containers.run("busybox", ["sh", "-c", "echo oops >&2; exit 4"], remove=True)
    put("failed", "no ContainerError")
except docker.errors.ContainerError as e:
    put("failed", (e.exit_status, e.stderr))

# detach with remove is AutoRemove: the container goes by itself.
c = client.containers.run("busybox", ["sleep", "1"], detach=True, remove=True)
put("auto_remove", client.api.inspect_container(c.id)["HostConfig"]["AutoRemove"])
# (The raw list: the model's would inspect a container going meanwhile.)
until("the auto-removed container to go",
      lambda: not client.api.containers(all=True, filters={"id": c.id}))
put("left_at_end", [c.name for c in client.containers.list(all=True)])
"#,
    );
    assert_eq!(s["out"], r"b'hello\n'", "{}", s.transcript);
    assert_eq!(
        s["left"],
        json!([]),
        "remove=True removed it\n{}",
        s.transcript
    );
    assert_eq!(s["failed"], r"(4, b'oops\n')", "{}", s.transcript);
    assert_eq!(s["auto_remove"], true, "{}", s.transcript);
    assert_eq!(s["left_at_end"], json!([]), "{}", s.transcript);
    store.assert_check_clean();
}

#[test]
fn docker_py_create_start_wait_logs() {
    let test = "docker_py_create_start_wait_logs";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let s = run_script(
        &daemon,
        &store,
        test,
        r#"
c = client.containers.create("busybox", ["sh", "-c", "echo one; echo two"], name="pylogs")
put("name", c.name)
put("created", c.status)
c.start()
put("wait", c.wait(timeout=60)["StatusCode"])
c.reload()
put("exited", c.status)
put("logs", c.logs())
put("tail", c.logs(tail=1))
put("stderr_only", c.logs(stdout=False, stderr=True))
chunks = [chunk for chunk in c.logs(stream=True)]
put("stream", b"".join(chunks))
put("stream_chunks_are_bytes", all(isinstance(x, bytes) for x in chunks))

# A nonzero exit code.
f = client.containers.create("busybox", ["sh", "-c", "exit 9"])
f.start()
put("wait_nonzero", f.wait(timeout=60)["StatusCode"])
f.remove()
c.remove()
put("left", [c.name for c in client.containers.list(all=True)])
"#,
    );
    assert_eq!(s["name"], "pylogs", "{}", s.transcript);
    assert_eq!(s["created"], "created", "{}", s.transcript);
    assert_eq!(s["wait"], 0, "{}", s.transcript);
    assert_eq!(s["exited"], "exited", "{}", s.transcript);
    assert_eq!(s["logs"], r"b'one\ntwo\n'", "{}", s.transcript);
    assert_eq!(s["tail"], r"b'two\n'", "{}", s.transcript);
    assert_eq!(s["stderr_only"], "b''", "{}", s.transcript);
    assert_eq!(s["stream"], r"b'one\ntwo\n'", "{}", s.transcript);
    assert_eq!(s["stream_chunks_are_bytes"], true, "{}", s.transcript);
    assert_eq!(s["wait_nonzero"], 9, "{}", s.transcript);
    assert_eq!(s["left"], json!([]), "{}", s.transcript);
    store.assert_check_clean();
}

#[test]
fn docker_py_exec_run_and_force_remove() {
    let test = "docker_py_exec_run_and_force_remove";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let s = run_script(
        &daemon,
        &store,
        test,
        r#"
c = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="pyexec")
put("echo", tuple(c.exec_run("echo x")))
put("exit3", c.exec_run("sh -c 'exit 3'").exit_code)
put("demux", tuple(c.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)))
put("env", c.exec_run(["sh", "-c", "echo $GREETING"], environment={"GREETING": "hi"}).output)
put("workdir", c.exec_run("pwd", workdir="/tmp").output)
put("user", c.exec_run("id -u", user="1234").output)
c.reload()
put("running", c.status)

c.remove(force=True)
try:
    client.containers.get(c.id)
    put("after_remove", "still there")
except docker.errors.NotFound:
    put("after_remove", "gone")
"#,
    );
    assert_eq!(s["echo"], r"(0, b'x\n')", "{}", s.transcript);
    assert_eq!(s["exit3"], 3, "{}", s.transcript);
    assert_eq!(s["demux"], r"(0, (b'out\n', b'err\n'))", "{}", s.transcript);
    assert_eq!(s["env"], r"b'hi\n'", "{}", s.transcript);
    assert_eq!(s["workdir"], r"b'/tmp\n'", "{}", s.transcript);
    assert_eq!(s["user"], r"b'1234\n'", "{}", s.transcript);
    assert_eq!(s["running"], "running", "{}", s.transcript);
    assert_eq!(s["after_remove"], "gone", "{}", s.transcript);
    store.assert_check_clean();
}

#[test]
fn docker_py_attach_socket() {
    let test = "docker_py_attach_socket";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let s = run_script(
        &daemon,
        &store,
        test,
        r#"
c = client.containers.create("busybox", "cat", stdin_open=True, name="pycat")
c.start()
sock = client.api.attach_socket(c.id, params={"stdin": 1, "stream": 1, "stdout": 1})
raw = sock._sock
raw.settimeout(30)
raw.sendall(b"ping\n")
# Without a tty: one multiplexed frame, an 8-byte header and the payload.
buf = b""
while len(buf) < 8 or len(buf) < 8 + struct.unpack(">BxxxL", buf[:8])[1]:
    chunk = raw.recv(4096)
    if not chunk:
        break
    buf += chunk
put("header", list(buf[:8]))
put("payload", buf[8:])
raw.shutdown(socket.SHUT_RDWR)
sock.close()
raw.close()

# docker-py's stdin_open=True sets StdinOnce too: the first client's end
# of input is the container's, so `cat` ends (as under dockerd).
put("stdin_once", client.api.inspect_container(c.id)["Config"]["StdinOnce"])
put("exit", c.wait(timeout=20)["StatusCode"])
c.remove(force=True)
"#,
    );
    assert_eq!(
        s["header"],
        json!([1, 0, 0, 0, 0, 0, 0, 5]),
        "{}",
        s.transcript
    );
    assert_eq!(s["payload"], r"b'ping\n'", "{}", s.transcript);
    assert_eq!(s["stdin_once"], true, "{}", s.transcript);
    assert_eq!(s["exit"], 0, "{}", s.transcript);
    store.assert_check_clean();
}

#[test]
fn docker_py_list_and_inspect() {
    let test = "docker_py_list_and_inspect";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let s = run_script(
        &daemon,
        &store,
        test,
        r#"
a = client.containers.create("busybox", "true", name="pylist-a", labels={"suite": "docker-py"})
b = client.containers.create("busybox", ["sleep", "1000"], name="pylist-b")
b.start()
put("a_id", a.id)
put("by_name", [c.name for c in client.containers.list(all=True, filters={"name": "pylist-a"})])
put("by_label", [c.name for c in client.containers.list(all=True, filters={"label": "suite=docker-py"})])
put("by_status", [c.name for c in client.containers.list(all=True, filters={"status": "created"})])
put("running", [c.name for c in client.containers.list()])
put("all", sorted(c.name for c in client.containers.list(all=True)))
put("by_short_id", client.containers.get(a.id[:12]).name)

i = client.api.inspect_container(a.id)
put("inspect", {
    "Id": i["Id"],
    "Name": i["Name"],
    "Status": i["State"]["Status"],
    "Running": i["State"]["Running"],
    "Image": i["Config"]["Image"],
    "Cmd": i["Config"]["Cmd"],
    "Labels": i["Config"]["Labels"],
    "LogType": i["HostConfig"]["LogConfig"]["Type"],
})
put("inspect_running", client.api.inspect_container("pylist-b")["State"]["Running"])
try:
    client.api.inspect_container("pylist-nosuch")
    put("missing", "found")
except docker.errors.NotFound as e:
    put("missing", [e.status_code, e.explanation])

b.remove(force=True)
a.remove()
"#,
    );
    let a_id = s["a_id"].as_str().unwrap_or_default().to_string();
    assert_eq!(a_id.len(), 64, "{}", s.transcript);
    assert_eq!(s["by_name"], json!(["pylist-a"]), "{}", s.transcript);
    assert_eq!(s["by_label"], json!(["pylist-a"]), "{}", s.transcript);
    assert_eq!(s["by_status"], json!(["pylist-a"]), "{}", s.transcript);
    assert_eq!(s["running"], json!(["pylist-b"]), "{}", s.transcript);
    assert_eq!(
        s["all"],
        json!(["pylist-a", "pylist-b"]),
        "{}",
        s.transcript
    );
    assert_eq!(s["by_short_id"], "pylist-a", "{}", s.transcript);
    assert_eq!(
        s["inspect"],
        json!({
            "Id": a_id,
            "Name": "/pylist-a",
            "Status": "created",
            "Running": false,
            "Image": "busybox",
            "Cmd": ["true"],
            "Labels": {"suite": "docker-py"},
            "LogType": "json-file",
        }),
        "{}",
        s.transcript
    );
    assert_eq!(s["inspect_running"], true, "{}", s.transcript);
    assert_eq!(s["missing"][0], 404, "{}", s.transcript);
    assert!(
        s["missing"][1]
            .as_str()
            .is_some_and(|m| m.contains("No such container: pylist-nosuch")),
        "{}",
        s.transcript
    );
    store.assert_check_clean();
}

#[test]
fn docker_py_stats() {
    let test = "docker_py_stats";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let s = run_script(
        &daemon,
        &store,
        test,
        r#"
c = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="pystats")
st = c.stats(stream=False)
put("keys", sorted(st.keys()))
put("memory_stats", st["memory_stats"])
put("cpu_total", st["cpu_stats"]["cpu_usage"]["total_usage"])
put("online_cpus", st["cpu_stats"].get("online_cpus"))
put("name", st["name"])
stream = c.stats(stream=True, decode=True)
first = next(stream)
put("streamed_keys", sorted(first.keys()))
stream.close()
c.remove(force=True)
"#,
    );
    let keys = s["keys"].as_array().cloned().unwrap_or_default();
    for key in [
        "cpu_stats",
        "memory_stats",
        "precpu_stats",
        "pids_stats",
        "read",
    ] {
        assert!(keys.contains(&json!(key)), "no {key}\n{}", s.transcript);
    }
    assert!(
        s["memory_stats"]["usage"].is_u64(),
        "memory_stats.usage\n{}",
        s.transcript
    );
    assert!(
        s["memory_stats"]["limit"].as_u64().is_some_and(|l| l > 0),
        "memory_stats.limit\n{}",
        s.transcript
    );
    assert!(s["cpu_total"].is_u64(), "{}", s.transcript);
    assert!(
        s["online_cpus"].as_u64().is_some_and(|n| n > 0),
        "{}",
        s.transcript
    );
    assert_eq!(s["name"], "/pystats", "{}", s.transcript);
    let streamed = s["streamed_keys"].as_array().cloned().unwrap_or_default();
    assert!(
        streamed.contains(&json!("memory_stats")) && streamed.contains(&json!("cpu_stats")),
        "{}",
        s.transcript
    );
    store.assert_check_clean();
}

/// `PUT`/`GET /containers/{id}/archive` (which the docker CLI's `cp` uses
/// too): a tar made with Python's tarfile in, the same file out.
#[test]
fn docker_py_put_and_get_archive() {
    let test = "docker_py_put_and_get_archive";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let s = run_script(
        &daemon,
        &store,
        test,
        r#"
c = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="pyarchive")
content = b"archive content\n"
data = io.BytesIO()
with tarfile.open(fileobj=data, mode="w") as tar:
    info = tarfile.TarInfo("hello.txt")
    info.size = len(content)
    info.mode = 0o640
    info.mtime = 1700000000
    tar.addfile(info, io.BytesIO(content))
put("put", c.put_archive("/tmp", data.getvalue()))
put("seen_inside", c.exec_run("cat /tmp/hello.txt").output)
put("mode_inside", c.exec_run("stat -c %a /tmp/hello.txt").output)

bits, stat = c.get_archive("/tmp/hello.txt")
got = b"".join(bits)
with tarfile.open(fileobj=io.BytesIO(got)) as tar:
    members = tar.getmembers()
    put("members", [m.name for m in members])
    put("content", tar.extractfile(members[0]).read())
put("stat", {k: stat.get(k) for k in ("name", "size")} if stat else None)

try:
    c.get_archive("/no/such/path")
    put("missing", "found")
except docker.errors.NotFound as e:
    put("missing", e.status_code)
c.remove(force=True)
"#,
    );
    assert_eq!(s["put"], true, "{}", s.transcript);
    assert_eq!(
        s["seen_inside"], r"b'archive content\n'",
        "{}",
        s.transcript
    );
    assert_eq!(s["mode_inside"], r"b'640\n'", "{}", s.transcript);
    assert_eq!(s["members"], json!(["hello.txt"]), "{}", s.transcript);
    assert_eq!(s["content"], r"b'archive content\n'", "{}", s.transcript);
    assert_eq!(
        s["stat"],
        json!({"name": "hello.txt", "size": 16}),
        "X-Docker-Container-Path-Stat\n{}",
        s.transcript
    );
    assert_eq!(s["missing"], 404, "{}", s.transcript);
    store.assert_check_clean();
}

#[test]
fn docker_py_images() {
    let test = "docker_py_images";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let s = run_script(
        &daemon,
        &store,
        test,
        r#"
put("listed_tags", sorted(t for i in client.images.list() for t in i.tags))
img = client.images.get("busybox")
put("id", img.id)
put("tags", img.tags)
put("tag", img.tag("busybox", "pytag"))
put("tagged_id", client.images.get("busybox:pytag").id)
put("list_by_name", sorted(t for i in client.images.list(name="busybox") for t in i.tags))
client.images.remove("busybox:pytag")
try:
    client.images.get("busybox:pytag")
    put("after_remove", "still there")
except docker.errors.ImageNotFound:
    put("after_remove", "gone")
put("tags_after_remove", client.images.get(img.id).tags)

# save by ID, load: the same image.
data = b"".join(img.save())
put("saved_is_tar", data[257:262] == b"ustar")
put("loaded", [i.id for i in client.images.load(data)])

# An archive of two tags: load answers a line for each (streamed, as
# Docker does; docker-py reads a whole-body answer as one JSON document).
img.tag("busybox", "two")
res = client.api._get(client.api._url("/images/get"),
                      params={"names": ["busybox:latest", "busybox:two"]}, stream=True)
client.api._raise_for_status(res)
two = res.content
put("untagged", client.api.remove_image("busybox:two"))
put("loaded_two", sorted(i.id for i in client.images.load(two)))
put("two_is_back", client.images.get("busybox:two").id)
client.images.remove("busybox:two")

pruned = client.images.prune()
put("prune_keys", sorted(pruned.keys()))
put("after_prune", sorted(t for i in client.images.list() for t in i.tags))
"#,
    );
    let id = s["id"].as_str().unwrap_or_default().to_string();
    assert!(
        id.starts_with("sha256:") && id.len() == 71,
        "{}",
        s.transcript
    );
    assert_eq!(
        s["listed_tags"],
        json!(["busybox:latest"]),
        "{}",
        s.transcript
    );
    assert_eq!(s["tags"], json!(["busybox:latest"]), "{}", s.transcript);
    assert_eq!(s["tag"], true, "{}", s.transcript);
    assert_eq!(s["tagged_id"], json!(id), "{}", s.transcript);
    assert_eq!(
        s["list_by_name"],
        json!(["busybox:latest", "busybox:pytag"]),
        "{}",
        s.transcript
    );
    assert_eq!(s["after_remove"], "gone", "{}", s.transcript);
    assert_eq!(
        s["tags_after_remove"],
        json!(["busybox:latest"]),
        "{}",
        s.transcript
    );
    assert_eq!(s["saved_is_tar"], true, "{}", s.transcript);
    assert_eq!(s["loaded"], json!([id]), "{}", s.transcript);
    assert_eq!(
        s["untagged"],
        json!([{"Untagged": "busybox:two"}]),
        "only untagged: busybox:latest still names the image\n{}",
        s.transcript
    );
    assert_eq!(s["loaded_two"], json!([id, id]), "{}", s.transcript);
    assert_eq!(s["two_is_back"], json!(id), "{}", s.transcript);
    assert_eq!(
        s["prune_keys"],
        json!(["ImagesDeleted", "SpaceReclaimed"]),
        "{}",
        s.transcript
    );
    assert_eq!(
        s["after_prune"],
        json!(["busybox:latest"]),
        "a tagged image is not dangling\n{}",
        s.transcript
    );
    store.assert_check_clean();
}

#[test]
fn docker_py_volumes() {
    let test = "docker_py_volumes";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let s = run_script(
        &daemon,
        &store,
        test,
        r#"
v = client.volumes.create(name="pyvol", labels={"made-by": "docker-py"})
put("name", v.name)
put("driver", v.attrs["Driver"])
put("listed", sorted(x.name for x in client.volumes.list()))
put("listed_by_name", [x.name for x in client.volumes.list(filters={"name": "pyvol"})])
got = client.volumes.get("pyvol")
put("labels", got.attrs["Labels"])
put("mountpoint_set", bool(got.attrs["Mountpoint"]))

# Used by a container, then removed with it gone.
out = client.containers.run("busybox", ["sh", "-c", "echo kept > /data/f; cat /data/f"],
                            volumes={"pyvol": {"bind": "/data", "mode": "rw"}}, remove=True)
put("used", out)
out = client.containers.run("busybox", ["cat", "/data/f"],
                            volumes={"pyvol": {"bind": "/data", "mode": "ro"}}, remove=True)
put("kept", out)

anon = client.volumes.create()
put("anonymous_name_len", len(anon.name))
anon.remove()

got.remove()
try:
    client.volumes.get("pyvol")
    put("after_remove", "still there")
except docker.errors.NotFound:
    put("after_remove", "gone")
put("listed_at_end", [x.name for x in client.volumes.list()])
"#,
    );
    assert_eq!(s["name"], "pyvol", "{}", s.transcript);
    assert_eq!(s["driver"], "local", "{}", s.transcript);
    assert_eq!(s["listed"], json!(["pyvol"]), "{}", s.transcript);
    assert_eq!(s["listed_by_name"], json!(["pyvol"]), "{}", s.transcript);
    assert_eq!(
        s["labels"],
        json!({"made-by": "docker-py"}),
        "{}",
        s.transcript
    );
    assert_eq!(s["mountpoint_set"], true, "{}", s.transcript);
    assert_eq!(s["used"], r"b'kept\n'", "{}", s.transcript);
    assert_eq!(s["kept"], r"b'kept\n'", "{}", s.transcript);
    assert_eq!(s["anonymous_name_len"], 64, "{}", s.transcript);
    assert_eq!(s["after_remove"], "gone", "{}", s.transcript);
    assert_eq!(s["listed_at_end"], json!([]), "{}", s.transcript);
    store.assert_check_clean();
}

#[test]
fn docker_py_events() {
    let test = "docker_py_events";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let s = run_script(
        &daemon,
        &store,
        test,
        r#"
t0 = int(time.time()) - 1
c = client.containers.run("busybox", ["sh", "-c", "exit 2"], detach=True, name="pyevents")
put("exit", c.wait(timeout=60)["StatusCode"])
put("id", c.id)

# Past events from t0, then following; stopped at the die (until bounds it
# should the die never come).
events = client.events(decode=True, since=t0, until=t0 + 30, filters={"container": c.id})
seen = []
for ev in events:
    seen.append({
        "Type": ev.get("Type"),
        "Action": ev.get("Action"),
        "status": ev.get("status"),
        "id": ev.get("id"),
        "ActorID": (ev.get("Actor") or {}).get("ID"),
        "name": ((ev.get("Actor") or {}).get("Attributes") or {}).get("name"),
        "exitCode": ((ev.get("Actor") or {}).get("Attributes") or {}).get("exitCode"),
        "timeNano": ev.get("timeNano"),
    })
    if ev.get("Action") == "die":
        break
events.close()
put("events", seen)
c.remove()
"#,
    );
    assert_eq!(s["exit"], 2, "{}", s.transcript);
    let id = s["id"].as_str().unwrap_or_default().to_string();
    let events = s["events"].as_array().cloned().unwrap_or_default();
    let actions: Vec<&str> = events.iter().filter_map(|e| e["Action"].as_str()).collect();
    let at = |action: &str| {
        actions
            .iter()
            .position(|a| *a == action)
            .unwrap_or_else(|| panic!("no {action} event in {actions:?}\n{}", s.transcript))
    };
    assert!(
        at("create") < at("start") && at("start") < at("die"),
        "create, start, die in order: {actions:?}\n{}",
        s.transcript
    );
    for e in &events {
        assert_eq!(e["Type"], "container", "{e}\n{}", s.transcript);
        assert_eq!(e["ActorID"], json!(id), "{e}\n{}", s.transcript);
        assert_eq!(
            e["id"],
            json!(id),
            "the old field too: {e}\n{}",
            s.transcript
        );
        assert_eq!(e["status"], e["Action"], "{e}\n{}", s.transcript);
        assert_eq!(e["name"], "pyevents", "{e}\n{}", s.transcript);
        assert!(e["timeNano"].is_u64(), "{e}\n{}", s.transcript);
    }
    assert_eq!(events[at("die")]["exitCode"], "2", "{}", s.transcript);
    store.assert_check_clean();
}

#[test]
fn docker_py_version_ping_info() {
    let test = "docker_py_version_ping_info";
    let Some(store) = prerequisites(test) else {
        return;
    };
    let Some(daemon) = BerthDaemon::start(&store, test) else {
        return;
    };
    let s = run_script(
        &daemon,
        &store,
        test,
        r#"
put("negotiated", client.api.api_version)
v = client.version()
put("api_version", v["ApiVersion"])
put("min_api_version", v.get("MinAPIVersion"))
put("os", v.get("Os"))
put("ping", client.ping())
put("info_containers", client.info().get("Containers"))

host = os.environ["DOCKER_HOST"]
old = docker.APIClient(base_url=host, version="1.24")
put("old_version", old.version()["ApiVersion"])
put("old_ping", old.ping())
put("old_list", old.containers(all=True))
try:
    docker.APIClient(base_url=host, version="1.99").version()
    put("too_new", "answered")
except docker.errors.APIError as e:
    put("too_new", [e.status_code, e.explanation])
"#,
    );
    assert_eq!(s["negotiated"], "1.50", "{}", s.transcript);
    assert_eq!(s["api_version"], "1.50", "{}", s.transcript);
    assert_eq!(s["min_api_version"], "1.24", "{}", s.transcript);
    assert_eq!(s["os"], "linux", "{}", s.transcript);
    assert_eq!(s["ping"], true, "{}", s.transcript);
    assert_eq!(s["info_containers"], 0, "{}", s.transcript);
    assert_eq!(s["old_version"], "1.50", "{}", s.transcript);
    assert_eq!(s["old_ping"], true, "{}", s.transcript);
    assert_eq!(s["old_list"], json!([]), "{}", s.transcript);
    assert_eq!(s["too_new"][0], 400, "{}", s.transcript);
    assert!(
        s["too_new"][1]
            .as_str()
            .is_some_and(|m| m.contains("is too new")),
        "{}",
        s.transcript
    );
    store.assert_check_clean();
}
