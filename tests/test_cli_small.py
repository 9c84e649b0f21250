"""The small things an operator reads: times with their zone, plural forms, a suggestion for
a mistyped setting name, and a refused deploy naming the action that would do."""

from __future__ import annotations

import re

TIME_WITH_ZONE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d{4}")


def test_times_carry_their_zone(cli, store) -> None:  # type: ignore[no-untyped-def]
    assert cli("db", "init").code == 0
    shown = cli("host", "show", "node02")
    assert shown.code == 0 and TIME_WITH_ZONE.search(shown.out), shown.out
    events = cli("host", "events", "node02", "--last", "1")
    assert TIME_WITH_ZONE.search(events.out), events.out


def test_unknown_setting_names_get_a_suggestion(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = cli("config", "show", extra_env={"PXEHOOK_EVENT_RETENTON_DAYS": "3"})
    assert env.code != 0 and "did you mean 'PXEHOOK_EVENT_RETENTION_DAYS'?" in env.err
    config = tmp_path / "typo.yaml"
    config.write_text("tftp_rot: /srv/tftp\n")
    typo = cli("--config", str(config), "config", "show")
    assert typo.code != 0 and "unknown setting 'tftp_rot' (did you mean 'tftp_root'" in typo.err
    config.write_text("completely_wrong: 1\n")
    far = cli("--config", str(config), "config", "show")
    assert "did you mean" not in far.err and "pxehook config show" in far.err


def test_refused_deploy_names_reinstall(cli, store) -> None:  # type: ignore[no-untyped-def]
    assert cli("db", "init").code == 0
    refused = cli("host", "deploy", "node02")  # the sample's node02 is deployed
    assert refused.code != 0
    assert "cannot deploy: host is deployed" in refused.err
    assert "an install from deployed is 'reinstall'" in refused.err


def test_plural_forms(cli, env) -> None:  # type: ignore[no-untyped-def]
    out = cli("inventory", "check")
    assert out.code == 0 and re.search(r"OK \(\d+ profiles?, \d+ hosts?\)", out.out)
    assert not re.search(r"\b1 (profiles|hosts)\b", out.out)
