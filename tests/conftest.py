"""Session-wide settings of the test process (tests/ only)."""

import numpy  # noqa: F401  (loads numpy's OpenBLAS, and scipy.linalg scipy's, so that the limit below reaches both)
import scipy.linalg  # noqa: F401
from threadpoolctl import threadpool_limits

# One OpenBLAS thread in this process. The tests' scikit-learn fits are tiny (tens of trials, a few thousand
# features): the decoder's colour readout (fit_colour, six LogisticRegression fits in every training run) and the
# controls' probes. Two OpenBLAS threads on 2 cores made such fits several times slower than one (thread hand-offs,
# spinning beside torch's threads). eegviz sets no BLAS thread count of its own (only torch's, eegviz.threads), so no
# tested behaviour depends on it; torch's MKL is not OpenBLAS and keeps its threads; subprocesses are not affected.
threadpool_limits(limits=1, user_api="blas")
