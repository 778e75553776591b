//! OCI seccomp profiles compiled with libseccomp.
//!
//! Semantics follow runc: rules whose action equals the default are skipped,
//! syscall names the kernel or libseccomp does not know are skipped, a rule
//! whose arguments all have distinct indexes is one rule with all conditions
//! (AND), otherwise each condition is its own rule (OR). `ERRNO` without a
//! value means EPERM. libseccomp's own no_new_privs is turned off: the spec
//! decides that.

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use crate::error::{Error, Result};

fn action(a: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction> {
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => {
            ScmpAction::Errno(errno.unwrap_or(libc::EPERM as u32) as i32)
        }
        LinuxSeccompAction::ScmpActTrace => {
            ScmpAction::Trace(errno.unwrap_or(libc::EPERM as u32) as u16)
        }
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(Error::unsupported(
                "seccomp: SCMP_ACT_NOTIFY is not supported: berth-runc does not hand a listener fd to a seccomp agent (linux.seccomp.listenerPath)",
            ));
        }
    })
}

fn arch(a: &Arch) -> Option<ScmpArch> {
    Some(match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        _ => return None,
    })
}

/// The comparison for an OCI argument rule, as (operator, compared value).
/// For MASKED_EQ the OCI `value` is the mask and `valueTwo` the value the
/// masked argument must equal (runc's reading).
fn condition(index: u32, o: LinuxSeccompOperator, value: u64, value_two: u64) -> ScmpArgCompare {
    match o {
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            ScmpArgCompare::new(index, ScmpCompareOp::MaskedEqual(value), value_two)
        }
        other => ScmpArgCompare::new(index, op(other), value),
    }
}

fn op(o: LinuxSeccompOperator) -> ScmpCompareOp {
    match o {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(0),
    }
}

/// Compiles a profile (does not load it).
pub fn compile(profile: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    let fail = |what: &str, e: libseccomp::error::SeccompError| {
        Error::invalid(format!("seccomp: {what}: {e}"))
    };
    let default = action(profile.default_action(), profile.default_errno_ret())?;
    let mut filter = ScmpFilterContext::new(default).map_err(|e| fail("create filter", e))?;
    filter
        .set_ctl_nnp(false)
        .map_err(|e| fail("configure no_new_privs", e))?;
    // A binary tree of syscall numbers instead of a linear list (libseccomp
    // 2.5+; same verdicts). With Docker's ~370 allowed calls the list made
    // every syscall walk hundreds of comparisons, and made loading the
    // filter cost 1.6 ms: the kernel runs the filter once per syscall
    // number and architecture to build its allow cache.
    let _ = filter.set_ctl_optimize(2);
    for a in profile.architectures().as_deref().unwrap_or(&[]) {
        if let Some(a) = arch(a) {
            match filter.add_arch(a) {
                Ok(_) => {}
                Err(e) => return Err(fail(&format!("add architecture {a:?}"), e)),
            }
        }
    }
    for flag in profile.flags().as_deref().unwrap_or(&[]) {
        let r = match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => filter.set_ctl_tsync(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => filter.set_ctl_log(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => filter.set_ctl_ssb(true),
        };
        r.map_err(|e| fail(&format!("set flag {flag:?}"), e))?;
    }
    for rule in profile.syscalls().as_deref().unwrap_or(&[]) {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue;
        }
        let args = rule.args().as_deref().unwrap_or(&[]);
        let conditions: Vec<ScmpArgCompare> = args
            .iter()
            .map(|a| {
                condition(
                    a.index() as u32,
                    a.op(),
                    a.value(),
                    a.value_two().unwrap_or(0),
                )
            })
            .collect();
        let mut indexes: Vec<usize> = args.iter().map(|a| a.index()).collect();
        indexes.sort_unstable();
        indexes.dedup();
        let distinct = indexes.len() == args.len();
        for name in rule.names() {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                continue;
            };
            let result = if conditions.is_empty() {
                filter.add_rule(act, syscall)
            } else if distinct {
                filter.add_rule_conditional(act, syscall, &conditions)
            } else {
                conditions
                    .iter()
                    .try_for_each(|c| {
                        filter
                            .add_rule_conditional(act, syscall, std::slice::from_ref(c))
                            .map(|_| ())
                    })
                    .map(|_| &mut filter)
            };
            result.map_err(|e| fail(&format!("add rule for {name}"), e))?;
        }
    }
    Ok(filter)
}

/// Compiles and installs the profile on the calling thread.
pub fn install(profile: &LinuxSeccomp) -> Result<()> {
    compile(profile)?
        .load()
        .map_err(|e| Error::system(format!("seccomp: load filter: {e}")))
}

/// Installs a program from [`compile_cached`] on the calling thread.
pub fn install_program(program: &[u8]) -> Result<()> {
    crate::sys::seccomp_set_filter(program)
        .map_err(|e| Error::system(format!("seccomp: load filter: {e}")))
}

/// The profile compiled to its BPF program. Compiling Docker's default
/// profile with libseccomp takes longer than everything else in starting a
/// container, and every container of an image gets the same one, so
/// programs are kept in `cache_dir` (root-only, under the runtime's state
/// root) by the SHA-256 of the profile, the architecture and libseccomp's
/// version.
pub fn compile_cached(profile: &LinuxSeccomp, cache_dir: &std::path::Path) -> Result<Vec<u8>> {
    use sha2::Digest as _;
    let text = serde_json::to_vec(profile)
        .map_err(|e| Error::system(format!("seccomp: encode the profile: {e}")))?;
    let version = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default();
    let mut hasher = sha2::Sha256::new();
    hasher.update(std::env::consts::ARCH.as_bytes());
    hasher.update(version.as_bytes());
    // The program's shape (see `compile`): a change here must miss old entries.
    hasher.update(b"optimize=2");
    hasher.update(&text);
    let key: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = cache_dir.join(format!("{key}.bpf"));
    if let Ok(program) = std::fs::read(&path)
        && !program.is_empty()
        && program.len().is_multiple_of(8)
    {
        return Ok(program);
    }
    let filter = compile(profile)?;
    let memfd = rustix::fs::memfd_create("seccomp-bpf", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| Error::system(format!("seccomp: memfd_create: {e}")))?;
    filter
        .export_bpf(&memfd)
        .map_err(|e| Error::system(format!("seccomp: export the filter: {e}")))?;
    let mut file = std::fs::File::from(memfd);
    use std::io::{Read, Seek};
    let mut program = Vec::new();
    file.seek(std::io::SeekFrom::Start(0))
        .and_then(|_| file.read_to_end(&mut program))
        .map_err(|e| Error::system(format!("seccomp: read the exported filter: {e}")))?;
    // Best effort: a cache that cannot be written only costs time.
    if std::fs::create_dir_all(cache_dir).is_ok() {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let _ = std::fs::set_permissions(cache_dir, std::fs::Permissions::from_mode(0o700));
        let tmp = cache_dir.join(format!(".{key}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&program));
        if written.is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
    Ok(program)
}

/// berth's default profile (profiles/default-seccomp.json, generated by
/// scripts/gen-seccomp-profile.py): an allowlist where some calls come back
/// with a capability, as Docker's default does. `caps` are the container's
/// bounding capabilities (`CAP_…`).
pub fn default_profile(caps: &[String]) -> LinuxSeccomp {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Data {
        default_errno_ret: u32,
        architectures: std::collections::HashMap<String, Vec<String>>,
        allow: Vec<String>,
        allow_other_architectures: Vec<String>,
        allow_with_capability: std::collections::BTreeMap<String, Vec<String>>,
        rules: Vec<serde_json::Value>,
    }
    const DATA: &str = include_str!("../profiles/default-seccomp.json");
    // The data is part of the binary and checked by a unit test.
    let data: Data =
        serde_json::from_str(DATA).expect("the built-in seccomp profile is valid JSON");
    let has = |cap: &str| caps.iter().any(|c| c == cap);
    let mut allow: Vec<String> = data.allow.clone();
    allow.extend(data.allow_other_architectures.iter().cloned());
    for (cap, calls) in &data.allow_with_capability {
        if has(cap) {
            allow.extend(calls.iter().cloned());
        }
    }
    allow.sort();
    allow.dedup();
    let mut syscalls = vec![serde_json::json!({"names": allow, "action": "SCMP_ACT_ALLOW"})];
    for rule in &data.rules {
        let unless = rule.get("unlessCapability").and_then(|c| c.as_str());
        let only_if = rule.get("ifCapability").and_then(|c| c.as_str());
        if unless.is_some_and(has) || only_if.is_some_and(|c| !has(c)) {
            continue;
        }
        let mut r = rule.clone();
        if let Some(obj) = r.as_object_mut() {
            obj.remove("unlessCapability");
            obj.remove("ifCapability");
        }
        syscalls.push(r);
    }
    let arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    };
    let value = serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": data.default_errno_ret,
        "architectures": data.architectures.get(arch).cloned().unwrap_or_default(),
        "syscalls": syscalls,
    });
    serde_json::from_value(value).expect("the built-in seccomp profile maps onto the OCI type")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_compiles_and_gates_by_capability() {
        let docker = ["CAP_CHOWN", "CAP_SYS_CHROOT", "CAP_KILL"].map(String::from);
        let p = default_profile(&docker);
        compile(&p).expect("libseccomp accepts the default profile");
        let names: Vec<String> = p
            .syscalls()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .flat_map(|r| r.names().clone())
            .collect();
        for allowed in [
            "read",
            "write",
            "execve",
            "chroot",
            "clone",
            "socket",
            "personality",
        ] {
            assert!(names.iter().any(|n| n == allowed), "{allowed} allowed");
        }
        for denied in [
            "keyctl",
            "mount",
            "unshare",
            "bpf",
            "io_uring_setup",
            "setns",
            "ptrace",
            "kexec_load",
        ] {
            assert!(
                !names.iter().any(|n| n == denied),
                "{denied} denied by default"
            );
        }
        let admin = default_profile(&["CAP_SYS_ADMIN".to_string()]);
        let names: Vec<String> = admin
            .syscalls()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .flat_map(|r| r.names().clone())
            .collect();
        assert!(
            names.iter().any(|n| n == "mount") && names.iter().any(|n| n == "unshare"),
            "CAP_SYS_ADMIN brings mount back"
        );
        assert!(
            !names.iter().any(|n| n == "io_uring_setup"),
            "io_uring never"
        );
        compile(&admin).expect("compiles");
    }
}
