//! CPU time of processes and threads from `/proc/<pid>/task/<tid>/schedstat`
//! (nanoseconds on CPU), to split what one request costs between client,
//! server and function.

use std::fs;
use std::path::Path;

/// Nanoseconds all threads of process `pid` have run (live threads only).
pub fn process_ns(pid: u32) -> u64 {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| schedstat_ns(&t.path()))
        .sum()
}

/// Nanoseconds thread `tid` of this process has run.
pub fn own_thread_ns(tid: u32) -> u64 {
    schedstat_ns(Path::new(&format!("/proc/self/task/{tid}"))).unwrap_or(0)
}

/// The kernel's id of the calling thread (from `/proc/thread-self`).
pub fn current_thread_id() -> Option<u32> {
    fs::read_link("/proc/thread-self")
        .ok()?
        .file_name()?
        .to_str()?
        .parse()
        .ok()
}

fn schedstat_ns(task: &Path) -> Option<u64> {
    fs::read_to_string(task.join("schedstat"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_told_apart_and_use_cpu() {
        let here = current_thread_id().unwrap();
        let (there, spent) = std::thread::spawn(|| {
            let spin = (0..5_000_000u64).fold(0u64, |a, b| a.wrapping_add(b * b));
            std::hint::black_box(spin);
            let tid = current_thread_id().unwrap();
            (tid, own_thread_ns(tid))
        })
        .join()
        .unwrap();
        assert_ne!(here, there);
        assert!(spent > 0);
        assert!(process_ns(std::process::id()) > 0);
    }
}
