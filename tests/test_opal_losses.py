"""OPAL's contrastive loss: multi-positive targets, symmetry, temperature, and its cross-process
gathering (two gloo processes equal one process on the same global batch)."""

from __future__ import annotations

import math
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from oeseg.io import InputError
from oeseg.models.losses import LossWeights, contrastive_loss, positive_keys, text_ids


def _reference_loss(region, text, labels, tau):
    """The loss written out row by row, as in Figure 6 with multi-positive targets."""
    r = torch.nn.functional.normalize(region, dim=-1)
    t = torch.nn.functional.normalize(text, dim=-1)
    total = 0.0
    for a, b in ((r, t), (t, r)):
        logits = a @ b.T / tau
        for i in range(len(a)):
            pos = [j for j in range(len(a)) if labels[j] == labels[i]]
            logp = logits[i] - torch.logsumexp(logits[i], 0)
            total = total - sum(logp[j] for j in pos) / len(pos) / len(a)
    return total / 2


def test_matches_the_row_by_row_definition_with_equal_texts_as_positives():
    g = torch.Generator().manual_seed(0)
    region, text = torch.randn(6, 8, generator=g), torch.randn(6, 8, generator=g)
    labels = ["car", "sky", "car", "road", "sky", "tree"]
    tau = torch.tensor(0.1)
    got = contrastive_loss(region, text, text_ids(labels), tau)
    assert torch.allclose(got, _reference_loss(region, text, labels, 0.1), atol=1e-5)
    # with all-distinct ids it differs: the duplicates really count as positives
    other = contrastive_loss(region, text, text_ids([f"t{i}" for i in range(6)]), tau)
    assert not torch.allclose(got, other)


def test_aligned_pairs_give_low_loss_and_temperature_gets_gradient():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 16, generator=g)
    tau = torch.tensor(0.1, requires_grad=True)
    aligned = contrastive_loss(x, x.clone(), text_ids(list("abcde")), tau)
    shuffled = contrastive_loss(x, x.roll(1, 0), text_ids(list("abcde")), tau)
    assert aligned < 0.5 < math.log(5) < shuffled
    aligned.backward()
    assert tau.grad is not None and tau.grad.abs() > 0


def test_invalid_rows_are_neither_scored_nor_candidates():
    g = torch.Generator().manual_seed(2)
    region = torch.randn(6, 8, generator=g, requires_grad=True)
    text = torch.randn(6, 8, generator=g)
    labels = ["car", "sky", "car", "road", "sky", "tree"]
    valid = torch.tensor([True, False, True, True, False, True])
    tau = torch.tensor(0.1)
    got = contrastive_loss(region, text, text_ids(labels), tau, valid)
    keep = [i for i in range(6) if valid[i]]
    want = _reference_loss(region[keep], text[keep], [labels[i] for i in keep], 0.1)
    assert torch.allclose(got, want, atol=1e-5)
    got.backward()
    assert region.grad[~valid].abs().max() == 0 and region.grad[valid].abs().max() > 0
    none = contrastive_loss(region, text, text_ids(labels), tau, torch.zeros(6, dtype=torch.bool))
    assert none.item() == 0.0


# --- the options of the released code, each against a case worked out by hand ---------------
def test_asymmetric_is_region_to_text_only_and_symmetric_the_mean_of_both():
    # regions e1, e2; texts e1 and (e1+e2)/sqrt2; temperature 1; distinct texts
    region = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    ids, tau = text_ids(["a", "b"]), torch.tensor(1.0)
    c = 1 / math.sqrt(2)
    region_to_text = 0.5 * (math.log(1 + math.exp(c - 1)) + math.log(1 + math.exp(-c)))
    text_to_region = 0.5 * (math.log(1 + math.exp(-1)) + math.log(2))
    asym = contrastive_loss(region, text, ids, tau, symmetric=False)
    sym = contrastive_loss(region, text, ids, tau, symmetric=True)
    assert asym.item() == pytest.approx(region_to_text, abs=1e-6)
    assert sym.item() == pytest.approx(0.5 * (region_to_text + text_to_region), abs=1e-6)


def test_class_positives_join_different_texts_of_one_class():
    # three orthonormal pairs, temperature 1: row i's logits are e_i
    x = torch.eye(3)
    texts, classes = ["a red car", "a taxi", "the sky"], ["car", "car", "sky"]
    tau = torch.tensor(1.0)
    by_class = contrastive_loss(x, x, positive_keys(texts, classes, "class"), tau, symmetric=False)
    by_text = contrastive_loss(x, x, positive_keys(texts, classes, "text"), tau, symmetric=False)
    e = math.e
    # rows 0, 1: half the target on each car column, -(0.5*1 - log(e+2)); row 2: -(1 - log(e+2))
    assert by_class.item() == pytest.approx(math.log(e + 2) - 2 / 3, abs=1e-6)
    assert by_text.item() == pytest.approx(math.log(e + 2) - 1, abs=1e-6)


def test_class_positives_fall_back_to_the_text_where_the_class_is_unknown():
    keys = positive_keys(["x", "sky", "sky", "car"], ["car", None, None, "car"], "class")
    assert keys[1] == keys[2] and keys[0] == keys[3] and keys[0] != keys[1]
    # a class named like a text is not that text
    assert positive_keys(["car"], [None], "class")[0] != positive_keys(["y"], ["car"], "class")[0]
    with pytest.raises(InputError):
        positive_keys(["x"], [None], "label")


def test_the_paper_config_keys_positives_by_the_answer_as_the_released_gt_labels():
    """The released code's positives are equal `gt_labels`, which are the answers themselves: the
    category name for COCO, Pascal-Part and PartImageNet, the referring expression for RefCOCO. So
    two RefCOCO regions of one COCO category with other expressions are not positives."""
    import yaml

    paper = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs/paper.yaml").read_text())
    positives = LossWeights.from_section(paper["opal"]["loss"], 1.0).positives
    refcoco = positive_keys(["man on the left", "woman in red", "man on the left"], ["person"] * 3, positives)
    assert refcoco[0] != refcoco[1] and refcoco[0] == refcoco[2]
    coco = positive_keys(["person", "person", "car"], ["person", "person", "car"], positives)
    assert coco[0] == coco[1] != coco[2]


def test_loss_options_from_the_config_section():
    w = LossWeights.from_section({"contrastive_weight": 1.0, "combination": "alternate", "pairs": "all",
                                  "positives": "class", "symmetric": False, "detach_text_embeddings": True,
                                  "text_gradient": False}, 0.5)
    assert (w.contrastive, w.combination, w.pairs, w.positives, w.symmetric, w.detach_text_embeddings,
            w.text_gradient) == (0.5, "alternate", "all", "class", False, True, False)
    assert LossWeights.from_section({}, 1.0) == LossWeights(1.0)
    for bad in ({"pairs": "some"}, {"positives": "label"}):
        with pytest.raises(InputError):
            LossWeights.from_section(bad, 1.0)


def test_loss_weights_sum_alternate_and_baseline():
    assert LossWeights(0.0, "sum").terms(1) == (True, False)
    assert LossWeights(0.0, "alternate").terms(1) == (True, False)
    assert LossWeights(0.5, "sum").terms(3) == (True, True)
    alt = LossWeights(0.5, "alternate")
    assert [alt.terms(s) for s in range(2)] == [(True, False), (False, True)]
    with pytest.raises(InputError):
        LossWeights(1.0, "product")


# --- two processes (gloo) -------------------------------------------------------------------
GLOBAL = 8
LABELS = ["car", "sky", "car", "road", "tree", "sky", "bus", "road"]


def _problem():
    """A shared linear layer maps fixed inputs to region and text embeddings."""
    torch.manual_seed(0)
    proj = torch.nn.Linear(12, 6)
    g = torch.Generator().manual_seed(3)
    return proj, torch.randn(GLOBAL, 12, generator=g), torch.randn(GLOBAL, 12, generator=g)


def _grads(proj, tau):
    return [p.grad.clone() for p in proj.parameters()] + [tau.grad.clone()]


def _worker(rank: int, port: int, out: dict, valid: torch.Tensor, split: int, symmetric: bool) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    proj, a, b = _problem()
    tau = torch.tensor(0.1, requires_grad=True)
    local = slice(0, split) if rank == 0 else slice(split, GLOBAL)  # processes may hold different row counts
    loss = contrastive_loss(proj(a[local]), proj(b[local]), text_ids(LABELS[local]), tau, valid[local],
                            symmetric=symmetric)
    loss.backward()
    # what data-parallel training does: average losses (for logging) and gradients over processes
    for t in [loss.detach()] + [p.grad for p in proj.parameters()] + [tau.grad]:
        dist.all_reduce(t)
        t /= 2
    if rank == 0:
        out["loss"] = loss.detach().clone()
        out["grads"] = _grads(proj, tau)
    dist.destroy_process_group()


@pytest.mark.parametrize("valid,split,symmetric", [([1] * GLOBAL, 4, True), ([1, 0, 1, 1, 0, 1, 1, 1], 4, True),
                                                   ([1, 0, 1, 1, 0, 1, 1, 1], 3, False)],
                         ids=["all-valid", "two-invalid", "unequal-rows-asymmetric"])
def test_gathered_loss_and_gradients_equal_single_process(valid, split, symmetric):
    valid = torch.tensor(valid, dtype=torch.bool)
    proj, a, b = _problem()
    tau = torch.tensor(0.1, requires_grad=True)
    single = contrastive_loss(proj(a), proj(b), text_ids(LABELS), tau, valid, symmetric=symmetric)
    single.backward()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = mp.Manager().dict()
    mp.spawn(_worker, args=(port, out, valid, split, symmetric), nprocs=2, join=True)
    assert torch.allclose(out["loss"], single.detach(), atol=1e-6)
    for got, want in zip(out["grads"], _grads(proj, tau)):
        assert torch.allclose(got, want, atol=1e-6), (got, want)
