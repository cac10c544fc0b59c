"""Our per-turn encoding of osprey_v1 conversations against Osprey's own preprocessing (the whole
prompt tokenized at once, then its masking), with a Llama-style sentencepiece tokenizer: a tiny BPE
model trained here with Llama's settings (a "▁" word-start marker added before each text piece, byte
fallback, <unk> <s> </s>), saved as Vicuna ships its tokenizer (tokenizer.model and
tokenizer_config.json, no tokenizer.json) and loaded as the workflow loads it. The behaviour at
piece boundaries depends on the algorithm, not on the vocabulary."""

from __future__ import annotations

import io
import json

import pytest
import sentencepiece as spm

from oeseg.models import conversation as conv
from oeseg.models.tokenization import (
    IGNORE_INDEX,
    IMAGE_TOKEN_INDEX,
    encode_conversation,
    encode_description,
    load_tokenizer,
)

# the instruction that opens the first turn of COCO samples (configs/paper.yaml, from stage2_data.py)
COCO = ("In the conversation below, you simply answer the category name based on what you see in the imagery "
        "inside a particular region. I will give you only one region each time.\n")
REFCOCO = "I will provide you with only one region containing only one object."
ANSWERS = ["person", "dining table", "cat:head", "(car)", " the man in a red shirt", "...a dog"]
CASES = {
    "one region, the evaluation question": [conv.Turn(conv.region_question(), "person")],
    "instruction and three regions": [conv.Turn(f"<image>\n{COCO}<mask><pos>", "person"),
                                      conv.Turn("<mask><pos>", "dining table"), conv.Turn("<mask><pos>", "cat:head")],
    "answers with a leading space and punctuation": [
        conv.Turn(f"<image>\n{REFCOCO}<mask><pos>", "(car)"), conv.Turn("<mask><pos>", " the man in a red shirt"),
        conv.Turn("<mask><pos>", "...a dog")],
    "a described region, then a question": [
        conv.Turn(conv.IMAGE_INTRO + "Describe the region <mask><pos> of the image in detail.", "A red car, parked."),
        conv.Turn("What is next to <mask><pos>?", "a dog")],
}
IMAGE_TOKENS = 3


@pytest.fixture(scope="module")
def spm_model(tmp_path_factory) -> bytes:
    """A tiny BPE sentencepiece model with Llama's normalizer and trainer settings. "USER" is
    taught with and without its word-start marker, one token each as in Llama's vocabulary
    (where both are two), so that Osprey's masking keeps its labels for a non-legacy tokenizer."""
    corpus = [conv.TRAINING_SYSTEM, COCO, REFCOCO, conv.EVAL_INTRO + conv.EVAL_QUESTION, "USER: ASSISTANT: USER: ASSISTANT:", "xUSER",
              *ANSWERS, "Describe the region of the image in detail. What is next to it?"] * 20
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_writer=model, model_type="bpe", vocab_size=400,
        character_coverage=1.0, byte_fallback=True, add_dummy_prefix=True, remove_extra_whitespaces=False,
        normalization_rule_name="identity", split_digits=True, allow_whitespace_only_pieces=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, hard_vocab_limit=False, minloglevel=2)
    return model.getvalue()


def _tokenizer(tmp_path, model: bytes, kind: str):
    """Vicuna-style folder loaded as the workflow loads it (with `<mask>` and `<pos>` added),
    `legacy` true or false in its config (Vicuna v1.5 ships false)."""
    (tmp_path / "tokenizer.model").write_bytes(model)
    config = {"tokenizer_class": "LlamaTokenizer", "legacy": kind == "legacy", "add_bos_token": True,
              "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    return load_tokenizer(tmp_path)


@pytest.mark.parametrize("kind", ["legacy", "non-legacy"])
def test_llama_tokenizers_read_text_as_osprey_s_transformers_4_31(tmp_path, spm_model, kind):
    """Whatever `legacy` says, every piece of text after a special token starts with a word-start
    "▁", as the Llama fast tokenizer of transformers 4.31 (Osprey's pin) reads it, also after a
    save and reload (a trained stage keeps its tokenizer folder)."""
    tok = _tokenizer(tmp_path, spm_model, kind)

    def pieces(text: str) -> list[str]:
        return tok.convert_ids_to_tokens(tok(text, add_special_tokens=False).input_ids)

    assert pieces("<pos>?")[0] == "<pos>" and pieces("<pos>?")[1].startswith("▁")  # "▁?" or "▁", "?"
    assert pieces("a</s>USER")[1:3] == ["</s>", "▁USER"]
    tok.save_pretrained(tmp_path / "saved")
    again = load_tokenizer(tmp_path / "saved")
    for text in ("<pos>? ASSISTANT:", "a</s>USER: <mask><pos> the man"):
        assert again(text).input_ids == tok(text).input_ids


def _image_token(tok, prompt: str) -> list[int]:
    """Osprey's `tokenizer_image_token`: each `<image>`-separated chunk tokenized apart (with BOS,
    kept for the first chunk only), one IMAGE_TOKEN_INDEX per placeholder."""
    chunks = [tok(chunk).input_ids for chunk in prompt.split(conv.IMAGE_PLACEHOLDER)]
    offset = int(bool(chunks[0]) and chunks[0][0] == tok.bos_token_id)
    ids = chunks[0][:offset]
    for i, chunk in enumerate(chunks):
        ids += ([IMAGE_TOKEN_INDEX] if i else []) + chunk[offset:]
    return ids


def _osprey_v1(tok, turns: list[conv.Turn]) -> tuple[list[int], list[int], bool]:
    """Osprey's `preprocess_v1` (has_image): the osprey_v1 prompt tokenized at once; labels masked
    from BOS, and in each `</s>`-ended round up to its instruction (tokenized apart, less 2 for the
    BOS and the trailing "▁" of "ASSISTANT: "); every label ignored when the rounds' lengths do not
    add up to the prompt's ("tokenization mismatch"). The image index expanded to IMAGE_TOKENS."""
    prompt = conv.TRAINING_SYSTEM + conv.SEP + "".join(f"USER: {t.question} ASSISTANT: {t.answer}</s>" for t in turns)
    ids = _image_token(tok, prompt)
    labels = list(ids)
    sep = f"{conv.SEP}{conv.ROLES[1]}: "
    cur = 1
    labels[:cur] = [IGNORE_INDEX]
    for round_text in prompt.split(conv.SEP2):
        parts = round_text.split(sep)
        if not round_text or len(parts) != 2:
            break
        instruction = len(_image_token(tok, parts[0] + sep)) - 2
        labels[cur:cur + instruction] = [IGNORE_INDEX] * len(labels[cur:cur + instruction])
        cur += len(_image_token(tok, round_text))
    labels[cur:] = [IGNORE_INDEX] * len(labels[cur:])
    mismatch = cur != sum(i != tok.pad_token_id for i in ids)
    if mismatch:
        labels = [IGNORE_INDEX] * len(labels)
    out_ids, out_labels = [], []
    for i, label in zip(ids, labels):
        n = IMAGE_TOKENS if i == IMAGE_TOKEN_INDEX else 1
        out_ids += [i] * n
        out_labels += [label] * n
    return out_ids, out_labels, mismatch


@pytest.mark.parametrize("kind", ["legacy", "non-legacy"])
def test_encoding_conversations_matches_osprey_tokenizing_the_whole_prompt(tmp_path, spm_model, kind):
    """Input ids and labels equal Osprey's exactly, where the text pieces meet too: the system and
    the first "USER" (tokenized apart, the system's trailing space would be a lone "▁"), `</s>` and
    the next "USER" (no "▁" there for a non-legacy tokenizer), "ASSISTANT:" and the answer."""
    tok = _tokenizer(tmp_path, spm_model, kind)
    assert tok.convert_ids_to_tokens(tok(conv.TRAINING_SYSTEM + conv.SEP, add_special_tokens=False).input_ids)[-1] == "▁"
    for name, turns in CASES.items():
        ids, labels = (x.tolist() for x in encode_conversation(tok, turns, IMAGE_TOKENS, 10**6))
        want_ids, want_labels, mismatch = _osprey_v1(tok, turns)
        assert not mismatch, name
        assert ids == want_ids, (name, tok.convert_ids_to_tokens([i for i in ids if i >= 0]),
                                 tok.convert_ids_to_tokens([i for i in want_ids if i >= 0]))
        assert labels == want_labels, name
        labelled = [i for i, label in zip(ids, labels) if label != IGNORE_INDEX]
        assert tok.decode(labelled).replace(" ", "") == "".join(t.answer + conv.SEP2 for t in turns).replace(" ", "")
        for k in range(len(turns)):  # a conversation's first turns encode as the start of it
            assert ids[:len(head := encode_conversation(tok, turns[:k], IMAGE_TOKENS, 10**6)[0].tolist())] == head


@pytest.mark.parametrize("kind", ["legacy", "non-legacy"])
def test_a_description_alone_is_its_answer_tokens_in_the_conversation(tmp_path, spm_model, kind):
    """The contrastive text pass reads a description as the answer's labels hold it (then `</s>`)."""
    tok = _tokenizer(tmp_path, spm_model, kind)
    for answer in ANSWERS:
        ids, labels = encode_conversation(tok, [conv.Turn(conv.region_question(), answer)], IMAGE_TOKENS, 10**6)
        assert encode_description(tok, answer, 10**6).tolist() == labels[labels != IGNORE_INDEX].tolist(), answer
