"""Hypothesis profiles: a fast one by default, a thorough derandomised one when CI is set."""

import os

# One BLAS thread, as the charrnn command uses (before numpy is imported anywhere): the
# products here are small, and a second thread waiting for a busy core costs far more than
# it gives (measured: a 200 x 100 product took 10 times as long on a loaded 2-core machine).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("fast", max_examples=25, deadline=None)
settings.register_profile("ci", max_examples=120, deadline=None, derandomize=True,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE",
                                     "ci" if os.environ.get("CI") else "fast"))


import pytest  # noqa: E402

from charrnn_edu.files import default_corpus  # noqa: E402


@pytest.fixture
def corpus(tmp_path):
    """A 3,000-character text from the bundled corpus, as a file."""
    path = tmp_path / "text.txt"
    path.write_text(default_corpus().read_text("utf-8")[:3000], encoding="utf-8")
    return path
