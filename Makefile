# selfplay-gym -- `make help` lists the targets.
# Every target that needs Python creates the virtual environment first, so a fresh clone needs
# nothing but `make demo` or `make test`.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export OMP_NUM_THREADS := 1
export PYTHONHASHSEED := 0

.PHONY: help demo test test-fast lint format bench docs docs-check golden wheel clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools>=68" wheel
	# torch first, pinned to the CPU build this machine kind keeps on disk; an unpinned torch
	# (pulled in by stable-baselines3) would download a multi-GB CUDA build.
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[dev,sb3,llm,serve,rllib,search,reasoning,textarena,openspiel,drones]"
	touch $(STAMP)

venv: $(STAMP)  ## Create .venv and install the package with its test dependencies

TINY   := $(VENV)/tiny-gpt2

# WordNet 3.0 from Debian: a 118k-passage corpus of the search family (loader tests, benchmark).
# Optional: without root or apt the WordNet tests skip and the benchmark uses what it finds.
WORDNET := /usr/share/wordnet/data.noun
$(WORDNET):
	-@(apt-get install -y -qq wordnet-base >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wordnet-base >/dev/null 2>&1)) || echo "wordnet-base not installed (no apt or no root): WordNet corpus tests will skip"

# bubblewrap: the sandbox of the code families (model-written code and patches run inside it).
# Optional for the rest: without it the sandbox tests skip with the reason.
BWRAP := /usr/bin/bwrap
$(BWRAP):
	-@(apt-get install -y -qq bubblewrap >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap >/dev/null 2>&1)) || echo "bubblewrap not installed (no apt or no root): sandbox tests will skip"

# Offscreen OpenGL (EGL with Mesa's software driver) for rendering drone volleyball.
# Optional: without it the rendering tests skip with the reason.
.PHONY: gl
gl:
	-@ldconfig -p | grep -q libEGL_mesa || (apt-get install -y -qq libegl1 libegl-mesa0 libgl1-mesa-dri >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq libegl1 libegl-mesa0 libgl1-mesa-dri >/dev/null 2>&1)) || echo "EGL not installed (no apt or no root): volleyball rendering tests will skip"

demo: $(STAMP)  ## Main job: the tiny local LM learns TicTacToe by self-play (SB3 PPO), tables before/after, curve PNG
	$(PY) -m selfplay_gym list
	$(PY) -c "from selfplay_gym.llm.tiny import build_tiny_model; build_tiny_model('$(TINY)')"
	$(PY) -m selfplay_gym.baselines.sb3_lm --model $(TINY) --out runs/demo
	@echo "learning curve: runs/demo/curve.png; summary: runs/demo/summary.json; trained model: hf:runs/demo/model"

test: $(STAMP) $(WORDNET) $(BWRAP) gl  ## Run the whole test suite
	$(PY) -m pytest -q -p no:cacheprovider --durations=15

lint: $(STAMP)  ## ruff lint
	$(VENV)/bin/ruff check src envs wrappers baselines tests benchmarks docs

format: $(STAMP)  ## ruff format
	$(VENV)/bin/ruff format src envs wrappers baselines tests benchmarks docs

bench: $(STAMP) $(WORDNET) $(BWRAP)  ## Speed against TextArena, PettingZoo, OpenSpiel and raw MuJoCo; batched LM rollouts; search backends
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/text_games.py
	command -v valgrind >/dev/null && $(PY) benchmarks/instructions.py || echo "valgrind not found: instruction counts skipped"
	$(PY) benchmarks/rollout.py
	$(PY) benchmarks/search.py
	$(PY) benchmarks/openspiel_bridge.py
	$(PY) benchmarks/volleyball.py

docs: $(STAMP)  ## Regenerate the env pages in docs/envs from the env docstrings
	$(PY) docs/gen_env_pages.py

docs-check: $(STAMP)  ## Fail if docs/envs is out of date
	$(PY) docs/gen_env_pages.py --check

golden: $(STAMP)  ## Rewrite the golden playthroughs (a diff needs a version bump or a reason)
	$(PY) tests/golden/regenerate.py

wheel: $(STAMP)  ## Build the wheel into dist/
	$(PY) -m pip wheel --no-deps --no-build-isolation -w dist .

clean:  ## Remove the virtual environment and build output
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info .pytest_cache .hypothesis
