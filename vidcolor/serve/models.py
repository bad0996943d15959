"""The colorizers `vidcolor serve` offers: the one its command line named, loaded at start, and the other shipped
models and night sensors, each loaded the first time a request asks for it and kept (five at most: the shipped
presets, one per sensor), so a choice on the page costs one load, not one per photo."""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..colorizer import Colorizer
from ..errors import WeightsError
from ..models.presets import MODEL_NAMES, SENSORS, choose_preset

Load = Callable[[str, str], Colorizer]  # (model, sensor) -> a colorizer with the server's other options


class Colorizers:
    """A request's (model, sensor) becomes a key, its colorizer ``get(key)``. ``None`` for both means the server's
    own; a model alone means visible light; a sensor alone, its own model. A checkpoint given by path (``load``
    None) is the only choice."""

    def __init__(self, default: Colorizer, load: Load | None) -> None:
        self.default, self._load = default, load
        self._default_key = (default.model_name.removesuffix("-int8"), default.sensor)
        self._loaded: dict[tuple[str, str], Colorizer] = {self._default_key: default}
        self._loading = threading.Lock()

    def choices(self) -> dict[str, object]:
        """What a request may ask for, and the server's own choice (for the page's menus)."""
        if self._load is None:
            return {"models": [], "sensors": [], "model": self._default_key[0], "sensor": self.default.sensor}
        return {"models": [name for name in MODEL_NAMES if name != "auto"], "sensors": list(SENSORS),
                "model": self._default_key[0], "sensor": self.default.sensor}  # fmt: skip

    def key(self, model: str | None, sensor: str | None) -> tuple[str, str]:
        """The (preset, sensor) a request asks for, checked (a ``WeightsError`` says what is wrong)."""
        if model is None and sensor is None:
            return self._default_key
        if self._load is None:
            raise WeightsError(f"this server runs {self.default.model_name} only: leave out model and sensor")
        if sensor is None:  # a model named is a visible-light one
            sensor = "visible" if model is not None else self.default.sensor
        if model is None and sensor == self.default.sensor == "visible":
            model = self._default_key[0]
        return choose_preset(model or "auto", self.default.backend.NAME, sensor).name, sensor  # type: ignore[arg-type]

    @property
    def default_key(self) -> tuple[str, str]:
        return self._default_key

    def get(self, key: tuple[str, str]) -> Colorizer:
        """The colorizer of a ``key`` the method above made (loaded now if it is the first to ask)."""
        with self._loading:  # one load per choice, however many requests ask at once
            if key not in self._loaded:
                preset, sensor = key
                self._loaded[key] = self._load(preset if sensor == "visible" else "auto", sensor)  # type: ignore[misc]
            return self._loaded[key]
