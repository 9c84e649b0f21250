"""The TFTP server's bounds and option terms as pure logic (the daemon tests hold the rest)."""

from __future__ import annotations

from pxehook.tftp.admission import Admission, Verdict
from pxehook.tftp.packets import MAX_TIMEOUT, negotiate


def name(peer: tuple[str, int]) -> str:
    """One string object per peer: the table tells transfers apart by identity."""
    return NAMES.setdefault(peer, f"{peer[0]}:{peer[1]}")


NAMES: dict[tuple[str, int], str] = {}


def admit_sent(table: Admission[str], peer: tuple[str, int]) -> tuple[Verdict, str | None]:
    verdict, displaced = table.admit(peer, name(peer))
    if verdict is Verdict.ADMITTED:
        table.sent(peer)
    return verdict, displaced


def test_a_client_address_holds_at_most_per_client_and_gives_way_to_itself() -> None:
    table: Admission[str] = Admission(max_active=10, max_waiting=10, per_client=2)
    assert admit_sent(table, ("10.0.0.1", 1)) == (Verdict.ADMITTED, None)
    assert admit_sent(table, ("10.0.0.1", 2)) == (Verdict.ADMITTED, None)
    assert admit_sent(table, ("10.0.0.1", 3)) == (Verdict.ADMITTED, "10.0.0.1:1")
    table.confirm(("10.0.0.1", 2))
    table.confirm(("10.0.0.1", 3))
    assert admit_sent(table, ("10.0.0.1", 4)) == (Verdict.REFUSED, None)
    assert admit_sent(table, ("10.0.0.2", 1)) == (Verdict.ADMITTED, None)


def test_a_repeated_request_is_a_duplicate_not_a_second_transfer() -> None:
    table: Admission[str] = Admission(max_active=10, max_waiting=10, per_client=8)
    admit_sent(table, ("10.0.0.1", 1))
    assert table.admit(("10.0.0.1", 1), "again") == (Verdict.DUPLICATE, None)
    assert len(table) == 1


def test_when_waiting_is_full_the_address_holding_most_gives_way() -> None:
    table: Admission[str] = Admission(max_active=10, max_waiting=4, per_client=8)
    admit_sent(table, ("10.0.0.9", 1))  # a real machine: one transfer, the oldest
    for port in (1, 2, 3):
        admit_sent(table, ("10.0.0.66", port))  # a flooding address
    assert admit_sent(table, ("10.0.0.67", 1)) == (Verdict.ADMITTED, "10.0.0.66:1")
    assert admit_sent(table, ("10.0.0.68", 1)) == (Verdict.ADMITTED, "10.0.0.66:2")
    # now every address holds one: the oldest of all gives way
    assert admit_sent(table, ("10.0.0.69", 1)) == (Verdict.ADMITTED, "10.0.0.9:1")


def test_acknowledged_transfers_are_never_displaced_and_bound_new_ones() -> None:
    table: Admission[str] = Admission(max_active=2, max_waiting=1, per_client=8)
    for port in (1, 2):
        admit_sent(table, ("10.0.0.1", port))
        table.confirm(("10.0.0.1", port))
    assert admit_sent(table, ("10.0.0.2", 1)) == (Verdict.REFUSED, None)
    table.release(("10.0.0.1", 1), name(("10.0.0.1", 1)))
    assert admit_sent(table, ("10.0.0.2", 1)) == (Verdict.ADMITTED, None)
    assert admit_sent(table, ("10.0.0.3", 1)) == (Verdict.ADMITTED, "10.0.0.2:1")
    assert (table.active, table.waiting, table.refused, table.displaced) == (1, 1, 1, 1)


def test_a_transfer_still_being_prepared_is_not_displaced() -> None:
    table: Admission[str] = Admission(max_active=4, max_waiting=1, per_client=8)
    table.admit(("10.0.0.1", 1), "looking up")  # no first packet yet
    assert table.admit(("10.0.0.2", 1), "x") == (Verdict.REFUSED, None)


def test_release_is_idempotent_and_ignores_a_displaced_transfer() -> None:
    table: Admission[str] = Admission(max_active=4, max_waiting=1, per_client=8)
    admit_sent(table, ("10.0.0.1", 1))
    admit_sent(table, ("10.0.0.2", 1))  # displaces 10.0.0.1
    table.release(("10.0.0.1", 1), name(("10.0.0.1", 1)))
    table.release(("10.0.0.2", 1), "not the live one")
    assert len(table) == 1
    table.release(("10.0.0.2", 1), name(("10.0.0.2", 1)))
    table.release(("10.0.0.2", 1), name(("10.0.0.2", 1)))
    assert len(table) == 0 and table.admit(("10.0.0.3", 1), "y")[0] is Verdict.ADMITTED


def test_options_out_of_range_are_declined_not_rewritten() -> None:
    terms = negotiate({"timeout": "255", "blksize": "100000", "tsize": "0"}, 1234)
    assert terms.accepted == {"blksize": "65464", "tsize": "1234"}
    assert terms.timeout == 1.0 and terms.blksize == 65464
    terms = negotiate({"timeout": str(MAX_TIMEOUT), "blksize": "4", "windowsize": "64"}, 0)
    assert terms.accepted == {"timeout": str(MAX_TIMEOUT)} and terms.blksize == 512
