//! Names on user networks and `network connect|disconnect`, in a world of
//! the test's own (a namespace that plays the host, another that plays a
//! machine on its uplink with an HTTP-less TCP echo and a DNS server). No
//! packet leaves the namespaces the test made. Root only.

mod support;

use std::time::{Duration, Instant};

use support::Store;
use support::net_world::{OtherMachine, in_host, prerequisites, remove_all, ruleset};

/// `nslookup NAME` from container `from`: the addresses it answered.
fn lookup(store: &Store, from: &str, name: &str) -> Vec<String> {
    let (_, out, _) = store.outcome(&["exec", from, "nslookup", name]);
    // The server's own address comes first ("Address: 10.x.0.1:53").
    out.lines()
        .filter_map(|l| l.strip_prefix("Address:"))
        .map(|a| a.trim().to_string())
        .filter(|a| !a.ends_with(":53"))
        .collect()
}

fn resolvers(store: &Store) -> usize {
    store
        .processes()
        .iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("__dns"))
                .unwrap_or(false)
        })
        .count()
}

fn sleeper(store: &Store, name: &str, args: &[&str]) -> String {
    let mut all = vec!["run", "-d", "--name", name];
    all.extend_from_slice(args);
    all.extend_from_slice(&["busybox", "sleep", "1000"]);
    store.ok(&all).trim().to_string()
}

#[test]
fn names_resolve_on_shared_networks_and_connect_adds_one() {
    let test = "names_resolve_on_shared_networks_and_connect_adds_one";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    if store.busybox("busybox").is_none() {
        return;
    }
    let mut other = OtherMachine::new(&store);
    other.serve_dns();
    // (The host's own traffic to its addresses goes over its loopback.)
    in_host(&store, &["ip", "link", "set", "lo", "up"]);
    store.ok(&["network", "create", "--subnet", "10.88.0.0/24", "apps"]);
    store.ok(&["network", "create", "--subnet", "10.89.0.0/24", "others"]);
    let db = sleeper(
        &store,
        "db",
        &["--network", "apps", "--network-alias", "database"],
    );
    sleeper(
        &store,
        "web",
        &["--network", "apps", "--dns", "198.51.100.2"],
    );
    sleeper(
        &store,
        "stranger",
        &["--network", "others", "--dns", "198.51.100.2"],
    );
    assert_eq!(resolvers(&store), 2, "one resolver per network in use");

    // By name, alias and short ID, from a container on the same network.
    assert_eq!(lookup(&store, "web", "db"), ["10.88.0.2"]);
    assert_eq!(lookup(&store, "web", "database"), ["10.88.0.2"]);
    assert_eq!(lookup(&store, "web", &db[..12]), ["10.88.0.2"]);
    let ping = store.ok(&["exec", "web", "ping", "-c", "1", "-W", "2", "db"]);
    assert!(ping.contains("1 packets received"), "{ping}");
    // Over TCP too (clients retry there when an answer is truncated); from
    // the host, which is no container, the network's own names.
    const TCP_QUERY: &str = concat!(
        "import socket, struct, sys\n",
        "q = struct.pack('>HHHHHH', 0x4242, 0x0100, 1, 0, 0, 0)\n",
        "q += b''.join(bytes([len(p)]) + p.encode() for p in sys.argv[2].split('.')) + b'\\0' + struct.pack('>HH', 1, 1)\n",
        "s = socket.create_connection((sys.argv[1], 53), timeout=3)\n",
        "s.sendall(struct.pack('>H', len(q)) + q)\n",
        "n = struct.unpack('>H', s.recv(2))[0]; r = b''\n",
        "while len(r) < n: r += s.recv(n - len(r))\n",
        "print(socket.inet_ntoa(r[-4:]) if struct.unpack('>H', r[6:8])[0] else 'none')\n",
    );
    assert_eq!(
        in_host(
            &store,
            &["python3", "-c", TCP_QUERY, "10.88.0.1", "database"]
        )
        .trim(),
        "10.88.0.2"
    );
    // resolv.conf names the network's resolver, as Docker's names 127.0.0.11.
    let resolv = store.ok(&["exec", "web", "cat", "/etc/resolv.conf"]);
    assert!(resolv.starts_with("nameserver 10.88.0.1\n"), "{resolv}");
    // Other names go upstream (here the other machine's server).
    assert_eq!(lookup(&store, "web", "upstream.example"), ["198.51.100.7"]);
    // From another network: neither resolved nor reached.
    assert_eq!(lookup(&store, "stranger", "db"), Vec::<String>::new());
    let (code, _, _) = store.outcome(&[
        "exec",
        "stranger",
        "ping",
        "-c",
        "1",
        "-W",
        "1",
        "10.88.0.2",
    ]);
    assert_ne!(code, 0, "others reached apps");

    // connect: a second interface, working, and the name on that network.
    store.ok(&[
        "network",
        "connect",
        "--alias",
        "primary-db",
        "others",
        "db",
    ]);
    let addrs = store.ok(&["exec", "db", "ip", "-4", "-o", "addr", "show", "eth1"]);
    assert!(addrs.contains("10.89.0.3/24"), "{addrs}");
    assert_eq!(lookup(&store, "stranger", "db"), ["10.89.0.3"]);
    assert_eq!(lookup(&store, "stranger", "primary-db"), ["10.89.0.3"]);
    let ping = store.ok(&["exec", "stranger", "ping", "-c", "1", "-W", "2", "db"]);
    assert!(ping.contains("1 packets received"), "{ping}");
    let v: serde_json::Value = serde_json::from_str(&store.ok(&["inspect", "db"])).unwrap();
    let nets = &v[0]["NetworkSettings"]["Networks"];
    assert_eq!(nets["apps"]["IPAddress"], "10.88.0.2");
    assert_eq!(nets["others"]["IPAddress"], "10.89.0.3");
    assert_eq!(nets["others"]["Aliases"], serde_json::json!(["primary-db"]));
    let (code, _, err) = store.outcome(&["network", "connect", "others", "db"]);
    assert_ne!(code, 0);
    assert!(err.contains("already exists in network others"), "{err}");

    // disconnect: the interface and the name go.
    store.ok(&["network", "disconnect", "others", "db"]);
    let links = store.ok(&["exec", "db", "ip", "-o", "link"]);
    assert!(!links.contains("eth1"), "{links}");
    assert_eq!(lookup(&store, "stranger", "db"), Vec::<String>::new());
    let (code, _, err) = store.outcome(&["network", "disconnect", "others", "db"]);
    assert_ne!(code, 0);
    assert!(err.contains("is not connected to network others"), "{err}");

    // Connected while stopped: joined at the next start, as eth1.
    store.ok(&["stop", "-t", "0", "db"]);
    store.ok(&["network", "connect", "others", "db"]);
    store.ok(&["start", "db"]);
    let addrs = store.ok(&["exec", "db", "ip", "-4", "-o", "addr", "show", "eth1"]);
    assert!(addrs.contains("10.89.0."), "{addrs}");

    // Bad input changes nothing.
    let (code, _, err) = store.outcome(&["network", "connect", "nosuch", "db"]);
    assert_ne!(code, 0);
    assert!(err.contains("network nosuch not found"), "{err}");
    let (code, _, err) =
        store.outcome(&["network", "connect", "--ip", "10.1.1.1", "apps", "stranger"]);
    assert_ne!(code, 0);
    assert!(err.contains("10.1.1.1"), "{err}");
    assert!(
        !store
            .ok(&["exec", "stranger", "ip", "-o", "link"])
            .contains("eth1")
    );

    // Everything gone: the resolvers end with their networks' last
    // container; no veth, no rule, no lease.
    store.ok(&["rm", "-f", "db", "web", "stranger"]);
    // (They linger two seconds, for scripts that run one after another.)
    let deadline = Instant::now() + Duration::from_secs(10);
    while resolvers(&store) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        resolvers(&store),
        0,
        "a resolver outlived its network's containers"
    );
    store.ok(&["network", "rm", "apps", "others"]);
    let links = in_host(&store, &["ip", "-br", "link"]);
    assert!(
        !links.contains("veth") && !links.contains("berth-"),
        "{links}"
    );
    assert_eq!(ruleset(&store).trim(), "");
    store.assert_check_clean();
}

#[test]
fn ip_mac_dns_and_add_host_options() {
    let test = "ip_mac_dns_and_add_host_options";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    if store.busybox("busybox").is_none() {
        return;
    }
    store.ok(&["network", "create", "--subnet", "10.77.0.0/24", "fixed"]);
    let out = store.ok(&[
        "run", "--rm", "--network", "fixed", "--ip", "10.77.0.50", "--mac-address", "92:d0:c6:0a:29:33",
        "--add-host", "db.local:10.77.0.9", "--add-host", "gw:host-gateway", "-h", "probe",
        "busybox", "sh", "-c",
        "ip -4 -o addr show eth0 | awk '{print $4}'; cat /sys/class/net/eth0/address; grep -v -e localhost -e ip6 /etc/hosts; hostname",
    ]);
    assert_eq!(
        out,
        "10.77.0.50/24\n92:d0:c6:0a:29:33\n10.77.0.9\tdb.local\n10.77.0.1\tgw\n10.77.0.50\tprobe\nprobe\n"
    );
    // --dns, --dns-search, --dns-option on the default bridge: resolv.conf.
    let resolv = store.ok(&[
        "run",
        "--rm",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.org",
        "--dns-option",
        "timeout:1",
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ]);
    assert_eq!(
        resolv,
        "search example.org\nnameserver 192.0.2.53\noptions timeout:1\n"
    );
    // Docker's errors for what only user networks have, or bad values.
    for (args, want) in [
        (
            vec!["--ip", "172.17.0.9"],
            "user specified IP address is supported on user defined networks only",
        ),
        (
            vec!["--network-alias", "x1"],
            "network-scoped alias is supported only for containers in user defined networks",
        ),
        (vec!["--network", "fixed", "--ip", "10.78.0.5"], "10.78.0.5"),
        (vec!["--mac-address", "zz:00"], "invalid MAC address: zz:00"),
        (vec!["--add-host", "nocolon"], "bad format for add-host"),
        (vec!["--dns", "not-an-ip"], "not-an-ip is not an ip address"),
    ] {
        let mut all = vec!["run", "--rm"];
        all.extend_from_slice(&args);
        all.extend_from_slice(&["busybox", "true"]);
        let (code, _, err) = store.outcome(&all);
        assert_eq!(code, 125, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // A fixed address in use: the second start fails, the first keeps it.
    sleeper(
        &store,
        "first",
        &["--network", "fixed", "--ip", "10.77.0.60"],
    );
    let (code, _, err) = store.outcome(&[
        "run",
        "-d",
        "--network",
        "fixed",
        "--ip",
        "10.77.0.60",
        "busybox",
        "sleep",
        "5",
    ]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("10.77.0.60") && err.contains("already in use"),
        "{err}"
    );
    store.ok(&["rm", "-f", "first"]);
    remove_all(&store);
    store.ok(&["network", "rm", "fixed"]);
    store.assert_check_clean();
}
