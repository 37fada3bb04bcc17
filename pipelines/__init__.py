import os

# Nothing here gives BLAS work worth a thread, but OpenBLAS (numpy's, and scipy's under Great
# Expectations) keeps a thread per core spinning after each call: about 0.5 s of CPU taken from a
# 1M-order night on two cores. Set before numpy loads; a value set outside wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
