"""A protocol-speaking callback that misbehaves on purpose, for the tests.

usage: misbehaving.py MODE STEPS
MODE: crash (exit 3), hang (sleep), garbage (a non-JSON line) or error (an
"error" reply) when a pre_step message names a step in STEPS
(comma-separated, 1-based). Otherwise it answers ok; post_step replies carry
its pid, so a test can tell a restarted process from the first one.
"""
import json
import os
import sys
import time

mode, steps = sys.argv[1], {int(s) for s in sys.argv[2].split(",")}
for line in sys.stdin:
    message = json.loads(line)
    if message["type"] == "pre_step" and message["step"] in steps:
        print(f"misbehaving: {mode} at step {message['step']}",
              file=sys.stderr, flush=True)
        if mode == "crash":
            sys.exit(3)
        if mode == "hang":
            time.sleep(3600)
        if mode == "garbage":
            print("Traceback (most recent call last): oops", flush=True)
            continue
        if mode == "error":
            print(json.dumps({"status": "error", "message": "no beam seen"}), flush=True)
            continue
    reply = {"status": "ok"}
    if message["type"] == "post_step":
        reply["extra"] = {"pid": os.getpid()}
    print(json.dumps(reply), flush=True)
