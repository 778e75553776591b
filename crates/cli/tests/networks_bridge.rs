//! The default bridge and published ports, in a world of the test's own:
//! berth runs in a network namespace that plays the host (with `berth0`,
//! its rules and its `ip_forward`), and another namespace plays a machine
//! on the host's uplink (198.51.100.2, the host being .1). No packet leaves
//! the namespaces the test made. Root only.

mod support;

use support::Store;
use support::net_world::{
    OtherMachine, host_get, in_host, links_without_veths, prerequisites, ruleset,
};

/// A web server container answering `body` on its port 80.
fn web(store: &Store, name: &str, body: &str, extra: &[&str]) -> String {
    let script =
        format!("mkdir /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www");
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", &script]);
    store.ok(&args).trim().to_string()
}

fn dnat_rules(store: &Store) -> usize {
    ruleset(store)
        .lines()
        .filter(|l| l.contains("dnat to"))
        .count()
}

#[test]
fn default_bridge_nat_and_published_ports() {
    let test = "default_bridge_nat_and_published_ports";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    if store.busybox("busybox").is_none() {
        return;
    }
    let other = OtherMachine::new(&store);
    in_host(&store, &["ip", "link", "set", "lo", "up"]);
    // (A new namespace copies the host's setting: off, as on a fresh host.)
    in_host(&store, &["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    // Before any container: listed, nothing made.
    assert!(
        !in_host(&store, &["ip", "-br", "link"]).contains("berth0"),
        "berth0 before use"
    );

    // The default: bridge, 172.17.0.0/16 (no route of this host there),
    // gateway .1, Docker's MAC, resolv.conf without loopback resolvers.
    let out = store.ok(&[
        "run", "--rm", "busybox", "sh", "-c",
        "ip -4 -o addr show eth0 | awk '{print $4}'; cat /sys/class/net/eth0/address; ip route | head -1",
    ]);
    assert_eq!(
        out,
        "172.17.0.2/16\n02:42:ac:11:00:02\ndefault via 172.17.0.1 dev eth0 \n"
    );
    assert_eq!(
        in_host(&store, &["sysctl", "-n", "net.ipv4.ip_forward"]).trim(),
        "1",
        "turned on with the first bridge"
    );
    let info = store.ok(&["info"]);
    assert!(
        info.contains("IPv4 Forwarding: enabled (turned on by berth)"),
        "{info}"
    );
    let net: serde_json::Value =
        serde_json::from_str(&store.ok(&["network", "inspect", "bridge"])).unwrap();
    assert_eq!(net[0]["IPAM"]["Config"][0]["Subnet"], "172.17.0.0/16");
    assert_eq!(
        net[0]["Options"]["com.docker.network.bridge.name"],
        "berth0"
    );

    // Out through NAT: the other machine sees the host's address.
    assert_eq!(
        store
            .ok(&["run", "--rm", "busybox", "nc", "198.51.100.2", "9000"])
            .trim(),
        "198.51.100.1"
    );

    // In: -p 8080:80, reachable from the other machine, from the host's
    // 127.0.0.1 and its own addresses, and from another container.
    web(&store, "web", "one", &["-p", "8080:80"]);
    assert_eq!(other.get("http://198.51.100.1:8080/").unwrap(), "one\n");
    assert_eq!(
        host_get(&store, "http://127.0.0.1:8080/", 15).unwrap(),
        "one\n"
    );
    assert_eq!(
        host_get(&store, "http://198.51.100.1:8080/", 15).unwrap(),
        "one\n"
    );
    assert_eq!(
        store.ok(&[
            "run",
            "--rm",
            "busybox",
            "wget",
            "-qO-",
            "http://172.17.0.1:8080/"
        ]),
        "one\n",
        "another container, through the host"
    );
    assert_eq!(
        store.ok(&[
            "run",
            "--rm",
            "busybox",
            "wget",
            "-qO-",
            "http://172.17.0.2/"
        ]),
        "one\n",
        "another container, directly by address"
    );
    // By name: not on the default bridge, as in Docker.
    let (code, _, _) = store.outcome(&[
        "run",
        "--rm",
        "busybox",
        "wget",
        "-qO-",
        "-T",
        "2",
        "http://web/",
    ]);
    assert_ne!(code, 0, "names resolve on the default bridge");

    // --network container:web: the same namespace, its loopback included.
    assert_eq!(
        store.ok(&[
            "run",
            "--rm",
            "--network",
            "container:web",
            "busybox",
            "wget",
            "-qO-",
            "http://127.0.0.1/"
        ]),
        "one\n"
    );

    // What Docker shows.
    assert_eq!(store.ok(&["port", "web"]), "80/tcp -> 0.0.0.0:8080\n");
    assert_eq!(store.ok(&["port", "web", "80"]), "0.0.0.0:8080\n");
    assert_eq!(
        store.ok(&["ps", "--format", "{{.Names}} {{.Ports}}", "-f", "name=web"]),
        "web 0.0.0.0:8080->80/tcp\n"
    );
    let v: serde_json::Value = serde_json::from_str(&store.ok(&["inspect", "web"])).unwrap();
    let ns = &v[0]["NetworkSettings"];
    assert_eq!(
        ns["Ports"],
        serde_json::json!({"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]})
    );
    assert_eq!(ns["IPAddress"], "172.17.0.2");
    assert_eq!(ns["Gateway"], "172.17.0.1");
    assert_eq!(ns["Networks"]["bridge"]["MacAddress"], "02:42:ac:11:00:02");
    assert_eq!(
        v[0]["HostConfig"]["PortBindings"],
        serde_json::json!({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]})
    );

    // -P: every exposed port on a port the kernel picks.
    web(&store, "any", "two", &["--expose", "80", "-P"]);
    let port = store.ok(&["port", "any", "80"]);
    let port = port.trim().rsplit(':').next().unwrap().to_string();
    assert!(port.parse::<u16>().unwrap() > 1024, "{port}");
    assert_eq!(
        other.get(&format!("http://198.51.100.1:{port}/")).unwrap(),
        "two\n"
    );

    // A port in use fails the start (125), and leaves nothing behind:
    // taken by a container, then by a program of the host.
    let rules = dnat_rules(&store);
    let (code, _, err) = store.outcome(&[
        "run", "-d", "--name", "late", "-p", "8080:80", "busybox", "sleep", "100",
    ]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("Bind for 0.0.0.0:8080 failed: port is already allocated"),
        "{err}"
    );
    let mut squatter = store
        .host_netns
        .as_ref()
        .unwrap()
        .command(&["python3", "-c", "import socket,time\ns=socket.socket(); s.bind(('0.0.0.0',8081)); s.listen(1); time.sleep(1000)"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (code, _, err) = store.outcome(&["run", "-d", "-p", "8081:80", "busybox", "sleep", "100"]);
    let _ = squatter.kill();
    let _ = squatter.wait();
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("8081"), "{err}");
    assert_eq!(dnat_rules(&store), rules, "a failed start added a rule");
    assert_eq!(
        store.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.NetworkSettings.IPAddress}}",
            "late"
        ]),
        "created \n"
    );

    // Bad input: Docker's words, exit 125, nothing made.
    for (spec, want) in [
        ("70000:80", "invalid hostPort: 70000"),
        ("80:0", "invalid containerPort: 0"),
        ("8080:80/xyz", "invalid proto: xyz"),
    ] {
        let (code, _, err) = store.outcome(&["run", "--rm", "-p", spec, "busybox", "true"]);
        assert_eq!(code, 125, "{spec}: {err}");
        assert!(err.contains(want), "{spec}: {err}");
    }

    // The default bridge and a user network do not reach each other.
    store.ok(&["network", "create", "--subnet", "10.91.0.0/24", "other"]);
    let (code, _, _) = store.outcome(&[
        "run",
        "--rm",
        "--network",
        "other",
        "busybox",
        "wget",
        "-qO-",
        "-T",
        "2",
        "http://172.17.0.2/",
    ]);
    assert_ne!(code, 0, "a user network reached the default bridge");

    // Stopped: no ports shown, rules gone, no namespace to join; removed:
    // nothing left.
    store.ok(&["stop", "-t", "0", "web"]);
    let (code, _, err) = store.outcome(&[
        "run",
        "--rm",
        "--network",
        "container:web",
        "busybox",
        "true",
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot join network namespace of a non running container"),
        "{err}"
    );
    assert_eq!(store.ok(&["port", "web"]), "");
    assert!(host_get(&store, "http://127.0.0.1:8080/", 1).is_err());
    store.ok(&["rm", "-f", "web", "any", "late"]);
    store.ok(&["network", "rm", "other"]);
    assert_eq!(dnat_rules(&store), 0, "{}", ruleset(&store));
    let links = in_host(&store, &["ip", "-br", "link"]);
    assert!(!links.contains("veth"), "{links}");
    assert_eq!(
        store.ok(&["network", "inspect", "-f", "{{len .Containers}}", "bridge"]),
        "0\n"
    );
    store.assert_check_clean();
}

#[test]
fn a_killed_monitor_leaves_no_port_rule_or_lease() {
    let test = "a_killed_monitor_leaves_no_port_rule_or_lease";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    if store.busybox("busybox").is_none() {
        return;
    }
    in_host(&store, &["ip", "link", "set", "lo", "up"]);
    let id = web(&store, "web", "one", &["-p", "8080:80"]);
    assert_eq!(
        host_get(&store, "http://127.0.0.1:8080/", 15).unwrap(),
        "one\n"
    );
    assert_eq!(dnat_rules(&store), 2);
    let monitors = store.processes();
    assert!(!monitors.is_empty());
    for pid in monitors {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    // The next command reconciles: exited, address and port released,
    // the rules rendered away, and the port free for another container.
    assert_eq!(
        store.ok(&["inspect", "-f", "{{.State.Status}}", &id]),
        "exited\n"
    );
    assert_eq!(dnat_rules(&store), 0, "{}", ruleset(&store));
    web(&store, "web2", "two", &["-p", "8080:80"]);
    assert_eq!(
        host_get(&store, "http://127.0.0.1:8080/", 15).unwrap(),
        "two\n"
    );
    store.ok(&["rm", "-f", "web", "web2"]);
    // The killed one's veth goes with its namespace (the kernel's work
    // queue): give it a moment.
    let links = links_without_veths(&store);
    assert!(!links.contains("veth"), "{links}");
    store.assert_check_clean();
}

#[test]
fn system_check_finds_and_repairs_network_drift() {
    let test = "system_check_finds_and_repairs_network_drift";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    if store.busybox("busybox").is_none() {
        return;
    }
    in_host(&store, &["ip", "link", "set", "lo", "up"]);
    web(&store, "web", "one", &["-p", "8080:80"]);
    store.assert_check_clean();
    // Drift: a stray port on berth0, the DNAT rules flushed, a user
    // network's bridge deleted behind berth's back.
    store.ok(&[
        "network",
        "create",
        "--subnet",
        "10.93.0.0/24",
        "-o",
        "com.docker.network.bridge.name=br-drift",
        "drift",
    ]);
    in_host(
        &store,
        &[
            "ip",
            "link",
            "add",
            "vethstray",
            "type",
            "veth",
            "peer",
            "name",
            "vethstray-p",
        ],
    );
    in_host(
        &store,
        &["ip", "link", "set", "vethstray", "master", "berth0"],
    );
    in_host(
        &store,
        &["nft", "flush", "chain", "ip", "berth", "prerouting"],
    );
    in_host(&store, &["ip", "link", "del", "br-drift"]);
    let out = store.run(&["system", "check"]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{report}");
    assert!(
        report.contains("bridge berth0: vethstray belongs to no container"),
        "{report}"
    );
    assert!(
        report.contains("network drift: its bridge br-drift is missing"),
        "{report}"
    );
    assert!(
        report.contains("DNAT rules where the published ports need 2"),
        "{report}"
    );
    store.ok(&["system", "check", "--repair"]);
    store.assert_check_clean();
    assert_eq!(
        host_get(&store, "http://127.0.0.1:8080/", 15).unwrap(),
        "one\n"
    );
    assert!(in_host(&store, &["ip", "-br", "link"]).contains("br-drift"));
    // A bridge gone is also set up again by the next start on it.
    in_host(&store, &["ip", "link", "del", "br-drift"]);
    store.ok(&["run", "--rm", "--network", "drift", "busybox", "true"]);
    store.ok(&["rm", "-f", "web"]);
    store.ok(&["network", "rm", "drift"]);
    store.assert_check_clean();
}
