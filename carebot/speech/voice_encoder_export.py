"""Export Resemblyzer's GE2E speaker encoder to ONNX once, with the venv's torch (setup only).

The speech process runs the export on onnxruntime (``carebot.speech.voice_id.VoiceEncoder``):
torch stays out of it (the memory budget, docs/budget.md). The network is rebuilt here from its
published shape (a 3-layer LSTM of 256 over 40 mel channels, a linear layer to 256, ReLU, L2
norm) and loaded from the wheel's ``pretrained.pt`` state dict; nothing of the package is
imported (its ``__init__`` needs librosa and webrtcvad, which the stack does not install).
"""
from __future__ import annotations

import os
from pathlib import Path

from carebot.speech.voice_id import N_MELS, PARTIAL_FRAMES

HIDDEN = 256
LAYERS = 3


def export(weights: Path, target: Path) -> Path:
    """weights (pretrained.pt) -> target (.onnx), written atomically; returns target."""
    import torch
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(N_MELS, HIDDEN, LAYERS, batch_first=True)
            self.linear = nn.Linear(HIDDEN, HIDDEN)

        def forward(self, mels: torch.Tensor) -> torch.Tensor:
            _, (hidden, _) = self.lstm(mels)
            raw = torch.relu(self.linear(hidden[-1]))
            return raw / torch.norm(raw, dim=1, keepdim=True).clamp_min(1e-12)

    state = torch.load(weights, map_location="cpu", weights_only=True)["model_state"]
    model = Encoder()
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing:
        raise ValueError(f"{weights}: not the GE2E encoder's weights (missing {missing})")
    # The checkpoint also holds the training loss' similarity scale (unused at inference).
    unexpected = [k for k in unexpected if not k.startswith("similarity_")]
    if unexpected:
        raise ValueError(f"{weights}: unexpected weights {unexpected}")
    model.eval()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".partial-{os.getpid()}")
    with torch.no_grad():
        torch.onnx.export(model, (torch.zeros(2, PARTIAL_FRAMES, N_MELS),), str(partial), input_names=["mels"],
                          output_names=["prints"], dynamic_axes={"mels": {0: "windows"}, "prints": {0: "windows"}},
                          opset_version=17, dynamo=False)
    os.replace(partial, target)
    return target
