"""The plain item reader reads each distinct row once (``loader._row``) and builds every
host's own lists and mappings from it: hosts whose rows read alike share no value."""

from __future__ import annotations

from pxehook.inventory import loader

ITEM = (
    '  - mac: "52:54:00:00:00:0{i}"\n    groups: [lab]\n    labels: {{rack: r1}}\n'
    "    vars:\n      k: v\n"
)


def test_hosts_written_alike_get_values_of_their_own() -> None:
    first = loader.plain_item(ITEM.format(i=1), 10)
    second = loader.plain_item(ITEM.format(i=2), 20)
    assert first is not None and second is not None
    first["groups"].append("other")
    first["labels"]["rack"] = "r2"
    first["vars"]["k"] = "w"
    assert second["groups"] == ["lab"] and second["labels"] == {"rack": "r1"}
    assert second["vars"] == {"k": "v"}
    assert (first.line, second.line) == (11, 21)
    assert second["labels"].line == 23 and second["vars"].line == 25
    assert second.lines == {"mac": 21, "groups": 22, "labels": 23, "vars": 24}
    assert loader.plain_item(ITEM.format(i=3), 0) == loader.load_yaml(ITEM.format(i=3), "f")[0]
