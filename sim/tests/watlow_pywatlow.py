"""pywatlow 0.1.4, the independent Standard Bus client, against our
simulator on a pty: reads PV and SP, writes a float SP and an enum, talks to
address 2, and gets "no response" from an absent address.

Usage: watlow_pywatlow.py PORT
Prints one JSON object with what pywatlow returned.
"""
import json
import sys

from pywatlow.watlow import Watlow

port = sys.argv[1]
out = {}
one = Watlow(port=port, address=1, timeout=0.5)
out["pv"] = one.read()["data"]
out["sp"] = one.readSetpoint()["data"]
written = one.write(80.5)
out["sp_echo"] = written["data"]
out["sp_after"] = one.readSetpoint()["data"]
out["alg"] = one.readParam(8003, int)["data"]
out["alg_echo"] = one.writeParam(8003, 62, int)["data"]
out["alg_after"] = one.readParam(8003, int)["data"]
one.close()
two = Watlow(port=port, address=2, timeout=0.5)
out["pv2"] = two.read()["data"]
two.close()
absent = Watlow(port=port, address=3, timeout=0.5)
reply = absent.read()
out["absent_error"] = str(reply["error"])
absent.close()
print(json.dumps(out))
