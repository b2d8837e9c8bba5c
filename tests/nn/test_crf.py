"""The CRF against brute force: log Z and Viterbi over every tag sequence of small cases, gradients by finite
differences (float64), padding, and the BIO/IOBES constraints."""

from __future__ import annotations

import itertools

import pytest
import torch

from rnnkit.nn.crf import CRF, FORBIDDEN, chunk_constraints


def random_crf(num_tags: int, seed: int, constraints=None, dtype=torch.float64) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(num_tags, constraints).to(dtype)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    return crf


def brute_scores(crf: CRF, emissions: torch.Tensor, length: int) -> dict[tuple[int, ...], float]:
    """score(y) of every tag sequence of one sentence, written straight from the definition."""
    transitions, start, end = crf._scores(torch.float64)
    scores = {}
    for path in itertools.product(range(crf.num_tags), repeat=length):
        value = start[path[0]] + end[path[-1]] + sum(emissions[t, k] for t, k in enumerate(path))
        value = value + sum(transitions[a, b] for a, b in itertools.pairwise(path))
        scores[path] = value.item()
    return scores


@pytest.mark.parametrize("num_tags,lengths", [(2, [1]), (3, [4, 2, 3]), (4, [3, 1]), (5, [2])])
def test_log_partition_score_and_viterbi_equal_enumeration(num_tags, lengths):
    crf = random_crf(num_tags, seed=num_tags)
    emissions = torch.randn(len(lengths), max(lengths), num_tags, dtype=torch.float64)
    lengths = torch.tensor(lengths)
    log_z = crf.log_partition(emissions, lengths)
    decoded = crf.viterbi(emissions, lengths)
    tags = torch.randint(num_tags, (len(lengths), emissions.shape[1]))
    scores = crf.score(emissions, tags, lengths)
    for row, length in enumerate(lengths.tolist()):
        table = brute_scores(crf, emissions[row], length)
        expected = torch.logsumexp(torch.tensor(list(table.values()), dtype=torch.float64), 0)
        assert torch.allclose(log_z[row], expected, atol=1e-10)
        assert decoded[row] == list(max(table, key=table.get))
        assert scores[row].item() == pytest.approx(table[tuple(tags[row, :length].tolist())], abs=1e-10)


def test_probabilities_sum_to_one_and_the_loss_is_minus_log_probability():
    crf = random_crf(3, seed=1)
    emissions = torch.randn(1, 3, 3, dtype=torch.float64)
    total = sum(torch.exp(-crf(emissions, torch.tensor([path]))) for path in itertools.product(range(3), repeat=3))
    assert total.item() == pytest.approx(1.0, abs=1e-12)


def log_partition_of(emissions, transitions, start, end, lengths):
    """log Z as a plain function of (emissions, transitions, start, end): the CRF's parameters swapped for the
    given tensors, so gradcheck differentiates with respect to them too."""
    crf = CRF(transitions.shape[0]).to(torch.float64)
    for name, value in (("transitions", transitions), ("start", start), ("end", end)):
        delattr(crf, name)
        setattr(crf, name, value)
    return crf.log_partition(emissions, lengths)


def test_log_partition_gradients_equal_finite_differences():
    torch.manual_seed(3)
    emissions = torch.randn(3, 5, 4, dtype=torch.float64, requires_grad=True)
    parameters = [torch.randn(*shape, dtype=torch.float64, requires_grad=True) for shape in ((4, 4), (4,), (4,))]
    lengths = torch.tensor([5, 2, 4])
    assert torch.autograd.gradcheck(lambda *inputs: log_partition_of(*inputs, lengths), (emissions, *parameters))
    # and of the loss, log Z - score(y), with respect to the module's own transition scores
    crf = random_crf(4, seed=4)
    tags = torch.randint(4, (3, 5))
    assert torch.autograd.gradcheck(lambda e: crf(e, tags, lengths), (emissions,))
    crf(emissions, tags, lengths).sum().backward()
    analytic = crf.transitions.grad.clone()
    numeric = torch.zeros_like(analytic)
    for i, j in itertools.product(range(4), repeat=2):
        with torch.no_grad():
            values = []
            for sign in (1, -1):
                crf.transitions[i, j] += sign * 1e-6
                values.append(crf(emissions, tags, lengths).sum().item())
                crf.transitions[i, j] -= sign * 1e-6
        numeric[i, j] = (values[0] - values[1]) / 2e-6
    assert torch.allclose(analytic, numeric, atol=1e-6)


def test_the_gradient_of_log_z_is_the_expected_tag_count():
    """d logZ / d e[t, k] = p(y_t = k): the marginals, which sum to one at each real position (0 on padding)."""
    crf = random_crf(3, seed=5)
    emissions = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    crf.log_partition(emissions, torch.tensor([4, 2])).sum().backward()
    sums = emissions.grad.sum(2)
    assert torch.allclose(sums, torch.tensor([[1.0, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.float64))


def test_padding_changes_nothing():
    crf = random_crf(4, seed=7, dtype=torch.float32)
    short = torch.randn(1, 3, 4)
    padded = torch.cat([short, torch.randn(1, 4, 4) * 100], dim=1)
    tags = torch.tensor([[1, 2, 3]])
    padded_tags = torch.cat([tags, torch.tensor([[0, 3, 1, 2]])], dim=1)
    length = torch.tensor([3])
    assert torch.allclose(crf(short, tags), crf(padded, padded_tags, length))
    assert crf.viterbi(short) == crf.viterbi(padded, length)
    assert len(crf.viterbi(padded, length)[0]) == 3


def test_bio_constraints_forbid_i_after_o_and_at_the_start():
    names = ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]
    transitions, start, end = chunk_constraints(names)
    allowed = {(a, b) for i, a in enumerate(names) for j, b in enumerate(names) if transitions[i, j]}
    assert ("O", "I-PER") not in allowed and ("B-LOC", "I-PER") not in allowed
    assert ("B-PER", "I-PER") in allowed and ("I-PER", "I-PER") in allowed and ("I-PER", "B-LOC") in allowed
    assert start.tolist() == [True, True, False, False, True] and end.all()
    crf = CRF(5, (transitions, start, end))
    emissions = torch.zeros(1, 3, 5)
    emissions[0, :, 3] = 5.0  # the emissions alone want I-PER I-PER I-PER
    assert crf.viterbi(emissions) == [[1, 3, 3]]  # B-PER I-PER I-PER: the best path the scheme allows
    path = crf.viterbi(torch.randn(8, 6, 5) * 3)
    for tags in path:
        assert names[tags[0]] != "I-PER" and names[tags[0]] != "I-LOC"
        assert all(transitions[a, b] for a, b in itertools.pairwise(tags))


def test_iobes_constraints_and_auto_detection():
    names = ["B-X", "E-X", "I-X", "O", "S-X"]
    transitions, start, end = chunk_constraints(names)
    index = names.index
    assert transitions[index("B-X"), index("E-X")] and not transitions[index("B-X"), index("O")]
    assert not transitions[index("E-X"), index("I-X")] and transitions[index("E-X"), index("S-X")]
    assert end.tolist() == [False, True, False, True, True] and start.tolist() == [True, False, False, True, True]
    assert chunk_constraints(["NOUN", "VERB"]) is None
    assert chunk_constraints(names, "none") is None
    crf = CRF(5, chunk_constraints(names))
    assert crf.transition_penalty[index("O"), index("I-X")] == FORBIDDEN
    assert "transition_penalty" not in crf.state_dict()
    with pytest.raises(ValueError, match="scheme: got 'bilou'"):
        chunk_constraints(names, "bilou")


def test_bad_shapes_are_one_line_errors():
    crf = CRF(3)
    with pytest.raises(ValueError, match=r"emissions: got shape \(2, 4, 5\); expected \(B, T, 3\)"):
        crf.log_partition(torch.zeros(2, 4, 5))
    with pytest.raises(ValueError, match="lengths: got"):
        crf.viterbi(torch.zeros(2, 4, 3), torch.tensor([0, 4]))
