"""numba cache entries follow the files their kernels inline (slitwise._numba_cache)."""

from slitwise._numba_cache import drop_stale


def test_cache_dropped_only_when_a_dependency_changes(tmp_path):
    mod, dep = tmp_path / "kern.py", tmp_path / "helper.py"
    mod.write_text("x = 1\n")
    dep.write_text("y = 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    entry = cache / "kern.solve-12.py311.nbi"
    other = cache / "helper.f-3.py311.nbi"

    drop_stale(str(mod), str(dep))  # first use: stamp written
    entry.write_text("compiled")
    other.write_text("compiled")
    drop_stale(str(mod), str(dep))  # nothing changed: kept
    assert entry.exists()

    dep.write_text("y = 2\n")  # the inlined helper changed
    drop_stale(str(mod), str(dep))
    assert not entry.exists()
    assert other.exists()  # other modules' entries are not touched
    entry.write_text("recompiled")
    drop_stale(str(mod), str(dep))
    assert entry.exists()
