"""`from_preset`: published architectures as data."""

from __future__ import annotations

import copy
import inspect


class PresetMixin:
    """Adds `from_preset(name, **overrides)` to a model class.

    A subclass sets `presets`, a dict `name -> {"description": str,
    "config": dict, "published_params": int | None}`; the config holds
    constructor arguments and overrides win over it.
    """

    presets: dict = {}

    @classmethod
    def preset_names(cls) -> list[str]:
        return sorted(cls.presets)

    @classmethod
    def argument_names(cls) -> list[str]:
        """The constructor arguments that a preset's overrides may set."""
        parameters = inspect.signature(cls.__init__).parameters.values()
        variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        names = {p.name for p in parameters if p.name != "self" and p.kind not in variadic}
        # What `**kwargs` hands on to `keras.Model`.
        return sorted(names | {"name", "dtype", "trainable"})

    @classmethod
    def check_overrides(cls, overrides: dict):
        """Refuse override keys the constructor does not take (a typo would
        otherwise vanish into `**kwargs`)."""
        unknown = sorted(set(overrides) - set(cls.argument_names()))
        if unknown:
            raise ValueError(
                f"{cls.__name__} has no argument(s) {unknown}. "
                f"Received: overrides={overrides!r}. Arguments: {', '.join(cls.argument_names())}"
            )

    @classmethod
    def from_preset(cls, name: str, **overrides):
        """Build the model of preset `name`, with constructor `overrides`.

        Raises:
            ValueError: for an unknown name, listing the known ones, or an
                override that is not a constructor argument.
        """
        if name not in cls.presets:
            raise ValueError(
                f"Unknown {cls.__name__} preset. Received: name={name!r}. "
                f"Known presets: {', '.join(cls.preset_names())}"
            )
        cls.check_overrides(overrides)
        config = copy.deepcopy(cls.presets[name]["config"])
        config.update(overrides)
        return cls(**config)
