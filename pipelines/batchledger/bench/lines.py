"""A plain Together-shaped output file for parse tests and measurements (contract §4.2)."""

from __future__ import annotations

import json
from pathlib import Path


def write_output_file(path: Path, lines: int) -> None:
    """Lines shaped like Together's observed output (contract §4.2), ~1 KB each."""
    content = "word " * 150
    with path.open("w") as fh:
        for n in range(lines):
            body = {
                "choices": [
                    {
                        "finish_reason": "stop",
                        "index": 0,
                        "logprobs": None,
                        "message": {"content": content, "role": "assistant", "tool_calls": []},
                        "seed": n,
                    }
                ],
                "created": 1_790_000_000 + n,
                "id": f"o{n:012d}",
                "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo",
                "object": "chat.completion",
                "prompt": [],
                "usage": {"completion_tokens": 150, "prompt_tokens": 60, "total_tokens": 210},
            }
            line = {
                "id": f"br_{n:043d}",
                "custom_id": f"req-{n}",
                "response": {"status_code": 200, "body": body},
            }
            fh.write(json.dumps(line) + "\n")
