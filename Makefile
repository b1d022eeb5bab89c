# Reproduce the figures and benchmark tables in docs/ (each target is one command).
CLEAN ?= ../shared/data/clean
REAL ?= ../shared/data/real/yard.mp4
PY ?= python

.PHONY: test figures rain-figures eval-example results real-figures benchmarks

test:                     ## the README's test command
	pip install -e ".[test]" && ruff check . && $(PY) -m pytest

figures: rain-figures eval-example results real-figures

rain-figures:             ## docs/img/rain_*.png (bundled photographs only)
	$(PY) docs/figures/rain_presets.py

eval-example:             ## docs/eval-example/: derain eval on a small bundled synthetic set
	rm -rf .cache/eval-example && mkdir -p .cache
	derain synth --preset complex --out .cache/eval-example --clips 2 --frames 10 --size 320x180 --seed 3
	derain eval .cache/eval-example --methods identity,median --out docs/eval-example --overwrite -q

results:                  ## docs/results.md: every method on the standard benchmark
	$(PY) docs/figures/results.py --clean $(CLEAN)

real-figures:             ## docs/img/real_yard.png: shipped models on real rain
	$(PY) docs/figures/real.py --video $(REAL) --frames 40,100 --models rrgnet,j4rnet-single,j4rnet

benchmarks:               ## docs/benchmarks.md (run on an otherwise idle machine)
	$(PY) benchmarks/bench_synth.py
	$(PY) -m benchmarks.bench_models
	$(PY) -m benchmarks.bench_run
	$(PY) -m benchmarks.bench_backends
