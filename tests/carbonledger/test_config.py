"""Settings: defaults < TOML file < environment; bad input names the file, line and key."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from carbonledger import logs
from carbonledger.config import load_settings, redact
from carbonledger.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "carbonledger.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_then_environment_then_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, 'topic_root = "lishui"\n[ingest]\nbatch_size = 123\nmax_delay_ms = 50\n')
    monkeypatch.setenv("CARBONLEDGER_INGEST__BATCH_SIZE", "456")
    monkeypatch.setenv("MQTT_URL", "mqtts://gw:secret@broker.example:8883")
    settings = load_settings(path)
    assert settings.topic_root == "lishui"
    assert settings.ingest.batch_size == 456  # environment wins over the file
    assert settings.ingest.max_delay_ms == 50  # the file wins over the default
    assert settings.ingest.receive_maximum == 1000  # default
    assert load_settings(path, topic_root="x").topic_root == "x"


def test_bad_value_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, 'topic_root = "x"\n\n[ingest]\nclient_id = "a"\nbatch_size = 0\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert f"{path}:5: ingest.batch_size: Input should be greater than or equal to 1" in str(
        caught.value
    )


def test_unknown_key_is_refused_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[ingest]\nbatch_sise = 10\n")
    with pytest.raises(ConfigError, match=rf"{path}:2: ingest.batch_sise: Extra inputs"):
        load_settings(path)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[ingest]\nbatch_size = = 3\n")
    with pytest.raises(ConfigError, match=rf"{path}: .*line 2"):
        load_settings(path)


def test_missing_file_and_bad_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.toml")
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    with pytest.raises(ConfigError, match="database_url: must start with postgresql://"):
        load_settings()
    monkeypatch.setenv("DATABASE_URL", "postgresql://x/y")
    monkeypatch.setenv("CARBONLEDGER_RETENTION", "forever")
    with pytest.raises(ConfigError, match="retention"):
        load_settings()


def test_redact_hides_passwords() -> None:
    assert redact("postgresql://u:hunter2@h/db") == "postgresql://u:***@h/db"
    assert redact(None) == "(embedded)"


def test_json_log_lines_carry_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.configure("json", "INFO")
        logging.getLogger("t").info("batch committed", extra={"stored": 5, "topic": "a/b"})
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["msg"] == "batch committed"
    assert (line["stored"], line["topic"], line["level"]) == (5, "a/b", "info")
