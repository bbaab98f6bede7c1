# Pushy — make demo (build, start a server + 3 agents, run a job) and make test (all tests).
SHELL := /bin/bash
# postgresql: the PostgreSQL 15 server the tests start a throwaway cluster of (scripts/pg-test-cluster.sh).
DEBIAN_PACKAGES := libzmq3-dev libsodium-dev libsqlite3-dev libssl-dev pkg-config cmake curl patch xz-utils g++ postgresql
SWIFT_BUILD_FLAGS ?=
BIN := .build/debug

.PHONY: deps deps-browser zmq build test fuzz demo bench bench-cluster soak profile clean install install-files

## deps: install the Debian packages Pushy needs (only what is missing).
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

## deps-browser: headless Chromium and chromedriver from Debian, for the dashboard's browser test
##               (DashboardBrowserTests); installed only when missing.
BROWSER_PACKAGES := chromium chromium-driver
deps-browser:
	@missing=""; for p in $(BROWSER_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

## zmq: libzmq 4.3.4 from Debian's source with smaller pipe chunks and buffers, linked into every
##      binary (docs/decisions.md); without it the build uses the system libzmq and says so.
zmq: deps
	@bash scripts/build-libzmq.sh || echo "warning: building against the system libzmq (up to 4x the server memory per agent, docs/decisions.md)" >&2

## build: debug build of every product.
build: zmq
	swift build $(SWIFT_BUILD_FLAGS)

## test: every check, each step timed (scripts/make-test.sh says what each does): module
##       boundaries, the debug build, that pushy-client needs no full Foundation or ICU
##       (scripts/check-agent-libs.sh), every test (Swift Testing; the dashboard's test in headless
##       Chromium, screenshots in TMPDIR/pushy-test-output/dashboard; the store suite and the
##       PostgreSQL server tests against a throwaway PostgreSQL 15 cluster that
##       scripts/pg-test-cluster.sh starts on a free port and stops on every path), the install
##       check, a quick bench at 200 agents with the floor beside Pushy (issue 16; no timing
##       asserted, it fails when the floor's checks fail or a size stops early), a short run of
##       every fuzz harness (FUZZ_TEST_RUNS inputs each, unoptimised build, built in the
##       background at nice 19 while the tests run), then a two-minute churn soak on the debug
##       build (2,000 agents; fails on a stuck job or a node state that disagrees with its agent).
##       SOAK_TEST_ARGS adds options to that soak; BENCH_TEST_ARGS replaces the bench's.
SOAK_TEST_ARGS ?=
BENCH_TEST_ARGS ?= --sizes 200 --quick --no-write --strict --interval 2 --idle-seconds 4 --job-runs 2 --single-runs 2 --settle-max-seconds 0
test: zmq deps-browser
	@BIN="$(BIN)" SWIFT_BUILD_FLAGS="$(SWIFT_BUILD_FLAGS)" BENCH_TEST_ARGS="$(BENCH_TEST_ARGS)" \
	  FUZZ_TEST_RUNS="$(FUZZ_TEST_RUNS)" SOAK_TEST_ARGS="$(SOAK_TEST_ARGS)" bash scripts/make-test.sh

## install: build (release) and lay out the binaries, systemd units, default config and docs
##          under PREFIX (default /usr/local); DESTDIR stages it (packaging). An existing config
##          file is kept (upgrades). docs/operations.md. INSTALL_BIN installs other binaries
##          (e.g. INSTALL_BIN=.build/debug, as `make test` does into a temporary PREFIX).
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_BIN ?= .build/release
BINDIR ?= $(PREFIX)/bin
# /usr and /usr/local keep their settings in /etc and their state in /var/lib; any other
# prefix (an /opt folder, a test's temporary folder) keeps both under itself.
SYSCONFDIR ?= $(if $(filter /usr /usr/local,$(PREFIX)),/etc,$(PREFIX)/etc)
STATEDIR ?= $(if $(filter /usr /usr/local,$(PREFIX)),/var/lib,$(PREFIX)/var/lib)
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/pushy
install: zmq
	swift build -c release $(SWIFT_BUILD_FLAGS)
	$(MAKE) --no-print-directory install-files
install-files:
	@for b in pushy-server pushy-client pushy; do \
	  [ -x "$(INSTALL_BIN)/$$b" ] || { echo "install: $(INSTALL_BIN)/$$b is missing: run 'make install' (or set INSTALL_BIN)" >&2; exit 1; }; \
	  install -D -m 0755 "$(INSTALL_BIN)/$$b" "$(DESTDIR)$(BINDIR)/$$b"; \
	done
	@subst='s|@BINDIR@|$(BINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g; s|@STATEDIR@|$(STATEDIR)|g; s|@DOCDIR@|$(DOCDIR)|g'; \
	install -d -m 0755 "$(DESTDIR)$(UNITDIR)" "$(DESTDIR)$(DOCDIR)"; \
	for u in pushy-server.service pushy-client.service; do \
	  sed "$$subst" dist/systemd/$$u > "$(DESTDIR)$(UNITDIR)/$$u"; chmod 0644 "$(DESTDIR)$(UNITDIR)/$$u"; \
	done; \
	install -d -m 0755 "$(DESTDIR)$(SYSCONFDIR)/pushy"; \
	for c in pushy-server.env client.json; do \
	  if [ -e "$(DESTDIR)$(SYSCONFDIR)/pushy/$$c" ]; then \
	    echo "install: kept $(DESTDIR)$(SYSCONFDIR)/pushy/$$c (the new default is $(DESTDIR)$(SYSCONFDIR)/pushy/$$c.default)"; \
	    sed "$$subst" dist/config/$$c > "$(DESTDIR)$(SYSCONFDIR)/pushy/$$c.default"; \
	  else \
	    sed "$$subst" dist/config/$$c > "$(DESTDIR)$(SYSCONFDIR)/pushy/$$c"; chmod 0640 "$(DESTDIR)$(SYSCONFDIR)/pushy/$$c"; \
	  fi; \
	done; \
	for d in README.md docs/operations.md docs/configuration.md docs/agent.md docs/security.md docs/dashboard.md; do \
	  install -m 0644 "$$d" "$(DESTDIR)$(DOCDIR)/"; \
	done; \
	install -d -m 0755 "$(DESTDIR)$(PREFIX)/share/pushy/dashboard"; \
	install -m 0644 Sources/PushyServer/Dashboard/* "$(DESTDIR)$(PREFIX)/share/pushy/dashboard/"
	@echo "installed under $(DESTDIR)$(PREFIX): binaries $(BINDIR), units $(UNITDIR), config $(SYSCONFDIR)/pushy, docs $(DOCDIR), dashboard $(PREFIX)/share/pushy/dashboard"
	@echo "next: docs/operations.md, 'Install' (user, data directory, systemctl enable --now pushy-server)"

## fuzz: build the libFuzzer harnesses (Fuzz/, docs/fuzzing.md) and run each for FUZZ_RUNS inputs;
##       fails on any crash, failed round-trip check, hang or leak. One harness: make fuzz FUZZ_ONLY=json
FUZZ_RUNS ?= 1000000
FUZZ_TEST_RUNS ?= 20000
FUZZ_ONLY ?=
fuzz: zmq
	bash scripts/fuzz.sh $(FUZZ_RUNS) $(FUZZ_ONLY)

## demo: a server on the embedded SQLite store, 3 local agents, one job found by search; ends by
##       printing a dashboard sign-in link (the server keeps running until Enter when interactive).
demo: build
	@bash scripts/demo.sh $(BIN)

## bench: release build, then pushy-bench (server + swarm processes on loopback); writes docs/performance.md.
##        Quick run: make bench BENCH_ARGS="--sizes 1000 --quick"
BENCH_ARGS ?=
bench: zmq
	swift build -c release $(SWIFT_BUILD_FLAGS)
	.build/release/pushy-bench --bin .build/release $(BENCH_ARGS)

## bench-cluster: release build, then pushy-bench cluster (issue 17 point 4): PostgreSQL 15 started by
##                the bench (durable settings), K pushy-servers on it and 100,000 virtual agents listing every
##                server; jobs over all nodes and over 1,000, one server SIGKILLed; writes docs/performance.md
##                ("Cluster"). Smaller: make bench-cluster BENCH_CLUSTER_ARGS="--agents 20000 --no-write";
##                quick: BENCH_CLUSTER_ARGS=--quick; options: .build/release/pushy-bench cluster --help
BENCH_CLUSTER_ARGS ?=
bench-cluster: zmq deps
	swift build -c release $(SWIFT_BUILD_FLAGS)
	.build/release/pushy-bench cluster --bin .build/release $(BENCH_CLUSTER_ARGS)

## soak: release build, then the churn soak (issue 11): 2,000 agents, SOAK_MINUTES of jobs
##       (default 30), mutes, restarts, aborts and run timeouts; fails on a stuck job, a mismatch
##       or server RSS growing more than 5 %. SOAK_ARGS adds options (pushy-bench soak --help).
SOAK_MINUTES ?= 30
SOAK_ARGS ?=
soak: zmq
	swift build -c release $(SWIFT_BUILD_FLAGS)
	timeout --kill-after=30 $$(( $(SOAK_MINUTES) * 60 + 1200 )) .build/release/pushy-bench soak --bin .build/release \
	  --agents 2000 --minutes $(SOAK_MINUTES) --strict-rss $(SOAK_ARGS)

## profile: release build, then where the server's CPU goes during all-node jobs (perf record on
##          PROFILE_AGENTS swarm agents, default 1000, and 10 jobs): top functions, CPU per job.
PROFILE_AGENTS ?= 1000
profile: zmq
	swift build -c release $(SWIFT_BUILD_FLAGS)
	timeout --kill-after=30 1800 bash scripts/profile-server.sh $(PROFILE_AGENTS) 10

clean:
	rm -rf .build .build-zmq .build-zmq-cache Fuzz/.build-fuzz
