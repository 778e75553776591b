//! Differential, table-driven: every flag of docker's network commands
//! (network create/connect/disconnect/inspect/ls/prune/rm), each passed by
//! a case run by the docker CLI v28 against a private dockerd and by
//! berth, both in a network namespace the test made (documentation-range
//! subnets; no packet leaves it). The docker side runs first and removes
//! what it made. As in the other `*_commands_vs_docker.rs`, a flag no case
//! passes fails the test unless listed with the reason. Root only; needs
//! dockerd and nftables.

mod support;

use support::Store;
use support::differential::{Cli, Step, assert_same};
use support::docker_flags::{Recorder, assert_every_flag_compared};
use support::dockerd::Dockerd;
use support::net_world::{in_host, prerequisites};
use support::normalise::{normalise, sorted_lines};

const SCOPE: &[&str] = &[
    "network create",
    "network connect",
    "network disconnect",
    "network inspect",
    "network ls",
    "network prune",
    "network rm",
];

/// Flags of SCOPE no case passes, with the reason.
const NOT_COMPARED: &[(&str, &str, &str)] = &[];

/// Cases where berth differs on purpose, with the reason; what berth does
/// instead is asserted in `check_different`.
const DELIBERATELY_DIFFERENT: &[(&str, &str)] = &[
    (
        "create mtu",
        "berth's bridge driver takes com.docker.network.bridge.name only; other driver options (mtu, enable_icc, enable_ip_masquerade, host_binding_ipv4) are refused with that reason, not ignored",
    ),
    ("rm mtu", "as above: there is no such network"),
];

fn check_different(name: &str, (_, code): &Step) {
    match name {
        "create mtu" | "rm mtu" => assert_eq!(*code, 1, "{name}"),
        _ => panic!("{name}: no check for this difference"),
    }
}

/// A normalised step; a failure's stderr goes to the test's output.
fn s(cli: &dyn Cli, args: &[&str]) -> Step {
    let out = cli.run(args);
    let code = out.status.code().unwrap_or(-1);
    if code != 0 {
        eprintln!(
            "  {args:?} -> {code}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    (normalise(&String::from_utf8_lossy(&out.stdout)), code)
}

fn code(cli: &dyn Cli, args: &[&str]) -> Step {
    (String::new(), s(cli, args).1)
}

fn sorted(cli: &dyn Cli, args: &[&str]) -> Step {
    let (out, code) = s(cli, args);
    (sorted_lines(&out), code)
}

fn cases(cli: &dyn Cli) -> Vec<(String, Step)> {
    let mut log: Vec<(String, Step)> = Vec::new();
    let mut add = |name: &str, s: Step| {
        eprintln!("case done: {name}");
        log.push((name.to_string(), s))
    };
    let inspect = |name: &str, format: &str| s(cli, &["network", "inspect", "-f", format, name]);

    add(
        "create",
        code(
            cli,
            &[
                "network",
                "create",
                "-d",
                "bridge",
                "--subnet",
                "192.0.2.0/24",
                "--gateway",
                "192.0.2.254",
                "--ip-range",
                "192.0.2.128/25",
                "--label",
                "env=test",
                "-o",
                "com.docker.network.bridge.name=br-test-na",
                "--attachable",
                "na",
            ],
        ),
    );
    add(
        "created",
        inspect(
            "na",
            "{{.Name}} {{.Driver}} {{.Attachable}} {{.Internal}} {{.EnableIPv6}} {{json .Labels}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{.IPRange}}{{end}}",
        ),
    );
    add(
        "create internal",
        code(
            cli,
            &[
                "network",
                "create",
                "--driver",
                "bridge",
                "--internal",
                "--subnet",
                "198.51.100.0/24",
                "--opt",
                "com.docker.network.bridge.name=br-test-nb",
                "nb",
            ],
        ),
    );
    add(
        "created internal",
        inspect("nb", "{{.Internal}} {{json .Options}}"),
    );
    add(
        "create mtu",
        code(
            cli,
            &[
                "network",
                "create",
                "--opt",
                "com.docker.network.driver.mtu=1400",
                "nmtu",
            ],
        ),
    );
    add("rm mtu", code(cli, &["network", "rm", "nmtu"]));
    add(
        "create ipv6",
        code(
            cli,
            &[
                "network",
                "create",
                "--ipv6",
                "--subnet",
                "203.0.113.0/24",
                "nc",
            ],
        ),
    );
    add(
        "create bad subnet",
        code(
            cli,
            &["network", "create", "--subnet", "300.0.0.0/24", "nd"],
        ),
    );
    add(
        "create overlapping",
        code(
            cli,
            &["network", "create", "--subnet", "192.0.2.0/25", "ne"],
        ),
    );
    add(
        "create bad driver",
        code(cli, &["network", "create", "-d", "nosuch", "nf"]),
    );
    add("create duplicate", code(cli, &["network", "create", "na"]));

    add(
        "ls",
        sorted(
            cli,
            &[
                "network",
                "ls",
                "--format",
                "{{.Name}} {{.Driver}} {{.Scope}}",
            ],
        ),
    );
    add(
        "ls -q",
        s(cli, &["network", "ls", "-q", "--filter", "name=na"]),
    );
    add(
        "ls --quiet --no-trunc",
        s(
            cli,
            &[
                "network",
                "ls",
                "--quiet",
                "--no-trunc",
                "--filter",
                "label=env=test",
            ],
        ),
    );
    add(
        "ls -f driver",
        sorted(
            cli,
            &[
                "network",
                "ls",
                "-f",
                "driver=bridge",
                "--format",
                "{{.Name}}",
            ],
        ),
    );
    add(
        "ls --filter type",
        sorted(
            cli,
            &[
                "network",
                "ls",
                "--filter",
                "type=custom",
                "--format",
                "{{.Name}}",
            ],
        ),
    );
    add(
        "ls table",
        s(
            cli,
            &[
                "network",
                "ls",
                "--filter",
                "name=nb",
                "--format",
                "table {{.Name}}\t{{.Driver}}",
            ],
        ),
    );
    add(
        "ls bad filter",
        code(cli, &["network", "ls", "--filter", "bogus=1"]),
    );
    add(
        "inspect --format",
        s(
            cli,
            &["network", "inspect", "--format", "{{.Scope}}", "na", "nb"],
        ),
    );
    add(
        "inspect of nothing",
        code(cli, &["network", "inspect", "nosuch"]),
    );

    add(
        "run c1",
        code(
            cli,
            &[
                "run",
                "-d",
                "--network",
                "none",
                "--name",
                "c1",
                "busybox",
                "sleep",
                "100",
            ],
        ),
    );
    add(
        "connect to none-networked",
        code(cli, &["network", "connect", "na", "c1"]),
    );
    add(
        "run c2",
        code(
            cli,
            &["run", "-d", "--name", "c2", "busybox", "sleep", "100"],
        ),
    );
    add(
        "connect --ip --alias",
        code(
            cli,
            &[
                "network",
                "connect",
                "--ip",
                "192.0.2.200",
                "--alias",
                "two",
                "na",
                "c2",
            ],
        ),
    );
    add(
        "connected",
        s(
            cli,
            &[
                "exec",
                "c2",
                "sh",
                "-c",
                "ip -4 -o addr show eth1 | awk '{print $4}'",
            ],
        ),
    );
    add(
        "aliases",
        inspect(
            "na",
            "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
        ),
    );
    add(
        "connect again",
        code(cli, &["network", "connect", "na", "c2"]),
    );
    add(
        "disconnect",
        code(cli, &["network", "disconnect", "na", "c2"]),
    );
    add(
        "disconnected",
        s(
            cli,
            &["exec", "c2", "sh", "-c", "ls /sys/class/net | grep -c eth"],
        ),
    );
    add(
        "disconnect not connected",
        code(cli, &["network", "disconnect", "na", "c2"]),
    );
    add(
        "disconnect -f",
        code(cli, &["network", "disconnect", "-f", "na", "c2"]),
    );
    add(
        "connect for force",
        code(cli, &["network", "connect", "na", "c2"]),
    );
    add(
        "disconnect --force",
        code(cli, &["network", "disconnect", "--force", "na", "c2"]),
    );

    add("rm in use", code(cli, &["network", "connect", "nb", "c2"]));
    add("rm a used network", code(cli, &["network", "rm", "nb"]));
    add(
        "rm -f nothing",
        code(cli, &["network", "rm", "-f", "nosuch"]),
    );
    add(
        "rm --force nothing",
        code(cli, &["network", "rm", "--force", "nosuch"]),
    );
    add("rm c2", code(cli, &["rm", "-f", "c1", "c2"]));
    add("rm", s(cli, &["network", "rm", "nb"]));
    add(
        "prune --filter",
        s(cli, &["network", "prune", "-f", "--filter", "label=nosuch"]),
    );
    add(
        "prune --filter until",
        s(
            cli,
            &[
                "network",
                "prune",
                "--force",
                "--filter",
                "until=2000-01-01T00:00:00",
            ],
        ),
    );
    add("prune", s(cli, &["network", "prune", "-f"]));
    add(
        "left",
        sorted(cli, &["network", "ls", "--format", "{{.Name}}"]),
    );
    log
}

#[test]
fn network_commands_behave_as_in_docker() {
    let test = "network_commands_behave_as_in_docker";
    if !prerequisites(test) {
        return;
    }
    let store = Store::with_host_netns();
    let host_ns = store.host_netns.as_ref().unwrap();
    in_host(&store, &["ip", "link", "set", "lo", "up"]);
    let Some(docker) = Dockerd::start_networked(test, &host_ns.path()) else {
        return;
    };
    let Some(tar) = support::busybox_tar() else {
        return;
    };
    store.busybox("busybox").unwrap();
    let import = docker.command(&["import", "-c", "CMD [\"sh\"]", "-", "busybox"]);
    assert!(support::run_with_stdin(import, &tar).status.success());

    let theirs = cases(&docker);
    let recorder = Recorder::new(&store);
    let ours = cases(&recorder);
    assert_same(
        "network commands",
        &theirs,
        &ours,
        DELIBERATELY_DIFFERENT,
        check_different,
    );
    assert_every_flag_compared(test, SCOPE, &recorder.lines(), NOT_COMPARED);
    store.assert_check_clean();
}
