"""`from_preset` and the config: published architectures as data.

A model's config is its constructor arguments, and so is a preset's: one
mechanism (`get_config` reads every constructor argument back from the
attribute of the same name) serves `.keras` saving and presets alike."""

from __future__ import annotations

import copy
import inspect

import keras


class PresetMixin:
    """Adds `from_preset(name, **overrides)` to a model class.

    A subclass sets `presets`, a dict `name -> {"description": str,
    "config": dict, "published_params": int | None}`; the config holds
    constructor arguments and overrides win over it. The subclass keeps each
    constructor argument as an attribute of the same name; `get_config`
    returns them (with `name`, `trainable`, `dtype`) and `from_config`
    rebuilds the model from them.
    """

    presets: dict = {}

    @classmethod
    def preset_names(cls) -> list[str]:
        return sorted(cls.presets)

    def get_config(self) -> dict:
        """Every constructor argument, read back from the attribute of the same
        name (what a preset's config holds), with `name`, `trainable` and `dtype`."""
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }
        for name in self.argument_names():
            if name not in config:
                config[name] = _serializable(getattr(self, name))
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    @classmethod
    def argument_names(cls) -> list[str]:
        """The constructor arguments that a preset's overrides may set."""
        parameters = inspect.signature(cls.__init__).parameters.values()
        variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        names = {p.name for p in parameters if p.name != "self" and p.kind not in variadic}
        # What `**kwargs` hands on to `keras.Model`.
        return sorted(names | {"name", "dtype", "trainable"})

    @classmethod
    def argument_annotations(cls) -> dict[str, str]:
        """`{argument: its annotation as written}` (`"int | None"`), for the
        constructor arguments that have one."""
        parameters = inspect.signature(cls.__init__).parameters.values()
        return {
            p.name: p.annotation if isinstance(p.annotation, str) else str(p.annotation)
            for p in parameters if p.annotation is not inspect.Parameter.empty
        }

    @classmethod
    def nullable_argument_names(cls) -> list[str]:
        """The constructor arguments that take None (annotated `... | None`),
        e.g. `GPTDecoder`'s `pad_token_id`."""
        return sorted(name for name, annotation in cls.argument_annotations().items() if "None" in annotation)

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


def _serializable(value):
    """Plain values as they are; Keras objects (e.g. an initializer) serialised."""
    if value is None or isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return value
    return keras.saving.serialize_keras_object(value)
