"""The input and output every stage shares: atomic writes (torch checkpoints too), line-numbered
readers of JSON, YAML and CSV, the checks of input values with their one-line errors (InputError),
file hashes and locks, and the URL redaction and retry timing of downloads."""

from __future__ import annotations

import codecs
import contextlib
import errno
import fcntl
import json
import math
import os
import random
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any


_UMASK = os.umask(0)
os.umask(_UMASK)


class InputError(ValueError):
    """Bad user input; the message names the file (and line or field) at fault."""


def exit_status(main: Callable[[], int | None], program: str | None = None) -> int:
    """Run a command's `main` and return its exit status: bad input (an InputError) prints
    `PROGRAM: error: MESSAGE` on stderr (PROGRAM: the command as typed, sys.argv[0]) and gives 2."""
    try:
        return int(main() or 0)
    except InputError as error:
        print(f"{program or sys.argv[0]}: error: {error}", file=sys.stderr)
        return 2


def error_summary(error: BaseException) -> str:
    """The first line of an exception's message, or its type's name where the message is empty."""
    return (str(error).splitlines() or [""])[0] or type(error).__name__


def descriptor_number(path: Path) -> int | None:
    """The number of this process's file descriptor that `path` names (/dev/stdout, /dev/fd/N,
    /proc/self/fd/N), its symbolic links followed; None for any other path."""
    for _ in range(40):  # the kernel's own limit on links followed
        folder = os.path.realpath(path.absolute().parent)
        own = re.fullmatch(r"/proc/(\d+)(?:/task/\d+)?/fd|/dev/fd", folder)
        if own and path.name.isdigit():
            return int(path.name) if own.group(1) in (None, str(os.getpid())) else None
        if not path.is_symlink():
            return None
        path = Path(folder) / os.readlink(path)
    return None


def check_output_path(path: str | os.PathLike) -> Path:
    """The file that a write to `path` replaces: a symbolic link's target (the link stays), or
    `path` itself where the write goes into it (an open file descriptor, a FIFO, /dev/null); an
    InputError where `path` is `-`, a folder, a closed descriptor, a loop of links, or lies in a
    folder that cannot be written (or under a file), so a command can refuse it before any work."""
    path = Path(path)
    if str(path) == "-":
        raise InputError("-: give the output as a file path (standard output is /dev/stdout)")
    descriptor = descriptor_number(path)
    if descriptor is not None:  # /dev/stdout: written through the descriptor, never reopened
        try:
            is_folder = stat.S_ISDIR(os.fstat(descriptor).st_mode)
        except OSError:
            raise InputError(f"{path}: file descriptor {descriptor} is not open") from None
        if is_folder:
            raise InputError(f"{path}: output is a folder, not a file")
        return path
    if path.is_dir():
        raise InputError(f"{path}: output is a folder, not a file")
    try:
        os.stat(path)
    except OSError as e:  # a dangling link is written through (its target made); a loop cannot be
        if e.errno == errno.ELOOP:
            raise InputError(f"{path}: cannot write the output: a loop of symbolic links") from None
    if path.exists() and not path.is_file():  # /dev/null, a FIFO: written in place
        return path
    folder = path.absolute().parent
    while not folder.exists():  # the folders the write would create: the nearest one present decides
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(f"{path}: cannot write the output: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{path}: cannot write the output: no write permission in {folder}")
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes to `path` through a temporary file in the same folder and an atomic rename; a
    symbolic link is followed; a file descriptor of this process (/dev/stdout) is written through,
    at its offset (a shell's `>>` appends), and a file that is not a regular one (/dev/null, a
    FIFO) in place, since replacing either would lose it. A write that fails (a full disk, a
    file-size limit, a read-only folder) is an InputError naming the file; the file is kept as it was."""
    path = check_output_path(path)
    try:
        _write_bytes(path, data)
    except BrokenPipeError:  # the reader of a pipe went away: the command line stops quietly
        raise
    except OSError as e:
        raise InputError(f"{path}: cannot write the file: {e.strerror or e}") from None


def _write_bytes(path: Path, data: bytes) -> None:
    """atomic_write_bytes's write, its OSError unchanged; the temporary file removed on any failure."""
    descriptor = descriptor_number(path)
    if descriptor is not None:
        with contextlib.suppress(AttributeError, ValueError, OSError):  # no stdout, or a closed one
            sys.stdout.flush()  # what the process printed stays before the output
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view):]
        return
    if path.exists() and not path.is_file():
        with open(path, "wb") as f:
            f.write(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the mode a plain open() would
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int | None = 1) -> None:
    """Write an object as JSON atomically (sorted keys are not imposed: order is kept)."""
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    """Write one JSON object per line atomically."""
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def save_checkpoint(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` with torch.save to `path` atomically (through a buffer: the same object, the same bytes)."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike, what: str, setting: str | None = None) -> Any:
    """What torch.load reads from `path` (on the CPU, tensors and plain containers only); a missing
    file raises InputError naming it as `what` (and the config `setting` that gave it)."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found" + (f" ({setting})" if setting else "")) from None


def _not_utf8(path: str | os.PathLike, data: bytes, error: UnicodeDecodeError, first_line: int = 1) -> InputError:
    """The InputError of a UTF-8 decoding failure, naming the line and column of the bad byte
    (`data` starting at line `first_line` of the file)."""
    start = error.start
    line = data.count(b"\n", 0, start) + first_line
    column = start - (data.rfind(b"\n", 0, start) + 1) + 1
    return InputError(f"{path}:{line}:{column}: not UTF-8 text (byte 0x{data[start]:02x})")


def _unreadable(path: str | os.PathLike, what: str, error: OSError) -> InputError:
    """The InputError of a file that cannot be opened: the file a path lies under, or the OS's reason."""
    if isinstance(error, NotADirectoryError):
        above = next((p for p in Path(path).parents if p.is_file()), None)
        if above is not None:
            return InputError(f"{path}: {what} not found: {above} is a file, not a folder")
    return InputError(f"{path}: cannot read the {what}: {error.strerror or error}")


def read_text(path: str | os.PathLike, what: str = "file") -> str:
    """A UTF-8 text file's contents, a leading byte-order mark (as Windows editors write one)
    skipped; a missing file or a byte that is not UTF-8 names the file (and line)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: {what} is a folder, not a file") from None
    except OSError as e:  # a path under a file (a split's panoptic.json given for the split), no permission
        raise _unreadable(path, what, e) from None
    data = data.removeprefix(codecs.BOM_UTF8)  # so that a bad byte's column counts from the text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _not_utf8(path, data, e) from None


#: why json refuses an integer literal longer than Python's int-string conversion limit (a ValueError)
_TOO_MANY_DIGITS = f"an integer of more than {sys.get_int_max_str_digits():,} digits"


class DuplicateKeyError(ValueError):
    """A JSON object that names one key twice (json keeps the last value silently); its arg is the key."""


def unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    """json's object_pairs_hook: the object as a dict; DuplicateKeyError for a key given twice."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise DuplicateKeyError(twice)
    return obj


#: The largest integer an id or count of an input may hold: the metrics count in 64-bit integers.
MAX_INTEGER = 2**63 - 1


def is_integer(value: object) -> bool:
    """Whether a JSON value is an integer (not a bool, which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def nonnegative_integer(value: object, where: str) -> int:
    """`value`, a JSON integer from 0 to MAX_INTEGER; another value (a fraction, a string, an
    infinity, one too large to count with) is an InputError naming `where`, the field."""
    if not is_integer(value) or not 0 <= value <= MAX_INTEGER:
        raise InputError(f"{where}: must be an integer from 0 to 2^63 - 1, got {value!r}")
    return value


def is_number(value: object) -> bool:
    """Whether a JSON value is a number, integer or not (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def integral(value: object) -> int | None:
    """The int of a JSON integer, or of a float of an integral value (1234.0: some writers give
    counts so); None for any other value."""
    if is_integer(value):
        return value
    return int(value) if isinstance(value, float) and value.is_integer() else None


def check_known_fields(obj: object, allowed: Sequence[str], where: str) -> None:
    """Raise InputError naming the first field of a JSON object that `allowed` lacks: a misspelt
    field ("Score", "synonyms" for "synonym") would otherwise be ignored, its value lost."""
    unknown = [k for k in obj if k not in allowed] if isinstance(obj, dict) else []
    if unknown:
        raise InputError(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(allowed)})")


def check_required_fields(obj: dict, required: Sequence[str], where: str) -> None:
    """Raise InputError naming the first field of `required` that a JSON object lacks."""
    missing = [k for k in required if k not in obj]
    if missing:
        raise InputError(f"{where}: missing field {missing[0]!r}")


def check_unicode(text: str, where: str, what: str = "text") -> None:
    """Raise InputError (naming `where`) for a string that is not Unicode text: an unpaired
    surrogate, as JSON's "\\ud800" gives, which no UTF-8 writer or tokenizer accepts."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InputError(f"{where}: {what} holds an unpaired surrogate {text[e.start]!r} at character {e.start + 1}: "
                         "not Unicode text") from None


def text_lines(text: str) -> list[str]:
    """The lines of a file's text, ended by "\\n", "\\r\\n" or "\\r" only: str.splitlines also ends
    one at a form feed, "\\x1c"-"\\x1e", "\\x85" or "\\u2028", which would split a line in two
    silently and shift every line number after it."""
    lines = re.split(r"\r\n|\r|\n", text)
    return lines[:-1] if lines[-1] == "" else lines


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file (a leading UTF-8 byte-order mark, as some Windows editors write, is
    skipped); a syntax error, a key given twice in one object or a byte that is not UTF-8 names the
    file (and line and column)."""
    text = read_text(path)
    try:
        return json.loads(text, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {_json_error_text(e)}") from None
    except DuplicateKeyError as e:
        raise InputError(f"{path}: invalid JSON: key {e.args[0]!r} appears twice in one object") from None
    except RecursionError:
        raise InputError(f"{path}: invalid JSON: nested too deeply") from None
    except ValueError:  # json's only other error: an integer of more digits than Python converts
        raise InputError(f"{path}: invalid JSON: {_TOO_MANY_DIGITS}") from None


def read_json_object(path: str | os.PathLike, required: Sequence[str] = ()) -> dict:
    """Read a JSON file that holds one object with the `required` fields (`read_json`'s errors;
    another value or a missing field names the file, and the fields it needs)."""
    obj = read_json(path)
    if not isinstance(obj, dict):
        fields = f" with {', '.join(required)}" if required else ""
        raise InputError(f"{path}: expected a JSON object{fields}, got {type(obj).__name__}")
    check_required_fields(obj, required, str(path))
    return obj


def read_yaml(path: str | os.PathLike, what: str = "YAML file") -> Any:
    """Read a YAML file safely; a syntax error or a mapping that gives one key twice (YAML keeps the
    last value silently) names the file and line."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        """yaml.SafeLoader that refuses a mapping key written twice (a key that `<<: *anchor` merges
        in may be overridden; each mapping is checked as written, before any merge rewrites it)."""

        checked: set[int] = set()  # a class of its own per read_yaml call: per document

        def flatten_mapping(self, node: yaml.MappingNode) -> None:
            """yaml's merge of `<<` keys, after refusing a key written twice in the mapping as written."""
            if id(node) not in self.checked:
                self.checked.add(id(node))
                seen: dict = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                        continue  # merges, and complex keys (which the base constructor judges)
                    key = (key_node.tag, key_node.value)
                    if key in seen:
                        raise InputError(f"{path}:{key_node.start_mark.line + 1}: key {key_node.value!r} given "
                                         f"twice in one mapping (first on line {seen[key]})")
                    seen[key] = key_node.start_mark.line + 1
            super().flatten_mapping(node)

    text = read_text(path, what)
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.reader.ReaderError as e:  # a character YAML does not allow: PyYAML names only its position
        line = text.count("\n", 0, e.position) + 1
        column = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        code = e.character if isinstance(e.character, int) else ord(e.character)
        raise InputError(f"{path}:{line}:{column}: not valid YAML: character U+{code:04X}: {e.reason}") from None
    except yaml.MarkedYAMLError as e:  # one line: PyYAML's message spans several, naming "<unicode string>"
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = f"{e.problem} ({e.context})" if e.problem and e.context else e.problem or e.context
        raise InputError(f"{where}: not valid YAML: {problem}") from None
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
    except InputError:  # a key given twice: its message names the file and line already
        raise
    except ValueError as e:  # a scalar its constructor cannot convert: a date 2024-13-01, a 5,000-digit integer
        raise InputError(f"{path}: not valid YAML: a value that cannot be read ({e})") from None


def _json_error_text(error: json.JSONDecodeError) -> str:
    """json's message without its dangling "starting at"/"at": the position is in the file:line:column prefix."""
    return error.msg.removesuffix(" starting at").removesuffix(" at")


def _jsonl_shape_hint(line: str, error: json.JSONDecodeError | None = None) -> str:
    """A hint for a line of a JSON Lines file written in another shape: a JSON array, or an object
    spread over several lines or cut short (the line ends before its value does), or other text
    such as CSV, or begun by a byte-order mark past the file's start; "" for any other line."""
    if line.startswith("\ufeff"):  # the file's leading one is skipped before: files joined with cat
        return " (a byte-order mark begins this line: only the file's start may hold one, as joining files leaves it)"
    if line.lstrip().startswith("["):
        return " (JSON Lines holds one JSON object per line, not a JSON array)"
    if error is not None and (error.pos >= len(line.rstrip()) or error.msg.startswith("Unterminated string")):
        return " (JSON Lines holds each object whole on one line)"
    if not line.lstrip().startswith("{"):
        return " (JSON Lines holds one JSON object per line, not CSV or other text)"
    return ""


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line (a leading UTF-8 byte-order mark
    skipped); bad lines (not UTF-8, not a JSON object, a key given twice) raise InputError."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: a folder, not a file") from None
    except OSError as e:
        raise _unreadable(path, "file", e) from None
    with f:
        for lineno, raw in enumerate(f, start=1):
            if lineno == 1:  # as read_text: a bad byte's column counts from the text
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise _not_utf8(path, raw, e, lineno) from None
            if not line.strip():
                continue
            line = line.rstrip("\r\n")  # json would read a line end inside a cut string as a control character
            try:
                obj = json.loads(line, object_pairs_hook=unique_keys)
            except json.JSONDecodeError as e:
                raise InputError(f"{path}:{lineno}:{e.colno}: malformed JSON line: {_json_error_text(e)}"
                                 f"{_jsonl_shape_hint(line, e)}") from None
            except DuplicateKeyError as e:
                raise InputError(f"{path}:{lineno}: malformed JSON line: key {e.args[0]!r} appears twice") from None
            except RecursionError:
                raise InputError(f"{path}:{lineno}: malformed JSON line: nested too deeply") from None
            except ValueError:  # json's only other error: an integer of more digits than Python converts
                raise InputError(f"{path}:{lineno}: malformed JSON line: {_TOO_MANY_DIGITS}") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}"
                                 f"{_jsonl_shape_hint(line)}")
            yield lineno, obj


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text (comma-separated, "\\n" line ends) of a header and rows, for an atomic write."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def read_csv_rows(path: str | os.PathLike, required: Sequence[str] = ()) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """A CSV's header and its (line number, row) pairs; a missing file, column or field names the file and line."""
    import csv
    import io

    text = read_text(path)
    # csv ends a line at "\n", "\r\n" or "\r" itself; strict: a quote left open is an error, not
    # a field that swallows the rest of the file
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = list(reader.fieldnames or [])
    except csv.Error as e:  # a NUL byte, a field over the csv module's limit, ... on the first line
        raise InputError(f"{path}:1: {e}") from None
    repeated = [k for i, k in enumerate(header) if k in header[:i]]
    if repeated:  # csv.DictReader would keep the last column of a name and drop the others
        raise InputError(f"{path}:1: column {repeated[0]!r} appears more than once (columns: {header})")
    missing = [k for k in required if k not in header]
    if missing:
        named = f"column {missing[0]!r}" if len(missing) == 1 else f"columns {missing}"
        raise InputError(f"{path}:1: missing {named} (columns: {header})")
    rows = []
    start = reader.line_num + 1  # the line the next row starts on
    try:
        for row in reader:
            if None in row or None in row.values():
                raise InputError(f"{path}:{reader.line_num}: expected {len(header)} fields")
            rows.append((reader.line_num, row))
            start = reader.line_num + 1
    except csv.Error as e:  # a quote left open, a field over the csv module's limit, a NUL byte, ...
        lines = text_lines(text)
        while start <= len(lines) and lines[start - 1] == "":  # csv skips empty lines between rows
            start += 1
        raise InputError(f"{path}:{start}: {e} (in the row that starts on this line)") from None
    return header, rows


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _is_file_at(fd: int, path: Path) -> bool:
    """Whether the open file `fd` is the file at `path`."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


@contextlib.contextmanager
def file_lock(path: str | os.PathLike, *, remove: bool = False,
              on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on the lock file `path` (made if absent); `on_wait` is called when
    another process holds it, before waiting.

    POSIX record locks (fcntl.lockf) also work across the nodes of a cluster on NFS. With `remove`,
    the holder deletes the lock file before releasing it, and a waiter that then holds a removed file
    locks again.
    """
    path = Path(path)
    while True:
        with open(path, "a+b") as lock:
            try:
                fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                if on_wait is not None:
                    on_wait()
                fcntl.lockf(lock, fcntl.LOCK_EX)
            if not remove or _is_file_at(lock.fileno(), path):  # not a file that its last holder removed
                try:
                    yield
                finally:
                    if remove:
                        path.unlink()
                return


#: what stands for a secret in logs, messages and records
REDACTED = "<redacted>"


def redact_url(url: str) -> str:
    """`url` for logs and messages: no user:password part, query values masked (`?token=***`); one
    that does not parse (a bad port, a stray "[" or a "/" of a password left unencoded) is cut after
    its scheme (`https://<redacted>`)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{url.partition('://')[0]}://{REDACTED}"
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address keeps its brackets
        host = f"[{host}]"
    if port:
        host = f"{host}:{port}"
    query = urlencode([(key, "***") for key, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def seconds_until(http_date: str) -> float:
    """Seconds from now until an HTTP date (a Retry-After's other form); ValueError if it is none."""
    from datetime import datetime, timezone
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"not an HTTP date: {http_date!r}") from None
    if when.tzinfo is None:  # "-0000": UTC
        when = when.replace(tzinfo=timezone.utc)
    return (when - datetime.now(timezone.utc)).total_seconds()


def retry_delay(error: BaseException, attempt: int, backoff_s: float, max_wait_s: float = 60.0) -> float:
    """Seconds to wait before retrying after an HTTP `error` (any exception with a `response` whose
    headers a server's retry-after can be in: requests', httpx's): that retry-after (seconds or ms,
    or Retry-After's HTTP date) when given, else exponential backoff with jitter (between half and
    all of `backoff_s * 2**attempt`, so that requests refused together do not retry together); at
    most `max_wait_s` either way (an infinite or huge Retry-After waits `max_wait_s`)."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                seconds = float(value) * scale
            except ValueError:
                try:
                    seconds = seconds_until(value) if name == "retry-after" else math.nan
                except ValueError:
                    continue
            if math.isnan(seconds):
                continue
            return min(max_wait_s, max(0.0, seconds))
    return min(max_wait_s, backoff_s * 2 ** min(attempt, 32)) * random.uniform(0.5, 1.0)
