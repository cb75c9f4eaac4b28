"""Drone volleyball speed: our envs beside raw MuJoCo physics on the same model, on one core.

For the 1v1 and 3v3 tasks the script times, in one process pinned to one CPU:

* ``mj_step``: a plain ``mujoco.mj_step`` loop over one ``MjData`` of the task's own model, the
  rotor thrusts written once per control step (``substeps`` physics steps per env step): the
  bound for a single court;
* ``Batch.step``: ``mujoco.batch.Batch`` over ``--courts`` courts, ``step(nstep=substeps)``
  after writing every court's thrusts: the bound for a batch;
* ``single env``: :class:`~selfplay_gym.envs.volleyball.VolleyballEnv`, the PettingZoo dict
  API (one court; dicts of actions in, dicts of observations, rewards and infos out);
* ``vector env``: :class:`~selfplay_gym.envs.volleyball.VolleyballVectorEnv` over ``--courts``
  courts (every seat a learner row; finished courts reset in the same step).

Every workload holds hover commands on every rotor (the drones hover, the ball falls onto the
server's racket and bounces until a fault ends the rally), and every loop includes its resets.
Rates are court-steps (one 50 Hz control step of one court) per CPU second; the real-time
factor is simulated seconds per CPU second. Workloads run round-robin ``--repeats`` times and
the best round counts (the machine may be shared). No torch is involved.

Run::

    python benchmarks/volleyball.py --quick        # ~20 s smoke run
    python benchmarks/volleyball.py                # ~2 min
    python benchmarks/volleyball.py --json out.json
    python benchmarks/volleyball.py --profile 3v3  # cProfile of the vector env's step
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from selfplay_gym.envs.volleyball import VolleyballEnv, VolleyballVectorEnv  # noqa: E402
from selfplay_gym.envs.volleyball.physics import RotorModel, hover_thrusts  # noqa: E402
from selfplay_gym.envs.volleyball.tasks import make_task  # noqa: E402

TASKS = ("1v1", "3v3")
RESET_EVERY = 500  # control steps between resets of the raw-physics loops (the env's rally length)


def _hover_command(task) -> np.ndarray:
    iris = task.sim.physics.iris
    return RotorModel.command_for(hover_thrusts(iris), iris)


def raw_mj_step(task_name: str) -> tuple[Callable[[int], int], float]:
    """A plain ``mj_step`` loop on one court of the task's model; returns (run, control_dt)."""
    import mujoco

    task = make_task(task_name, 1)
    task.reset(np.array([0]), np.random.default_rng(0))
    model = task.sim.model
    data = mujoco.MjData(model)
    start_q = np.array(task.sim._qpos[0])
    thrusts = np.tile(hover_thrusts(task.sim.physics.iris), task.n_drones)
    substeps = task.sim.physics.substeps

    def reset() -> None:
        mujoco.mj_resetData(model, data)
        data.qpos[:] = start_q
        mujoco.mj_forward(model, data)

    def run(steps: int) -> int:
        reset()
        for i in range(steps):
            if i and i % RESET_EVERY == 0:
                reset()
            data.ctrl[:] = thrusts
            for _ in range(substeps):
                mujoco.mj_step(model, data)
        return steps

    return run, task.sim.physics.control_dt


def raw_batch(task_name: str, courts: int) -> Callable[[int], int]:
    """``Batch.step(nstep=substeps)`` over ``courts`` courts of the task's model."""
    task = make_task(task_name, courts)
    task.reset(np.arange(courts), np.random.default_rng(0))
    batch, ctrl, qpos = task.sim.batch, task.sim._ctrl, task.sim._qpos
    start_q = np.array(qpos)
    thrusts = np.tile(hover_thrusts(task.sim.physics.iris), task.n_drones)
    substeps = task.sim.physics.substeps
    ids = list(range(courts))

    def reset() -> None:
        batch.reset(ids)
        qpos[:] = start_q
        batch.forward(ids)

    def run(steps: int) -> int:
        reset()
        for i in range(steps):
            if i and i % RESET_EVERY == 0:
                reset()
            ctrl[:] = thrusts
            batch.step(None, nstep=substeps)
        return steps * courts

    return run


def single_env(task_name: str) -> Callable[[int], int]:
    """The PettingZoo dict API on one court, hover commands for every agent."""
    env = VolleyballEnv(task_name)
    env.reset(seed=0)
    command = _hover_command(env.task).astype(np.float32)
    actions = {a: command for a in env.possible_agents}

    def run(steps: int) -> int:
        for _ in range(steps):
            if not env.agents:
                env.reset()
            env.step(actions)
        return steps

    return run


def vector_env(task_name: str, courts: int) -> Callable[[int], int]:
    """The Gymnasium vector env over ``courts`` courts, every seat a learner row."""
    env = VolleyballVectorEnv(task_name, courts)
    env.reset(seed=0)
    actions = np.tile(_hover_command(env.task), (env.num_envs, 1)).astype(np.float32)

    def run(steps: int) -> int:
        for _ in range(steps):
            env.step(actions)
        return steps * courts

    return run


def timed(run: Callable[[int], int], seconds: float) -> tuple[float, float]:
    """(court-steps per CPU second, per wall second) of ``run`` over about ``seconds``."""
    steps = 8
    while True:  # grow the step count until one call lasts a tenth of the budget
        c0 = time.process_time()
        run(steps)
        if time.process_time() - c0 > seconds / 10 or steps > 10**6:
            break
        steps *= 4
    done, cpu, wall = 0, 0.0, 0.0
    while cpu < seconds:
        c0, w0 = time.process_time(), time.perf_counter()
        done += run(steps)
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
    return done / cpu, done / wall


def pin_to_one_cpu(cpu: int | None) -> int:
    """Pin this process to one CPU (default: the last one it may use); returns it."""
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[-1] if cpu is None else cpu
    os.sched_setaffinity(0, {chosen})
    return chosen


def profile(task_name: str, courts: int, steps: int, single: bool) -> None:
    """Print a cProfile of ``steps`` steps of the vector env (or the single env)."""
    run = single_env(task_name) if single else vector_env(task_name, courts)
    run(20)
    profiler = cProfile.Profile()
    profiler.enable()
    run(steps)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round of 0.3 s")
    parser.add_argument("--courts", type=int, default=32, help="courts of the batched rows")
    parser.add_argument("--repeats", type=int, default=3, help="round-robin rounds")
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="CPU seconds per workload per round"
    )
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), help="tasks to time")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the last)")
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    parser.add_argument("--profile", default=None, metavar="TASK", help="profile TASK instead")
    parser.add_argument("--profile-single", action="store_true", help="profile the single env")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.seconds = 1, 0.3

    cpu = pin_to_one_cpu(args.cpu)
    if args.profile:
        profile(
            args.profile, args.courts, 2000 if args.profile_single else 500, args.profile_single
        )
        return

    workloads: dict[tuple[str, str], Callable[[int], int]] = {}
    control_dt = 0.02
    for task in args.tasks:
        run, control_dt = raw_mj_step(task)
        workloads[task, "mj_step (1 court)"] = run
        workloads[task, f"Batch.step ({args.courts} courts)"] = raw_batch(task, args.courts)
        workloads[task, "single env (dict API)"] = single_env(task)
        workloads[task, f"vector env ({args.courts} courts)"] = vector_env(task, args.courts)
    best: dict[tuple[str, str], tuple[float, float]] = {}
    for _ in range(args.repeats):
        for key, run in workloads.items():
            rate = timed(run, args.seconds)
            if key not in best or rate[0] > best[key][0]:
                best[key] = rate

    print(
        f"CPU {cpu} of {os.cpu_count()}, {args.repeats} round(s) x {args.seconds} CPU s per "
        f"workload; court-steps = 50 Hz control steps of one court"
    )
    header = f"{'task':<5} {'workload':<24} {'court-steps/CPU s':>17} {'per wall s':>10} {'real time x':>11} {'us/step':>8}"
    print(header)
    print("-" * len(header))
    for (task, name), (per_cpu, per_wall) in best.items():
        print(
            f"{task:<5} {name:<24} {per_cpu:>17,.0f} {per_wall:>10,.0f} "
            f"{per_cpu * control_dt:>11,.0f} {1e6 / per_cpu:>8.1f}"
        )
    print()
    ratios = {}
    for task in args.tasks:
        raw1 = best[task, "mj_step (1 court)"][0]
        rawb = best[task, f"Batch.step ({args.courts} courts)"][0]
        single = best[task, "single env (dict API)"][0]
        vec = best[task, f"vector env ({args.courts} courts)"][0]
        ratios[task] = {
            "single_env_over_mj_step": single / raw1,
            "vector_env_over_batch_step": vec / rawb,
            "vector_env_over_single_env": vec / single,
            "python_us_per_single_step": 1e6 / single - 1e6 / raw1,
            "python_us_per_court_step_batched": 1e6 / vec - 1e6 / rawb,
        }
        r = ratios[task]
        print(
            f"{task}: single env = {r['single_env_over_mj_step']:.0%} of mj_step "
            f"({r['python_us_per_single_step']:.0f} us of Python per step); vector env = "
            f"{r['vector_env_over_batch_step']:.0%} of Batch.step "
            f"({r['python_us_per_court_step_batched']:.1f} us per court-step); "
            f"vector / single = {r['vector_env_over_single_env']:.1f}x"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "cpu": cpu,
                    "courts": args.courts,
                    "repeats": args.repeats,
                    "seconds": args.seconds,
                    "rates": [
                        {"task": t, "workload": n, "per_cpu_second": c, "per_wall_second": w}
                        for (t, n), (c, w) in best.items()
                    ],
                    "ratios": ratios,
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
