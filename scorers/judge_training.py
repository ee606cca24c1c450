"""Training, calibration and measurement of a judge (`scorers.judge`).

Labels come as `y` (n, outputs) in {0, 1} with a mask `known` of the same shape: an unknown label adds nothing
to the loss and is left out of every metric. A yes/no output is trained with binary cross-entropy; an exclusive
head with cross-entropy over its values, on the rows where the whole head is known. Training is AdamW with a
one-cycle learning rate over seeded mini-batches, images showing rare attribute values drawn more often
(`JudgeConfig.balance`); each batch gets light Gaussian noise and a random brightness and contrast change (no
flips: they would move the location cells).

Calibration fits one temperature a head on held-out images by minimising the same loss (`calibrate`). Then each
output gets a decision threshold (`choose_thresholds`): the one at which the weaker of precision and recall on
held-out images is strongest (a threshold for a target precision alone left noisy outputs at thresholds near 0 or
1 with the other figure far below the bar). `judge_metrics` reports per output the positives, the
AUROC, and the precision, recall and accuracy at its threshold, and the expected calibration error (ECE, 15
equal-width bins) over every known yes/no label and every value of the known exclusive heads, overall and per
head (the overall figure is dominated by the many easy absent values; the presence head's is stricter). A macro
average hides a blind output among many easy ones, so every output is reported, and `uncertifiable` names those
whose held-out precision or recall misses `CERTIFY` or that had fewer than its positives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from promptopt.scorers.fitting import auroc, data_hash
from promptopt.scorers.judge import AnyOf, Judge, JudgeConfig, Schema, build_net, head_slices, output_names, to_input

ECE_BINS = 15
CERTIFY = {"precision": 0.9, "recall": 0.9, "positives": 30}  # the bar an output's held-out figures must reach


def _loss(logits: Any, y: Any, known: Any, schema: Schema, temperature: Any | None = None) -> Any:
    """Mean loss per known label (yes/no outputs) and per known exclusive head row."""
    import torch
    import torch.nn.functional as F

    total, count = logits.new_zeros(()), logits.new_zeros(())
    for i, (head, cols) in enumerate(head_slices(schema)):
        z = logits[:, cols] if temperature is None else logits[:, cols] / temperature[i]
        if head.exclusive:
            rows = known[:, cols].all(dim=1)
            if rows.any():
                total = total + F.cross_entropy(z[rows], y[rows][:, cols].argmax(dim=1), reduction="sum")
                count = count + rows.sum()
        else:
            mask = known[:, cols].float()
            total = total + (F.binary_cross_entropy_with_logits(z, y[:, cols], reduction="none") * mask).sum()
            count = count + mask.sum()
    return total / torch.clamp(count, min=1.0)


def _augment(x: Any, noise: float, gen: Any) -> Any:
    import torch

    n = len(x)
    contrast = 1.0 + 0.1 * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 2
    brightness = 0.1 * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 2
    return x * contrast + brightness + noise * torch.randn(x.shape, generator=gen)


def draw_weights(y: np.ndarray, known: np.ndarray, balance: float) -> np.ndarray | None:
    """Per image, how often it is drawn (see `JudgeConfig.balance`); None for plain shuffling."""
    if balance == 0:
        return None
    positive = (y > 0.5) & known
    share = positive.sum(axis=0) / np.maximum(known.sum(axis=0), 1)
    rarity = np.where(positive, 1.0 / np.maximum(share, 1e-6), 1.0) ** balance
    weights = rarity.max(axis=1)
    return weights / weights.sum()


def fit_judge(
    pixels: np.ndarray,
    y: np.ndarray,
    known: np.ndarray,
    schema: Schema,
    config: JudgeConfig = JudgeConfig(),
    *,
    any_of: AnyOf = (),
    on_epoch: Callable[[int, float], None] | None = None,
) -> Judge:
    """Train a judge on uint8 NHWC `pixels` at `config.size` and labels `y` / `known` in `schema`'s columns;
    `any_of` names its "any of" outputs (`promptopt.scorers.judge`). `on_epoch(epoch, mean_loss)` is called after
    each epoch. The temperatures start at 1 (see `calibrate`)."""
    import torch

    n_out = len(output_names(schema))
    if pixels.shape[1:] != (config.size, config.size, 3) or y.shape != (len(pixels), n_out) != known.shape:
        raise ValueError(f"pixels {pixels.shape}, y {y.shape}, known {known.shape} disagree with the schema/size")
    torch.manual_seed(config.seed)
    net = build_net(config, schema)
    decay = [p for p in net.parameters() if p.ndim > 1]
    rest = [p for p in net.parameters() if p.ndim <= 1]
    optimiser = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}], lr=config.lr
    )
    steps = config.epochs * -(-len(pixels) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.lr, total_steps=steps)
    y_t, known_t = torch.from_numpy(y.astype(np.float32)), torch.from_numpy(known.astype(bool))
    gen = torch.Generator().manual_seed(config.seed)
    weights = draw_weights(y, known, config.balance)
    net.train()
    for epoch in range(config.epochs):
        losses = []
        if weights is None:
            order = torch.randperm(len(pixels), generator=gen)
        else:
            order = torch.multinomial(torch.from_numpy(weights), len(pixels), replacement=True, generator=gen)
        for batch in order.split(config.batch_size):
            x = _augment(to_input(pixels[batch.numpy()]), config.noise, gen)
            loss = _loss(net(x), y_t[batch], known_t[batch], schema)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(float(loss.detach()))
        if on_epoch is not None:
            on_epoch(epoch + 1, float(np.mean(losses)))
    net.eval()
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    meta = {"n_train": len(pixels), "data_hash": data_hash(pixels, y, known)}
    return Judge(schema, config, state, np.ones(len(schema)), meta, any_of)


def calibrate(judge: Judge, pixels: np.ndarray, y: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fit the judge's temperatures (one a head, in [0.05, 20]) on held-out images; sets and returns them."""
    import torch

    logits = judge.logits(pixels).clone()  # out of inference mode, for autograd
    y_t, known_t = torch.from_numpy(y.astype(np.float32)), torch.from_numpy(known.astype(bool))
    log_t = torch.zeros(len(judge.schema), requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure() -> Any:
        optimiser.zero_grad()
        loss = _loss(logits, y_t, known_t, judge.schema, log_t.clamp(np.log(0.05), np.log(20.0)).exp())
        loss.backward()
        return loss

    optimiser.step(closure)
    judge.temperature = log_t.detach().clamp(np.log(0.05), np.log(20.0)).exp().double().numpy()
    return judge.temperature


def expected_calibration_error(proba: np.ndarray, truth: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |accuracy - confidence| over equal-width probability bins, weighted by the bin's share of the
    predictions (`proba` of the positive outcome, `truth` whether it holds; both flat)."""
    proba, truth = np.asarray(proba, float).ravel(), np.asarray(truth, bool).ravel()
    if not len(proba):
        raise ValueError("ECE needs at least one prediction")
    which = np.minimum((proba * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            ece += sel.mean() * abs(truth[sel].mean() - proba[sel].mean())
    return float(ece)


def choose_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """The decision threshold (an image shows the output when its score reaches it) at which the weaker of
    precision and recall on (scores, truth) is strongest (the certification bar asks both), the higher recall
    among ties, halfway to the next lower score so that a score a little under the last kept one still counts.
    With no positive or no negative there is nothing to choose from: 0.5."""
    scores, truth = np.asarray(scores, float), np.asarray(truth, bool)
    if truth.all() or not truth.any():
        return 0.5
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], np.cumsum(truth[order])
    last = np.r_[ranked[1:] < ranked[:-1], True]  # a cut may only fall between two different scores
    kept = np.arange(1, len(ranked) + 1)
    weaker = np.where(last, np.minimum(hits / kept, hits / truth.sum()), -1.0)
    k = int(np.flatnonzero(weaker == weaker.max())[-1])  # the last of the ties: the most kept, the higher recall
    below = ranked[k + 1] if k + 1 < len(ranked) else 0.0
    return float((ranked[k] + below) / 2)


def choose_thresholds(proba: np.ndarray, y: np.ndarray, known: np.ndarray) -> np.ndarray:
    """`choose_threshold` of every output over the images where its label is known."""
    out = np.full(proba.shape[1], 0.5)
    for j in range(proba.shape[1]):
        sel = known[:, j].astype(bool)
        out[j] = choose_threshold(proba[sel, j], y[sel, j] > 0.5)
    return out


def judge_metrics(
    proba: np.ndarray, y: np.ndarray, known: np.ndarray, schema: Schema, thresholds: np.ndarray | None = None
) -> dict[str, Any]:
    """Per output: n_present, n_absent, AUROC (None with one class), and at its threshold (`thresholds`, default
    0.5) precision, recall and accuracy (for an exclusive head's accuracy: whether the value is the head's most
    probable one); `ece` over every known label."""
    names = output_names(schema)
    cut = np.full(len(names), 0.5) if thresholds is None else np.asarray(thresholds, float)
    per: dict[str, dict[str, Any]] = {}
    for head, cols in head_slices(schema):
        rows = known[:, cols].all(axis=1) if head.exclusive else None
        top = proba[:, cols].argmax(axis=1)
        for j, name in enumerate(names[cols]):
            sel = rows if rows is not None else known[:, cols.start + j]
            truth = y[sel, cols.start + j] > 0.5
            scores = proba[sel, cols.start + j]
            said = top[sel] == j if head.exclusive else scores >= 0.5
            called = scores >= cut[cols.start + j]
            n_present, n_absent = int(truth.sum()), int((~truth).sum())
            per[name] = {
                "head": head.name,
                "n_present": n_present,
                "n_absent": n_absent,
                "auroc": auroc(scores, truth) if n_present and n_absent else None,
                "accuracy": float((said == truth).mean()) if len(truth) else None,
                "threshold": float(cut[cols.start + j]),
                "precision": float((called & truth).sum() / called.sum()) if called.any() else None,
                "recall": float((called & truth).sum() / n_present) if n_present else None,
            }
    sel = known.astype(bool)
    heads = head_summary(per)
    for head, cols in head_slices(schema):
        part = sel[:, cols]
        heads[head.name]["ece"] = (
            expected_calibration_error(proba[:, cols][part], y[:, cols][part] > 0.5) if part.any() else None
        )
    return {"outputs": per, "heads": heads, "ece": expected_calibration_error(proba[sel], y[sel] > 0.5)}


def head_summary(per: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per head: the macro AUROC and the weakest output over the outputs that have one, the mean accuracy, and
    the outputs without both classes (`unscored`)."""
    heads: dict[str, dict[str, Any]] = {}
    for name, m in per.items():
        heads.setdefault(m["head"], {"outputs": {}, "unscored": []})
        if m["auroc"] is None:
            heads[m["head"]]["unscored"].append(name)
        else:
            heads[m["head"]]["outputs"][name] = m
    out = {}
    for head, h in heads.items():
        scored = h["outputs"]
        weakest = min(scored, key=lambda k: scored[k]["auroc"]) if scored else None
        out[head] = {
            "macro_auroc": float(np.mean([m["auroc"] for m in scored.values()])) if scored else None,
            "weakest": weakest,
            "weakest_auroc": scored[weakest]["auroc"] if weakest else None,
            "accuracy": float(np.mean([m["accuracy"] for m in scored.values()])) if scored else None,
            "unscored": h["unscored"],
        }
    return out


def uncertifiable(per: dict[str, dict[str, Any]], bar: dict[str, float] = CERTIFY) -> list[str]:
    """The outputs (of `judge_metrics`'s `outputs`) whose precision or recall at their threshold misses the bar,
    or that had fewer positives than it asks for, in order."""
    return [
        name
        for name, m in per.items()
        if m["n_present"] < bar["positives"]
        or (m["precision"] or 0.0) < bar["precision"]
        or (m["recall"] or 0.0) < bar["recall"]
    ]
