"""Gateway config validation: errors name the file, the line, the key and the problem."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from carbonledger.errors import ConfigError
from edge.agent import FullPolicy, MqttProtocol, load_gateway_config

SAMPLE = Path(__file__).parents[2] / "edge" / "agent" / "sample-gateway.toml"

GOOD = """\
gateway_id = "gw-1"
enterprise = "91331102MA2A00001X"

[mqtt]
url = "mqtt://127.0.0.1:1883"

[outbox]
path = "box/outbox.sqlite"
when_full = "refuse-new"

[[devices]]
type = "simulator"
enterprises = 5

[[devices]]
type = "simulator"
name = "second"
enterprises = 5
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gw.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_gateway_config(write(tmp_path, text))
    return str(info.value)


def test_sample_is_valid_and_documents_every_key(tmp_path: Path) -> None:
    config = load_gateway_config(SAMPLE)
    assert config.outbox.when_full is FullPolicy.DROP_OLDEST
    assert config.mqtt.protocol is MqttProtocol.V5
    assert config.outbox.path == SAMPLE.parent / "outbox.sqlite"  # relative to the file
    text = SAMPLE.read_text(encoding="utf-8")
    for section in (config.mqtt, config.outbox, config.publish, config.heartbeat):
        for key in type(section).model_fields:
            assert f"{key} =" in text, f"sample-gateway.toml does not document {key}"


def test_good_config_and_relative_paths(tmp_path: Path) -> None:
    config = load_gateway_config(write(tmp_path, GOOD))
    assert config.outbox.path == tmp_path / "box" / "outbox.sqlite"
    assert config.outbox.when_full is FullPolicy.REFUSE_NEW
    assert [d.name for d in config.devices] == ["simulator", "second"]
    assert config.status_topic == "carbonledger/v1/91331102MA2A00001X/gw-1/status"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('when_full = "refuse-new"', 'when_full = "drop-newest"'), ":9: outbox.when_full: "),
        (
            ("enterprises = 5\n\n[[devices]]", "enterprises = 0\n\n[[devices]]"),
            ":13: devices.0.enterprises: ",
        ),
        (('name = "second"', 'name = "second"\ncolour = "red"'), ":18: devices.1.colour: "),
        (('type = "simulator"\nname', 'type = "modbus-tcp-x"\nname'), ":15: devices.1: "),
        (('gateway_id = "gw-1"', 'gateway_id = "gw 1"'), ":1: gateway_id: "),
        (('url = "mqtt://127.0.0.1:1883"', 'url = "http://x"'), ":5: mqtt.url: 'http://x'"),
        (('url = "mqtt://127.0.0.1:1883"', 'url = "mqtt://h:99999"'), ":5: mqtt.url: "),
    ],
)
def test_errors_name_file_line_key(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    message = error_of(tmp_path, GOOD.replace(*change))
    assert f"{tmp_path / 'gw.toml'}{expected}" in message, message


def test_missing_key_points_at_its_table(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace('url = "mqtt://127.0.0.1:1883"\n', ""))
    assert "gw.toml:4: mqtt.url: Field required" in message, message


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace("enterprises = 5\n", "enterprises = \n", 1))
    assert "gw.toml" in message and "line 13" in message


def test_duplicate_meters_across_devices(tmp_path: Path) -> None:
    text = GOOD.replace("enterprises = 5\n", 'enterprises = 5\nmeters = ["{m}"]\n')
    from simulator.driver import Config  # noqa: PLC0415

    meter = Config(type="simulator", enterprises=5).city().meters[0].id
    message = error_of(tmp_path, text.replace("{m}", meter))
    assert f"meter {meter!r} is in devices 0 and 1" in message


def test_simulator_meter_must_exist(tmp_path: Path) -> None:
    text = GOOD.replace('name = "second"\n', 'name = "second"\nmeters = ["m-nope"]\n')
    assert ":15: devices.1: meters not in the simulated city: m-nope" in error_of(tmp_path, text)


def test_tls_validation_is_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("validation must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    tls = 'url = "mqtts://broker.invalid:8883"\nca_file = "ca.pem"'
    config = load_gateway_config(
        write(tmp_path, GOOD.replace('url = "mqtt://127.0.0.1:1883"', tls))
    )
    assert config.mqtt.tls and config.mqtt.port == 8883 and config.mqtt.ca_file == ca

    plain = 'url = "mqtt://h"\nca_file = "ca.pem"'
    message = error_of(tmp_path, GOOD.replace('url = "mqtt://127.0.0.1:1883"', plain))
    assert "gw.toml:4: mqtt: ca_file/cert_file/key_file need an mqtts:// url" in message

    missing = 'url = "mqtts://h"\nca_file = "nope.pem"'
    message = error_of(tmp_path, GOOD.replace('url = "mqtt://127.0.0.1:1883"', missing))
    assert "gw.toml:6: mqtt.ca_file: " in message and "nope.pem: no such readable file" in message

    half = 'url = "mqtts://h"\ncert_file = "ca.pem"'
    message = error_of(tmp_path, GOOD.replace('url = "mqtt://127.0.0.1:1883"', half))
    assert "mqtt: cert_file and key_file go together" in message


def test_credentials_from_url_or_keys(tmp_path: Path) -> None:
    text = GOOD.replace("mqtt://127.0.0.1:1883", "mqtts://gw%401:s%3Acret@h")
    config = load_gateway_config(write(tmp_path, text))
    assert config.mqtt.credentials() == ("gw@1", "s:cret")
    text = text.replace(
        'mqtts://gw%401:s%3Acret@h"', 'mqtts://h"\nusername = "u"\npassword = "hunter2"'
    )
    assert load_gateway_config(write(tmp_path, text)).mqtt.credentials() == ("u", "hunter2")
    assert "hunter2" not in repr(load_gateway_config(write(tmp_path, text)).mqtt)
