//! The seccomp filter of a function's runtime process: what a function
//! never needs is denied with `EPERM` (mounts, kernel modules, kexec, bpf,
//! ptrace, keyrings, new namespaces, reboot, clock setting, swap, …),
//! `clone3` answers `ENOSYS` so libc falls back to `clone` (whose flags a
//! classic filter can inspect), and a system call of a foreign ABI (i386 or
//! x32 on x86_64, arm32 on aarch64) kills the process.
//!
//! The policy is data ([`POLICY`], with each call's number on both
//! architectures); [`compile`] turns it into a classic BPF program once,
//! before any `fork`, and [`install`] loads it in the forked runtime after
//! `no_new_privs` without allocating. The unit tests run the compiled
//! program through a small BPF interpreter, so no root is needed.

use std::io;

/// Flags of `clone`/`unshare` that create a namespace. `CLONE_NEWTIME`
/// (0x80) is left out: in `clone`'s flags that bit belongs to the exit
/// signal, and `unshare` is denied whatever its flags.
pub const CLONE_NEW_MASK: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;

/// An architecture a filter is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// x86_64 (the x32 ABI is refused).
    X86_64,
    /// aarch64.
    Aarch64,
}

impl Arch {
    /// The architecture this binary runs on, if a filter exists for it.
    pub const fn native() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }

    /// `AUDIT_ARCH_*`, as the kernel reports it in `seccomp_data.arch`.
    pub const fn audit(self) -> u32 {
        match self {
            Arch::X86_64 => 0xC000_003E,
            Arch::Aarch64 => 0xC000_00B7,
        }
    }
}

/// Numbers at or above this on x86_64 are x32 system calls.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// When a rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Every call.
    Always,
    /// When the low 32 bits of argument `arg` share a bit with `mask`.
    ArgHasAny {
        /// The argument's index (0–5).
        arg: u8,
        /// The bits.
        mask: u32,
    },
}

/// One denied system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Its name, for tests and docs.
    pub name: &'static str,
    /// Its number on x86_64, if it exists there.
    pub x86_64: Option<u32>,
    /// Its number on aarch64, if it exists there.
    pub aarch64: Option<u32>,
    /// When it is denied.
    pub when: When,
    /// The errno it fails with.
    pub errno: i32,
}

impl Rule {
    /// The call's number on `arch`.
    pub const fn nr(&self, arch: Arch) -> Option<u32> {
        match arch {
            Arch::X86_64 => self.x86_64,
            Arch::Aarch64 => self.aarch64,
        }
    }
}

const fn deny(name: &'static str, x86_64: u32, aarch64: u32) -> Rule {
    Rule {
        name,
        x86_64: Some(x86_64),
        aarch64: Some(aarch64),
        when: When::Always,
        errno: libc::EPERM,
    }
}

const fn deny_x86(name: &'static str, x86_64: u32) -> Rule {
    Rule {
        aarch64: None,
        ..deny(name, x86_64, 0)
    }
}

/// What a function's runtime may not do (numbers: x86_64, aarch64).
pub const POLICY: &[Rule] = &[
    // File systems and mounts.
    deny("mount", 165, 40),
    deny("umount2", 166, 39),
    deny("pivot_root", 155, 41),
    deny("open_tree", 428, 428),
    deny("move_mount", 429, 429),
    deny("fsopen", 430, 430),
    deny("fsconfig", 431, 431),
    deny("fsmount", 432, 432),
    deny("fspick", 433, 433),
    deny("mount_setattr", 442, 442),
    deny("swapon", 167, 224),
    deny("swapoff", 168, 225),
    deny("quotactl", 179, 60),
    deny("quotactl_fd", 443, 443),
    deny("open_by_handle_at", 304, 265),
    deny("acct", 163, 89),
    // The kernel itself.
    deny("init_module", 175, 105),
    deny("finit_module", 313, 273),
    deny("delete_module", 176, 106),
    deny("kexec_load", 246, 104),
    deny("kexec_file_load", 320, 294),
    deny("reboot", 169, 142),
    deny("bpf", 321, 280),
    deny("perf_event_open", 298, 241),
    deny("userfaultfd", 323, 282),
    deny("syslog", 103, 116),
    deny_x86("iopl", 172),
    deny_x86("ioperm", 173),
    // Other processes and the keyrings.
    deny("ptrace", 101, 117),
    deny("process_vm_readv", 310, 270),
    deny("process_vm_writev", 311, 271),
    deny("keyctl", 250, 219),
    deny("add_key", 248, 217),
    deny("request_key", 249, 218),
    // Namespaces.
    deny("unshare", 272, 97),
    deny("setns", 308, 268),
    Rule {
        when: When::ArgHasAny {
            arg: 0,
            mask: CLONE_NEW_MASK,
        },
        ..deny("clone", 56, 220)
    },
    Rule {
        errno: libc::ENOSYS,
        ..deny("clone3", 435, 435)
    },
    deny("sethostname", 170, 161),
    deny("setdomainname", 171, 162),
    // The clock.
    deny("settimeofday", 164, 170),
    deny("clock_settime", 227, 112),
    deny("clock_adjtime", 305, 266),
    deny("adjtimex", 159, 171),
];

const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// Offsets in `struct seccomp_data`.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

/// `SECCOMP_RET_*` actions.
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
/// Fails the call with the errno in the low 16 bits.
pub const RET_ERRNO: u32 = 0x0005_0000;
/// Lets the call run.
pub const RET_ALLOW: u32 = 0x7fff_0000;

/// A compiled classic-BPF program, ready to install.
#[derive(Clone)]
pub struct Filter {
    insns: Vec<libc::sock_filter>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Filter({} instructions)", self.insns.len())
    }
}

impl Filter {
    /// The instructions.
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.insns
    }
}

const fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Compiles `rules` for `arch`: check the architecture (and on x86_64 the
/// x32 bit), then a binary search on the call's number down to leaves of
/// a few rules tested in turn, each leaf ending in allow.
///
/// Why a search and not one test per rule: when a filter is installed the
/// kernel works out which calls it allows whatever their arguments by
/// running it for every system call number (its action cache,
/// `seccomp_cache_prepare`), under the task's signal lock with interrupts
/// off. Through a chain of 50 tests that took 128 µs–1 ms of every
/// specialization (bpftrace, 10 cold starts); a search walks about a
/// fifth of the instructions per number. Calls the kernel cannot decide
/// ahead (`clone`, whose flags are read) run the filter each time, and
/// take the same short path.
pub fn compile(arch: Arch, rules: &[Rule]) -> Filter {
    let mut p = vec![
        stmt(BPF_LD_W_ABS, OFF_ARCH),
        jump(BPF_JEQ_K, arch.audit(), 1, 0),
        stmt(BPF_RET_K, RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFF_NR),
    ];
    if arch == Arch::X86_64 {
        p.push(jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1));
        p.push(stmt(BPF_RET_K, RET_KILL_PROCESS));
    }
    let mut denied: Vec<(u32, &Rule)> = rules
        .iter()
        .filter_map(|r| r.nr(arch).map(|nr| (nr, r)))
        .collect();
    denied.sort_by_key(|(nr, _)| *nr);
    p.extend(search(&denied));
    Filter { insns: p }
}

/// Rules tested one after another at the bottom of the search.
const LEAF: usize = 4;

/// The instructions deciding among `rules` (sorted by number; the
/// accumulator holds the call's number): `number >= the upper half's
/// first?` jumps over the lower half's instructions to the upper half's.
/// Every jump is forward; every path ends in a return.
fn search(rules: &[(u32, &Rule)]) -> Vec<libc::sock_filter> {
    if rules.len() <= LEAF {
        let mut p: Vec<_> = rules.iter().flat_map(|(nr, r)| test(*nr, r)).collect();
        p.push(stmt(BPF_RET_K, RET_ALLOW));
        return p;
    }
    let (low, high) = rules.split_at(rules.len() / 2);
    let (low, high_first, high) = (search(low), high[0].0, search(high));
    let over = u8::try_from(low.len()).expect("a half longer than a jump reaches");
    let mut p = vec![jump(BPF_JGE_K, high_first, over, 0)];
    p.extend(low);
    p.extend(high);
    p
}

/// One rule's test of call `nr`: denied, or on to the next instruction.
fn test(nr: u32, rule: &Rule) -> Vec<libc::sock_filter> {
    let deny = stmt(BPF_RET_K, RET_ERRNO | (rule.errno as u32 & 0xffff));
    match rule.when {
        When::Always => vec![jump(BPF_JEQ_K, nr, 0, 1), deny],
        // nr? load the argument's low word, test it, deny or allow (the
        // accumulator no longer holds the number, so this ends here).
        When::ArgHasAny { arg, mask } => vec![
            jump(BPF_JEQ_K, nr, 0, 4),
            stmt(BPF_LD_W_ABS, OFF_ARGS + 8 * u32::from(arg)),
            jump(BPF_JSET_K, mask, 0, 1),
            deny,
            stmt(BPF_RET_K, RET_ALLOW),
        ],
    }
}

/// The filter of [`POLICY`] for this machine, if it has one.
pub fn native() -> Option<Filter> {
    Arch::native().map(|arch| compile(arch, POLICY))
}

/// Installs `filter` on the calling thread. Called in the forked runtime
/// after `no_new_privs`: it makes one system call and does not allocate.
#[allow(unsafe_code)]
pub fn install(filter: &Filter) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: filter.insns.len() as libc::c_ushort,
        filter: filter.insns.as_ptr().cast_mut(),
    };
    // SAFETY: `prog` points at instructions that outlive the call; the
    // kernel copies the program and does not keep the pointer.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `struct seccomp_data` as the filter sees it.
    struct Data {
        nr: u32,
        arch: u32,
        args: [u64; 6],
    }

    impl Data {
        fn word(&self, off: u32) -> u32 {
            match off {
                OFF_NR => self.nr,
                OFF_ARCH => self.arch,
                o if (OFF_ARGS..OFF_ARGS + 48).contains(&o) && o % 4 == 0 => {
                    let arg = self.args[((o - OFF_ARGS) / 8) as usize];
                    if (o - OFF_ARGS) % 8 == 0 {
                        arg as u32
                    } else {
                        (arg >> 32) as u32
                    }
                }
                o => panic!("load at offset {o}"),
            }
        }
    }

    /// Runs the program as the kernel would, for the instructions
    /// `compile` emits: the action and how many instructions ran (what
    /// the kernel's cache preparation walks per number).
    fn exec(f: &Filter, d: &Data) -> (u32, usize) {
        let (mut pc, mut a, mut ran) = (0usize, 0u32, 0usize);
        loop {
            let i = f.insns[pc];
            pc += 1;
            ran += 1;
            let cond = |taken: bool| usize::from(if taken { i.jt } else { i.jf });
            match i.code {
                BPF_LD_W_ABS => a = d.word(i.k),
                BPF_JEQ_K => pc += cond(a == i.k),
                BPF_JGE_K => pc += cond(a >= i.k),
                BPF_JSET_K => pc += cond(a & i.k != 0),
                BPF_RET_K => return (i.k, ran),
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    fn run(f: &Filter, d: &Data) -> u32 {
        exec(f, d).0
    }

    fn steps(f: &Filter, d: &Data) -> usize {
        exec(f, d).1
    }

    fn call(arch: Arch, name: &str, args: [u64; 6]) -> u32 {
        let nr = POLICY
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.nr(arch))
            .unwrap_or_else(|| panic!("{name} on {arch:?}"));
        run(
            &compile(arch, POLICY),
            &Data {
                nr,
                arch: arch.audit(),
                args,
            },
        )
    }

    const EPERM: u32 = RET_ERRNO | libc::EPERM as u32;

    #[test]
    fn every_denied_call_fails_with_eperm_on_both_architectures() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            for rule in POLICY.iter().filter(|r| r.when == When::Always) {
                let Some(nr) = rule.nr(arch) else { continue };
                let got = run(
                    &compile(arch, POLICY),
                    &Data {
                        nr,
                        arch: arch.audit(),
                        args: [0; 6],
                    },
                );
                assert_eq!(
                    got,
                    RET_ERRNO | rule.errno as u32,
                    "{} on {arch:?}",
                    rule.name
                );
            }
        }
        assert_eq!(call(Arch::X86_64, "mount", [0; 6]), EPERM);
        assert_eq!(call(Arch::Aarch64, "init_module", [0; 6]), EPERM);
        assert_eq!(call(Arch::X86_64, "iopl", [3, 0, 0, 0, 0, 0]), EPERM);
    }

    #[test]
    fn ordinary_calls_are_allowed() {
        // read, write, openat, execve, mmap, futex, exit_group, socket…
        for (arch, nrs) in [
            (Arch::X86_64, [0, 1, 257, 59, 9, 202, 231, 41]),
            (Arch::Aarch64, [63, 64, 56, 221, 222, 98, 94, 198]),
        ] {
            for nr in nrs {
                let d = Data {
                    nr,
                    arch: arch.audit(),
                    args: [0; 6],
                };
                assert_eq!(run(&compile(arch, POLICY), &d), RET_ALLOW, "{nr} {arch:?}");
            }
        }
    }

    #[test]
    fn clone_may_start_threads_and_processes_but_not_namespaces() {
        let thread = (libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM
            | libc::CLONE_SETTLS
            | libc::CLONE_PARENT_SETTID
            | libc::CLONE_CHILD_CLEARTID) as u64;
        let fork = (libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID | libc::SIGCHLD) as u64;
        for arch in [Arch::X86_64, Arch::Aarch64] {
            assert_eq!(call(arch, "clone", [thread, 1, 2, 3, 4, 0]), RET_ALLOW);
            assert_eq!(call(arch, "clone", [fork, 0, 0, 0, 0, 0]), RET_ALLOW);
            for ns in [
                libc::CLONE_NEWUSER,
                libc::CLONE_NEWNS,
                libc::CLONE_NEWPID,
                libc::CLONE_NEWNET,
                libc::CLONE_NEWCGROUP,
                libc::CLONE_NEWIPC,
                libc::CLONE_NEWUTS,
            ] {
                let flags = fork | ns as u64;
                assert_eq!(call(arch, "clone", [flags, 0, 0, 0, 0, 0]), EPERM);
            }
            // High bits of the argument are not flags of clone.
            assert_eq!(
                call(arch, "clone", [fork | 1 << 40, 0, 0, 0, 0, 0]),
                RET_ALLOW
            );
            assert_eq!(
                call(arch, "clone3", [0; 6]),
                RET_ERRNO | libc::ENOSYS as u32
            );
            assert_eq!(call(arch, "unshare", [0; 6]), EPERM);
        }
    }

    #[test]
    fn a_foreign_architecture_or_x32_is_killed() {
        let f = compile(Arch::X86_64, POLICY);
        let i386 = Data {
            nr: 1,
            arch: 0x4000_0003,
            args: [0; 6],
        };
        assert_eq!(run(&f, &i386), RET_KILL_PROCESS);
        let x32 = Data {
            nr: X32_SYSCALL_BIT | 1,
            arch: Arch::X86_64.audit(),
            args: [0; 6],
        };
        assert_eq!(run(&f, &x32), RET_KILL_PROCESS);
        let aarch64_on_x86 = Data {
            nr: 0,
            arch: Arch::Aarch64.audit(),
            args: [0; 6],
        };
        assert_eq!(run(&f, &aarch64_on_x86), RET_KILL_PROCESS);
        let arm32 = Data {
            nr: 0,
            arch: 0x4000_0028,
            args: [0; 6],
        };
        assert_eq!(
            run(&compile(Arch::Aarch64, POLICY), &arm32),
            RET_KILL_PROCESS
        );
    }

    /// The filter as one test per rule, in the policy's order: what the
    /// search must decide alike for every call.
    fn linear(arch: Arch, rules: &[Rule]) -> Filter {
        let mut p = compile(arch, &[]).insns;
        p.pop(); // its allow
        for rule in rules {
            if let Some(nr) = rule.nr(arch) {
                p.extend(test(nr, rule));
            }
        }
        p.push(stmt(BPF_RET_K, RET_ALLOW));
        Filter { insns: p }
    }

    #[test]
    fn the_search_decides_every_call_as_one_test_per_rule_would_in_few_steps() {
        let clone_args = [0u64, libc::CLONE_NEWNET as u64, 1 << 40, u64::MAX];
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let (search, reference) = (compile(arch, POLICY), linear(arch, POLICY));
            let mut longest = 0;
            for nr in 0..1024 {
                for arg in clone_args {
                    let d = Data {
                        nr,
                        arch: arch.audit(),
                        args: [arg, 0, 0, 0, 0, 0],
                    };
                    assert_eq!(run(&search, &d), run(&reference, &d), "{nr} {arch:?}");
                    longest = longest.max(steps(&search, &d));
                }
            }
            assert!(longest <= 24, "{arch:?}: {longest} steps");
            let allowed = Data {
                nr: 0,
                arch: arch.audit(),
                args: [0; 6],
            };
            assert!(steps(&reference, &allowed) > 3 * steps(&search, &allowed));
        }
    }

    #[test]
    fn jumps_stay_inside_the_program_and_it_ends_in_a_return() {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let f = compile(arch, POLICY);
            assert!(f.insns.len() < 4096, "BPF_MAXINSNS");
            for (pc, i) in f.insns.iter().enumerate() {
                if i.code & 0x07 == libc::BPF_JMP as u16 {
                    let far = pc + 1 + usize::from(i.jt.max(i.jf));
                    assert!(far < f.insns.len(), "jump out at {pc}");
                }
            }
            assert_eq!(f.insns.last().unwrap().code, BPF_RET_K);
        }
    }

    #[test]
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    fn the_numbers_are_this_machine_s_numbers() {
        #[cfg(target_arch = "x86_64")]
        let (arch, native): (Arch, &[(&str, libc::c_long)]) = (
            Arch::X86_64,
            &[
                ("mount", libc::SYS_mount),
                ("ptrace", libc::SYS_ptrace),
                ("unshare", libc::SYS_unshare),
                ("clone", libc::SYS_clone),
                ("clone3", libc::SYS_clone3),
                ("init_module", libc::SYS_init_module),
                ("settimeofday", libc::SYS_settimeofday),
                ("bpf", libc::SYS_bpf),
                ("iopl", libc::SYS_iopl),
                ("mount_setattr", libc::SYS_mount_setattr),
            ],
        );
        #[cfg(target_arch = "aarch64")]
        let (arch, native): (Arch, &[(&str, libc::c_long)]) = (
            Arch::Aarch64,
            &[
                ("mount", libc::SYS_mount),
                ("ptrace", libc::SYS_ptrace),
                ("unshare", libc::SYS_unshare),
                ("clone", libc::SYS_clone),
                ("clone3", libc::SYS_clone3),
                ("init_module", libc::SYS_init_module),
                ("settimeofday", libc::SYS_settimeofday),
                ("bpf", libc::SYS_bpf),
                ("mount_setattr", libc::SYS_mount_setattr),
            ],
        );
        for (name, nr) in native {
            let rule = POLICY.iter().find(|r| r.name == *name).unwrap();
            assert_eq!(rule.nr(arch).map(libc::c_long::from), Some(*nr), "{name}");
        }
        assert_eq!(Arch::native(), Some(arch));
    }
}
