"""Tokens checked offline: each kind of bad token refused with its reason; a good one valid in
a fresh process that has only the exported key set."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from carbonledger.config import TrustSettings
from carbonledger.errors import TrustError
from tests.trust.helpers import NOW, payload, ring
from trust._canonical import NotCanonicalError, b64url, canonical, parse_canonical, unb64url
from trust.keys import PublicKeys, rotate
from trust.tokens import Verdict, check_token, read_revocations, seal, seal_revocations


def test_canonical_json_is_sorted_compact_utf8_and_refuses_floats() -> None:
    assert canonical({"b": 1, "a": ["碳", None, True]}) == '{"a":["碳",null,true],"b":1}'.encode()
    with pytest.raises(NotCanonicalError):
        canonical({"l": 0.5})
    with pytest.raises(NotCanonicalError, match="canonical form"):
        parse_canonical(b'{"b":1, "a":2}')


def test_a_valid_token_verifies_and_names_its_key(tmp_path: Path) -> None:
    keys = ring(tmp_path / "keys")
    token = seal(payload(), keys)
    result = check_token(token, keys.public, now=NOW + timedelta(days=1))
    assert result.verdict is Verdict.VALID, result.reason
    assert keys.active in result.reason and "revocation not checked" in result.reason
    assert result.certificate is not None and result.certificate["dep"] == "city-a"


def test_a_forged_signature_is_refused(tmp_path: Path) -> None:
    keys = ring(tmp_path / "keys")
    prefix, body, _ = seal(payload(), keys).split(".")
    forged = f"{prefix}.{body}.{b64url(bytes(64))}"
    result = check_token(forged, keys.public, now=NOW)
    assert (result.verdict, result.code) == (Verdict.FORGED, "bad_signature")
    assert result.certificate is None


def test_an_edited_field_is_refused(tmp_path: Path) -> None:
    keys = ring(tmp_path / "keys")
    prefix, body, signature = seal(payload(), keys).split(".")
    edited = json.loads(unb64url(body))
    edited["grade"] = 1  # a better grade than was signed
    token = f"{prefix}.{b64url(canonical(edited))}.{signature}"
    result = check_token(token, keys.public, now=NOW)
    assert (result.verdict, result.code) == (Verdict.FORGED, "bad_signature")
    # the same edit re-spaced (not canonical) is refused before the signature is even tried
    spaced = json.dumps(edited, sort_keys=True).encode()
    result = check_token(f"{prefix}.{b64url(spaced)}.{signature}", keys.public, now=NOW)
    assert (result.verdict, result.code) == (Verdict.FORGED, "not_canonical")


def test_a_token_without_utc_times_is_malformed(tmp_path: Path) -> None:
    keys = ring(tmp_path / "keys")
    result = check_token(seal(payload(iat="2026-02-05T10:00:00"), keys), keys.public, now=NOW)
    assert (result.verdict, result.code) == (Verdict.FORGED, "malformed")


def test_an_expired_certificate_is_refused(tmp_path: Path) -> None:
    keys = ring(tmp_path / "keys")
    token = seal(payload(), keys)
    result = check_token(token, keys.public, now=NOW + timedelta(days=366))
    assert (result.verdict, result.code) == (Verdict.EXPIRED, "expired")
    assert "expired on 2027-02-05T02:00:00Z" in result.reason


def test_a_revoked_certificate_is_refused_with_a_signed_list(tmp_path: Path) -> None:
    keys = ring(tmp_path / "keys")
    token = seal(payload(), keys)
    listed = tmp_path / "revoked.json"
    document = seal_revocations({"crt_0123456789abcdef": "account recomputed"}, keys, NOW)
    listed.write_text(json.dumps(document))
    revoked = read_revocations(listed, keys.public)
    result = check_token(token, keys.public, now=NOW, revoked=revoked)
    assert (result.verdict, result.reason) == (Verdict.REVOKED, "revoked: account recomputed")
    document["list"]["revoked"] = {}  # someone strips the list: its signature no longer holds
    listed.write_text(json.dumps(document))
    with pytest.raises(TrustError, match="does not verify"):
        read_revocations(listed, keys.public)


def test_a_rotated_key_still_verifies_what_it_signed_and_nothing_after(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    old = ring(folder)
    before = seal(payload(), old)
    rotated_at = NOW + timedelta(days=1)
    new = rotate(TrustSettings(key_dir=folder, deployment_id="city-a"), rotated_at)
    assert new.active != old.active and set(new.public.keys) == {old.active, new.active}
    later = NOW + timedelta(days=2)
    assert check_token(before, new.public, now=later).verdict is Verdict.VALID
    assert check_token(seal(payload(), new), new.public, now=later).verdict is Verdict.VALID
    # the retired key (stolen, say) signs a certificate dated after its retirement
    late = seal(payload(iat="2026-02-07T02:00:00Z"), old)
    result = check_token(late, new.public, now=later)
    assert (result.verdict, result.code) == (Verdict.FORGED, "retired_key")
    assert "retired on 2026-02-06T02:00:00Z" in result.reason
    assert (folder / f"{new.active}.pem").stat().st_mode & 0o777 == 0o600


def test_a_token_from_another_deployment_is_refused(tmp_path: Path) -> None:
    ours = ring(tmp_path / "ours", "city-a")
    theirs = ring(tmp_path / "theirs", "city-b")
    result = check_token(seal(payload(), theirs), ours.public, now=NOW)
    assert (result.verdict, result.code) == (Verdict.FORGED, "other_deployment")
    assert "issued by deployment city-b, not by city-a" in result.reason
    # their key listed in our set by mistake changes nothing: the deployment still differs
    mixed = PublicKeys("city-a", {**ours.public.keys, **theirs.public.keys})
    assert check_token(seal(payload(), theirs), mixed, now=NOW).code == "other_deployment"


def test_a_key_folder_belongs_to_one_deployment(tmp_path: Path) -> None:
    ring(tmp_path / "keys", "city-a")
    with pytest.raises(TrustError, match="holds the keys of deployment city-a"):
        ring(tmp_path / "keys", "city-b")


def test_offline_verification_in_a_fresh_process_with_only_the_keys_file(tmp_path: Path) -> None:
    keys = ring(tmp_path / "keys")
    exported = tmp_path / "bank" / "keys.json"
    exported.parent.mkdir()
    exported.write_text(json.dumps(keys.public.as_json()))
    token = seal(payload(exp="2099-01-01T00:00:00Z"), keys)
    token_file = tmp_path / "bank" / "cert.token"
    token_file.write_text(token + "\n")
    # no database, no broker, no network: an empty environment and settings pointing nowhere
    env = {"PATH": "/usr/bin:/bin", "CARBONLEDGER_TRUST__KEY_DIR": str(tmp_path / "absent")}
    command = [sys.executable, "-m", "launcher", "certificate", "verify"]
    done = subprocess.run(
        [*command, str(token_file), "--keys", str(exported)],
        capture_output=True, text=True, env=env, cwd=tmp_path / "bank", timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("VALID: signed by city-a with key " + keys.active)
    assert "龙泉括苍汽车部件有限公司" in done.stdout
    edited = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    done = subprocess.run(
        [*command, edited, "--keys", str(exported), "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path / "bank", timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert json.loads(done.stdout)["code"] == "bad_signature"
    assert not (tmp_path / "absent").exists()  # the verifier created no key of its own


def test_the_offline_commands_load_no_database_driver_and_no_ledger() -> None:
    """What ``certificate verify`` needs is importable on a bank's laptop without the server."""
    code = (
        "import sys, trust.commands; "
        "print(sorted(m for m in ('psycopg', 'accounts.ledger', 'numba', 'fastapi')"
        " if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
