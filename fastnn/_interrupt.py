"""Ctrl-C during a fit stops it between epochs, never in the middle of bookkeeping.

A ``KeyboardInterrupt`` raised at an arbitrary point of the Python epoch loop could leave
weights that are ahead of ``n_iter_`` and ``loss_curve_``. While a fit runs in the main
thread, SIGINT therefore only sets a flag; the loop checks it after each compiled call
and stops there, as scikit-learn does on Ctrl-C (with the warning "Training interrupted
by user."). The previous handler is restored afterwards, and a handler someone else
installed is left alone.
"""

import signal
import threading
from contextlib import contextmanager


@contextmanager
def deferred_interrupts():
    """Yield a flag dict whose ``"hit"`` turns True when SIGINT arrives."""
    flag = {"hit": False}
    in_main = threading.current_thread() is threading.main_thread()
    if not in_main or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield flag
        return

    def handler(signum, frame):
        flag["hit"] = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
