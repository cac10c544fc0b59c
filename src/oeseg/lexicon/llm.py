"""The LLM lexicon builder (the paper's, Figure 5): for every noun, ask an OpenAI-compatible chat
model which target categories the noun is a synonym, hyponym or meronym of, then invert the answers
(noun -> categories) into a lexicon (category -> nouns per relation).

Every raw answer is cached on disk per (model, prompt sha256, temperature, noun) before it is used,
so an interrupted run resumes where it stopped (Ctrl-C asks no further noun: the requests in
flight finish and are cached) and a finished one asks nothing again; a changed
temperature asks again (caches written before the temperature was part of the key are not read).
Requests run concurrently within a rate limit and are retried with exponential backoff on rate
limits (429), server errors (5xx), time-outs, dropped connections and malformed replies (a 200 whose
body is not JSON or has no choice); a server's Retry-After is obeyed up to `max_retry_wait_s`. A
noun still unanswered after the retries is recorded as failed (with the calls it cost) and the
others go on; the build then fails naming it, and a rerun asks only the failed nouns (max_concurrency
+ 2 nouns given up in a row, no reply between them, stop the build: the server is down). An error that
every request would meet (401, 403, 404, 400 other than a content filter, 422, a 429 of an exhausted
quota) stops the build at once: no further noun is asked, the answers so far stay cached, and the
LLMError names the HTTP status, the error type, the server's message and the setting to check. A
content filter's 400 (or a 200 whose finish_reason is content_filter) is that noun's answer: it
relates to no category, is cached like an answer and is named in the summary's `refused_nouns`. The run summary counts the whole build's calls and
tokens, earlier runs' included. An answer's item naming a category that the vocabulary lacks, or a
name that several categories share (none of them by its full name), is dropped, counted and named. The API key
is read from the environment variable that the configuration names, else from ~/.netrc (base_url's host),
and is never logged or written (a server message quoting it is masked).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from oeseg.data.vocabularies import Category, Vocabulary, normalize_term
from oeseg.io import (DuplicateKeyError, InputError, atomic_write_json, is_integer, is_number, read_json,
                      redact_url, retry_delay, unique_keys)
from oeseg.lexicon.lexicon import Lexicon, LexiconEntry, nouns_sha256

log = logging.getLogger(__name__)

#: The system message of Figure 5, with the vocabulary's category list in place of Cityscapes'.
SYSTEM_PROMPT = (
    "Assistant is a chatbot trained to identify synonyms, hypernyms, holonyms, and semantic "
    "relationships of nouns according to a predefined list of categories.\n"
    "Instructions:\n"
    '- Consider the following list of semantic categories. Every group of words between "" and '
    'separated by comma is a category (e.g. "plug, socket" is one category): {categories}.\n'
    "- The output should be exclusively in JSON format with the selected subsets of categories "
    "following this format:\n"
    '{{"synonyms": ["category_0", "category_1,..., "category_n"], "meronyms": ["category_0", '
    '"category_1,..., "category_n"], "hyponyms": ["category_0", "category_1,..., "category_n"]}}.\n'
    "- DO NOT include categories outside the provided list."
)
#: The user message of Figure 5, one per noun.
USER_PROMPT = ("Please identify synonyms, hyponyms, and meronyms of the noun {noun} from the "
               "predefined list of categories.")
#: Answer keys -> lexicon levels.
ANSWER_KEYS = {"synonyms": "synonym", "hyponyms": "hyponym", "meronyms": "meronym"}
#: the relation the paper's GPT-4 lexicons also carry, which no level scores: ignored in an answer
UNSCORED_RELATION = "semantically_related"


@dataclass(frozen=True)
class LLMConfig:
    """Where and how to ask (config section `lexicon.openai`); the key comes from `api_key_env`."""

    base_url: str
    model: str
    temperature: float = 0.0
    api_key_env: str = "OPENAI_API_KEY"
    max_concurrency: int = 4
    requests_per_minute: float = 500.0
    max_retries: int = 6
    timeout_s: float = 120.0
    backoff_s: float = 1.0  # first retry delay; doubles per attempt (capped at max_retry_wait_s)
    max_retry_wait_s: float = 60.0  # the longest wait before a retry, a server's Retry-After included
    max_malformed_share: float = 0.01  # the most answers that may be malformed (dropped) before the build fails
    max_tokens: int | None = None  # the most tokens of an answer (None: the server's own limit)

    @classmethod
    def from_dict(cls, obj: dict) -> "LLMConfig":
        """Build from the config section (less `cache_dir`); an unknown key, a value of the wrong
        type or out of range (as schemas/lexicon.schema.yaml) is an InputError naming the key."""
        unknown = set(obj) - set(cls.__dataclass_fields__)
        if unknown:
            raise InputError(f"lexicon.openai: unknown keys {sorted(unknown)}")
        if "base_url" not in obj or "model" not in obj:
            raise InputError("lexicon.openai: needs 'base_url' and 'model'")
        for key, value in obj.items():
            if key in _TEXT_SETTINGS:
                if not isinstance(value, str):
                    raise InputError(f"lexicon.openai.{key}: {value!r} is not a string")
                if not value.strip():
                    raise InputError(f"lexicon.openai.{key}: empty")
                if key == "api_key_env" and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
                    raise InputError("lexicon.openai.api_key_env: not the name of an environment variable (letters, "
                                     "digits and _; the value is not shown: the API key itself?); it names the "
                                     "variable that holds the key")
                if key == "base_url":
                    _check_base_url(value)
                continue
            integer, low, exclusive, high = _RANGES[key]
            if not (is_integer(value) if integer else is_number(value)):
                raise InputError(f"lexicon.openai.{key}: {value!r} is not {'an integer' if integer else 'a number'}")
            if not (value > low if exclusive else value >= low) or high is not None and not value <= high:
                bound = f"above {low}" if exclusive else f"at least {low}"
                raise InputError(f"lexicon.openai.{key}: {value!r} is not {bound}"
                                 + (f" and at most {high}" if high is not None else ""))
        return cls(**obj)


def _check_base_url(url: str) -> None:
    """Raise InputError naming lexicon.openai.base_url unless `url` is an http(s) URL with a host that
    the HTTP client can request (no space or control character, a port up to 65535); the message
    never shows the URL's password."""
    problem = None
    try:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname or not re.match(
                r"https?://[^/?#\s]", url, flags=re.IGNORECASE):
            problem = "is not an http:// or https:// URL"
        elif any(c.isspace() or not c.isprintable() for c in url):
            problem = "holds a space, a line end or a control character"
        else:
            _ = parts.port  # raises ValueError for a port that is no number up to 65535
    except ValueError as error:  # urlsplit's broken IPv6 address, .port's bad port
        raise InputError(f"lexicon.openai.base_url: not a URL the HTTP client can request ({error}); "
                         "e.g. http://127.0.0.1:8000/v1") from None
    if problem is not None:
        raise InputError(f"lexicon.openai.base_url: {redact_url(url)!r} {problem} (e.g. http://127.0.0.1:8000/v1)")


#: The text settings of LLMConfig.
_TEXT_SETTINGS = ("base_url", "model", "api_key_env")
#: The numeric settings of LLMConfig, as schemas/lexicon.schema.yaml bounds them: (integer only,
#: minimum, whether the minimum is excluded, maximum or None).
_RANGES: dict[str, tuple[bool, float, bool, float | None]] = {
    "temperature": (False, 0, False, None),
    "max_concurrency": (True, 1, False, None),
    "requests_per_minute": (False, 0, True, None),
    "max_retries": (True, 0, False, None),
    "timeout_s": (False, 0, True, None),
    "backoff_s": (False, 0, False, None),
    "max_retry_wait_s": (False, 0, False, None),
    "max_malformed_share": (False, 0, False, 1),
    "max_tokens": (True, 1, False, None),
}


class LLMError(RuntimeError):
    """Some nouns could not be asked; their answers are missing from the cache (rerun to resume)."""


#: Seconds between two progress lines of a build (the last noun answered always gets one).
PROGRESS_EVERY_S = 60.0

#: Error codes of a 400 that concern one noun's text (a content filter), not every request.
NOUN_REJECTED_CODES = frozenset({"content_filter", "content_policy_violation"})


@dataclass
class RunSummary:
    """What a build cost and what it dropped. calls, retries and tokens count the whole build (the
    requests of earlier, interrupted runs included, from the cache); run_calls the requests of this
    run alone; unlisted_names the items of answers that name no category (dropped_categories of
    them), each with how often, the most frequent first; ambiguous_names the category names of
    answers that several categories share; malformed_nouns the nouns whose answers were dropped as
    malformed (dropped_answers of them), truncated_nouns those of them cut at the server's token
    limit (finish_reason "length"); served_models the models the server says answered, with how many
    answers each (a server may run another model than the one asked for)."""

    model: str
    prompt_sha256: str
    nouns: int = 0
    calls: int = 0
    retries: int = 0
    run_calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    dropped_answers: int = 0
    malformed_nouns: list[str] = field(default_factory=list)
    truncated_nouns: list[str] = field(default_factory=list)
    dropped_categories: int = 0
    unlisted_names: dict[str, int] = field(default_factory=dict)
    dropped_ambiguous: int = 0
    ambiguous_names: list[str] = field(default_factory=list)
    failed_nouns: list[str] = field(default_factory=list)
    refused_nouns: list[str] = field(default_factory=list)
    served_models: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The summary as a JSON object."""
        return asdict(self)


def system_prompt(vocabulary: Vocabulary) -> str:
    """Figure 5's system message for a vocabulary (category names in order, as JSON strings)."""
    return SYSTEM_PROMPT.format(categories=json.dumps([c.name for c in vocabulary], ensure_ascii=False))


def prompt_sha256(vocabulary: Vocabulary) -> str:
    """Identity of the prompt: the system message and the user template."""
    return hashlib.sha256((system_prompt(vocabulary) + "\n" + USER_PROMPT).encode("utf-8")).hexdigest()


class AnswerCache:
    """Raw answers on disk, one JSON file per (model, prompt sha256, temperature, noun), written
    atomically; the temperature (the one request setting besides model and messages that changes
    answers) names a subfolder, so answers sampled at another temperature are never reused."""

    def __init__(self, root: str | os.PathLike, model: str, prompt_sha: str, temperature: float) -> None:
        """The cache folder of one model, prompt and temperature under `root`."""
        safe_model = re.sub(r"[^A-Za-z0-9._-]", "_", model)
        self.folder = Path(root) / safe_model / prompt_sha / f"temperature-{float(temperature)!r}"
        self.model, self.temperature = model, float(temperature)

    def path(self, noun: str) -> Path:
        """The record file of a noun (named by the noun's sha256)."""
        key = hashlib.sha256(noun.encode("utf-8")).hexdigest()
        return self.folder / key[:2] / f"{key}.json"

    def get(self, noun: str) -> dict | None:
        """The cached record of a noun (an answer, a content filter's refusal: `refused` true, or a
        failure: `failed` true), or None; InputError names a file that is unreadable, of another
        noun, or of another model or temperature (a model whose folder name is this one's)."""
        path = self.path(noun)
        if not path.exists():
            return None
        try:
            record = read_json(path)
        except InputError as error:
            raise InputError(f"{error}: the cached answer of {noun!r} is unreadable (remove it to ask again)") from None
        if not isinstance(record, dict) or record.get("noun") != noun or not (
                isinstance(record.get("content"), str) or record.get("failed") is True
                or record.get("refused") is True):
            raise InputError(f"{path}: not an answer record for {noun!r} (remove it to ask again)")
        usage = record.get("usage", {})
        if not (is_integer(record.get("calls", 0)) and isinstance(usage, dict)
                and all(is_integer(usage.get(k, 0)) for k in ("prompt_tokens", "completion_tokens"))):
            raise InputError(f"{path}: the cached answer of {noun!r} counts its calls or tokens with other than "
                             "integers (the record's 'calls', 'usage'); remove it to ask again")
        temperature = record.get("temperature", self.temperature)
        if record.get("model") != self.model or not is_number(temperature) or float(temperature) != self.temperature:
            raise InputError(f"{path}: the cached answer of {noun!r} is of model {record.get('model')!r} at temperature "
                             f"{temperature!r}, not of {self.model!r} at {self.temperature!r}: model names that differ "
                             "only in characters a folder name cannot hold (or in case) share a cache folder; give "
                             "one of them another lexicon.openai.cache_dir")
        return record

    def check_writable(self) -> None:
        """Raise InputError naming the folder when answers cannot be stored in it."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=self.folder).close()
        except OSError as e:
            raise InputError(f"{self.folder}: the answer cache cannot be written ({e.strerror}); no noun was "
                             "asked (lexicon.openai.cache_dir)") from None

    def put(self, noun: str, record: dict) -> None:
        """Store a noun's record atomically."""
        atomic_write_json(self.path(noun), record)


class RateLimiter:
    """Spaces request starts at least 60/requests_per_minute seconds apart, across threads."""

    def __init__(self, requests_per_minute: float) -> None:
        """A limiter to `requests_per_minute` request starts a minute."""
        self.interval = 60.0 / requests_per_minute
        self.lock = threading.Lock()
        self.next_start = 0.0

    def wait(self, abort: threading.Event | None = None) -> None:
        """Block until this caller may start its request, or until `abort` is set."""
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_start)
            self.next_start = start + self.interval
        if start > now:
            if abort is None:
                time.sleep(start - now)
            else:
                abort.wait(start - now)


def parse_answer(content: str, vocabulary: Vocabulary) -> tuple[dict[str, list[int]] | None, list[str], list[str]]:
    """Validate one answer: (level -> category ids, items naming no category of the vocabulary,
    names dropped as ambiguous), or (None, [], []) when it is not a JSON object of lists under the
    three keys. The object may stand alone, in the answer's one code fence, or alone in prose
    ("Here is the JSON: {...} Hope this helps"), after a reasoning model's "<think>...</think>";
    two of them make it malformed. A key left out is
    an empty list (`{}`: a noun related to no category); one of the three spelt otherwise
    ("Meronyms", "synonym"), an object under a key (the answer wrapped, `{"answer": {...}}`), or
    lists under none of the three keys (`{"categories": [...]}`: an answer in a shape of its own)
    make it malformed, as its relations would be lost unseen; the paper's other relation,
    "semantically_related", is not scored and is ignored. A name resolves as `Vocabulary.named` (an exact full-name match
    wins; a name that several categories share otherwise is ambiguous and dropped), else as its
    plural or with "_" for spaces ("cars", "traffic_light")."""
    obj = _answer_object(content)
    if not isinstance(obj, dict) or any(
            not isinstance(v, list) if k in ANSWER_KEYS else _misspelt_level(k) or isinstance(v, dict)
            for k, v in obj.items()):
        return None, [], []  # relations under a key that is not read would be lost unseen
    if not obj.keys() & ANSWER_KEYS and any(isinstance(v, list) for k, v in obj.items() if k != UNSCORED_RELATION):
        return None, [], []  # lists, none under the three keys: the answer's own shape, not "no relation"
    related: dict[str, list[int]] = {}
    unlisted: list[str] = []
    ambiguous: list[str] = []
    for key, level in ANSWER_KEYS.items():
        ids: list[int] = []
        for item in obj.get(key, []):
            found = _categories_named(item, vocabulary) if isinstance(item, str) else []
            if len(found) > 1:
                ambiguous.append(item)
            elif not found:
                unlisted.append(item if isinstance(item, str) else json.dumps(item))
            elif found[0].id not in ids:
                ids.append(found[0].id)
        related[level] = ids
    return related, unlisted, ambiguous


def _answer_object(content: str) -> object:
    """The JSON value of an answer (after a reasoning model's thoughts, up to "</think>"): the whole
    text, else the text of its one code fence, else the one JSON object in its prose; None when there
    is none or more than one, a key is given twice in an object (which of its values would be
    meant?), or the answer was cut while thinking."""
    decoder = json.JSONDecoder(object_pairs_hook=unique_keys)
    text = content.strip()
    if "</think>" in text:  # a reasoning model's thoughts (DeepSeek-R1, Qwen3) come before its answer
        text = text.rsplit("</think>", 1)[1].strip()
    elif text.startswith("<think>"):  # cut while thinking: any JSON in it is a draft, not the answer
        return None
    fences = re.findall(r"```[A-Za-z]*[ \t]*\n?(.*?)```", text, flags=re.DOTALL)
    if len(fences) > 1:
        return None
    if fences:
        text = fences[0].strip()
    try:
        return decoder.decode(text)
    except (json.JSONDecodeError, RecursionError, DuplicateKeyError):
        pass
    start = text.find("{")
    try:
        obj, end = decoder.raw_decode(text, start) if start >= 0 else (None, 0)
    except (json.JSONDecodeError, RecursionError, DuplicateKeyError):
        return None
    return obj if "{" not in text[end:] else None


def _categories_named(item: str, vocabulary: Vocabulary) -> list[Category]:
    """The categories an answer's item names (`Vocabulary.named`), else those its singular names
    ("cars", "buses", "bodies") or its words joined by "_" name ("traffic_light")."""
    name = normalize_term(item)
    singulars = [name[:-cut] + tail for suffix, cut, tail in (("s", 1, ""), ("es", 2, ""), ("ies", 3, "y"))
                 if name.endswith(suffix) and len(name) > cut + 1]
    for variant in (item, name, *singulars):
        if found := vocabulary.named(variant):
            return found
    return []


def _cut_below(record: dict, max_tokens: int | None) -> bool:
    """Whether a cached answer was cut at the token limit (finish_reason "length") below `max_tokens`
    (its own limit lower, or the server's when it was asked without one; with `max_tokens` None, the
    server's own limit, one cut at a set limit but not one cut at the server's): worth asking again."""
    if record.get("finish_reason") != "length":
        return False
    asked_with = record.get("max_tokens")
    if max_tokens is None:
        return is_integer(asked_with)
    return not is_integer(asked_with) or asked_with < max_tokens


def _misspelt_level(key: str) -> bool:
    """Whether an answer key that is not one of ANSWER_KEYS means one ("Synonyms", " meronym")."""
    normal = key.strip().lower()
    return normal in ANSWER_KEYS or normal + "s" in ANSWER_KEYS


def _check_malformed(summary: RunSummary, answers: int, max_share: float, cache: AnswerCache) -> None:
    """Warn about the answers dropped as malformed, naming them; raise LLMError when they are more
    than `max_share` of all answers (a prompt or model that does not answer as asked)."""
    nouns = summary.malformed_nouns
    examples = ", ".join(f"{noun!r} ({cache.path(noun)})" for noun in nouns[:5]) + (", ..." if len(nouns) > 5 else "")
    text = (f"{len(nouns)} of {answers} answer(s) malformed (not a JSON object of lists under "
            f"{', '.join(ANSWER_KEYS)}) and dropped: {examples}")
    cut = summary.truncated_nouns
    if cut:
        text += (f"; {len(cut)} of them cut at the server's limit on answer tokens (finish_reason 'length'): "
                 + ", ".join(repr(noun) for noun in cut[:5]) + (", ..." if len(cut) > 5 else "")
                 + " (lexicon.openai.max_tokens set higher than the limit they were cut at, or unset where they "
                 "were cut at a set one, asks them again)")
    if len(nouns) > max_share * answers:
        log.info("summary: %s", json.dumps(summary.to_json()))
        raise LLMError(f"{text}; more than lexicon.openai.max_malformed_share ({max_share}) of the answers: check "
                       "the model and the prompt; remove those cache files to ask the nouns again")
    log.warning("%s", text)


def _error_codes(error: Exception) -> set:
    """The `code` and `type` of an API error's body (e.g. 'content_filter', 'insufficient_quota')."""
    return {getattr(error, "code", None), getattr(error, "type", None)}


class MalformedReply(Exception):
    """A 200 reply that is not a chat completion (body not JSON, no choice): retried like a 5xx."""


def _server_message(error: Exception, api_key: str) -> str:
    """The server's error message (or its body), at most 300 characters, with the API key masked."""
    body = getattr(error, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    text = str(message if message is not None else body if body is not None else "")
    text = " ".join(text.replace(api_key, "***").split())
    return text[:300] + ("..." if len(text) > 300 else "")


def _api_key(config: LLMConfig) -> tuple[str, str]:
    """The API key and where it was read, in words: the environment variable `api_key_env`, else
    the password of base_url's host in ~/.netrc (or $NETRC); InputError when neither holds one
    (naming neither key nor password) or the key holds a character no HTTP header can carry."""
    api_key = (os.environ.get(config.api_key_env) or "").strip()  # a CRLF .env file's "\r" too
    if api_key:
        source = f"environment variable {config.api_key_env}"
    else:
        api_key, source = _netrc_key(config)
    if not (api_key.isascii() and api_key.isprintable()) or any(c.isspace() for c in api_key):
        raise InputError(f"{source} holds a space, a control or a non-ASCII character inside the API key "
                         "(lexicon.openai.api_key_env): no HTTP header can carry it")
    return api_key, source


def _netrc_key(config: LLMConfig) -> tuple[str, str]:
    """The password of base_url's host in ~/.netrc (or $NETRC) and where it was read, in words, for a
    key that environment variable `api_key_env` does not hold."""
    import netrc

    host = urlsplit(config.base_url).hostname or ""
    named = (f"environment variable {config.api_key_env}" if re.fullmatch(r"[A-Z_][A-Z0-9_]*", config.api_key_env)
             else "the environment variable that lexicon.openai.api_key_env names (the name, not upper "
                  "case, is not shown: the API key itself rather than a variable's name?)")
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    if path.is_file():
        try:
            login = netrc.netrc(os.fspath(path)).authenticators(host)
        except (netrc.NetrcParseError, OSError) as error:  # a parse error's message may quote a password
            why = str(getattr(error, "msg", "")) if str(getattr(error, "msg", "")).startswith("~/.netrc") else ""
            raise InputError(f"{path}:{getattr(error, 'lineno', None) or '?'}: not a readable netrc file"
                             + (f" ({why})" if why else "") + f"; the API key of lexicon.openai.base_url's host "
                             f"{host} is looked up in it when {named} is not set") from None
        if login and (login[2] or "").strip():
            return login[2].strip(), f"the password of `machine {host}` in {path}"
    state = "is empty" if config.api_key_env in os.environ else "is not set"
    raise InputError(f"{named} {state} and {path} holds no password for `machine {host}` (the API key of "
                     "lexicon.openai.api_key_env; a server that needs none takes any value)")


class _Asker:
    """Asks one noun at a time through the openai client, with rate limit and retries; the first
    fatal error (one that every request would meet) sets `abort` and is kept in `fatal`."""

    def __init__(self, vocabulary: Vocabulary, config: LLMConfig, cache: AnswerCache, summary: RunSummary) -> None:
        """An asker with the openai client of `config` (its API key from the environment or ~/.netrc)."""
        import openai

        api_key, self.key_source = _api_key(config)  # key_source: where the key was read, for the hints
        self.openai = openai
        self.api_key = api_key
        self.client = openai.OpenAI(base_url=config.base_url, api_key=api_key, max_retries=0,
                                    timeout=config.timeout_s)
        self.config, self.cache, self.summary = config, cache, summary
        self.system = system_prompt(vocabulary)
        self.limiter = RateLimiter(config.requests_per_minute)
        self.lock = threading.Lock()
        self.abort = threading.Event()
        self.fatal: str | None = None
        self.given_up = 0  # nouns given up in a row (no reply got between them)
        self.given_up_total = 0  # nouns given up in this run
        self.messages: dict[str, str] = {}  # noun -> the server's message of its last error (key masked)
        self.max_given_up = config.max_concurrency + 2  # more: the server is down, stop

    def _retryable(self, error: Exception) -> bool:
        """Whether an API error is transient (a rate limit, a 5xx, a time-out, a dropped connection)."""
        o = self.openai
        if isinstance(error, (o.RateLimitError, o.InternalServerError, o.APITimeoutError, o.APIConnectionError)):
            return True
        return isinstance(error, o.APIStatusError) and error.status_code >= 500

    def _fatal_hint(self, error: Exception) -> str | None:
        """The setting to check when every request would meet this error, or None when it is not
        such an error (a rate limit, a 5xx, a content filter on one noun, ...)."""
        o, c = self.openai, self.config
        codes = _error_codes(error)
        if isinstance(error, o.RateLimitError):
            return (f"the quota and billing of the account of the API key in {self.key_source} "
                    "(lexicon.openai.api_key_env)") if "insufficient_quota" in codes else None
        if isinstance(error, o.AuthenticationError):
            return f"the API key in {self.key_source} (lexicon.openai.api_key_env)"
        if isinstance(error, o.PermissionDeniedError):
            return (f"that the API key in {self.key_source} may use model {c.model!r} (lexicon.openai.model) "
                    f"at lexicon.openai.base_url {redact_url(c.base_url)}")
        if isinstance(error, o.NotFoundError):
            return (f"lexicon.openai.model ({c.model!r}) and lexicon.openai.base_url "
                    f"({redact_url(c.base_url)}, usually ending in /v1)")
        if isinstance(error, o.BadRequestError) and not codes & NOUN_REJECTED_CODES \
                or isinstance(error, o.UnprocessableEntityError):
            return (f"the request settings the server rejected: lexicon.openai.model ({c.model!r}) and "
                    f"lexicon.openai.temperature ({c.temperature!r})")
        return None

    def _stop(self, error: Exception, hint: str) -> None:
        """Record the first fatal error (status, type, server message; never the key) and abort."""
        status = getattr(error, "status_code", "?")
        kinds = ", ".join(f"{name} {value!r}" for name in ("type", "code") if (value := getattr(error, name, None)))
        self._halt(f"HTTP {status} {type(error).__name__}" + (f" ({kinds})" if kinds else "")
                   + f" from {redact_url(self.config.base_url)}: "
                   + f"{_server_message(error, self.api_key) or 'no message'}; check {hint}")

    def _halt(self, message: str) -> None:
        """Keep `message` as the build's fatal error (the first one only) and abort."""
        with self.lock:
            if self.fatal is None:
                self.fatal = message
            self.abort.set()

    def _replied(self) -> None:
        """A noun got its reply: the count of nouns given up in a row starts again."""
        with self.lock:
            self.given_up = 0

    def _gave_up(self, error: Exception, error_name: str) -> None:
        """Count a noun given up after its retries on `error`; `max_given_up` in a row (no reply got
        between them) stop the build, diagnosed by that last error: a server down, not answering as
        a chat completion, rate limiting or failing would otherwise cost every noun its retries
        (and a paid server every call)."""
        with self.lock:
            self.given_up += 1
            self.given_up_total += 1
            given_up = self.given_up
        if given_up < self.max_given_up:
            return
        status = getattr(error, "status_code", None)
        if isinstance(error, self.openai.RateLimitError):
            why = ("the server kept refusing them with rate limits (HTTP 429): lower lexicon.openai."
                   "requests_per_minute or max_concurrency, or raise max_retries or max_retry_wait_s")
        elif isinstance(error, self.openai.APIStatusError):
            why = f"the server kept failing on them (HTTP {status}): check the server's own logs and health"
        else:
            why = ("the server is unreachable or does not answer as an OpenAI chat completion (stream-only?); "
                   "check lexicon.openai.base_url (usually ending in /v1) and that the server is running")
        self._halt(f"{given_up} nouns in a row unanswered after their retries (the last: {error_name}) "
                   f"from {redact_url(self.config.base_url)}: {why}")

    def _content(self, response: object) -> tuple[str, str | None]:
        """The answer text of a chat completion and its finish_reason ("length": cut at the token
        limit); MalformedReply when it has no choice or message."""
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise MalformedReply("a reply without choices")
        message = getattr(choices[0], "message", None)
        content = getattr(message, "content", None) if message is not None else None
        if message is None or not isinstance(content, (str, type(None))):
            raise MalformedReply("a choice without a message")
        finish_reason = getattr(choices[0], "finish_reason", None)
        return content or "", finish_reason if isinstance(finish_reason, str) else None

    def _refused(self, noun: str, reason: str, usage: dict, calls: int) -> dict:
        """Cache and return the record of a noun the server's content filter refused (a 400, or a 200
        whose finish_reason is content_filter): its answer, relating it to no category."""
        log.warning("noun %r: refused by the server's content filter (%s): it relates to no category", noun, reason)
        record = {"model": self.config.model, "temperature": self.config.temperature, "noun": noun,
                  "refused": True, "error": reason, "usage": usage, "calls": calls}
        self.cache.put(noun, record)
        self._replied()
        return record

    def ask(self, noun: str, earlier: dict | None = None) -> dict | None:
        """The record of a noun, cached before it is returned: its answer, or after the retries (or
        a fatal error) a failure (`failed` true); None when the build was aborted before the noun
        was asked. Records count the calls and tokens spent on the noun, those of an `earlier`
        failed record (or one cut at a lower max_tokens, or at a set one when it is now unset) included."""
        messages = [{"role": "system", "content": self.system},
                    {"role": "user", "content": USER_PROMPT.format(noun=noun)}]
        spent = (earlier or {}).get("usage", {})
        calls = int((earlier or {}).get("calls", 0))
        usage = {"prompt_tokens": int(spent.get("prompt_tokens", 0)),
                 "completion_tokens": int(spent.get("completion_tokens", 0))}
        error_name = ""
        for attempt in range(self.config.max_retries + 1):
            self.limiter.wait(self.abort)
            if self.abort.is_set():
                if attempt == 0:
                    return None
                break
            calls += 1
            with self.lock:
                self.summary.run_calls += 1
            try:
                limit = {} if self.config.max_tokens is None else {"max_tokens": self.config.max_tokens}
                response = self.client.chat.completions.create(
                    model=self.config.model, messages=messages, temperature=self.config.temperature, **limit)
                for key in usage:
                    usage[key] += int(getattr(getattr(response, "usage", None), key, 0) or 0)
                content, finish_reason = self._content(response)
            except (self.openai.APIError, MalformedReply, ValueError) as error:
                # ValueError: a 200 whose body is not JSON (json.JSONDecodeError) or not a completion
                # the type and status only: a server's error text may echo the key
                status = getattr(error, "status_code", None)
                error_name = type(error).__name__ + (f" (HTTP {status})" if status else "")
                if isinstance(error, self.openai.BadRequestError) and _error_codes(error) & NOUN_REJECTED_CODES:
                    return self._refused(noun, error_name, usage, calls)
                hint = self._fatal_hint(error)
                if hint is not None:
                    log.error("noun %r: %s: stopping the build", noun, error_name)
                    self._stop(error, hint)
                    break
                message = _server_message(error, self.api_key) if isinstance(error, self.openai.APIError) else ""
                with self.lock:  # what the server last said, for the error of a noun given up (not cached)
                    self.messages[noun] = message
                retryable = not isinstance(error, self.openai.APIError) or self._retryable(error)
                if not retryable or attempt == self.config.max_retries:
                    log.warning("noun %r: giving up after %d attempt(s): %s", noun, attempt + 1,
                                type(error).__name__)
                    self._gave_up(error, error_name)
                    break
                delay = retry_delay(error, attempt, self.config.backoff_s, self.config.max_retry_wait_s)
                log.info("noun %r: %s, retrying in %.2f s", noun, type(error).__name__, delay)
                self.abort.wait(delay)  # cut short when the build is stopped
                continue
            if finish_reason == "content_filter":  # a 200 whose answer was filtered out (Azure OpenAI)
                return self._refused(noun, "finish_reason content_filter", usage, calls)
            served = getattr(response, "model", None)
            record = {"model": self.config.model, "temperature": self.config.temperature, "noun": noun,
                      "content": content, "finish_reason": finish_reason, "max_tokens": self.config.max_tokens,
                      "usage": usage, "calls": calls,
                      "served_model": served if isinstance(served, str) else None}
            self.cache.put(noun, record)
            self._replied()
            return record
        record = {"model": self.config.model, "temperature": self.config.temperature, "noun": noun,
                  "failed": True, "error": error_name, "usage": usage, "calls": calls}
        self.cache.put(noun, record)
        return record


def build_llm_lexicon(vocabulary: Vocabulary, nouns: list[str], config: LLMConfig,
                      cache_dir: str | os.PathLike) -> tuple[Lexicon, RunSummary]:
    """Ask the model about every noun (cached nouns are not asked again) and invert the validated
    answers into a lexicon; raises LLMError naming the nouns still unanswered after the retries, or
    the first error that every request would meet (no noun is asked after it); the answers got are
    kept in the cache: rerun to resume."""
    psha = prompt_sha256(vocabulary)
    cache = AnswerCache(cache_dir, config.model, psha, config.temperature)
    summary = RunSummary(model=config.model, prompt_sha256=psha, nouns=len(nouns))
    records: dict[str, dict] = {}
    todo: dict[str, dict | None] = {}  # noun -> its earlier failure record, if any
    for noun in dict.fromkeys(nouns):
        record = cache.get(noun)
        if record is None or record.get("failed") or _cut_below(record, config.max_tokens):
            todo[noun] = record
        else:
            records[noun] = record
            summary.cache_hits += 1
    log.info("%d nouns: %d cached, %d to ask %s", len(nouns), summary.cache_hits, len(todo), config.model)
    fatal: str | None = None
    messages: dict[str, str] = {}  # noun -> the server's message of its last error
    if todo:
        asker = _Asker(vocabulary, config, cache, summary)  # reads the API key: none, and no folder is made
        cache.check_writable()  # before the first paid request, not after it
        pool = ThreadPoolExecutor(max_workers=config.max_concurrency)
        try:
            futures = {pool.submit(asker.ask, noun, earlier): noun for noun, earlier in todo.items()}
            started = reported = time.monotonic()
            for done, future in enumerate(as_completed(futures), 1):
                # a fatal answer, or an unexpected error (e.g. the cache not writable, raised below):
                # queued nouns are not asked, those in flight finish
                if asker.abort.is_set() or not future.cancelled() and future.exception() is not None:
                    asker.abort.set()
                    for waiting in futures:
                        waiting.cancel()
                elif done == len(futures) or time.monotonic() - reported >= PROGRESS_EVERY_S:
                    reported = time.monotonic()
                    elapsed = reported - started
                    log.info("asked %d of %d nouns (%d given up after their retries) in %.0f s; about %.0f s left",
                             done, len(futures), asker.given_up_total, elapsed, elapsed / done * (len(futures) - done))
        except BaseException:  # Ctrl-C (KeyboardInterrupt), SystemExit: ask no queued noun
            asker.abort.set()
            log.warning("interrupted: no further noun is asked; the answers got are cached in %s "
                        "(run again to resume)", cache.folder)
            pool.shutdown(wait=True, cancel_futures=True)  # those in flight finish and are cached
            raise
        pool.shutdown(wait=True)
        fatal, messages = asker.fatal, asker.messages
        for future, noun in futures.items():  # in noun order
            record = None if future.cancelled() else future.result()
            if record is not None:
                records[noun] = record
                if record.get("failed"):
                    summary.failed_nouns.append(noun)
    for record in records.values():  # the whole build's cost: earlier runs' requests included
        calls = int(record.get("calls", 1))  # records of older versions: one call each
        summary.calls += calls
        summary.retries += calls - 1
        summary.prompt_tokens += int(record.get("usage", {}).get("prompt_tokens", 0))
        summary.completion_tokens += int(record.get("usage", {}).get("completion_tokens", 0))
        if isinstance(record.get("served_model"), str):
            summary.served_models[record["served_model"]] = summary.served_models.get(record["served_model"], 0) + 1
    answered = sum(not record.get("failed") for record in records.values())
    if fatal is not None:
        log.info("summary: %s", json.dumps(summary.to_json()))
        raise LLMError(f"{fatal}. The build stopped: {len(dict.fromkeys(nouns)) - answered} noun(s) not "
                       f"answered; the {answered} answer(s) got are cached in {cache.folder}: fix the "
                       "setting and run again to resume")
    if summary.failed_nouns:
        log.info("summary: %s", json.dumps(summary.to_json()))
        examples = ", ".join(f"{noun!r} ({records[noun].get('error') or 'error'}"
                             + (f": {messages[noun]}" if messages.get(noun) else "")
                             + f", after {records[noun].get('calls')} call(s))" for noun in summary.failed_nouns[:5])
        raise LLMError(f"{len(summary.failed_nouns)} noun(s) unanswered by {redact_url(config.base_url)} after "
                       f"their retries (e.g. {examples}); answers of the others are cached in {cache.folder}: "
                       "run again to resume")
    related: dict[int, dict[str, list[str]]] = {c.id: {level: [] for level in ANSWER_KEYS.values()}
                                                for c in vocabulary}
    ambiguous: set[str] = set()
    for noun in dict.fromkeys(nouns):
        if records[noun].get("refused"):  # a content filter's answer: cached, not asked again
            summary.refused_nouns.append(noun)
            continue
        answer, unlisted, shared = parse_answer(records[noun]["content"], vocabulary)
        if answer is None:
            summary.dropped_answers += 1
            summary.malformed_nouns.append(noun)
            if records[noun].get("finish_reason") == "length":
                summary.truncated_nouns.append(noun)
            continue
        summary.dropped_categories += len(unlisted)
        for name in unlisted:
            summary.unlisted_names[name] = summary.unlisted_names.get(name, 0) + 1
        summary.dropped_ambiguous += len(shared)
        ambiguous.update(normalize_term(name) for name in shared)
        term = normalize_term(noun)
        for level, ids in answer.items():
            for cid in ids:
                if term not in related[cid][level]:
                    related[cid][level].append(term)
    summary.ambiguous_names = sorted(ambiguous)
    if len(summary.served_models) > 1:
        log.warning("the answers come from %d models, by the server's replies: %s; a server that runs the "
                    "model it has loaded whatever the name asked for (llama.cpp, say) mixes them in one cache "
                    "folder: give another lexicon.openai.cache_dir to ask every noun anew", len(summary.served_models),
                    ", ".join(f"{m!r} ({k})" for m, k in sorted(summary.served_models.items())))
    summary.unlisted_names = dict(sorted(summary.unlisted_names.items(), key=lambda kv: (-kv[1], kv[0])))
    if summary.malformed_nouns:
        _check_malformed(summary, len(dict.fromkeys(nouns)), config.max_malformed_share, cache)
    if ambiguous:
        log.warning("%d answer item(s) dropped: names that several categories share: %s",
                    summary.dropped_ambiguous, ", ".join(summary.ambiguous_names))
    if summary.unlisted_names:
        named = list(summary.unlisted_names.items())
        log.warning("%d answer item(s) dropped: names of no category of vocabulary %s (times): %s%s",
                    summary.dropped_categories, vocabulary.name, ", ".join(f"{n!r} ({k})" for n, k in named[:20]),
                    ", ..." if len(named) > 20 else "")
    entries = [LexiconEntry(c.id, c.name, list(c.names), **related[c.id]) for c in vocabulary]
    builder = {"kind": "openai", "model": config.model, "base_url": redact_url(config.base_url),
               "temperature": config.temperature, "prompt_sha256": psha, "nouns_sha256": nouns_sha256(nouns)}
    log.info("summary: %s", json.dumps(summary.to_json()))
    return Lexicon(vocabulary.name, builder, entries), summary
