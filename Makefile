# pcap-analyzer. Every target installs what it needs (Debian, as root): tshark via apt-get,
# then a virtualenv with the package and its dev tools.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUNTIME := $(VENV)/.runtime

.PHONY: demo test lint typecheck tshark chromium rust runtime venv captures clean bench golden golden-conn cargo-test fuzz fuzz-engine fuzz-stable

tshark:
	@command -v tshark >/dev/null 2>&1 || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends tshark >/dev/null; }
	@command -v zstd >/dev/null 2>&1 && command -v tcptrace >/dev/null 2>&1 && [ -x /usr/bin/time ] || { \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends zstd tcptrace time >/dev/null; }
	@tshark --version | head -n 1

## headless Chromium renders report.html in the tests
chromium:
	@command -v chromium >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }

ENGINE_SRC := engine/Cargo.toml $(wildcard engine/Cargo.lock) $(shell find engine/src -name '*.rs' 2>/dev/null)

## cargo and rustc: the machine's own (rustup) or Debian's
rust:
	@command -v cargo >/dev/null 2>&1 || [ -x "$$HOME/.cargo/bin/cargo" ] || { export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends cargo rustc >/dev/null; }

PIP := $(PY) -m pip install -q --disable-pip-version-check

## the package and the native engine (built by maturin from engine/): what `make demo` needs
$(RUNTIME): pyproject.toml $(ENGINE_SRC) | rust
	@command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-venv; }
	@python3 -m venv $(VENV) 2>/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && python3 -m venv $(VENV); }
	@echo "installing pcap-analyzer and building its engine (a few minutes the first time)"
	@PATH="$$HOME/.cargo/bin:$$PATH" $(PIP) -e .
	@touch $(RUNTIME)

## the dev tools on top (tests, linters): what `make test` needs
$(STAMP): pyproject.toml | $(RUNTIME)
	@$(PY) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['dev'], sep='\n')" > $(VENV)/dev-requirements.txt
	@$(PIP) -r $(VENV)/dev-requirements.txt
	@touch $(STAMP)

runtime: $(RUNTIME)
venv: $(RUNTIME) $(STAMP)

## make demo: the main job on the bundled captures
demo: tshark runtime
	$(VENV)/bin/pcap-analyzer connections captures/real/*.pcap* captures/synthetic/*.pcap* --format table
	@# The same captures as Zeek's conn.log (the native engine, the default), and through tshark's dissection
	$(VENV)/bin/pcap-analyzer connections captures/real captures/synthetic/*.pcap* captures/engine --format zeek
	$(VENV)/bin/pcap-analyzer --engine tshark connections captures/real/mixed.pcap --format table
	@# HTTP on client ports tshark gives to other protocols: found by content
	$(VENV)/bin/pcap-analyzer http captures/real/http_odd_ports.pcapng captures/real/http11_keepalive.pcapng captures/real/mixed.pcap captures/ws/*.pcap* --format table
	$(VENV)/bin/pcap-analyzer http captures/real/http11_keepalive.pcapng --format zeek
	$(VENV)/bin/pcap-analyzer websockets captures/ws/*.pcap* captures/ws_synthetic/*.pcap --format table
	$(VENV)/bin/pcap-analyzer summary captures/real/mixed.pcap captures/ws/*.pcap*
	$(VENV)/bin/pcap-analyzer explain captures/real/half_close.pcapng
	@# TCP health: real loss on loopback (retransmissions, SACK, D-SACK), as tcptrace counts it
	$(VENV)/bin/pcap-analyzer summary captures/real/lossy_bulk.pcapng captures/real/lossy_zero_window.pcapng
	@# The demo policy is meant to flag the bundled RST/refused/CLOSE_WAIT cases: exit 1 is expected.
	$(VENV)/bin/pcap-analyzer report captures/real captures/synthetic/*.pcap* captures/ws captures/ws_synthetic \
	  --out out/report --policy examples/policy.toml --csv --no-step-summary; rc=$$?; test $$rc -le 1
	@echo "report written to out/report/: report.md report.html *.parquet *.csv junit.xml"

## the engine's own tests (hand-built packets, no capture, no tshark)
cargo-test: rust
	cd engine && PATH="$$HOME/.cargo/bin:$$PATH" cargo test -q --release

## make test: the engine's tests, then the suite (real tshark, real captures, Zeek's oracle in ../shared)
test: tshark chromium venv cargo-test
	CI=true $(PY) -m pytest -q

## regenerate the explain golden files on purpose
golden: tshark venv
	UPDATE_GOLDEN=1 $(PY) -m pytest -q tests/test_explain.py

## record the golden connection records again, on purpose (explain the change in the commit)
golden-conn: tshark venv
	$(PY) tests/golden/record.py

lint: venv
	$(VENV)/bin/ruff check analyzer tests captures bench fuzz
	cd engine && cargo fmt --check && cargo clippy -q --all-targets -- -D warnings && cargo clippy -q --all-targets --features python -- -D warnings

typecheck: venv
	$(VENV)/bin/mypy

## re-record the loopback captures (root) and rebuild the scapy ones
captures: tshark venv
	@command -v nft >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends nftables >/dev/null; }
	$(PY) captures/record_real.py --out captures/real
	$(PY) captures/record_lossy.py --out captures/real
	$(PY) captures/make_synthetic.py --out captures/synthetic
	$(PY) captures/record_ws.py --out captures/ws
	$(PY) captures/make_ws_synthetic.py --out captures/ws_synthetic
	$(PY) captures/make_engine_cases.py --out captures/engine

## make bench: generate the corpus once (bench-data/, root: dumpcap on loopback), time the analyzer
## against tshark and pyshark, write bench/results.md (e.g. make bench SIZES=small RUNS=1)
SIZES ?= medium large
RUNS ?= 3
BENCH_ARGS ?=
bench: tshark venv
	for s in $(SIZES); do $(PY) bench/make_corpus.py --size $$s || exit 1; done
	$(PY) bench/run_bench.py --sizes $(SIZES) --runs $(RUNS) $(BENCH_ARGS) \
	  --command 'make bench SIZES="$(SIZES)" RUNS=$(RUNS)$(if $(BENCH_ARGS), BENCH_ARGS="$(BENCH_ARGS)")'
	$(PY) bench/scale_out.py --size $(lastword $(SIZES)) --runs $(RUNS) --command 'make bench SIZES="$(SIZES)" RUNS=$(RUNS)$(if $(BENCH_ARGS), BENCH_ARGS="$(BENCH_ARGS)")'

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache engine/target

## make fuzz: the long robustness run. fuzz/run.py: seeded mutants of every bundled capture
## through the CLI with both engines for FUZZ_MINUTES, then the truncation sweeps (every offset
## of a pcap, a pcapng and a gzip'd capture, both engines, ~35 min with tshark); then every
## cargo-fuzz target of the engine for FUZZ_SECONDS each (fuzz-engine). Findings are written
## to fuzz/findings/ and engine/fuzz/artifacts/. Exit 1 when anything broke the contract.
FUZZ_MINUTES ?= 10
FUZZ_SEED ?= 1
FUZZ_SECONDS ?= 300
# the truncation sweeps at every offset: native takes seconds, tshark about 35 minutes
FUZZ_SWEEP_ENGINES ?= native,tshark
FUZZ_TARGETS := capture_decode_track capture_reader decode_frame app_connection reassembler \
  tcp_options http_parser ws_parser
fuzz: tshark venv
	$(PY) fuzz/run.py --minutes $(FUZZ_MINUTES) --seed $(FUZZ_SEED) --sweep --sweep-engines $(FUZZ_SWEEP_ENGINES)
	$(MAKE) fuzz-engine

## the engine's cargo-fuzz targets (libFuzzer): nightly if rustup has it, else the stable
## compiler with RUSTC_BOOTSTRAP=1; cargo-fuzz is installed from crates.io when missing
fuzz-engine: rust
	@export PATH="$$HOME/.cargo/bin:$$PATH"; \
	command -v cargo-fuzz >/dev/null 2>&1 || cargo install -q cargo-fuzz; \
	if cargo +nightly --version >/dev/null 2>&1; then TC=+nightly; else TC=; export RUSTC_BOOTSTRAP=1; fi; \
	cd engine/fuzz && for t in $(FUZZ_TARGETS); do mkdir -p corpus/$$t artifacts/$$t; \
	  echo "== $$t ($(FUZZ_SECONDS) s)"; \
	  cargo $$TC fuzz run $$t corpus/$$t seeds/$$t -- -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=65536 -rss_limit_mb=2048 -timeout=10 -fork=1 -ignore_crashes=1 \
	    -ignore_timeouts=1 -ignore_ooms=1 -artifact_prefix=artifacts/$$t/ \
	    > artifacts/$$t/run.log 2>&1; \
	  tail -n 1 artifacts/$$t/run.log; \
	done; \
	found=$$(ls artifacts/*/crash-* artifacts/*/timeout-* artifacts/*/oom-* 2>/dev/null); \
	if [ -n "$$found" ]; then echo "engine fuzz findings:"; echo "$$found"; exit 1; fi

## the same drivers without libFuzzer or nightly: seeded mutations, FUZZ_SECONDS per target
fuzz-stable: rust
	cd engine/fuzz && PATH="$$HOME/.cargo/bin:$$PATH" cargo run -q --release --example stable_fuzz -- \
	  --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED)
