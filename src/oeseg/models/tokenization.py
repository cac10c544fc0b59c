"""Tokenizers and the encoding of osprey_v1 conversations into input ids and labels.

The paper model uses Vicuna's tokenizer (a user-provided folder); the demo builds a small
word-level tokenizer from its training descriptions and the template words (nothing downloaded).
In both, `<mask>` and `<pos>` are added special tokens, and the `<image>` placeholder becomes
`image_tokens` copies of IMAGE_TOKEN_INDEX, replaced by the projected res4 tokens in the model.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from oeseg.io import InputError, error_summary
from oeseg.models import conversation as conv

IMAGE_TOKEN_INDEX = -200
IGNORE_INDEX = -100
REGION_TOKENS = ("<mask>", "<pos>")
DEMO_SPECIALS = ("<unk>", "<s>", "</s>")


def _words(text: str) -> list[str]:
    """The lower-case words of `text` (whitespace pre-tokenizer)."""
    return [w for w, _ in pre_tokenizers.Whitespace().pre_tokenize_str(text.lower())]


def build_demo_tokenizer(texts: Iterable[str]) -> PreTrainedTokenizerFast:
    """A lower-case word-level tokenizer over the template words and `texts`."""
    vocab: dict[str, int] = {t: i for i, t in enumerate(DEMO_SPECIALS)}
    templates = [conv.prompt_text([conv.Turn(conv.region_question(), "")], system)
                 for system in (conv.EVAL_SYSTEM, conv.TRAINING_SYSTEM)]
    for text in [*templates, *texts]:
        for placeholder in (conv.IMAGE_PLACEHOLDER, *REGION_TOKENS):
            text = text.replace(placeholder, " ")
        for word in _words(text):
            vocab.setdefault(word, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", bos_token="<s>",
                                  eos_token="</s>", pad_token="<unk>")
    prepare_tokenizer(tok)
    return tok


def prepare_tokenizer(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Add `<mask>`/`<pos>` as special tokens and use `<unk>` for padding (as Osprey does)."""
    tokenizer.add_tokens(list(REGION_TOKENS), special_tokens=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.unk_token
    return tokenizer


def read_as_transformers_4_31(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """A Llama tokenizer made to read text as the Llama fast tokenizer of transformers 4.31 (the
    version Osprey pins, with which the released models were trained; 4.39-4.40, which the
    released evaluation needs, read text the same way): every piece of text between special tokens
    starts with a word-start "▁" and its spaces become "▁" ("<pos>?" reads "▁?", "</s>USER"
    "▁USER"), whatever the folder's `legacy`; later versions start only the first piece so. Other
    tokenizers are returned unchanged."""
    if "Llama" not in type(tokenizer).__name__ or getattr(tokenizer, "backend_tokenizer", None) is None:
        return tokenizer
    tokenizer.backend_tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tokenizer.backend_tokenizer.pre_tokenizer = None
    return tokenizer


#: the files of a saved tokenizer, one of which a tokenizer folder holds
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")


def load_tokenizer(path: str | os.PathLike) -> PreTrainedTokenizerBase:
    """A tokenizer saved with save_pretrained (Vicuna's folder, a released Osprey folder or a
    trained stage's), a Llama one reading text as Osprey's transformers 4.31 did; a folder missing,
    without tokenizer files or whose files do not load is an InputError naming it."""
    if not os.path.isdir(path):
        raise InputError(f"{path}: tokenizer folder not found (set opal.model.tokenizer_path)")
    if not any(os.path.exists(os.path.join(path, name)) for name in TOKENIZER_FILES):
        raise InputError(f"{path}: no tokenizer in this folder (none of {', '.join(TOKENIZER_FILES)})")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError, TypeError, KeyError) as e:  # files cut short or that do not parse
        raise InputError(f"{path}: no tokenizer loads from this folder ({error_summary(e)})") from None
    return prepare_tokenizer(read_as_transformers_4_31(tokenizer))


def region_token_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[int, int]:
    """Ids of `<mask>` and `<pos>`."""
    ids = tokenizer.convert_tokens_to_ids(list(REGION_TOKENS))
    return int(ids[0]), int(ids[1])


@functools.lru_cache(maxsize=1 << 16)
def _cached_ids(tokenizer: PreTrainedTokenizerBase, vocabulary_size: int, text: str) -> tuple[int, ...]:
    """Token ids of `text` (no special tokens), cached per tokenizer and vocabulary size."""
    return tuple(tokenizer(text, add_special_tokens=False)["input_ids"])


def _ids(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Token ids of `text` (no special tokens); the template's strings and the descriptions recur in
    every step, so ids are cached per tokenizer object and vocabulary size (tokens added later
    make a new entry)."""
    return list(_cached_ids(tokenizer, len(tokenizer), text)) if text else []


def encode_text(tokenizer: PreTrainedTokenizerBase, text: str, image_tokens: int) -> list[int]:
    """BOS + token ids of `text`, each `<image>` expanded to `image_tokens` IMAGE_TOKEN_INDEX."""
    ids = [tokenizer.bos_token_id]
    for i, chunk in enumerate(text.split(conv.IMAGE_PLACEHOLDER)):
        if i:
            ids += [IMAGE_TOKEN_INDEX] * image_tokens
        ids += _ids(tokenizer, chunk)
    return ids


def _ids_after(tokenizer: PreTrainedTokenizerBase, context: str, text: str, image_tokens: int) -> list[int]:
    """Ids of `text` as the tokenizer reads it right after `context` in one string, as Osprey tokenizes
    its whole prompt at once. A Llama sentencepiece tokenizer marks a word start ("▁") by where a
    piece of text begins: tokenized apart, "A chat ... questions. " would end in a lone "▁" and
    "USER" would start with one, and what follows `</s>` starts with one or not as the tokenizer
    treats text after a special token (`legacy`); reading `text` after its context gives the
    whole prompt's ids. Should a token span the boundary (not expected: our pieces meet at ":",
    "." or `</s>`, and Llama's pieces put a "▁" only in front), `text` is read apart."""
    head = encode_text(tokenizer, context, image_tokens)
    whole = encode_text(tokenizer, context + text, image_tokens)
    if whole[:len(head)] != head:
        return encode_text(tokenizer, text, image_tokens)[1:]
    return whole[len(head):]


def _answer_ids(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Token ids of an answer as they follow `ASSISTANT:` in the prompt (no `</s>`)."""
    return _ids_after(tokenizer, f"{conv.ROLES[1]}:", " " + text, 0)


def encode_conversation(tokenizer: PreTrainedTokenizerBase, turns: list[conv.Turn], image_tokens: int,
                        max_length: int, system: str = conv.TRAINING_SYSTEM) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, labels) of a conversation opened by `system` (training's by default; the
    evaluation prompt's is `conv.EVAL_SYSTEM`); only the answers (and their `</s>`) are
    labelled. The ids are those of the whole prompt tokenized at once (Osprey's `preprocess_v1`,
    each `<image>` cut out as its `tokenizer_image_token` does): each piece is read after the text
    it follows. Cut at `max_length`, where that would cut a region turn (one with `<mask>`) before
    its answer (between `<mask>` and `<pos>`, say) just before that turn; an image placeholder
    beyond `max_length` is an InputError (opal.max_length)."""
    mask_id = region_token_ids(tokenizer)[0]
    ids = encode_text(tokenizer, system, image_tokens)
    labels = [IGNORE_INDEX] * len(ids)
    end = max_length
    context, sep = system, conv.SEP  # the text the next turn follows, and what joins them
    for turn in turns:
        start = len(ids)
        prompt = _ids_after(tokenizer, context, f"{sep}{conv.ROLES[0]}: {turn.question}{conv.SEP}{conv.ROLES[1]}:",
                            image_tokens)
        ids += prompt
        labels += [IGNORE_INDEX] * len(prompt)
        context, sep = f"{conv.ROLES[1]}:", ""
        if turn.answer is not None:
            answer = _answer_ids(tokenizer, turn.answer) + [tokenizer.eos_token_id]
            ids += answer
            labels += answer
            context = conv.SEP2
        if start < max_length < len(ids) and max_length <= start + len(prompt) and mask_id in prompt:
            end = start  # the cut would leave this turn's region without its <pos> or its answer
    if IMAGE_TOKEN_INDEX in ids[max_length:]:
        raise InputError(f"opal.max_length: {max_length} tokens cut the conversation's image block of {image_tokens} "
                         f"tokens, which ends at token {len(ids) - ids[::-1].index(IMAGE_TOKEN_INDEX)}")
    return torch.tensor(ids[:end]), torch.tensor(labels[:end])


def encode_description(tokenizer: PreTrainedTokenizerBase, text: str, max_length: int) -> torch.Tensor:
    """Token ids of a description alone, the contrastive loss's text-only input: its tokens as an
    answer's labels hold them (no BOS; a description cut at `max_length` keeps its `</s>`), so the
    text embedding is the final hidden state at `</s>`, as in the released OPAL code."""
    answer = _answer_ids(tokenizer, text)[:max_length - 1]
    return torch.tensor(answer + [tokenizer.eos_token_id])
