"""Paths in generated reports: relative to the repository top, never the
absolute paths of the machine that ran the benchmark, and the temporary
directories of a run named generically."""
import os
import re

# The repository top: the parent of this file's directory (bench/).
TOP = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))

# Directories a run makes with mkdtemp/mktemp (bench/run: $CACHE/work.XXXXXX;
# measure.py, routes.py: run.*, home.*), and what the report calls them.
_TEMP = [
    (re.compile(r"/[^\s;:'\"`]*/run\.[A-Za-z0-9_]+/download\.bin"), "{OUT}"),
    (re.compile(r"/[^\s;:'\"`]*/run\.[A-Za-z0-9_]+"), "{OUTDIR}"),
    (re.compile(r"/[^\s;:'\"`]*/work\.[A-Za-z0-9_]+"), "{WORK}"),
    (re.compile(r"/[^\s;:'\"`]*/home\.[A-Za-z0-9_]+"), "{HOME}"),
]


def rel(path, top=None):
    """path relative to the repository top when it lies under it (also when
    given relative to the current directory), else path unchanged."""
    top = os.path.realpath(top or TOP)
    full = os.path.realpath(path)
    if full == top or full.startswith(top + os.sep):
        return os.path.relpath(full, top)
    return path


def scrub(text, top=None):
    """text with every 'TOP/' removed (so repository files read as
    bench/run, build/rangefetch, ...) and a run's temporary directories
    replaced by {OUT}, {OUTDIR}, {WORK} and {HOME}."""
    for t in {top or TOP, os.path.realpath(top or TOP)}:
        text = text.replace(t.rstrip("/") + "/", "")
    for rx, name in _TEMP:
        text = rx.sub(name, text)
    return text
