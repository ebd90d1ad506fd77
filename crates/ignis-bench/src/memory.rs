//! Memory of an execution environment as the host sees it: the
//! environment's processes (below the server: the `namespace` sandbox's
//! `ignis-init` and the runtime it forked, or the `process` sandbox's
//! runtime) and their unshared (USS) and proportional (PSS) memory from
//! `/proc/<pid>/smaps_rollup`.

use std::collections::HashMap;
use std::fs;

use sha2::{Digest, Sha256};

use crate::server::descendants;

/// Memory of a set of processes, KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Processes summed.
    pub processes: usize,
    /// Unshared: `Private_Clean + Private_Dirty + Private_Hugetlb`.
    pub uss_kib: u64,
    /// Proportional share: `Pss`.
    pub pss_kib: u64,
    /// Written pages no other process maps: `Private_Dirty`. Unlike the
    /// USS, it does not grow when no other process happens to map the
    /// same file (an interpreter's text is private to the only process
    /// running it).
    pub private_dirty_kib: u64,
    /// Resident: `Rss`.
    pub rss_kib: u64,
}

impl Footprint {
    /// The footprint of one process; `None` when it is gone or unreadable.
    pub fn of_process(pid: u32) -> Option<Self> {
        let text = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
        Some(parse_rollup(&text))
    }

    /// The sum over `pids` (processes that vanished count as nothing).
    pub fn of_processes(pids: &[u32]) -> Self {
        pids.iter()
            .filter_map(|&p| Self::of_process(p))
            .fold(Self::default(), |a, b| Self {
                processes: a.processes + b.processes,
                uss_kib: a.uss_kib + b.uss_kib,
                pss_kib: a.pss_kib + b.pss_kib,
                private_dirty_kib: a.private_dirty_kib + b.private_dirty_kib,
                rss_kib: a.rss_kib + b.rss_kib,
            })
    }
}

/// One process's footprint from its `smaps_rollup` text.
fn parse_rollup(text: &str) -> Footprint {
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Footprint {
        processes: 1,
        uss_kib: field("Private_Clean") + field("Private_Dirty") + field("Private_Hugetlb"),
        pss_kib: field("Pss"),
        private_dirty_kib: field("Private_Dirty"),
        rss_kib: field("Rss"),
    }
}

/// The directory name Ignis keeps a deployment package's code under (the
/// SHA-256 of the zip, in hex), which an environment shows at `/var/task`.
pub fn code_id(zip: &[u8]) -> String {
    format!("{:x}", Sha256::digest(zip))
}

/// The processes of function `function`'s environments below the server
/// `server`, one list per environment: each child of the server (an
/// environment's init or runtime) with everything below it, kept when one
/// of them has the function's code (`code_id`) at `/var/task` or names the
/// function in `AWS_LAMBDA_FUNCTION_NAME`. An environment started ahead of
/// its function and not yet given one has neither.
pub fn function_environments(server: u32, function: &str, code_id: &str) -> Vec<Vec<u32>> {
    let all = descendants(server);
    let parent: HashMap<u32, u32> = all.iter().filter_map(|&p| Some((p, ppid(p)?))).collect();
    // Each process's ancestor that is a child of the server.
    let root_of = |mut pid: u32| -> Option<u32> {
        for _ in 0..64 {
            let up = *parent.get(&pid)?;
            if up == server {
                return Some(pid);
            }
            pid = up;
        }
        None
    };
    let mut groups: HashMap<u32, Vec<u32>> = HashMap::new();
    for &pid in &all {
        if let Some(root) = root_of(pid) {
            groups.entry(root).or_default().push(pid);
        }
    }
    let mut envs: Vec<Vec<u32>> = groups
        .into_values()
        .filter(|pids| {
            pids.iter()
                .any(|&p| shows_code(p, code_id) || names_function(p, function))
        })
        .collect();
    for env in &mut envs {
        env.sort_unstable();
    }
    envs.sort();
    envs
}

/// The parent of `pid`, from `/proc/<pid>/stat`.
fn ppid(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Whether `pid` has the code directory `code_id` mounted at `/var/task`
/// (`namespace`), or runs in it (`process`).
fn shows_code(pid: u32, code_id: &str) -> bool {
    let in_mounts = fs::read_to_string(format!("/proc/{pid}/mountinfo")).is_ok_and(|m| {
        m.lines().any(|l| {
            let mut f = l.split_whitespace();
            let (root, point) = (f.nth(3), f.next());
            point == Some("/var/task") && root.is_some_and(|r| r.ends_with(code_id))
        })
    });
    in_mounts
        || fs::read_link(format!("/proc/{pid}/cwd"))
            .is_ok_and(|cwd| cwd.to_string_lossy().contains(code_id))
}

/// Whether `pid`'s initial environment names `function`.
fn names_function(pid: u32, function: &str) -> bool {
    let want = format!("AWS_LAMBDA_FUNCTION_NAME={function}");
    fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == want.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollup_fields_sum_to_uss() {
        let text = "55d0-7ffc ---p 00000000 00:00 0 [rollup]\nRss:  12504 kB\nPss:  10618 kB\nPss_Dirty: 5628 kB\nShared_Clean: 2176 kB\nPrivate_Clean:  4700 kB\nPrivate_Dirty:  5628 kB\nPrivate_Hugetlb: 0 kB\n";
        let f = parse_rollup(text);
        assert_eq!((f.uss_kib, f.pss_kib, f.rss_kib), (10_328, 10_618, 12_504));
        assert_eq!(f.private_dirty_kib, 5628);
    }

    #[test]
    fn this_process_has_a_footprint_and_a_child_is_found_by_its_environment() {
        let me = Footprint::of_process(std::process::id()).unwrap();
        assert!(me.uss_kib > 0 && me.rss_kib >= me.uss_kib);
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench-memory-test")
            .spawn()
            .unwrap();
        let found = function_environments(std::process::id(), "bench-memory-test", "none");
        let other = function_environments(std::process::id(), "another", "none");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(found, vec![vec![child.id()]]);
        assert!(other.is_empty());
        assert_eq!(code_id(b"").len(), 64);
    }
}
