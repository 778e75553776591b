//! cgroup v2 on a real v2 kernel: this host is v1 (hybrid), so the test boots
//! Debian's kernel under qemu (TCG) with an initramfs holding berth, busybox
//! and the bundles, and runs the v2 checks there: an OOM kill under a memory
//! limit, the pids limit, cpu weight and quota, the device BPF program denying
//! /dev/mem, the freezer, and the cgroup namespace.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::runc::{berth_runc, have};

/// The guest's /init: the initramfs root cannot be pivoted away from, so
/// copy everything into a tmpfs and switch_root there first.
const GUEST_STAGE1: &str = r#"#!/bin/busybox sh
/bin/busybox mkdir -p /newroot
/bin/busybox mount -t tmpfs -o size=700m root /newroot
for d in bin berth berth-runc bundles rootfs lib lib64 stage2 busybox.tar overlay.ko brd.ko; do /bin/busybox cp -a /$d /newroot/; done
/bin/busybox mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp /newroot/run
exec /bin/busybox switch_root /newroot /stage2
"#;

/// Stage two: mounts, cgroup2, then each check prints
/// `RESULT <name> ok|fail <detail>`.
const GUEST_INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mkdir -p /run && mount -t tmpfs run /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "+cpu +cpuset +io +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control
R="/berth-runc --root /run/berth"
result() { echo "RESULT $1 $2 $3"; }
run() { name=$1; shift; $R run --bundle /bundles/$name "$@" $name; }

# OOM: a 32 MiB limit, a shell that wants 200 MB.
$R run --keep --bundle /bundles/oom oom > /tmp/oom.out 2>&1
code=$?
events=$(grep oom_kill /sys/fs/cgroup/berth/oom/memory.events)
max=$(cat /sys/fs/cgroup/berth/oom/memory.max)
$R delete --force oom
[ "$code" = 137 ] && [ "${events#oom_kill }" -ge 1 ] && result oom ok "code=$code $events max=$max" || result oom fail "code=$code $events max=$max $(cat /tmp/oom.out)"

# pids: a fork bomb stops at 10.
out=$(run pids 2>&1)
echo "$out" | grep -q "can't fork" && result pids ok "" || result pids fail "$out"

# cpu: weight from shares 512, quota 50ms per 100ms.
$R create --bundle /bundles/cpu cpu
w=$(cat /sys/fs/cgroup/berth/cpu/cpu.weight); m=$(cat /sys/fs/cgroup/berth/cpu/cpu.max)
$R delete --force cpu
[ "$w" = 20 ] && [ "$m" = "50000 100000" ] && result cpu ok "weight=$w max=$m" || result cpu fail "weight=$w max=$m"

# devices: /dev/mem exists in the container but the BPF program denies it.
out=$(run devices 2>&1)
echo "$out" | grep -q "mem: Operation not permitted" && echo "$out" | grep -q "null-ok" && result devices ok "" || result devices fail "$out"

# devices after an update: the filter is replaced atomically, never removed.
$R run --detach --bundle /bundles/devupd devupd
echo '{"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"}]}' > /tmp/devres.json
$R update --resources /tmp/devres.json devupd
out=$($R exec devupd sh -c 'head -c 1 /dev/mem; echo x > /dev/null && echo null-ok' 2>&1)
$R delete --force devupd
echo "$out" | grep -q "mem: Operation not permitted" && echo "$out" | grep -q "null-ok" && result devices-update ok "" || result devices-update fail "$out"

# io: throttles on a RAM disk (1:0) become one io.max line.
insmod /brd.ko rd_nr=1 rd_size=1024
$R create --bundle /bundles/io io > /tmp/io.out 2>&1
m=$(cat /sys/fs/cgroup/berth/io/io.max 2>&1)
$R delete --force io
[ "$m" = "1:0 rbps=1048576 wbps=max riops=max wiops=200" ] && result io ok "$m" || result io fail "max=$m $(cat /tmp/io.out)"

# freezer: pause and resume.
$R run --detach --bundle /bundles/freeze freeze
$R pause freeze
f1=$(cat /sys/fs/cgroup/berth/freeze/cgroup.freeze); e1=$(grep frozen /sys/fs/cgroup/berth/freeze/cgroup.events)
s1=$($R state freeze | grep '"status"')
$R resume freeze
f2=$(cat /sys/fs/cgroup/berth/freeze/cgroup.freeze)
$R delete --force freeze
[ "$f1" = 1 ] && [ "$e1" = "frozen 1" ] && [ "$f2" = 0 ] && echo "$s1" | grep -q paused && result freezer ok "" || result freezer fail "f1=$f1 e1=$e1 f2=$f2 s1=$s1"

# cgroup namespace: the container sees itself at the root.
out=$(run cgroupns 2>&1)
[ "$out" = "0::/" ] && result cgroupns ok "" || result cgroupns fail "$out"

# The engine (daemonless CLI, monitor, overlay) on v2: an update holds
# across a restart, a policy set while running is applied by the monitor,
# exec lands in the container's cgroup.
insmod /overlay.ko
B="/berth --root /tmp/store --run-root /run/store"
export BERTH_CGROUP_PARENT=/berth-engine
# Cgroups are under test here, not networks (the VM has no nft).
export BERTH_BRIDGE=none
$B import -c 'CMD ["sh"]' /busybox.tar busybox > /tmp/import.out 2>&1
id=$($B run -d --name up -m 64m busybox sleep 1000 2>/tmp/run.err)
$B update -m 96m --memory-swap 192m up > /dev/null
m1=$(cat /sys/fs/cgroup/berth-engine/$id/memory.max)
$B restart -t 0 up > /dev/null
m2=$(cat /sys/fs/cgroup/berth-engine/$id/memory.max)
ex=$($B exec up cat /proc/self/cgroup)
$B update --restart always up > /dev/null
kill -9 $($B inspect -f '{{.State.Pid}}' up)
sleep 3
st=$($B inspect -f '{{.State.Status}} {{.RestartCount}}' up)
m3=$(cat /sys/fs/cgroup/berth-engine/$id/memory.max)
$B rm -f up > /dev/null
[ "$m1" = 100663296 ] && [ "$m2" = 100663296 ] && [ "$m3" = 100663296 ] && [ "$ex" = "0::/" ] && [ "$st" = "running 1" ] && result engine ok "" || result engine fail "id=$id m1=$m1 m2=$m2 m3=$m3 ex=$ex st=$st $(cat /tmp/import.out /tmp/run.err)"
left=$(ls /sys/fs/cgroup/berth-engine 2>&1 | grep -v -e '^cgroup\.' -e '^cpu' -e '^memory' -e '^pids' -e '^io' -e '^hugetlb' -e '^misc' -e '^rdma' | tr '\n' ' ')
[ -z "$left" ] && result engine-cleanup ok "" || result engine-cleanup fail "$left"

# no cgroup left behind
left=$(ls /sys/fs/cgroup/berth 2>&1 | grep -v -e '^cgroup\.' -e '^cpu' -e '^memory' -e '^pids' -e '^io' -e '^hugetlb' -e '^misc' -e '^rdma' | tr '\n' ' ')
[ -z "$left" ] && result cleanup ok "" || result cleanup fail "$left"
echo BERTH-V2-DONE
poweroff -f
"#;

fn kernel() -> Option<PathBuf> {
    let mut kernels: Vec<PathBuf> = std::fs::read_dir("/boot")
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-") && n.ends_with("-amd64"))
        })
        .collect();
    kernels.sort();
    kernels.pop()
}

/// A bundle config for the guest: the default spec, rootfs at /rootfs.
fn config(args: &[&str], change: impl Fn(&mut serde_json::Value)) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(berth_runc())
        .args(["spec", "--bundle"])
        .arg(dir.path())
        .output()
        .expect("spec");
    assert!(out.status.success());
    let mut c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).expect("read"))
            .expect("json");
    c["root"]["path"] = "/rootfs".into();
    c["process"]["terminal"] = false.into();
    c["process"]["args"] = serde_json::json!(args);
    change(&mut c);
    c
}

fn copy_with_libs(binary: &Path, root: &Path, target: &str) {
    // Without debug info the initramfs is a tenth of the size, and TCG copies it faster.
    let dest = root.join(target.trim_start_matches('/'));
    let stripped = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&dest)
        .arg(binary)
        .status()
        .is_ok_and(|s| s.success());
    if !stripped {
        std::fs::copy(binary, &dest).expect("copy binary");
    }
    let out = Command::new("ldd").arg(binary).output().expect("ldd");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let path = line
            .split_whitespace()
            .find(|w| w.starts_with('/'))
            .map(PathBuf::from);
        if let Some(lib) = path {
            let dest = root.join(lib.strip_prefix("/").unwrap_or(&lib));
            std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
            std::fs::copy(&lib, &dest).expect("copy lib");
        }
    }
}

#[test]
fn cgroup_v2_in_a_vm() {
    let test = "cgroup_v2_in_a_vm";
    if !support::runc::prerequisites(test) {
        return;
    }
    let Some(kernel) = kernel() else {
        support::skip(
            test,
            "no Debian kernel in /boot (apt-get install linux-image-amd64)",
        );
        return;
    };
    if !have("qemu-system-x86_64") || !have("cpio") {
        support::skip(
            test,
            "qemu-system-x86_64 or cpio is missing (apt-get install qemu-system-x86 cpio)",
        );
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let root = work.path().join("initramfs");
    for d in [
        "bin",
        "proc",
        "sys",
        "dev",
        "tmp",
        "run",
        "rootfs",
        "bundles",
        "lib64",
        "lib/x86_64-linux-gnu",
    ] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    // busybox for the guest's own shell, and the container rootfs.
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("copy busybox");
    let tar = support::busybox_tar().expect("busybox");
    let out = support::run_with_stdin(
        {
            let mut c = Command::new("tar");
            c.arg("-C").arg(root.join("rootfs")).arg("-x");
            c
        },
        &tar,
    );
    assert!(out.status.success());
    copy_with_libs(Path::new(support::BERTH), &root, "/berth");
    // The engine's image, and the overlay module of the guest's kernel.
    std::fs::write(root.join("busybox.tar"), &tar).expect("write busybox.tar");
    let release = kernel
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .unwrap_or_default()
        .to_string();
    let module = PathBuf::from(format!(
        "/lib/modules/{release}/kernel/fs/overlayfs/overlay.ko"
    ));
    std::fs::copy(&module, root.join("overlay.ko"))
        .unwrap_or_else(|e| panic!("copy {}: {e}", module.display()));
    // A RAM disk: a block device for the I/O throttles.
    let brd = PathBuf::from(format!(
        "/lib/modules/{release}/kernel/drivers/block/brd.ko"
    ));
    std::fs::copy(&brd, root.join("brd.ko"))
        .unwrap_or_else(|e| panic!("copy {}: {e}", brd.display()));
    std::os::unix::fs::symlink("/berth", root.join("berth-runc")).expect("symlink");
    for (name, script) in [("init", GUEST_STAGE1), ("stage2", GUEST_INIT)] {
        std::fs::write(root.join(name), script).expect("write init");
        std::fs::set_permissions(
            root.join(name),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
    }

    let cgroup = |name: &str| -> String { format!("/berth/{name}") };
    let bundles: Vec<(&str, serde_json::Value)> = vec![
        (
            "oom",
            config(
                &[
                    "sh",
                    "-c",
                    "x=$(head -c 80000000 /dev/zero | tr '\\000' a); echo survived",
                ],
                |c| {
                    c["linux"]["resources"]["memory"] =
                        serde_json::json!({"limit": 33554432, "swap": 33554432});
                    c["linux"]["cgroupsPath"] = cgroup("oom").into();
                },
            ),
        ),
        (
            "pids",
            config(
                &["sh", "-c", "for i in $(seq 1 30); do sleep 1 & done; wait"],
                |c| {
                    c["linux"]["resources"]["pids"] = serde_json::json!({"limit": 10});
                    c["linux"]["cgroupsPath"] = cgroup("pids").into();
                },
            ),
        ),
        (
            "io",
            config(&["true"], |c| {
                c["linux"]["resources"]["blockIO"] = serde_json::json!({
                    "throttleReadBpsDevice": [{"major": 1, "minor": 0, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": 1, "minor": 0, "rate": 200}],
                });
                c["linux"]["cgroupsPath"] = cgroup("io").into();
            }),
        ),
        (
            "cpu",
            config(&["true"], |c| {
                c["linux"]["resources"]["cpu"] =
                    serde_json::json!({"shares": 512, "quota": 50000, "period": 100000});
                c["linux"]["cgroupsPath"] = cgroup("cpu").into();
            }),
        ),
        (
            "devices",
            config(
                &[
                    "sh",
                    "-c",
                    "head -c 1 /dev/mem; echo x > /dev/null && echo null-ok",
                ],
                |c| {
                    c["linux"]["devices"] = serde_json::json!([{"path": "/dev/mem", "type": "c", "major": 1, "minor": 1, "fileMode": 416}]);
                    c["process"]["capabilities"]["bounding"]
                        .as_array_mut()
                        .expect("caps")
                        .push("CAP_SYS_RAWIO".into());
                    c["process"]["capabilities"]["effective"]
                        .as_array_mut()
                        .expect("caps")
                        .push("CAP_SYS_RAWIO".into());
                    c["process"]["capabilities"]["permitted"]
                        .as_array_mut()
                        .expect("caps")
                        .push("CAP_SYS_RAWIO".into());
                    c["linux"]["cgroupsPath"] = cgroup("devices").into();
                },
            ),
        ),
        (
            "devupd",
            config(&["sleep", "1000"], |c| {
                c["linux"]["devices"] = serde_json::json!([{"path": "/dev/mem", "type": "c", "major": 1, "minor": 1, "fileMode": 416}]);
                for set in ["bounding", "effective", "permitted"] {
                    c["process"]["capabilities"][set]
                        .as_array_mut()
                        .expect("caps")
                        .push("CAP_SYS_RAWIO".into());
                }
                c["linux"]["cgroupsPath"] = cgroup("devupd").into();
            }),
        ),
        (
            "freeze",
            config(&["sleep", "1000"], |c| {
                c["linux"]["cgroupsPath"] = cgroup("freeze").into();
            }),
        ),
        (
            "cgroupns",
            config(&["cat", "/proc/self/cgroup"], |c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .expect("ns")
                    .push(serde_json::json!({"type": "cgroup"}));
                c["linux"]["cgroupsPath"] = cgroup("cgroupns").into();
            }),
        ),
    ];
    for (name, c) in &bundles {
        let dir = root.join("bundles").join(name);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_vec_pretty(c).expect("json"),
        )
        .expect("write");
    }

    let initrd = work.path().join("initrd.gz");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd {} && find . | cpio -o -H newc --quiet | gzip -1 > {}",
            root.display(),
            initrd.display()
        ))
        .status()
        .expect("cpio");
    assert!(status.success(), "build initramfs");

    let log = work.path().join("serial.log");
    let mut qemu = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-m", "1024", "-smp", "1", "-nographic", "-no-reboot"])
        .arg("-kernel")
        .arg(&kernel)
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", "console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init systemd.unified_cgroup_hierarchy=1"])
        .arg("-serial")
        .arg(format!("file:{}", log.display()))
        .args(["-monitor", "none", "-display", "none"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start qemu");
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    loop {
        if let Ok(Some(_)) = qemu.try_wait() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = qemu.kill();
            let _ = qemu.wait();
            panic!(
                "the VM did not finish in 600 s:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let serial = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        serial.contains("BERTH-V2-DONE"),
        "the guest did not finish its checks:\n{serial}"
    );
    // Console output may interleave escape codes or kernel text: take each
    // result from where its marker starts.
    let results: Vec<&str> = serial
        .lines()
        .filter_map(|l| l.find("RESULT ").map(|i| &l[i..]))
        .collect();
    for name in [
        "oom",
        "pids",
        "cpu",
        "io",
        "devices",
        "devices-update",
        "freezer",
        "cgroupns",
        "engine",
        "engine-cleanup",
        "cleanup",
    ] {
        let line = results
            .iter()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no result for {name}:\n{serial}"));
        assert!(
            line.split_whitespace().nth(2) == Some("ok"),
            "{line}\n--- serial ---\n{serial}"
        );
    }
}
