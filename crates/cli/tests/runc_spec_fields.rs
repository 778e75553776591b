//! The generalised differential test: bundles made as a generic generator
//! makes them (`runc spec` and `berth-runc spec`), changed one config.json
//! field at a time, run by Debian's runc and by berth-runc side by side.
//!
//! Where runc creates and starts the container, berth-runc must too, and
//! the process must see the same (namespaces, ids, capabilities, seccomp,
//! limits, mounts and their options, cgroups and their limits, /dev,
//! sysctls) and exit the same way. Where runc refuses, berth-runc must
//! refuse with a message. The few places where berth-runc runs what runc
//! 1.1 refuses are listed with the reason (runc 1.2 runs them too).

#[path = "runc_spec_fields/cases.rs"]
mod cases;
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use cases::{Case, Ctx, cases};
use serde_json::{Value, json};
use support::runc::{Bundle, Runc, prerequisites};

/// What the process sees of its container, one fact per line. Sections a
/// case cannot compare (the host's own mounts without a mount namespace,
/// the host's pids without a pid namespace) are named in PROBE_SKIP.
const PROBE: &str = r#"
skip() { case " $PROBE_SKIP " in *" $1 "*) return 0;; esac; return 1; }
for ns in cgroup ipc mnt net pid user uts; do
  own=$(readlink /proc/self/ns/$ns)
  case " $HOST_NS " in *" $ns:$own "*) echo "ns $ns host";; *) echo "ns $ns own";; esac
done
grep -E "^(Cap|NoNewPrivs|Seccomp:)" /proc/self/status
echo host=$(hostname) dom=$(cat /proc/sys/kernel/domainname) arch=$(uname -m)
id
echo uidmap: $(cat /proc/self/uid_map) gidmap: $(cat /proc/self/gid_map)
grep -E "open files|processes|core|stack|locked" /proc/self/limits
skip mounts || awk '{ for (i=1;i<=NF;i++) if ($i=="-") { print $5, $(i+1), $6, $(i+3) } }' /proc/self/mountinfo | sort
skip mounts || awk '{print $5, $7}' /proc/self/mountinfo | grep -E "^/ " | sed 's/:[0-9]*//'
skip cgroups || sort /proc/self/cgroup
ls -la /dev | awk '{print $1, $3, $4, $5, $6, $NF}' | grep -v "^total" | sort -k6
echo umask $(umask) cwd $(pwd)
for f in pids/pids.max memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes cpu/cpu.cfs_quota_us cpu/cpu.cfs_burst_us cpu/cpu.shares cpuset/cpuset.cpus blkio/blkio.weight blkio/blkio.throttle.read_bps_device blkio/blkio.throttle.write_iops_device net_cls/net_cls.classid; do
  skip cgroups || echo $f $(cat /sys/fs/cgroup/$f 2>&1)
done
echo oom $(cat /proc/self/oom_score_adj) io $(ionice 2>&1)
skip net || echo net $(awk 'NR>2 {print $1}' /proc/net/dev) fwd $(cat /proc/sys/net/ipv4/ip_forward)
echo shmmax $(cat /proc/sys/kernel/shmmax) msgmax $(cat /proc/sys/fs/mqueue/msg_max)
touch /probe-write 2>/dev/null && echo rootfs writable || echo rootfs read-only
mkdir /dev/shm/probe-dir 2>&1; echo mkdir=$?
skip pid || echo self $$
echo end
"#;

/// The host's namespaces as the probe prints them (`net:net:[4026531840]`).
fn host_namespaces() -> String {
    ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"]
        .iter()
        .map(|ns| {
            let link = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
            format!("{ns}:{}", link.display())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A generator's config (runc's or berth-runc's) for a busybox bundle run
/// by `rt` as `id`.
fn bundle(generator: &Path, rt: &Runc, id: &str) -> Bundle {
    let mut b = rt.bundle(&["sh", "-c", PROBE], id);
    let spec_dir = tempfile::tempdir().unwrap();
    let out = Command::new(generator)
        .args(["spec", "--bundle"])
        .arg(spec_dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} spec: {out:?}",
        generator.display()
    );
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(spec_dir.path().join("config.json")).unwrap())
            .unwrap();
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = json!(["sh", "-c", PROBE]);
    config["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(format!("HOST_NS={}", host_namespaces()).into());
    config["linux"]["cgroupsPath"] = b.config["linux"]["cgroupsPath"].clone();
    b.config = config;
    b
}

/// A process in its own network, UTS and IPC namespaces, for cases that
/// join namespaces by path.
struct Helper(Child);

impl Helper {
    fn start() -> Helper {
        let child = Command::new("unshare")
            .args(["--net", "--uts", "--ipc", "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare (util-linux)");
        // Until it is in its own namespaces.
        let me = std::fs::read_link("/proc/self/ns/net").unwrap();
        for _ in 0..200 {
            if std::fs::read_link(format!("/proc/{}/ns/net", child.id())).is_ok_and(|l| l != me) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Helper(child)
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (exit code, stdout normalised, stderr).
fn run_case(rt: &Runc, generator: &Path, c: &Case, id: &str, helper: u32) -> (i32, String, String) {
    let mut b = bundle(generator, rt, id);
    let bundle_dir: PathBuf = b.path().to_path_buf();
    (c.change)(
        &mut b.config,
        &Ctx {
            bundle: &bundle_dir,
            helper,
        },
    );
    b.save();
    let out = rt.run(&["run", "--bundle", bundle_dir.to_str().unwrap(), id]);
    let _ = rt.run(&["delete", "--force", id]);
    let hook = std::fs::read_to_string(bundle_dir.join("hook")).ok();
    let mut text = String::from_utf8_lossy(&out.stdout)
        .replace(&rt.cgroup_parent, "PARENT")
        .replace(bundle_dir.to_str().unwrap(), "BUNDLE");
    if let Some(state) = hook {
        // The state a host-side hook read: its status and that it named
        // this container.
        let state: Value = serde_json::from_str(&state).unwrap_or_default();
        text.push_str(&format!(
            "hook saw status={} id-matches={}\n",
            state["status"],
            state["id"] == id
        ));
    }
    (
        out.status.code().unwrap_or(-1),
        text,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn generated_configs_field_by_field_as_runc() {
    let test = "generated_configs_field_by_field_as_runc";
    if !prerequisites(test) {
        return;
    }
    let berth = Runc::berth(test);
    let Some(runc) = Runc::reference(test) else {
        return;
    };
    let helper = Helper::start();
    let generators = [PathBuf::from("runc"), support::runc::berth_runc()];
    let cases = cases();
    let mut failures = Vec::new();
    let mut table = Vec::new();
    let mut deviations = Vec::new();
    for generator in &generators {
        let gen_name = generator
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for (i, c) in cases.iter().enumerate() {
            let id = format!("f{i}");
            let theirs = run_case(&runc, generator, c, &id, helper.0.id());
            let ours = run_case(&berth, generator, c, &id, helper.0.id());
            let runc_ran = theirs.1.contains("\nend\n") || theirs.1.starts_with("ns ");
            let berth_ran = ours.1.contains("\nend\n") || ours.1.starts_with("ns ");
            let label = format!("{gen_name} spec | {} | {}", c.field, c.name);
            let differing: Vec<(&str, &str)> = theirs
                .1
                .lines()
                .zip(ours.1.lines())
                .filter(|(a, b)| a != b)
                .collect();
            let same_shape =
                theirs.0 == ours.0 && theirs.1.lines().count() == ours.1.lines().count();
            let verdict = match (runc_ran, berth_ran, &c.deviation) {
                (true, true, _) if same_shape && differing.is_empty() => {
                    "both ran, same view".to_string()
                }
                (true, true, Some(d))
                    if same_shape
                        && differing.iter().all(|(a, b)| {
                            d.lines.iter().any(|p| a.starts_with(p) && b.starts_with(p))
                        }) =>
                {
                    deviations.push(format!("{label}: {}", d.why));
                    format!("both ran; deliberately different: {:?}", differing)
                }
                (true, true, _) => {
                    let diff: Vec<String> = differing
                        .iter()
                        .map(|(a, b)| format!("    runc:  {a}\n    berth: {b}"))
                        .collect();
                    failures.push(format!(
                        "{label}: different views (exit {} vs {})\n{}\n    ({} vs {} lines)",
                        theirs.0,
                        ours.0,
                        diff.join("\n"),
                        theirs.1.lines().count(),
                        ours.1.lines().count()
                    ));
                    "DIFFERENT".to_string()
                }
                (true, false, Some(d)) if !ours.2.trim().is_empty() => {
                    deviations.push(format!("{label}: {}", d.why));
                    format!(
                        "berth-runc refuses it (runc 1.1 runs it): {}",
                        ours.2.trim().lines().last().unwrap_or_default()
                    )
                }
                (true, false, _) => {
                    failures.push(format!(
                        "{label}: runc ran it, berth-runc did not: {}",
                        ours.2.trim()
                    ));
                    "BERTH REFUSED".to_string()
                }
                (false, true, Some(d)) => {
                    deviations.push(format!("{label}: {}", d.why));
                    "berth-runc runs it (runc 1.1 refuses)".to_string()
                }
                (false, true, None) => {
                    failures.push(format!(
                        "{label}: runc refused ({}), berth-runc ran it",
                        theirs.2.trim()
                    ));
                    "BERTH RAN".to_string()
                }
                (false, false, _) => {
                    let said = ours.2.trim();
                    if ours.0 == 0 || said.is_empty() || said.contains("panicked") {
                        failures.push(format!("{label}: berth-runc refused without a clear message (exit {}): {said:?}", ours.0));
                        "UNCLEAR REFUSAL".to_string()
                    } else {
                        format!(
                            "both refuse; berth-runc: {}",
                            said.lines().last().unwrap_or_default()
                        )
                    }
                }
            };
            table.push(format!("{label} | {verdict}"));
        }
    }
    let fields: BTreeSet<&str> = cases.iter().map(|c| c.field).collect();
    eprintln!("{}", table.join("\n"));
    for d in &deviations {
        eprintln!("deviation: {d}");
    }
    eprintln!(
        "{} config.json fields, {} cases, {} bundles per runtime (runc spec and berth-runc spec)",
        fields.len(),
        cases.len(),
        cases.len() * generators.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences from runc:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
