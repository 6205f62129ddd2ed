"""Executors: same results on every backend, thread limits applied inside workers."""

import os

import pytest

from slitwise.errors import SlitwiseInputError
from slitwise.pipeline.executors import DaskExecutor, make_executor


def square_and_env(x):
    return x * x, os.environ.get("OMP_NUM_THREADS"), os.getpid()


def collect(executor, items):
    out = [None] * len(items)
    for i, res in executor.map(square_and_env, items):
        out[i] = res
    return out


def test_in_process_runs_in_this_process():
    with make_executor(jobs=1) as ex:
        out = collect(ex, [1, 2, 3])
    assert [o[0] for o in out] == [1, 4, 9]
    assert {o[2] for o in out} == {os.getpid()}


def test_process_pool_limits_threads():
    with make_executor(jobs=2, threads_per_worker=1) as ex:
        out = collect(ex, list(range(8)))
    assert [o[0] for o in out] == [i * i for i in range(8)]
    assert {o[1] for o in out} == {"1"}
    assert os.getpid() not in {o[2] for o in out}


def test_dask_local_cluster_limits_threads():
    with make_executor(dask_local=2, threads_per_worker=1) as ex:
        assert ex.n_workers == 2
        out = collect(ex, list(range(8)))
    assert [o[0] for o in out] == [i * i for i in range(8)]
    assert {o[1] for o in out} == {"1"}


def test_unreachable_scheduler_is_input_error():
    with pytest.raises(SlitwiseInputError, match="scheduler 'tcp://127.0.0.1:9'"):
        DaskExecutor(scheduler="tcp://127.0.0.1:9", timeout=1.0)
