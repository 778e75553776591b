//! cgroup v2 device control: a `BPF_PROG_TYPE_CGROUP_DEVICE` program built
//! from the OCI device rules and attached to the cgroup.
//!
//! The rules are an ordered list where the last matching rule decides (as the
//! v1 devices controller behaves); the program checks them from last to first
//! and returns at the first match, denying what no rule matches. A rule
//! matches when its type, major and minor match (or are wildcards) and the
//! requested access shares a bit with the rule's access (runc's semantics).
//!
//! This module and `sys`-style wrappers below are the only `unsafe` in the
//! crate: the `bpf(2)` system call has no safe wrapper.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::{Error, Result};

// Instruction encoding (linux/bpf.h).
const BPF_LDX: u8 = 0x01;
const BPF_ALU: u8 = 0x04;
const BPF_JMP: u8 = 0x05;
const BPF_ALU64: u8 = 0x07;
const BPF_W: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_AND: u8 = 0x50;
const BPF_RSH: u8 = 0x70;
const BPF_MOV: u8 = 0xb0;
const BPF_JNE: u8 = 0x50;
const BPF_JEQ: u8 = 0x10;
const BPF_EXIT: u8 = 0x90;

const BPF_DEVCG_DEV_BLOCK: i32 = 1;
const BPF_DEVCG_DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8, // dst in the low nibble, src in the high nibble
    off: i16,
    imm: i32,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

/// Compiles the rules into a program.
pub fn compile(rules: &[LinuxDeviceCgroup]) -> Vec<Insn> {
    // r2 = type, r3 = access, r4 = major, r5 = minor (ctx in r1).
    let mut p = vec![
        insn(BPF_LDX | BPF_W | BPF_MEM, 2, 1, 0, 0),
        insn(BPF_ALU | BPF_AND | BPF_K, 2, 0, 0, 0xffff),
        insn(BPF_LDX | BPF_W | BPF_MEM, 3, 1, 0, 0),
        insn(BPF_ALU | BPF_RSH | BPF_K, 3, 0, 0, 16),
        insn(BPF_LDX | BPF_W | BPF_MEM, 4, 1, 4, 0),
        insn(BPF_LDX | BPF_W | BPF_MEM, 5, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        let mut checks: Vec<Vec<Insn>> = Vec::new();
        match rule.typ() {
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => checks.push(vec![insn(
                BPF_JMP | BPF_JNE | BPF_K,
                2,
                0,
                0,
                BPF_DEVCG_DEV_CHAR,
            )]),
            Some(LinuxDeviceType::B) => checks.push(vec![insn(
                BPF_JMP | BPF_JNE | BPF_K,
                2,
                0,
                0,
                BPF_DEVCG_DEV_BLOCK,
            )]),
            _ => {} // "a" or unset: any type (fifos, "p", never reach this hook)
        }
        let access = access_bits(rule.access().as_deref().unwrap_or("rwm"));
        if access != ACC_MKNOD | ACC_READ | ACC_WRITE {
            checks.push(vec![
                insn(BPF_ALU64 | BPF_MOV | BPF_X, 6, 3, 0, 0),
                insn(BPF_ALU | BPF_AND | BPF_K, 6, 0, 0, access),
                insn(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 0, 0),
            ]);
        }
        if let Some(major) = rule.major().filter(|m| *m >= 0) {
            checks.push(vec![insn(BPF_JMP | BPF_JNE | BPF_K, 4, 0, 0, major as i32)]);
        }
        if let Some(minor) = rule.minor().filter(|m| *m >= 0) {
            checks.push(vec![insn(BPF_JMP | BPF_JNE | BPF_K, 5, 0, 0, minor as i32)]);
        }
        let verdict = [
            insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, rule.allow() as i32),
            insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
        ];
        let unconditional = checks.is_empty();
        let mut block: Vec<Insn> = checks.into_iter().flatten().collect();
        let len = block.len() + verdict.len();
        // Every jump in the block skips to the end of the block.
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code & 0x07 == BPF_JMP {
                ins.off = (len - i - 1) as i16;
            }
        }
        block.extend(verdict);
        p.extend(block);
        // A rule matching everything decides every request: anything after
        // it would be unreachable, which the verifier refuses.
        if unconditional {
            return p;
        }
    }
    p.push(insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0));
    p.push(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    p
}

fn access_bits(access: &str) -> i32 {
    access.chars().fold(0, |acc, c| {
        acc | match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => 0,
        }
    })
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

/// Loads the program for `rules` and attaches it to the cgroup `dir`,
/// replacing a program attached earlier (by `update`).
pub fn apply_device_filter(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    if !dir.join("cgroup.controllers").exists() {
        return Ok(()); // a fake cgroupfs in tests: nothing to attach to
    }
    let program = compile(rules);
    let license = c"Apache";
    let mut log = vec![0u8; 64 * 1024];
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: program.len() as u32,
        insns: program.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: `attr` is a valid bpf_attr prefix for BPF_PROG_LOAD; the
    // pointers it holds (program, license, log) outlive the call.
    let prog = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>(),
        )
    };
    if prog < 0 {
        let err = std::io::Error::last_os_error();
        let verifier =
            String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(0)])
                .into_owned();
        return Err(Error::Invalid(format!(
            "load device filter for {}: {err}: {verifier}",
            dir.display()
        )));
    }
    // SAFETY: the kernel returned a new file descriptor we now own.
    let prog = unsafe { OwnedFd::from_raw_fd(prog as i32) };
    let cgroup = std::fs::File::open(dir).map_err(|e| Error::io("open cgroup", dir, e))?;
    // There is never a moment without a filter. Attached without flags
    // (as berth attaches), a new program replaces the old one atomically
    // in the kernel. A cgroup whose programs were attached as "multi" by
    // someone else refuses that (EPERM): then the new one goes in beside
    // them (both run: the stricter wins meanwhile), and the old ones are
    // detached after.
    match attach(&cgroup, &prog, 0) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            let old = attached_programs(&cgroup);
            attach(&cgroup, &prog, BPF_F_ALLOW_MULTI)
                .map_err(|e| Error::io("attach device filter", dir, e))?;
            for old in old {
                detach(&cgroup, &old);
            }
            Ok(())
        }
        Err(e) => Err(Error::io("attach device filter", dir, e)),
    }
}

const BPF_F_ALLOW_MULTI: u32 = 2;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;

fn attach(cgroup: &std::fs::File, prog: &OwnedFd, flags: u32) -> std::io::Result<()> {
    let attr = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: flags,
    };
    // SAFETY: valid attr for BPF_PROG_ATTACH; both fds are open for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const ProgAttachAttr,
            std::mem::size_of::<ProgAttachAttr>(),
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn detach(cgroup: &std::fs::File, prog: &OwnedFd) {
    let attr = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: 0,
    };
    // SAFETY: valid attr for BPF_PROG_DETACH; both fds are open for the call.
    unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_DETACH,
            &attr as *const ProgAttachAttr,
            std::mem::size_of::<ProgAttachAttr>(),
        );
    }
}

#[repr(C)]
#[derive(Default)]
struct ProgQueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// The device programs attached to the cgroup now, as fds.
fn attached_programs(cgroup: &std::fs::File) -> Vec<OwnedFd> {
    let mut ids = [0u32; 64];
    let mut attr = ProgQueryAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    // SAFETY: valid attr for BPF_PROG_QUERY; `ids` outlives the call and
    // holds `prog_cnt` entries.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_QUERY,
            &mut attr as *mut ProgQueryAttr,
            std::mem::size_of::<ProgQueryAttr>(),
        )
    };
    if rc < 0 {
        return Vec::new();
    }
    let count = (attr.prog_cnt as usize).min(ids.len());
    ids[..count]
        .iter()
        .filter_map(|&id| {
            let attr = GetFdByIdAttr {
                prog_id: id,
                ..Default::default()
            };
            // SAFETY: valid attr for BPF_PROG_GET_FD_BY_ID.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_bpf,
                    BPF_PROG_GET_FD_BY_ID,
                    &attr as *const GetFdByIdAttr,
                    std::mem::size_of::<GetFdByIdAttr>(),
                )
            };
            // SAFETY: a new fd the kernel returned, now ours.
            (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        allow: bool,
        typ: Option<LinuxDeviceType>,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> LinuxDeviceCgroup {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(allow)
            .set_typ(typ)
            .set_major(major)
            .set_minor(minor)
            .set_access(Some(access.to_string()));
        r
    }

    /// Runs the compiled program in a tiny interpreter (enough for its opcodes).
    fn run(p: &[Insn], typ: i32, access: i32, major: u32, minor: u32) -> u64 {
        let ctx = [((access as u32) << 16) | typ as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0x0f) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                c if c == BPF_LDX | BPF_W | BPF_MEM => r[dst] = ctx[(i.off / 4) as usize] as u64,
                c if c == BPF_ALU | BPF_AND | BPF_K => {
                    r[dst] = (r[dst] as u32 & i.imm as u32) as u64
                }
                c if c == BPF_ALU | BPF_RSH | BPF_K => r[dst] = ((r[dst] as u32) >> i.imm) as u64,
                c if c == BPF_ALU64 | BPF_MOV | BPF_X => r[dst] = r[src],
                c if c == BPF_ALU64 | BPF_MOV | BPF_K => r[dst] = i.imm as u64,
                c if c == BPF_JMP | BPF_JNE | BPF_K => {
                    if r[dst] != i.imm as u64 {
                        pc += i.off as usize;
                    }
                }
                c if c == BPF_JMP | BPF_JEQ | BPF_K => {
                    if r[dst] == i.imm as u64 {
                        pc += i.off as usize;
                    }
                }
                c if c == BPF_JMP | BPF_EXIT => return r[0],
                other => panic!("opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn last_matching_rule_wins_and_unmatched_is_denied() {
        let rules = vec![
            rule(false, None, None, None, "rwm"),
            rule(true, Some(LinuxDeviceType::C), Some(1), Some(3), "rwm"),
            rule(true, Some(LinuxDeviceType::C), Some(1), None, "r"),
            rule(false, Some(LinuxDeviceType::C), Some(1), Some(1), "rwm"),
        ];
        let p = compile(&rules);
        let (c, b) = (BPF_DEVCG_DEV_CHAR, BPF_DEVCG_DEV_BLOCK);
        assert_eq!(
            run(&p, c, ACC_READ | ACC_WRITE, 1, 3),
            1,
            "/dev/null rw allowed"
        );
        assert_eq!(run(&p, c, ACC_READ, 1, 5), 1, "c 1:* r allowed");
        assert_eq!(
            run(&p, c, ACC_READ, 1, 1),
            0,
            "/dev/mem denied by the last rule"
        );
        assert_eq!(
            run(&p, c, ACC_WRITE, 1, 5),
            0,
            "a write shares no bit with 'r': falls through to deny-all"
        );
        assert_eq!(run(&p, b, ACC_READ, 8, 0), 0, "block devices denied");
        assert_eq!(
            run(&p, c, ACC_MKNOD, 5, 1),
            0,
            "unlisted char device denied"
        );
    }
}
