//! The cases of runc_spec_fields.rs: each changes one field of a
//! generated config.json, with the reason wherever berth-runc deliberately
//! differs from runc 1.1.

use std::path::Path;

use serde_json::{Value, json};

/// A block device of this host (major, minor), for throttles.
fn a_block_device() -> (i64, i64) {
    let mut devices: Vec<_> = std::fs::read_dir("/sys/block")
        .expect("/sys/block")
        .flatten()
        .map(|e| e.path().join("dev"))
        .collect();
    devices.sort();
    let dev = std::fs::read_to_string(devices.first().expect("a block device")).unwrap();
    let (major, minor) = dev.trim().split_once(':').unwrap();
    (major.parse().unwrap(), minor.parse().unwrap())
}

/// What a case may use besides the config: its bundle directory and the
/// namespaces of a helper process (to join by path).
pub struct Ctx<'a> {
    pub bundle: &'a Path,
    pub helper: u32,
}

pub type Change = Box<dyn Fn(&mut Value, &Ctx)>;

pub struct Case {
    /// The config.json field the case changes.
    pub field: &'static str,
    pub name: &'static str,
    pub change: Change,
    /// Where berth-runc deliberately does otherwise than Debian's runc 1.1.
    pub deviation: Option<Deviation>,
}

/// berth-runc runs it where runc 1.1 refuses, or sees otherwise only in the
/// probe lines starting with `lines`: why.
pub struct Deviation {
    pub why: &'static str,
    pub lines: &'static [&'static str],
}

impl Case {
    fn deviates(mut self, why: &'static str, lines: &'static [&'static str]) -> Case {
        self.deviation = Some(Deviation { why, lines });
        self
    }
}

fn case(
    field: &'static str,
    name: &'static str,
    change: impl Fn(&mut Value, &Ctx) + 'static,
) -> Case {
    Case {
        field,
        name,
        change: Box::new(change),
        deviation: None,
    }
}

fn skip_sections(c: &mut Value, sections: &str) {
    c["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(format!("PROBE_SKIP={sections}").into());
}

fn without_ns(c: &mut Value, ty: &str) {
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != ty);
}

fn with_ns(c: &mut Value, ns: Value) {
    let ty = ns["type"].clone();
    let list = c["linux"]["namespaces"].as_array_mut().unwrap();
    list.retain(|n| n["type"] != ty);
    list.push(ns);
}

fn mount(c: &mut Value, m: Value) {
    c["mounts"].as_array_mut().unwrap().push(m);
}

fn seccomp(c: &mut Value, profile: Value) {
    c["linux"]["seccomp"] = profile;
}

/// A rule acting on mkdir/mkdirat (the probe's `mkdir`), the rest allowed.
fn on_mkdir(action: &str) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": action}]
    })
}

/// Every x86_64 syscall that existed at the end of 2018 (up to rseq,
/// Linux 4.18): the allow-list of a profile written then. openat2,
/// close_range, clone3, pidfd_* and faccessat2 get the default, EPERM.
const SYSCALLS_2018: &str = "read write open close stat fstat lstat poll lseek mmap mprotect munmap brk rt_sigaction \
rt_sigprocmask rt_sigreturn ioctl pread64 pwrite64 readv writev access pipe select sched_yield mremap msync mincore \
madvise shmget shmat shmctl dup dup2 pause nanosleep getitimer alarm setitimer getpid sendfile socket connect accept \
sendto recvfrom sendmsg recvmsg shutdown bind listen getsockname getpeername socketpair setsockopt getsockopt clone \
fork vfork execve exit wait4 kill uname semget semop semctl shmdt msgget msgsnd msgrcv msgctl fcntl flock fsync \
fdatasync truncate ftruncate getdents getcwd chdir fchdir rename mkdir rmdir creat link unlink symlink readlink chmod \
fchmod chown fchown lchown umask gettimeofday getrlimit getrusage sysinfo times getuid syslog getgid setuid setgid \
geteuid getegid setpgid getppid getpgrp setsid setreuid setregid getgroups setgroups setresuid getresuid setresgid \
getresgid getpgid setfsuid setfsgid getsid capget capset rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend \
sigaltstack utime mknod personality ustat statfs fstatfs sysfs getpriority setpriority sched_setparam sched_getparam \
sched_setscheduler sched_getscheduler sched_get_priority_max sched_get_priority_min sched_rr_get_interval mlock \
munlock mlockall munlockall vhangup prctl arch_prctl setrlimit sync gettid readahead setxattr lsetxattr fsetxattr \
getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr tkill time futex \
sched_setaffinity sched_getaffinity set_thread_area io_setup io_destroy io_getevents io_submit io_cancel \
get_thread_area epoll_create remap_file_pages getdents64 set_tid_address restart_syscall semtimedop fadvise64 \
timer_create timer_settime timer_gettime timer_getoverrun timer_delete clock_gettime clock_getres clock_nanosleep \
exit_group epoll_wait epoll_ctl tgkill utimes mbind set_mempolicy get_mempolicy mq_open mq_unlink mq_timedsend \
mq_timedreceive mq_notify mq_getsetattr waitid inotify_init inotify_add_watch inotify_rm_watch migrate_pages openat \
mkdirat mknodat fchownat futimesat newfstatat unlinkat renameat linkat symlinkat readlinkat fchmodat faccessat \
pselect6 ppoll set_robust_list get_robust_list splice tee sync_file_range vmsplice move_pages utimensat epoll_pwait \
signalfd timerfd_create eventfd fallocate timerfd_settime timerfd_gettime accept4 signalfd4 eventfd2 epoll_create1 \
dup3 pipe2 inotify_init1 preadv pwritev rt_tgsigqueueinfo recvmmsg prlimit64 syncfs sendmmsg getcpu \
process_vm_readv process_vm_writev sched_setattr sched_getattr renameat2 seccomp getrandom memfd_create execveat \
membarrier mlock2 copy_file_range preadv2 pwritev2 statx io_pgetevents rseq";

pub fn cases() -> Vec<Case> {
    let mut v = vec![
        case("(as generated)", "unchanged", |_, _| {}),
        // Namespaces: absent, added, joined by path.
        case("linux.namespaces[pid]", "absent", |c, _| {
            without_ns(c, "pid");
            skip_sections(c, "pid");
        }),
        case("linux.namespaces[network]", "absent", |c, _| {
            without_ns(c, "network");
            skip_sections(c, "net");
        }),
        case("linux.namespaces[ipc]", "absent", |c, _| {
            without_ns(c, "ipc")
        }),
        case("linux.namespaces[uts]", "absent, hostname set", |c, _| {
            without_ns(c, "uts")
        }),
        case("linux.namespaces[uts]", "absent, no hostname", |c, _| {
            without_ns(c, "uts");
            c.as_object_mut().unwrap().remove("hostname");
        }),
        case(
            "linux.namespaces[mount]",
            "absent, masked paths set",
            |c, _| without_ns(c, "mount"),
        ),
        case("linux.namespaces[cgroup]", "added", |c, _| {
            with_ns(c, json!({"type": "cgroup"}))
        }),
        case("linux.namespaces[user]", "added with id maps", |c, _| {
            with_ns(c, json!({"type": "user"}));
            c["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        })
        .deviates(
            "the IPC namespace is made once root in the user namespace: its mqueue is the container's root user's and group's; runc 1.1 switches the group later, so the group shows as nobody",
            &["drwxrwxrwt root"],
        ),
        case("linux.namespaces[network].path", "joined", |c, x| {
            with_ns(
                c,
                json!({"type": "network", "path": format!("/proc/{}/ns/net", x.helper)}),
            );
        }),
        case("linux.namespaces[uts].path", "joined", |c, x| {
            with_ns(
                c,
                json!({"type": "uts", "path": format!("/proc/{}/ns/uts", x.helper)}),
            );
            c.as_object_mut().unwrap().remove("hostname");
        }),
        case("linux.namespaces[ipc].path", "joined", |c, x| {
            with_ns(
                c,
                json!({"type": "ipc", "path": format!("/proc/{}/ns/ipc", x.helper)}),
            );
        }),
        case("linux.namespaces[pid].path", "not a namespace", |c, x| {
            with_ns(
                c,
                json!({"type": "pid", "path": x.bundle.join("config.json")}),
            );
        }),
        // Root.
        case("root.readonly", "false", |c, _| {
            c["root"]["readonly"] = false.into()
        }),
        case("root.path", "absolute", |c, x| {
            c["root"]["path"] = x.bundle.join("rootfs").display().to_string().into();
        }),
        // Mounts: each type and option.
        case(
            "mounts[tmpfs]",
            "size, mode, nosuid, nodev, noexec",
            |c, _| {
                mount(
                    c,
                    json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=700"]}),
                );
            },
        ),
        case("mounts[bind]", "ro", |c, _| {
            mount(
                c,
                json!({"destination": "/hostetc", "type": "bind", "source": "/etc", "options": ["bind", "ro"]}),
            );
        }),
        case("mounts[bind]", "rbind, rprivate", |c, _| {
            mount(
                c,
                json!({"destination": "/hostrun", "type": "bind", "source": "/run", "options": ["rbind", "rprivate"]}),
            );
        }),
        case(
            "mounts[bind]",
            "type none, rbind (Docker's shape)",
            |c, _| {
                mount(
                    c,
                    json!({"destination": "/hostetc", "type": "none", "source": "/etc", "options": ["rbind", "ro"]}),
                );
            },
        ),
        case("mounts[bind]", "no type", |c, _| {
            mount(
                c,
                json!({"destination": "/hostetc", "source": "/etc", "options": ["rbind", "ro"]}),
            );
        }),
        case("mounts[bind]", "a file, new nested destination", |c, _| {
            mount(
                c,
                json!({"destination": "/a/b/hostname", "type": "bind", "source": "/etc/hostname", "options": ["bind", "ro"]}),
            );
        }),
        case("mounts[bind]", "nosuid, nodev, noexec remount", |c, _| {
            mount(
                c,
                json!({"destination": "/hostetc", "type": "bind", "source": "/etc", "options": ["rbind", "nosuid", "nodev", "noexec"]}),
            );
        }),
        case(
            "mounts[bind]",
            "rro, rnosuid (recursive attributes)",
            |c, _| {
                mount(
                    c,
                    json!({"destination": "/hostrun", "type": "bind", "source": "/run", "options": ["rbind", "rro", "rnosuid"]}),
                );
            },
        ),
        case("mounts[bind]", "rslave", |c, _| {
            mount(
                c,
                json!({"destination": "/hostrun", "type": "bind", "source": "/run", "options": ["rbind", "rslave"]}),
            );
        }),
        case("mounts[bind]", "runbindable", |c, _| {
            mount(
                c,
                json!({"destination": "/hostetc", "type": "bind", "source": "/etc", "options": ["rbind", "runbindable"]}),
            );
        }),
        case("mounts[bind]", "source missing", |c, x| {
            mount(
                c,
                json!({"destination": "/gone", "type": "bind", "source": x.bundle.join("nonexistent"), "options": ["bind"]}),
            );
        }),
        case("mounts[tmpfs]", "noatime, nodiratime", |c, _| {
            mount(
                c,
                json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["noatime", "nodiratime"]}),
            );
        }),
        case("mounts[tmpfs]", "strictatime", |c, _| {
            mount(
                c,
                json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["strictatime"]}),
            );
        }),
        case("mounts[proc]", "a second proc", |c, _| {
            mount(
                c,
                json!({"destination": "/proc2", "type": "proc", "source": "proc"}),
            );
        }),
        case("mounts[sysfs]", "read-write", |c, _| {
            for m in c["mounts"].as_array_mut().unwrap() {
                if m["type"] == "sysfs" {
                    m["options"] = json!(["nosuid", "noexec", "nodev"]);
                }
            }
        }),
        case("mounts[mqueue]", "removed", |c, _| {
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .retain(|m| m["type"] != "mqueue");
        }),
        case("mounts[devpts]", "ptmxmode=0600, gid=5", |c, _| {
            for m in c["mounts"].as_array_mut().unwrap() {
                if m["type"] == "devpts" {
                    m["options"] = json!([
                        "nosuid",
                        "noexec",
                        "newinstance",
                        "ptmxmode=0600",
                        "mode=0600",
                        "gid=5"
                    ]);
                }
            }
        }),
        case("mounts[cgroup]", "added, ro", |c, _| {
            mount(
                c,
                json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
            );
        }),
        case("mounts[cgroup]", "added, rw", |c, _| {
            mount(
                c,
                json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "rw"]}),
            );
        }),
        case("mounts[shm]", "/dev/shm tmpfs", |c, _| {
            mount(
                c,
                json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
            );
        }),
        // Process.
        case("process.user", "uid, gid, additionalGids, umask", |c, _| {
            c["process"]["user"] =
                json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 63});
        }),
        case("process.cwd", "/tmp", |c, _| {
            c["process"]["cwd"] = "/tmp".into()
        }),
        case("process.cwd", "missing directory", |c, _| {
            c["root"]["readonly"] = false.into();
            c["process"]["cwd"] = "/new/dir".into();
        }),
        case("process.env", "a name twice", |c, _| {
            let env = c["process"]["env"].as_array_mut().unwrap();
            env.push("HOME=/one".into());
            env.push("HOME=/two".into());
        }),
        case(
            "process.rlimits",
            "nofile, nproc, core, memlock, stack",
            |c, _| {
                c["process"]["rlimits"] = json!([
                    {"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 2048},
                    {"type": "RLIMIT_NPROC", "hard": 300, "soft": 200},
                    {"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
                    {"type": "RLIMIT_MEMLOCK", "hard": 65536, "soft": 65536},
                    {"type": "RLIMIT_STACK", "hard": 16777216, "soft": 8388608}
                ]);
            },
        ),
        case("process.rlimits", "unknown type", |c, _| {
            c["process"]["rlimits"] = json!([{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]);
        }),
        case("process.noNewPrivileges", "false", |c, _| {
            c["process"]["noNewPrivileges"] = false.into()
        }),
        case("process.oomScoreAdj", "500", |c, _| {
            c["process"]["oomScoreAdj"] = 500.into()
        }),
        case("process.capabilities", "empty sets", |c, _| {
            c["process"]["capabilities"] =
                json!({"bounding": [], "effective": [], "permitted": []});
        }),
        case(
            "process.capabilities",
            "Docker's set with inheritable",
            |c, _| {
                let caps = crate::support::DOCKER_CAPS;
                c["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps});
            },
        ),
        case("process.capabilities", "absent", |c, _| {
            c["process"].as_object_mut().unwrap().remove("capabilities");
        }),
        case("process.ioPriority", "idle class", |c, _| {
            c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
        })
        .deviates(
            "berth-runc sets the I/O priority (as runc 1.2 does); Debian's runc 1.1.5 ignores the field",
            &["oom "],
        ),
        case("process.ioPriority", "best effort, level 9", |c, _| {
            c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 9});
        })
        .deviates("a level outside 0..7 is refused; runc 1.1.5 ignores the field", &[]),
        case("process.scheduler", "SCHED_BATCH (warned, not applied)", |c, _| {
            c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH"});
        }),
        case("process.execCPUAffinity", "initial (warned, not applied)", |c, _| {
            c["process"]["execCPUAffinity"] = json!({"initial": "0"});
        }),
        case("mounts[].uidMappings", "an idmapped bind", |c, _| {
            mount(c, json!({"destination": "/hostetc", "type": "bind", "source": "/etc", "options": ["rbind"],
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}));
        })
        .deviates(
            "idmapped mounts are refused rather than mounted with the wrong owners; runc 1.1.5 ignores the fields",
            &[],
        ),
        case("process.args", "not found", |c, _| {
            c["process"]["args"] = json!(["/nonexistent"])
        }),
        // Linux.
        case("hostname", "set", |c, _| {
            c["hostname"] = "probe-host".into()
        }),
        case("domainname", "set", |c, _| {
            c["domainname"] = "probe.example".into()
        })
        .deviates(
            "berth-runc sets the domainname the spec asks for; Debian's runc 1.1.5 leaves it unset",
            &["host="],
        ),
        case("linux.sysctl", "net, ipc and mqueue keys", |c, _| {
            c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789", "fs.mqueue.msg_max": "20"});
        }),
        case("linux.sysctl", "not namespaced (vm.swappiness)", |c, _| {
            c["linux"]["sysctl"] = json!({"vm.swappiness": "10"});
        }),
        case(
            "linux.sysctl",
            "net key without a network namespace",
            |c, _| {
                without_ns(c, "network");
                skip_sections(c, "net");
                c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
            },
        ),
        case("linux.maskedPaths", "file, directory, missing", |c, _| {
            let m = c["linux"]["maskedPaths"].as_array_mut().unwrap();
            m.push("/etc/hostname".into());
            m.push("/usr".into());
            m.push("/nonexistent".into());
        }),
        case("linux.maskedPaths", "empty", |c, _| {
            c["linux"]["maskedPaths"] = json!([])
        }),
        case("linux.readonlyPaths", "directory, missing", |c, _| {
            c["root"]["readonly"] = false.into();
            let m = c["linux"]["readonlyPaths"].as_array_mut().unwrap();
            m.push("/usr".into());
            m.push("/nonexistent".into());
        }),
        case(
            "linux.devices",
            "a char device with its cgroup rule",
            |c, _| {
                c["linux"]["devices"] = json!([{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}]);
                c["linux"]["resources"]["devices"]
                .as_array_mut()
                .unwrap()
                .push(json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"}));
            },
        ),
        case("linux.devices", "a block device, no cgroup rule", |c, _| {
            c["linux"]["devices"] = json!([{"path": "/dev/loop-probe", "type": "b", "major": 7, "minor": 200, "fileMode": 432}]);
        }),
        case("linux.resources.devices", "allow all", |c, _| {
            c["linux"]["resources"]["devices"] = json!([{"allow": true, "access": "rwm"}]);
        }),
        case(
            "linux.resources.memory",
            "limit, reservation, swap",
            |c, _| {
                c["linux"]["resources"]["memory"] =
                    json!({"limit": 67108864, "reservation": 33554432, "swap": 134217728});
            },
        ),
        case(
            "linux.resources.cpu",
            "shares, quota, period, cpus",
            |c, _| {
                c["linux"]["resources"]["cpu"] =
                    json!({"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"});
            },
        ),
        case("linux.resources.pids", "limit", |c, _| {
            c["linux"]["resources"]["pids"] = json!({"limit": 64})
        }),
        case("linux.resources.blockIO", "weight", |c, _| {
            c["linux"]["resources"]["blockIO"] = json!({"weight": 300});
        }),
        case("linux.resources.blockIO", "throttles", |c, _| {
            let (major, minor) = a_block_device();
            let dev = |rate: u64| json!([{"major": major, "minor": minor, "rate": rate}]);
            c["linux"]["resources"]["blockIO"] = json!({
                "throttleReadBpsDevice": dev(1048576),
                "throttleWriteBpsDevice": dev(2097152),
                "throttleReadIOPSDevice": dev(100),
                "throttleWriteIOPSDevice": dev(200),
            });
        }),
        case("linux.resources.cpu.burst", "set", |c, _| {
            c["linux"]["resources"]["cpu"] = json!({"quota": 50000, "period": 100000, "burst": 20000});
        })
        .deviates(
            "berth-runc sets the CFS burst (as runc 1.2 does); Debian's runc 1.1.5 ignores it",
            &["cpu/cpu.cfs_burst_us"],
        ),
        case("linux.resources.cpu.idle", "on a v1 host", |c, _| {
            c["linux"]["resources"]["cpu"] = json!({"idle": 1});
        })
        .deviates(
            "cpu.idle exists only in cgroup v2: refused on v1 rather than ignored; runc 1.1.5 ignores it",
            &[],
        ),
        case("linux.resources.rdma", "a device limit", |c, _| {
            c["linux"]["resources"]["rdma"] = json!({"mlx4_0": {"hcaHandles": 2, "hcaObjects": 2000}});
        }),
        case("linux.intelRdt", "an L3 schema", |c, _| {
            c["linux"]["intelRdt"] = json!({"closID": "berth-test", "l3CacheSchema": "L3:0=f"});
        }),
        case("linux.resources.network", "classID", |c, _| {
            c["linux"]["resources"]["network"] = json!({"classID": 1048577});
        }),
        case("linux.resources.unified", "on a v1 host", |c, _| {
            c["linux"]["resources"]["unified"] = json!({"memory.high": "50000000"});
        }),
        case("linux.cgroupsPath", "absent", |c, _| {
            c["linux"].as_object_mut().unwrap().remove("cgroupsPath");
            skip_sections(c, "cgroups");
        }),
        case("linux.personality", "LINUX32", |c, _| {
            c["linux"]["personality"] = json!({"domain": "LINUX32"});
        })
        .deviates(
            "berth-runc sets the personality (as runc 1.2 does); Debian's runc 1.1.5 ignores the field",
            &["host="],
        ),
        case("linux.namespaces[time]", "added", |c, _| with_ns(c, json!({"type": "time"})))
            .deviates("runc 1.1 does not know the time namespace (runc 1.2 does)", &[]),
        case("linux.timeOffsets", "monotonic and boottime", |c, _| {
            with_ns(c, json!({"type": "time"}));
            c["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 3600}, "boottime": {"secs": 86400, "nanosecs": 5}});
        })
        .deviates("runc 1.1 does not know the time namespace (runc 1.2 does)", &[]),
        case("linux.timeOffsets", "without a time namespace", |c, _| {
            c["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 3600}});
        })
        .deviates(
            "offsets that no time namespace could hold are refused (as runc 1.2 refuses them); runc 1.1 does not know the field and ignores it",
            &[],
        ),
        // Seccomp: every action, flags, architectures, argument operators,
        // and a profile from before 2019.
        case(
            "linux.seccomp.syscalls[].action",
            "SCMP_ACT_ERRNO with errnoRet",
            |c, _| {
                let mut p = on_mkdir("SCMP_ACT_ERRNO");
                p["syscalls"][0]["errnoRet"] = 13.into();
                seccomp(c, p);
            },
        ),
        case(
            "linux.seccomp.syscalls[].action",
            "SCMP_ACT_ERRNO",
            |c, _| seccomp(c, on_mkdir("SCMP_ACT_ERRNO")),
        ),
        case(
            "linux.seccomp.syscalls[].action",
            "SCMP_ACT_KILL",
            |c, _| seccomp(c, on_mkdir("SCMP_ACT_KILL")),
        ),
        case(
            "linux.seccomp.syscalls[].action",
            "SCMP_ACT_KILL_PROCESS",
            |c, _| seccomp(c, on_mkdir("SCMP_ACT_KILL_PROCESS")),
        ),
        case(
            "linux.seccomp.syscalls[].action",
            "SCMP_ACT_KILL_THREAD",
            |c, _| seccomp(c, on_mkdir("SCMP_ACT_KILL_THREAD")),
        ),
        case(
            "linux.seccomp.syscalls[].action",
            "SCMP_ACT_TRAP",
            |c, _| seccomp(c, on_mkdir("SCMP_ACT_TRAP")),
        ),
        case(
            "linux.seccomp.syscalls[].action",
            "SCMP_ACT_TRACE",
            |c, _| seccomp(c, on_mkdir("SCMP_ACT_TRACE")),
        ),
        case("linux.seccomp.syscalls[].action", "SCMP_ACT_LOG", |c, _| {
            seccomp(c, on_mkdir("SCMP_ACT_LOG"))
        }),
        case(
            "linux.seccomp.syscalls[].action",
            "SCMP_ACT_ALLOW",
            |c, _| seccomp(c, on_mkdir("SCMP_ACT_ALLOW")),
        ),
        case(
            "linux.seccomp.syscalls[].action",
            "SCMP_ACT_NOTIFY without a listener",
            |c, _| seccomp(c, on_mkdir("SCMP_ACT_NOTIFY")),
        ),
        case(
            "linux.seccomp.defaultAction",
            "SCMP_ACT_ERRNO, allow-list from 2018",
            |c, _| {
                let names: Vec<&str> = SYSCALLS_2018.split_whitespace().collect();
                seccomp(
                    c,
                    json!({
                        "defaultAction": "SCMP_ACT_ERRNO",
                        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
                    }),
                );
            },
        ),
        case(
            "linux.seccomp.defaultErrnoRet",
            "ENOSYS for the rest",
            |c, _| {
                let names: Vec<&str> = SYSCALLS_2018.split_whitespace().collect();
                seccomp(
                    c,
                    json!({
                        "defaultAction": "SCMP_ACT_ERRNO",
                        "defaultErrnoRet": 38,
                        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]
                    }),
                );
            },
        ),
        case("linux.seccomp.architectures", "absent (native)", |c, _| {
            let mut p = on_mkdir("SCMP_ACT_ERRNO");
            p.as_object_mut().unwrap().remove("architectures");
            seccomp(c, p);
        }),
        case("linux.seccomp.flags", "LOG, SPEC_ALLOW", |c, _| {
            let mut p = on_mkdir("SCMP_ACT_ERRNO");
            p["flags"] = json!(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]);
            seccomp(c, p);
        })
        .deviates(
            "berth-runc applies seccomp filter flags (as runc 1.2 does); Debian's runc 1.1.5 refuses every flag",
            &[],
        ),
        case("linux.seccomp.syscalls[].args", "every operator", |c, _| {
            seccomp(
                c,
                json!({
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [
                        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                        {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [{"index": 2, "value": 0o777, "op": "SCMP_CMP_NE"}]},
                        {"names": ["setpriority"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 2, "value": 19, "op": "SCMP_CMP_GT"}]},
                        {"names": ["setpriority"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 2, "value": 19, "op": "SCMP_CMP_GE"}]},
                        {"names": ["umask"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_LT"}]},
                        {"names": ["umask"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_LE"}]},
                        {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 0x10000000, "valueTwo": 0x10000000, "op": "SCMP_CMP_MASKED_EQ"}]}
                    ]
                }),
            );
        }),
        case(
            "linux.seccomp.syscalls[].names",
            "unknown syscall",
            |c, _| {
                let mut p = on_mkdir("SCMP_ACT_ERRNO");
                p["syscalls"][0]["names"] = json!(["mkdir", "mkdirat", "no_such_syscall"]);
                seccomp(c, p);
            },
        ),
        case("annotations", "any", |c, _| {
            c["annotations"] = json!({"org.example.key": "value"})
        }),
    ];
    // Root propagation: every value.
    for p in [
        "private",
        "rprivate",
        "slave",
        "rslave",
        "shared",
        "rshared",
        "unbindable",
        "runbindable",
    ] {
        let c = case("linux.rootfsPropagation", p, move |c, _| {
            c["linux"]["rootfsPropagation"] = p.into()
        });
        v.push(match p {
            "unbindable" | "runbindable" => c.deviates(
                "runc 1.1 binds the root onto itself after making it unbindable (EINVAL); berth-runc, like runc 1.2, applies the propagation after pivot_root",
                &[],
            ),
            "shared" | "rshared" => c.deviates(
                "berth-runc applies the propagation to the root after pivot_root, as runc 1.2 does; runc 1.1 leaves the root private",
                &["/ "],
            ),
            _ => c,
        });
    }
    // Hooks: each kind writes where the host can read it; a failing one.
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        let c = case("hooks", kind, move |c, x| {
            // Hooks that run in the container see its root; the others the host's.
            let inside = matches!(kind, "createContainer" | "startContainer");
            let out = if inside {
                "/dev/shm/hook".to_string()
            } else {
                x.bundle.join("hook").display().to_string()
            };
            c["hooks"] =
                json!({kind: [{"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {out}")]}]});
        });
        v.push(if kind == "poststart" {
            c.deviates(
                "poststart runs once the process has started: berth-runc's state says running, runc 1.1's says created",
                &["hook saw"],
            )
        } else {
            c
        });
    }
    v.push(case("hooks", "prestart fails", |c, _| {
        c["hooks"] = json!({"prestart": [{"path": "/bin/false"}]});
    }));
    v.push(
        case("hooks", "poststart fails (a warning only)", |c, _| {
            c["hooks"] = json!({"poststart": [{"path": "/bin/false"}]});
        })
        .deviates(
            "the runtime spec makes a failing poststart hook a warning, the lifecycle going on; runc 1.1 fails the run",
            &[],
        ),
    );
    v
}
