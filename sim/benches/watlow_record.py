"""watlowlib 0.8.1's record() of PV and SP from N simulated PMs on the
given Standard Bus ports (devices spread over them), for the Rust bench.

Usage: watlow_record.py RATE_HZ SECONDS N PORT [PORT ...]
Prints one JSON object: the summary and the CPU seconds this process used.
"""
import json
import resource
import sys

import anyio
from watlowlib.manager import WatlowManager
from watlowlib.protocol.base import ProtocolKind
from watlowlib.streaming.recorder import record


async def main():
    rate, seconds, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    ports = sys.argv[4:]
    manager = WatlowManager()
    async with manager:
        for i in range(n):
            port = ports[i % len(ports)]
            address = i // len(ports) + 1
            await manager.add(f"d{i}", port, protocol=ProtocolKind.STDBUS, address=address)
        before = resource.getrusage(resource.RUSAGE_SELF)
        rows = 0
        async with record(
            manager, parameters=["process_value", "setpoint"], rate_hz=rate, duration=seconds
        ) as recording:
            async for batch in recording.stream:
                rows += len(batch)
        after = resource.getrusage(resource.RUSAGE_SELF)
        s = recording.summary
        print(json.dumps({
            "rows": rows,
            "emitted": s.samples_emitted,
            "late": s.samples_late,
            "max_drift_ms": s.max_drift_ms,
            "p50_ms": s.tick_duration_ms_p50,
            "p99_ms": s.tick_duration_ms_p99,
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        }))


anyio.run(main)
