"""Reproduce one table of the papers: run its spec(s) from sweeps/specs/papers/, then put the
published numbers (analysis/data/published.csv) beside the measured ones with 95% CIs.

    python sweeps/reproduce.py --list
    python sweeps/reproduce.py 000-table2 --dry-run --tokens-per-s 30000     # cost first
    python sweeps/reproduce.py 000-table2 --out s3://bucket/000-table2       # on the cluster
    python sweeps/reproduce.py 004-table7 --smoke                            # tiny model, CPU

A table is ``sweeps/specs/papers/TABLE.yaml`` or several parts ``TABLE.<part>.yaml`` (a block length
is not part of the job id, so each block length is its own spec); all parts write into one
``--out``.  ``--smoke`` runs a few jobs of every part on the embedded tiny model (WeDLM specs: on the
tiny trained WeDLM ``tiny-wedlm``, or without its checkpoint a tiny random WeDLM written to
OUT/smoke-model-wedlm, so the causal-window path runs), the benchmarks
replaced by ``countdown`` (lengths scaled to its 32 tokens; graded by a parser, fast), so the
whole path — spec, sweep, shards, comparison — runs on CPU; its figures are a toy's and are
labelled so.  The comparison
is written to ``OUT/report/paper_vs_measured.md`` (and ``.csv``) and printed.
"""
from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Callable, Optional, Sequence

from sweeps.engine.cli import EPILOG, add_run_args, execute, main_guard, shrink
from sweeps.engine.spec import SpecError, SweepSpec, load_spec
from workers.progname import prog

SPEC_DIR = Path(__file__).resolve().parent / "specs" / "papers"
SMOKE_MODEL = "tiny"
# Benchmarks the tiny model cannot attempt (hub data, long prompts) and what stands in for them.
SMOKE_STAND_IN = {"math500": "countdown", "gsm8k": "countdown", "aime24": "countdown", "aime25": "countdown",
                  "humaneval": "countdown", "mbpp": "countdown", "mmlu_pro": "countdown"}
SMOKE_GEN = {"countdown": 32}
# Printed for tables whose cells need a script other than a sweep spec.
EXTRA = {"004-table2": "the reasoning-as-infilling rows (template, early exit γ, MED) are run in-process by "
                       "`python sweeps/early_exit.py --model llada-8b-instruct --task gsm8k --gammas 0.1 --lams 0.2 "
                       "--block-length 32` (and --task math500 --gammas 0.3); compare them by hand with "
                       "analysis/data/published.csv"}


def tables() -> list[str]:
    """Table ids with a spec under sweeps/specs/papers/."""
    return sorted({p.name.split(".")[0] for p in SPEC_DIR.glob("*.yaml")})


def table_specs(table: str) -> list[Path]:
    """The spec file(s) of a table: TABLE.yaml, or its parts TABLE.<part>.yaml."""
    paths = sorted(p for p in SPEC_DIR.glob("*.yaml") if p.name.split(".")[0] == table)
    if not paths:
        raise SpecError(f"unknown table {table!r}; known: {', '.join(tables())}")
    return paths


def _divisor_at_most(n: int, x: int) -> int:
    return max(d for d in range(1, n + 1) if n % d == 0 and d <= max(1, x))


def smoke_model(models: Sequence[str], out: str) -> str:
    """The model a smoke run uses: the embedded tiny model, or for a WeDLM spec the project's tiny
    trained WeDLM (``tiny-wedlm``), else (its checkpoint absent) a tiny random WeDLM checkpoint
    (written once under ``out``; a temporary folder when ``out`` is remote)."""
    if not models or not all("wedlm" in m.lower() for m in models):
        return SMOKE_MODEL
    from workers.tinymodel import WEDLM_CHECKPOINT_DIR

    if (WEDLM_CHECKPOINT_DIR / "model.safetensors").is_file():
        return "tiny-wedlm"
    import tempfile

    from workers.models.random_checkpoint import tiny_wedlm_checkpoint

    folder = (Path(tempfile.mkdtemp()) if "://" in out else Path(out)) / "smoke-model-wedlm"
    if not (folder / "config.json").is_file():
        tiny_wedlm_checkpoint(folder)
    return str(folder.resolve())


def smoke_spec(spec: SweepSpec, drop: Sequence[str] = (), out: str = "runs/smoke") -> tuple[SweepSpec, dict]:
    """A few jobs of ``spec`` on the tiny model (``smoke_model``); returns it and the substitution
    {(task, gen, block): (stand-in task, gen, block)} the comparison translates with."""
    s = shrink(spec, samples=2, problems=2, values=1)
    model = smoke_model(spec.models, out)
    s = s.with_models([model])
    if s.cache.get(model) == "dual":   # the tiny model has a prefix cache, no dual one
        s.cache[model] = "prefix"
    tasks, subst, seen = [], {}, set()
    for t in s.tasks:
        if t.name in drop:
            continue
        new = copy.deepcopy(t)
        if t.name in SMOKE_STAND_IN:
            new.name = SMOKE_STAND_IN[t.name]
            gen = SMOKE_GEN[new.name]
            g0, b0 = t.gen_length or gen, t.block_length or t.gen_length or gen
            # keep the block's share of the sequence (any-order stays any-order)
            new.gen_length, new.block_length = gen, _divisor_at_most(gen, round(b0 * gen / g0))
            new.args = {}
            new.problem_ids = None
            new.difficulties = None
        if new.name in seen:      # several benchmarks share one stand-in: run it once
            subst[(t.name, t.gen_length, t.block_length)] = subst_of(tasks, new.name)
            continue
        seen.add(new.name)
        tasks.append(new)
        subst[(t.name, t.gen_length, t.block_length)] = (new.name, new.gen_length, new.block_length)
    if not tasks:
        raise SpecError(f"spec {spec.name!r}: no task left to run")
    s.tasks = tasks
    return s, subst


def subst_of(tasks: list, name: str) -> tuple[str, Optional[int], Optional[int]]:
    t = next(x for x in tasks if x.name == name)
    return (t.name, t.gen_length, t.block_length)


def translator(subst: dict) -> Callable[[str, dict], Optional[tuple[str, dict]]]:
    """Published (task, config) -> the smoke run's (task, config)."""
    def tr(task: str, cfg: dict) -> Optional[tuple[str, dict]]:
        key = (task, cfg.get("gen_length"), cfg.get("block_length"))
        hit = subst.get(key)
        if hit is None:  # configs without a block length (left_to_right): any entry of that task
            hit = next((v for (t, g, _), v in subst.items() if t == task and g == cfg.get("gen_length")), None)
        if hit is None:
            return None
        out = dict(cfg)
        name, gen, block = hit
        out["gen_length"] = gen
        if "block_length" in cfg:
            out["block_length"] = block
        return name, out
    return tr


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog("python sweeps/reproduce.py"),
        description="Run a paper table's sweep spec(s) and compare with the published numbers.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", nargs="?", help="table id, e.g. 000-table2 (see --list)")
    p.add_argument("--list", action="store_true", help="list the tables and their spec files")
    p.add_argument("--model", default=None,
                   help="comma-separated models replacing the spec's (preset, local dir or hub id)")
    p.add_argument("--drop-task", action="append", default=[], metavar="NAME",
                   help="leave a task of the table's spec(s) out, e.g. sudoku; repeatable")
    p.add_argument("--in-process", action="store_true",
                   help="run the batches in this process, one after another, without Ray (small runs, tests)")
    add_run_args(p, default_out="runs/<table>")
    return p


def run_in_process(spec: SweepSpec, out: str, batch_size: Optional[int] = None) -> int:
    """Run a spec's missing batches here, without Ray (resumable like the driver: finished job
    ids are read from the shards).  Returns the number of jobs run."""
    from sweeps.engine.driver import code_version, plan_todo, prepare
    from workers.actor import SweepWorker

    plan, d = prepare(spec, out, batch_size)
    d.create()
    todo = plan_todo(plan, d.scan().ids & set(plan.job_ids()))
    worker = SweepWorker(out, code_version(), threads=1)
    for b in todo:
        worker.run(b)
    n = sum(len(b) for b in todo)
    print(f"sweep {spec.name}: {plan.total} jobs, {n} run in-process", flush=True)
    return n


def _main(argv: Optional[Sequence[str]]) -> int:
    args = parser().parse_args(argv)
    if args.list or not args.table:
        if not args.list:
            raise SpecError("give a table id (see --list)")
        for t in tables():
            print(f"{t}: {', '.join(str(p.relative_to(SPEC_DIR.parent.parent.parent)) for p in table_specs(t))}")
        return 0
    paths = table_specs(args.table)
    names = {t.name for path in paths for t in load_spec(path).tasks}
    unknown = sorted(set(args.drop_task) - names)
    if unknown:
        raise SpecError(f"--drop-task {unknown[0]}: table {args.table} has no task {unknown[0]!r} "
                        f"(its tasks: {', '.join(sorted(names))})")
    specs: list[SweepSpec] = []
    subst: dict = {}
    stand_ins: dict[str, str] = {}     # spec model -> the smoke run's model
    if args.out == "runs/<table>":
        args.out = f"runs/{args.table}{'-smoke' if args.smoke else ''}"
    for path in paths:
        spec = load_spec(path)
        if args.smoke:
            models = list(spec.models)
            spec, sub = smoke_spec(spec, args.drop_task, args.out)
            subst.update(sub)
            stand_ins.update({m: spec.models[0] for m in models})
        else:
            spec.tasks = [t for t in spec.tasks if t.name not in args.drop_task]
            if not spec.tasks:
                raise SpecError(f"{path.name}: no task left after --drop-task")
        if args.model:
            spec = spec.with_models([m.strip() for m in args.model.split(",") if m.strip()])
        specs.append(spec)
    if args.dry_run:
        from sweeps.engine.dry_run import estimate, format_estimate, load_throughput

        cells = load_throughput(args.throughput_from) if args.throughput_from else None
        print(format_estimate([estimate(s, args.nfe_from) for s in specs], args.tokens_per_s, throughput=cells))
        return 0
    status = 0
    report = args.no_report
    args.no_report = True                  # one report at the end, over every part
    started = False
    if not args.in_process and len(specs) > 1:   # one Ray for every part (not one start per part)
        from sweeps.engine.driver import connect

        started, _ = connect(args.address, lambda s: print(s, flush=True))
    try:
        for spec in specs:
            if args.in_process:
                run_in_process(spec, args.out, args.batch_size)
            else:
                status = max(status, execute(spec, args))
    finally:
        if started:
            import ray

            ray.shutdown()
    if status == 0:
        write_comparison(args.table, args.out, specs, subst if args.smoke else None, report=not report,
                         stand_ins=stand_ins if args.smoke and not args.model else None)
    if args.table in EXTRA:
        print(f"note: {EXTRA[args.table]}")
    return status


def write_comparison(table: str, out: str, specs: Sequence[SweepSpec], subst: Optional[dict],
                     report: bool = True, stand_ins: Optional[dict] = None) -> Path:
    """Write OUT/report/paper_vs_measured.{md,csv} (and the sweep report); print the section.
    ``stand_ins`` (smoke runs): spec model -> the model that ran in its place, so each published
    model (LLaDA, WeDLM) is compared with its own stand-in."""
    from analysis import load_samples
    from analysis.paper_compare import compare, load_published, markdown

    pub = load_published()
    models = sorted({m for s in specs for m in s.models})
    # A published model the run does not have (WeDLM, or --model/--smoke) is measured on the run's
    # model when there is one; the table says so in its model column.
    from analysis.paper_compare import MODEL_ALIASES

    published = pub.filter(pub["table"] == table)["model"].unique().to_list()
    known = {a.lower() for m in published for a in (m, *MODEL_ALIASES.get(m, ()))}
    model_map: dict[str, str] = {}
    if stand_ins:
        names = {p: {p.lower(), *(a.lower() for a in MODEL_ALIASES.get(p, ()))} for p in published}
        model_map = {p: run for p in published for spec_model, run in stand_ins.items()
                     if spec_model.lower() in names[p]}
    elif len(models) == 1 and models[0].lower() not in known:
        model_map = {m: models[0] for m in published}
    # a table's parts are sweeps of their own (other block lengths): compare keeps them apart
    lf = load_samples(out, pool_by=("sweep", "model", "task", "gen_length", "block_length"))
    df = compare(lf, pub, table=table, model_map=model_map,
                 translate=translator(subst) if subst is not None else None)
    rdir = Path(out) / "report"
    if report:
        from analysis.report import write_report

        from analysis.load import SweepDataError

        try:
            rdir = write_report(out)
        except SweepDataError as e:   # parts of other settings are never pooled into one report
            print(f"note: no sweep report over all parts: {e}")
    rdir.mkdir(parents=True, exist_ok=True)
    preface = (f"Table {table}." + (" **Smoke run: the tiny model on stand-in tasks (countdown); the measured values "
                                   "are not comparable with the paper's.**" if subst is not None else ""))
    text = markdown(df, f"## Paper vs measured: {table}", preface)
    if df.height == 0:
        text += "\nNo published cell of this table was measured by this run (see the table's spec comments).\n"
    (rdir / "paper_vs_measured.md").write_text(text, encoding="utf-8")
    df.write_csv(rdir / "paper_vs_measured.csv")
    print(text)
    print(f"comparison: {rdir / 'paper_vs_measured.md'}")
    return rdir


def main(argv: Optional[Sequence[str]] = None) -> int:
    return main_guard(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
