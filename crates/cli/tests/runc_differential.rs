//! Differential tests: the same bundle run by berth-runc and by Debian's runc
//! must look the same from inside (capabilities, no_new_privs, seccomp mode,
//! hostname, ids and maps, rlimits, mounts with their options, cgroups and
//! their limits, /dev, umask, cwd, oom score) and exit with the same code.

mod support;

use support::runc::{Runc, prerequisites};

/// Prints what a process can observe of its container, one fact per line.
const PROBE: &str = r#"
grep -E "^(Cap|NoNewPrivs|Seccomp:)" /proc/self/status
echo host=$(hostname) dom=$(cat /proc/sys/kernel/domainname)
id
echo uidmap: $(cat /proc/self/uid_map) gidmap: $(cat /proc/self/gid_map)
grep -E "open files|processes|core|stack" /proc/self/limits
awk '{ for (i=1;i<=NF;i++) if ($i=="-") { print $5, $(i+1), $6, $(i+3) } }' /proc/self/mountinfo | sort
sort /proc/self/cgroup
ls -la /dev | awk '{print $1, $3, $4, $5, $6, $NF}' | grep -v "^total" | sort -k6
echo umask $(umask) cwd $(pwd)
for f in pids/pids.max memory/memory.limit_in_bytes cpu/cpu.cfs_quota_us cpu/cpu.shares; do echo $f $(cat /sys/fs/cgroup/$f 2>&1); done
echo oom $(cat /proc/self/oom_score_adj)
echo sysctl $(cat /proc/sys/net/ipv4/ip_forward)
touch /probe-write 2>/dev/null && echo rootfs writable || echo rootfs read-only
echo self $$
"#;

/// Runs `config` (a change to the base config) under both runtimes; returns
/// (berth's output and code, runc's output and code).
fn both(
    test: &str,
    change: impl Fn(&mut serde_json::Value),
    exit: &str,
) -> Option<((String, i32), (String, i32))> {
    let berth = Runc::berth(test);
    let runc = Runc::reference(test)?;
    let mut outputs = Vec::new();
    for rt in [&berth, &runc] {
        let mut b = rt.bundle(&["sh", "-c", &format!("{PROBE}\n{exit}")], "d1");
        change(&mut b.config);
        b.save();
        let out = rt.run(&[
            "run",
            "--bundle",
            b.path().to_str().unwrap_or_default(),
            "d1",
        ]);
        let text = String::from_utf8_lossy(&out.stdout).replace(&rt.cgroup_parent, "PARENT");
        outputs.push((
            text,
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    let (b, r) = (&outputs[0], &outputs[1]);
    assert!(
        !b.0.is_empty(),
        "berth-runc printed nothing; stderr: {}",
        b.2
    );
    assert!(!r.0.is_empty(), "runc printed nothing; stderr: {}", r.2);
    Some(((b.0.clone(), b.1), (r.0.clone(), r.1)))
}

fn assert_same(test: &str, change: impl Fn(&mut serde_json::Value), exit: &str) {
    if !prerequisites(test) {
        return;
    }
    let Some(((berth, bcode), (runc, rcode))) = both(test, change, exit) else {
        return;
    };
    let diff: Vec<String> = berth
        .lines()
        .zip(runc.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("  berth: {a}\n  runc:  {b}"))
        .collect();
    assert!(
        diff.is_empty() && berth.lines().count() == runc.lines().count(),
        "{test}: differences\n{}\n--- berth ---\n{berth}\n--- runc ---\n{runc}",
        diff.join("\n")
    );
    assert_eq!(bcode, rcode, "{test}: exit codes");
}

#[test]
fn default_bundle() {
    assert_same("diff_default", |_| {}, "exit 0");
}

#[test]
fn user_groups_umask_cwd_and_exit_code() {
    assert_same(
        "diff_user",
        |c| {
            c["process"]["user"] = serde_json::json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 63});
            c["process"]["cwd"] = "/tmp".into();
        },
        "exit 42",
    );
}

#[test]
fn docker_like_capabilities_rlimits_and_oom_score() {
    let caps = support::DOCKER_CAPS;
    assert_same(
        "diff_caps",
        |c| {
            c["process"]["capabilities"] =
                serde_json::json!({"bounding": caps, "effective": caps, "permitted": caps});
            c["process"]["noNewPrivileges"] = false.into();
            c["process"]["rlimits"] = serde_json::json!([
                {"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 2048},
                {"type": "RLIMIT_NPROC", "hard": 300, "soft": 200},
                {"type": "RLIMIT_CORE", "hard": 0, "soft": 0}
            ]);
            c["process"]["oomScoreAdj"] = 250.into();
        },
        "exit 0",
    );
}

#[test]
fn mounts_readonly_paths_hostname_sysctl_and_cgroup_limits() {
    assert_same(
        "diff_mounts",
        |c| {
            c["root"]["readonly"] = false.into();
            c["hostname"] = "probe-host".into();
            if let Some(m) = c["mounts"].as_array_mut() {
                m.push(serde_json::json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "size=1m", "mode=700"]}));
                m.push(serde_json::json!({"destination": "/hostetc", "type": "bind", "source": "/etc", "options": ["rbind", "ro", "rprivate"]}));
            }
            if let Some(m) = c["linux"]["maskedPaths"].as_array_mut() {
                m.push("/etc/hostname".into())
            }
            if let Some(m) = c["linux"]["readonlyPaths"].as_array_mut() {
                m.push("/usr".into())
            }
            c["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"});
            c["linux"]["resources"]["pids"] = serde_json::json!({"limit": 64});
            c["linux"]["resources"]["memory"] = serde_json::json!({"limit": 67108864});
            c["linux"]["resources"]["cpu"] =
                serde_json::json!({"shares": 512, "quota": 50000, "period": 100000});
        },
        "exit 0",
    );
}

#[test]
fn seccomp_profile() {
    // Deny mkdir with EACCES and chmod with the default EPERM, allow the rest.
    assert_same(
        "diff_seccomp",
        |c| {
            c["linux"]["seccomp"] = serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [
                    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                    {"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
                ]
            });
        },
        "mkdir /tmp/x 2>&1; chmod 600 /etc/passwd 2>&1; exit 5",
    );
}
