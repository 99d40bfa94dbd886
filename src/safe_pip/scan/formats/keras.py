"""Keras models: ``.keras`` v3 archives (``config.json``) and legacy HDF5 ``model_config``.

Keras rebuilds a model from its JSON config by importing every ``module`` it
names and calling the class or function there; a ``Lambda`` layer carries
Python code.  ``safe_mode`` was meant to stop that but has been bypassed
(CVE-2024-3660, CVE-2025-1550, CVE-2025-9905 (ignored for HDF5), CVE-2025-9906,
CVE-2025-8747, CVE-2025-49655), so the config itself is judged here:

* any ``Lambda`` layer or serialized ``__lambda__``/function → ``KERAS-LAMBDA``;
* a module/name that is a known gadget (the pickle denylist), ``get_file``,
  ``enable_unsafe_deserialization`` or ``TorchModuleWrapper`` → ``KERAS-UNSAFE-REFERENCE``;
* any other module or ``registered_name`` outside Keras/TensorFlow → ``KERAS-CUSTOM-OBJECT``.

HDF5 without ``h5py``: Keras stores the config as a JSON string attribute of the root
group; :mod:`hdf5_attrs` reads exactly that attribute through the file's structure (dense
attribute storage included), and a structure it cannot follow (shared types, filtered heaps,
damage) or a config attribute that is not a string is a finding.
"""

from __future__ import annotations

import json
import re
from typing import Any

from safe_pip.scan.core.blob import Blob
from safe_pip.scan.core.context import ScanContext
from safe_pip.scan.formats.hdf5_attrs import Hdf5Error, root_attributes
from safe_pip.scan.formats.pickle.denylist import dangerous_reason

_MAX_CONFIG = 64 * 1024 * 1024
_MAX_NODES = 1_000_000

KERAS_PACKAGES = frozenset(
    {"keras", "keras_hub", "keras_cv", "keras_nlp", "tf_keras", "tensorflow"}
)
"""Top-level packages whose objects a config may name: the ones Keras 3 itself imports while
deserializing (``_retrieve_class_or_fn``: keras, keras_hub, keras_cv, keras_nlp), and
TF-Keras/TensorFlow for Keras 2 models.  A prefix (``keras_*``) would let any package
named ``keras_something`` through."""

REGISTERED_NAME = re.compile(r"([\w.\-]+)>([\w.\-]+)")
"""``register_keras_serializable`` files an object under ``<package>><name>``; Keras finds
it by that string wherever one is deserialized (a ``class_name``, a function's ``config``,
a ``registered_name``, an initializer or loss given as a plain string)."""
_SAFE_BUILTINS = frozenset(
    {
        "tuple",
        "list",
        "dict",
        "set",
        "frozenset",
        "int",
        "float",
        "str",
        "bool",
        "bytes",
        "complex",
        "slice",
        "range",
        "NoneType",
    }
)
_UNSAFE_NAMES = {
    "get_file": "downloads a file (CVE-2025-8747)",
    "enable_unsafe_deserialization": "switches safe_mode off while loading (CVE-2025-9906)",
    "TorchModuleWrapper": "unpickles a torch module with torch.load (CVE-2025-49655)",
    "load_model": "loads another model from a path of the config's choosing",
}
_LAMBDA_CLASSES = frozenset({"Lambda", "__lambda__"})
_NOT_RESOLVED = ("/name", "/registered_name")
"""Keys whose string is never looked up as a registered object (a layer's ``name``), or is
judged with its object (``registered_name``)."""


def _keras_module(module: str) -> bool:
    return module.split(".", 1)[0] in KERAS_PACKAGES


def foreign_registered_name(text: str) -> str | None:
    """The package of a registered-object name outside Keras (``thirdparty>fn``), if any."""
    m = REGISTERED_NAME.fullmatch(text)
    if m is None or _keras_module(m.group(1)):
        return None
    return m.group(1)


def check_config(ctx: ScanContext, config: Any, location: str) -> None:
    """Judge a parsed Keras config (any nesting of dicts and lists)."""
    stack: list[tuple[Any, str]] = [(config, "")]
    nodes = 0
    while stack:
        obj, path = stack.pop()
        nodes += 1
        if nodes > _MAX_NODES:
            ctx.report("MODEL-MALFORMED", "Keras config is too large to judge", location)
            return
        if isinstance(obj, dict):
            _check_object(ctx, obj, location, path)
            stack.extend((v, f"{path}/{k}") for k, v in obj.items())
        elif isinstance(obj, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(obj))
        elif isinstance(obj, str) and obj in _UNSAFE_NAMES:
            ctx.report(
                "KERAS-UNSAFE-REFERENCE",
                f"config value {obj!r} at {path or '/'}: {_UNSAFE_NAMES[obj]}",
                location,
                path=path,
            )
        elif isinstance(obj, str) and not path.endswith(_NOT_RESOLVED):
            package = foreign_registered_name(obj)
            if package is not None:
                ctx.report(
                    "KERAS-CUSTOM-OBJECT",
                    f"{obj!r} at {path or '/'} names an object registered by {package!r}, "
                    "outside Keras: Keras deserializes a registered name wherever it "
                    "finds one",
                    location,
                    path=path,
                    registered_name=obj,
                )


def _check_object(ctx: ScanContext, obj: dict[str, Any], location: str, path: str) -> None:
    cls = obj.get("class_name")
    cls = cls if isinstance(cls, str) else ""
    conf = obj.get("config")
    where = path or "/"
    if cls in _LAMBDA_CLASSES:
        code = conf.get("function", conf.get("code")) if isinstance(conf, dict) else None
        ctx.report(
            "KERAS-LAMBDA",
            f"{cls} at {where} carries Python code that Keras runs on load or call",
            location,
            path=path,
            code=str(code)[:500] if code is not None else None,
        )
    module = obj.get("module")
    module = module if isinstance(module, str) else ""
    name = conf if cls == "function" and isinstance(conf, str) else cls
    registered = obj.get("registered_name")
    if cls in _UNSAFE_NAMES or name in _UNSAFE_NAMES:
        key = cls if cls in _UNSAFE_NAMES else name
        ctx.report(
            "KERAS-UNSAFE-REFERENCE",
            f"{key} at {where}: {_UNSAFE_NAMES[key]}",
            location,
            path=path,
            module=module,
        )
        return
    if module:
        reason = dangerous_reason(module, name) if name else None
        if reason:
            ctx.report(
                "KERAS-UNSAFE-REFERENCE",
                f"{module}.{name} at {where} is a code-execution gadget: {reason}",
                location,
                path=path,
                module=module,
                name=name,
            )
            return
        if not _keras_module(module) and not (module == "builtins" and name in _SAFE_BUILTINS):
            ctx.report(
                "KERAS-CUSTOM-OBJECT",
                f"{module}.{name or '?'} at {where} is imported from outside Keras",
                location,
                path=path,
                module=module,
                name=name,
            )
            return
    if isinstance(registered, str) and registered and name not in _SAFE_BUILTINS:
        package = registered.split(">", 1)[0] if ">" in registered else ""
        if package and not _keras_module(package):
            ctx.report(
                "KERAS-CUSTOM-OBJECT",
                f"registered object {registered!r} at {where} comes from outside Keras",
                location,
                path=path,
                registered_name=registered,
            )


def read_config_json(ctx: ScanContext, blob: Blob, location: str) -> None:
    """``config.json`` of a ``.keras`` archive (the archive reader calls this)."""
    ctx.saw("keras-v3")
    if blob.size > _MAX_CONFIG:
        ctx.report("MODEL-MALFORMED", "Keras config.json is larger than 64 MiB", location)
        return
    try:
        config = json.loads(blob.read(0, blob.size))
    except (ValueError, RecursionError) as exc:
        ctx.report("MODEL-MALFORMED", f"Keras config.json is not valid JSON: {exc}", location)
        return
    check_config(ctx, config, location)


def read_folder_config(ctx: ScanContext, blob: Blob, location: str) -> None:
    """A ``config.json`` inside a folder (of a wheel or any zip).

    ``keras.saving.load_model(folder)`` loads any folder holding a ``config.json``
    (``is_keras_dir``) and hands it to ``deserialize_keras_object``, which needs a
    top-level ``class_name``.  Only such files are judged: the many other ``config.json``
    files (Hugging Face model configs, tool settings) are not Keras objects.
    """
    if blob.size > _MAX_CONFIG:
        return
    try:
        config = json.loads(blob.read(0, blob.size))
    except (ValueError, RecursionError, UnicodeDecodeError):
        return  # Keras could not build anything from it either
    if isinstance(config, dict) and "class_name" in config:
        ctx.saw("keras-folder-config")
        check_config(ctx, config, location)


def zipfile_name(name: str) -> str:
    """A member name as Python's ``zipfile`` gives it to Keras (and to pip, numpy, the
    legacy ``torch.export`` reader): cut at the first NUL byte, and with ``\\`` as ``/`` on
    Windows (``zipfile._sanitize_filename``).  ``config.json\\x00.txt`` is ``config.json``.
    """
    return name.split("\x00", 1)[0].replace("\\", "/")


def is_keras_archive(names: set[str]) -> bool:
    """What ``keras.saving.load_model`` needs from a zip: a top-level ``config.json``.

    ``metadata.json`` is written by Keras but never required when loading, so an archive
    without it is still a model Keras builds from ``config.json``.  Names are compared as
    Python's ``zipfile`` reports them (:func:`zipfile_name`).
    """
    return "config.json" in {zipfile_name(n) for n in names}


CONFIG_ATTRIBUTES = (b"model_config", b"training_config")
"""Root attributes Keras deserializes: the model, and (``compile=True``) the training
configuration, whose losses, metrics and optimizer are deserialized objects too."""


def read_hdf5(ctx: ScanContext, blob: Blob, location: str, depth: int) -> None:
    """Legacy Keras HDF5: the root group's ``model_config``/``training_config`` attributes.

    Read through the file's structure (:mod:`hdf5_attrs`), so the attribute Keras reads
    is the one judged: a decoy string elsewhere neither passes nor hides it, and every
    attribute of a candidate name is judged (the library's choice between duplicates is
    not guessed).  JSON is decoded with ``json.loads``, the decoder Keras uses, so
    ``\\u`` escapes and duplicate keys mean what they mean to Keras.
    """
    ctx.saw("hdf5")
    try:
        attrs = root_attributes(blob)
    except Hdf5Error as exc:
        ctx.report(
            "KERAS-CONFIG-UNREADABLE",
            f"HDF5 root attributes cannot be read ({exc}); if it holds a Keras model_config, "
            "what Keras would build is unknown",
            location,
        )
        return
    configs = [a for a in attrs if a.name in CONFIG_ATTRIBUTES]
    for attr in configs:
        name = attr.name.decode()
        if not attr.is_string:
            ctx.report(
                "KERAS-CONFIG-UNREADABLE",
                f"HDF5 attribute {name} is not a string; what Keras would make of it is unknown",
                location,
            )
        for i, raw in enumerate(attr.values):
            where = f"{location}@{name}" + (f"[{i}]" if len(attr.values) > 1 else "")
            try:
                config = json.loads(raw.decode("utf-8"))
            except (ValueError, RecursionError) as exc:
                ctx.report(
                    "KERAS-CONFIG-UNREADABLE",
                    f"HDF5 attribute {name} is not JSON Keras could read ({exc})",
                    where,
                )
                continue
            ctx.saw("keras-h5-config")
            check_config(ctx, config, where)
    if not configs:
        ctx.report(
            "HDF5-NOT-INSPECTED",
            "HDF5 file without a Keras config; its datasets were not decoded",
            location,
        )
        ctx.skip(location, "HDF5 datasets are not decoded (no Keras config found)")
