# `make run` and `make test` set up everything they need (OS libraries, .venv) on a fresh machine.
# Set-up re-runs only when requirements/lock.txt, pyproject.toml or a set-up script changes.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SETUP_INPUTS := requirements/lock.txt pyproject.toml scripts/setup_os.sh scripts/setup_venv.sh
SETUP_HASH := $(shell cat $(SETUP_INPUTS) 2>/dev/null | sha256sum | cut -c1-16)
STAMP := $(VENV)/.setup-$(SETUP_HASH)

# Pipeline options: `make run DATASET=fashion_mnist EXAMPLE_LIMIT=1000 PRUNE_M_BY_N=2:4`. GNU make
# puts variables given on its command line into the recipes' environment, where
# pipelines/configs.py reads every option; empty values mean "use the default".

PYTEST_ARGS ?=
RUN_ARGS ?=
BENCH_ARGS ?=

.PHONY: setup run run-beam bench faults docs kfp-compile kfp-deploy kfp-image kfp-local docker-start \
  docker-stop test lint lock clean help

help:
	@echo "make run    - run the pipeline locally (LocalDagRunner) on MNIST"
	@echo "              (MODEL_MODULE=my_model.py or resnet8: your model; BASE_MODEL=model.keras: one trained)"
	@echo "make test   - lint and run the test suite"
	@echo "make bench  - full pipeline on real MNIST + unchanged rerun -> build/bench/results.json"
	@echo "              (BENCH_ARGS=--sweep: one model per target sparsity -> sweep.png)"
	@echo "              (BENCH_ARGS=\"--seeds 3\": the recipe with 3 seeds, goals on the means -> seeds.png)"
	@echo "              (BENCH_ARGS=\"--model resnet8 ds_cnn\": each model against TFMOT's weight pruning)"
	@echo "make faults - SIGKILL a small real run in each long component, rerun -> build/faults/"
	@echo "make kfp-compile - compile for Kubeflow Pipelines v2 -> kubeflow/build/<name>.json"
	@echo "make kfp-deploy ENDPOINT=... [NAMESPACE=...] [EXPERIMENT=...] - upload it and start a run"
	@echo "make kfp-image [KFP_IMAGE=...] [KFP_BASE_IMAGE=...] - build kubeflow/Dockerfile on this Docker"
	@echo "make kfp-local [EXAMPLE_LIMIT=...] - compile, run every task in Docker with kfp.local"
	@echo "make docker-start / docker-stop - this machine's Docker daemon, where no service runs it"
	@echo "make docs   - regenerate docs/options.md from the option declarations"
	@echo "make setup  - OS libraries + .venv from requirements/lock.txt (run by the two above)"
	@echo "make lock   - regenerate requirements/lock.txt from requirements/requirements.in"

setup: $(STAMP)

$(STAMP): $(SETUP_INPUTS)
	@start=$$(date +%s); \
	bash scripts/setup_os.sh && bash scripts/setup_venv.sh && \
	rm -f $(VENV)/.setup-* && touch $@ && \
	echo "setup: done in $$(( $$(date +%s) - start )) s"

run: setup
	$(PY) -m pipelines.local_runner $(RUN_ARGS)

bench: setup
	$(PY) -m pipelines.bench $(BENCH_ARGS)

faults: setup
	$(PY) -m pipelines.faults

kfp-compile: setup
	$(PY) -m kubeflow.runner $(RUN_ARGS)

# ENDPOINT, NAMESPACE, EXPERIMENT, RUN_NAME and SPEC come from make's command line.
kfp-deploy: setup
	@test -n "$(ENDPOINT)" || { echo "kfp-deploy: set ENDPOINT=http(s)://<Kubeflow Pipelines host>"; exit 2; }
	$(PY) -m kubeflow.deploy --endpoint "$(ENDPOINT)" \
	  $(if $(SPEC),--spec "$(SPEC)") $(if $(NAMESPACE),--namespace "$(NAMESPACE)") \
	  $(if $(EXPERIMENT),--experiment "$(EXPERIMENT)") $(if $(RUN_NAME),--run-name "$(RUN_NAME)")

# Docker's daemon where no service manager runs it (scripts/dockerd.sh; a no-op when one
# answers). kfp-image and kfp-local start it themselves when they need it and may.
docker-start:
	@bash scripts/dockerd.sh start

docker-stop:
	@bash scripts/dockerd.sh stop

kfp-image: setup
	$(PY) -m kubeflow.image $(RUN_ARGS)

kfp-local: setup
	$(PY) -m kubeflow.local $(RUN_ARGS)

run-beam: setup
	$(PY) -m pipelines.beam_runner $(RUN_ARGS)

docs: setup
	$(PY) -m pipelines.reference

lint: setup
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

lock: setup
	$(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_39 requirements/requirements.in -o requirements/lock.txt

clean:
	rm -rf build kubeflow/build .pytest_cache .ruff_cache
