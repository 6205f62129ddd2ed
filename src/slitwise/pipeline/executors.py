"""Executors: one interface over in-process, local process-pool and Dask distributed runs.

An executor maps a picklable function over work items and yields ``(index, result)`` pairs as
they complete. The function must catch its own failures and return them as data (the runner's
per-source function does), so one failing source never stops the run.

Each worker process runs with BLAS, OpenMP, numba and XLA limited to ``threads_per_worker``
threads, so that N workers on N cores do not oversubscribe the machine.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from slitwise.errors import input_error

__all__ = [
    "Executor",
    "InProcessExecutor",
    "ProcessPoolExecutor",
    "DaskExecutor",
    "make_executor",
    "thread_limit_env",
]

log = logging.getLogger(__name__)


def _worker_pid(_: object) -> int:
    return os.getpid()


def thread_limit_env(threads: int) -> dict[str, str]:
    """Environment variables that cap the threads of BLAS, OpenMP, numba and XLA."""
    n = str(int(threads))
    return {
        "OMP_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "NUMBA_NUM_THREADS": n,
        "VECLIB_MAXIMUM_THREADS": n,
        "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=" + n,
        "MPLBACKEND": "Agg",
    }


@contextlib.contextmanager
def _environ(env: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Executor:
    """Map a function over items, yielding ``(index, result)`` as results complete."""

    name = "executor"
    n_workers = 1

    def map(self, func: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        raise NotImplementedError  # pragma: no cover

    def close(self) -> None:
        """Release workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class InProcessExecutor(Executor):
    """Run every item in the calling process, in order."""

    name = "in-process"

    def map(self, func, items):
        for i, item in enumerate(items):
            yield i, func(item)


class ProcessPoolExecutor(Executor):
    """A local pool of ``jobs`` spawned worker processes."""

    name = "process-pool"

    def __init__(self, jobs: int, *, threads_per_worker: int = 1) -> None:
        self.n_workers = int(jobs)
        ctx = multiprocessing.get_context("spawn")
        # Children inherit the environment at spawn time, before they import numpy or jax.
        with _environ(thread_limit_env(threads_per_worker)):
            self._pool = cf.ProcessPoolExecutor(max_workers=self.n_workers, mp_context=ctx)
            # Start the workers now, while the limited environment is in place.
            list(self._pool.map(_worker_pid, range(self.n_workers)))

    def map(self, func, items):
        futures = {self._pool.submit(func, item): i for i, item in enumerate(items)}
        for fut in cf.as_completed(futures):
            yield futures[fut], fut.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor(Executor):
    """Dask distributed: connect to ``scheduler`` or start a LocalCluster of ``n_local`` workers.

    A task whose worker dies is rescheduled on another worker by the Dask scheduler (up to
    ``allowed_failures`` times), so a killed worker loses no source.
    """

    name = "dask"

    def __init__(
        self,
        *,
        scheduler: str | None = None,
        n_local: int = 0,
        threads_per_worker: int = 1,
        timeout: float = 10.0,
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - dependency of the package
            raise input_error("executor", "Dask distributed is not installed") from exc
        self._cluster = None
        env = thread_limit_env(threads_per_worker)
        if scheduler:
            try:
                self._client = Client(scheduler, timeout=timeout)
            except (OSError, TimeoutError) as exc:
                raise input_error(
                    f"scheduler '{scheduler}'", f"cannot connect ({exc.__class__.__name__})"
                ) from exc
        else:
            self._cluster = LocalCluster(
                n_workers=max(1, int(n_local)),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                env=env,
            )
            self._client = Client(self._cluster)
        self.n_workers = len(self._client.scheduler_info()["workers"]) or 1

    @property
    def client(self):
        """The ``distributed.Client``."""
        return self._client

    def map(self, func, items):
        from distributed import as_completed

        # pure=False: every call is run (sources are distinct), keys stay unique.
        futures = self._client.map(func, list(items), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for fut in as_completed(futures):
            yield index[fut.key], fut.result()

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(
    *, jobs: int = 1, scheduler: str | None = None, dask_local: int = 0, threads_per_worker: int = 1
) -> Executor:
    """Choose an executor: Dask when a scheduler or LocalCluster is asked for, else a pool or
    in-process."""
    if scheduler or dask_local:
        return DaskExecutor(
            scheduler=scheduler, n_local=dask_local, threads_per_worker=threads_per_worker
        )
    if jobs > 1:
        return ProcessPoolExecutor(jobs, threads_per_worker=threads_per_worker)
    return InProcessExecutor()
