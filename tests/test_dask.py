"""A search on a real Dask cluster on the loopback interface: a scheduler and two worker
processes, one of them killed mid-run."""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from qsearch.cli import main
from qsearch.search.journal import JOURNAL
from realdata import PSNR_RUN

DASK = str(Path(sys.executable).parent / "dask")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def cluster():
    address = f"tcp://127.0.0.1:{free_port()}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [
            DASK,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            address.rsplit(":", 1)[1],
            "--no-dashboard",
        ],
        **quiet,
    )
    workers = [
        subprocess.Popen(
            [
                DASK,
                "worker",
                address,
                "--nthreads",
                "1",
                "--no-nanny",
                "--no-dashboard",
                "--name",
                f"worker-{i}",
            ],
            **quiet,
        )
        for i in range(2)
    ]
    from distributed import Client

    with Client(address, timeout="60s") as client:
        client.wait_for_workers(2, timeout=120)
    yield address, workers
    for process in (*workers, scheduler):
        process.kill()
        process.wait()


def command(out, *extra):
    return [
        *PSNR_RUN,
        "--searcher",
        "ga",
        "--option",
        "pop_size=8",
        "--budget",
        "40",
        "--seed",
        "3",
        "--quiet",
        "--out",
        str(out),
        *extra,
    ]


@pytest.mark.slow
def test_search_on_dask_survives_a_worker_death_and_matches_a_local_run(cluster, tmp_path):
    address, workers = cluster
    assert main(command(tmp_path / "local")) == 0
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qsearch.cli",
            *command(tmp_path / "dask", "--dask-scheduler", address),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    journal = tmp_path / "dask" / JOURNAL
    deadline = time.monotonic() + 300
    while (
        not journal.exists() or journal.read_text().count('"table"') < 10
    ) and time.monotonic() < deadline:
        time.sleep(0.05)
    workers[0].send_signal(signal.SIGKILL)
    assert run.wait(timeout=600) == 0, run.stderr.read().decode()[-2000:]
    local, dask = (
        pd.read_csv(tmp_path / "local" / "trials.csv"),
        pd.read_csv(tmp_path / "dask" / "trials.csv"),
    )
    assert len(dask) == 40 and dask["number"].tolist() == list(range(40)) and dask["key"].is_unique
    assert dask["key"].tolist() == local["key"].tolist()
    assert dask["psnr"].round(9).tolist() == local["psnr"].round(9).tolist()
    assert dask["worker"].nunique() == 2  # both workers took part before one died
    front = lambda out: pd.read_csv(out / "front.csv")["key"].tolist()  # noqa: E731
    assert front(tmp_path / "dask") == front(tmp_path / "local")


@pytest.mark.slow
def test_per_image_compress_on_dask_writes_what_a_local_run_writes(cluster, tmp_path):
    """Chunks of a folder judged and encoded on the cluster's workers (each loading the
    network once): the same files and manifest as one local process."""
    import shutil

    from realdata import photos

    address, _ = cluster
    paths = photos(10)
    for name, chosen in (("calib", paths[:6]), ("src", paths[6:])):
        (tmp_path / name).mkdir()
        for path in chosen:
            shutil.copy(path, tmp_path / name / path.name)
    arguments = ["compress", "--per-image", "--target", "0.9", "--calibrate",
                 str(tmp_path / "calib"), "--qualities", "5,20,50,95", "--forward", "fp32",
                 str(tmp_path / "src")]  # fmt: skip
    assert main([*arguments, str(tmp_path / "local")]) == 0
    assert main([*arguments, str(tmp_path / "dask"), "--dask-scheduler", address]) == 0
    local, dask = (pd.read_csv(tmp_path / n / "manifest.csv") for n in ("local", "dask"))
    pd.testing.assert_frame_equal(local, dask)
    for name in local["file"]:
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
