"""pymodbus 3.16 (its RTU client) against our Modbus simulator on a pty:
word order register, PV and SP (two registers, low word first), an FC16
setpoint write and its read-back, an enum written with FC06, loop 2, and
exception 02 for an unmapped register.

Usage: watlow_pymodbus.py PORT
Prints one JSON object with what pymodbus returned.
"""
import json
import struct
import sys

from pymodbus.client import ModbusSerialClient


def low_high(words):
    return struct.unpack(">f", struct.pack(">HH", words[1], words[0]))[0]


client = ModbusSerialClient(port=sys.argv[1], baudrate=9600, timeout=1, retries=0)
assert client.connect(), "could not open the port"
out = {}
out["word_order"] = client.read_holding_registers(2488, count=1, device_id=1).registers[0]
out["pv"] = low_high(client.read_holding_registers(360, count=2, device_id=1).registers)
out["sp"] = low_high(client.read_holding_registers(2160, count=2, device_id=1).registers)
high, low = struct.unpack(">HH", struct.pack(">f", 81.5))
write = client.write_registers(2160, [low, high], device_id=1)
out["sp_write_error"] = write.isError()
out["sp_after"] = low_high(client.read_holding_registers(2160, count=2, device_id=1).registers)
out["alg_write_error"] = client.write_register(1884, 62, device_id=1).isError()
out["alg_after"] = client.read_holding_registers(1884, count=1, device_id=1).registers[0]
out["pv_loop2"] = low_high(client.read_holding_registers(440, count=2, device_id=1).registers)
bad = client.read_holding_registers(5, count=1, device_id=1)
out["unmapped_exception"] = bad.exception_code if bad.isError() else None
client.close()
print(json.dumps(out))
