"""How an option is declared: once, on its field of `PipelineConfig` (pipelines/configs.py).

    keras_api: str = MODEL.option("KERAS_API", "The Keras API that builds the model: ...",
                                  sets=("model.keras_api",))

A declaration names the option's variable and help, its default (a value; the library's own,
when it sets a library parameter and gives none; or a `Derived` default described in words), the
library parameters it sets ("group.param") and, where it holds text the library reads as another
type, the `Codec` between the two. The field's name gives the flag, its annotation the type. No
TensorFlow here, so options are checked in a fraction of a second.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any


class SettingsError(ValueError):
    """A bad option, said in one line: its variable and flag, its value and what is allowed."""


@dataclasses.dataclass(frozen=True)
class Derived:
    """A default that follows other options. `words` says how (in `--help` and the reference);
    `value` computes it from the options declared before this one."""

    words: str
    value: Callable[[Mapping[str, Any]], Any]


@dataclasses.dataclass(frozen=True)
class Codec:
    """An option's text as the value of a library parameter, and back (for defaults)."""

    parse: Callable[[str], Any]  # ValueError(what is allowed) if the text is malformed
    show: Callable[[Any], str]


LIBRARY = object()  # "the default of the first library parameter this option sets"


@dataclasses.dataclass(frozen=True)
class Option:
    """One option as declared on its field (`name` and `kind` come from the field)."""

    env: str
    help: str
    section: str
    default: Any = None
    sets: tuple[str, ...] = ()  # "group.param"
    codec: Codec | None = None
    why: str = ""  # why the pipeline's default differs from the library's, where it does
    name: str = ""
    kind: type = str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def derived(self) -> bool:
        return isinstance(self.default, Derived)

    @property
    def default_text(self) -> str:
        """The default as `--help` and the reference show it."""
        if self.derived:
            return self.default.words
        if self.default is None or self.default == "":
            return "unset"
        if isinstance(self.default, bool):
            return str(self.default).lower()
        return str(self.default)

    def error(self, value: Any, rule: str) -> SettingsError:
        shown = "(unset)" if value is None or value == "" else value
        return SettingsError(f"{self.env}={shown} ({self.flag}): {rule}")

    def library_value(self, value: Any) -> Any:
        """The value as the library parameters it sets take it."""
        if self.codec is None:
            return value
        try:
            return self.codec.parse(value)
        except ValueError as error:
            raise self.error(value, str(error)) from None


@dataclasses.dataclass(frozen=True)
class Section:
    """Options that belong together (a component, the model); the reference keeps them so.
    `groups`: the library's parameter objects, whose values are the defaults of the options
    that set them and give none of their own."""

    title: str
    groups: Mapping[str, Any]

    def option(self, env: str, help: str, *, default: Any = LIBRARY, sets: Sequence[str] = (),
               codec: Codec | None = None, why: str = "") -> Any:
        if default is LIBRARY:
            group, param = sets[0].split(".")
            default = getattr(self.groups[group], param)
            if codec is not None:
                default = codec.show(default)
        declared = Option(env=env, help=help, section=self.title, default=default,
                          sets=tuple(sets), codec=codec, why=why)
        # A derived option's field holds its computed value once the config is built.
        field_default = None if declared.derived else default
        return dataclasses.field(default=field_default, metadata={"option": declared})


def comma_list(text: str) -> tuple[str, ...]:
    """'a, b,,c' -> ('a', 'b', 'c'): the items of an option that lists names."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


NAMES = Codec(comma_list, ",".join)


def pairs_codec(form: str) -> Codec:
    """'name:number,...' (or 'none') as ((name, number), ...); `form` shows one item."""

    def parse(text: str) -> tuple[tuple[str, float], ...]:
        if text.strip().lower() == "none":
            return ()
        pairs = []
        for item in comma_list(text):
            name, _, value = item.partition(":")
            try:
                pairs.append((name.strip(), float(value)))
            except ValueError:
                raise ValueError(f"item {item!r} must look like {form}, or the whole value "
                                 "'none'") from None
        return tuple(pairs)

    return Codec(parse, lambda pairs: ",".join(f"{n}:{v}" for n, v in pairs) or "none")


def counts_codec(form: str) -> Codec:
    """'name:count,...' as {name: count} (counts >= 0), '' as None; `form` shows one item."""

    def parse(text: str) -> dict[str, int] | None:
        if not text.strip():
            return None
        counts = {}
        for item in comma_list(text):
            name, sep, count = item.partition(":")
            if not sep or not name.strip() or not count.strip().isdigit():
                raise ValueError(f"item {item!r} must look like {form}")
            counts[name.strip()] = int(count)
        return counts

    return Codec(parse, lambda counts: ",".join(f"{n}:{c}" for n, c in (counts or {}).items()))


def fractions_codec(form: str) -> Codec:
    """One number for every item ('0.5'), 'name:number,...' as ((name, number), ...), or 'none'
    as (); `form` shows one item."""
    pairs = pairs_codec(form)

    def parse(text: str):
        try:
            return float(text)
        except ValueError:
            return pairs.parse(text)

    return Codec(parse, lambda value: (str(value) if isinstance(value, int | float)
                                       else pairs.show(value)))


def int_pair_codec(separator: str, empty_is_none: bool = False) -> Codec:
    """'a<separator>b' as (a, b) of integers; '' as None where `empty_is_none`."""

    def parse(text: str) -> tuple[int, int] | None:
        if empty_is_none and not text.strip():
            return None
        parts = text.replace(" ", "").split(separator)
        if len(parts) != 2 or not all(part.isdigit() for part in parts):
            raise ValueError(f"must look like 'a{separator}b' with integers a, b")
        return int(parts[0]), int(parts[1])

    return Codec(parse, lambda pair: separator.join(map(str, pair)) if pair else "")
