r"""A scripted player of ``selfplay/CodeReasoning-v0``: template programs, and solvers that run code.

:class:`ScriptedCodePlayer` plays every seat. As proposer it writes small deterministic programs
from templates (string, list and integer functions) with inputs to match, and now and then
breaks a rule on purpose so that every validity check gets exercised. As solver it runs code
in the same kind of sandbox as the env -- never on the host: it executes the program to deduce
an output, searches a list of candidate inputs for an abduction, and tries a library of
candidate programs against the visible pairs for an induction (it never sees the hidden
program). Its results are cached per process, keyed by what it ran, so replays are identical.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from typing import Any

from selfplay_gym.core.bots import Bot
from selfplay_gym.envs.code_reasoning.tasks import literal_equal, literal_value, resolve_runner
from selfplay_gym.envs.code_reasoning.tasks import run_calls as _run_calls

__all__ = ["ScriptedCodePlayer", "TEMPLATES", "candidate_programs"]

_WORDS = ("apple", "banana", "cherry", "delta", "echo", "forest", "garden", "harbor", "island")

TEMPLATES: tuple[tuple[str, str, str], ...] = (
    # (program with {m}/{b}/{k} placeholders, argument kind, message for induction)
    ("def f(s):\n    return s[::-1]", "s", "It reads the text backwards."),
    ("def f(s):\n    return s.upper() + str(len(s))", "s", "Loud, and it counts."),
    ("def f(xs):\n    return sorted(xs)[:{k}]", "xs", "The smallest few, in order."),
    ("def f(xs):\n    return sum(x * {m} for x in xs)", "xs", "A scaled total."),
    (
        "def f(n):\n    total = 0\n    for i in range(n):\n        total += i * {m}\n    return total",
        "n",
        "Accumulate a multiple of every smaller number.",
    ),
    (
        "def f(s, k):\n    out = ''\n    for c in s:\n        if c.islower():\n"
        "            out += chr((ord(c) - 97 + k) % 26 + 97)\n        else:\n"
        "            out += c\n    return out",
        "s,k",
        "Letters move along the alphabet.",
    ),
    ("def f(xs):\n    return [x for x in xs if x % {m} == 0]", "xs", "Keep what divides evenly."),
    ("def f(s):\n    return {{c: s.count(c) for c in sorted(set(s))}}", "s", "Count the letters."),
    ("def f(n):\n    return n * {m} + {b}", "n", "A straight line."),
)
"""The proposer's program templates (``str.format`` strings); ``m`` in 2..9, ``b`` in 0..9,
``k`` in 1..5."""


def candidate_programs() -> list[str]:
    """Every template instance (and the identity): the induction solver's library."""
    out = ["def f(a):\n    return a"]
    for program, _, _ in TEMPLATES:
        if "{b}" in program:
            out += [program.format(m=m, b=b) for m in range(2, 10) for b in range(10)]
        elif "{m}" in program:
            out += [program.format(m=m) for m in range(2, 10)]
        elif "{k}" in program:
            out += [program.format(k=k) for k in range(1, 6)]
        else:
            out.append(program.format())
    return out


_CANDIDATES = candidate_programs()
_CACHE: OrderedDict[tuple, Any] = OrderedDict()
_CACHE_SIZE = 2048


def _cached(key: tuple, compute) -> Any:
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    value = compute()
    _CACHE[key] = value
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value


def _argument_kind(program: str) -> str:
    """The kind of arguments a program's ``def f(...)`` line asks for (by parameter names)."""
    start = program.find("def f(")
    if start < 0:
        return "a"
    end = program.find(")", start)
    params = program[start + 6 : end].replace(" ", "")
    return params if params in ("s", "xs", "n", "s,k") else "a"


def _make_input(kind: str, rng: random.Random) -> str:
    if kind == "s":
        return repr(rng.choice(_WORDS) + rng.choice(("", "!", " go", "xyz")))
    if kind == "xs":
        return repr([rng.randint(-9, 30) for _ in range(rng.randint(2, 6))])
    if kind == "n":
        return str(rng.randint(0, 40))
    if kind == "s,k":
        return f"{rng.choice(_WORDS)!r}, {rng.randint(1, 25)}"
    return repr(rng.choice((rng.choice(_WORDS), rng.randint(0, 99), [1, 2, 3])))


def _perturb(value_repr: str, rng: random.Random) -> str:
    """A plausible wrong answer near the right one."""
    ok, value = literal_value(value_repr)
    if ok and isinstance(value, bool):
        return repr(not value)
    if ok and isinstance(value, int):
        return repr(value + rng.choice((-2, -1, 1, 2)))
    if ok and isinstance(value, str):
        return repr(value + rng.choice(("a", "!", " ")))
    if ok and isinstance(value, list):
        return repr(value[:-1] if value else [0])
    if ok and isinstance(value, dict):
        return repr({**value, "?": 1})
    return "None"


class ScriptedCodePlayer(Bot):
    """Plays every seat of the AZR code game by rules, with deliberate mistakes.

    * **proposer**: a template of :data:`TEMPLATES` with random constants and an input of the
      kind it takes (for induction: the given program's kind, ``num_inputs`` inputs); with
      probability ``mistakes`` it breaks one rule instead: ``import random``, a syntax error,
      a second top-level function, a nondeterministic output (``os.urandom``, different in
      each run), an escape attempt through ``__import__('os')``, a missing block, an
      input that is no call argument, the wrong number of inputs, and -- with probability
      ``loop_rate`` -- an infinite loop (which costs the env's timeout);
    * **solver**: runs the code in the sandbox of the env's kind (its ``sandbox`` argument):
      deduction runs ``f`` on the input; abduction tries candidate inputs derived from the
      output and a range of small values; induction tries every program of
      :func:`candidate_programs` on the visible pairs. With probability ``1 - skill`` it gives
      a near miss instead; about one reply in twenty omits the answer block and tags
      (a bare answer, still readable when it is well-formed).

    Args:
        skill: Solver: probability of answering what it computed.
        mistakes: Proposer: probability of breaking a rule.
        loop_rate: Proposer: probability of an infinite loop (apart from ``mistakes``).
        seed: Seed of its generator.
    """

    name = "scripted"

    def __init__(
        self,
        skill: float = 0.7,
        mistakes: float = 0.2,
        loop_rate: float = 0.002,
        seed: int | None = None,
    ):
        super().__init__(seed)
        for name, value in (("skill", skill), ("mistakes", mistakes), ("loop_rate", loop_rate)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"expected {name} in [0, 1], got {value}")
        self.skill, self.mistakes, self.loop_rate = float(skill), float(mistakes), float(loop_rate)

    def act(self, env: Any, agent: str) -> str:
        """The reply of ``agent`` this turn."""
        view = env.agent_view(agent)
        if view["role"] == "proposer":
            return self._propose(view)
        return self._solve(view)

    # ---- proposing ----------------------------------------------------------------------------------
    def _propose(self, view: dict[str, Any]) -> str:
        rng = self.rng
        kind = view["task_type"]
        mistake = rng.random() < self.mistakes
        flaw = rng.choice(
            ("banned", "syntax", "two_functions", "nondeterministic", "escape", "no_block", "input")
        )
        loop = rng.random() < self.loop_rate
        template, arg_kind, message = TEMPLATES[rng.randrange(len(TEMPLATES))]
        program = template.format(m=rng.randint(2, 9), b=rng.randint(0, 9), k=rng.randint(1, 5))
        given = kind == "induction" and view.get("induction_source") == "buffer"
        if given and view.get("program"):
            program = view["program"]
            arg_kind = _argument_kind(program)
            message = "Study the pairs: the rule is simple."
        if mistake and not given:
            program = _flawed(program, flaw)
        if loop and not given:
            program = program.replace(":\n", ":\n    while True:\n        pass\n", 1)
        count = 1 if kind != "induction" else int(view.get("num_inputs", 10))
        wrong_count = mistake and flaw == "input" and kind == "induction" and rng.random() < 0.5
        inputs = [_make_input(arg_kind, rng) for _ in range(count - wrong_count)]
        if mistake and flaw == "input" and not wrong_count:
            inputs[0] = "1) or (2"  # not the arguments of one call
        parts = ["<think>A small puzzle.</think><answer>"]
        if not (mistake and flaw == "no_block"):
            if not given:
                parts.append(f"```python\n{program}\n```\n")
            parts += [f"```input\n{i}\n```\n" for i in inputs]
        if kind == "induction":
            parts.append(f"```message\n{message}\n```\n")
        parts.append("</answer>")
        return "".join(parts)

    # ---- solving ------------------------------------------------------------------------------------
    def _solve(self, view: dict[str, Any]) -> str:
        rng = self.rng
        kind = view.get("task_type")
        slip = rng.random() >= self.skill
        bare = rng.random() < 0.05
        if kind == "deduction" and "program" in view:
            answer = self._deduce(view)
            answer = _perturb(answer, rng) if slip else answer
            tag = "output"
        elif kind == "abduction" and "program" in view:
            answer = self._abduce(view)
            answer = _perturb(answer, rng) if slip else answer
            tag = "input"
        elif kind == "induction" and "pairs" in view:
            answer = self._induce(view)
            if slip:
                answer = answer.replace("return ", "return 1 + ", 1)
            tag = "python"
        else:
            return "I cannot see a puzzle."
        if bare:
            return answer
        return f"<think>I ran the code.</think><answer>```{tag}\n{answer}\n```</answer>"

    def _runner(self, view: dict[str, Any]) -> Any:
        return resolve_runner(view.get("sandbox", "auto"))

    def _deduce(self, view: dict[str, Any]) -> str:
        program, inp = view["program"], view["input"]
        key = ("deduce", str(view.get("sandbox")), program, inp)

        def compute() -> str:
            results, _ = _run_calls(
                self._runner(view), program, [inp], timeout_s=view.get("timeout_s")
            )
            return results[0][1] if results and results[0][0] else "None"

        return _cached(key, compute)

    def _abduce(self, view: dict[str, Any]) -> str:
        program, output = view["program"], view["output"]
        key = ("abduce", str(view.get("sandbox")), program, output)

        def compute() -> str:
            candidates = _abduction_candidates(output, _argument_kind(program))
            results, _ = _run_calls(
                self._runner(view), program, candidates, timeout_s=view.get("timeout_s")
            )
            for cand, (ok, text) in zip(candidates, results or [], strict=False):
                if ok and literal_equal(text, output):
                    return cand
            return candidates[0]

        return _cached(key, compute)

    def _induce(self, view: dict[str, Any]) -> str:
        pairs = [tuple(p) for p in view["pairs"]]
        key = ("induce", str(view.get("sandbox")), tuple(pairs))

        def compute() -> str:
            code = _induction_search_code(pairs)
            result = self._runner(view).run(code, "__search()", timeout_s=view.get("timeout_s"))
            ok, index = literal_value(result.value or "") if result.ok else (False, None)
            if ok and isinstance(index, int) and 0 <= index < len(_CANDIDATES):
                return _CANDIDATES[index]
            return _CANDIDATES[0]

        return _cached(key, compute)


def _flawed(program: str, flaw: str) -> str:
    if flaw == "banned":
        return "import random\n" + program.replace("return ", "return random.choice([0]) or ", 1)
    if flaw == "syntax":
        return program.replace(":", "", 1)
    if flaw == "two_functions":
        return program + "\n\n\ndef g(x):\n    return x"
    if flaw == "nondeterministic":
        return "import os\n" + program.replace(":\n", ":\n    return os.urandom(4).hex()\n", 1)
    if flaw == "escape":
        body = "    __import__('os').system('touch /tmp/pwned_by_scripted_player')\n"
        return program.replace(":\n", ":\n" + body, 1)
    return program


def _abduction_candidates(output: str, kind: str) -> list[str]:
    """Inputs to try for an output: built from the output's value, then small values."""
    ok, value = literal_value(output)
    out: list[str] = []
    if ok and isinstance(value, str):
        out += [repr(value[::-1]), repr(value)]
        stripped = value.rstrip("0123456789")
        out += [repr(stripped.lower()), repr(stripped)]
        if kind == "s,k":
            out.append(f"{value!r}, 0")
    elif ok and isinstance(value, list):
        out.append(repr(value))
    elif ok and isinstance(value, dict):
        if all(isinstance(k, str) and isinstance(n, int) and 0 < n < 50 for k, n in value.items()):
            out.append(repr("".join(k * n for k, n in value.items())))
    if kind in ("n", "a"):
        out += [str(n) for n in range(0, 120)]
    if kind in ("xs", "a") and ok and isinstance(value, int):
        out += [repr([v]) for v in range(-10, 100)]
        out += [repr([value // m]) for m in range(2, 10) if value % m == 0]
    if not out:
        out.append(output if ok else "None")
    return out[:400]


def _induction_search_code(pairs: list[tuple[str, str]]) -> str:
    """A snippet that returns the index of the first candidate matching every visible pair."""
    args = "".join(f"\n    (lambda *a, **k: (a, k))(\n{inp}\n)," for inp, _ in pairs)
    wanted = [out for _, out in pairs]
    return (
        "import copy\n"
        f"_ARGS = [{args}\n]\n"
        f"_WANTED = {wanted!r}\n"
        f"_CANDIDATES = {_CANDIDATES!r}\n\n\n"
        "def __search():\n"
        "    for index, source in enumerate(_CANDIDATES):\n"
        "        space = {}\n"
        "        try:\n"
        "            exec(source, space)\n"
        "            if all(repr(space['f'](*copy.deepcopy(a), **copy.deepcopy(k))) == w\n"
        "                   for (a, k), w in zip(_ARGS, _WANTED)):\n"
        "                return index\n"
        "        except Exception:\n"
        "            pass\n"
        "    return -1\n"
    )
