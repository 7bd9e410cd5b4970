"""Every benchmark script imports: what it uses from the library still exists.

The benchmarks run for minutes and are not run by the tests; a refactor that
moves a function they import would otherwise only show when someone next runs
one (`benchmarks/quality.py` failed at import for a while that way). The
quality benchmark's gettext reader and placeholder count are tested here too,
on tiny hand-written catalogues.
"""

import importlib.util
import re
import struct
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py"))


def _load_benchmark(name):
    """The module `benchmarks/<name>.py`, its module level run (not `main()`)."""
    path = BENCHMARKS[0].parent / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_benchmarks():
    assert len(BENCHMARKS) >= 9, [path.name for path in BENCHMARKS]


@pytest.mark.parametrize("path", BENCHMARKS, ids=[path.stem for path in BENCHMARKS])
def test_benchmark_imports_and_has_a_main(path):
    module = _load_benchmark(path.stem)
    assert callable(getattr(module, "main", None)), f"{path.name} has no main()"


# --- benchmarks/quality.py's real-language mode: the gettext reader -------


def _write_mo(path, messages: dict):
    """A compiled gettext catalogue (GNU .mo, little-endian, no hash table) of `messages`."""
    keys = sorted(messages)
    ids = [key.encode() for key in keys]
    strings = [messages[key].encode() for key in keys]
    header_size = 7 * 4
    data_start = header_size + 2 * 8 * len(keys)
    blob, tables = b"", []
    for table in (ids, strings):
        entries = []
        for text in table:
            entries.append((len(text), data_start + len(blob)))
            blob += text + b"\0"
        tables.append(entries)
    header = struct.pack(
        "<7I", 0x950412DE, 0, len(keys), header_size, header_size + 8 * len(keys), 0, data_start
    )
    body = b"".join(struct.pack("<2I", *entry) for table in tables for entry in table)
    path.write_bytes(header + body + blob)


_HEADER = {"": "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n != 1);\n"}


def test_quality_reads_gettext_catalogues_whole_per_split(tmp_path, capsys):
    quality = _load_benchmark("quality")
    directory = tmp_path / "xx" / "LC_MESSAGES"
    directory.mkdir(parents=True)
    _write_mo(directory / "alpha.mo", {
        **_HEADER,
        "Hello %s": "Hola %s",
        "%d file\0%d files": "%d archivo\0%d archivos",  # plural: form 0 kept
        "menu\x04Open": "Abrir",  # a context, dropped from the message
        "Not yet": "",  # untranslated
        "x" * 200: "y" * 200,  # too long
    })
    _write_mo(directory / "beta.mo", {**_HEADER, "Quit": "Salir", "Use --help\n": "Use --help\n"})
    _write_mo(directory / "gamma.mo", {**_HEADER, "Quit": "Salir", "Save {0}": "Guardar {0}"})

    pairs, skipped = quality.read_catalogue(str(directory / "alpha.mo"))
    assert sorted(pairs) == [("%d file", "%d archivo"), ("Hello %s", "Hola %s"), ("Open", "Abrir")]
    assert skipped == {"header": 1, "plural forms > 0": 1, "untranslated": 1,
                       "longer than 120 characters": 1}

    train, validation, test = quality.gettext_pairs("xx", seed=0, test_fraction=0.3,
                                                    directory=str(tmp_path))
    printed = capsys.readouterr().out
    assert "3 catalogues" in printed and "7 pairs read" in printed
    catalogues = {"alpha": set(pairs), "beta": {("Quit", "Salir"), ("Use --help\n", "Use --help\n")},
                  "gamma": {("Quit", "Salir"), ("Save {0}", "Guardar {0}")}}
    listed = {part: re.findall(r"(\w+) \(\d+\)", line)
              for part, line in re.findall(r"^  (train|validation|test): \d+ pairs from(.*)$", printed, re.M)}
    assert sorted(name for names in listed.values() for name in names) == sorted(catalogues)
    for part, pairs_of_part in (("train", train), ("test", test)):
        # Whole catalogues per part, less held-out messages also seen in training.
        assert listed[part] and set(pairs_of_part) <= set().union(*(catalogues[n] for n in listed[part]))
    assert set(train) == set().union(*(catalogues[n] for n in listed["train"]))
    assert test and not validation
    assert not {message for message, _ in test} & {message for message, _ in train}


def test_quality_counts_placeholder_mismatches():
    quality = _load_benchmark("quality")
    placeholders = quality.placeholders
    assert sorted(placeholders("%2$s of %(name)s: {0} %5.2f%% {}").elements()) == [
        "%%", "%(name)s", "%5.2f", "%s", "{0}", "{}"]
    assert not placeholders("100% sure, {not a placeholder}")
    sources = ["%s and %d", "{0} %%", "Use --help", "%1$s %2$s"]
    outputs = ["%d y %s", "{0} %", "Use --ayuda", "%2$s %1$s"]
    assert quality.count_differing(placeholders, sources, outputs) == 1
    assert quality.count_differing(quality.options, sources, outputs) == 1
