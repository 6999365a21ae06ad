"""``carebot ask``: one request through the brain, printed as one JSON object.

    carebot ask --site public_hall "我要换身份证"
    carebot ask --backend deepseek "I feel lonely"      # key from $DEEPSEEK_API_KEY
    carebot ask --backend openai_compatible --base-url http://gpu-box:8000/v1 "..."

Nothing moves: the plan is printed, not executed. The embedded llama.cpp server is
started only when the rules and the knowledge base leave the request to the LLM.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from carebot.bringup import SITES

BACKENDS = ("embedded", "openai_compatible", "deepseek", "none")


def register(subparsers) -> None:
    parser = subparsers.add_parser("ask", help="ask the brain one question; prints reply, actions, alert as JSON",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("text", nargs="+", help="what the person says")
    parser.add_argument("--site", choices=SITES, default="care_home")
    parser.add_argument("--backend", choices=BACKENDS, default="embedded",
                        help="LLM backend (none: rules and knowledge only)")
    parser.add_argument("--base-url", default="", help="LLM endpoint (openai_compatible; overrides defaults)")
    parser.add_argument("--model", default="", help="model name (default: backend's)")
    parser.add_argument("--person", default="", help="who asks (kept locally, never sent to a cloud LLM)")
    parser.add_argument("--language", choices=("", "en", "zh"), default="", help="reply language (default: detect)")
    parser.add_argument("--no-embeddings", action="store_true", help="lexical knowledge retrieval only (faster start)")
    parser.add_argument("--verbose", action="store_true", help="log LLM attempts on stderr")
    parser.set_defaults(func=run)


def run(args) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, stream=sys.stderr,
                        format="[%(name)s] %(message)s")
    from carebot.brain.dialogue import Brain
    from carebot.brain.llm_client import LLMClient, LLMConfig

    llm = None
    try:
        if args.backend != "none":
            llm = LLMClient(LLMConfig(backend=args.backend, base_url=args.base_url, model=args.model))
        brain = Brain(args.site, llm=llm, use_embeddings=not args.no_embeddings)
        decision = brain.decide(" ".join(args.text), person=args.person, session="cli", language=args.language)
    except ValueError as exc:
        print(f"carebot ask: {exc}", file=sys.stderr)
        return 2
    finally:
        if llm is not None:
            llm.close()
    print(json.dumps(decision.to_json(), ensure_ascii=False))
    return 0
