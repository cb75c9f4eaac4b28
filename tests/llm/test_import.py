"""``import selfplay_gym.llm`` stays light: torch and transformers load only with a backend."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "vllm", "tokenizers")


def test_importing_the_llm_package_loads_no_torch_or_transformers():
    code = (
        "import json, sys\n"
        "import selfplay_gym.llm\n"
        "import selfplay_gym.llm.policy, selfplay_gym.llm.http_backend, selfplay_gym.llm.tiny\n"
        "import selfplay_gym.llm.transformers_backend, selfplay_gym.llm.vllm_backend\n"
        "from selfplay_gym.llm import LLMPolicy, OpenAIBackend, load_policy\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
