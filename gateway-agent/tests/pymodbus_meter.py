"""An Acrel-like meter served by pymodbus, an independent Modbus implementation, for the
agent's cross-check test (tests/agent/pymodbus.rs).

Usage: python3 pymodbus_meter.py PORT

Slave 1. Values are encoded here with Python's struct module, not by our code:
  holding 0x0000 u32 big    energy 1234.56 kWh (x 0.01)
  holding 0x0002..0x0009    TOU sharp 1.00, peak 500.10, flat 400.00, valley 333.46 (u32 x 0.01)
  holding 0x0057..0x0058    relay control, Acrel style: [1, 1] trip, [1, 0] close; 0x0058
                            therefore reads 1 when open and 0 when closed
  input   0x0000 f32 big    voltage 221.3 V
  input   0x0002 u32 little current 1.200 A (x 0.001)
  input   0x0004 i32 big    power -0.260 kW (x 0.001, exporting)
Every write is printed as `WRITE fc=<function> addr=<address> values=<list>` on stdout.
Works with pymodbus 3.6 to 3.x (the SimDevice API where present, else the datastore API).
"""

import asyncio
import struct
import sys


def words(fmt, value):
    raw = struct.pack(fmt, value)
    return list(struct.unpack(">%dH" % (len(raw) // 2), raw))


def u32_big_scaled(x_hundredths):
    return words(">I", x_hundredths)


HOLDING = [0] * 0x60
HOLDING[0:2] = u32_big_scaled(123456)
HOLDING[2:4] = u32_big_scaled(100)
HOLDING[4:6] = u32_big_scaled(50010)
HOLDING[6:8] = u32_big_scaled(40000)
HOLDING[8:10] = u32_big_scaled(33346)
HOLDING[0x57:0x59] = [1, 0]

INPUT = [0] * 8
INPUT[0:2] = words(">f", 221.3)
low_first = words(">I", 1200)
INPUT[2:4] = [low_first[1], low_first[0]]
INPUT[4:6] = words(">i", -260)


def report(fc, address, values):
    print("WRITE fc=%d addr=%d values=%s" % (fc, address, [int(v) for v in values]), flush=True)


async def serve_simdevice(port):
    from pymodbus.server import StartAsyncTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    async def action(function_code, start_address, address, count, current_registers, set_values):
        if set_values is not None:
            report(function_code, address, set_values)
        return None

    device = SimDevice(
        id=1,
        simdata=(
            [SimData(0, count=8, values=0, datatype=DataType.BITS)],
            [SimData(0, count=8, values=0, datatype=DataType.BITS)],
            [SimData(0, values=HOLDING, datatype=DataType.REGISTERS)],
            [SimData(0, values=INPUT, datatype=DataType.REGISTERS)],
        ),
        action=action,
    )
    await StartAsyncTcpServer(context=device, address=("127.0.0.1", port))


async def serve_datastore(port):
    from pymodbus import datastore
    from pymodbus.server import StartAsyncTcpServer

    class Block(datastore.ModbusSequentialDataBlock):
        def setValues(self, address, values):  # noqa: N802 (pymodbus's name)
            # The datastore API stores protocol address a at a + 1.
            report(16 if len(values) > 1 else 6, address - 1, values)
            super().setValues(address, values)

    device_class = getattr(datastore, "ModbusDeviceContext", None) or datastore.ModbusSlaveContext
    device = device_class(
        di=datastore.ModbusSequentialDataBlock(1, [0] * 8),
        co=datastore.ModbusSequentialDataBlock(1, [0] * 8),
        hr=Block(1, HOLDING),
        ir=datastore.ModbusSequentialDataBlock(1, INPUT),
    )
    try:
        context = datastore.ModbusServerContext(devices={1: device}, single=False)
    except TypeError:
        context = datastore.ModbusServerContext(slaves={1: device}, single=False)
    await StartAsyncTcpServer(context=context, address=("127.0.0.1", port))


def main():
    port = int(sys.argv[1])
    try:
        from pymodbus.simulator import SimDevice  # noqa: F401
        serve = serve_simdevice
    except ImportError:
        serve = serve_datastore
    asyncio.run(serve(port))


if __name__ == "__main__":
    main()
