#!/usr/bin/env python3
"""A stock EPICS IOC hosting the daemon's PVs: pythonSoftIOC (EPICS dbCore
and rsrv, from PyPI `softioc`) loading deploy/db/fws_daemon.db, for the
end-to-end run with `fws-daemon --pv-host ioc`.

usage: ioc_host.py DB_FILE PREFIX
Serves on EPICS_CA_SERVER_PORT (loopback settings from the environment);
prints READY once iocInit is done.
"""
import sys
import time

from softioc import asyncio_dispatcher, softioc

softioc.dbLoadDatabase(sys.argv[1], substitutions=f"P={sys.argv[2]}")
softioc.iocInit(asyncio_dispatcher.AsyncioDispatcher())
print("READY", flush=True)
while True:
    time.sleep(3600)
