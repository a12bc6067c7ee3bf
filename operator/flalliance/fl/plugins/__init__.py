"""Finding a task's training plugin by the name its spec gives, and checking it is the one the spec pins.

Built-in plugins are imported lazily (the classifier and LoRA pull in torch and transformers only when a
task uses them); a user's plugin is any installed distribution that registers an object satisfying
:class:`~flalliance.fl.plugin.TrainingPlugin` under the ``flalliance.plugins`` entry-point group. A name
registered by both is refused rather than silently shadowed.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from flalliance.fl.plugin import PluginError, TrainingPlugin

if TYPE_CHECKING:
    from flalliance.fl.spec import TrainingLogicSpec

ENTRY_POINT_GROUP = "flalliance.plugins"
BUILTIN: dict[str, str] = {
    "classifier": "flalliance.fl.plugins.classifier:PLUGIN",
    "lora_causal_lm": "flalliance.fl.plugins.lora:PLUGIN",
}


def _resolve(target: str) -> object:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def available() -> dict[str, str]:
    """Every plugin name this process can load, with where it comes from (module:object)."""
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


@cache
def load_plugin(name: str) -> TrainingPlugin:
    """The plugin registered as ``name``; :class:`PluginError` naming what is installed otherwise."""
    external = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if name in BUILTIN and external:
        raise PluginError(f"runtime.plugin: {name!r} is built in and also registered by {external[0].value}")
    if len(external) > 1:
        raise PluginError(
            f"runtime.plugin: {name!r} is registered twice ({', '.join(e.value for e in external)})"
        )
    if name in BUILTIN:
        plugin = _resolve(BUILTIN[name])
    elif external:
        plugin = external[0].load()
    else:
        raise PluginError(
            f"runtime.plugin: no plugin {name!r} in this worker (installed: {', '.join(sorted(available()))})"
        )
    if not isinstance(plugin, TrainingPlugin) or plugin.name != name:
        raise PluginError(f"runtime.plugin: {name!r} does not resolve to a TrainingPlugin named {name!r}")
    return plugin


def plugin_for(spec: TrainingLogicSpec) -> TrainingPlugin:
    """The spec's plugin, checked against ``runtime.plugin_version`` and asked to accept the settings."""
    plugin = load_plugin(spec.runtime.plugin)
    wanted = spec.runtime.plugin_version
    if wanted is not None and plugin.version != wanted:
        raise PluginError(
            f"runtime.plugin_version: the training logic pins {spec.runtime.plugin} {wanted}, "
            f"this worker has {plugin.version}"
        )
    plugin.check(spec)
    return plugin


def check_runtime(spec: TrainingLogicSpec, running_image: str | None) -> TrainingPlugin:
    """What a worker checks before it trains or judges anything: that the image it runs is the one the
    training logic pins (``runtime.image``, when pinned) and that its plugin is the one named. Both values
    are named in the error; the worker exits with its permanent code."""
    pinned = spec.runtime.image
    if pinned is not None and running_image != pinned:
        raise PluginError(
            f"runtime.image: the training logic pins the worker image {pinned}, this worker runs "
            f"{running_image or 'an image it was not told (FLALLIANCE_WORKER_IMAGE unset)'}"
        )
    return plugin_for(spec)
