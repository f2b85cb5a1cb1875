//! A baseline seccomp filter that every confined process gets before it
//! runs (QEMU and virtiofsd add their own after): calls that no VMM or
//! file server needs and that widen the host kernel's attack surface or
//! reach beyond the process fail with EPERM; x32 calls too, and another
//! architecture's kills the process. A classic BPF program, written out
//! by hand (no libseccomp here).
use std::io;

/// x86-64 numbers of the calls refused.
const DENIED: &[(u32, &str)] = &[
    (101, "ptrace"),
    (135, "personality"),
    (153, "vhangup"),
    (159, "adjtimex"),
    (163, "acct"),
    (164, "settimeofday"),
    (167, "swapon"),
    (168, "swapoff"),
    (169, "reboot"),
    (170, "sethostname"),
    (171, "setdomainname"),
    (172, "iopl"),
    (173, "ioperm"),
    (175, "init_module"),
    (176, "delete_module"),
    (179, "quotactl"),
    (212, "lookup_dcookie"),
    (227, "clock_settime"),
    (246, "kexec_load"),
    (248, "add_key"),
    (249, "request_key"),
    (250, "keyctl"),
    (256, "migrate_pages"),
    (279, "move_pages"),
    (298, "perf_event_open"),
    (304, "open_by_handle_at"),
    (305, "clock_adjtime"),
    (310, "process_vm_readv"),
    (311, "process_vm_writev"),
    (312, "kcmp"),
    (313, "finit_module"),
    (320, "kexec_file_load"),
    (321, "bpf"),
    (323, "userfaultfd"),
    (425, "io_uring_setup"),
    (426, "io_uring_enter"),
    (427, "io_uring_register"),
    (438, "pidfd_getfd"),
    (440, "process_madvise"),
];

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const X32_BIT: u32 = 0x4000_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
/// Offsets in struct seccomp_data.
const NR: u32 = 0;
const ARCH: u32 = 4;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SockFilter {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

fn stmt(code: u16, k: u32) -> SockFilter {
    SockFilter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> SockFilter {
    SockFilter { code, jt, jf, k }
}

fn program() -> Vec<SockFilter> {
    let deny = RET_ERRNO | libc::EPERM as u32;
    let mut p = vec![
        stmt(BPF_LD_W_ABS, ARCH),
        jump(BPF_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, NR),
        jump(BPF_JGE_K, X32_BIT, 0, 1),
        stmt(BPF_RET_K, deny),
    ];
    for (nr, _) in DENIED {
        p.push(jump(BPF_JEQ_K, *nr, 0, 1));
        p.push(stmt(BPF_RET_K, deny));
    }
    p.push(stmt(BPF_RET_K, RET_ALLOW));
    p
}

/// Installs the filter on this process (needs no_new_privs set first).
pub fn install() -> io::Result<()> {
    let p = program();
    let prog = SockFprog { len: p.len() as u16, filter: p.as_ptr() };
    // SAFETY: prog points to a valid program that outlives the call; the
    // kernel copies it.
    let r = unsafe { libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &prog as *const SockFprog, 0, 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_checks_the_architecture_first_and_allows_last() {
        let p = program();
        assert_eq!(p[0], stmt(BPF_LD_W_ABS, ARCH));
        assert_eq!(p[2], stmt(BPF_RET_K, RET_KILL_PROCESS));
        assert_eq!(p.last(), Some(&stmt(BPF_RET_K, RET_ALLOW)));
        assert_eq!(p.len(), 6 + 2 * DENIED.len() + 1);
        assert!(p.len() < 4096, "BPF programs hold at most 4096 instructions");
    }

    #[test]
    fn a_denied_call_fails_with_eperm_and_others_work() {
        // In a child: the filter stays with the process that installed it.
        // SAFETY: fork in a test; the child only makes system calls and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: prctl with integer arguments only.
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
            let ok = install().is_ok();
            // SAFETY: a call the filter refuses (ptrace), then one it allows.
            let traced = unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) };
            let errno = io::Error::last_os_error().raw_os_error();
            // SAFETY: getpid has no preconditions.
            let me = unsafe { libc::getpid() };
            let good = ok && traced == -1 && errno == Some(libc::EPERM) && me > 0;
            // SAFETY: leaving the child at once.
            unsafe { libc::_exit(if good { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(status, 0);
    }
}
