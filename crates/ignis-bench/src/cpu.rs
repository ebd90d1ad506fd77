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

/// CPU nanoseconds of one request's parties, summed over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// The load generator's thread.
    pub client: u64,
    /// The server process (ignis) or thread (floor).
    pub server: u64,
    /// What runs below the server (its environments); `None` for the floor.
    pub function: Option<u64>,
    /// The client thread's own time taking this sample (reading the
    /// server's and its environments' `/proc` files), which is no part of
    /// the requests measured from it.
    pub sampling: u64,
}

impl Sample {
    /// Samples the client's thread and what `read` says the server and
    /// what runs below it have used. The client's time is read before and
    /// after `read`: a walk of the environments' `/proc` entries costs the
    /// client's thread as much as a block of requests, and counted it
    /// tripled the client's CPU per warm invoke in the report.
    pub fn take(read: impl FnOnce() -> (u64, Option<u64>)) -> Sample {
        Self::take_on(main_thread_ns, read)
    }

    /// [`Sample::take`] with the client's thread timed by `clock`.
    fn take_on(clock: impl Fn() -> u64, read: impl FnOnce() -> (u64, Option<u64>)) -> Sample {
        let client = clock();
        let (server, function) = read();
        Sample {
            client,
            server,
            function,
            sampling: clock().saturating_sub(client),
        }
    }

    /// Adds what was used between `before` and `after`.
    pub fn add(&mut self, before: &Sample, after: &Sample) {
        self.client += after.client.saturating_sub(before.client + before.sampling);
        self.server += after.server.saturating_sub(before.server);
        if let (Some(a), Some(b)) = (before.function, after.function) {
            *self.function.get_or_insert(0) += b.saturating_sub(a);
        }
    }
}

/// Nanoseconds the process's main thread has run: the load generators'
/// single-threaded runtime runs there ([`crate::block_on_timed`]).
pub fn main_thread_ns() -> u64 {
    own_thread_ns(std::process::id())
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
    fn samples_add_differences() {
        let mut total = Sample::default();
        // The client spent 2 of its 5 taking the first sample.
        let before = Sample {
            client: 10,
            server: 100,
            function: Some(5),
            sampling: 2,
        };
        let after = Sample {
            client: 15,
            server: 130,
            function: Some(9),
            sampling: 4,
        };
        total.add(&before, &after);
        total.add(&before, &after);
        assert_eq!(
            (total.client, total.server, total.function),
            (6, 60, Some(8))
        );
        let mut floor = Sample::default();
        floor.add(&Sample::default(), &Sample::default());
        assert_eq!(floor.function, None);
    }

    #[test]
    fn taking_a_sample_keeps_its_own_cost_out() {
        let tid = current_thread_id().unwrap();
        let s = Sample::take_on(
            || own_thread_ns(tid),
            || {
                let spin = (0..2_000_000u64).fold(0u64, |a, b| a.wrapping_add(b * b));
                std::hint::black_box(spin);
                (1, None)
            },
        );
        assert!(s.sampling > 0, "the read's own CPU is measured");
        let mut total = Sample::default();
        let after = Sample {
            client: s.client + s.sampling,
            ..s
        };
        total.add(&s, &after);
        assert_eq!(total.client, 0, "a sample's own cost is no request's");
    }

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
