"""docs/hardware.md and docs/bench-e2e.md show exactly the recorded e2e results."""

from __future__ import annotations

from tests.e2e import matrix


def test_hardware_matrix_matches_recorded_results() -> None:
    results = matrix.load()
    text = matrix.HARDWARE_MD.read_text()
    assert matrix.block(text, "matrix") == matrix.render_matrix(results), (
        "docs/hardware.md is stale: run the VM tests with PXH_E2E_RECORD=1 "
        "or `python -m tests.e2e.matrix tests/e2e/results.json`"
    )


def test_stage_timings_match_recorded_results() -> None:
    results = matrix.load()
    text = matrix.BENCH_MD.read_text()
    assert matrix.block(text, "stages") == matrix.render_stages(results)


def test_recorded_results_cover_the_required_boots() -> None:
    """BIOS and UEFI x64 install in full and proxy mode, arm64 loader, the negative check."""
    rows = {(r["firmware"], r["dhcp_mode"], r["flow"]): r for r in matrix.load()}
    for key in [
        ("bios", "full", "install"),
        ("uefi", "full", "install"),
        ("bios", "proxy", "install"),
        ("uefi", "proxy", "install"),
        ("arm64", "full", "loader"),
        ("uefi-http", "full", "install"),
        ("bios", "listen", "install"),
        ("uefi", "listen", "install"),
        ("bios", "full (isc)", "install"),
        ("uefi", "full (isc)", "install"),
        ("bios", "full (kea)", "install"),
        ("uefi", "full (kea)", "install"),
        ("bios", "full (relay)", "install"),
        ("uefi-sb", "full", "install"),
        ("uefi", "full (relay)", "install"),
    ]:
        assert key in rows and rows[key]["ok"], key
    assert not rows[("uefi", "full", "broken")]["ok"]
    assert not rows[("bios", "full", "broken")]["ok"]
    assert not rows[("uefi-sb", "full", "broken")]["ok"]
