"""Rules of the model-format readers: Keras, TensorFlow, ONNX, GGUF, safetensors.

Each rule names what the *loader* would do with the content (run a Lambda, execute a
``PyFunc``, read a file outside the model folder), so a person can judge the risk without
knowing the format.  Informational rules (``INFO``/``LOW``) feed the inventory and never
block under the default policy.
"""

from __future__ import annotations

from safe_pip.models import Severity as S
from safe_pip.rules import Rule

_EXC = (
    "Add an [[exception]] with this rule id, the package, a reason and an expiry date "
    "(bind it to the file's sha256 where you can)."
)

RULES: tuple[Rule, ...] = (
    Rule(
        "MODEL-MALFORMED",
        "Model file is malformed",
        S.HIGH,
        "A safetensors, GGUF, ONNX, SavedModel, Keras or joblib file does not follow its "
        "format: a header length out of bounds, invalid JSON, overlapping tensors, a "
        "truncated protobuf. A loader may be more lenient than the scanner, so what cannot "
        "be read is blocked rather than called clean.",
        _EXC,
    ),
    Rule(
        "MODEL-NAME-MISMATCH",
        "File named as a safe format holds a code-carrying one",
        S.HIGH,
        "A file named '.safetensors' (a format that cannot carry code) is really a pickle "
        "or a zip archive. Tools that choose a loader by extension would treat it as safe; "
        "other tools unpickle it.",
        _EXC,
    ),
    Rule(
        "KERAS-LAMBDA",
        "Keras model contains a Lambda layer or serialized Python function",
        S.HIGH,
        "A Lambda layer (or a '__lambda__'/'function' object) stores Python code that "
        "Keras runs when the model is loaded or called. safe_mode is ignored for legacy "
        "HDF5 files (CVE-2025-9905) and was bypassed for .keras archives (CVE-2024-3660, "
        "CVE-2025-1550).",
        _EXC,
    ),
    Rule(
        "KERAS-UNSAFE-REFERENCE",
        "Keras config references a dangerous Python callable",
        S.CRITICAL,
        "The model config names a module/function outside Keras that runs commands, "
        "evaluates code, downloads files (keras.utils.get_file, CVE-2025-8747), switches "
        "safe mode off (enable_unsafe_deserialization, CVE-2025-9906) or unpickles "
        "(TorchModuleWrapper, CVE-2025-49655). Keras imports and calls it while loading.",
        _EXC,
        suspicious=True,
    ),
    Rule(
        "KERAS-CUSTOM-OBJECT",
        "Keras config imports an object from outside Keras",
        S.MEDIUM,
        "A layer, function or object in the config has a 'module' or 'registered_name' "
        "outside keras/tensorflow. Loading imports that module and builds the object with "
        "config values (the CVE-2025-1550 mechanism). Models with their own custom layers "
        "land here.",
        _EXC,
    ),
    Rule(
        "KERAS-CONFIG-UNREADABLE",
        "Keras model config could not be located or read",
        S.HIGH,
        "The HDF5 root attributes Keras reads (model_config, training_config) cannot be "
        "read: the file's structure cannot be followed (a filtered attribute heap, shared "
        "messages or types, a bad checksum, damage) or the attribute is not a JSON string. "
        "h5py may still read it and Keras build whatever it names, so it is blocked, not "
        "passed.",
        _EXC,
    ),
    Rule(
        "TF-DANGEROUS-OP",
        "TensorFlow graph uses an op that touches files or runs Python",
        S.HIGH,
        "The SavedModel/GraphDef contains ReadFile, WriteFile, PyFunc, EagerPyFunc, "
        "MatchingFiles, a file-writer summary op or another op that reads or writes the "
        "file system or calls back into Python when the graph runs.",
        _EXC,
    ),
    Rule(
        "ONNX-EXTERNAL-DATA-TRAVERSAL",
        "ONNX external data points outside the model folder",
        S.HIGH,
        "A tensor's external_data 'location' is absolute or contains '..', so loading the "
        "model reads (and may expose) an arbitrary file: CVE-2024-27318, CVE-2025-51480.",
        _EXC,
    ),
    Rule(
        "ONNX-CUSTOM-OP",
        "ONNX model uses operators from a custom domain",
        S.LOW,
        "Nodes use an operator domain other than the standard ONNX ones. They only run "
        "when a custom-op library is registered, which is native code; listed so it can "
        "be reviewed.",
        "Informational: does not block under the default policy.",
    ),
    Rule(
        "GGUF-TEMPLATE-INJECTION",
        "GGUF chat template reaches Python internals",
        S.CRITICAL,
        "A Jinja template in the GGUF metadata (tokenizer.chat_template or another string "
        "that parses as one), read with jinja2's own parser, reaches an attribute or "
        "subscript whose name is, or may be computed to be, one jinja2's sandbox calls "
        "internal (__class__, __globals__, gi_frame, f_globals, '__cla' ~ 'ss__', "
        "'%c' % 95, a special token, |attr, groupby('__init__'), map('attr', ...)), formats "
        "with attribute fields ('{0.__class__}'.format) or includes other templates. "
        "Rendering it outside a sandbox runs arbitrary code (CVE-2024-34359, "
        "llama-cpp-python).",
        _EXC,
        suspicious=True,
    ),
    Rule(
        "GGUF-TEMPLATE-UNREADABLE",
        "GGUF chat template could not be judged",
        S.HIGH,
        "A template-keyed string does not parse with jinja2, or is larger than the size "
        "the scanner judges whole (it is never cut and called clean). A runtime with "
        "another Jinja implementation may still render it.",
        _EXC,
    ),
    Rule(
        "HDF5-NOT-INSPECTED",
        "HDF5 file without a Keras config",
        S.INFO,
        "An HDF5 file with no Keras model_config: datasets of numbers (weights). Its "
        "content is data to h5py/Keras, but safe-pip does not decode HDF5 structures.",
        "Informational: does not block under the default policy.",
    ),
)
