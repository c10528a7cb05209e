"""watlowlib 0.8.1 (Python >= 3.13) against our simulators on ptys, both
protocols: PV and SP reads, a confirmed setpoint write and its read-back,
and its record() of PV and SP at 5 Hz for 10 s.

Usage: watlow_watlowlib.py STDBUS_PORT MODBUS_PORT
Prints one JSON object.
"""
import json
import sys

import anyio
from watlowlib import open_device
from watlowlib.protocol.base import ProtocolKind
from watlowlib.streaming.recorder import record
from watlowlib.transport import SerialSettings


async def one(port, protocol, **kw):
    out = {}
    ctl = await open_device(port, address=1, protocol=protocol, identify=False, **kw)
    async with ctl:
        out["pv"] = (await ctl.read_pv()).value
        out["sp"] = (await ctl.read_setpoint()).value
        out["set"] = (await ctl.set_setpoint(82.5, confirm=True)).value
        out["sp_after"] = (await ctl.read_setpoint()).value
        rows = 0
        async with record(
            ctl, parameters=["process_value", "setpoint"], rate_hz=5, duration=10
        ) as recording:
            async for batch in recording.stream:
                rows += len(batch)
        s = recording.summary
        out["record"] = {
            "rows": rows,
            "emitted": s.samples_emitted,
            "late": s.samples_late,
            "max_drift_ms": s.max_drift_ms,
            "p99_ms": s.tick_duration_ms_p99,
        }
    return out


async def main():
    result = {"stdbus": await one(sys.argv[1], ProtocolKind.STDBUS)}
    result["modbus"] = await one(
        sys.argv[2],
        ProtocolKind.MODBUS_RTU,
        serial_settings=SerialSettings(port=sys.argv[2], baudrate=9600),
    )
    print(json.dumps(result))


anyio.run(main)
