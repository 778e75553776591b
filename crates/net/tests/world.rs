//! berth-net in a world of its own: a network namespace that plays the host
//! (bridge, NAT, published ports), namespaces that play containers on its
//! bridge, and one that plays another machine on the "outside", joined to
//! the host by a veth pair with documentation addresses (198.51.100.0/24).
//! Nothing here touches the real host's interfaces, rules or sysctls, and
//! no packet goes anywhere but these namespaces. Root only.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use berth_net::nft::{Network, Port, Protocol, Ruleset};
use berth_net::{NetNs, Rtnl, addr, link, route, sysctl};

fn root_or_fail(test: &str) -> bool {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED {test}: network namespaces need root");
        assert!(
            std::env::var_os("BERTH_REQUIRE_ALL").is_none(),
            "{test}: needs root (BERTH_REQUIRE_ALL is set)"
        );
        return false;
    }
    for tool in ["unshare", "nsenter", "nft", "python3"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
        assert!(
            found,
            "{test}: {tool} is missing (apt-get install util-linux nftables python3)"
        );
    }
    true
}

/// A process alone in a new network namespace: the namespace lives as long
/// as it does.
struct Machine {
    child: Child,
}

impl Machine {
    fn new() -> Machine {
        let child = Command::new("unshare")
            .args(["--net", "sleep", "1000"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        // Dropped (killed and reaped) whatever happens next.
        let machine = Machine { child };
        let me = std::fs::read_link("/proc/self/ns/net").unwrap();
        for _ in 0..200 {
            let theirs = std::fs::read_link(format!("/proc/{}/ns/net", machine.child.id()));
            if theirs.is_ok_and(|l| l != me) {
                return machine;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("unshare --net did not make a namespace");
    }

    fn ns(&self) -> NetNs {
        NetNs::open(Path::new(&format!("/proc/{}/ns/net", self.child.id()))).unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/proc/{}/ns/net", self.child.id()))
            .args(args);
        c
    }

    /// A TCP server on addr:port answering each connection with the peer's
    /// address.
    fn serve(&self, addr: &str, port: u16) -> Child {
        const SERVER: &str = "import socket,sys\n\
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
s.bind((sys.argv[1],int(sys.argv[2]))); s.listen(16)\n\
while True:\n  c,a=s.accept(); c.sendall((a[0]+'\\n').encode()); c.close()\n";
        self.command(&["python3", "-c", SERVER, addr, &port.to_string()])
            .stdin(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Connects to addr:port and returns what the server said (who it saw),
    /// retrying while the server starts.
    fn ask(&self, addr: &str, port: u16) -> Result<String, String> {
        const CLIENT: &str = "import socket,sys\n\
s=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=3)\n\
print(s.recv(100).decode().strip())\n";
        let mut last = String::new();
        for _ in 0..30 {
            let out: Output = self
                .command(&["python3", "-c", CLIENT, addr, &port.to_string()])
                .output()
                .unwrap();
            if out.status.success() {
                return Ok(String::from_utf8_lossy(&out.stdout).trim().to_string());
            }
            last = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if last.contains("timed out") {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(last)
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// lo up in the calling thread's namespace.
fn loopback_up(rtnl: &mut Rtnl) {
    let lo = link::index_of(rtnl, "lo").unwrap().unwrap();
    link::set_up(rtnl, lo).unwrap();
}

const BRIDGE: &str = "berth-t0";

/// The host, another machine on its uplink, and two containers on its
/// bridge (172.31.250.2 and .3).
struct World {
    host: Machine,
    remote: Machine,
    containers: Vec<Machine>,
}

fn build_world() -> World {
    let host = Machine::new();
    let remote = Machine::new();
    let containers = vec![Machine::new(), Machine::new()];
    let remote_ns = remote.ns();
    host.ns()
        .within(|| {
            // A new namespace copies the real host's ip_forward: this host
            // starts as a fresh machine does, not forwarding.
            sysctl::write("net.ipv4.ip_forward", "0")?;
            let mut rtnl = Rtnl::open()?;
            loopback_up(&mut rtnl);
            let up = link::create_veth(&mut rtnl, "uplink", "eth0", &remote_ns, None)?;
            addr::add(&mut rtnl, up, "198.51.100.1".parse().unwrap(), 24)?;
            link::set_up(&mut rtnl, up)?;
            let br = link::create_bridge(
                &mut rtnl,
                BRIDGE,
                Some([0x02, 0x42, 0xac, 0x1f, 0xfa, 0x01]),
            )?;
            addr::add(&mut rtnl, br, "172.31.250.1".parse().unwrap(), 24)?;
            link::set_up(&mut rtnl, br)?;
            Ok(())
        })
        .unwrap();
    remote
        .ns()
        .within(|| {
            let mut rtnl = Rtnl::open()?;
            loopback_up(&mut rtnl);
            let eth0 = link::index_of(&mut rtnl, "eth0")?.unwrap();
            addr::add(&mut rtnl, eth0, "198.51.100.2".parse().unwrap(), 24)?;
            link::set_up(&mut rtnl, eth0)?;
            Ok(())
        })
        .unwrap();
    for (i, c) in containers.iter().enumerate() {
        let ns = c.ns();
        let n = i as u8 + 2;
        host.ns()
            .within(|| {
                let mut rtnl = Rtnl::open()?;
                let br = link::index_of(&mut rtnl, BRIDGE)?.unwrap();
                let veth = link::create_veth(
                    &mut rtnl,
                    &format!("vethc{n}"),
                    "eth0",
                    &ns,
                    Some([0x02, 0x42, 0xac, 0x1f, 0xfa, n]),
                )?;
                link::set_controller(&mut rtnl, veth, br)?;
                link::set_up(&mut rtnl, veth)?;
                Ok(())
            })
            .unwrap();
        ns.within(|| {
            let mut rtnl = Rtnl::open()?;
            loopback_up(&mut rtnl);
            let eth0 = link::index_of(&mut rtnl, "eth0")?.unwrap();
            addr::add(&mut rtnl, eth0, Ipv4Addr::new(172, 31, 250, n).into(), 24)?;
            link::set_up(&mut rtnl, eth0)?;
            route::add_default_v4(&mut rtnl, Ipv4Addr::new(172, 31, 250, 1))?;
            Ok(())
        })
        .unwrap();
    }
    World {
        host,
        remote,
        containers,
    }
}

#[test]
fn nat_out_published_ports_in_and_the_bridge_between() {
    let test = "nat_out_published_ports_in_and_the_bridge_between";
    if !root_or_fail(test) {
        return;
    }
    let w = build_world();
    let host_ns = w.host.ns();
    // The links are where they should be.
    let links = host_ns.within(|| link::list(&mut Rtnl::open()?)).unwrap();
    let bridge = links.iter().find(|l| l.name == BRIDGE).unwrap();
    assert_eq!(bridge.kind.as_deref(), Some("bridge"));
    assert_eq!(bridge.mac, Some([0x02, 0x42, 0xac, 0x1f, 0xfa, 0x01]));
    for n in [2, 3] {
        let veth = links
            .iter()
            .find(|l| l.name == format!("vethc{n}"))
            .unwrap();
        assert_eq!(veth.controller, Some(bridge.index));
        assert!(veth.up);
    }
    let c_links = w.containers[0]
        .ns()
        .within(|| link::list(&mut Rtnl::open()?))
        .unwrap();
    let eth0 = c_links.iter().find(|l| l.name == "eth0").unwrap();
    assert_eq!(eth0.mac, Some([0x02, 0x42, 0xac, 0x1f, 0xfa, 2]));

    // Before the rules: the host does not forward.
    let forward_before = host_ns
        .within(|| sysctl::read("net.ipv4.ip_forward"))
        .unwrap();
    assert_eq!(forward_before, "0");
    let _remote_server = Server(w.remote.serve("198.51.100.2", 9000));
    assert!(
        w.containers[0].ask("198.51.100.2", 9000).is_err(),
        "no way out before forwarding is on"
    );

    let rules = Ruleset {
        networks: vec![Network {
            bridge: BRIDGE.into(),
            subnet: Ipv4Addr::new(172, 31, 250, 0),
            prefix: 24,
            internal: false,
        }],
        ports: vec![Port {
            protocol: Protocol::Tcp,
            host_ip: None,
            host_port: 8080,
            container_ip: Ipv4Addr::new(172, 31, 250, 2),
            container_port: 80,
            bridge: BRIDGE.into(),
        }],
    };
    host_ns
        .within(|| {
            sysctl::write("net.ipv4.ip_forward", "1")?;
            sysctl::write(&format!("net.ipv4.conf.{BRIDGE}.route_localnet"), "1")?;
            rules.apply()
        })
        .unwrap();

    // Outbound through NAT: the other machine sees the host's address.
    assert_eq!(
        w.containers[0].ask("198.51.100.2", 9000).unwrap(),
        "198.51.100.1"
    );
    // Inbound to the published port, from the other machine (its own
    // address is kept), from the host's 127.0.0.1, and from the other
    // container.
    let _c1_server = Server(w.containers[0].serve("0.0.0.0", 80));
    assert_eq!(w.remote.ask("198.51.100.1", 8080).unwrap(), "198.51.100.2");
    assert_eq!(w.host.ask("127.0.0.1", 8080).unwrap(), "172.31.250.1");
    // (Masqueraded to the gateway: the answer must come back through the
    // host to be un-DNAT'd, whether or not br_netfilter shows bridged
    // frames to conntrack.)
    assert_eq!(
        w.containers[1].ask("198.51.100.1", 8080).unwrap(),
        "172.31.250.1"
    );
    // Containers on one bridge reach each other directly.
    assert_eq!(
        w.containers[1].ask("172.31.250.2", 80).unwrap(),
        "172.31.250.3"
    );

    // An internal network has no way out.
    let internal = Ruleset {
        networks: vec![Network {
            internal: true,
            ..rules.networks[0].clone()
        }],
        ports: vec![],
    };
    host_ns.within(|| internal.apply()).unwrap();
    assert!(w.containers[0].ask("198.51.100.2", 9000).is_err());
    assert_eq!(
        w.containers[1].ask("172.31.250.2", 80).unwrap(),
        "172.31.250.3"
    );

    // Teardown: berth's table and links go, nothing else was there.
    host_ns
        .within(|| {
            berth_net::nft::remove()?;
            let mut rtnl = Rtnl::open()?;
            for name in ["vethc2", "vethc3", BRIDGE] {
                let i = link::index_of(&mut rtnl, name)?.unwrap();
                link::delete(&mut rtnl, i)?;
            }
            Ok(())
        })
        .unwrap();
    let left = host_ns.within(|| link::list(&mut Rtnl::open()?)).unwrap();
    let names: Vec<&str> = left.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["lo", "uplink"]);
    let tables = w.host.command(&["nft", "list", "tables"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&tables.stdout).trim(), "");
}

#[test]
fn errors_name_the_operation_and_keep_the_errno() {
    let test = "errors_name_the_operation_and_keep_the_errno";
    if !root_or_fail(test) {
        return;
    }
    let m = Machine::new();
    let err = m
        .ns()
        .within(|| {
            let mut rtnl = Rtnl::open()?;
            link::create_bridge(&mut rtnl, "berth-dup", None)?;
            link::create_bridge(&mut rtnl, "berth-dup", None)
        })
        .unwrap_err();
    assert_eq!(err.errno(), Some(libc::EEXIST));
    assert_eq!(
        err.to_string(),
        "create bridge berth-dup: File exists (os error 17)"
    );
    let err = m
        .ns()
        .within(|| link::delete(&mut Rtnl::open()?, 999_999))
        .unwrap_err();
    assert_eq!(err.errno(), Some(libc::ENODEV), "{err}");
    // A bad rule: nft's own words, and the old table stays.
    let bad = Ruleset {
        networks: vec![Network {
            bridge: "bad\"name".into(),
            subnet: Ipv4Addr::new(10, 0, 0, 0),
            prefix: 40,
            internal: false,
        }],
        ports: vec![],
    };
    let err = m.ns().within(|| bad.apply()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("replace berth's nftables table: nft:"),
        "{err}"
    );
    // Whatever this thread's namespace is, the test's own did not change.
    assert_ne!(
        m.ns().id().unwrap(),
        NetNs::current().unwrap().id().unwrap()
    );
}
