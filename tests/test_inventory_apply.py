"""Applying the inventory: it owns only what it declares, never undoes a newer change, and
does only the work a change needs (issues 11 and 13)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pxehook.errors import ConfigError
from pxehook.inventory import apply, loader
from pxehook.inventory import parse as inventory
from pxehook.lifecycle import table
from pxehook.lifecycle.hosts import HostChanges, apply_changes, declared_where
from pxehook.models import State

INVENTORY = """\
profiles:
  inst:
    kind: installer
    kernel: {x86: "{{ files_url }}/{{ release }}/linux"}
  rescue:
    kind: live
    kernel: {x86: "{{ files_url }}/rescue"}
groups:
  lab:
    vars:
      release: bookworm
hosts:
"""


def _host(i: int, **extra: Any) -> str:
    lines = [f'  - mac: "52:54:00:ab:{i >> 8:02x}:{i & 255:02x}"', f"    name: n{i}"]
    body = {"profile": "inst", "groups": "[lab]", "labels": "{rack: r1}", **extra}
    lines += [f"    {key}: {value}" for key, value in body.items()]
    return "\n".join(lines) + "\n"


def _mac(i: int) -> str:
    return f"52:54:00:ab:{i >> 8:02x}:{i & 255:02x}"


def _write(path: Path, hosts: list[str]) -> Path:
    path.write_text(INVENTORY + "".join(hosts))
    return path


class Counting:
    """A store that records which of its methods were called (and with what)."""

    def __init__(self, store: Any) -> None:
        self.store, self.calls = store, []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kw: Any) -> Any:
            self.calls.append((name, args))
            return attr(*args, **kw)

        return call

    def names(self) -> set[str]:
        return {name for name, _ in self.calls}


def test_the_inventory_owns_only_what_it_declares(tmp_path, any_store) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path / "inv.yaml", [_host(1), _host(2)])
    apply.sync_file(str(path), any_store)
    # an operator sets a variable the inventory does not declare, and forces a declared one
    apply_changes(any_store, _mac(1), HostChanges(set_vars={"extra": "1"}), source="cli")
    apply_changes(any_store, _mac(1), HostChanges(profile="rescue"), source="cli")
    _write(path, [_host(1), _host(2, name="renamed")])  # an unrelated edit, then a save
    outcome = apply.sync_file(str(path), any_store)
    host = any_store.host_get(_mac(1))
    assert host.vars == {"release": "bookworm", "extra": "1"}  # not declared: kept
    assert host.profile == "inst"  # declared: the inventory's value again
    event = any_store.events(host.id)[-1]
    assert (event.source, event.data["changed"]) == ("inventory", ["profile"])
    assert any_store.host_get(_mac(2)).name == "renamed"
    assert outcome.counts() == {"created": 0, "updated": 2, "unchanged": 0}


def test_a_declaration_dropped_from_the_file_is_taken_back_only_if_still_its_own(
    tmp_path, store
) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path / "inv.yaml", [_host(1, vars="{a: x, b: y}")])
    apply.sync_file(str(path), store)
    apply_changes(store, _mac(1), HostChanges(set_vars={"b": "mine"}), source="cli")
    _write(path, [_host(1, vars="{}")])
    apply.sync_file(str(path), store)
    assert store.host_get(_mac(1)).vars == {"release": "bookworm", "b": "mine"}


def test_a_state_line_applies_when_created_or_changed_never_on_every_save(
    tmp_path, any_store
) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path / "inv.yaml", [_host(1, state="deploying"), _host(2)])
    apply.sync_file(str(path), any_store)
    host = any_store.host_get(_mac(1))
    assert host.state == State.DEPLOYING and host.state_changed is not None
    table.transition(any_store, host, "deployed", source="callback:10.0.0.1")
    _write(path, [_host(1, state="deploying"), _host(2, name="x")])  # state line unchanged
    apply.sync_file(str(path), any_store)
    assert any_store.host_get(_mac(1)).state == State.DEPLOYED  # the installer's word stands
    _write(path, [_host(1, state="rescue"), _host(2, name="x")])  # the line itself changed
    outcome = apply.sync_file(str(path), any_store)
    host = any_store.host_get(_mac(1))
    assert host.state == State.RESCUE and outcome.notes == []
    change = [e for e in any_store.events(host.id) if e.kind == "state.changed"][-1]
    assert change.source == "inventory" and f"{path}:" in change.message
    _write(path, [_host(1, state="new"), _host(2, name="x")])  # no action leads there
    outcome = apply.sync_file(str(path), any_store)
    assert any_store.host_get(_mac(1)).state == State.RESCUE
    assert "state new not applied" in outcome.notes[0] and f"{path}:" in outcome.notes[0]


def test_an_apply_never_undoes_a_change_that_lands_while_it_runs(tmp_path, any_store) -> None:  # type: ignore[no-untyped-def]
    """A callback and an operator's edit land after the apply read the hosts and before
    it writes them: the apply re-reads those hosts and keeps both changes."""
    path = _write(tmp_path / "inv.yaml", [_host(i, state="deploying") for i in range(3)])
    apply.sync_file(str(path), any_store)
    _write(path, [_host(i, state="deploying", vars="{v: '2'}") for i in range(3)])
    host_writes = any_store.host_writes

    def others_first(writes):  # type: ignore[no-untyped-def]
        if not getattr(others_first, "done", False):
            others_first.done = True  # type: ignore[attr-defined]
            table.transition(
                any_store, any_store.host_get(_mac(0)), "deployed", source="callback:x"
            )
            apply_changes(any_store, _mac(1), HostChanges(set_vars={"mine": "1"}), source="cli")
        return host_writes(writes)

    any_store.host_writes = others_first
    try:
        apply.sync_file(str(path), any_store)
    finally:
        del any_store.host_writes
    first, second = any_store.host_get(_mac(0)), any_store.host_get(_mac(1))
    assert first.state == State.DEPLOYED and first.vars["v"] == "2"
    assert second.vars == {"release": "bookworm", "v": "2", "mine": "1"}
    assert [e.source for e in any_store.events(first.id) if e.kind == "state.changed"] == [
        "callback:x"
    ]


def test_an_unchanged_file_is_not_read_again_and_a_small_edit_touches_one_host(
    tmp_path, store
) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path / "inv.yaml", [_host(i) for i in range(50)])
    apply.sync_file(str(path), store)
    counting = Counting(store)
    assert apply.sync_file(str(path), counting).counts()["unchanged"] == 50
    assert counting.names() == {"inventory_file"}  # no host read, no write, no parse
    hosts = [_host(i) for i in range(50)]
    hosts[7] = _host(7, name="seven")
    _write(path, hosts)
    counting = Counting(store)
    outcome = apply.sync_file(str(path), counting)
    assert outcome.counts() == {"created": 0, "updated": 1, "unchanged": 49}
    reads = [args[0] for name, args in counting.calls if name == "host_many"]
    writes = [args[0] for name, args in counting.calls if name == "host_writes"]
    assert [sorted(ids) for ids in reads] == [[store.host_get(_mac(7)).id]]
    assert [[w.host_id for w in batch] for batch in writes] == [[store.host_get(_mac(7)).id]]


def test_a_profile_or_group_change_rechecks_only_its_hosts(tmp_path, store) -> None:  # type: ignore[no-untyped-def]
    hosts = [_host(i) for i in range(6)] + [
        _host(i, profile="rescue", groups="[]") for i in range(6, 9)
    ]
    path = _write(tmp_path / "inv.yaml", hosts)
    apply.sync_file(str(path), store)
    path.write_text(path.read_text().replace("{{ files_url }}/rescue", "{{ files_url }}/r2"))
    counting = Counting(store)
    apply.sync_file(str(path), counting)
    (ids,) = [args[0] for name, args in counting.calls if name == "host_many"]
    assert sorted(ids) == sorted(store.host_get(_mac(i)).id for i in range(6, 9))
    path.write_text(path.read_text().replace("release: bookworm", "release: trixie"))
    apply.sync_file(str(path), store)
    assert {store.host_get(_mac(i)).vars["release"] for i in range(6)} == {"trixie"}


def test_lines_follow_the_file_without_rewriting_hosts(tmp_path, store) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path / "inv.yaml", [_host(1), _host(2)])
    apply.sync_file(str(path), store)
    host = store.host_get(_mac(2))
    before = declared_where(store, host)
    _write(path, [_host(0), _host(1), _host(2)])  # a host inserted above
    counting = Counting(store)
    apply.sync_file(str(path), counting)
    writes = [w for name, args in counting.calls if name == "host_writes" for w in args[0]]
    assert [w.new.macs for w in writes] == [(_mac(0),)]  # only the new host is written
    after = declared_where(store, host)
    line = lambda where: int(where.rsplit(":", 1)[1])  # noqa: E731
    assert after["profile"].startswith(f"{path}:")
    assert line(after["profile"]) == line(before["profile"]) + len(_host(0).splitlines())
    assert path.read_text().splitlines()[line(after["profile"]) - 1] == "    profile: inst"
    assert after["vars.release"] == f"{path}:11 (group lab)"  # release: bookworm


def test_a_host_no_longer_in_the_file_is_no_longer_owned(tmp_path, store) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path / "inv.yaml", [_host(1), _host(2)])
    apply.sync_file(str(path), store)
    _write(path, [_host(1)])
    apply.sync_file(str(path), store)
    gone = store.host_get(_mac(2))
    assert gone is not None and declared_where(store, gone) == {}
    assert "profile" in declared_where(store, store.host_get(_mac(1)))


def test_the_c_yaml_loader_reads_the_inventory() -> None:
    if yaml.__with_libyaml__:
        assert issubclass(loader._LineLoader, yaml.CSafeLoader)


_WORDS = st.text("abcxyz019", min_size=1, max_size=6)
_VALUES = st.one_of(
    _WORDS, st.integers(-5, 5), st.booleans(), st.none(), st.just("52:54:00:12:34:56"),
    st.just("multi\nline"), st.just("# not a comment"), st.just("- dash"),
)  # fmt: skip


@st.composite
def _inventories(draw: Any) -> str:
    hosts = []
    for i in range(draw(st.integers(0, 6))):
        body: dict[str, Any] = {
            "mac": _mac(i),
            "vars": draw(st.dictionaries(_WORDS, _VALUES, max_size=3)),
        }
        if draw(st.booleans()):
            body["name"] = draw(_WORDS)
        if draw(st.booleans()):
            body["labels"] = draw(st.dictionaries(_WORDS, _WORDS, max_size=2))
        hosts.append(body)
    style = draw(st.sampled_from([False, None, True]))
    text = yaml.safe_dump(
        {"hosts": hosts}, default_flow_style=style, width=draw(st.integers(20, 80))
    )
    if draw(st.booleans()):
        text = "# comment\nprofiles: {}\n" + text + "groups: {}\n"
    if draw(st.booleans()):
        text = (
            text.replace("\n- ", "\n  - ").replace("\n  ", "\n    ").replace("\n    - ", "\n  - ")
        )
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_inventories())
def test_parsing_host_by_host_reads_exactly_what_parsing_the_whole_file_reads(text: str) -> None:
    try:
        whole = inventory._parse(text, "f.yaml", whole=True)
        # the same checks across hosts (a MAC, name or UUID given twice) as parse() runs
        inventory.check_duplicates("f.yaml", [e.spec for e in whole.entries if e.spec])
        expected = [
            (e.spec.macs, e.spec.vars, e.spec.labels, e.spec.name, e.spec.line)
            for e in whole.entries
        ]
    except Exception as exc:
        expected = type(exc).__name__
    try:
        parsed = inventory.parse(text, "f.yaml")
        got = [(s.macs, s.vars, s.labels, s.name, s.line) for s in parsed.hosts]
    except Exception as exc:
        got = type(exc).__name__
    assert got == expected


def test_a_group_change_validates_each_profile_and_set_of_variables_once(
    tmp_path, store, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from pxehook.boot import validate

    hosts = [_host(i) for i in range(30)] + [_host(i, vars="{extra: x}") for i in range(30, 40)]
    path = _write(tmp_path / "inv.yaml", hosts)
    apply.sync_file(str(path), store)
    renders: list[str] = []
    real = validate.profile_vars
    monkeypatch.setattr(
        validate, "profile_vars", lambda host, *a: renders.append(host.mac) or real(host, *a)
    )
    path.write_text(path.read_text().replace("release: bookworm", "release: trixie"))
    outcome = apply.sync_file(str(path), store)
    assert outcome.counts() == {"created": 0, "updated": 40, "unchanged": 0}
    assert len(renders) == 2  # (inst, {release}) and (inst, {release, extra}): once each
    assert {store.host_get(_mac(i)).vars["release"] for i in range(40)} == {"trixie"}


def test_a_profile_that_depends_on_values_is_still_checked_host_by_host(tmp_path, store) -> None:  # type: ignore[no-untyped-def]
    text = INVENTORY.replace('"{{ files_url }}/{{ release }}/linux"', '"/k/{{ release[3] }}"')
    hosts = [_host(i) for i in range(5)] + [_host(5, vars="{release: ab}")]
    path = tmp_path / "inv.yaml"
    path.write_text(text + "".join(hosts))
    with pytest.raises(ConfigError, match=r"inv.yaml:\d+: host n5 .*str object has no element 3"):
        apply.sync_file(str(path), store)
    assert store.host_get(_mac(0)) is None  # nothing written


_PLAIN = st.sampled_from([
    "node1", "a:b", "a/b.c", "x=y", "52:54:00:ab:cd:ef", "52:54:00:12:34:56", "12:30",
    '"quoted"', '"yes"', "'single'", "''", '""', '"a: b"', "[a, b]", "[]", "{k: v}", "{}",
    "['x', \"y\"]", "{a: r1, b: c}",
])  # fmt: skip
_TRICKY = st.sampled_from([
    "yes", "No", "on", "OFF", "null", "~", "true", "12", "0x1f", "1.5", ".inf", "1e3",
    "1_000", "0777", "2024-01-02", "'it''s'", '"tab\\there"', "é", "-x", "a #b", "*alias",
    "&anchor x", "!!str 5", "[yes, 'x']", "{a: 1, b: c}", "[a,b]", "{a:b}", "x ", "|",
])  # fmt: skip
_SPELLINGS = st.one_of(_PLAIN, _PLAIN, _PLAIN, _PLAIN, _PLAIN, _PLAIN, _TRICKY)
_KEYS = st.sampled_from(["mac", "name", "vars", "labels", "groups", "k2", "Yes", "x-y"] + ["k"] * 8)


@st.composite
def _items(draw: Any, spellings: Any = _SPELLINGS) -> str:
    rows = [f"- mac: {draw(spellings)}"]
    for _ in range(draw(st.integers(0, 5))):
        key = draw(_KEYS)
        if draw(st.booleans()):
            rows.append(f"  {key}: {draw(spellings)}")
        else:
            rows.append(f"  {key}:")
            for _ in range(draw(st.integers(0, 3)) or draw(st.integers(1, 3))):
                rows.append(f"    {draw(_KEYS)}: {draw(spellings)}")
        if draw(st.integers(0, 9)) == 0:
            rows.append(draw(st.sampled_from(["", "   ", "  # note", "      deeper: x"])))
    indent = " " * draw(st.sampled_from([0, 2, 4]))
    return "".join(f"{indent}{row}\n" if row.strip() else "\n" for row in rows)


def _marked(value: Any) -> Any:
    """A value with every mapping's lines, to compare two loaders."""
    if isinstance(value, dict):
        return (
            getattr(value, "line", None), getattr(value, "lines", None),
            {k: _marked(v) for k, v in value.items()},
        )  # fmt: skip
    if isinstance(value, list):
        return [_marked(v) for v in value]
    return (type(value).__name__, value)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_items(), _items(_PLAIN)), st.integers(0, 50))
def test_the_plain_item_reader_reads_what_libyaml_reads_or_leaves_it(
    text: str, offset: int
) -> None:
    fast = loader.plain_item(text, offset)
    if fast is None:
        return
    value = loader.load_yaml(text, "f.yaml", offset=offset)
    assert isinstance(value, list) and len(value) == 1
    assert _marked(fast) == _marked(value[0])


def test_the_plain_item_reader_reads_the_usual_host() -> None:
    text = _host(3, vars="{release: trixie}") + "\n"
    assert loader.plain_item(text, 9) == loader.load_yaml(text, "f.yaml", offset=9)[0]
    assert loader.plain_item(text, 9).lines["vars"] == 15


def test_the_watcher_applies_a_small_save_as_a_small_apply(tmp_path, store) -> None:  # type: ignore[no-untyped-def]
    import time

    from pxehook.inventory.watch import InventoryWatcher

    path = _write(tmp_path / "inv.yaml", [_host(i) for i in range(200)])
    counting = Counting(store)
    watcher = InventoryWatcher(str(path), counting, debounce=0.05)
    watcher.start()
    try:
        watcher.wait_loaded(30)
        assert watcher.loads == 1
        counting.calls.clear()
        hosts = [_host(i) for i in range(200)]
        hosts[42] = _host(42, name="answer")
        _write(path, hosts)  # an editor's save: one host changed
        deadline = time.monotonic() + 30
        while watcher.loads < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert watcher.loads == 2
    finally:
        watcher.stop()
    writes = [args[0] for name, args in counting.calls if name == "host_writes"]
    assert [[w.host_id for w in batch] for batch in writes] == [[store.host_get(_mac(42)).id]]
    reads = [sorted(args[0]) for name, args in counting.calls if name == "host_many"]
    assert reads == [[store.host_get(_mac(42)).id]]
    assert store.host_get(_mac(42)).name == "answer"
