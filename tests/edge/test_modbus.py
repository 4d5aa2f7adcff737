"""Modbus: profile files, float32 vectors, golden register cases, and each of the four meter
models simulated by pymodbus's own async server, read through the driver."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext
from pymodbus.server import ModbusTcpServer

from carbonledger.errors import ConfigError
from carbonledger.wire import QUANTITIES
from edge.agent import load_gateway_config
from edge.drivers.modbus import Config, create, load_profile, load_profiles
from edge.drivers.modbus.profiles import BUILTIN, encode

TESTCASES = Path(__file__).parents[2] / "edge" / "drivers" / "modbus" / "testcases"


def test_float32_vectors() -> None:
    assert encode("float32", 230.1) == [0x4366, 0x199A]
    assert encode("float32", 12345.67) == [0x4640, 0xE6AE]
    assert encode("float32", 50.0) == [0x4248, 0x0000]
    assert encode("float32", 50.0, "little") == [0x0000, 0x4248]


def test_builtin_profiles() -> None:
    profiles = load_profiles()
    assert set(profiles) == {
        "eastron_sdm630",
        "chint_dtsu666",
        "schneider_pm5xxx",
        "acrel_adl3000e",
    }
    sdm = {r.quantity: r for r in profiles["eastron_sdm630"].registers}
    assert (sdm["energy_import"].address, sdm["energy_import"].function) == (0x0048, 4)
    assert sdm["energy_export"].address == 0x004A and sdm["active_power"].address == 0x0034
    pm = {r.quantity: r for r in profiles["schneider_pm5xxx"].registers}
    assert (pm["energy_import"].address, pm["energy_import"].type) == (3203, "int64")
    for profile in profiles.values():
        for register in profile.registers:
            assert register.unit == QUANTITIES[register.quantity].unit


@pytest.mark.parametrize("case", json.loads((TESTCASES / "cases.json").read_text()), ids=str)
def test_golden(case: dict[str, Any]) -> None:
    profile = load_profiles()[case["profile"]]
    register = next(r for r in profile.registers if r.quantity == case["quantity"])
    assert register.decode(case["registers"]) == pytest.approx(case["expected"], abs=1e-9)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model = 1\n[[registers]]\n", "model: missing or not a string"),
        ('model = "X"\n', "registers: needs at least one"),
        ('model = "X"\ncolour = 1\n', "colour: unknown key"),
        (
            'model = "X"\nfunction = 3\n[[registers]]\nquantity = "energy_import"\nunit = "kWh"\n'
            'address = 1\ntype = "float16"\n',
            "registers[0].type: 'float16' is not one of",
        ),
        (
            'model = "X"\n[[registers]]\nquantity = "energy_import"\nunit = "kWh"\naddress = 1\n'
            'type = "float32"\n',
            "registers[0].function: missing",
        ),
        (
            'model = "X"\nfunction = 3\n[[registers]]\nquantity = "energy_import"\nunit = "Wh"\n'
            'address = 1\ntype = "float32"\n',
            "registers[0].unit: 'Wh' but energy_import is in",
        ),
        (
            'model = "X"\nfunction = 5\n[[registers]]\nquantity = "energy_import"\nunit = "kWh"\n'
            'address = 1\ntype = "float32"\n',
            "registers[0].function: 5 is not 3 or 4",
        ),
        (
            'model = "X"\nfunction = 3\n[[registers]]\nquantity = "steam"\nunit = "t"\n'
            'address = 1\ntype = "float32"\n',
            "registers[0].quantity: 'steam' is not a wire quantity",
        ),
        ("model = [", "Invalid value"),
    ],
)
def test_profile_errors_name_file_key_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"broken\.toml") as info:
        load_profile(path)
    assert message in str(info.value)


def test_new_profile_file_is_picked_up(tmp_path: Path) -> None:
    (tmp_path / "acme_x1.toml").write_text(
        'model = "ACME X1"\nfunction = 3\n[[registers]]\nquantity = "energy_import"\n'
        'address = 0x0100\ntype = "uint32"\nword_order = "little"\nscale = 0.1\nunit = "kWh"\n'
    )
    config = Config.model_validate(
        {
            "host": "h",
            "profile_dirs": [tmp_path],
            "meters": [{"meter": "M", "profile": "acme_x1"}],
        }
    )
    [(_, [register])] = config.plan()
    assert register.decode([0x0002, 0x0001]) == pytest.approx(6553.8)  # low word first
    with pytest.raises(ValueError, match=r"unknown profile 'acme_x1'"):
        Config.model_validate({"host": "h", "meters": [{"meter": "M", "profile": "acme_x1"}]})
    shutil.copy(BUILTIN / "eastron_sdm630.toml", tmp_path / "eastron_sdm630.toml")
    assert load_profiles([tmp_path])["eastron_sdm630"].path.parent == tmp_path  # site override


def test_meter_quantities_must_exist_in_profile() -> None:
    with pytest.raises(ValueError, match="has no 'active_power'"):
        Config.model_validate(
            {
                "host": "h",
                "meters": [
                    {"meter": "M", "profile": "acrel_adl3000e", "quantities": ["active_power"]}
                ],
            }
        )


# -- pymodbus server as the four meters ----------------------------------------------------------

# unit id → (profile, {(function, address): registers}, expected readings)
METERS: dict[int, tuple[str, dict[tuple[int, int], list[int]], dict[str, float]]] = {
    1: (
        "eastron_sdm630",
        {
            (4, 0x48): encode("float32", 12345.67),
            (4, 0x4A): encode("float32", 50.0),
            (4, 0x34): encode("float32", 2301.0),
        },
        {"energy_import": 12345.669921875, "energy_export": 50.0, "active_power": 2.301},
    ),
    2: (
        "chint_dtsu666",
        {
            (3, 0x101E): encode("float32", 230.1),
            (3, 0x1028): encode("float32", 0.0),
            (3, 0x2012): encode("float32", 12345.6),
        },
        {"energy_import": 230.10000610351562, "energy_export": 0.0, "active_power": 1.23456},
    ),
    3: (
        "schneider_pm5xxx",
        {
            (3, 3203): encode("int64", 123456789),
            (3, 3207): encode("int64", 1500),
            (3, 3059): encode("float32", 50.0),
        },
        {"energy_import": 123456.789, "energy_export": 1.5, "active_power": 50.0},
    ),
    4: ("acrel_adl3000e", {(3, 0): encode("uint32", 123456)}, {"energy_import": 1234.56}),
}


def _device(registers: dict[tuple[int, int], list[int]]) -> ModbusDeviceContext:
    blocks: dict[int, list[int]] = {3: [0] * 0x2100, 4: [0] * 0x100}
    for (function, address), words in registers.items():
        blocks[function][address : address + len(words)] = words
    # pymodbus data blocks are addressed from 1 by default in a device context: offset by one
    return ModbusDeviceContext(
        hr=ModbusSequentialDataBlock(1, blocks[3]), ir=ModbusSequentialDataBlock(1, blocks[4])
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_four_meter_models_through_the_driver() -> None:
    asyncio.run(asyncio.wait_for(_models_scenario(), 30))


async def _models_scenario() -> None:
    context = ModbusServerContext(
        devices={unit: _device(regs) for unit, (_, regs, _) in METERS.items()}, single=False
    )
    port = _free_port()
    server = ModbusTcpServer(context, address=("127.0.0.1", port))
    serving = asyncio.create_task(server.serve_forever())
    try:
        config = Config.model_validate(
            {
                "host": "127.0.0.1",
                "port": port,
                "timeout_s": 1.0,
                "retries": 0,
                "meters": [
                    {"meter": f"M-{unit}", "profile": profile, "unit_id": unit}
                    for unit, (profile, _, _) in METERS.items()
                ]
                + [{"meter": "M-absent", "profile": "eastron_sdm630", "unit_id": 9}],
            }
        )
        driver = create(config)
        for _ in range(100):  # until the server task listens (a refused connect is retried)
            readings = await driver.poll()
            if len({r.meter for r in readings}) == len(METERS):
                break
            await asyncio.sleep(0.02)
        got: dict[str, dict[str, float]] = {}
        for r in readings:
            got.setdefault(r.meter, {})[r.quantity] = r.value
        for unit, (_, _, expected) in METERS.items():
            assert got[f"M-{unit}"] == pytest.approx(expected, rel=1e-7), unit
        assert "M-absent" not in got
        driver.client.close()
    finally:
        await server.shutdown()
        serving.cancel()


def test_sample_configs_validate(tmp_path: Path) -> None:
    """Each driver folder's sample.toml, pasted into a gateway config, loads as it is."""
    root = Path(__file__).parents[2] / "edge" / "drivers"
    header = (Path(__file__).parents[2] / "edge" / "agent" / "sample-gateway.toml").read_text()
    header = header[: header.index("[[devices]]")]
    for name in ("hj212", "dlt645", "modbus"):
        sample = (root / name / "sample.toml").read_text()
        path = tmp_path / f"{name}.toml"
        path.write_text(header + sample)
        [device] = load_gateway_config(path).devices
        assert device.type == name
