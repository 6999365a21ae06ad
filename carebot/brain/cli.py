"""``carebot ask``: one request through the brain, printed as one JSON object.

    carebot ask --site public_hall "我要换身份证"
    carebot ask --backend deepseek "I feel lonely"      # key from $DEEPSEEK_API_KEY
    carebot ask --backend openai_compatible --base-url http://gpu-box:8000/v1 "..."
    carebot ask --backend none --jsonl utterances.jsonl     # one JSON object per line in and out
    echo '{"text": "my chest hurts"}' | carebot ask --jsonl -

Nothing moves: the plan is printed, not executed. The embedded llama.cpp server is
started only when the rules and the knowledge base leave the request to the LLM.
With --ros the running stack's brain answers (service brain/ask); --execute then
lets the robot carry the plan out.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Iterable, TextIO

from carebot.bringup import SITES

BACKENDS = ("embedded", "openai_compatible", "deepseek", "none")


def register(subparsers) -> None:
    parser = subparsers.add_parser("ask", help="ask the brain one question; prints reply, actions, alert as JSON",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("text", nargs="*", help="what the person says (or --jsonl)")
    parser.add_argument("--jsonl", metavar="FILE",
                        help="batch: one JSON object per line ({\"text\", \"site\", \"person\"}; - for standard "
                             "input); one answer per line, models loaded once; a bad line gets an error object")
    parser.add_argument("--site", choices=SITES, default="care_home")
    parser.add_argument("--backend", choices=BACKENDS, default="embedded",
                        help="LLM backend (none: rules and knowledge only)")
    parser.add_argument("--base-url", default="", help="LLM endpoint (openai_compatible; overrides defaults)")
    parser.add_argument("--model", default="", help="model name (default: backend's)")
    parser.add_argument("--person", default="", help="who asks (kept locally, never sent to a cloud LLM)")
    parser.add_argument("--language", choices=("", "en", "zh"), default="", help="reply language (default: detect)")
    parser.add_argument("--no-embeddings", action="store_true",
                        help="lexical knowledge retrieval and safety rules only, no embedding models (faster start)")
    parser.add_argument("--resident-memory", metavar="FILE", default="",
                        help="SQLite file of what residents told (with consent); default: kept for this run only")
    parser.add_argument("--verbose", action="store_true", help="log LLM attempts on stderr")
    parser.add_argument("--ros", action="store_true",
                        help="ask the running stack's brain (service brain/ask, the site's ROS domain) instead")
    parser.add_argument("--execute", action="store_true", help="with --ros: the robot carries the plan out")
    parser.add_argument("--timeout", type=float, default=60.0, help="with --ros: seconds to wait for the answer")
    parser.set_defaults(func=run)


def ask_ros(text: str, person: str, language: str, execute: bool, timeout: float) -> dict:
    """Call brain/ask of a running stack; the answer in the same JSON shape."""
    import rclpy
    from carebot_interfaces.srv import Ask

    rclpy.init()
    node = rclpy.create_node("carebot_ask_cli")
    try:
        client = node.create_client(Ask, "brain/ask")
        if not client.wait_for_service(timeout_sec=min(timeout, 10.0)):
            raise TimeoutError("brain/ask is not available (is the stack up, same ROS_DOMAIN_ID?)")
        future = client.call_async(Ask.Request(text=text, person=person, language=language, execute=execute))
        rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
        if not future.done():
            raise TimeoutError(f"no answer from brain/ask within {timeout} s")
        res = future.result()
        alert = None
        if res.has_alert:
            a = res.alert
            alert = {"id": a.id, "kind": a.kind, "severity": a.severity, "state": a.state, "person": a.person,
                     "place": a.place, "message": a.message}
        return {"reply": res.reply, "actions": [{"tool": c.tool, "args": {kv.key: kv.value for kv in c.args}}
                                                for c in res.actions],
                "alert": alert, "source": res.source, "latency_ms": round(float(res.latency_ms), 2)}
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def _brains(args, llm):
    """One Brain per site, made on first use; the safety net's similarity check is shared."""
    from carebot.brain.dialogue import Brain
    from carebot.brain.resident_memory import ResidentMemory
    from carebot.brain.safety_rules import SafetyNet
    from carebot.brain.tools import DEFAULT_RATE_LIMITS

    # What residents tell is kept for this run only (in memory), unless a file is named.
    residents = ResidentMemory(args.resident_memory or ":memory:")

    similarity = None
    if not args.no_embeddings:
        from carebot.brain.distress_similarity import load_similarity

        similarity = load_similarity()
    cache: dict[str, Brain] = {}

    # A batch only plans (nothing is executed): the rate limits that protect a running robot
    # from a runaway plan would only turn the 31st line's reply into "I have just done that".
    limits = {tool: (10 ** 6, 1.0) for tool in DEFAULT_RATE_LIMITS} if args.jsonl else None

    def brain_for(site: str) -> Brain:
        if site not in cache:
            cache[site] = Brain(site, llm=llm, use_embeddings=not args.no_embeddings,
                                safety=SafetyNet(similarity), rate_limits=limits,
                                residents=residents)
        return cache[site]
    return brain_for


def answer_lines(lines: Iterable[str], brain_for, default_site: str, language: str, out: TextIO) -> int:
    """Answer one JSON request per line; returns how many lines were bad."""
    from carebot.bringup import SITES

    bad = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a line must be a JSON object")
            text = request.get("text")
            if not isinstance(text, str) or not text.strip():
                raise ValueError("\"text\" must be a non-empty string")
            site = request.get("site") or default_site
            if site not in SITES:
                raise ValueError(f"unknown site {site!r}; one of {list(SITES)}")
            person = request.get("person") or ""
            if not isinstance(person, str):
                raise ValueError("\"person\" must be a string")
            decision = brain_for(site).decide(text, person=person, session=f"jsonl-{number}", language=language)
            answer = decision.to_json()
        except (ValueError, TypeError) as exc:   # json.JSONDecodeError is a ValueError
            bad += 1
            answer = {"error": str(exc), "line": number}
        out.write(json.dumps(answer, ensure_ascii=False) + "\n")
        out.flush()
    return bad


def run(args) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR, stream=sys.stderr,
                        format="[%(name)s] %(message)s")
    if bool(args.text) == bool(args.jsonl):
        print("carebot ask: give the text to ask, or --jsonl FILE (not both)", file=sys.stderr)
        return 2
    if args.ros:
        if args.jsonl:
            print("carebot ask: --jsonl answers locally; it does not combine with --ros", file=sys.stderr)
            return 2
        try:
            import os

            from carebot import bringup, dds_confinement

            # The running stack's DDS: the site's domain and carebot's loopback-only profile.
            os.environ.update(dds_confinement.stack_environment(os.environ, bringup.site_config(args.site)))
            answer = ask_ros(" ".join(args.text), args.person, args.language, args.execute, args.timeout)
        except TimeoutError as exc:
            print(f"carebot ask: {exc}", file=sys.stderr)
            return 1
        print(json.dumps(answer, ensure_ascii=False))
        return 0
    from carebot.brain.llm_client import LLMClient, LLMConfig

    llm = None
    try:
        if args.backend != "none":
            llm = LLMClient(LLMConfig(backend=args.backend, base_url=args.base_url, model=args.model))
        brain_for = _brains(args, llm)
        if args.jsonl:
            try:
                source = sys.stdin if args.jsonl == "-" else open(args.jsonl, encoding="utf-8")
            except OSError as exc:
                print(f"carebot ask: cannot read {args.jsonl}: {exc.strerror}", file=sys.stderr)
                return 2
            with source:
                bad = answer_lines(source, brain_for, args.site, args.language, sys.stdout)
            if bad:
                print(f"carebot ask: {bad} bad line(s), answered with error objects", file=sys.stderr)
            return 0
        decision = brain_for(args.site).decide(" ".join(args.text), person=args.person, session="cli",
                                               language=args.language)
    except ValueError as exc:
        print(f"carebot ask: {exc}", file=sys.stderr)
        return 2
    finally:
        if llm is not None:
            llm.close()
    print(json.dumps(decision.to_json(), ensure_ascii=False))
    return 0
