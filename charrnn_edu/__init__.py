"""charrnn-edu: a character-level vanilla RNN, built, trained and checked step by step.

The chapters, each importing only from the ones before it:

1. :mod:`charrnn_edu.encoding`  — characters to ids and one-hot columns
2. :mod:`charrnn_edu.forward`   — the forward pass
3. :mod:`charrnn_edu.loss`      — summed cross-entropy
4. :mod:`charrnn_edu.bptt`      — backpropagation through time
5. :mod:`charrnn_edu.gradcheck` — numerical and complex-step gradient checks
6. :mod:`charrnn_edu.adagrad`   — clipping and AdaGrad
7. :mod:`charrnn_edu.sampling`  — synthesising text
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("charrnn-edu")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
