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
                "seccomp: SCMP_ACT_NOTIFY (a listener) is not supported",
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

fn op(o: LinuxSeccompOperator, value_two: u64) -> ScmpCompareOp {
    match o {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(value_two),
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
                ScmpArgCompare::new(
                    a.index() as u32,
                    op(a.op(), a.value_two().unwrap_or(0)),
                    a.value(),
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
