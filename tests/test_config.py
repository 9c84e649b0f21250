"""Settings: load order, validation messages that name the source, key and expectation."""

from __future__ import annotations

import pytest

from pxehook.config import SETTINGS, docs_table, load_settings
from pxehook.errors import ConfigError


def test_defaults(tmp_path):
    s = load_settings(str(_write(tmp_path, "")), env={})
    assert (s.bind, s.port, s.workers) == ("127.0.0.1", 8070, 2)
    assert s.database.startswith("sqlite:///")
    assert s.origin("port") == "default"
    assert s.base_url == "http://127.0.0.1:8070"


def _write(tmp_path, text):
    path = tmp_path / "pxehook.yaml"
    path.write_text(text)
    return path


def test_load_order_file_then_env_then_flags(tmp_path):
    path = _write(tmp_path, "port: 9000\nworkers: 3\nserver_ip: 192.0.2.1\n")
    s = load_settings(str(path), env={"PXEHOOK_PORT": "9100"}, flags={"workers": 5})
    assert (s.port, s.workers, s.server_ip) == (9100, 5, "192.0.2.1")
    assert s.origin("port") == "env PXEHOOK_PORT" and s.origin("workers") == "flag"
    assert s.origin("server_ip") == str(path)
    assert s.base_url == "http://192.0.2.1:9100"


def test_config_file_from_environment(tmp_path):
    path = _write(tmp_path, "port: 9200\n")
    assert load_settings(env={"PXEHOOK_CONFIG": str(path)}).port == 9200


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prot: 80\n", "unknown setting 'prot'"),
        ("port: eighty\n", "setting 'port' is 'eighty'; expected a port number 1-65535"),
        ("port: 70000\n", "expected a port number 1-65535"),
        ("server_ip: not-an-ip\n", "expected an IPv4 address"),
        ("unknown_hosts: maybe\n", "expected one of discover, local, ignore"),
        ("workers: 0\n", "expected a whole number above 0"),
        ("port: [1\n", "invalid YAML"),
        ("- a\n- b\n", "expected a mapping"),
    ],
)
def test_bad_file_values_name_file_key_and_expectation(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), env={})
    assert str(path) in str(info.value) and message in str(info.value)


def test_yaml_error_names_the_line(tmp_path):
    path = _write(tmp_path, "port: 8070\nbind: 127.0.0.1\nworkers: [2\n")
    with pytest.raises(ConfigError, match=rf"{path}:\d+: invalid YAML"):
        load_settings(str(path), env={})


def test_bad_environment_is_named():
    with pytest.raises(ConfigError, match="environment PXEHOOK_WORKERS"):
        load_settings(env={"PXEHOOK_WORKERS": "many"})
    with pytest.raises(ConfigError, match="unknown setting variable PXEHOOK_PROT"):
        load_settings(env={"PXEHOOK_PROT": "1"})


def test_missing_file_is_clear(tmp_path):
    with pytest.raises(ConfigError, match="settings file not found"):
        load_settings(str(tmp_path / "nope.yaml"), env={})


def test_docs_table_lists_every_setting():
    table = docs_table()
    for s in SETTINGS:
        assert f"| `{s.name}` | `{s.env}` |" in table
