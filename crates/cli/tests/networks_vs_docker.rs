//! berth's networking beside, and against, a private dockerd whose
//! networking (docker0, its iptables rules, FORWARD policy DROP) lives in
//! the same namespace world the test made: a namespace that plays the host
//! and one that plays another machine. berth's containers must still get
//! out and be reached, and show what docker shows. No packet leaves the
//! world. Root only; needs docker.io.

mod support;

use support::Store;
use support::dockerd::Dockerd;
use support::net_world::{OtherMachine, in_host, prerequisites};

/// Lines of `text` with the container's own address and hostname named.
fn normalized(text: &str, ip: &str, hostname: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .map(|l| l.replace(ip, "<ip>").replace(hostname, "<hostname>"))
        .collect();
    v.sort();
    v
}

fn ipv4_only(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains("[::]") && !l.contains(":::"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn beside_and_against_docker() {
    let test = "beside_and_against_docker";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    let other = OtherMachine::new(&store);
    let host_ns = store.host_netns.as_ref().unwrap();
    in_host(&store, &["ip", "link", "set", "lo", "up"]);
    // A host where dockerd turned forwarding on itself: FORWARD DROP.
    in_host(&store, &["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    let Some(docker) = Dockerd::start_networked(test, &host_ns.path()) else {
        return;
    };
    let forward = in_host(&store, &["iptables", "-S", "FORWARD"]);
    assert!(forward.contains("-P FORWARD DROP"), "{forward}");
    let Some(tar) = support::busybox_tar() else {
        return;
    };
    store.busybox("busybox").unwrap();
    let import = docker.command(&["import", "-c", "CMD [\"sh\"]", "-", "busybox"]);
    let out = support::run_with_stdin(import, &tar);
    assert!(out.status.success());

    // Both reach the other machine (through NAT) and are reached on a
    // published port, berth despite docker's FORWARD DROP.
    let nc = [
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do nc 198.51.100.2 9000 && break; sleep 0.2; done",
    ];
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(&nc);
    assert_eq!(store.ok(&args).trim(), "198.51.100.1", "berth's way out");
    assert_eq!(docker.ok(&args).trim(), "198.51.100.1", "docker's way out");
    let web = "mkdir /www && echo hi > /www/index.html && exec httpd -f -p 80 -h /www";
    store.ok(&[
        "run", "-d", "--name", "web", "-h", "webhost", "-p", "8080:80", "busybox", "sh", "-c", web,
    ]);
    docker.ok(&[
        "run", "-d", "--name", "web", "-h", "webhost", "-p", "8081:80", "busybox", "sh", "-c", web,
    ]);
    assert_eq!(
        other.get("http://198.51.100.1:8080/").unwrap(),
        "hi\n",
        "berth's port"
    );
    assert_eq!(
        other.get("http://198.51.100.1:8081/").unwrap(),
        "hi\n",
        "docker's port"
    );
    // berth's bridge did not take docker0's subnet.
    let ours: serde_json::Value =
        serde_json::from_str(&store.ok(&["network", "inspect", "bridge"])).unwrap();
    let theirs: serde_json::Value =
        serde_json::from_str(&docker.ok(&["network", "inspect", "bridge"])).unwrap();
    assert_ne!(
        ours[0]["IPAM"]["Config"][0]["Subnet"],
        theirs[0]["IPAM"]["Config"][0]["Subnet"]
    );

    // The same files, modulo the address and the hostname.
    let ip = |inspect: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(inspect).unwrap();
        v[0]["NetworkSettings"]["IPAddress"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (b_ip, d_ip) = (
        ip(&store.ok(&["inspect", "web"])),
        ip(&docker.ok(&["inspect", "web"])),
    );
    let files = ["cat", "/etc/hosts"];
    let mut b_args = vec!["exec", "web"];
    b_args.extend_from_slice(&files);
    assert_eq!(
        normalized(&store.ok(&b_args), &b_ip, "webhost"),
        normalized(&docker.ok(&b_args), &d_ip, "webhost"),
        "/etc/hosts"
    );
    assert_eq!(
        store.ok(&["exec", "web", "cat", "/etc/resolv.conf"]),
        docker.ok(&["exec", "web", "cat", "/etc/resolv.conf"]),
        "/etc/resolv.conf on the default bridge"
    );

    // inspect's network fields: docker's keys are all there, the ports alike.
    let b: serde_json::Value = serde_json::from_str(&store.ok(&["inspect", "web"])).unwrap();
    let d: serde_json::Value = serde_json::from_str(&docker.ok(&["inspect", "web"])).unwrap();
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    for (what, b, d) in [
        (
            "NetworkSettings",
            &b[0]["NetworkSettings"],
            &d[0]["NetworkSettings"],
        ),
        (
            "Networks.bridge",
            &b[0]["NetworkSettings"]["Networks"]["bridge"],
            &d[0]["NetworkSettings"]["Networks"]["bridge"],
        ),
    ] {
        let ours = keys(b);
        let missing: Vec<String> = keys(d).into_iter().filter(|k| !ours.contains(k)).collect();
        assert!(missing.is_empty(), "{what}: berth lacks {missing:?}");
    }
    let v4 = |ports: &serde_json::Value, port: &str| -> serde_json::Value {
        let list: Vec<serde_json::Value> = ports["80/tcp"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["HostIp"] == "0.0.0.0")
            .map(|p| serde_json::json!({"HostIp": p["HostIp"], "HostPort": p["HostPort"].as_str().unwrap().replace(port, "<port>")}))
            .collect();
        serde_json::json!(list)
    };
    assert_eq!(
        v4(&b[0]["NetworkSettings"]["Ports"], "8080"),
        v4(&d[0]["NetworkSettings"]["Ports"], "8081")
    );
    assert_eq!(
        b[0]["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
        "8080"
    );
    assert_eq!(
        d[0]["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
        "8081"
    );
    assert_eq!(
        store.ok(&["port", "web"]).replace("8080", "<p>"),
        ipv4_only(&docker.ok(&["port", "web"])).replace("8081", "<p>")
    );
    let ps = |out: String, port: &str| -> String {
        out.trim()
            .split(", ")
            .filter(|p| !p.starts_with(":::") && !p.starts_with("[::]"))
            .collect::<Vec<_>>()
            .join(", ")
            .replace(port, "<p>")
    };
    assert_eq!(
        ps(
            store.ok(&["ps", "--format", "{{.Ports}}", "-f", "name=web"]),
            "8080"
        ),
        ps(
            docker.ok(&["ps", "--format", "{{.Ports}}", "-f", "name=web"]),
            "8081"
        )
    );

    // network ls and inspect: the same shape.
    let ls = [
        "network",
        "ls",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}}",
    ];
    assert_eq!(store.ok(&ls), docker.ok(&ls));
    let mut ours = keys(&ours[0]);
    let mut theirs = keys(&theirs[0]);
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs, "network inspect's fields");

    // Who reaches whom: by name on a user network, not on the default
    // bridge, not across networks; resolv.conf with one resolver, ndots:0.
    for (engine, subnet, other_subnet) in [
        ("berth", "10.61.0.0/24", "10.62.0.0/24"),
        ("docker", "10.63.0.0/24", "10.64.0.0/24"),
    ] {
        let run = |args: &[&str]| -> (i32, String) {
            let out = if engine == "berth" {
                store.run(args)
            } else {
                docker.docker(args)
            };
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned(),
            )
        };
        assert_eq!(
            run(&["network", "create", "--subnet", subnet, "front"]).0,
            0,
            "{engine}"
        );
        assert_eq!(
            run(&["network", "create", "--subnet", other_subnet, "back"]).0,
            0,
            "{engine}"
        );
        assert_eq!(
            run(&[
                "run",
                "-d",
                "--name",
                "api",
                "--network",
                "front",
                "busybox",
                "sleep",
                "1000"
            ])
            .0,
            0
        );
        assert_eq!(
            run(&[
                "run",
                "-d",
                "--name",
                "lone",
                "--network",
                "back",
                "busybox",
                "sleep",
                "1000"
            ])
            .0,
            0
        );
        let api_ip = run(&[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.front.IPAddress}}",
            "api",
        ])
        .1;
        let api_ip = api_ip.trim();
        let ping = |from: &[&str], target: &str| {
            let mut a = vec!["run", "--rm"];
            a.extend_from_slice(from);
            a.extend_from_slice(&["busybox", "ping", "-c", "1", "-W", "1", target]);
            run(&a).0 == 0
        };
        assert!(
            ping(&["--network", "front"], "api"),
            "{engine}: by name on a user network"
        );
        assert!(
            !ping(&["--network", "back"], api_ip),
            "{engine}: across networks"
        );
        assert!(!ping(&[], "web"), "{engine}: by name on the default bridge");
        assert!(
            ping(
                &[],
                &if engine == "berth" {
                    b_ip.clone()
                } else {
                    d_ip.clone()
                }
            ),
            "{engine}: by address on the default bridge"
        );
        let resolv = run(&["exec", "api", "cat", "/etc/resolv.conf"]).1;
        assert_eq!(
            resolv
                .lines()
                .filter(|l| l.starts_with("nameserver"))
                .count(),
            1,
            "{engine}: {resolv}"
        );
        assert!(resolv.contains("options ndots:0"), "{engine}: {resolv}");
        assert_eq!(run(&["rm", "-f", "api", "lone"]).0, 0);
        assert_eq!(run(&["network", "rm", "front", "back"]).0, 0);
    }

    store.ok(&["rm", "-f", "web"]);
    docker.ok(&["rm", "-f", "web"]);
    store.assert_check_clean();
}
