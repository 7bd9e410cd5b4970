"""`from_preset`: published architectures as data."""

from __future__ import annotations

import copy


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
    def from_preset(cls, name: str, **overrides):
        """Build the model of preset `name`, with constructor `overrides`.

        Raises:
            ValueError: for an unknown name, listing the known ones.
        """
        if name not in cls.presets:
            raise ValueError(
                f"Unknown {cls.__name__} preset. Received: name={name!r}. "
                f"Known presets: {', '.join(cls.preset_names())}"
            )
        config = copy.deepcopy(cls.presets[name]["config"])
        config.update(overrides)
        return cls(**config)
