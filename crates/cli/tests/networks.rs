//! `network create|ls|inspect|rm|prune` against the kernel: each test's
//! berth runs in a network namespace of the test's own that plays the host,
//! where its bridges and nftables table are checked. Nothing here touches
//! the real host's interfaces, rules or sysctls. Root only.

mod support;

use support::Store;
use support::net_world::{
    OtherMachine, in_host, links_without_veths, prerequisites, remove_all, ruleset,
};

/// The bridges in the host namespace: "name addr/prefix" lines, sorted.
fn bridges(store: &Store) -> Vec<String> {
    let text = in_host(
        store,
        &["ip", "-br", "-4", "addr", "show", "type", "bridge"],
    );
    let mut v: Vec<String> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {}", f[0], f.get(2).copied().unwrap_or(""))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn create_list_inspect_and_remove_networks() {
    let test = "create_list_inspect_and_remove_networks";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    in_host(&store, &["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    // Docker's predefined three.
    assert_eq!(
        store.ok(&[
            "network",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}}"
        ]),
        "bridge bridge local\nhost host local\nnone null local\n"
    );
    let id = store.ok(&["network", "create", "--label", "team=a", "front"]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    let internal = store.ok(&[
        "network",
        "create",
        "--subnet",
        "10.77.0.0/16",
        "--gateway",
        "10.77.0.254",
        "--ip-range",
        "10.77.1.0/24",
        "--internal",
        "-o",
        "com.docker.network.bridge.name=berth-back",
        "back",
    ]);
    // The table, as Docker's.
    let table = store.ok(&["network", "ls"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&id[..12]) && l.contains(" front ")),
        "{table}"
    );
    assert_eq!(
        store
            .ok(&[
                "network",
                "ls",
                "-q",
                "--filter",
                "type=custom",
                "--no-trunc"
            ])
            .lines()
            .count(),
        2
    );
    assert_eq!(
        store.ok(&["network", "ls", "-q", "--filter", "label=team=a"]),
        format!("{}\n", &id[..12])
    );
    assert_eq!(
        store.ok(&[
            "network",
            "ls",
            "-q",
            "-f",
            "driver=null",
            "--format",
            "{{.Name}}"
        ]),
        "none\n"
    );

    // The first user network takes the pool after the default bridge's.
    let front: serde_json::Value =
        serde_json::from_str(&store.ok(&["network", "inspect", "front"])).unwrap();
    let front = &front[0];
    assert_eq!(front["Id"], id);
    assert_eq!(front["Driver"], "bridge");
    assert_eq!(
        front["IPAM"]["Config"],
        serde_json::json!([{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}])
    );
    assert_eq!(front["Labels"], serde_json::json!({"team": "a"}));
    assert_eq!(front["Internal"], false);
    let bridge = front["Options"]["com.docker.network.bridge.name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(bridge, format!("berth-{}", &id[..9]));
    let back: serde_json::Value =
        serde_json::from_str(&store.ok(&["network", "inspect", internal.trim()])).unwrap();
    assert_eq!(
        back[0]["IPAM"]["Config"],
        serde_json::json!([{"Subnet": "10.77.0.0/16", "Gateway": "10.77.0.254", "IPRange": "10.77.1.0/24"}])
    );
    assert_eq!(back[0]["Internal"], true);
    assert_eq!(
        store.ok(&["network", "inspect", "-f", "{{.Name}}", &id[..6]]),
        "front\n"
    );

    // In the kernel: both bridges with their gateways, forwarding on, the
    // subnet that may leave masqueraded, the internal one closed.
    assert_eq!(bridges(&store), {
        let mut want = vec![
            "berth-back 10.77.0.254/16".to_string(),
            format!("{bridge} 172.18.0.1/16"),
        ];
        want.sort();
        want
    });
    assert_eq!(
        in_host(&store, &["cat", "/proc/sys/net/ipv4/ip_forward"]).trim(),
        "1"
    );
    let rules = ruleset(&store);
    assert!(
        rules.contains(&format!(
            "ip saddr 172.18.0.0/16 oifname != \"{bridge}\" masquerade"
        )),
        "{rules}"
    );
    assert!(!rules.contains("ip saddr 10.77.0.0/16"), "{rules}");
    assert!(rules.contains("iifname \"berth-back\" drop"), "{rules}");

    // rm: the bridge and its rules go; the predefined ones stay.
    let err = store.fails(&["network", "rm", "bridge"]);
    assert!(
        err.contains("bridge is a pre-defined network and cannot be removed"),
        "{err}"
    );
    assert_eq!(store.ok(&["network", "rm", "back"]), "back\n");
    assert_eq!(bridges(&store), [format!("{bridge} 172.18.0.1/16")]);
    assert!(!ruleset(&store).contains("berth-back"));
    let (code, _, err) = store.outcome(&["network", "rm", "back"]);
    assert_eq!(code, 1);
    assert!(err.contains("network back not found"), "{err}");
    assert_eq!(store.outcome(&["network", "rm", "-f", "back"]).0, 0);

    // prune asks (on stdout), keeps everything on "n", removes on -f.
    let mut child = store
        .command(&["network", "prune"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"n\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Are you sure you want to continue? [y/N]")
    );
    assert_eq!(bridges(&store).len(), 1);
    assert_eq!(
        store.ok(&["network", "prune", "-f"]),
        "Deleted Networks:\nfront\n\n"
    );
    assert_eq!(bridges(&store), Vec::<String>::new());
    assert_eq!(
        ruleset(&store).trim(),
        "",
        "berth's table goes with the last network"
    );
    assert_eq!(
        store.ok(&["network", "ls", "-q", "--filter", "type=custom"]),
        ""
    );
}

#[test]
fn bad_network_requests_change_nothing() {
    let test = "bad_network_requests_change_nothing";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    store.ok(&["network", "create", "--subnet", "10.10.0.0/16", "taken"]);
    let before = (
        store.ok(&["network", "ls", "--no-trunc"]),
        bridges(&store),
        ruleset(&store),
    );
    for (args, says) in [
        (
            &["--subnet", "10.1.2.0/33", "n"][..],
            "invalid subnet 10.1.2.0/33",
        ),
        (
            &["--subnet", "10.1.2.0", "n"],
            "invalid CIDR address: 10.1.2.0",
        ),
        (
            &["--subnet", "banana/8", "n"],
            "invalid CIDR address: banana/8",
        ),
        (
            &["--subnet", "10.10.5.0/24", "n"],
            "Pool overlaps with other one on this address space",
        ),
        (
            &["--subnet", "10.20.0.0/16", "--gateway", "10.21.0.1", "n"],
            "no matching subnet for gateway 10.21.0.1",
        ),
        (
            &["--subnet", "10.20.0.0/16", "--gateway", "10.20.0.0", "n"],
            "no matching subnet for gateway 10.20.0.0",
        ),
        (
            &[
                "--subnet",
                "10.20.0.0/16",
                "--ip-range",
                "10.30.0.0/24",
                "n",
            ],
            "no matching subnet for range 10.30.0.0/24",
        ),
        (
            &["--gateway", "10.20.0.1", "n"],
            "--gateway and --ip-range need --subnet",
        ),
        (&["taken"], "network with name taken already exists"),
        (&["host"], "network with name host already exists"),
        (&["-d", "overlay", "n"], "plugin \"overlay\" not found"),
        (
            &["-d", "host", "n"],
            "only one instance of \"host\" network is allowed",
        ),
        (
            &["-o", "com.docker.network.bridge.enable_icc=false", "n"],
            "network option \"com.docker.network.bridge.enable_icc\" is not supported",
        ),
        (
            &[
                "-o",
                "com.docker.network.bridge.name=a-name-far-too-long",
                "n",
            ],
            "invalid bridge name \"a-name-far-too-long\"",
        ),
        (&["bad name"], "invalid network name \"bad name\""),
        (
            &["--subnet", "fd00::/64", "n"],
            "IPv6 networks are not supported yet",
        ),
    ] {
        let mut full = vec!["network", "create"];
        full.extend_from_slice(args);
        let (code, _, err) = store.outcome(&full);
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (code, _, err) = store.outcome(&["network", "inspect", "nosuch"]);
    assert_eq!(code, 1);
    assert!(err.contains("network nosuch not found"), "{err}");
    let after = (
        store.ok(&["network", "ls", "--no-trunc"]),
        bridges(&store),
        ruleset(&store),
    );
    assert_eq!(before, after, "a failed request changed something");
}

#[test]
fn automatic_subnets_avoid_routes_and_each_other_under_concurrency() {
    let test = "automatic_subnets_avoid_routes_and_each_other_under_concurrency";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    // A route of the "host" over 172.19.0.0/16: never handed out.
    in_host(
        &store,
        &[
            "ip",
            "link",
            "add",
            "uplink",
            "type",
            "veth",
            "peer",
            "name",
            "uplink-peer",
        ],
    );
    in_host(
        &store,
        &["ip", "addr", "add", "172.19.3.1/24", "dev", "uplink"],
    );
    in_host(&store, &["ip", "link", "set", "uplink", "up"]);
    let names: Vec<String> = (0..8).map(|i| format!("n{i}")).collect();
    std::thread::scope(|s| {
        for n in &names {
            let store = &store;
            s.spawn(move || store.ok(&["network", "create", n]));
        }
    });
    let mut subnets = Vec::new();
    for n in &names {
        let v: serde_json::Value =
            serde_json::from_str(&store.ok(&["network", "inspect", n])).unwrap();
        subnets.push(
            v[0]["IPAM"]["Config"][0]["Subnet"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    subnets.sort();
    let mut want: Vec<String> = [18, 20, 21, 22, 23, 24, 25, 26]
        .iter()
        .map(|b| format!("172.{b}.0.0/16"))
        .collect();
    want.sort();
    assert_eq!(
        subnets, want,
        "distinct, after the default bridge's, none over the route"
    );
    assert_eq!(bridges(&store).len(), 8);
    let rules = ruleset(&store);
    for s in &want {
        assert!(
            rules.contains(&format!("ip saddr {s}")),
            "{s} missing from the table: {rules}"
        );
    }
    store.ok(&["network", "prune", "-f"]);
    assert_eq!(bridges(&store), Vec::<String>::new());
}

#[test]
fn containers_on_a_user_network() {
    let test = "containers_on_a_user_network";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    if store.busybox("busybox").is_none() {
        return;
    }
    let _other = OtherMachine::new(&store);
    store.ok(&["network", "create", "--subnet", "10.88.0.0/24", "apps"]);

    // Its own address (the lowest free), Docker's MAC, a default route,
    // and /etc/hosts naming it.
    let out = store.ok(&[
        "run", "--rm", "--network", "apps", "--hostname", "probe", "busybox", "sh", "-c",
        "ip -4 -o addr show eth0 | awk '{print $4}'; cat /sys/class/net/eth0/address; ip route | head -1; grep probe /etc/hosts",
    ]);
    assert_eq!(
        out,
        "10.88.0.2/24\n02:42:0a:58:00:02\ndefault via 10.88.0.1 dev eth0 \n10.88.0.2\tprobe\n"
    );

    // Two running containers: distinct leases, shown by inspect; they
    // reach each other directly.
    let a = store.ok(&[
        "run",
        "-d",
        "--name",
        "ca",
        "--network",
        "apps",
        "busybox",
        "sleep",
        "1000",
    ]);
    let b = store.ok(&[
        "run",
        "-d",
        "--name",
        "cb",
        "--network",
        "apps",
        "busybox",
        "sleep",
        "1000",
    ]);
    let ip_of = |c: &str| {
        store
            .ok(&[
                "inspect",
                "-f",
                "{{.NetworkSettings.Networks.apps.IPAddress}}",
                c,
            ])
            .trim()
            .to_string()
    };
    assert_eq!(
        (ip_of("ca"), ip_of("cb")),
        ("10.88.0.2".into(), "10.88.0.3".into())
    );
    let pinged = store.ok(&["exec", "cb", "ping", "-c", "1", "-W", "2", "10.88.0.2"]);
    assert!(pinged.contains("1 packets received"), "{pinged}");
    let net: serde_json::Value =
        serde_json::from_str(&store.ok(&["network", "inspect", "apps"])).unwrap();
    let members = &net[0]["Containers"];
    assert_eq!(members[a.trim()]["Name"], "ca");
    assert_eq!(members[a.trim()]["IPv4Address"], "10.88.0.2/24");
    assert_eq!(members[b.trim()]["MacAddress"], "02:42:0a:58:00:03");

    // Out through NAT: the other machine sees the host's address.
    assert_eq!(
        store
            .ok(&[
                "exec",
                "ca",
                "sh",
                "-c",
                "for i in 1 2 3 4 5; do nc 198.51.100.2 9000 && break; sleep 0.2; done"
            ])
            .trim(),
        "198.51.100.1"
    );

    // In use: not removable; stopped, its address is free again.
    let err = store.fails(&["network", "rm", "apps"]);
    assert!(err.contains("has active endpoints"), "{err}");
    store.ok(&["stop", "-t", "0", "ca"]);
    assert_eq!(ip_of("ca"), "");
    let c = store.ok(&["run", "-d", "--network", "apps", "busybox", "sleep", "1000"]);
    assert_eq!(ip_of(c.trim()), "10.88.0.2", "the freed address is reused");

    // An internal network: no route out, but members reach each other.
    store.ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.89.0.0/24",
        "closed",
    ]);
    store.ok(&[
        "run",
        "-d",
        "--name",
        "in1",
        "--network",
        "closed",
        "busybox",
        "sleep",
        "1000",
    ]);
    let (code, _, _) = store.outcome(&[
        "run",
        "--rm",
        "--network",
        "closed",
        "busybox",
        "nc",
        "-w",
        "2",
        "198.51.100.2",
        "9000",
    ]);
    assert_ne!(code, 0, "an internal network has no way out");
    assert!(
        store
            .ok(&[
                "run",
                "--rm",
                "--network",
                "closed",
                "busybox",
                "ping",
                "-c",
                "1",
                "-W",
                "2",
                "10.89.0.2"
            ])
            .contains("1 packets received")
    );
    // Networks are isolated from each other.
    let (code, _, _) = store.outcome(&["exec", "cb", "ping", "-c", "1", "-W", "1", "10.89.0.2"]);
    assert_ne!(code, 0, "apps reached closed");

    // Unknown network: a clear error, nothing made.
    let (code, _, err) = store.outcome(&["run", "--rm", "--network", "nosuch", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(err.contains("network nosuch not found"), "{err}");

    // Everything removed: no lease, no veth, no bridge, no table.
    store.ok(&["rm", "-f", "ca", "cb", "in1", c.trim()]);
    store.ok(&["network", "rm", "apps", "closed"]);
    let links = in_host(&store, &["ip", "-br", "link"]);
    assert!(
        !links.contains("veth") && !links.contains("berth-"),
        "{links}"
    );
    assert_eq!(ruleset(&store).trim(), "");
    store.assert_check_clean();
}

#[test]
fn fifty_containers_at_once_get_fifty_addresses() {
    let test = "fifty_containers_at_once_get_fifty_addresses";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    if store.busybox("busybox").is_none() {
        return;
    }
    store.ok(&["network", "create", "--subnet", "10.90.0.0/24", "many"]);
    let ids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|_| {
                let store = &store;
                s.spawn(move || {
                    store
                        .ok(&["run", "-d", "--network", "many", "busybox", "sleep", "1000"])
                        .trim()
                        .to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ips: Vec<String> = ids
        .iter()
        .map(|id| {
            store
                .ok(&[
                    "inspect",
                    "-f",
                    "{{.NetworkSettings.Networks.many.IPAddress}}",
                    id,
                ])
                .trim()
                .to_string()
        })
        .collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 50, "{ips:?}");
    let mut args = vec!["rm", "-f"];
    args.extend(ids.iter().map(String::as_str));
    store.ok(&args);
    let net: serde_json::Value =
        serde_json::from_str(&store.ok(&["network", "inspect", "many"])).unwrap();
    assert_eq!(net[0]["Containers"], serde_json::json!({}), "no lease left");
    let links = in_host(&store, &["ip", "-br", "link"]);
    assert!(!links.contains("veth"), "{links}");
    store.ok(&["network", "rm", "many"]);
    store.assert_check_clean();
}

#[test]
fn monitors_killed_mid_start_leave_no_veth_rule_or_lease() {
    let test = "monitors_killed_mid_start_leave_no_veth_rule_or_lease";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    if store.busybox("busybox").is_none() {
        return;
    }
    store.ok(&["network", "create", "--subnet", "10.92.0.0/24", "crashy"]);
    let done = std::sync::atomic::AtomicBool::new(false);
    let mut killed = 0;
    std::thread::scope(|s| {
        let killer = s.spawn(|| {
            // kill -9 every monitor (and resolver) of this store as it
            // appears, while the starts run.
            let mut n = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                for pid in store.processes() {
                    if std::process::Command::new("kill")
                        .args(["-9", &pid.to_string()])
                        .status()
                        .is_ok_and(|s| s.success())
                    {
                        n += 1;
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(15));
            }
            n
        });
        let starts: Vec<_> = (0..30)
            .map(|i| {
                let store = &store;
                s.spawn(move || {
                    let p = format!("{}:80", 9000 + i);
                    let _ = store.outcome(&[
                        "run",
                        "-d",
                        "--network",
                        "crashy",
                        "-p",
                        &p,
                        "busybox",
                        "sleep",
                        "1000",
                    ]);
                })
            })
            .collect();
        for h in starts {
            h.join().unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        killed = killer.join().unwrap();
    });
    assert!(killed > 0, "no monitor was killed: the test proved nothing");
    // Whatever survived is removed; the rest was reconciled.
    remove_all(&store);
    let net: serde_json::Value =
        serde_json::from_str(&store.ok(&["network", "inspect", "crashy"])).unwrap();
    assert_eq!(
        net[0]["Containers"],
        serde_json::json!({}),
        "a lease is left"
    );
    let links = links_without_veths(&store);
    assert!(!links.contains("veth"), "{links}");
    assert!(!ruleset(&store).contains("dnat to"), "{}", ruleset(&store));
    store.ok(&["network", "rm", "crashy"]);
    store.assert_check_clean();
}
