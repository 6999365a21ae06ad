"""``python -m carebot.brain.llama_server ARGS``: llama-cpp-python's OpenAI-compatible
server (same arguments as ``python -m llama_cpp.server``), started by the brain
for its embedded backend.

One difference, on purpose: llama.cpp's "extra buffer types" (CPU weight repacking,
Intel AMX tiles) are turned off. A llama.cpp built with -march=native on a CPU
that advertises AMX crashes with SIGILL (``tilezero``) on the first prompt when the
virtual machine does not grant AMX tile state - verified on this project's build
machines. For a 135M-parameter model the plain CPU path is fast enough.
Set CAREBOT_LLAMA_EXTRA_BUFTS=1 to keep them (bare-metal AMX hosts).
"""
from __future__ import annotations

import os


def _disable_extra_buffer_types() -> None:
    import llama_cpp.llama_cpp as capi

    original = capi.llama_model_default_params

    def params_without_extra_bufts():
        params = original()
        params.use_extra_bufts = False
        return params

    capi.llama_model_default_params = params_without_extra_bufts


def main() -> None:
    if os.environ.get("CAREBOT_LLAMA_EXTRA_BUFTS", "0") != "1":
        _disable_extra_buffer_types()
    from llama_cpp.server.__main__ import main as server_main
    server_main()


if __name__ == "__main__":
    main()
