//! How execution environments are scheduled on the CPU.
//!
//! A runtime process and everything it starts run as `SCHED_BATCH`: a
//! function woken by its Runtime API answer (or by its own threads) does
//! not preempt whatever runs on that CPU — the server in the middle of a
//! batch of answers, or another environment in the middle of its
//! invocation — but takes its turn when that task blocks or its slice ends.
//! Its share of the CPU is unchanged (same weight, and the cgroup's quota
//! still applies); only wake-up preemption is given up. With many
//! environments per core that cuts involuntary switches per warm invoke
//! from ~3.5 to ~0.3 and the CPU an invocation costs by about a fifth (see
//! docs/sandbox.md, "Scheduling"). On an idle CPU nothing changes: a woken
//! task goes to an idle core without preempting anyone.
//!
//! `IGNIS_ENV_SCHED=normal` keeps the server's own class (`SCHED_OTHER`),
//! for an A/B.

use std::sync::OnceLock;

/// The class environments run in: a `SCHED_*` policy for
/// `sched_setscheduler(2)`. Reads `IGNIS_ENV_SCHED` once; call it before
/// forking, never in a forked child of a threaded process.
pub fn policy() -> libc::c_int {
    static POLICY: OnceLock<libc::c_int> = OnceLock::new();
    *POLICY.get_or_init(|| match std::env::var("IGNIS_ENV_SCHED").as_deref() {
        Ok("normal") => libc::SCHED_OTHER,
        _ => libc::SCHED_BATCH,
    })
}

/// Puts the calling thread into `policy` (from [`policy`]); children it
/// forks inherit it. Best effort: a host that refuses the change (a
/// seccomp profile around the server) still runs its environments, in the
/// server's class. Async-signal-safe: one system call, no allocation.
#[allow(unsafe_code)]
pub(crate) fn enter(policy: libc::c_int) {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler on the calling thread (pid 0) with a
    // parameter that lives across the call.
    unsafe { libc::sched_setscheduler(0, policy, &param) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_in_the_batch_class_stays_there_after_exec() {
        let policy = libc::SCHED_BATCH;
        // The child's `cat` reports its own class: field 41 of its stat.
        let mut cmd = std::process::Command::new("cat");
        cmd.arg("/proc/self/stat");
        #[allow(unsafe_code)]
        // SAFETY: the hook only makes one async-signal-safe system call.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                enter(policy);
                Ok(())
            });
        }
        let out = cmd.output().expect("run cat");
        let text = String::from_utf8_lossy(&out.stdout);
        let after_comm = text.rsplit_once(')').expect("a stat line").1;
        let field = after_comm.split_whitespace().nth(41 - 3);
        assert_eq!(
            field,
            Some(libc::SCHED_BATCH.to_string().as_str()),
            "{text}"
        );
    }
}
