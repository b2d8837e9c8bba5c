"""generate_conditional: a toy corpus generates the right sequence for each condition, guidance is the formula, and
banned tokens and length limits hold."""

from __future__ import annotations

import pytest
import torch

from rnnkit.decode import generate_conditional
from rnnkit.models import ConditionalGenerator, ConditionalGeneratorConfig
from rnnkit.models.condgen import sequence_loss


def tiny(**options) -> ConditionalGeneratorConfig:
    settings = dict(embedding_size=6, hidden_size=8, num_layers=2, condition_size=4, dropout=0.0)
    return ConditionalGeneratorConfig(**(settings | options))


@pytest.mark.parametrize("condition_input", [False, True])
def test_generates_the_sequence_of_each_condition(condition_input):
    """Toy corpus: condition 0 -> "x x x", condition 1 -> "y y y" (ids: pad 0, bos 1, eos 2, x 3, y 4)."""
    torch.manual_seed(5)
    model = ConditionalGenerator(5, tiny(num_layers=1, hidden_size=16, condition_input=condition_input),
                                 num_classes=2, pad_id=0)
    inputs = torch.tensor([[1, 3, 3, 3], [1, 4, 4, 4]])
    targets = torch.tensor([[3, 3, 3, 2], [4, 4, 4, 2]])
    condition = torch.tensor([0, 1])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(100):
        optimizer.zero_grad()
        sequence_loss(model(condition, inputs), targets, pad_id=0).backward()
        optimizer.step()
    model.eval()
    greedy = generate_conditional(model, torch.tensor([0, 1, 1, 0]), bos_id=1, eos_id=2, max_length=10,
                                  temperature=0)
    assert greedy == [[3, 3, 3], [4, 4, 4], [4, 4, 4], [3, 3, 3]]
    sampled = generate_conditional(model, torch.tensor([1, 0]), bos_id=1, eos_id=2, max_length=10, temperature=1.0,
                                   generator=torch.Generator().manual_seed(0))
    assert sampled == [[4, 4, 4], [3, 3, 3]]
    guided = generate_conditional(model, torch.tensor([1, 0, 1]), bos_id=1, eos_id=2, max_length=10,
                                  temperature=1.0, generator=torch.Generator().manual_seed(0), guidance=2.0)
    assert guided == [[4, 4, 4], [3, 3, 3], [4, 4, 4]]


def test_guidance_pushes_towards_the_condition():
    """With w > 0 the next-token scores are log p(y|c) + w [log p(y|c) - log mean_k p(y|k)]: checked by hand."""
    torch.manual_seed(7)
    model = ConditionalGenerator(6, tiny(), num_classes=3, pad_id=0).eval()
    bos = torch.tensor([1, 1, 1])
    with torch.no_grad():
        q = model.encode_condition(torch.tensor([0, 1, 2]))
        log_probs = torch.log_softmax(model.step(bos, q, model.initial_state(q))[0], dim=1)  # (K, V)
    marginal = torch.logsumexp(log_probs, dim=0) - torch.log(torch.tensor(3.0))
    expected = (log_probs[2] + 1.5 * (log_probs[2] - marginal)).argmax().item()
    first = generate_conditional(model, torch.tensor([2]), bos_id=1, eos_id=5, max_length=1, temperature=0,
                                 guidance=1.5, min_length=0)
    assert first == [[expected]] or (expected == 5 and first == [[]])
    features = ConditionalGenerator(6, tiny(), condition_features=2).eval()
    with pytest.raises(ValueError, match="guidance"):
        generate_conditional(features, torch.zeros(1, 2), bos_id=1, eos_id=2, max_length=3, guidance=1.0)


def test_generate_respects_banned_tokens_and_lengths():
    torch.manual_seed(6)
    model = ConditionalGenerator(6, tiny(), num_classes=2, pad_id=0).eval()
    generator = torch.Generator().manual_seed(0)
    sequences = generate_conditional(model, torch.tensor([0, 1] * 20), bos_id=1, eos_id=2, max_length=4,
                                     temperature=1.0, banned=[0, 1, 3], generator=generator, min_length=2)
    assert all(2 <= len(sequence) <= 4 for sequence in sequences)
    assert all(token in (4, 5) for sequence in sequences for token in sequence)
    with pytest.raises(ValueError, match="max_length"):
        generate_conditional(model, torch.tensor([0]), bos_id=1, eos_id=2, max_length=0)
