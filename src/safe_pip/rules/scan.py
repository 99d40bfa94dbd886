"""Rules of the pickle engine and the container readers (foundation scanner)."""

from __future__ import annotations

from safe_pip.models import Severity as S
from safe_pip.rules import Rule

_EXC = (
    "Add an [[exception]] with this rule id, the package, a reason and an expiry date "
    "(bind it to the file's sha256 where you can)."
)

RULES: tuple[Rule, ...] = (
    Rule(
        "PICKLE-GLOBAL-DANGEROUS",
        "Pickle imports a known code-execution gadget",
        S.CRITICAL,
        "The pickle names a callable or module that is known to run commands, evaluate "
        "code, open files or sockets, or load another pickle (os.system, builtins.eval, "
        "subprocess, runpy, pip, pkgutil.resolve_name, ...). Loading the file with pickle "
        "or torch.load (without weights_only) runs it.",
        "Not allowable through allow_globals; if you really trust the file, use an "
        "[[exception]] bound to its sha256, with a reason and an expiry date.",
        suspicious=True,
    ),
    Rule(
        "PICKLE-GLOBAL-UNKNOWN",
        "Pickle imports a global that is not on the allowlist",
        S.MEDIUM,
        "The pickle names a (module, qualname) pair that is not on safe-pip's allowlist "
        "(torch's weights_only set, numpy reconstruction and a few inert builtins). "
        "Unpickling imports the module and may call the object with attacker-chosen "
        "arguments. Full-model pickles of your own classes land here.",
        "Add the exact name to [scan] allow_globals (or a package's allow_globals), e.g. "
        'allow_globals = ["sklearn.linear_model._logistic.LogisticRegression"], or set '
        '[scan] unknown_globals = "warn".',
    ),
    Rule(
        "PICKLE-GLOBAL-OWN-DATA",
        "Pickle instantiates or stores its own package's names",
        S.LOW,
        "A pickle inside a wheel creates objects of that same wheel's own classes, only by "
        "NEWOBJ (or copyreg._reconstructor; not INST/OBJ, which call a name that is not a "
        "class) plus state, or only stores the package's names "
        "(also as the function of a functools.partial that nothing calls while loading), "
        "never calling the package's code with arguments or handing it to a helper that "
        "calls it (babel's locale data, gensim's test models). It is the package's data "
        "wherever it sits, and the package's code is installed anyway, so it is reported "
        "without blocking. A function of the package called from the pickle (also through "
        "a partial the pickle calls), any other package's names, the same pickle outside "
        "its wheel, and known gadgets all still block.",
        "Nothing to allow: it does not block. To review it, read the file named in the location.",
    ),
    Rule(
        "PICKLE-GLOBAL-VALUE",
        "Pickle stores a builtin or a required package's name without calling it",
        S.LOW,
        "The pickle imports a builtin (builtins.hash in a dict, say), or inside a wheel a "
        "name of a distribution the wheel requires unconditionally (a Requires-Dist without "
        "a marker; numpy.float64 as a dtype), but never calls it, never instantiates or "
        "changes it, never binds it in a functools.partial and never hands it to a helper "
        "that calls what it is given. "
        "Importing builtins runs nothing, and importing a required distribution runs code "
        "the user installs with the wheel anyway, so loading the file calls nothing; code "
        "that later calls the loaded value is the loading program's business. A name of a "
        "distribution the wheel does not require, or one it requires only under a marker, "
        "still blocks.",
        "Nothing to allow: it does not block.",
    ),
    Rule(
        "PICKLE-GLOBAL-TEST-DATA",
        "Test data pickle instantiates another package's classes",
        S.LOW,
        "A pickle inside a wheel, in a test/tests/testing folder within one of the wheel's "
        "own top-level packages, names classes of packages the wheel does not require "
        "(gensim's test data holds scikit-learn and morfessor objects), but only "
        "instantiates them (NEWOBJ, copyreg._reconstructor with an allowed base; not "
        "INST/OBJ, which call a name that is not a class) and gives "
        "them state: it calls no function that is not allowlisted, hands nothing to a "
        "helper that calls it and names no known gadget. Such a file is inert unless "
        "something loads it: code of the wheel that unpickles a file when imported is "
        "judged by the source rules (PY-UNSAFE-LOAD), and a load inside a function runs only "
        "when someone calls it (the package's test suite), so it is reported without "
        "blocking. The same "
        "pickle outside such a folder (a top-level tests folder, the .data or .dist-info "
        "folders, inside another archive), or with any function call, still blocks.",
        "Nothing to allow: it does not block. To review it, read the file named in the location.",
    ),
    Rule(
        "DATA-UNACCOUNTED",
        "Bytes the file's own loader never reads",
        S.MEDIUM,
        "The format that claims the file stops before its end, or leaves a gap: bytes after "
        "a safetensors payload (also one with no tensors), after GGUF tensor data or numpy "
        "array data, between zip members. The loader of that format never reads them, but "
        "another reader of the same bytes may (a pickle or zip hidden behind a valid header). "
        "The bytes were also scanned on their own; zero padding is not reported.",
        _EXC,
    ),
    Rule(
        "PICKLE-LOADERS-DISAGREE",
        "Loaders read this pickle stream differently",
        S.HIGH,
        "An opcode reads past the end of its FRAME, a STOP sits inside a frame with bytes "
        "after it, or the pure-Python unpickler (joblib's) reads on where the C one stops. "
        "File readers, memory readers and the two unpicklers then execute different opcodes "
        "from the same bytes; pickle writers never produce this. Every reading was scanned, "
        "but a file built to be read two ways is blocked.",
        _EXC,
    ),
    Rule(
        "PICKLE-GLOBAL-UNRESOLVED",
        "Pickle builds a global whose name the scanner cannot resolve",
        S.HIGH,
        "STACK_GLOBAL took operands that are not plain strings (results of calls, missing "
        "memo entries, oversized strings). The loader would resolve them at load time; a "
        "static reader cannot, so the file is blocked.",
        _EXC,
    ),
    Rule(
        "PICKLE-BUILD-ON-GLOBAL",
        "Pickle sets attributes or items on a module, class or function",
        S.HIGH,
        "BUILD or SETITEM(S) targets an imported object itself rather than an instance: "
        "pickle then writes attributes into a module or class (numpy.prod.a = ..., "
        "overwriting collections.OrderedDict). This rewires allowlisted names and is "
        "never produced by ordinary serialisation.",
        _EXC,
    ),
    Rule(
        "PICKLE-INDIRECT-CALL",
        "Pickle calls a value that is not an imported global",
        S.HIGH,
        "REDUCE, NEWOBJ, OBJ or INST calls something that was itself produced by a call or "
        "fetched out of another object. Ordinary pickles only call allowlisted classes "
        "and functions directly; chained calls are how gadget chains are built.",
        _EXC,
    ),
    Rule(
        "PICKLE-EXT-OPCODE",
        "Pickle uses copyreg extension codes",
        S.HIGH,
        "EXT1/EXT2/EXT4 fetch a global from the process's copyreg extension registry, "
        "which the scanner cannot see. No mainstream library uses them.",
        _EXC,
    ),
    Rule(
        "PICKLE-PERSID",
        "Pickle uses a persistent id outside PyTorch's storage convention",
        S.HIGH,
        "PERSID/BINPERSID hand a value to the loader's persistent_load hook. PyTorch only "
        "uses ('storage', type, key, location, size) tuples; anything else reaches code "
        "the scanner cannot judge.",
        _EXC,
    ),
    Rule(
        "PICKLE-MALFORMED",
        "Pickle stream is broken or truncated",
        S.HIGH,
        "The stream ends early, has an unknown opcode, a stack or memo error, or another "
        "inconsistency. The loader runs every opcode before the error, so a payload "
        "placed before deliberate damage still executes; what was found before the "
        "break is reported too.",
        _EXC,
    ),
    Rule(
        "PICKLE-LIMIT",
        "Pickle exceeds a scanner limit",
        S.HIGH,
        "The stream has more opcodes, memo entries, stack depth, string bytes or streams "
        "than the configured limits, or took longer than the time budget. The scan "
        "stopped there, so the file is blocked rather than called clean.",
        "Raise the limit in [scan] limits if the file is legitimately that large, or use "
        "an [[exception]].",
    ),
    Rule(
        "TORCH-LEGACY-MAGIC",
        "Legacy PyTorch file with an unexpected magic number",
        S.HIGH,
        "A legacy (non-zip) torch file must start with a pickle of the integer magic "
        "number. Anything else (for example a value computed by a call) means the file "
        "was crafted to confuse scanners.",
        _EXC,
    ),
    Rule(
        "ARCHIVE-UNSUPPORTED",
        "Container format that cannot be inspected",
        S.HIGH,
        "The member is a 7z, RAR, encrypted zip or another container safe-pip does not "
        "open. Its content could be anything, so it is blocked instead of skipped.",
        _EXC,
    ),
    Rule(
        "ARCHIVE-CORRUPT",
        "Container is truncated or corrupt",
        S.HIGH,
        "The archive or compressed stream could not be read to the end (truncated zip, "
        "bad central directory, broken gzip). Loaders are often more lenient than "
        "parsers, so what cannot be read is blocked.",
        _EXC,
    ),
    Rule(
        "ARCHIVE-LIMIT",
        "Container exceeds a scanner limit",
        S.HIGH,
        "Nesting depth, member count, decompressed size or compression ratio went past "
        "the configured limits (zip bomb protection). The rest was not inspected.",
        "Raise the limit in [scan] limits, or use an [[exception]].",
    ),
    Rule(
        "ARCHIVE-PATH-TRAVERSAL",
        "Archive member escapes its folder",
        S.HIGH,
        "A member name is absolute or contains '..', so extracting the archive writes "
        "outside the destination folder.",
        _EXC,
    ),
    Rule(
        "ZIP-NAME-MISMATCH",
        "Zip local header and central directory disagree",
        S.MEDIUM,
        "A member's name in its local header differs from the central directory. "
        "PyTorch reads one, other tools the other; both were scanned. Real writers never "
        "produce this.",
        _EXC,
    ),
    Rule(
        "ZIP-NAME-TRUNCATED",
        "Zip member name holds a NUL byte",
        S.HIGH,
        "Python's zipfile (pip installing a wheel, Keras loading a .keras archive, "
        "numpy.load, torch.export's legacy reader) cuts a member name at its first NUL "
        "byte, so the member is installed or loaded under another name than the one "
        "written in the archive: config.json\\x00.txt is read as config.json. Real writers "
        "never produce this.",
        _EXC,
    ),
    Rule(
        "ZIP-DUPLICATE-NAME",
        "Two archive members share one name",
        S.MEDIUM,
        "Zip readers disagree on which of two same-named members wins (the first, the "
        "last, or an error), so what one tool checks another may not load. Every copy was "
        "scanned; real writers never produce duplicates.",
        _EXC,
    ),
    Rule(
        "ZIP-CRC-MISMATCH",
        "Zip member fails its CRC check",
        S.MEDIUM,
        "The member's data does not match its stored CRC-32. PyTorch ignores CRCs, so "
        "the data was scanned as written, but a checkpoint whose CRCs were broken on "
        "purpose is suspicious.",
        _EXC,
    ),
    Rule(
        "SCAN-LIMIT",
        "Scan stopped at its time or size budget",
        S.HIGH,
        "The artifact took longer than the time budget or was larger than the size "
        "limit, so part of it was not inspected.",
        "Raise [scan] limits, or use an [[exception]].",
    ),
    Rule(
        "SCAN-ERROR",
        "Internal error while scanning a member",
        S.HIGH,
        "A reader failed unexpectedly on this member. The member was not fully "
        "inspected, so it is blocked; please report the file.",
        _EXC,
    ),
    Rule(
        "SCAN-UNREADABLE",
        "File could not be read",
        S.HIGH,
        "The file could not be opened or read (permissions, a broken link, a device).",
        _EXC,
    ),
    Rule(
        "SCAN-HOOK-MODIFIED",
        "safe-pip's start-up hook was modified",
        S.HIGH,
        "The file presents itself as safe-pip's per-environment hook (_safe_pip_hook.pth, "
        "_safe_pip_hook.py, or a .pth importing _safe_pip_hook) but its content is not one "
        "safe-pip wrote (digests in safe_pip/data/own_hooks.json). The hook runs at every "
        "interpreter start and decides whether pip installs pass the gate. safe-pip's genuine "
        "hook files are recognised by digest and counted as 'safe-pip hook', never flagged.",
        "Run 'safe-pip shim install --env <python>' to rewrite the genuine hook, and find out "
        "who changed it.",
    ),
)
