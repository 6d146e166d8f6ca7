# smppd — build, test, benchmark and fuzz.

GO       ?= go
BIN      ?= bin/smppd
FUZZTIME ?= 30s
BENCHTIME ?= 1s
PKGS     := ./...

.PHONY: all build test test-short bench fuzz run clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/smppd

# test is the one command CI runs: vet, then every test with the race detector.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

# fuzz runs each native fuzz target for FUZZTIME (go test allows one target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# run starts a throw-away gateway with a test-mode token (see README).
run:
	$(GO) run ./cmd/smppd serve --dev

clean:
	rm -rf bin
