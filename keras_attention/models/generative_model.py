"""The base of the models that generate token by token, and their compiled functions.

`GPTDecoder` and `Seq2SeqTransformer` generate through the loops of
`keras_attention.models.generation`; what they share around those loops lives
here: the dtype policy and config, the fixed-size key/value cache (one slice
per decoder block, stacked on axis 1), and the compiled generate functions.
The loops are `keras.ops` only; compiling is the one backend-specific step:
`tf.function(jit_compile=True)` on TensorFlow, `jax.jit` on JAX (with the
variables passed in as state, as keras-hub's `CausalLM.make_generate_function`
does), and plain eager calls on other backends.
"""

from __future__ import annotations

import functools
from typing import Callable

import keras
from keras import ops

from keras_attention.models.generation import Sampler

__all__ = ["CompiledFunctions", "GenerativeModel"]


class CompiledFunctions:
    """A model's compiled generate functions, and its seed generator.

    Kept outside Keras' attribute tracking (a plain object), so compiling a
    function never adds variables to the model.

    A trace bakes its Python arguments into the program, so they are all
    passed through `get` as keywords and form the key of the compiled
    function: a call with another value compiles anew instead of silently
    reusing a program built for the old one. Arguments that change from call
    to call without changing the program (token ids, a start token) are
    tensor inputs of the compiled function instead.

    Args:
        variables: a callable returning the Keras variables the functions
            read (a model's `variables`), default none. JAX compiles pure
            functions, so there they are passed in as state at every call;
            the seed generator's state is always added.

    Example:

    >>> import numpy as np
    >>> functions = CompiledFunctions()
    >>> def scale(x, *, factor):
    ...     return x * factor
    >>> double = functions.get(scale, factor=2)
    >>> functions.get(scale, factor=2) is double
    True
    >>> float(double(np.float32(3.0)))
    6.0
    """

    def __init__(self, variables: Callable[[], list] | None = None):
        self._variables = variables or list
        self._functions = {}
        self._seed_generator = None

    def get(self, function: Callable, **static) -> Callable:
        """`function(*tensors, **static)` compiled for this backend, one per distinct `static`.

        Args:
            function: called as `function(*tensors, **static)`.
            **static: hashable Python values baked into the trace (ints,
                floats, None, tuples, the seed generator, functions).

        Returns:
            A callable taking the tensors; it traces once per input shape.
            On TensorFlow it is the `tf.function` itself.
        """
        key = (function.__qualname__, tuple(sorted(static.items())))
        if key not in self._functions:
            self._functions[key] = self._compile(functools.partial(function, **static))
        return self._functions[key]

    def _compile(self, function):
        backend = keras.config.backend()
        if backend == "tensorflow":
            import tensorflow as tf

            return tf.function(function, jit_compile=True)
        if backend == "jax":
            return _jax_compile(function, self._state)
        return function  # eager elsewhere

    def _state(self) -> list:
        # Every variable a compiled function may read or assign.
        state = list(self._variables())
        if self._seed_generator is not None:
            state.append(self._seed_generator.state)
        return state

    def seed_generator(self, seed: int | None):
        """The shared seed generator, restarted at `seed` (random if None)."""
        import numpy as np

        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        if self._seed_generator is None:
            self._seed_generator = keras.random.SeedGenerator(seed)
        state = self._seed_generator.state
        state.assign(ops.cast(ops.convert_to_tensor([seed, 0]), state.dtype))
        return self._seed_generator


def _jax_compile(function, state):
    """`function` under `jax.jit`, the Keras variables from `state()` passed as values.

    A jitted function is pure: it reads the variables' values from its
    arguments (in a `keras.StatelessScope`) and returns the new values of the
    ones it assigned (the seed generator's state), which are written back
    after the call. Weights changed between calls are therefore seen, and no
    weight is baked into the program as a constant.
    """
    import jax

    def stateless(values, tensors):
        variables = state()
        with keras.StatelessScope(state_mapping=list(zip(variables, values))) as scope:
            before = [scope.get_current_value(variable) for variable in variables]
            outputs = function(*tensors)
        # Decided while tracing: which variables the function assigned.
        updates = {
            index: scope.get_current_value(variable)
            for index, variable in enumerate(variables)
            if scope.get_current_value(variable) is not before[index]
        }
        return outputs, updates

    compiled = jax.jit(stateless)

    def call(*tensors):
        variables = state()
        outputs, updates = compiled([variable.value for variable in variables], tensors)
        for index, value in updates.items():
            variables[index].assign(value)
        return outputs

    return call


def _decode_with_sampler_settings(*tensors, decode, sampler_settings, **static):
    # `decode` with the sampler rebuilt from its (hashable) settings.
    return decode(*tensors, sampler=Sampler(*sampler_settings), **static)


class GenerativeModel(keras.Model):
    """A functional model that generates token by token on a fixed-size KV cache.

    The base of `GPTDecoder` and `Seq2SeqTransformer`. A subclass builds its
    layers, then calls `super().__init__(inputs=..., outputs=..., dtype=dtype,
    **kwargs)`, and names its decoder blocks in `cached_blocks`; the base then
    gives it:

    - the dtype policy (a functional model ignores `dtype`; it is kept for
      `compile`'s loss scaling under `mixed_float16` and for the config);
    - the key/value cache: `initial_cache` (zeros, one slice per block),
      `stack_layers` (any per-block tensor stacked the same way) and
      `call_blocks_with_cache` (the blocks run on one step, the cache updated);
    - compiled functions (`compiled_function`, `compiled_sampling`), keyed by every
      Python argument baked into a trace, compiled with `tf.function` on
      TensorFlow and `jax.jit` on JAX, so `generate` runs on either backend.

    Args:
        inputs: the functional model's inputs.
        outputs: its outputs.
        dtype: a dtype policy name or object, or None (the global policy).
        **kwargs: other `keras.Model` arguments (`name`, `trainable`).

    Example:

    >>> from keras_attention.models import GPTDecoder
    >>> model = GPTDecoder.from_preset("gpt_tiny")
    >>> isinstance(model, GenerativeModel)
    True
    >>> tuple(model.initial_cache(batch_size=3, max_length=10).shape)
    (3, 2, 2, 2, 10, 16)
    """

    def __init__(self, inputs, outputs, dtype=None, **kwargs):
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        if dtype is not None:
            self.dtype_policy = dtype
        self._compiled = CompiledFunctions(lambda: self.variables)

    # === Key/value cache ===

    @property
    def cached_blocks(self) -> list:
        """The decoder blocks whose self-attention keys/values are cached."""
        raise NotImplementedError(f"{type(self).__name__} must define `cached_blocks`.")

    def stack_layers(self, make: Callable):
        """`make(block)` for every cached block, stacked on axis 1 (the layer axis).

        The batch stays on axis 0, so beam search reorders every layer's
        cache with one gather.
        """
        return ops.stack([make(block) for block in self.cached_blocks], axis=1)

    def initial_cache(self, batch_size: int, max_length: int):
        """Zeros `(batch, num_layers, 2, kv_heads, max_length, head_dim)`."""
        return self.stack_layers(
            lambda block: block.self_attention.initial_cache(batch_size, max_length)
        )

    def call_blocks_with_cache(
        self, x, cache, cache_index, cross_attention_cache=None, **block_arguments
    ):
        """The cached blocks on `x`, placed at `cache_index` in the cache.

        Args:
            x: `(batch, length, hidden_dim)` embedded tokens.
            cache: from `initial_cache` (or a previous call).
            cache_index: int or scalar tensor, the position of `x`'s first token.
            cross_attention_cache: optional, from `stack_layers` over the
                blocks' `cross_attention.project_key_value`.
            **block_arguments: passed to every block (e.g. `encoder_padding_mask`).

        Returns:
            `(outputs (batch, length, hidden_dim), cache)`.
        """
        caches = []
        for layer, block in enumerate(self.cached_blocks):
            if cross_attention_cache is not None:
                block_arguments["cross_attention_cache"] = cross_attention_cache[:, layer]
            x, layer_cache = block(
                x,
                self_attention_cache=cache[:, layer],
                self_attention_cache_index=cache_index,
                **block_arguments,
            )
            caches.append(layer_cache)
        return x, ops.stack(caches, axis=1)

    # === Compiled functions ===

    def compiled_function(self, function: Callable, **static) -> Callable:
        """`function(*tensors, **static)` compiled for this backend (see `CompiledFunctions.get`)."""
        return self._compiled.get(function, **static)

    def compiled_sampling(self, decode: Callable, sampler, **static) -> Callable:
        """`decode(*tensors, sampler=..., seed_generator=..., **static)`, compiled.

        The sampler enters the key by its settings and the model's seed
        generator is restarted at its seed, so the same seed gives the same
        samples on every call.

        Args:
            decode: e.g. `self.decode`.
            sampler: a `Sampler`.
            **static: `decode`'s other Python arguments.
        """
        return self._compiled.get(
            _decode_with_sampler_settings,
            decode=decode,
            sampler_settings=sampler.key,
            seed_generator=self._compiled.seed_generator(sampler.seed),
            **static,
        )
