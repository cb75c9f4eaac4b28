r"""Absolute Zero Reasoner's code self-play: propose (program, input) tasks, predict and invert them.

:class:`CodeReasoningEnv` is ``selfplay/CodeReasoning-v0``. The proposer writes a Python
function ``f`` and inputs; the sandbox runs them to get the gold outputs and to check AZR's
validity rules; eight solvers then deduce an output, abduce an input or induce the program, and
the proposer is rewarded by AZR's learnability of the task. :class:`CodeRewards` holds the
constants and :class:`AZRComposite` is the proposer rule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from selfplay_gym.core.pipeline import ProposeSolveEnv, Scored, TaskBuffer
from selfplay_gym.core.rewards import ProposerRule
from selfplay_gym.envs.code_reasoning.tasks import (
    BANNED_MODULES,
    IDENTITY_INPUT,
    IDENTITY_PROGRAM,
    answer_body,
    call_ok,
    fenced_blocks,
    first_block,
    literal_equal,
    literal_value,
    resolve_runner,
    run_calls,
    static_checks,
)

__all__ = ["CodeReasoningEnv", "CodeRewards", "AZRComposite", "TASK_TYPES"]

TASK_TYPES = ("deduction", "abduction", "induction")
"""AZR's three task types (``code_o``, ``code_i``, ``code_f``)."""

_SANDBOX_NAMES = ("auto", "bwrap", "unshare", "unsafe")


@dataclass(frozen=True)
class CodeRewards:
    """AZR's reward constants (code defaults)."""

    correct: float = 1.0
    """Solver: the answer is right."""
    wrong: float = -0.5
    """Solver: a well-formatted answer that is wrong."""
    format_error: float = -1.0
    """Solver: no answer could be read (or, for induction, the program breaks a static rule)."""
    invalid: float = -1.0
    """Proposer: an unreadable or invalid task."""
    no_signal: float = -0.5
    """Proposer: a valid task that every solver or no solver solved (``s`` in {0, 1})."""


@dataclass(repr=False)
class AZRComposite(ProposerRule):
    """AZR's proposer reward as its code computes it.

    ``1 - s`` (``learnability``) when ``0 < s < 1``; ``no_signal`` (-0.5, component
    ``no_signal``) when ``s`` is 0 or 1; ``invalid`` (-1) for an invalid task.

    Example:
        >>> AZRComposite()(0.25), AZRComposite()(1.0), AZRComposite().invalid_reward
        ({'learnability': 0.75}, {'no_signal': -0.5}, -1.0)
    """

    no_signal: float = -0.5
    """The reward of a valid task at ``s`` = 0 or 1."""
    invalid: float = -1.0
    """The reward of an invalid task."""
    name = "azr-composite"

    def __post_init__(self) -> None:
        self.invalid_reward = float(self.invalid)

    def __call__(self, solve_rate: float, **context: Any) -> dict[str, float]:
        """``{"learnability": 1 - s}`` inside (0, 1), else ``{"no_signal": no_signal}``."""
        s = float(solve_rate)
        if not 0.0 <= s <= 1.0:
            raise ValueError(f"expected a solve rate in [0, 1], got {s}")
        if 0.0 < s < 1.0:
            return {"learnability": 1.0 - s}
        return {"no_signal": float(self.no_signal)}


# ---- prompts (our own wording) ----------------------------------------------------------------
PROPOSER_SYSTEM = (
    "You design small Python puzzles for other models. Think first inside <think> ... </think>, "
    "then give your puzzle inside <answer> ... </answer>. Only what follows the last <answer> "
    "is read. You are rewarded when some, but not all, of the solvers get your puzzle right; "
    "a program that breaks a rule costs you."
)
PROGRAM_RULES = (
    "Rules for the program:\n"
    "- define exactly one top-level function named `f`; put any imports at the top;\n"
    "- it must be deterministic: no randomness, clocks, I/O, printing, or state outside the "
    "function; do not use these modules: {banned};\n"
    "- no dynamic imports (`__import__`, `importlib`, `eval`, `exec`, `compile`);\n"
    "- it must finish within {timeout:g} seconds, and its output must be a plain Python value "
    "(numbers, strings, lists, tuples, dicts, sets, booleans, None).\n"
    "An input is the text between the parentheses of a call: for `f(3, 'ab')` write `3, 'ab'`."
)
PROPOSE_PAIR = (
    "Task type: {kind}. {goal}\n\n"
    "Reference puzzles (a program, an input, and the output it gives):\n\n{references}\n\n"
    "Write a new program that is different from the references, and one input for it. "
    "Answer with a ```python``` block holding the program and an ```input``` block holding "
    "the input.\n\n{rules}"
)
PROPOSE_DEDUCTION_GOAL = "A solver will see your program and input and must predict the output."
PROPOSE_ABDUCTION_GOAL = (
    "A solver will see your program and its output and must find an input that produces it."
)
PROPOSE_INDUCTION = (
    "Task type: induction. A solver will see half of the input/output pairs of a program "
    "and your message, and must write the program; it is checked on the other half.\n\n"
    "The program:\n```python\n{program}\n```\n\n"
    "Earlier induction puzzles (inputs with their outputs, and the message):\n\n{references}\n\n"
    "Write exactly {n} different inputs for this program, each in its own ```input``` block, "
    "and a short ```message``` block that hints at what the function does without giving its "
    "code away.\n\n{rules}"
)
PROPOSE_INDUCTION_OWN = (
    "Task type: induction. A solver will see half of the input/output pairs of your program "
    "and your message, and must write the program; it is checked on the other half.\n\n"
    "Earlier induction puzzles (a program, inputs with their outputs, and the message):\n\n"
    "{references}\n\n"
    "Write a new program in a ```python``` block, exactly {n} different inputs for it, each in "
    "its own ```input``` block, and a short ```message``` block that hints at what the function "
    "does without giving its code away.\n\n{rules}"
)
SOLVER_SYSTEM = (
    "You solve Python puzzles. Think first inside <think> ... </think>, then give your answer "
    "inside <answer> ... </answer>. Only what follows the last <answer> is read."
)
SOLVE_DEDUCTION = (
    "Predict the output of this program on the given input.\n\n"
    "```python\n{program}\n```\n\nInput: f({input})\n\n"
    "Write the returned value as a Python literal (as repr() would print it) in an "
    "```output``` block."
)
SOLVE_ABDUCTION = (
    "Find an input for which this program returns the given output.\n\n"
    "```python\n{program}\n```\n\nOutput: {output}\n\n"
    "Write the arguments of the call -- the text between the parentheses of f(...) -- in an "
    "```input``` block. Any input that gives this output is right."
)
SOLVE_INDUCTION = (
    "Write the Python function `f` that maps each input below to its output.\n\n"
    "Message: {message}\n\n{pairs}\n\n"
    "Answer with one ```python``` block defining `f` (imports at the top, no banned modules "
    "such as random or time). It is checked on further inputs you do not see."
)


def _indent(text: str, width: int) -> str:
    return text[:width] + (" ..." if len(text) > width else "")


class CodeReasoningEnv(ProposeSolveEnv):
    r"""Absolute Zero Reasoner: a proposer writes code puzzles, solvers deduce, abduce or induce.

    ## Description

    The code self-play of *Absolute Zero Reasoner* (AZR). Every task is a triplet of a Python
    program ``f``, an input and the output ``f`` gives on it. Each episode has one task type,
    drawn with the env's generator from ``task_types`` (all three by default):

    * **deduction** -- the proposer writes ``f`` and one input; solvers see both and predict
      the output;
    * **abduction** -- the proposer writes ``f`` and one input; solvers see ``f`` and the output
      and must give *any* input with ``f(input) == output``;
    * **induction** -- the proposer is given a program from the task buffer (AZR) and writes
      ``num_inputs`` (10) inputs and a message; solvers see the message and the first half of
      the input/output pairs and write ``f``, which must reproduce *every* hidden pair.

    The proposer sees ``num_references`` (6) earlier tasks of the episode's type from a
    per-type buffer, seeded as AZR does with the identity ``def f(a): return a`` on
    ``"Hello world"``; valid tasks join the buffer (bounded by ``buffer_size``; it is part of
    the env's state and pickles with it).

    Code runs only in the sandbox: a :class:`~selfplay_gym.sandbox.SnippetRunner` (a fork
    server inside bubblewrap, or ``unshare``; ``"unsafe"`` only when asked for), built on first
    use and shared by every env of the process with the same backend; ``info["sandbox"]``
    names its backend. If no backend is usable, the first step that needs one raises
    :class:`~selfplay_gym.sandbox.SandboxUnavailable`. Nothing a model writes is evaluated on
    the host: outputs are compared as literals with ``ast.literal_eval``.

    A task is **valid** when all of these hold (each reported in ``info["validity"]``; the
    stages stop at the first failure, so later checks are then absent):

    * ``parsed`` -- the reply has the blocks of its type;
    * ``parses``, ``one_function_f``, ``imports_at_top``, ``no_banned_imports``,
      ``no_dynamic_imports`` -- the program's AST (see
      :func:`~selfplay_gym.envs.code_reasoning.tasks.static_checks`). The banned list is
      AZR's (``logging, random, multiprocessing, pebble, subprocess, threading, datetime, time,
      hashlib, hmac, bcrypt, os.sys, os.path, sys.exit, os.environ, calendar``), matched on
      dotted name prefixes and attribute chains; the dynamic-import check (``__import__``,
      ``importlib``, ``builtins``, ``eval``/``exec``/``compile``) is not in AZR. Neither is a
      security boundary -- the sandbox is;
    * ``inputs_parse`` -- each input is the argument text of exactly one call ``f(...)``
      (checked on the AST), and ``num_inputs`` -- induction has exactly ``num_inputs``;
    * ``runs`` -- ``f`` returns on every input without an exception within ``timeout_s``;
    * ``output_size`` -- each output's ``repr`` is at most ``max_output_chars`` long;
    * ``deterministic`` -- a second run, forked from a *separate* fork server (another
      interpreter with its own hash secret), gives the same reprs: AZR calls ``f`` twice in one
      process, which misses output that depends on the order of a set of strings;
    * ``output_literal`` -- each output's ``repr`` is a Python literal (so answers can be
      compared without running anything).

    ## Agents

    ``proposer_0``, then ``solver_0`` .. ``solver_7`` (``num_solvers``, AZR's n = 8 rollouts
    that estimate the solve rate), each once.

    ## Action Space

    ``UnicodeText``: the raw reply; the first ``max_action_chars`` characters are read, and of
    those the text after the last ``<answer>`` (up to ``</answer>``) if there is one, else all.
    Fenced blocks are found by one linear scan.

    * Proposer: the first fenced block tagged ``python`` (deduction, abduction; induction
      only with ``induction_source="proposer"``), the first block tagged ``input`` (all of them
      for induction) and, for induction, the first block tagged ``message``. A reply without
      them is unreadable: an invalid task.
    * Solver: a block tagged ``output`` (deduction), ``input`` (abduction) or ``python``
      (induction); without the block, the bare text is the answer if it is a Python literal /
      call arguments / a program passing the static rules. Anything else is a format error.
      With ``retries > 0`` an unreadable reply is sent back with feedback first.

    ## Observation Space

    ``UnicodeText``: the agent's conversation (rules, then the task), joined by blank lines;
    ``info["messages"]`` is the same as a chat. Solvers never see the hidden induction pairs
    nor, in abduction, the proposer's input.

    ## Rewards

    Solver: ``correct`` +1 when right; ``wrong`` -0.5 for a readable but wrong answer (also when
    its code fails in the sandbox); ``format_error`` -1 when no answer can be read (AZR's
    composite). A deduction is right when the predicted literal equals the gold output
    (``ast.literal_eval`` on both; a prediction that is no literal is compared as normalised
    text); an abduction when ``f(answer)`` -- run in the sandbox -- equals the gold output; an
    induction when the solver's ``f`` gives every hidden output (binary).

    Proposer (:class:`AZRComposite`), with ``s`` the solvers' mean accuracy: ``learnability``
    ``1 - s`` when ``0 < s < 1``, ``no_signal`` -0.5 when ``s`` is 0 or 1, ``invalid_task`` -1
    for an unreadable or invalid task (then the solvers get ``invalid_task`` 0). All constants
    are the fields of :class:`CodeRewards`.

    ## Starting State

    ``reset(seed=...)`` draws the task type, the references and (induction) the program with
    the env's generator. ``options={"task_type": "abduction"}`` fixes the type;
    ``options={"task": {"type": ..., "program": ..., "inputs": [...], "message": ...}}`` skips
    the proposer (the task is validated in the sandbox first; an invalid one raises
    ``ValueError``).

    ## Episode End

    After an invalid task, or when the last solver has answered. Every agent is terminated.

    ## Info

    Beside the common keys: ``task_type`` and ``sandbox`` (the backend, once code has run) for
    everyone; ``task`` (the solver's question; solvers once it is posed); ``validity``,
    ``task_valid``, ``invalid_reason``, ``solve_rate`` and ``solver_scores`` (proposer);
    ``prediction``, ``score``, ``verdict_ok`` and ``verdict`` (solvers, when scored);
    ``reference`` at the end (the gold output; the proposer's input for abduction; the program
    for induction).

    ## Arguments

    * ``num_solvers`` (8), ``task_types`` (all three), ``num_references`` (6), ``num_inputs``
      (10), ``num_visible`` (``num_inputs // 2``: AZR shows half of the pairs).
    * ``induction_source`` -- ``"buffer"`` (AZR: the program comes from the buffer) or
      ``"proposer"`` (the proposer writes it too).
    * ``rewards`` -- a :class:`CodeRewards`; ``proposer_reward`` -- another proposer rule.
    * ``sandbox`` -- ``"auto"``, ``"bwrap"``, ``"unshare"``, ``"unsafe"`` or a runner object
      with ``run(code, expr, timeout_s=)`` and ``backend``; ``timeout_s`` (5.0; AZR uses 10),
      ``memory_bytes`` (512 MiB).
    * ``banned_modules`` (AZR's list), ``max_program_chars`` (4000), ``max_input_chars``
      (1000), ``max_output_chars`` (1000), ``max_answer_chars`` (4000), ``buffer_size`` (1024),
      ``retries`` (0), ``max_action_chars`` (8192), ``max_observation_chars`` (65536),
      ``render_mode`` (``"ansi"`` or ``None``).

    ## Version History

    * v0: Initial version.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "render_modes": ["ansi"],
        "render_fps": 1,
        "name": "code_reasoning_v0",
        "is_parallelizable": False,
    }
    has_chance: ClassVar[bool] = True
    stop_strings: ClassVar[tuple[str, ...]] = ("</answer>",)

    def __init__(
        self,
        *,
        num_solvers: int = 8,
        task_types: Sequence[str] = TASK_TYPES,
        num_references: int = 6,
        num_inputs: int = 10,
        num_visible: int | None = None,
        induction_source: str = "buffer",
        rewards: CodeRewards | None = None,
        proposer_reward: str | ProposerRule | Callable[[float], float] | None = None,
        sandbox: Any = "auto",
        timeout_s: float = 5.0,
        memory_bytes: int = 512 << 20,
        banned_modules: Sequence[str] = BANNED_MODULES,
        max_program_chars: int = 4000,
        max_input_chars: int = 1000,
        max_output_chars: int = 1000,
        max_answer_chars: int = 4000,
        buffer_size: int = 1024,
        **kwargs: Any,
    ):
        types = tuple(task_types) if not isinstance(task_types, str) else (task_types,)
        if not types or any(t not in TASK_TYPES for t in types):
            raise ValueError(f"expected task_types from {list(TASK_TYPES)}, got {task_types!r}")
        if induction_source not in ("buffer", "proposer"):
            raise ValueError(
                f"expected induction_source 'buffer' or 'proposer', got {induction_source!r}"
            )
        if isinstance(sandbox, str):
            if sandbox not in _SANDBOX_NAMES:
                raise ValueError(f"expected sandbox one of {list(_SANDBOX_NAMES)} or a runner")
        elif not callable(getattr(sandbox, "run", None)):
            raise TypeError(f"expected a sandbox name or a runner with run(), got {sandbox!r}")
        for name, value, low in (
            ("num_references", num_references, 0),
            ("num_inputs", num_inputs, 2),
            ("max_program_chars", max_program_chars, 1),
            ("max_input_chars", max_input_chars, 1),
            ("max_output_chars", max_output_chars, 1),
            ("max_answer_chars", max_answer_chars, 1),
            ("memory_bytes", memory_bytes, 1 << 20),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"expected {name} to be an int >= {low}, got {value!r}")
        visible = num_inputs // 2 if num_visible is None else num_visible
        if not isinstance(visible, int) or not 1 <= visible < num_inputs:
            raise ValueError(f"expected 1 <= num_visible < num_inputs, got {num_visible!r}")
        if not float(timeout_s) > 0:
            raise ValueError(f"expected timeout_s > 0, got {timeout_s!r}")
        self.code_rewards = rewards if rewards is not None else CodeRewards()
        rule = proposer_reward
        if rule is None:
            rule = AZRComposite(
                no_signal=self.code_rewards.no_signal, invalid=self.code_rewards.invalid
            )
        super().__init__(
            num_solvers=num_solvers,
            proposer_reward=rule,
            invalid_reward=self.code_rewards.invalid,
            judge=None,
            buffer_size=buffer_size,
            **kwargs,
        )
        self.task_types = types
        self.num_references = num_references
        self.num_inputs = num_inputs
        self.num_visible = visible
        self.induction_source = induction_source
        self.sandbox = sandbox
        self.timeout_s = float(timeout_s)
        self.memory_bytes = memory_bytes
        self.banned_modules = tuple(banned_modules)
        self.max_program_chars = max_program_chars
        self.max_input_chars = max_input_chars
        self.max_output_chars = max_output_chars
        self.max_answer_chars = max_answer_chars
        seed_output = repr("Hello world")
        pair = {"program": IDENTITY_PROGRAM, "input": IDENTITY_INPUT, "output": seed_output}
        self.buffers: dict[str, TaskBuffer] = {
            "deduction": TaskBuffer(buffer_size, [pair]),
            "abduction": TaskBuffer(buffer_size, [pair]),
            "induction": TaskBuffer(
                buffer_size,
                [
                    {
                        "program": IDENTITY_PROGRAM,
                        "inputs": [IDENTITY_INPUT],
                        "outputs": [seed_output],
                        "message": "The function gives back what it is given.",
                    }
                ],
            ),
        }
        self._backend: str | None = None
        self._task_type = types[0]
        self._given_program: str | None = None
        self._references: list[dict[str, Any]] = []
        self._run_cache: dict[tuple[str, tuple[str, ...]], Any] = {}

    # ---- the sandbox -------------------------------------------------------------------------------
    def _runner(self, slot: int = 0) -> Any:
        runner = resolve_runner(self.sandbox, self.memory_bytes, slot)
        self._backend = str(getattr(runner, "backend", "custom"))
        return runner

    def _run(
        self, program: str, inputs: Sequence[str], fresh: bool = False
    ) -> tuple[list[tuple[bool, str]] | None, str | None]:
        """``run_calls`` through the episode's cache.

        ``fresh``: a run that bypasses the cache, on the second shared runner (another fork
        server, another hash secret) -- the determinism check's second run.
        """
        key = (program, tuple(inputs))
        if not fresh and key in self._run_cache:
            return self._run_cache[key]
        result = run_calls(
            self._runner(1 if fresh else 0),
            program,
            inputs,
            timeout_s=self.timeout_s,
            max_output_chars=self.max_output_chars,
        )
        if not fresh and len(self._run_cache) < 256:
            self._run_cache[key] = result
        return result

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if not isinstance(state["sandbox"], str):  # a runner object stays with its process
            state["sandbox"] = str(getattr(self.sandbox, "backend", "auto"))
            if state["sandbox"] not in _SANDBOX_NAMES:
                state["sandbox"] = "auto"
        return state

    # ---- the episode --------------------------------------------------------------------------------
    def _begin(self, options: dict[str, Any]) -> None:
        self._run_cache = {}
        self._given_program = None
        self._references = []
        if "task" in options:
            given = options["task"]
            if not isinstance(given, Mapping):
                raise ValueError(f"expected options['task'] to be a dict, got {given!r}")
            task = self._task_from_parts(given)
            validity = self._validate(task)
            failed = [k for k, ok in validity.items() if not ok]
            if failed:
                raise ValueError(f"the given task is invalid: failed {', '.join(failed)}")
            super()._begin({"task": task})
            self._validity = {"parsed": True, **validity}
            return
        kind = options.get("task_type")
        if kind is None:
            kind = self.task_types[int(self.np_random.integers(len(self.task_types)))]
        elif kind not in TASK_TYPES:
            raise ValueError(f"expected options['task_type'] in {list(TASK_TYPES)}, got {kind!r}")
        self._task_type = kind
        super()._begin(options)

    def _task_from_parts(self, given: Mapping[str, Any]) -> dict[str, Any]:
        kind = given.get("type", given.get("task_type"))
        if kind not in TASK_TYPES:
            raise ValueError(f"expected the task's 'type' in {list(TASK_TYPES)}, got {kind!r}")
        self._task_type = kind
        inputs = given.get("inputs")
        if inputs is None and "input" in given:
            inputs = [given["input"]]
        if not isinstance(inputs, (list, tuple)) or not all(isinstance(i, str) for i in inputs):
            raise ValueError("expected the task's 'input' (a str) or 'inputs' (a list of str)")
        program = given.get("program")
        if not isinstance(program, str):
            raise ValueError("expected the task's 'program' to be a str")
        task: dict[str, Any] = {
            "type": kind,
            "program": program,
            "inputs": [i.strip() for i in inputs],
            "question": program,
        }
        if kind == "induction":
            task["message"] = str(given.get("message", ""))[: self.max_input_chars]
        return task

    # ---- proposing ----------------------------------------------------------------------------------
    def _rules(self) -> str:
        return PROGRAM_RULES.format(banned=", ".join(self.banned_modules), timeout=self.timeout_s)

    def _proposer_prompt(self, options: dict[str, Any]) -> tuple[str, str]:
        kind = self._task_type
        self._references = self.buffers[kind].sample(self.np_random, self.num_references)
        if kind != "induction":
            goal = PROPOSE_DEDUCTION_GOAL if kind == "deduction" else PROPOSE_ABDUCTION_GOAL
            refs = "\n\n".join(
                f"```python\n{_indent(r['program'], self.max_program_chars)}\n```\n"
                f"Input: f({_indent(r['input'], 300)})\nOutput: {_indent(r['output'], 300)}"
                for r in self._references
            )
            user = PROPOSE_PAIR.format(
                kind=kind, goal=goal, references=refs or "(none yet)", rules=self._rules()
            )
            return PROPOSER_SYSTEM, user
        refs = "\n\n".join(self._induction_reference(r) for r in self._references)
        if self.induction_source == "proposer":
            user = PROPOSE_INDUCTION_OWN.format(
                references=refs or "(none yet)", n=self.num_inputs, rules=self._rules()
            )
            return PROPOSER_SYSTEM, user
        pool = [*self.buffers["deduction"], *self.buffers["abduction"]]
        pick = pool[int(self.np_random.integers(len(pool)))]
        self._given_program = pick["program"]
        user = PROPOSE_INDUCTION.format(
            program=_indent(self._given_program, self.max_program_chars),
            references=refs or "(none yet)",
            n=self.num_inputs,
            rules=self._rules(),
        )
        return PROPOSER_SYSTEM, user

    def _induction_reference(self, ref: dict[str, Any]) -> str:
        pairs = "\n".join(
            f"f({_indent(i, 200)}) == {_indent(o, 200)}"
            for i, o in list(zip(ref["inputs"], ref["outputs"], strict=False))[:4]
        )
        head = ""
        if self.induction_source == "proposer":
            head = f"```python\n{_indent(ref['program'], self.max_program_chars)}\n```\n"
        return f"{head}{pairs}\nMessage: {_indent(ref['message'], 300)}"

    def _parse_proposal(self, text: str) -> tuple[dict[str, Any] | None, str | None]:
        blocks = fenced_blocks(answer_body(text))
        kind = self._task_type
        if kind == "induction" and self.induction_source == "buffer":
            program = self._given_program
        else:
            program = first_block(blocks, "python", "py")
        if program is None:
            return None, "no ```python``` block with the program found"
        inputs = [body.strip() for tag, body in blocks if tag == "input"]
        if not inputs:
            return None, "no ```input``` block found"
        task: dict[str, Any] = {"type": kind, "program": program.strip("\n"), "question": ""}
        if kind == "induction":
            message = first_block(blocks, "message")
            if message is None or not message.strip():
                return None, "no ```message``` block found"
            task["inputs"] = inputs
            task["message"] = message.strip()[: self.max_input_chars]
        else:
            task["inputs"] = inputs[:1]
        task["question"] = task["program"][: self.max_program_chars]
        return task, None

    def _validate(self, task: dict[str, Any]) -> dict[str, bool]:
        program, inputs = task["program"], task["inputs"]
        checks: dict[str, bool] = dict(
            static_checks(program, self.banned_modules, self.max_program_chars)
        )
        if not checks["parses"]:
            return checks
        checks["inputs_parse"] = all(call_ok(i, self.max_input_chars) for i in inputs)
        if task["type"] == "induction":
            checks["num_inputs"] = len(inputs) == self.num_inputs
        if not all(checks.values()):
            return checks
        first, _ = self._run(program, inputs)
        checks["runs"] = first is not None and all(
            ok or text == "output too large" for ok, text in first
        )
        if not checks["runs"]:
            return checks
        assert first is not None
        checks["output_size"] = all(ok for ok, _ in first)
        if not checks["output_size"]:
            return checks
        second, _ = self._run(program, inputs, fresh=True)
        checks["deterministic"] = second == first
        if not checks["deterministic"]:
            return checks
        outputs = [text for _, text in first]
        checks["output_literal"] = all(literal_value(o, self.max_output_chars)[0] for o in outputs)
        if not checks["output_literal"]:
            return checks
        task["outputs"] = outputs
        self._pose(task)
        return checks

    def _pose(self, task: dict[str, Any]) -> None:
        """The solvers' question and the reference answer of a valid task."""
        kind, program = task["type"], task["program"]
        if kind == "deduction":
            task["question"] = SOLVE_DEDUCTION.format(program=program, input=task["inputs"][0])
            task["answer"] = task["outputs"][0]
        elif kind == "abduction":
            task["question"] = SOLVE_ABDUCTION.format(program=program, output=task["outputs"][0])
            task["answer"] = task["inputs"][0]
        else:
            visible = zip(
                task["inputs"][: self.num_visible],
                task["outputs"][: self.num_visible],
                strict=False,
            )
            pairs = "\n".join(f"f({i}) == {o}" for i, o in visible)
            task["question"] = SOLVE_INDUCTION.format(message=task["message"], pairs=pairs)
            task["answer"] = program

    # ---- solving ------------------------------------------------------------------------------------
    def _solver_prompt(self, task: dict[str, Any]) -> tuple[str, str]:
        return SOLVER_SYSTEM, task["question"]

    def _verify(self, task: dict[str, Any], reply: str) -> tuple[str | None, Any]:
        blocks = fenced_blocks(answer_body(reply))
        kind = task["type"]
        tag = {"deduction": "output", "abduction": "input", "induction": "python"}[kind]
        block = first_block(blocks, tag, "py") if kind == "induction" else first_block(blocks, tag)
        bare = block is None
        answer = (answer_body(reply) if bare else block).strip()
        if not answer:
            return None, Scored(0.0, True, f"no ```{tag}``` block or answer found")
        if len(answer) > self.max_answer_chars:
            return None, Scored(0.0, True, f"the answer is over {self.max_answer_chars} chars")
        if kind == "deduction":
            if bare and not literal_value(answer, self.max_answer_chars)[0]:
                return None, Scored(0.0, True, "no ```output``` block, and no bare literal")
            right = literal_equal(answer, task["outputs"][0], self.max_answer_chars)
            return answer, Scored(1.0 if right else 0.0, True, "right" if right else "wrong")
        if kind == "abduction":
            if not call_ok(answer, self.max_input_chars):
                return None, Scored(0.0, True, "the input is not the arguments of one call f(...)")
            results, error = self._run(task["program"], [answer])
            if results is None or not results[0][0]:
                reason = error or results[0][1]  # type: ignore[index]
                return answer, Scored(0.0, True, f"f(input) failed: {reason}"[:300])
            right = literal_equal(results[0][1], task["outputs"][0], self.max_output_chars)
            return answer, Scored(1.0 if right else 0.0, True, "right" if right else "wrong")
        static = static_checks(answer, self.banned_modules, self.max_program_chars)
        if not all(static.values()):
            failed = ", ".join(k for k, ok in static.items() if not ok)
            return None, Scored(0.0, True, f"the program breaks a rule: {failed}")
        hidden = task["inputs"][self.num_visible :]
        gold = task["outputs"][self.num_visible :]
        results, error = self._run(answer, hidden)
        if results is None:
            return answer, Scored(0.0, True, f"the program failed: {error}"[:300])
        right = all(
            ok and literal_equal(text, want, self.max_output_chars)
            for (ok, text), want in zip(results, gold, strict=False)
        )
        return answer, Scored(1.0 if right else 0.0, True, "right" if right else "wrong")

    def _solver_components(self, agent: str, scored: Scored) -> dict[str, float]:
        if not scored.ok:  # the harness failed, not the solver
            return {"unscored": 0.0}
        if self._answers.get(agent) is None:
            return {"format_error": self.code_rewards.format_error}
        if scored.score >= 1.0:
            return {"correct": self.code_rewards.correct}
        return {"wrong": self.code_rewards.wrong}

    def _accepted(self, task: dict[str, Any], solve_rate: float) -> None:
        kind = task["type"]
        if kind == "induction":
            entry = {
                "program": task["program"],
                "inputs": list(task["inputs"]),
                "outputs": list(task["outputs"]),
                "message": task["message"],
            }
        else:
            entry = {
                "program": task["program"],
                "input": task["inputs"][0],
                "output": task["outputs"][0],
            }
        self.buffers[kind].add({**entry, "solve_rate": solve_rate})

    # ---- infos and views ----------------------------------------------------------------------------
    def _extra_info(self, agent: str) -> dict[str, Any]:
        info = super()._extra_info(agent)
        info["task_type"] = self._task_type
        info["sandbox"] = self._backend
        return info

    def agent_view(self, agent: str) -> dict[str, Any]:
        """What ``agent`` knows, structured, for scripted players (never another agent's secrets).

        Keys: ``role``, ``turn``, ``phase``, ``task_type``, ``sandbox`` (the env's ``sandbox``
        argument, so a player can run code in the same kind of sandbox) and ``timeout_s``.
        Proposer: ``references`` (the triplets it was shown), ``program`` (the given induction
        program or ``None``) and ``num_inputs``. Solver, once the task is posed: ``program`` and
        ``input`` (deduction), ``program`` and ``output`` (abduction), ``pairs`` (the visible
        ``(input, output)`` pairs) and ``message`` (induction).
        """
        if not self._seats:
            raise RuntimeError("call reset() before agent_view()")
        if agent not in self._seats:
            raise KeyError(f"expected one of {self.possible_agents}, got {agent!r}")
        seat = self._seats[agent]
        view: dict[str, Any] = {
            "role": seat.role,
            "turn": seat.turn,
            "phase": self.phase,
            "task_type": self._task_type,
            "sandbox": self.sandbox,
            "timeout_s": self.timeout_s,
        }
        if seat.role == "proposer":
            view["references"] = [dict(r) for r in self._references]
            view["program"] = self._given_program
            view["num_inputs"] = self.num_inputs
            view["induction_source"] = self.induction_source
            return view
        task = self._task
        if task is None or self.phase in ("start", "propose", "validate") or "outputs" not in task:
            return view
        kind = task["type"]
        if kind == "deduction":
            view.update(program=task["program"], input=task["inputs"][0])
        elif kind == "abduction":
            view.update(program=task["program"], output=task["outputs"][0])
        else:
            n = self.num_visible
            view["pairs"] = list(zip(task["inputs"][:n], task["outputs"][:n], strict=False))
            view["message"] = task["message"]
        return view
