"""What the daemon's Python test peers share: `check` counts the checks and
stops at the first that fails (the Rust test shows its message); the
processes in `started` are stopped when the peer exits, however it exits."""

import atexit

count = 0
started = []


def check(cond, what):
    global count
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    count += 1


@atexit.register
def _no_leftovers():
    """A failed check exits at once: stop what the peer started anyway."""
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
