//! Child processes that inherit nothing but their standard streams.

use std::os::unix::process::CommandExt;

/// Makes `command`'s child close every descriptor above stderr when it
/// executes its program: only stdin, stdout and stderr (as the command sets
/// them up) reach it. For a `tokio::process::Command`, pass
/// `command.as_std_mut()`.
pub fn inherit_nothing(command: &mut std::process::Command) -> &mut std::process::Command {
    // SAFETY: the closure runs in the forked child before exec and calls
    // only async-signal-safe functions (syscall, getrlimit, fcntl); it
    // allocates nothing and takes no lock.
    unsafe { command.pre_exec(mark_all_close_on_exec) }
}

/// Marks descriptors 3 and up close-on-exec (not closed: the standard
/// library's own exec-error pipe, already close-on-exec, must keep working
/// until the exec).
fn mark_all_close_on_exec() -> std::io::Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes descriptor
    // flags; its arguments are plain integers.
    let done = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if done == 0 {
        return Ok(());
    }
    // Kernels before 5.11 lack the flag: mark each possible descriptor.
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct passed; fcntl on a number
    // that is not an open descriptor fails harmlessly with EBADF.
    unsafe {
        let top = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur.min(1 << 16) as libc::c_int
        } else {
            1024
        };
        for fd in 3..top {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_child_sees_only_its_standard_streams() {
        let _one = crate::ONE_TEST_AT_A_TIME
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // An inheritable descriptor, as HDF5 leaves its files.
        let dir = tempfile::tempdir().unwrap();
        let open = std::fs::File::create(dir.path().join("held")).unwrap();
        // A number no child opens by itself (its own listing takes the lowest
        // free one); F_DUPFD leaves the copy inheritable.
        // SAFETY: duplicating a descriptor this test owns.
        let fd = unsafe { libc::fcntl(open.as_raw_fd(), libc::F_DUPFD, 100) };
        assert!(fd >= 100);
        let listing = |inherit: bool| {
            let mut command = std::process::Command::new("ls");
            command.arg("/proc/self/fd");
            if !inherit {
                inherit_nothing(&mut command);
            }
            let out = command.output().unwrap();
            assert!(out.status.success());
            String::from_utf8(out.stdout).unwrap()
        };
        let leaked = listing(true);
        assert!(
            leaked.split_whitespace().any(|n| n == fd.to_string()),
            "without the rule the child inherits descriptor {fd}: {leaked}"
        );
        let clean = listing(false);
        // ls itself opens /proc/self/fd (one more descriptor): 0, 1, 2, that.
        let numbers: Vec<i32> = clean
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        assert!(numbers.iter().all(|n| *n <= 3), "{clean}");
        // SAFETY: closing the copy made above.
        unsafe { libc::close(fd) };
    }
}
