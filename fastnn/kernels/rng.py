"""NumPy's legacy ``RandomState.shuffle``, draw for draw, inside compiled code.

scikit-learn shuffles each epoch with ``RandomState.shuffle`` (through
``sklearn.utils.shuffle``). To run several epochs in one compiled call and still see
scikit-learn's mini-batches, the kernel continues the same Mersenne Twister stream:
``rng_state`` holds the 624 uint32 key words of ``RandomState.get_state()`` followed by
the position, and is written back to the ``RandomState`` afterwards.

References: Matsumoto and Nishimura (1998), MT19937; NumPy's ``mt19937_gen``,
``mt19937_next32`` and ``random_interval`` (``numpy/random/src``) and
``RandomState._shuffle_raw`` (``numpy/random/mtrand.pyx``).
"""

import numpy as np

from fastnn._jit import jit

_N = 624
_M = 397


@jit(internal=True)
def _regenerate(key):
    """Twist the 624 key words (the first 624 entries of ``key``) into the next block."""
    for i in range(_N):
        y = (key[i] & np.uint32(0x80000000)) | (key[(i + 1) % _N] & np.uint32(0x7FFFFFFF))
        value = key[(i + _M) % _N] ^ (y >> np.uint32(1))
        if y & np.uint32(1):
            value ^= np.uint32(0x9908B0DF)
        key[i] = value


@jit(internal=True)
def next_uint32(rng_state):
    """The next 32-bit output of the stream in ``rng_state`` (key words, then position)."""
    if rng_state[_N] >= _N:
        _regenerate(rng_state)
        rng_state[_N] = 0
    y = rng_state[rng_state[_N]]
    rng_state[_N] += 1
    y ^= y >> np.uint32(11)
    y ^= (y << np.uint32(7)) & np.uint32(0x9D2C5680)
    y ^= (y << np.uint32(15)) & np.uint32(0xEFC60000)
    y ^= y >> np.uint32(18)
    return y


@jit(internal=True)
def random_interval(rng_state, high):
    """A uniform integer in ``[0, high]`` by masked rejection (``high < 2**32``)."""
    if high == 0:
        return np.int64(0)
    mask = np.uint32(high)
    mask |= mask >> np.uint32(1)
    mask |= mask >> np.uint32(2)
    mask |= mask >> np.uint32(4)
    mask |= mask >> np.uint32(8)
    mask |= mask >> np.uint32(16)
    while True:
        value = next_uint32(rng_state) & mask
        if value <= high:
            return np.int64(value)


@jit
def shuffle(idx, rng_state):
    """Shuffle ``idx`` in place exactly as ``RandomState.shuffle`` would."""
    for i in range(idx.shape[0] - 1, 0, -1):
        j = random_interval(rng_state, i)
        tmp = idx[i]
        idx[i] = idx[j]
        idx[j] = tmp
