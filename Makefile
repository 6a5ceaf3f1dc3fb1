# tandem: high availability for firewall pairs and clusters.
# `make demo` runs the lab demo, `make test` runs every test; each first
# installs what a fresh Debian machine lacks (scripts/deps.sh).

GO        ?= go
BIN       := bin
PLUGINS   := $(BIN)/plugins
GOFLAGS   ?=
TESTFLAGS ?= -count=1 -timeout 20m

.PHONY: all deps gen gen-check build test lint yanglint bench bench-takeover bench-soak bench-sync demo demo-unit clean

all: build

deps:
	@scripts/deps.sh

gen:
	cd gen && $(GO) generate ./...

# gen-check fails when gen/ is not what `make gen` produces from yang/ and the protos.
gen-check: gen
	@git diff --quiet --exit-code -- gen || { echo "gen/ is stale: run 'make gen' and commit the result"; git diff --stat -- gen; exit 1; }
	@test -z "$$(git status --porcelain -- gen)" || { echo "gen/ has files that are not committed"; git status --porcelain -- gen; exit 1; }

build:
	$(GO) build -o $(BIN)/ ./cmd/...
	$(GO) build -o $(PLUGINS)/tandem-platform-lab ./platforms/lab
	$(GO) build -o $(PLUGINS)/tandem-plugin-statesync ./plugins/statesync

# yanglint exits 0 on warnings; any output at all fails the target.
yanglint:
	@out=$$(cd yang && yanglint -p . ./*.yang 2>&1); \
	if [ -n "$$out" ]; then echo "$$out"; echo "yanglint: fix the warnings above"; exit 1; fi; \
	echo "yanglint: yang/*.yang clean"

lint: yanglint
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# The README's test command: dependencies, generated code check, lint, unit and e2e tests.
test: deps gen-check lint
	$(GO) test $(TESTFLAGS) ./...

bench: deps
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./bench/ ./northbound/netconf/ | tee bench/last.txt

# Takeover time after kill -9 of the active, UDP stream and live TCP sessions, tandem against
# keepalived (VRRPv3) with conntrackd at equal timers (needs root; installs keepalived,
# conntrackd and conntrack if missing; not part of `make test`).
TAKEOVER_RUNS   ?= 20
TAKEOVER_TIMERS ?= 200x3,100x3,50x3,20x3
bench-takeover: build
	@command -v keepalived >/dev/null && command -v conntrackd >/dev/null && command -v conntrack >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq keepalived conntrackd conntrack; }
	$(GO) run ./bench/takeover -runs $(TAKEOVER_RUNS) -timers $(TAKEOVER_TIMERS) -ref keepalived -bin $(BIN)

# No false failover: one pair idle for 10 minutes with 20 ms x 3 heartbeats and every CPU busy.
bench-soak: build
	$(GO) run ./bench/takeover -soak 10m -timers 20x3 -bin $(BIN)

# What stateful sync costs (SYNC-4): connections opened through the lab pair at a fixed
# rate; catch-up time, bytes on the HA link and plugin CPU, unthrottled and throttled (root).
bench-sync: build
	$(GO) run ./bench/statesync -bin $(BIN) -conns 6000 -rate 2000 -throttle 0,200

# The pair demo: a TCP transfer through the pair, kill -9 of the active.
demo: deps build
	$(BIN)/tandemctl lab -name tdmdemo demo

# The single-unit demo: datastore, validation, confirmed commit, plugin crash, drift.
demo-unit: deps build
	scripts/demo.sh

clean:
	rm -rf $(BIN)
