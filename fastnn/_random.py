"""A model's random generator, and its Mersenne Twister state as the epoch kernels take it.

scikit-learn makes a new ``RandomState(seed)`` at every ``fit`` and ``partial_fit``
of a model with an int ``random_state``. fastnn makes one for the model's first fit
and seeds that one again at its later fits (:func:`generator`): the same stream, for
less of the fixed cost that a small fit pays at every call.

The epoch kernels continue the generator's stream when they shuffle the rows
(:mod:`fastnn.kernels.rng`). They take its state as one ``uint32`` vector, the 624
words of the Mersenne Twister's key and then its position, and the generator goes on
from where they leave it. For a generator fastnn made, that vector is the generator's
own memory (:meth:`SeededGenerator.state_view`), so nothing is copied. Any other
generator is read with ``get_state`` before the kernels run and written with
``set_state`` after them, 24 and 26 us (NumPy 2.4, here), which copy the 624 words
one Python object at a time.
"""

import ctypes
import functools
import numbers
import weakref

import numpy as np
from numpy.random.bit_generator import ISeedSequence
from sklearn.utils import check_random_state

# The key's words and then the position, as the kernels take them.
STATE_WORDS = 625


class _Unseeded(ISeedSequence):
    """The words a new Mersenne Twister starts from, when ``RandomState.seed`` writes
    over them at once: zeros, without ``SeedSequence``'s hashing of 624 words (57 us
    of the 60 that ``RandomState(seed)`` takes, NumPy 2.4)."""

    def generate_state(self, n_words, dtype=np.uint32):
        return np.zeros(n_words, dtype=dtype)


def _words_at(bit_generator):
    """A ``uint32`` vector of :data:`STATE_WORDS` entries over the memory where
    ``bit_generator`` keeps its state (its public ``ctypes.state_address``). The
    vector keeps ``bit_generator`` alive, as that memory is its."""
    words = (ctypes.c_uint32 * STATE_WORDS).from_address(bit_generator.ctypes.state_address)
    words.owner = bit_generator
    return np.ctypeslib.as_array(words)


@functools.cache
def _layout_holds():
    """Whether NumPy keeps an ``MT19937``'s state as the kernels' vector: the key's 624
    ``uint32`` words, then the position as a 32-bit ``int``. That is the C struct
    ``mt19937_state`` of NumPy's ``numpy/random/src/mt19937/mt19937.h``, not a
    documented layout, so it is checked once per process, on a generator stepped to
    a position that is neither 0 nor 624, against what its ``state`` property says."""
    bit_generator = np.random.MT19937(12345)
    bit_generator.random_raw(5)
    state = bit_generator.state["state"]
    view = _words_at(bit_generator)
    return bool(
        np.array_equal(view[:624], state["key"])
        and int(view[624]) == state["pos"]
        and view.flags.aligned
    )


class SeededGenerator(np.random.RandomState):
    """A ``RandomState`` that fastnn made from an int ``random_state`` for the model
    ``owner`` (a weak reference): that model's own, so that its later fits may seed it
    again rather than make a new one. A shallow copy of the model, which shares the
    attribute, makes one of its own, so that two copies may train in two threads.

    Parameters
    ----------
    bit_generator : numpy.random.MT19937
        The Mersenne Twister it draws from.
    owner : BaseMLP
        The model it belongs to.
    """

    def __init__(self, bit_generator, owner):
        super().__init__(bit_generator)
        self.owner = weakref.ref(owner)
        self.mt19937 = bit_generator
        self._view = None

    def state_view(self):
        """The Mersenne Twister's state as the kernels' vector, in its own memory.

        Returns
        -------
        numpy.ndarray or None
            A ``uint32`` vector of 625 entries (the key, then the position) that
            reads and writes this generator's state, or ``None`` where this NumPy
            keeps the state otherwise (see :func:`_layout_holds`).
        """
        if self._view is None and _layout_holds():
            self._view = _words_at(self.mt19937)
        return self._view


def generator(est):
    """``check_random_state(est.random_state)``, but an int seed seeds the generator
    that an earlier fit of ``est`` made from one again.

    ``RandomState.seed(seed)`` leaves a generator as a new ``RandomState(seed)`` would
    be (the Mersenne Twister's words from the seed, no cached Gaussian) in 1 us; a new
    ``RandomState(seed)`` takes 60 us (NumPy 2.4, here), most of them spent on words
    that the seed then replaces, and a first generator made here (:class:`_Unseeded`)
    20 us. A generator passed in is the caller's, and is never seeded again.

    Parameters
    ----------
    est : BaseMLP
        The model; its last generator, if any, is ``est._random_state``.

    Returns
    -------
    numpy.random.RandomState
        A :class:`SeededGenerator` of ``est``'s own for an int seed, else scikit-learn's
        ``check_random_state``'s.
    """
    random_state = est.random_state
    if isinstance(random_state, numbers.Integral):
        previous = getattr(est, "_random_state", None)
        if type(previous) is SeededGenerator and previous.owner() is est:
            previous.seed(random_state)
            return previous
        made = SeededGenerator(np.random.MT19937(_Unseeded()), est)
        made.seed(random_state)
        return made
    return check_random_state(random_state)


def seed_or_state(random_state, made):
    """What the generator ``made`` (:func:`generator`'s, for the parameter
    ``random_state``) can be made again from: the seed itself when ``random_state`` is
    an int, else its state (``get_state``)."""
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return made.get_state()


def generator_from(state):
    """A new ``RandomState`` from ``state``: a seed, or what ``get_state()`` returned."""
    if isinstance(state, int):
        return np.random.RandomState(state)
    random_state = np.random.RandomState()
    random_state.set_state(state)
    return random_state


def kernel_state(random_state):
    """The Mersenne Twister state of ``random_state`` as the kernels' vector.

    Returns
    -------
    rng_state : numpy.ndarray
        625 ``uint32`` entries: the key, then the position. The generator's own memory
        for a :class:`SeededGenerator` (the kernels then move its stream on in place),
        else a copy.
    gauss : tuple or None
        ``None`` for the generator's own memory; for a copy, its cached Gaussian
        ``(has_gauss, gauss)``, which the kernels do not touch, for :func:`restore`.
    """
    if type(random_state) is SeededGenerator:
        view = random_state.state_view()
        if view is not None:
            return view, None
    _, key, pos, has_gauss, cached_gaussian = random_state.get_state()
    rng_state = np.empty(STATE_WORDS, dtype=np.uint32)
    rng_state[:624] = key
    rng_state[624] = pos
    return rng_state, (has_gauss, cached_gaussian)


def restore(random_state, rng_state, gauss):
    """Continue ``random_state`` from where the kernels left the stream in
    ``rng_state``: nothing to do when that was its own memory (``gauss`` is ``None``),
    else ``set_state``. ``gauss`` is what :func:`kernel_state` returned: reading it
    again here would cost another ``get_state``."""
    if gauss is None:
        return
    random_state.set_state(("MT19937", rng_state[:624].copy(), int(rng_state[624]), *gauss))
