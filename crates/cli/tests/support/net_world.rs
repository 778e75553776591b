//! Worlds for networking tests: a store whose berth runs in a network
//! namespace that plays the host, and namespaces that play other machines
//! on its uplink. Nothing here touches the real host's interfaces, rules
//! or sysctls, and no packet leaves the namespaces a test made.

use super::{HostNetns, Store, is_root, skip};

pub fn prerequisites(test: &str) -> bool {
    if !is_root() {
        skip(test, "networks need root (bridges, nftables)");
        return false;
    }
    for tool in ["unshare", "nsenter", "nft", "ip", "python3"] {
        assert!(
            super::runc::have(tool),
            "{test}: {tool} is missing (apt-get install util-linux nftables iproute2 python3)"
        );
    }
    true
}

/// `args` run in the store's host namespace: stdout.
pub fn in_host(store: &Store, args: &[&str]) -> String {
    let out = store
        .host_netns
        .as_ref()
        .unwrap()
        .command(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn ruleset(store: &Store) -> String {
    in_host(store, &["nft", "list", "ruleset"])
}

/// Another machine on the host's uplink: a namespace joined to the store's
/// host namespace by a veth pair, 198.51.100.1 (host) and .2 (it), with a
/// TCP server on port 9000 that answers each connection with the address
/// it saw.
pub struct OtherMachine {
    pub ns: HostNetns,
    server: std::process::Child,
    dns: Option<std::process::Child>,
}

/// A DNS server for the other machine: `upstream.example` is 198.51.100.7,
/// every other name NXDOMAIN. (Replies built by hand: the test's own
/// stand-in for an upstream resolver.)
const DNS_SERVER: &str = concat!(
    "import socket, struct\n",
    "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n",
    "s.bind(('198.51.100.2', 53)); print('ready', flush=True)\n",
    "while True:\n",
    "  q, a = s.recvfrom(512)\n",
    "  i, labels = 12, []\n",
    "  while q[i]:\n",
    "    labels.append(q[i+1:i+1+q[i]].decode().lower()); i += 1 + q[i]\n",
    "  question = q[12:i+5]\n",
    "  qtype = struct.unpack('>H', q[i+1:i+3])[0]\n",
    "  known = '.'.join(labels) == 'upstream.example'\n",
    "  answers = struct.pack('>HHHIH4s', 0xc00c, 1, 1, 60, 4, socket.inet_aton('198.51.100.7')) if known and qtype == 1 else b''\n",
    "  flags = 0x8180 if known else 0x8183\n",
    "  s.sendto(q[:2] + struct.pack('>HHHHH', flags, 1, 1 if answers else 0, 0, 0) + question + answers, a)\n",
);

impl OtherMachine {
    pub fn new(store: &Store) -> OtherMachine {
        let ns = HostNetns::new();
        let host = store.host_netns.as_ref().unwrap();
        let pid = ns.pid().to_string();
        let run = |mut c: std::process::Command| {
            let out = c.output().unwrap();
            assert!(
                out.status.success(),
                "{c:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(host.command(&[
            "ip", "link", "add", "uplink", "type", "veth", "peer", "name", "eth0", "netns", &pid,
        ]));
        run(host.command(&["ip", "addr", "add", "198.51.100.1/24", "dev", "uplink"]));
        run(host.command(&["ip", "link", "set", "uplink", "up"]));
        run(ns.command(&["ip", "addr", "add", "198.51.100.2/24", "dev", "eth0"]));
        run(ns.command(&["ip", "link", "set", "eth0", "up"]));
        run(ns.command(&["ip", "link", "set", "lo", "up"]));
        const SERVER: &str = "import socket\n\
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
s.bind(('198.51.100.2',9000)); s.listen(16); print('ready')\n\
while True:\n  c,a=s.accept(); c.sendall((a[0]+'\\n').encode()); c.close()\n";
        // It says when it listens: a test's first connection must not race it.
        let server = spawn_ready(&ns, SERVER, "server");
        OtherMachine {
            ns,
            server,
            dns: None,
        }
    }
}

impl OtherMachine {
    /// Starts its DNS server on 198.51.100.2:53 (see `DNS_SERVER`).
    pub fn serve_dns(&mut self) {
        let dns = spawn_ready(&self.ns, DNS_SERVER, "DNS server");
        self.dns = Some(dns);
    }
}

/// A python3 `script` run in `ns` that prints "ready" once it listens.
fn spawn_ready(ns: &HostNetns, script: &str, what: &str) -> std::process::Child {
    let mut child = ns
        .command(&["python3", "-u", "-c", script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready, "ready\n", "the other machine's {what} did not start");
    child
}

/// `rm -f` of every container the store has.
pub fn remove_all(store: &Store) {
    let ids = store.ok(&["ps", "-aq"]);
    if !ids.trim().is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids.lines());
        store.ok(&args);
    }
}

/// The host's links once no veth is left (a killed container's pair goes
/// with its namespace, on the kernel's work queue): up to 5 s.
pub fn links_without_veths(store: &Store) -> String {
    let mut links = String::new();
    for _ in 0..50 {
        links = in_host(store, &["ip", "-br", "link"]);
        if !links.contains("veth") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    links
}

impl Drop for OtherMachine {
    fn drop(&mut self) {
        if let Some(dns) = &mut self.dns {
            let _ = dns.kill();
            let _ = dns.wait();
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = &self.ns;
    }
}

impl OtherMachine {
    /// An HTTP GET from this machine: the body, or the error.
    pub fn get(&self, url: &str) -> Result<String, String> {
        http_get(self.ns.command(&[]), url, 15)
    }
}

/// An HTTP GET by python3 run through `nsenter` (`cmd` names the
/// namespace): the body, or the error. `tries` 0.2 s apart, each with a
/// 2 s timeout.
pub fn http_get(mut cmd: std::process::Command, url: &str, tries: u32) -> Result<String, String> {
    // (Indentation after each \n: a string continuation would eat it.)
    const GET: &str = concat!(
        "import sys, time, urllib.request\n",
        "for i in range(int(sys.argv[2])):\n",
        "  try:\n",
        "    sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode()); sys.exit(0)\n",
        "  except Exception as e:\n",
        "    err = e; time.sleep(0.2)\n",
        "sys.stderr.write(str(err)); sys.exit(1)\n",
    );
    let out = cmd
        .args(["python3", "-c", GET, url, &tries.to_string()])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A GET from the store's host namespace.
pub fn host_get(store: &Store, url: &str, tries: u32) -> Result<String, String> {
    http_get(store.host_netns.as_ref().unwrap().command(&[]), url, tries)
}
