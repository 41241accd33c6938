"""One BLAS thread while the package trains (charrnn_edu.threads), in the library and the CLI.

Each test starts from two BLAS threads (threadpoolctl can raise the count at run time), so
"one thread inside" cannot hold by accident, and checks the count is given back afterwards.
"""

import pytest
import typer
from threadpoolctl import threadpool_info, threadpool_limits

from charrnn_edu.commands.common import run_app, typer_factory
from charrnn_edu.settings import Settings
from charrnn_edu.threads import THREAD_VARIABLES, one_blas_thread
from charrnn_edu.training import Trainer


def blas_threads() -> list[int]:
    """The thread count of every BLAS library loaded in this process (never none)."""
    counts = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert counts, f"threadpoolctl found no BLAS library: {threadpool_info()}"
    return counts


@pytest.fixture
def two_threads(monkeypatch):
    """No thread variable set by the user, and every BLAS at two threads."""
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with threadpool_limits(limits=2, user_api="blas"):
        if set(blas_threads()) != {2}:
            pytest.skip(f"this BLAS does not run 2 threads here: {threadpool_info()}")
        yield
    # (threadpoolctl gives back the count the process had before the fixture)


def test_one_thread_inside_and_the_count_given_back(two_threads):
    with one_blas_thread():
        assert blas_threads() == [1] * len(blas_threads())
        with one_blas_thread():             # nested, as a command around Trainer.run
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {1}
    assert set(blas_threads()) == {2}


def test_a_count_the_user_set_is_kept(two_threads, monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    with one_blas_thread():
        assert set(blas_threads()) == {2}


def test_trainer_run_trains_on_one_thread(two_threads, corpus):
    trainer = Trainer.start(corpus.read_text("utf-8"),
                            Settings(hidden=8, seq_length=5, sample_length=0))
    seen: list[set[int]] = []
    trainer.run(20, callback=lambda t: seen.append(set(blas_threads())), every=5)
    assert trainer.iteration == 20
    assert seen and all(counts == {1} for counts in seen), seen
    assert set(blas_threads()) == {2}


def test_every_charrnn_command_runs_on_one_thread(two_threads):
    seen: list[set[int]] = []
    app = typer_factory(name="probe", help="Records the BLAS threads a command runs.")

    @app.command()
    def probe() -> None:
        seen.append(set(blas_threads()))

    @app.command()
    def other() -> None:            # two commands: Typer then wants the command's name
        raise typer.Exit(3)

    assert run_app(app, ["probe"]) == 0
    assert seen == [{1}]
    assert set(blas_threads()) == {2}
