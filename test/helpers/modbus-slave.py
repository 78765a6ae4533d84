#!/usr/bin/python3
"""
A Modbus slave from another implementation (pymodbus 3.0), for evse-edge's driver tests.

  modbus-slave.py serve (--rtu TTY [--baud N] | --tcp) --unit ID:PROFILE.json[:VALUES.json] ...
      Serves one or more units. Each meter profile's values are encoded here, independently of
      the TypeScript codec (struct, not our code), from VALUES.json: {"<measurand>|<phase>": v}
      in the profile's own unit, or raw registers {"hr:1002": 1} at their wire address.
      A unit spec ID:PROFILE.json:VALUES.json:KEY.pem whose profile has `signing` signs like
      that meter (OCMF over registers, the profile's addresses and codes): begin/end commands,
      metadata, the signed payload and its DER signature (ECDSA secp256r1, python-cryptography,
      not our code), the public key's raw X||Y.
      Prints "READY <port>" (TCP) or "READY" (RTU). Commands on stdin, one a line:
        set UNIT FC ADDR V1[,V2...]    raw registers (wire address)
        val UNIT KEY VALUE             a meter value in the profile's unit, encoded per profile
        get UNIT FC ADDR COUNT         prints "= v1 v2 ..."
        quit
  modbus-slave.py relay --agent TTY --slave TTY [--baud N]
      Copies bytes both ways between two ptys. With --baud, delivers them at 10 bits per
      character, as a real RS-485 line would. Commands on stdin:
        mode pass | mode flip | mode drop    applied to responses (slave -> agent)
        baud N                               (0: no pacing)
  modbus-slave.py frames --profile P.json --values V.json --unit ID --read FC:ADDR:COUNT ...
      Prints request and response RTU frames as hex (fixture generation).
"""
import argparse
import asyncio
import json
import os
import select
import struct
import sys
import termios
import tty

MEASURAND_KEY_SEP = "|"


def key_of(v):
    return v["measurand"] + MEASURAND_KEY_SEP + v.get("phase", "")


def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


TYPES = {
    "int16": (">h", 1), "uint16": (">H", 1), "int32": (">i", 2), "uint32": (">I", 2),
    "float32": (">f", 2), "int64": (">q", 4), "uint64": (">Q", 4),
}


def encode(value_spec, engineering, exponent=0):
    """Engineering value (profile unit) -> list of 16-bit register values, per the profile."""
    fmt, words = TYPES[value_spec["type"]]
    raw = engineering / (value_spec["scale"] * (10 ** exponent))
    if value_spec["type"] != "float32":
        raw = int(round(raw))
    data = struct.pack(fmt, raw)
    regs = [data[i:i + 2] for i in range(0, len(data), 2)]
    if value_spec.get("wordOrder") == "lsw-first":
        regs.reverse()
    if value_spec["byteOrder"] == "little":
        regs = [r[::-1] for r in regs]
    return [struct.unpack(">H", r)[0] for r in regs]


def wire(profile, address):
    return address - profile["addressBase"]


class Unit:
    def __init__(self, unit_id, profile, values):
        self.unit_id = unit_id
        self.profile = profile
        self.values = values
        self.regs = {3: {}, 4: {}}

    def set_raw(self, fc, addr, values):
        for i, v in enumerate(values):
            self.regs[fc][addr + i] = v & 0xFFFF

    def set_value(self, key, engineering):
        for spec in self.profile.get("values", []):
            if key_of(spec) == key:
                exponent = 0
                if "exponentRegister" in spec:
                    e = spec["exponentRegister"]
                    exponent = -1
                    self.set_raw(e["functionCode"], wire(self.profile, e["address"]), [exponent & 0xFFFF])
                self.set_raw(spec["functionCode"], wire(self.profile, spec["address"]), encode(spec, engineering, exponent))
                return True
        return False

    def load(self):
        for k, v in self.values.items():
            if k.startswith("hr:") or k.startswith("ir:"):
                # a raw register at its wire address: "hr:1002": 1
                self.set_raw(3 if k.startswith("hr:") else 4, int(k[3:]), [int(v)])
            elif not self.set_value(k, v):
                raise SystemExit(f"unknown value key {k} for {self.profile['id']}")


def regs_of(data: bytes):
    if len(data) % 2:
        data += b"\0"
    return [struct.unpack(">H", data[i:i + 2])[0] for i in range(0, len(data), 2)]


def bytes_of(regs, length):
    return b"".join(struct.pack(">H", r) for r in regs)[:length]


class OcmfMeter:
    """The signing behaviour of a calibration-law meter, driven by its profile's `signing` block."""

    def __init__(self, unit, key_file):
        from cryptography.hazmat.primitives import serialization
        with open(key_file, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        self.unit = unit
        self.sg = unit.profile["signing"]
        self.page = 1
        self.begin = None
        self.hr = None
        self.ir = None
        nums = self.key.public_key().public_numbers()
        raw = nums.x.to_bytes(32, "big") + nums.y.to_bytes(32, "big")
        sg = self.sg
        # Every register of the signing interface is readable and writable.
        addrs = [sg["state"]["address"], sg["command"]["address"], sg["status"]["address"], sg["publicKey"]["address"] + sg["publicKey"]["registers"],
                 *sg["clock"].values(), *(b[k] + (b["maxRegisters"] if k == "address" else 1) for b in (sg["metadata"], sg["record"], sg["signature"]) for k in ("address", "lengthAddress"))]
        if "algorithm" in sg:
            addrs.append(sg["algorithm"]["address"])
        for a in range(min(addrs), max(addrs) + 1):
            unit.regs[3].setdefault(a, 0)
        unit.set_raw(3, sg["publicKey"]["address"], regs_of(raw))
        unit.set_raw(3, sg["state"]["address"], [sg["state"]["idle"]])
        unit.set_raw(3, sg["status"]["address"], [1])
        if "algorithm" in sg:
            # the signature format it is set to (a test may `set` another)
            unit.set_raw(3, sg["algorithm"]["address"], [sg["algorithm"]["value"]])

    def get(self, addr, n=1):
        return self.hr.getValues(addr, n)

    def energy_wh(self):
        spec = next(v for v in self.unit.profile["values"] if key_of(v) == "Energy.Active.Import.Register|")
        fmt, words = TYPES[spec["type"]]
        regs = self.ir.getValues(wire(self.unit.profile, spec["address"]), words) if spec["functionCode"] == 4 else self.get(wire(self.unit.profile, spec["address"]), words)
        if spec.get("wordOrder") == "lsw-first":
            regs = list(reversed(regs))
        raw = struct.unpack(fmt, b"".join(struct.pack(">H", r) for r in regs))[0]
        exponent = 0
        if "exponentRegister" in spec:
            e = spec["exponentRegister"]
            ex = (self.ir if e["functionCode"] == 4 else self.hr).getValues(wire(self.unit.profile, e["address"]), 1)[0]
            exponent = ex - 0x10000 if ex & 0x8000 else ex
        return raw * spec["scale"] * (10 ** exponent) * (1000 if spec["unit"] == "kWh" else 1)

    def reading(self, tx):
        import datetime
        c = self.sg["clock"]
        hi, lo = self.get(c["unixSecondsAddress"], 2)
        synced = self.get(c["syncAddress"])[0] == c["synced"]
        t = datetime.datetime.fromtimestamp((hi << 16) | lo, datetime.timezone.utc)
        return {"TM": t.strftime("%Y-%m-%dT%H:%M:%S") + ",000+0000 " + ("S" if synced else "U"), "TX": tx,
                "RV": round(self.energy_wh()) / 1000, "RI": "1-b:1.8.0", "RU": "kWh", "RT": "AC", "EF": "", "ST": "G"}

    def command(self, code):
        sg = self.sg
        state = self.get(sg["state"]["address"])[0]
        if code == sg["command"]["begin"]:
            if state != sg["state"]["idle"]:
                self.hr.setValues(sg["status"]["address"], [131])  # invalid state
                return
            self.begin = self.reading("B")
            self.hr.setValues(sg["state"]["address"], [sg["state"]["active"][0]])
            self.hr.setValues(sg["status"]["address"], [sg["status"]["ok"]])
        elif code == sg["command"]["end"]:
            if state == sg["state"]["idle"] or self.begin is None:
                self.hr.setValues(sg["status"]["address"], [131])
                return
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import ec
            md = sg["metadata"]
            meta = json.loads(bytes_of(self.get(md["address"], md["maxRegisters"]), self.get(md["lengthAddress"])[0]).decode() or "{}")
            payload = dict(meta)
            payload.update({"PG": f"T{self.page}", "MV": "Iskra", "MM": "WM3M4C", "MS": "ISK-SIM-0001",
                            "RD": [self.begin, self.reading("E" if state == sg["state"]["active"][0] else "L")]})
            text = json.dumps(payload, separators=(",", ":")).encode()
            der = self.key.sign(text, ec.ECDSA(hashes.SHA256()))
            self.page += 1
            rec, sig = sg["record"], sg["signature"]
            self.hr.setValues(rec["address"], regs_of(text))
            self.hr.setValues(rec["lengthAddress"], [len(text)])
            self.hr.setValues(sig["address"], regs_of(der))
            self.hr.setValues(sig["lengthAddress"], [len(der)])
            self.begin = None
            self.hr.setValues(sg["state"]["address"], [sg["state"]["idle"]])
            self.hr.setValues(sg["status"]["address"], [sg["status"]["ok"]])


def build_context(units):
    from pymodbus.datastore import ModbusServerContext, ModbusSlaveContext, ModbusSparseDataBlock

    class SigningBlock(ModbusSparseDataBlock):
        def __init__(self, values, meter):
            super().__init__(values)
            self.meter = meter

        def setValues(self, address, values, use_as_default=False):
            super().setValues(address, values, use_as_default)
            if address == self.meter.sg["command"]["address"] and len(values) == 1:
                self.meter.command(values[0])

    slaves = {}
    for u in units:
        if u.signer:
            hr = SigningBlock({a: v for a, v in u.regs[3].items()}, u.signer)
            u.signer.hr = hr
        else:
            hr = ModbusSparseDataBlock({a: v for a, v in u.regs[3].items()} or {0: 0})
        ir = ModbusSparseDataBlock({a: v for a, v in u.regs[4].items()} or {0: 0})
        if u.signer:
            u.signer.ir = ir
        slaves[u.unit_id] = ModbusSlaveContext(hr=hr, ir=ir, zero_mode=True)
    return ModbusServerContext(slaves=slaves, single=False)


def fill_gaps(u):
    # Every register a profile names is readable, and so are the gaps between them (a meter
    # answers reads across its whole map): fill 0 up to 200 registers between neighbours.
    for fc in (3, 4):
        addrs = sorted(u.regs[fc])
        for a, b in zip(addrs, addrs[1:]):
            if b - a < 200:
                for x in range(a + 1, b):
                    u.regs[fc].setdefault(x, 0)


def parse_unit(spec):
    parts = spec.split(":")
    unit_id = int(parts[0])
    with open(parts[1]) as f:
        profile = json.load(f)
    values = {}
    if len(parts) > 2 and parts[2]:
        with open(parts[2]) as f:
            values = json.load(f)
    u = Unit(unit_id, profile, values)
    u.load()
    u.signer = OcmfMeter(u, parts[3]) if len(parts) > 3 and parts[3] and "signing" in profile else None
    fill_gaps(u)
    return u


async def serve(args):
    from pymodbus.framer.rtu_framer import ModbusRtuFramer
    from pymodbus.server.async_io import ModbusSerialServer, ModbusTcpServer
    import logging

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    units = [parse_unit(s) for s in args.unit]
    ctx = build_context(units)
    by_id = {u.unit_id: (u, ctx[u.unit_id]) for u in units}
    loop = asyncio.get_running_loop()
    if args.tcp:
        server = ModbusTcpServer(ctx, address=("127.0.0.1", 0))
        task = asyncio.create_task(server.serve_forever())
        while server.server is None:
            await asyncio.sleep(0.01)
        port = server.server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
    else:
        server = ModbusSerialServer(ctx, framer=ModbusRtuFramer, port=args.rtu, baudrate=args.baud,
                                    bytesize=8, parity="N", stopbits=1, timeout=0.005)
        await server.start()
        task = asyncio.create_task(server.serve_forever())
        print("READY", flush=True)

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = line.decode().split()
        if not cmd:
            continue
        try:
            if cmd[0] == "quit":
                break
            u, slave = by_id[int(cmd[1])]
            if cmd[0] == "set":
                slave.setValues(int(cmd[2]), int(cmd[3]), [int(x) & 0xFFFF for x in cmd[4].split(",")])
                print("OK", flush=True)
            elif cmd[0] == "val":
                u.regs = {3: {}, 4: {}}
                if not u.set_value(cmd[2], float(cmd[3])):
                    print("ERR unknown key", flush=True)
                    continue
                for fc in (3, 4):
                    for a, v in u.regs[fc].items():
                        slave.setValues(fc, a, [v])
                print("OK", flush=True)
            elif cmd[0] == "get":
                vals = slave.getValues(int(cmd[2]), int(cmd[3]), int(cmd[4]))
                print("= " + " ".join(str(v) for v in vals), flush=True)
        except Exception as exc:  # report, keep serving
            print(f"ERR {exc}", flush=True)
    task.cancel()
    os._exit(0)


def open_raw(path):
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    tty.setraw(fd, termios.TCSANOW)
    return fd


def relay(args):
    agent = open_raw(args.agent)
    slave = open_raw(args.slave)
    mode = "pass"
    baud = args.baud
    stdin = sys.stdin.fileno()
    print("READY", flush=True)
    dropped_or_flipped = 0
    while True:
        r, _, _ = select.select([agent, slave, stdin], [], [])
        if stdin in r:
            line = sys.stdin.readline()
            if not line:
                break
            cmd = line.split()
            if cmd and cmd[0] == "mode":
                mode = cmd[1]
            elif cmd and cmd[0] == "baud":
                baud = int(cmd[1])
            print("OK", flush=True)
        for src, dst, is_response in ((agent, slave, False), (slave, agent, True)):
            if src not in r:
                continue
            try:
                data = os.read(src, 4096)
            except BlockingIOError:
                continue
            except OSError:
                return
            if not data:
                continue
            if is_response and mode == "drop":
                dropped_or_flipped += 1
                continue
            if is_response and mode == "flip":
                b = bytearray(data)
                b[len(b) // 2] ^= 0x5A
                data = bytes(b)
                dropped_or_flipped += 1
            if baud:
                import time
                time.sleep(len(data) * 10 / baud)
            os.write(dst, data)


def frames(args):
    with open(args.profile) as f:
        profile = json.load(f)
    with open(args.values) as f:
        values = json.load(f)
    u = Unit(args.unit, profile, values)
    u.load()
    for spec in args.read:
        fc, addr, count = (int(x) for x in spec.split(":"))
        req = struct.pack(">BBHH", args.unit, fc, addr, count)
        req += struct.pack("<H", crc16(req))
        regs = [u.regs[fc].get(addr + i, 0) for i in range(count)]
        resp = struct.pack(">BBB", args.unit, fc, count * 2) + b"".join(struct.pack(">H", r) for r in regs)
        resp += struct.pack("<H", crc16(resp))
        print("> " + req.hex())
        print("< " + resp.hex())


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--rtu")
    s.add_argument("--tcp", action="store_true")
    s.add_argument("--baud", type=int, default=9600)
    s.add_argument("--unit", action="append", default=[])
    r = sub.add_parser("relay")
    r.add_argument("--agent", required=True)
    r.add_argument("--slave", required=True)
    r.add_argument("--baud", type=int, default=0)
    f = sub.add_parser("frames")
    f.add_argument("--profile", required=True)
    f.add_argument("--values", required=True)
    f.add_argument("--unit", type=int, default=1)
    f.add_argument("--read", action="append", default=[])
    args = p.parse_args()
    if args.cmd == "serve":
        asyncio.run(serve(args))
    elif args.cmd == "relay":
        relay(args)
    else:
        frames(args)


if __name__ == "__main__":
    main()
